#!/usr/bin/env python3
"""Generate a deterministic suite of small std-only cases for the scoring benchmark.

Usage: scripts/gen-bench-suite.py OUT.yaml [--cases N]

Every case comes from one of a score of templates with parameters derived from its index, and
its function name carries the index, so no two answers are the same text. Each reference is a
rustfmt-clean `pub fn` that compiles without warnings under edition 2021, and its tests exercise
every branch so the coverage stage can reach 0.8. Python standard library only; the output is the
same bytes for the same N.
"""

import argparse
import math
import sys


def rust_str(s):
    """A Rust string literal for plain ASCII text."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rust_char(c):
    return "'" + ("\\'" if c == "'" else c) + "'"


def rust_slice(values):
    return "&[" + ", ".join(str(v) for v in values) + "]"


def rust_vec(values, ty):
    if not values:
        return f"Vec::<{ty}>::new()"
    return "vec![" + ", ".join(str(v) for v in values) + "]"


def rust_option(value):
    return "None" if value is None else f"Some({value})"


def eq(call, expected):
    # rustfmt puts macro arguments one per line once they are wider than 60 columns (fn_call_width).
    if len(f"{call}, {expected}") > 60:
        return f"assert_eq!(\n    {call},\n    {expected}\n);"
    return f"assert_eq!({call}, {expected});"


def truth(call, value):
    return f"assert!({call});" if value else f"assert!(!{call});"


def pick(options, v):
    return options[v % len(options)]


# Each template takes the function name and a variant number and returns
# (slug, signature, description, reference, tests) where tests is a list of
# (test name, [assert lines]).


def t_sum_multiples(name, v):
    a, b = pick([(3, 5), (2, 7), (4, 9), (5, 11), (3, 13), (6, 10), (7, 8)], v)

    def f(n):
        return sum(x for x in range(1, n) if x % a == 0 or x % b == 0)

    ns = [10 + v, 20 + 3 * v, 100 + 7 * v]
    ref = f"""pub fn {name}(n: u64) -> u64 {{
    (1..n).filter(|x| x % {a} == 0 || x % {b} == 0).sum()
}}
"""
    return (
        "sum-multiples",
        f"pub fn {name}(n: u64) -> u64",
        f"returns the sum of all positive integers below `n` that are multiples of {a} or {b}",
        ref,
        [
            ("small", [eq(f"{name}({n})", f(n)) for n in ns]),
            ("empty_range", [eq(f"{name}(0)", 0), eq(f"{name}(1)", 0)]),
        ],
    )


def t_count_vowels(name, v):
    with_y = v % 2 == 1
    vowels = "aeiouy" if with_y else "aeiou"
    pattern = " | ".join(rust_char(c) for c in vowels)

    def f(s):
        return sum(1 for c in s if c.lower() in vowels)

    texts = pick(
        [
            ["Hello World", "rhythm", "AEIOU xyz"],
            ["Rust is fun", "Syzygy", "queueing"],
            ["The quick brown fox", "crypt", "EUOUAE"],
            ["programming", "Yellow sky", "bcd"],
        ],
        v,
    )
    ref = f"""pub fn {name}(s: &str) -> usize {{
    s.chars()
        .filter(|c| matches!(c.to_ascii_lowercase(), {pattern}))
        .count()
}}
"""
    extra = " (`y` counts as a vowel)" if with_y else " (`y` is not a vowel)"
    return (
        "count-vowels",
        f"pub fn {name}(s: &str) -> usize",
        "returns how many ASCII vowels `s` contains, ignoring case" + extra,
        ref,
        [
            ("words", [eq(f"{name}({rust_str(t)})", f(t)) for t in texts]),
            ("empty", [eq(f'{name}("")', 0)]),
        ],
    )


def t_reverse_words(name, v):
    sep = pick([" ", "-", ", ", "/", " | "], v)
    words = pick(
        [
            ["one", "two", "three"],
            ["alpha", "beta", "gamma", "delta"],
            ["red", "green", "blue"],
            ["x", "yy", "zzz"],
        ],
        v,
    )
    spaced = "  ".join(words)
    ref = f"""pub fn {name}(s: &str) -> String {{
    s.split_whitespace().rev().collect::<Vec<_>>().join({rust_str(sep)})
}}
"""
    return (
        "reverse-words",
        f"pub fn {name}(s: &str) -> String",
        f"returns the whitespace-separated words of `s` in reverse order, joined by {rust_str(sep)}",
        ref,
        [
            (
                "several",
                [
                    eq(f"{name}({rust_str(' '.join(words))})", rust_str(sep.join(reversed(words)))),
                    eq(f"{name}({rust_str(spaced)})", rust_str(sep.join(reversed(words)))),
                ],
            ),
            ("edge", [eq(f'{name}("")', '""'), eq(f'{name}("  solo ")', '"solo"')]),
        ],
    )


def t_is_palindrome(name, v):
    yes, no = pick(
        [
            ("A man, a plan, a canal: Panama", "Hello, World"),
            ("Was it a car or a cat I saw?", "Rust lang"),
            ("No lemon, no melon", "palindrome"),
            ("Step on no pets", "Step on pets"),
            ("12321", "12345"),
        ],
        v,
    )
    ref = f"""pub fn {name}(s: &str) -> bool {{
    let chars: Vec<char> = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    chars.iter().eq(chars.iter().rev())
}}
"""
    return (
        "is-palindrome",
        f"pub fn {name}(s: &str) -> bool",
        "returns whether `s` reads the same forwards and backwards, considering only ASCII "
        "letters and digits and ignoring case",
        ref,
        [
            ("yes", [truth(f"{name}({rust_str(yes)})", True), truth(f'{name}("")', True)]),
            ("no", [truth(f"{name}({rust_str(no)})", False)]),
        ],
    )


def t_gcd(name, v):
    pairs = [(12 + v, 18 + 2 * v), (7 * (v + 1), 21 * (v + 2)), (17, 5 + v)]
    ref = f"""pub fn {name}(a: u64, b: u64) -> u64 {{
    let (mut a, mut b) = (a, b);
    while b != 0 {{
        let t = a % b;
        a = b;
        b = t;
    }}
    a
}}
"""
    return (
        "gcd",
        f"pub fn {name}(a: u64, b: u64) -> u64",
        "returns the greatest common divisor of `a` and `b` (with `gcd(0, 0) == 0`)",
        ref,
        [
            ("pairs", [eq(f"{name}({a}, {b})", math.gcd(a, b)) for a, b in pairs]),
            ("zero", [eq(f"{name}(0, {9 + v})", 9 + v), eq(f"{name}({4 + v}, 0)", 4 + v)]),
        ],
    )


def t_fib_mod(name, v):
    m = pick([10, 7, 1000, 97, 1_000_000_007, 13], v)

    def f(n):
        a, b = 0, 1
        for _ in range(n):
            a, b = b, (a + b) % m
        return a

    ns = [10, 30 + v, 90]
    m_lit = f"{m:_}"
    ref = f"""pub fn {name}(n: u32) -> u64 {{
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {{
        let next = (a + b) % {m_lit};
        a = b;
        b = next;
    }}
    a
}}
"""
    return (
        "fib-mod",
        f"pub fn {name}(n: u32) -> u64",
        f"returns the `n`-th Fibonacci number modulo {m} (`F(0) = 0`, `F(1) = 1`)",
        ref,
        [
            ("start", [eq(f"{name}(0)", 0), eq(f"{name}(1)", 1)]),
            ("larger", [eq(f"{name}({n})", f(n)) for n in ns]),
        ],
    )


def t_running_extreme(name, v):
    is_max = v % 2 == 0
    word = "max" if is_max else "min"
    init = "i64::MIN" if is_max else "i64::MAX"
    cmp = ">" if is_max else "<"
    data = pick(
        [[3, 1, 4, 1, 5, 9, 2, 6], [-2, -5, 0, -1, 7], [10, 9, 8, 11], [5, 5, 3, 8, -4]], v // 2
    )
    acc, out = None, []
    for x in data:
        acc = x if acc is None else (max(acc, x) if is_max else min(acc, x))
        out.append(acc)
    ref = f"""pub fn {name}(v: &[i64]) -> Vec<i64> {{
    let mut out = Vec::with_capacity(v.len());
    let mut best = {init};
    for &x in v {{
        if x {cmp} best {{
            best = x;
        }}
        out.push(best);
    }}
    out
}}
"""
    return (
        f"running-{word}",
        f"pub fn {name}(v: &[i64]) -> Vec<i64>",
        f"returns the running {word}imum of `v`: element `i` is the {word}imum of `v[..=i]`",
        ref,
        [
            ("values", [eq(f"{name}({rust_slice(data)})", rust_vec(out, "i64"))]),
            ("empty", [eq(f"{name}(&[])", rust_vec([], "i64"))]),
        ],
    )


def t_dedup_sorted(name, v):
    data = pick(
        [
            [1, 1, 2, 3, 3, 3, 4],
            [-3, -3, 0, 0, 0, 5],
            [7, 7, 7],
            [1, 2, 2, 3],
            [2, 4, 4, 6, 8, 8],
        ],
        v,
    )
    out = [x for i, x in enumerate(data) if i == 0 or data[i - 1] != x]
    ref = f"""pub fn {name}(v: &[i32]) -> Vec<i32> {{
    let mut out: Vec<i32> = Vec::new();
    for &x in v {{
        if out.last() != Some(&x) {{
            out.push(x);
        }}
    }}
    out
}}
"""
    return (
        "dedup-sorted",
        f"pub fn {name}(v: &[i32]) -> Vec<i32>",
        "takes a sorted slice and returns its values with consecutive duplicates removed",
        ref,
        [
            ("values", [eq(f"{name}({rust_slice(data)})", rust_vec(out, "i32"))]),
            ("empty", [eq(f"{name}(&[])", rust_vec([], "i32"))]),
        ],
    )


def t_most_frequent(name, v):
    texts = pick(
        [
            ["hello world", "abcabc"],
            ["mississippi", "zz yy"],
            ["banana split", "a b c"],
            ["letter", "bookkeeper"],
        ],
        v,
    )

    def f(s):
        counts = {}
        for c in s:
            if not c.isspace():
                counts[c] = counts.get(c, 0) + 1
        best = None
        for c in sorted(counts):
            if best is None or counts[c] > best[1]:
                best = (c, counts[c])
        return None if best is None else f"({rust_char(best[0])}, {best[1]})"

    ref = f"""use std::collections::BTreeMap;

pub fn {name}(s: &str) -> Option<(char, usize)> {{
    let mut counts = BTreeMap::new();
    for c in s.chars().filter(|c| !c.is_whitespace()) {{
        *counts.entry(c).or_insert(0) += 1;
    }}
    let mut best: Option<(char, usize)> = None;
    for (c, n) in counts {{
        if best.is_none_or(|(_, m)| n > m) {{
            best = Some((c, n));
        }}
    }}
    best
}}
"""
    return (
        "most-frequent-char",
        f"pub fn {name}(s: &str) -> Option<(char, usize)>",
        "returns the most frequent non-whitespace character of `s` with its count, the smallest "
        "such character on a tie, or `None` when there is none",
        ref,
        [
            ("text", [eq(f"{name}({rust_str(t)})", rust_option(f(t))) for t in texts]),
            ("blank", [eq(f'{name}("")', "None"), eq(f'{name}("   ")', "None")]),
        ],
    )


def t_clamp(name, v):
    lo, hi = pick([(0, 10), (-5, 5), (1, 100), (-20, -3), (18, 65)], v)
    ref = f"""pub fn {name}(x: i64) -> i64 {{
    if x < {lo} {{
        {lo}
    }} else if x > {hi} {{
        {hi}
    }} else {{
        x
    }}
}}
"""
    mid = (lo + hi) // 2
    return (
        "clamp",
        f"pub fn {name}(x: i64) -> i64",
        f"returns `x` limited to the range {lo}..={hi}",
        ref,
        [
            ("inside", [eq(f"{name}({mid})", mid), eq(f"{name}({lo})", lo), eq(f"{name}({hi})", hi)]),
            ("outside", [eq(f"{name}({lo - 7})", lo), eq(f"{name}({hi + 9})", hi)]),
        ],
    )


def t_digit_sum(name, v):
    base = pick([10, 2, 8, 16, 3, 7], v)

    def f(n):
        s = 0
        while n:
            s += n % base
            n //= base
        return s

    ns = [12345 + v, 255, 1_000_003 * (v + 1)]
    ref = f"""pub fn {name}(n: u64) -> u64 {{
    let mut n = n;
    let mut sum = 0;
    while n > 0 {{
        sum += n % {base};
        n /= {base};
    }}
    sum
}}
"""
    return (
        "digit-sum",
        f"pub fn {name}(n: u64) -> u64",
        f"returns the sum of the digits of `n` written in base {base}",
        ref,
        [
            ("numbers", [eq(f"{name}({n})", f(n)) for n in ns]),
            ("zero", [eq(f"{name}(0)", 0)]),
        ],
    )


def t_is_prime(name, v):
    def f(n):
        return n >= 2 and all(n % d for d in range(2, math.isqrt(n) + 1))

    primes = [p for p in range(50 + 37 * v, 10_000) if f(p)][:2]
    composites = [(11 + v) * (13 + 2 * v), 49 * (v + 1)]
    ref = f"""pub fn {name}(n: u64) -> bool {{
    if n < 2 {{
        return false;
    }}
    let mut d = 2;
    while d * d <= n {{
        if n % d == 0 {{
            return false;
        }}
        d += 1;
    }}
    true
}}
"""
    return (
        "is-prime",
        f"pub fn {name}(n: u64) -> bool",
        "returns whether `n` is a prime number",
        ref,
        [
            ("primes", [truth(f"{name}({p})", True) for p in [2, 3] + primes]),
            (
                "not_primes",
                [truth(f"{name}({n})", f(n)) for n in [0, 1] + composites],
            ),
        ],
    )


def t_count_long_words(name, v):
    k = pick([3, 4, 5, 2, 6], v)
    texts = pick(
        [
            ["the quick brown fox jumps over the lazy dog", "a bb ccc dddd eeeee ffffff"],
            ["rust makes systems programming approachable", "tiny"],
            ["never gonna give you up", "supercalifragilistic is long"],
        ],
        v,
    )

    def f(s):
        return sum(1 for w in s.split() if len(w) > k)

    ref = f"""pub fn {name}(s: &str) -> usize {{
    s.split_whitespace().filter(|w| w.len() > {k}).count()
}}
"""
    return (
        "count-long-words",
        f"pub fn {name}(s: &str) -> usize",
        f"returns how many whitespace-separated words of `s` are longer than {k} bytes",
        ref,
        [
            ("sentences", [eq(f"{name}({rust_str(t)})", f(t)) for t in texts]),
            ("empty", [eq(f'{name}("")', 0)]),
        ],
    )


def t_caesar(name, v):
    k = 1 + (3 + 5 * v) % 25
    texts = pick(["Hello, World!", "Rust 2021 Edition", "abc XYZ", "Zebra-Crossing."], v)

    def f(s):
        out = []
        for c in s:
            if "a" <= c <= "z":
                out.append(chr(ord("a") + (ord(c) - ord("a") + k) % 26))
            elif "A" <= c <= "Z":
                out.append(chr(ord("A") + (ord(c) - ord("A") + k) % 26))
            else:
                out.append(c)
        return "".join(out)

    ref = f"""pub fn {name}(s: &str) -> String {{
    s.chars()
        .map(|c| {{
            if c.is_ascii_lowercase() {{
                (b'a' + (c as u8 - b'a' + {k}) % 26) as char
            }} else if c.is_ascii_uppercase() {{
                (b'A' + (c as u8 - b'A' + {k}) % 26) as char
            }} else {{
                c
            }}
        }})
        .collect()
}}
"""
    return (
        "caesar",
        f"pub fn {name}(s: &str) -> String",
        f"shifts every ASCII letter of `s` forward by {k} places in the alphabet, wrapping around "
        "and keeping case; other characters are unchanged",
        ref,
        [
            ("mixed", [eq(f"{name}({rust_str(texts)})", rust_str(f(texts)))]),
            ("wrap", [eq(f'{name}("xyz")', rust_str(f("xyz"))), eq(f'{name}("")', '""')]),
        ],
    )


def t_binary_search(name, v):
    data = [3 * i + (v % 3) - 10 for i in range(9 + v % 4)]
    present = [data[1], data[len(data) // 2], data[-1]]
    absent = [data[0] - 1, data[2] + 1, data[-1] + 5]
    ref = f"""use std::cmp::Ordering;

pub fn {name}(v: &[i32], target: i32) -> Option<usize> {{
    let (mut lo, mut hi) = (0, v.len());
    while lo < hi {{
        let mid = lo + (hi - lo) / 2;
        match v[mid].cmp(&target) {{
            Ordering::Equal => return Some(mid),
            Ordering::Less => lo = mid + 1,
            Ordering::Greater => hi = mid,
        }}
    }}
    None
}}
"""
    slice = rust_slice(data)
    return (
        "binary-search",
        f"pub fn {name}(v: &[i32], target: i32) -> Option<usize>",
        "returns the index of `target` in the sorted slice `v` of distinct values, or `None`",
        ref,
        [
            (
                "found",
                ["let v = " + slice + ";"]
                + [eq(f"{name}(v, {x})", f"Some({data.index(x)})") for x in present],
            ),
            (
                "missing",
                ["let v = " + slice + ";"]
                + [eq(f"{name}(v, {x})", "None") for x in absent]
                + [eq(f"{name}(&[], 1)", "None")],
            ),
        ],
    )


def t_fizzbuzz(name, v):
    a, b = pick([(3, 5), (2, 7), (4, 9), (3, 7), (5, 6), (2, 9)], v)

    def f(n):
        if n % a == 0 and n % b == 0:
            return "FizzBuzz"
        if n % a == 0:
            return "Fizz"
        if n % b == 0:
            return "Buzz"
        return str(n)

    ns = [a * b, a, b, a * b + 1]
    ref = f"""pub fn {name}(n: u32) -> String {{
    match (n % {a}, n % {b}) {{
        (0, 0) => "FizzBuzz".to_string(),
        (0, _) => "Fizz".to_string(),
        (_, 0) => "Buzz".to_string(),
        _ => n.to_string(),
    }}
}}
"""
    return (
        "fizzbuzz",
        f"pub fn {name}(n: u32) -> String",
        f'returns "FizzBuzz" if `n` is a multiple of both {a} and {b}, "Fizz" for a multiple of '
        f'{a} only, "Buzz" for a multiple of {b} only, and `n` in decimal otherwise',
        ref,
        [
            ("words", [eq(f"{name}({n})", rust_str(f(n))) for n in ns[:3]]),
            ("number", [eq(f"{name}({ns[3]})", rust_str(f(ns[3])))]),
        ],
    )


def t_collatz(name, v):
    def f(n):
        steps = 0
        while n > 1:
            n = n // 2 if n % 2 == 0 else 3 * n + 1
            steps += 1
        return steps

    ns = [6 + v, 27 + 2 * v, 97]
    ref = f"""pub fn {name}(n: u64) -> u32 {{
    let mut n = n;
    let mut steps = 0;
    while n > 1 {{
        n = if n % 2 == 0 {{ n / 2 }} else {{ 3 * n + 1 }};
        steps += 1;
    }}
    steps
}}
"""
    return (
        "collatz-steps",
        f"pub fn {name}(n: u64) -> u32",
        "returns how many Collatz steps (halve if even, else 3n + 1) take `n` to 1; 0 for 0 or 1",
        ref,
        [
            ("steps", [eq(f"{name}({n})", f(n)) for n in ns]),
            ("trivial", [eq(f"{name}(1)", 0), eq(f"{name}(0)", 0)]),
        ],
    )


def t_second_largest(name, v):
    data = pick(
        [[3, 1, 4, 1, 5, 9, 2, 6], [10, 10, 9], [-1, -7, -3], [1, 8, 8, 2, 8], [5, 4, 3, 2]], v
    )
    distinct = sorted(set(data), reverse=True)
    expected = distinct[1] if len(distinct) > 1 else None
    ref = f"""pub fn {name}(v: &[i32]) -> Option<i32> {{
    let mut first: Option<i32> = None;
    let mut second: Option<i32> = None;
    for &x in v {{
        if first.is_none_or(|f| x > f) {{
            second = first;
            first = Some(x);
        }} else if Some(x) != first && second.is_none_or(|s| x > s) {{
            second = Some(x);
        }}
    }}
    second
}}
"""
    return (
        "second-largest",
        f"pub fn {name}(v: &[i32]) -> Option<i32>",
        "returns the second largest distinct value of `v`, or `None` if it has fewer than two",
        ref,
        [
            (
                "values",
                [
                    eq(f"{name}({rust_slice(data)})", rust_option(expected)),
                    eq(f"{name}(&[2, 7, 5])", "Some(5)"),
                ],
            ),
            ("too_few", [eq(f"{name}(&[4, 4])", "None"), eq(f"{name}(&[])", "None")]),
        ],
    )


def t_rle(name, v):
    texts = pick(["aaabccdddd", "hello", "zzzzzz!", "abc", "wwwwbbbw"], v)

    def f(s):
        out, i = [], 0
        while i < len(s):
            j = i
            while j < len(s) and s[j] == s[i]:
                j += 1
            run = j - i
            out.append((str(run) if run > 1 else "") + s[i])
            i = j
        return "".join(out)

    ref = f"""pub fn {name}(s: &str) -> String {{
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {{
        let mut run = 1;
        while chars.peek() == Some(&c) {{
            chars.next();
            run += 1;
        }}
        if run > 1 {{
            out.push_str(&run.to_string());
        }}
        out.push(c);
    }}
    out
}}
"""
    return (
        "run-length",
        f"pub fn {name}(s: &str) -> String",
        "run-length encodes `s`: each run of a repeated character becomes its length followed by "
        'the character, and a single character stays as is (so "aab" becomes "2ab")',
        ref,
        [
            (
                "runs",
                [eq(f"{name}({rust_str(texts)})", rust_str(f(texts))), eq(f'{name}("aab")', '"2ab"')],
            ),
            ("plain", [eq(f'{name}("xyz")', '"xyz"'), eq(f'{name}("")', '""')]),
        ],
    )


def t_pow_mod(name, v):
    m = pick([1000, 13, 1_000_007, 97, 65_521], v)
    cases = [(2, 10 + v), (3 + v, 200), (7, 0), (10 + v, 1)]
    ref = f"""pub fn {name}(base: u64, exp: u64) -> u64 {{
    let (mut base, mut exp) = (base % {m:_}, exp);
    let mut result = 1;
    while exp > 0 {{
        if exp & 1 == 1 {{
            result = result * base % {m:_};
        }}
        base = base * base % {m:_};
        exp >>= 1;
    }}
    result
}}
"""
    return (
        "pow-mod",
        f"pub fn {name}(base: u64, exp: u64) -> u64",
        f"returns `base` raised to the power `exp`, modulo {m}",
        ref,
        [
            ("powers", [eq(f"{name}({b}, {e})", pow(b, e, m)) for b, e in cases[:2]]),
            ("small_exponents", [eq(f"{name}({b}, {e})", pow(b, e, m)) for b, e in cases[2:]]),
        ],
    )


TEMPLATES = [
    t_sum_multiples,
    t_count_vowels,
    t_reverse_words,
    t_is_palindrome,
    t_gcd,
    t_fib_mod,
    t_running_extreme,
    t_dedup_sorted,
    t_most_frequent,
    t_clamp,
    t_digit_sum,
    t_is_prime,
    t_count_long_words,
    t_caesar,
    t_binary_search,
    t_fizzbuzz,
    t_collatz,
    t_second_largest,
    t_rle,
    t_pow_mod,
]

# Function-name stems, one per template, in the same order.
STEMS = [
    "sum_multiples",
    "count_vowels",
    "reverse_words",
    "is_palindrome",
    "gcd",
    "fib_mod",
    "running_extreme",
    "dedup_sorted",
    "most_frequent",
    "clamp",
    "digit_sum",
    "is_prime",
    "count_long_words",
    "caesar",
    "binary_search",
    "fizzbuzz",
    "collatz_steps",
    "second_largest",
    "run_length",
    "pow_mod",
]


def render_tests(tests):
    lines = ["#[cfg(test)]", "mod tests {", "    use super::*;"]
    for test_name, asserts in tests:
        lines += ["", "    #[test]", f"    fn {test_name}() {{"]
        lines += ["        " + line for a in asserts for line in a.split("\n")]
        lines.append("    }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def block(text, indent):
    """A YAML literal block scalar body: every non-empty line indented, blank lines kept empty."""
    pad = " " * indent
    return "".join((pad + line if line else "") + "\n" for line in text.rstrip("\n").split("\n"))


def make_case(index):
    template = TEMPLATES[(index - 1) % len(TEMPLATES)]
    variant = (index - 1) // len(TEMPLATES)
    stem = STEMS[(index - 1) % len(TEMPLATES)]
    if template is t_running_extreme:
        # Alternate max/min across the variants, and name the function after what it computes.
        stem = "running_max" if variant % 2 == 0 else "running_min"
    name = f"{stem}_{index:03d}"
    slug, signature, description, reference, tests = template(name, variant)
    prompt = (
        f"Write `{signature}` that {description}.\n"
        "Use only the standard library. Answer with the function (and any `use` lines it needs).\n"
    )
    return {
        "id": f"case-{index:03d}-{slug}",
        "tag": slug,
        "prompt": prompt,
        "reference": reference,
        "tests": render_tests(tests),
    }


def render_suite(n):
    out = [
        "suite: bench\n",
        "description: generated std-only cases for the scoring benchmark\n",
        'edition: "2021"\n',
        "defaults:\n",
        "  stages: [format, compile, test, coverage]\n",
        "  coverage: 0.8\n",
        "  timeout: 30s\n",
        "cases:\n",
    ]
    for index in range(1, n + 1):
        case = make_case(index)
        out.append(f"  - id: {case['id']}\n")
        out.append(f"    tags: [{case['tag']}]\n")
        for key in ("prompt", "reference", "tests"):
            out.append(f"    {key}: |\n")
            out.append(block(case[key], 6))
    return "".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", metavar="OUT.yaml", help="where to write the suite ('-' for stdout)")
    parser.add_argument("--cases", type=int, default=120, metavar="N", help="number of cases (default 120)")
    args = parser.parse_args(argv)
    if args.cases < 1:
        parser.error("--cases must be at least 1")
    text = render_suite(args.cases)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
