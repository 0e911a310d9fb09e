#!/usr/bin/env python3
"""Checks the reports of scripts/e2e-real-models.sh: every answer scored, speed from the server.

Usage: check-e2e-reports.py [--overhead-ms MS] CASES SERVER_LOG... -- REPORT_DIR:PROVIDER:MODEL...

CASES is how many cases the suite has. Each SERVER_LOG is a llama.cpp server log: its
`print_timing` lines are the server's own decode rates, which the reports' rates must match. Each
REPORT_DIR:PROVIDER:MODEL names one report expected in that folder. The field names are those of
src/report/mod.rs: format_version 1 (`tokens_per_second`, `timing_source`) and 2
(`decode_tokens_per_second`, `sources.decode`); `decode_rate` and `decode_source` read both.
"""

import json
import re
import sys
from pathlib import Path

# `eval time = 2147.88 ms / 11 tokens ( 214.79 ms per token, 4.66 tokens per second)`; the
# prompt line says `prompt eval time`, which the look-behind leaves out.
DECODE_LINE = re.compile(
    r"(?<!prompt )eval time =\s*([\d.]+) ms /\s*(\d+) tokens .*?([\d.]+) tokens per second"
)
RATE_TOLERANCE = 0.05
# TTFT is our clock (send -> first token); the server's prompt time plus the request overhead
# (measured by the smoke test) should be within this of it. Only a gross error fails the run
# (a load or queue counted in, a TTFT taken at the end): the machine is shared and noisy.
TTFT_CLOSE_MS = 10.0
TTFT_GROSS_MS = 250.0


def server_rates(logs):
    """(tokens, tokens per second) of every request the servers answered."""
    rates = []
    for log in logs:
        for match in DECODE_LINE.finditer(Path(log).read_text(errors="replace")):
            rates.append((int(match[2]), float(match[3])))
    return rates


def decode_rate(metrics):
    return metrics.get("decode_tokens_per_second", metrics.get("tokens_per_second"))


def decode_source(metrics):
    return (metrics.get("sources") or {}).get("decode", metrics.get("timing_source"))


def find_report(folder, provider, model):
    for path in sorted(Path(folder).glob("report_*.json")):
        report = json.loads(path.read_text())
        if report["provider"] == provider and report["model"] == model:
            return path, report
    raise SystemExit(f"error: no report for {provider}:{model} in {folder}")


def ttft_gaps(report, overhead_ms):
    """TTFT minus (server prompt time + request overhead), per attempt that has both."""
    gaps = []
    for case in report["cases"]:
        for attempt in case["attempts"]:
            metrics = attempt["metrics"]
            ttft, prompt = metrics.get("ttft_ms"), metrics.get("server_prompt_ms")
            if ttft is not None and prompt is not None:
                gaps.append(ttft - prompt - overhead_ms)
    return gaps


def problems_of(report, cases, rates):
    problems = []
    if len(report["cases"]) != cases:
        problems.append(f"{len(report['cases'])} case runs, expected {cases}")
    formatted = 0
    for case in report["cases"]:
        name = case["case"]
        if case.get("provider_error"):
            problems.append(f"{name}: provider error {case['provider_error']}")
            continue
        if not case["attempts"]:
            problems.append(f"{name}: no attempts")
        for attempt in case["attempts"]:
            label = f"{name} attempt {attempt['attempt']}"
            metrics = attempt["metrics"]
            if not attempt["stages"]:
                problems.append(f"{label}: not scored (no stages)")
            formatted += any(s["stage"] == "format" and s["passed"] for s in attempt["stages"])
            if decode_source(metrics) != "server":
                problems.append(f"{label}: decode speed from {decode_source(metrics)!r}")
            rate, tokens = decode_rate(metrics), metrics.get("completion_tokens")
            if not rate or not tokens:
                problems.append(f"{label}: tokens_per_second {rate}, completion_tokens {tokens}")
                continue
            if not metrics.get("ttft_ms"):
                problems.append(f"{label}: no ttft_ms")
            # The server counts the token that ended generation; a client may or may not.
            near = [r for n, r in rates if abs(n - tokens) <= 1]
            if not any(abs(rate - r) <= RATE_TOLERANCE * r for r in near):
                problems.append(
                    f"{label}: {rate:.2f} tokens/s over {tokens} tokens matches no server "
                    f"timing within 5% (server rates for ~{tokens} tokens: {near})"
                )
    if formatted == 0:
        problems.append("no answer passed even the format stage")
    return problems


def main():
    args = sys.argv[1:]
    overhead_ms = 0.0
    if args[:1] == ["--overhead-ms"]:
        overhead_ms, args = float(args[1]), args[2:]
    if "--" not in args or len(args) < 3:
        raise SystemExit(__doc__)
    split = args.index("--")
    cases, logs, expected = int(args[0]), args[1:split], args[split + 1 :]
    rates = server_rates(logs)
    failed = False
    for item in expected:
        folder, provider, model = item.split(":", 2)
        path, report = find_report(folder, provider, model)
        problems = problems_of(report, cases, rates)
        summary = report["summary"]
        print(
            f"{provider}:{model}: {summary['passed']}/{summary['runs']} passed, mean score "
            f"{summary['mean_score']:.2f}, tokens/s p50 {decode_rate(summary)['p50']}, "
            f"ttft p50 {summary['ttft_ms']['p50']} ms  ({path.name})"
        )
        gaps = ttft_gaps(report, overhead_ms)
        if gaps:
            close = sum(abs(gap) <= TTFT_CLOSE_MS for gap in gaps)
            print(
                f"  TTFT - (server prompt time + {overhead_ms:.1f} ms overhead): "
                + ", ".join(f"{gap:+.1f}" for gap in gaps)
                + f" ms; {close} of {len(gaps)} within {TTFT_CLOSE_MS:.0f} ms"
            )
            problems += [
                f"TTFT {gap:+.1f} ms away from the server's prompt time plus overhead"
                for gap in gaps
                if abs(gap) > TTFT_GROSS_MS
            ]
        for problem in problems:
            print(f"  problem: {problem}")
        failed |= bool(problems)
    if failed:
        raise SystemExit("error: the end-to-end reports are not what real models should give")


if __name__ == "__main__":
    main()
