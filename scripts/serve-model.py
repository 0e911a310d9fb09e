#!/usr/bin/env python3
"""Serves one .gguf with llama.cpp's own HTTP server (the `xllamacpp` wheel) on 127.0.0.1.

Usage: serve-model.py MODEL.gguf PORT ALIAS [--ctx N] [--threads N]

OpenAI-compatible /v1/chat/completions, /v1/completions and /v1/models (naming the model ALIAS),
plus llama.cpp's /health and /props. Runs until SIGTERM or SIGINT, then exits 0. Run it with the
python of the cache's venv (scripts/local-models.sh), e.g. via scripts/lib-servers.sh.
"""

import argparse
import os
import signal
import sys


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="path of the .gguf file")
    parser.add_argument("port", type=int)
    parser.add_argument("alias", help="the model's name in /v1/models and in responses")
    parser.add_argument("--ctx", type=int, default=4096, help="context window in tokens")
    parser.add_argument(
        "--threads", type=int, default=0, help="decode threads (default: llama.cpp's choice)"
    )
    return parser.parse_args()


def main():
    args = parse_args()
    if not os.path.isfile(args.model):
        sys.exit(f"error: no model file at {args.model}")
    # Blocked before the server starts its threads, so they inherit the mask and the signal is
    # left for sigwait below instead of killing the process mid-write.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.hostnames = ["127.0.0.1"]
    params.port = args.port
    params.n_ctx = args.ctx
    # One slot: a benchmark measures one request at a time, and every slot would split the
    # context window.
    params.n_parallel = 1
    params.model_alias = {args.alias}
    if args.threads > 0:
        params.cpuparams.n_threads = args.threads
        params.cpuparams_batch.n_threads = args.threads
    server = xllamacpp.Server(params)
    print(f"serving {args.alias} on http://127.0.0.1:{args.port}", flush=True)
    received = signal.sigwait({signal.SIGTERM, signal.SIGINT})
    print(f"stopping {args.alias} on {signal.Signals(received).name}", flush=True)
    del server
    return 0


if __name__ == "__main__":
    sys.exit(main())
