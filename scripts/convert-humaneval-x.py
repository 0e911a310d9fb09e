#!/usr/bin/env python3
"""Convert HumanEval-X's Rust split (CodeGeeX) into a cargo-llm-bench suite (format v1).

Usage:
    python3 scripts/convert-humaneval-x.py IN.jsonl[.gz] OUT.yaml

Each input line is one task with the fields task_id, prompt, declaration,
canonical_solution (spelled "cannonical_solution" in the CodeGeeX file) and test;
example_test is ignored. In this dataset the split is:

  declaration   the shared `use` lines (std, rand, regex, md5) and the function
                signature up to and including its opening brace
  prompt        only the doc comment, as a /* ... */ block; in the CodeGeeX file it
                ends in "*\\" instead of "*/", so it never closes a comment
  solution      the body and closing brace (sometimes helper items after it, and for a
                few tasks a repeated signature: those are dataset bugs, kept as they are)
  test          a `#[cfg(test)] mod tests { use super::*; ... }` module

The suite case gets:

  prompt     declaration + doc comment, the order CodeGeeX shows a model (the comment
             opens the body); the comment's closing "*\\" is written as "*/"
  reference  declaration + solution: the whole answer, with no tests
  tests      the test module, to be placed after the answer in the same file
  dependencies  the crates the answer and tests name (rand, regex, md5); every CodeGeeX
             declaration imports all three, so every case needs all three

Leading blank lines are dropped and each text ends in exactly one newline; nothing else
in the code is changed, so the dataset's broken cases stay broken.

The YAML is written by hand (standard library only): every text is a literal block
scalar with an explicit indentation indicator, so lines that start with spaces, blank
lines and lines such as "---" or "#" inside code cannot end or confuse the scalar. When
PyYAML is installed, the output is loaded back and compared with what was meant.
"""

import gzip
import json
import re
import sys

SUITE = "humaneval-x-rust"
DESCRIPTION = (
    "HumanEval-X Rust split (CodeGeeX, Apache-2.0): 164 HumanEval tasks translated to Rust, "
    "with reference solutions and hidden unit tests"
)
EDITION = "2021"

# The versions CodeGeeX's own evaluation crate pins (codegeex/benchmark/rust/Cargo.toml).
# The tests use rand's two-argument gen_range, which rand 0.8 removed.
CRATE_VERSIONS = {"rand": "0.4", "regex": "1", "md5": "0.7"}
CRATE_PATTERNS = {
    "rand": re.compile(r"\brand::"),
    "regex": re.compile(r"\bregex::|\bRegex::"),
    "md5": re.compile(r"\bmd5\b"),
}

INDENT = 6  # case keys sit at column 4; block-scalar content at column 6


def read_records(path):
    opener = gzip.open if path.endswith(".gz") else open
    records = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                sys.exit(f"{path}:{number}: not JSON: {err}")
    return records


def case_id(task_id):
    # "Rust/0" -> "humaneval-0"
    number = task_id.rsplit("/", 1)[-1]
    ident = "humaneval-" + number.lower()
    ident = re.sub(r"[^a-z0-9_-]", "-", ident)
    return ident


def tidy(text):
    """Drop leading blank lines and trailing whitespace; end with one newline."""
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    body = "\n".join(lines).rstrip()
    return body + "\n" if body else ""


def close_comment(prompt):
    """CodeGeeX's doc comments end in '*\\'; make that '*/' so the comment closes."""
    stripped = prompt.rstrip()
    if stripped.endswith("*\\"):
        stripped = stripped[:-2] + "*/"
    return stripped + "\n"


def solution_of(record):
    for key in ("canonical_solution", "cannonical_solution"):
        if key in record:
            return record[key]
    sys.exit(f"{record.get('task_id')}: no canonical_solution field")


def dependencies_of(*texts):
    joined = "\n".join(texts)
    return {name: CRATE_VERSIONS[name] for name, pattern in CRATE_PATTERNS.items() if pattern.search(joined)}


def convert(record):
    declaration = record["declaration"]
    solution = solution_of(record)
    prompt = tidy(declaration + close_comment(record["prompt"]))
    reference = tidy(declaration + solution)
    tests = tidy(record["test"])
    return {
        "id": case_id(record["task_id"]),
        "prompt": prompt,
        "reference": reference,
        "tests": tests,
        "dependencies": dependencies_of(reference, tests),
    }


def quote(text):
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def block(key, text, key_indent):
    """`key: |N` followed by text as a literal block scalar indented to INDENT."""
    for char in text:
        code = ord(char)
        if (code < 0x20 and char not in "\n\t") or 0x7F <= code <= 0x9F or char == "\ufeff":
            # Not printable in YAML: fall back to a double-quoted scalar.
            return f"{' ' * key_indent}{key}: {quote(text)}\n"
    if not text:
        return f"{' ' * key_indent}{key}: \"\"\n"
    indicator = INDENT - key_indent
    chomp = "" if text.endswith("\n") and not text.endswith("\n\n") else ("+" if text.endswith("\n") else "-")
    out = [f"{' ' * key_indent}{key}: |{indicator}{chomp}\n"]
    lines = text.split("\n")
    if text.endswith("\n"):
        lines = lines[:-1]
    for line in lines:
        out.append((" " * INDENT + line if line else "") + "\n")
    return "".join(out)


def render(cases):
    out = [
        f"suite: {SUITE}\n",
        f"description: {quote(DESCRIPTION)}\n",
        f"edition: \"{EDITION}\"\n",
        "defaults:\n",
        "  stages: [format, compile, test, coverage]\n",
        "  coverage: 0.0\n",
        "cases:\n",
    ]
    for case in cases:
        out.append(f"  - id: {case['id']}\n")
        if case["dependencies"]:
            deps = ", ".join(f"{name}: {quote(version)}" for name, version in case["dependencies"].items())
            out.append(f"    dependencies: {{ {deps} }}\n")
        out.append(block("prompt", case["prompt"], 4))
        out.append(block("reference", case["reference"], 4))
        out.append(block("tests", case["tests"], 4))
    return "".join(out)


def verify(path, cases):
    try:
        import yaml  # noqa: PLC0415 - optional
    except ImportError:
        print("PyYAML not installed: output not loaded back", file=sys.stderr)
        return
    with open(path, encoding="utf-8") as handle:
        loaded = yaml.safe_load(handle)
    assert loaded["suite"] == SUITE and loaded["edition"] == EDITION
    assert loaded["defaults"] == {"stages": ["format", "compile", "test", "coverage"], "coverage": 0.0}
    assert len(loaded["cases"]) == len(cases), "case count differs"
    for got, want in zip(loaded["cases"], cases):
        for key in ("id", "prompt", "reference", "tests"):
            if got[key] != want[key]:
                sys.exit(f"{want['id']}: {key} does not load back identically")
        if got.get("dependencies", {}) != want["dependencies"]:
            sys.exit(f"{want['id']}: dependencies do not load back identically")
    print(f"verified: {path} loads back identically ({len(cases)} cases)", file=sys.stderr)


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: convert-humaneval-x.py IN.jsonl[.gz] OUT.yaml")
    records = read_records(argv[1])
    cases = [convert(record) for record in records]
    ids = [case["id"] for case in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        sys.exit(f"duplicate case ids: {duplicates}")
    with open(argv[2], "w", encoding="utf-8", newline="\n") as handle:
        handle.write(render(cases))
    print(f"wrote {len(cases)} cases to {argv[2]}", file=sys.stderr)
    verify(argv[2], cases)


if __name__ == "__main__":
    main(sys.argv)
