# Background servers for scripts: start, wait until ready (bounded), stop with no leftovers.
# Source it from bash:  . scripts/lib-servers.sh
#
#   start_server NAME LOG COMMAND...   runs COMMAND in the background, output to LOG
#   wait_ready NAME URL SECONDS        until URL answers 200; fails early if NAME died
#   stop_servers                       SIGTERM every server started here, SIGKILL after 10 s
#   free_port                          prints a free loopback TCP port
#   server_pid NAME                    prints NAME's pid
#
# Paths of scripts/local-models.sh's cache: LLM_BENCH_MODEL_CACHE, MODEL_PYTHON (the venv's
# python, which has xllamacpp), MODEL_DIR (the .gguf files).
# Callers should `trap stop_servers EXIT`.

LLM_BENCH_MODEL_CACHE=${LLM_BENCH_MODEL_CACHE:-$HOME/.cache/llm-bench-models}
MODEL_PYTHON=$LLM_BENCH_MODEL_CACHE/venv/bin/python
MODEL_DIR=$LLM_BENCH_MODEL_CACHE/models

declare -gA SERVER_PIDS=()

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_server() {
    local name=$1 log=$2
    shift 2
    "$@" >"$log" 2>&1 </dev/null &
    SERVER_PIDS[$name]=$!
}

server_pid() {
    echo "${SERVER_PIDS[$1]}"
}

wait_ready() {
    local name=$1 url=$2 seconds=$3 pid=${SERVER_PIDS[$1]}
    local deadline=$((SECONDS + seconds))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "error: $name (pid $pid) exited before $url was ready" >&2
            return 1
        fi
        if python3 - "$url" <<'PY' 2>/dev/null; then
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as response:
    sys.exit(0 if response.status == 200 else 1)
PY
            return 0
        fi
        sleep 0.5
    done
    echo "error: $name (pid $pid) not ready at $url after ${seconds}s" >&2
    return 1
}

stop_servers() {
    local name pid
    for name in "${!SERVER_PIDS[@]}"; do
        kill -TERM "${SERVER_PIDS[$name]}" 2>/dev/null || true
    done
    for name in "${!SERVER_PIDS[@]}"; do
        pid=${SERVER_PIDS[$name]}
        for _ in $(seq 20); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "warning: $name (pid $pid) ignored SIGTERM; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
        unset "SERVER_PIDS[$name]"
    done
}
