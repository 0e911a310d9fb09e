#!/usr/bin/env python3
"""Checks the reports of scripts/e2e-real-models.sh: every answer scored, speed from the server.

Usage: check-e2e-reports.py [--overhead-ms MS] CASES SERVER_LOG... -- REPORT_DIR:PROVIDER:MODEL...
       check-e2e-reports.py --repairs REPORT_DIR:PROVIDER:MODEL

CASES is how many cases the suite has. Each SERVER_LOG is a llama.cpp server log: its
`print_timing` lines are the server's own decode rates, which the reports' rates must match. Each
REPORT_DIR:PROVIDER:MODEL names one report expected in that folder. The field names are those of
src/report/mod.rs: format_version 1 (`tokens_per_second`, `timing_source`) and 2
(`decode_tokens_per_second`, `sources.decode`); `decode_rate` and `decode_source` read both.

With --repairs, checks the repair loop's evidence in one report of a run with `--repairs N`: a
case that failed first and passed after a repair, the diagnostics sent for it in
`attempts[n].feedback` (rustc's or the tests' words, paths relative, no scratch paths or timings),
every repair's request recorded, why each failed case stopped, and first-try and after-repair pass
rates that differ. Prints the evidence.
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


# What feedback must never carry: our scratch crates' paths and modules, temp dirs, timings.
FEEDBACK_NOISE = re.compile(
    r"case_\d+|llm_bench_hidden|_hidden\.rs|/tmp/|target/llm-bench|finished in \d|\(\d+\) panicked"
)
# What an actionable repair request quotes: rustc's errors, or the failing tests and panics.
FEEDBACK_SIGNAL = re.compile(r"error(\[E\d{4}\])?:|failing tests: |panicked at src/")


def repair_problems(report):
    """Problems with the repair evidence of one report, and the repaired cases' ids."""
    problems, repaired = [], []
    summary = report["summary"]
    for case in report["cases"]:
        name, attempts = case["case"], case["attempts"]
        if attempts and attempts[0]["feedback"] is not None:
            problems.append(f"{name}: the first attempt has feedback")
        for attempt in attempts[1:]:
            feedback = attempt["feedback"] or ""
            label = f"{name} attempt {attempt['attempt']}"
            if not FEEDBACK_SIGNAL.search(feedback):
                problems.append(f"{label}: feedback quotes no diagnostics: {feedback!r}")
            noise = FEEDBACK_NOISE.search(feedback)
            if noise:
                problems.append(f"{label}: feedback carries {noise[0]!r}")
            if "tests are fixed" not in feedback:
                problems.append(f"{label}: feedback does not say the tests are fixed")
        if case["repairs"] != max(len(attempts) - 1, 0):
            problems.append(f"{name}: repairs {case['repairs']} for {len(attempts)} attempts")
        if not case["passed"] and not case.get("provider_error") and not case.get("repair_stop"):
            problems.append(f"{name}: failed without a repair_stop")
        if case["passed"] and case.get("repair_stop"):
            problems.append(f"{name}: passed with a repair_stop {case['repair_stop']}")
        if not case["first_try_passed"] and case["passed"] and len(attempts) > 1:
            repaired.append(case)
    if not repaired:
        problems.append("no case failed first and passed after a repair")
    first, after = summary["first_try_pass_rate"], summary["after_repair_pass_rate"]
    if first == after:
        problems.append(f"first-try and after-repair pass rates are equal ({first})")
    return problems, repaired


def check_repairs(item):
    folder, provider, model = item.split(":", 2)
    path, report = find_report(folder, provider, model)
    problems, repaired = repair_problems(report)
    summary = report["summary"]
    print(
        f"{provider}:{model}: first-try pass rate {summary['first_try_pass_rate']}, after repairs "
        f"{summary['after_repair_pass_rate']}, repairs {summary['repairs_total']}  ({path.name})"
    )
    for case in report["cases"]:
        stop = case.get("repair_stop")
        print(
            f"  {case['case']}: " + " -> ".join(
                "pass" if a["passed"] else next(s["stage"] for s in a["stages"] if not s["passed"])
                for a in case["attempts"]
            ) + (f"  (stopped: {stop['reason']})" if stop else "")
        )
    for case in repaired:
        fixed = case["attempts"][-1]
        print(f"\n  {case['case']}: attempts[{fixed['attempt']}].feedback (sent before the passing answer):")
        print("    " + fixed["feedback"].replace("\n", "\n    "))
    for problem in problems:
        print(f"  problem: {problem}")
    if problems:
        raise SystemExit("error: the repair loop's evidence is missing or wrong")


def main():
    args = sys.argv[1:]
    if args[:1] == ["--repairs"] and len(args) == 2:
        check_repairs(args[1])
        return
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
