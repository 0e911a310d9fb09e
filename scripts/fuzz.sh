#!/usr/bin/env bash
# Runs one coverage-guided fuzz target (AFL++ through afl.rs, stable toolchain) for a while.
#
#   scripts/fuzz.sh suite_parser 300
#   scripts/fuzz.sh extract 300
#
# Needs `cargo install cargo-afl` once (it builds AFL++ from source with the system's cc).
# Findings land in fuzz/out/TARGET/default/crashes; the run is resumed when fuzz/out/TARGET exists.
# Exits 1 when the target has crashes, so CI can run it as a check.
set -euo pipefail

target=${1:?usage: scripts/fuzz.sh suite_parser|extract SECONDS}
seconds=${2:?usage: scripts/fuzz.sh suite_parser|extract SECONDS}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"

if ! command -v cargo-afl >/dev/null; then
    echo "error: cargo-afl is not installed; run \`cargo install cargo-afl\`" >&2
    exit 2
fi

case $target in
    suite_parser) seeds=("$root"/fixtures/suites "$root"/fixtures/bad-input) ;;
    extract) seeds=("$root"/fixtures/replay) ;;
    *) echo "error: unknown target \`$target\`; use suite_parser or extract" >&2; exit 2 ;;
esac

cargo afl build --release --quiet --bin "$target"

out=out/$target
input=out/seeds-$target
if [[ -d $out/default ]]; then
    input=-  # resume where the last run stopped
else
    mkdir -p "$input"
    # Small seeds only: AFL mutates faster on them, and big ones add no new paths.
    find "${seeds[@]}" -type f -size -32k \( -name '*.yaml' -o -name '*.md' \) \
        -exec cp -t "$input" {} + 2>/dev/null || true
fi

# The machine is shared: no core pinning; a core_pattern pipe (apport, systemd) is tolerated.
export AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
    AFL_NO_UI=1 AFL_AUTORESUME=1
cargo afl fuzz -V "$seconds" -m none -x "dict/$target.dict" -i "$input" -o "$out" \
    "target/release/$target" >"$out.log" 2>&1 || {
    tail -20 "$out.log" >&2
    exit 2
}

stats=$out/default/fuzzer_stats
grep -E '^(run_time|execs_done|execs_per_sec|corpus_count|bitmap_cvg|saved_crashes|saved_hangs) ' "$stats"
crashes=$(find "$out/default/crashes" -type f -name 'id:*' | wc -l)
if ((crashes > 0)); then
    echo "$crashes crash(es) in $out/default/crashes" >&2
    exit 1
fi
