#!/usr/bin/env python3
"""Times one streamed request to an OpenAI-compatible llama.cpp server from the client's side and
prints it beside the server's own `timings`, so the request overhead is known.

Usage: measure-request.py BASE_URL MODEL (--chat PROMPT | --completion PROMPT)
                          [--system TEXT] [--max-tokens N] [--repeat N]

BASE_URL is the server root, e.g. http://127.0.0.1:8080. Client times are from just before the
request is sent: headers, first body byte, first non-empty token, last token, end of stream.
`overhead_ms` is first token minus the server's prompt time. Standard library only.
"""

import argparse
import http.client
import json
import time
import urllib.parse


def measure(base, path, body):
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
    connection.connect()
    payload = json.dumps(body)
    marks = {}
    t_send = time.perf_counter()
    connection.request("POST", path, payload, {"Content-Type": "application/json"})
    response = connection.getresponse()
    marks["headers_ms"] = time.perf_counter() - t_send
    if response.status != 200:
        raise SystemExit(f"error: {path} answered {response.status}: {response.read()[:300]!r}")
    timings, text = {}, []
    while raw := response.readline():
        marks.setdefault("first_byte_ms", time.perf_counter() - t_send)
        line = raw.strip()
        if not line.startswith(b"data:") or line == b"data: [DONE]":
            continue
        event = json.loads(line[5:])
        timings = event.get("timings") or timings
        for choice in event.get("choices") or []:
            piece = choice.get("text") or (choice.get("delta") or {}).get("content")
            if piece:
                now = time.perf_counter() - t_send
                marks.setdefault("first_token_ms", now)
                marks["last_token_ms"] = now
                text.append(piece)
    marks["done_ms"] = time.perf_counter() - t_send
    connection.close()
    marks = {key: round(value * 1000, 1) for key, value in marks.items()}
    result = {
        **marks,
        "server_prompt_n": timings.get("prompt_n"),
        "server_prompt_ms": round(timings.get("prompt_ms", 0), 1),
        "server_predicted_n": timings.get("predicted_n"),
        "server_predicted_ms": round(timings.get("predicted_ms", 0), 1),
        "server_predicted_per_second": round(timings.get("predicted_per_second", 0), 2),
    }
    if "first_token_ms" in marks and timings:
        result["overhead_ms"] = round(marks["first_token_ms"] - timings["prompt_ms"], 1)
        decode_ms = marks["last_token_ms"] - marks["first_token_ms"]
        if decode_ms > 0 and timings.get("predicted_n", 0) > 1:
            result["client_tokens_per_second"] = round(
                (timings["predicted_n"] - 1) / decode_ms * 1000, 2
            )
    return result, "".join(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base")
    parser.add_argument("model")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--chat")
    mode.add_argument("--completion")
    parser.add_argument("--system")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--show-text", action="store_true")
    args = parser.parse_args()
    body = {"model": args.model, "stream": True, "stream_options": {"include_usage": True},
            "temperature": 0, "seed": 42, "max_tokens": args.max_tokens}
    if args.chat is not None:
        path = "/v1/chat/completions"
        body["messages"] = [{"role": "user", "content": args.chat}]
        if args.system:
            body["messages"].insert(0, {"role": "system", "content": args.system})
    else:
        path = "/v1/completions"
        body["prompt"] = args.completion
    for _ in range(args.repeat):
        # A cold prefill each time, so every repeat measures the same work.
        result, text = measure(args.base, path, {**body, "cache_prompt": False})
        print(json.dumps(result))
        if args.show_text:
            print(text)


if __name__ == "__main__":
    main()
