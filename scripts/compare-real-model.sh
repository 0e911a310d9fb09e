#!/usr/bin/env bash
# Gates that know noise, against a real model: serves Qwen2.5-Coder 0.5B Instruct with llama.cpp
# (one thread) and runs fixtures/compare/noisy.yaml twice at temperature 0.8 with three samples,
# the second run with --baseline of the first and --fail-on-regression: noise alone, so it must
# exit 0. Then replays the same model's failing answers (scripts/replay-from-report.py --worst)
# and compares them with the same baseline: a real drop, so `compare --fail-on-regression` must
# exit 1. Work and reports under target/compare-real/. The server is stopped on any exit.
#
# Under "no change" a test at α = 0.05 calls a regression about once in twenty pairs of runs or
# less; a failure of the first check is rare, not impossible.
#
# Usage: scripts/compare-real-model.sh
#   LLM_BENCH   the tool binary (default cargo-llm-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tool=${LLM_BENCH:-cargo-llm-bench}
suite=$root/fixtures/compare/noisy.yaml
step() { printf '\n==> %s\n' "$*"; }

bash scripts/local-models.sh
. scripts/lib-servers.sh
trap stop_servers EXIT

work=$root/target/compare-real
rm -rf "$work"
mkdir -p "$work/project/src"
port=$(free_port)
start_server qwen "$work/qwen.log" "$MODEL_PYTHON" scripts/serve-model.py \
    "$MODEL_DIR/qwen2.5-coder-0.5b.gguf" "$port" qwen2.5-coder-0.5b --threads 1
wait_ready qwen "http://127.0.0.1:$port/health" 180
printf '[package]\nname = "compare-real"\nversion = "0.1.0"\nedition = "2021"\npublish = false\n\n[workspace]\n' \
    >"$work/project/Cargo.toml"
: >"$work/project/src/lib.rs"
cat >"$work/project/llm-bench.toml" <<TOML
[providers.qwen]
kind = "openai"
base-url = "http://127.0.0.1:$port/v1"
concurrency = 1
timeout = "600s"
TOML
cd "$work/project"
# --no-cache: each run asks the model afresh, or the second would get the first run's answers back.
bench() { "$tool" llm-bench run --suite "$suite" --samples 3 --no-progress --no-cache "$@"; }

step "run 1: the baseline"
bench -m qwen:qwen2.5-coder-0.5b --output "$work/run1"
baseline=$(ls "$work"/run1/*.json)

step "run 2: the same model again, against run 1"
status=0
bench -m qwen:qwen2.5-coder-0.5b --output "$work/run2" --baseline "$baseline" --fail-on-regression || status=$?
echo "exit status: $status (expected 0: noise is not a regression)"
((status == 0))
stop_servers

step "the same model's failing answers, replayed, against run 1"
python3 "$root/scripts/replay-from-report.py" "$work/worse" "$baseline" "$(ls "$work"/run2/*.json)" --worst
bench -m "replay:$work/worse" --output "$work/worse-report" >/dev/null || true
status=0
"$tool" llm-bench compare "$baseline" "$(ls "$work"/worse-report/*.json)" --fail-on-regression || status=$?
echo "exit status: $status (expected 1: a real drop is a significant regression)"
((status == 1))
