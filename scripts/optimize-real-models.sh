#!/usr/bin/env bash
# `optimize` over three real models, each on its own llama.cpp server (one thread each):
# Gemma 3 270M (a base model), Qwen2.5-Coder 0.5B and 1.5B Instruct, on fixtures/e2e/optimize.yaml
# (three short chat cases). The candidates come from the servers' own listings (`--profile`, one
# profile per server, `/v1/models` with llama.cpp's parameter counts). Runs the three policies:
#   1. best score (the default), writing the HTML report to target/optimize-real/optimize.html;
#   2. --target-score 0.6;
#   3. --max-seconds-per-case 16s;
# the second and third from the response cache (no model is asked again), then --save, which
# writes the recommendation into the project's Cargo.toml (checked: nothing else in it changes),
# then `generate` without `--model`, which must use the saved model to write code for a new prompt
# that passes the given tests (checked with `cargo test` in the project). Servers are stopped on
# any exit.
#
# Usage: scripts/optimize-real-models.sh
#   LLM_BENCH              the tool binary (default cargo-llm-bench)
#   LLM_BENCH_MODEL_CACHE  where the models live (default ~/.cache/llm-bench-models)
#   E2E_THREADS            llama.cpp threads per server (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tool=${LLM_BENCH:-cargo-llm-bench}
suite=$root/fixtures/e2e/optimize.yaml
for arg in "$@"; do
    case $arg in
        -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown argument $arg (try --help)" >&2; exit 2 ;;
    esac
done

step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

step "install the server and the three models (cached)"
bash scripts/local-models.sh --with-1.5b

. scripts/lib-servers.sh
trap stop_servers EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

work=$root/target/optimize-real
rm -rf "$work"
mkdir -p "$work/project/src"

step "serve the three models on 127.0.0.1, one llama.cpp thread each"
threads=(--threads "${E2E_THREADS:-1}")
declare -A ports=()
for name in gemma3-270m qwen2.5-coder-0.5b qwen2.5-coder-1.5b; do
    ports[$name]=$(free_port)
    start_server "$name" "$work/$name.log" "$MODEL_PYTHON" scripts/serve-model.py \
        "$MODEL_DIR/$name.gguf" "${ports[$name]}" "$name" "${threads[@]}"
done
for name in "${!ports[@]}"; do
    wait_ready "$name" "http://127.0.0.1:${ports[$name]}/health" 240
done

cat >"$work/project/Cargo.toml" <<'TOML'
# A scratch project for `optimize`; --save writes the recommendation below.
[package]
name = "optimize-real-models"
version = "0.1.0"
edition = "2021"
publish = false

# Its own workspace, not a member of whatever surrounds target/.
[workspace]

[package.metadata.llm-bench]
# One profile per llama.cpp server; `--profile NAME` takes every model it lists.
jobs = 2

[package.metadata.llm-bench.providers.gemma]
kind = "openai"
base-url = "http://127.0.0.1:GEMMA/v1"
timeout = "600s"

[package.metadata.llm-bench.providers.qwen05]
kind = "openai"
base-url = "http://127.0.0.1:QWEN05/v1"
timeout = "600s"

[package.metadata.llm-bench.providers.qwen15]
kind = "openai"
base-url = "http://127.0.0.1:QWEN15/v1"
timeout = "600s"
TOML
sed -i -e "s/GEMMA/${ports[gemma3-270m]}/" -e "s/QWEN05/${ports[qwen2.5-coder-0.5b]}/" \
    -e "s/QWEN15/${ports[qwen2.5-coder-1.5b]}/" "$work/project/Cargo.toml"
: >"$work/project/src/lib.rs"
cd "$work/project"
export COLUMNS=${COLUMNS:-150}
optimize=("$tool" llm-bench optimize --suite "$suite" --profile gemma --profile qwen05
    --profile qwen15 --output "$work/reports" --no-progress)

step "policy 1: best score"
run_started=$SECONDS
"${optimize[@]}" --html "$work/optimize.html"
echo "took $((SECONDS - run_started))s"

step "policy 2: --target-score 0.6 (answers from the response cache)"
run_started=$SECONDS
"${optimize[@]}" --target-score 0.6
echo "took $((SECONDS - run_started))s"

step "policy 3: --max-seconds-per-case 16s (answers from the response cache)"
run_started=$SECONDS
"${optimize[@]}" --max-seconds-per-case 16s
echo "took $((SECONDS - run_started))s"

step "--save: the recommendation goes into Cargo.toml, the rest of it untouched"
cp Cargo.toml "$work/Cargo.toml.before"
"${optimize[@]}" --save >/dev/null
diff "$work/Cargo.toml.before" Cargo.toml >"$work/save.diff" || true
cat "$work/save.diff"
# Exactly one line added, and it is the model: comments and every other key stay as they were.
if [ "$(grep -c '^[<>]' "$work/save.diff")" != 1 ] || ! grep -q '^> model = "' "$work/save.diff"; then
    echo "error: --save changed more of Cargo.toml than the model line" >&2
    exit 1
fi

step "generate with the saved model (no --model): a new prompt, the code must pass the given tests"
cat >"$work/project/leap_tests.rs" <<'RUST'
#[test]
fn every_fourth_year_is_a_leap_year() {
    assert!(is_leap_year(2024));
    assert!(!is_leap_year(2023));
}

#[test]
fn centuries_are_leap_years_only_every_four_hundred_years() {
    assert!(!is_leap_year(1900));
    assert!(is_leap_year(2000));
}
RUST
run_started=$SECONDS
"$tool" llm-bench generate --no-progress --temperature 0 \
    --prompt 'Write `pub fn is_leap_year(year: u32) -> bool` for the Gregorian calendar.' \
    --tests leap_tests.rs --out src/leap.rs
echo "took $((SECONDS - run_started))s"
echo 'pub mod leap;' >src/lib.rs
cat src/leap.rs
cargo test --offline --lib 2>&1 | grep -E "^test |^test result"
step "done in $((SECONDS - started))s; HTML report: $work/optimize.html"
