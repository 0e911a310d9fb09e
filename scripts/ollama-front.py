#!/usr/bin/env python3
"""A loopback Ollama-protocol front for one real llama.cpp server (scripts/serve-model.py).

Usage: ollama-front.py --upstream http://127.0.0.1:PORT --model NAME --port P
                       [--gguf PATH] [--details JSON] [--version V]

Speaks Ollama's native API (../shared/PROTOCOLS.md §1) so that an Ollama client meets real model
output: GET|HEAD /, /api/version, /api/tags, /api/show, /api/ps, streaming /api/chat (forwarded to
/v1/chat/completions) and /api/generate (raw: /v1/completions; otherwise as a chat turn, the way
Ollama applies the model's template). Lines are Go `json.Marshal` bytes: Ollama's field order,
`<` `>` `&` escaped, RFC 3339 nanosecond `created_at`, integer-nanosecond metrics taken from
llama.cpp's `timings`. Model facts come from the .gguf header (the path /props names, or --gguf)
and /v1/models; --details overrides fields of `details`. Python standard library only.
"""

import argparse
import datetime
import hashlib
import http.client
import json
import os
import signal
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# --- Go encoding ---------------------------------------------------------------------------------


def go_json(value):
    """Bytes as Go's json.Marshal writes them: compact, UTF-8, HTML-escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    # These characters occur only inside JSON strings, so replacing them in the text is exact.
    for raw, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text.encode()


def go_time(ns=None):
    """RFC 3339 with nanoseconds in UTC, trailing zeros trimmed (Go's time.RFC3339Nano)."""
    ns = time.time_ns() if ns is None else ns
    seconds, fraction = divmod(ns, 1_000_000_000)
    stamp = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    digits = f"{fraction:09d}".rstrip("0")
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + (f".{digits}" if digits else "") + "Z"


def human_number(count):
    """Ollama's format.HumanNumber: 494032768 -> "494.03M", 1543714304 -> "1.5B"."""
    for size, unit, decimals in ((1e12, "T", 1), (1e9, "B", 1), (1e6, "M", 2)):
        if count >= size:
            number = count / size
            return f"{number:.0f}{unit}" if number == int(number) else f"{number:.{decimals}f}{unit}"
    if count >= 1e3:
        return f"{count / 1e3:.0f}K"
    return str(count)


# --- GGUF metadata -------------------------------------------------------------------------------

# llama_ftype numbers as Ollama names them (`quantization_level`).
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M",
    30: "IQ4_XS", 31: "IQ1_M", 32: "BF16",
}
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
           11: "<q", 12: "<d"}
STRING, ARRAY = 8, 9


class GgufError(Exception):
    pass


def read_gguf_metadata(path):
    """The header's key/value pairs. Arrays are left empty, as `/api/show` without verbose."""
    with open(path, "rb") as f:

        def take(size):
            data = f.read(size)
            if len(data) != size:
                raise GgufError(f"{path}: truncated header")
            return data

        def scalar(kind):
            fmt = SCALARS[kind]
            return struct.unpack(fmt, take(struct.calcsize(fmt)))[0]

        def string():
            return take(scalar(10)).decode("utf-8", "replace")

        def value(kind):
            if kind == STRING:
                return string()
            if kind in SCALARS:
                return scalar(kind)
            if kind == ARRAY:
                item_kind, length = scalar(4), scalar(10)
                if item_kind in SCALARS:
                    f.seek(length * struct.calcsize(SCALARS[item_kind]), os.SEEK_CUR)
                else:
                    for _ in range(length):
                        value(item_kind)
                return []
            raise GgufError(f"{path}: unknown value type {kind}")

        if take(4) != b"GGUF":
            raise GgufError(f"{path}: not a GGUF file")
        _version, _tensors, pairs = scalar(4), scalar(10), scalar(10)
        return {string(): value(scalar(4)) for _ in range(pairs)}


# --- the model this front serves ----------------------------------------------------------------


def normalize(name):
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


class Model:
    """What Ollama would say about the one model behind the upstream server."""

    def __init__(self, args):
        self.name = normalize(args.model)
        self.upstream = urllib.parse.urlsplit(args.upstream)
        props = self.upstream_json("/props")
        listing = self.upstream_json("/v1/models")["data"][0]
        self.upstream_alias = listing["id"]
        meta = listing.get("meta", {})
        self.server_ctx = props.get("default_generation_settings", {}).get("n_ctx") or meta.get(
            "n_ctx", 0
        )
        path = args.gguf or props.get("model_path", "")
        info = read_gguf_metadata(path)
        arch = info.get("general.architecture", "")
        stat = os.stat(path)
        self.size = stat.st_size
        self.modified_at = go_time(stat.st_mtime_ns)
        self.digest = sha256_file(path)
        parameters = meta.get("n_params") or info.get("general.parameter_count", 0)
        self.details = {
            "parent_model": "",
            "format": "gguf",
            "family": arch,
            "families": [arch],
            "parameter_size": human_number(parameters),
            "quantization_level": FILE_TYPES.get(info.get("general.file_type"), "unknown"),
        }
        self.details.update(json.loads(args.details) if args.details else {})
        info["general.parameter_count"] = parameters
        # Ollama shows the template in `template`, not among the metadata.
        info.pop("tokenizer.chat_template", None)
        self.model_info = dict(sorted(info.items()))
        self.capabilities = ["completion"]
        self.expires_ns = time.time_ns() + KEEP_ALIVE_NS
        self.lock = threading.Lock()

    def upstream_json(self, path):
        connection = self.connect(timeout=30)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            if response.status != 200:
                raise RuntimeError(f"{path}: upstream answered {response.status}")
            return json.loads(response.read())
        finally:
            connection.close()

    def connect(self, timeout=None):
        return http.client.HTTPConnection(
            self.upstream.hostname, self.upstream.port or 80, timeout=timeout
        )

    def matches(self, name):
        return isinstance(name, str) and normalize(name) == self.name

    def touch(self, keep_alive):
        """Track `expires_at` as Ollama does; the model itself is never unloaded."""
        with self.lock:
            self.expires_ns = time.time_ns() + keep_alive_ns(keep_alive)

    def entry(self):
        return {
            "name": self.name,
            "model": self.name,
            "modified_at": self.modified_at,
            "size": self.size,
            "digest": self.digest,
            "details": self.details,
        }


KEEP_ALIVE_NS = 5 * 60 * 1_000_000_000
FOREVER_NS = 100 * 365 * 24 * 3600 * 1_000_000_000


def keep_alive_ns(keep_alive):
    if keep_alive is None:
        return KEEP_ALIVE_NS
    if isinstance(keep_alive, (int, float)):
        seconds = keep_alive
    else:
        units = {"ms": 1e-3, "s": 1, "m": 60, "h": 3600}
        text = str(keep_alive).strip()
        unit = next((u for u in ("ms", "s", "m", "h") if text.endswith(u)), "")
        try:
            seconds = float(text[: len(text) - len(unit)]) * units.get(unit, 1)
        except ValueError:
            return KEEP_ALIVE_NS
    return FOREVER_NS if seconds < 0 else int(seconds * 1e9)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


# --- translation to the OpenAI-compatible upstream -----------------------------------------------

# Ollama option -> llama.cpp request field (llama.cpp accepts its own sampler names in /v1/*).
OPTION_FIELDS = {
    "temperature": "temperature",
    "seed": "seed",
    "top_k": "top_k",
    "top_p": "top_p",
    "min_p": "min_p",
    "typical_p": "typical_p",
    "repeat_penalty": "repeat_penalty",
    "repeat_last_n": "repeat_last_n",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
    "stop": "stop",
}


class BadRequest(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def upstream_body(model, request, stream_key):
    options = request.get("options") or {}
    if not isinstance(options, dict):
        raise BadRequest(400, "options must be an object")
    body = {"model": model.upstream_alias, stream_key[0]: stream_key[1], "stream": True,
            "stream_options": {"include_usage": True}}
    for option, field in OPTION_FIELDS.items():
        if options.get(option) is not None:
            body[field] = options[option]
    num_predict = options.get("num_predict")
    if isinstance(num_predict, int) and num_predict >= 0:
        body["max_tokens"] = num_predict
    num_ctx = options.get("num_ctx")
    if isinstance(num_ctx, int) and num_ctx > model.server_ctx:
        # Ollama would reload the model with the larger window; this server's is fixed, so say
        # so here and in /api/ps `context_length`, which a client should check.
        log(f"warning: num_ctx {num_ctx} asked, the server's context is {model.server_ctx}")
    response_format = request.get("format")
    if response_format == "json":
        body["response_format"] = {"type": "json_object"}
    elif isinstance(response_format, dict):
        body["response_format"] = {"type": "json_schema", "json_schema": {"schema": response_format}}
    return body


def chat_messages(messages):
    if not isinstance(messages, list):
        raise BadRequest(400, "messages must be an array")
    turns = []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise BadRequest(400, "every message needs a role")
        turns.append({"role": message["role"], "content": message.get("content") or ""})
    return turns


class UpstreamError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def error_text(body):
    """The message of an OpenAI or llama.cpp error body, or the body itself."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return body.decode("utf-8", "replace").strip() or "upstream error"
    if isinstance(error, dict):
        return str(error.get("message", error))
    return str(error)


def upstream_events(model, path, body, generation):
    """Yields the upstream's SSE data objects; raises UpstreamError before or during the stream."""
    connection = model.connect(timeout=600)
    try:
        generation.sent_upstream_ns = time.monotonic_ns()
        try:
            connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
            response = connection.getresponse()
        except OSError as error:
            raise UpstreamError(500, f"llama.cpp server at {model.upstream.geturl()}: {error}")
        if response.status != 200:
            raise UpstreamError(response.status, error_text(response.read()))
        while True:
            try:
                raw = response.readline()
            except (OSError, http.client.HTTPException) as error:
                raise UpstreamError(500, f"the llama.cpp stream broke: {error}")
            if not raw:
                raise UpstreamError(500, "the llama.cpp stream ended without [DONE]")
            line = raw.strip()
            if line.startswith(b"error:"):
                # Older llama.cpp builds send errors as an SSE `error:` field.
                raise UpstreamError(500, error_text(line[6:].strip()))
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                return
            try:
                event = json.loads(data)
            except ValueError as error:
                raise UpstreamError(500, f"the llama.cpp stream sent bad JSON: {error}")
            if isinstance(event, dict) and "error" in event:
                raise UpstreamError(500, error_text(data))
            if isinstance(event, dict):
                yield event
    finally:
        connection.close()


class Generation:
    """One request's text as it streams, and the Ollama metrics its end carries."""

    def __init__(self, started_ns):
        self.started_ns = started_ns
        self.sent_upstream_ns = None
        self.finish_reason = None
        self.timings = {}
        self.usage = {}

    def pieces(self, events, text_of):
        """Yields (content, thinking) for each non-empty delta."""
        for event in events:
            self.timings = event.get("timings") or self.timings
            self.usage = event.get("usage") or self.usage
            for choice in event.get("choices") or []:
                self.finish_reason = choice.get("finish_reason") or self.finish_reason
                content, thinking = text_of(choice)
                if content or thinking:
                    yield content or "", thinking or ""

    def metrics(self):
        timings, usage = self.timings, self.usage
        prompt_count = usage.get("prompt_tokens")
        if prompt_count is None and "prompt_n" in timings:
            prompt_count = timings["prompt_n"] + timings.get("cache_n", 0)
        fields = {
            "total_duration": time.monotonic_ns() - self.started_ns,
            # Ollama's is the scheduler's time until the model is ready; here the model is
            # always loaded, and the wait is this front's own until the request goes upstream.
            "load_duration": (self.sent_upstream_ns or self.started_ns) - self.started_ns,
            "prompt_eval_count": prompt_count,
            "prompt_eval_duration": ns(timings.get("prompt_ms")),
            "eval_count": timings.get("predicted_n", usage.get("completion_tokens")),
            "eval_duration": ns(timings.get("predicted_ms")),
        }
        # Go's omitempty: zero and missing values are left out.
        return {key: value for key, value in fields.items() if value}

    def done_reason(self):
        return {None: "stop", "eos": "stop"}.get(self.finish_reason, self.finish_reason)


def ns(milliseconds):
    return round(milliseconds * 1_000_000) if isinstance(milliseconds, (int, float)) else None


def log(message):
    print(message, file=sys.stderr, flush=True)


# --- HTTP ----------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ollama-front"
    model: Model = None
    version = "0.0.0"

    def log_message(self, format, *args):
        log(f"{self.address_string()} {format % args}")

    # -- plumbing --

    def send_body(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, value):
        self.send_body(status, "application/json; charset=utf-8", go_json(value))

    def send_error_json(self, status, message):
        self.send_json(status, {"error": message})

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def stream_line(self, value):
        line = go_json(value) + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
        self.wfile.flush()

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def read_request(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            raise BadRequest(400, "missing request body")
        try:
            request = json.loads(raw)
        except ValueError as error:
            raise BadRequest(400, str(error))
        if not isinstance(request, dict):
            raise BadRequest(400, "the request body must be an object")
        return request

    # -- routes --

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        route = urllib.parse.urlsplit(self.path).path
        if route == "/":
            self.send_body(200, "text/plain; charset=utf-8", b"Ollama is running")
        elif route == "/api/version":
            self.send_json(200, {"version": self.version})
        elif route == "/api/tags":
            self.send_json(200, {"models": [self.model.entry()]})
        elif route == "/api/ps":
            entry = self.model.entry()
            entry.update(
                expires_at=go_time(self.model.expires_ns),
                size_vram=0,
                context_length=self.model.server_ctx,
            )
            self.send_json(200, {"models": [entry]})
        else:
            self.send_body(404, "text/plain", b"404 page not found")

    def do_POST(self):
        route = urllib.parse.urlsplit(self.path).path
        handlers = {"/api/show": self.show, "/api/chat": self.chat, "/api/generate": self.generate}
        if route not in handlers:
            # The body was not read, so this connection cannot carry another request.
            self.close_connection = True
            self.send_body(404, "text/plain", b"404 page not found")
            return
        started_ns = time.monotonic_ns()
        try:
            request = self.read_request()
            name = request.get("model")
            if not self.model.matches(name):
                raise BadRequest(404, f"model '{name}' not found")
            handlers[route](request, started_ns)
        except BadRequest as error:
            self.send_error_json(error.status, str(error))
        except (BrokenPipeError, ConnectionResetError):
            log(f"{route}: the client went away")

    def show(self, request, _started_ns):
        self.send_json(
            200,
            {
                "details": self.model.details,
                "model_info": self.model.model_info,
                "capabilities": self.model.capabilities,
                "modified_at": self.model.modified_at,
            },
        )

    def refuse_unsupported(self, request):
        if request.get("think") not in (None, False):
            raise BadRequest(400, f'"{request["model"]}" does not support thinking')
        if request.get("suffix"):
            raise BadRequest(400, f'"{request["model"]}" does not support insert')

    def chat(self, request, started_ns):
        self.refuse_unsupported(request)
        messages = request.get("messages") or []
        self.model.touch(request.get("keep_alive"))
        if not messages:
            self.send_loaded(request, {"message": {"role": "assistant", "content": ""}})
            return
        body = upstream_body(self.model, request, ("messages", chat_messages(messages)))

        def text_of(choice):
            delta = choice.get("delta") or {}
            return delta.get("content"), delta.get("reasoning_content") or delta.get("reasoning")

        def shape(content, thinking):
            message = {"role": "assistant", "content": content}
            if thinking:
                message["thinking"] = thinking
            return {"message": message}

        self.relay(request, started_ns, "/v1/chat/completions", body, text_of, shape)

    def generate(self, request, started_ns):
        self.refuse_unsupported(request)
        prompt = request.get("prompt") or ""
        self.model.touch(request.get("keep_alive"))
        if not prompt:
            self.send_loaded(request, {"response": ""})
            return
        if request.get("raw"):
            body = upstream_body(self.model, request, ("prompt", prompt))
            path = "/v1/completions"
        else:
            # Ollama renders the model's template around the prompt; the chat endpoint applies
            # the same template on the llama.cpp side.
            turns = [{"role": "user", "content": prompt}]
            if request.get("system"):
                turns.insert(0, {"role": "system", "content": request["system"]})
            body = upstream_body(self.model, request, ("messages", turns))
            path = "/v1/chat/completions"

        def text_of(choice):
            if "text" in choice:
                return choice.get("text"), None
            delta = choice.get("delta") or {}
            return delta.get("content"), delta.get("reasoning_content") or delta.get("reasoning")

        def shape(content, thinking):
            return {"response": content, **({"thinking": thinking} if thinking else {})}

        self.relay(request, started_ns, path, body, text_of, shape)

    def send_loaded(self, request, empty):
        reason = "unload" if keep_alive_ns(request.get("keep_alive")) == 0 else "load"
        self.send_json(
            200,
            {"model": request["model"], "created_at": go_time(), **empty, "done": True,
             "done_reason": reason},
        )

    def relay(self, request, started_ns, path, body, text_of, shape):
        """Streams the upstream's answer as Ollama chunks (or one object with stream:false)."""
        name = request["model"]
        streaming = request.get("stream", True) is not False
        generation = Generation(started_ns)
        events = upstream_events(self.model, path, body, generation)
        pieces = generation.pieces(events, text_of)
        started = False
        collected = []
        try:
            for content, thinking in pieces:
                if not streaming:
                    collected.append((content, thinking))
                    continue
                if not started:
                    self.start_stream()
                    started = True
                self.stream_line({"model": name, "created_at": go_time(), **shape(content, thinking),
                                  "done": False})
        except UpstreamError as error:
            if not started:
                raise BadRequest(error.status, str(error))
            self.stream_line({"error": str(error)})
            self.end_stream()
            return
        finally:
            # Closing the upstream connection stops llama.cpp generating for a client that left.
            pieces.close()
            events.close()
        final = {
            "model": name,
            "created_at": go_time(),
            **shape("".join(c for c, _ in collected), "".join(t for _, t in collected)),
            "done": True,
            "done_reason": generation.done_reason(),
            **generation.metrics(),
        }
        if not streaming:
            self.send_json(200, final)
            return
        if not started:
            self.start_stream()
        self.stream_line(final)
        self.end_stream()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="the llama.cpp server, http://HOST:PORT")
    parser.add_argument("--model", required=True, help="the Ollama name, e.g. qwen2.5-coder:0.5b")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--gguf", help="the model file (default: the path the upstream's /props names)")
    parser.add_argument("--details", help='JSON merged into `details`, e.g. {"family":"qwen2"}')
    parser.add_argument("--version", default="0.16.3", help="what /api/version reports")
    args = parser.parse_args()
    try:
        Handler.model = Model(args)
    except (OSError, GgufError, RuntimeError, ValueError, KeyError, IndexError) as error:
        sys.exit(f"error: cannot describe the upstream model: {error}")
    Handler.version = args.version
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log(f"ollama front for {Handler.model.name} on http://127.0.0.1:{args.port} -> {args.upstream}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass  # Ctrl-C is the normal way to stop it.
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
