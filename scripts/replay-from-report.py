#!/usr/bin/env python3
"""Writes a replay folder (`--model replay:DIR`) from the answers recorded in JSON reports.

Usage: replay-from-report.py OUT_DIR REPORT.json [REPORT.json ...] [--worst]

Without --worst, the first report's answers are written as they were: replaying them scores the
same answers again. With --worst, every run of a case gets a failing answer of that case taken
from any of the reports (the same model's failures, replayed: a deliberately worse model); a case
that never failed gets the answer to another case, which does not define the function asked for. Only first answers are written (`<sample>-0.md`).
"""

import json
import os
import sys


def main():
    args = [a for a in sys.argv[1:] if a != "--worst"]
    worst = "--worst" in sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    out_dir, paths = args[0], args[1:]
    reports = [json.load(open(path, encoding="utf-8")) for path in paths]
    failing = {}
    for report in reports:
        for case in report["cases"]:
            if not case["invalid"] and not case["passed"] and case["attempts"]:
                failing.setdefault((case["suite"], case["case"]), []).append(
                    case["attempts"][0]["answer"]
                )
    written = replaced = 0
    for case in reports[0]["cases"]:
        if not case["attempts"]:
            continue
        key = (case["suite"], case["case"])
        answer = case["attempts"][0]["answer"]
        if worst and case["passed"]:
            if key in failing:
                choices = failing[key]
                answer = choices[case["sample"] % len(choices)]
            else:
                others = [c for c in reports[0]["cases"] if c["case"] != case["case"] and c["attempts"]]
                answer = others[case["sample"] % len(others)]["attempts"][0]["answer"]
            replaced += 1
        folder = os.path.join(out_dir, case["suite"], case["case"])
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{case['sample']}-0.md"), "w", encoding="utf-8") as file:
            file.write(answer)
        written += 1
    print(f"wrote {written} answers to {out_dir} ({replaced} passing answers replaced by failing ones)")


if __name__ == "__main__":
    main()
