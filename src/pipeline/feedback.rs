//! What a model is told after a failed answer: the failing stage's diagnostics, shaped so a
//! model can act on them, and the normal form in which two failures count as the same error.
//!
//! The diagnostics come as the stages stored them (paths as if the answer were `src/lib.rs`,
//! batch artifacts and timings already gone); here they are cut to a budget in whole errors and
//! framed with what the model may and may not change.

use super::{StageDetail, StageOutcome};
use crate::suite::Stage;

/// The most characters of diagnostics a repair request carries: small models have small
/// context windows, and the first errors are the ones worth fixing first.
pub const FEEDBACK_BUDGET: usize = 2400;

/// Said in every repair request: the hidden tests are ours, fixed, and added before each build.
const TESTS_ARE_FIXED: &str = "The tests are fixed and not yours to edit: they are added to your code before every build, so do not write tests or a `mod tests` of your own, and keep the names and signatures the task asks for.";

const ANSWER_FORMAT: &str = "Answer with the complete corrected code in one ```rust block.";

/// The user turn that asks for a repair of an answer that went through `stages` and failed.
pub fn repair_request(stages: &[StageOutcome]) -> String {
    let Some(failed) = stages.iter().find(|outcome| !outcome.passed) else {
        return format!("Your answer held no usable code. {ANSWER_FORMAT}");
    };
    if failed.diagnostics == super::NO_CODE {
        return format!(
            "Your answer held no Rust code. {TESTS_ARE_FIXED} Answer with the complete code in one ```rust block."
        );
    }
    let (headline, diagnostics) = match (&failed.stage, &failed.detail) {
        (Stage::Format, _) => (
            "rustfmt cannot parse your code:".to_owned(),
            failed.diagnostics.clone(),
        ),
        (Stage::Compile, _) => (
            "Your code does not compile. rustc says:".to_owned(),
            failed.diagnostics.clone(),
        ),
        (Stage::Test, _) if failed.diagnostics.starts_with(super::TESTS_DO_NOT_BUILD) => (
            "The tests do not build against your code. rustc says:".to_owned(),
            failed.diagnostics[super::TESTS_DO_NOT_BUILD.len()..]
                .trim_start()
                .to_owned(),
        ),
        (Stage::Test, StageDetail::Test { passed, total }) => {
            let failing = total.saturating_sub(*passed);
            let headline = match failing {
                0 => "Your code compiles, but the tests did not finish:".to_owned(),
                1 => format!("Your code compiles, but 1 of {total} tests fails:"),
                _ => format!("Your code compiles, but {failing} of {total} tests fail:"),
            };
            (headline, test_failures(&failed.diagnostics))
        }
        (Stage::Test, _) => (
            "The tests fail:".to_owned(),
            test_failures(&failed.diagnostics),
        ),
        (Stage::Coverage, _) => (
            "Your code passes the tests, but they leave too much of it unrun; drop what the task does not ask for:".to_owned(),
            failed.diagnostics.clone(),
        ),
    };
    format!(
        "{headline}\n\n```text\n{}\n```\n\n{TESTS_ARE_FIXED} {ANSWER_FORMAT}",
        within_budget(&diagnostics, FEEDBACK_BUDGET)
    )
}

/// A test stage's output as a model can use it: each failing test and its panic, without the
/// lines of tests that passed, libtest's summary or its backtrace note.
fn test_failures(diagnostics: &str) -> String {
    let mut failing = Vec::new();
    let mut rest = Vec::new();
    for line in diagnostics.lines() {
        if let Some(name) = line
            .strip_prefix("test ")
            .and_then(|line| line.strip_suffix(" ... FAILED"))
        {
            failing.push(name);
        } else if line.starts_with("thread '")
            || (line.starts_with("test ") && line.contains(" panicked at "))
        {
            // A blank line before each panic makes it a block of its own for the budget.
            rest.push(String::new());
            rest.push(line.to_owned());
        } else if !(line.starts_with("test result: ")
            || line.starts_with("note: run with `RUST_BACKTRACE=")
            || (line.starts_with("test ") && line.ends_with(" ... ok")))
        {
            rest.push(line.to_owned());
        }
    }
    let rest = rest.join("\n");
    if failing.is_empty() {
        return rest.trim().to_owned();
    }
    format!("failing tests: {}\n\n{}", failing.join(", "), rest.trim())
        .trim()
        .to_owned()
}

/// The first whole blocks (separated by blank lines: one rustc diagnostic, one panic) that fit
/// in `budget` characters, and a count of the blocks left out. A first block larger than the
/// budget is cut at a line, so there is always something to act on.
pub fn within_budget(text: &str, budget: usize) -> String {
    let blocks: Vec<&str> = text
        .split("\n\n")
        .map(str::trim_end)
        .filter(|block| !block.trim().is_empty())
        .collect();
    let mut kept: Vec<String> = Vec::new();
    let mut used = 0;
    for block in &blocks {
        let cost = block.len() + 2;
        if used + cost > budget {
            if kept.is_empty() {
                kept.push(first_lines_within(block, budget));
            }
            break;
        }
        used += cost;
        kept.push((*block).to_owned());
    }
    let left_out = blocks.len() - kept.len();
    let mut text = kept.join("\n\n");
    match left_out {
        0 => {}
        1 => text.push_str("\n\n(1 more message not shown)"),
        n => text.push_str(&format!("\n\n({n} more messages not shown)")),
    }
    text
}

fn first_lines_within(block: &str, budget: usize) -> String {
    let mut kept = String::new();
    for line in block.lines() {
        if kept.len() + line.len() + 1 > budget {
            break;
        }
        kept.push_str(line);
        kept.push('\n');
    }
    if kept.is_empty() {
        // A single line longer than the budget: cut at a character boundary.
        let end = (0..=budget.min(block.len()))
            .rev()
            .find(|&at| block.is_char_boundary(at))
            .unwrap_or(0);
        return format!("{} ...", &block[..end]);
    }
    format!("{}\n...", kept.trim_end())
}

/// The failure of an attempt in a form where the same error reads the same: its first failing
/// stage and the diagnostics without source snippets or line and column numbers (a repair that
/// moved the error down a line did not fix it). None when every stage passed.
pub fn failure_signature(stages: &[StageOutcome]) -> Option<(Stage, String)> {
    let failed = stages.iter().find(|outcome| !outcome.passed)?;
    let lines: Vec<String> = failed
        .diagnostics
        .lines()
        .filter(|line| !is_snippet_line(line))
        .map(without_positions)
        .collect();
    Some((failed.stage, lines.join("\n")))
}

/// rustc's quoted source and its gutter: `12 |     let x = y;`, `   |     ^ here`, `...`.
fn is_snippet_line(line: &str) -> bool {
    let trimmed = line.trim_start();
    let after_number = trimmed.trim_start_matches(|c: char| c.is_ascii_digit());
    after_number.starts_with('|') || after_number.starts_with(" |") || trimmed == "..."
}

/// `src/lib.rs:12:5` → `src/lib.rs`.
fn without_positions(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(".rs:") {
        out.push_str(&rest[..at + 3]);
        rest = &rest[at + 3..];
        // Skip `:digits` at most twice (line, then column).
        for _ in 0..2 {
            let Some(after_colon) = rest.strip_prefix(':') else {
                break;
            };
            let digits = after_colon
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after_colon.len());
            if digits == 0 {
                break;
            }
            rest = &after_colon[digits..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn failed(stage: Stage, detail: StageDetail, diagnostics: &str) -> Vec<StageOutcome> {
        let passed = |stage| StageOutcome {
            stage,
            passed: true,
            elapsed: Duration::ZERO,
            detail: StageDetail::Format {
                already_formatted: true,
            },
            diagnostics: String::new(),
        };
        let mut stages: Vec<StageOutcome> = Stage::ALL
            .into_iter()
            .take_while(|&before| before != stage)
            .map(passed)
            .collect();
        stages.push(StageOutcome {
            stage,
            passed: false,
            elapsed: Duration::ZERO,
            detail,
            diagnostics: diagnostics.to_owned(),
        });
        stages
    }

    const MOVED: &str = "error[E0382]: use of moved value: `s`\n --> src/lib.rs:3:12\n  |\n1 | pub fn push_twice(v: &mut Vec<String>, s: String) {\n  |                                        - move occurs because `s` has type `String`, which does not implement the `Copy` trait\n2 |     v.push(s);\n  |            - value moved here\n3 |     v.push(s);\n  |            ^ value used here after move";

    #[test]
    fn a_compile_failure_sends_rustcs_errors_and_says_the_tests_are_fixed() {
        let stages = failed(
            Stage::Compile,
            StageDetail::Compile {
                error_codes: vec!["E0382".to_owned()],
                warnings: 0,
            },
            MOVED,
        );
        let expected = format!(
            "Your code does not compile. rustc says:\n\n```text\n{MOVED}\n```\n\nThe tests are fixed and not yours to edit: they are added to your code before every build, so do not write tests or a `mod tests` of your own, and keep the names and signatures the task asks for. Answer with the complete corrected code in one ```rust block."
        );
        assert_eq!(repair_request(&stages), expected);
    }

    #[test]
    fn a_test_failure_names_the_failing_tests_and_their_assertions_without_noise() {
        let stored = "test tests::zero_is_zero panicked at src/tests.rs:10:9:\n   10 |         assert_eq!(sign(0), \"zero\");\nassertion `left == right` failed\n  left: \"positive\"\n right: \"zero\"\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\ntest tests::negative_numbers_are_negative ... ok\ntest tests::positive_numbers_are_positive ... ok\ntest tests::zero_is_zero ... FAILED\ntest result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured";
        let stages = failed(
            Stage::Test,
            StageDetail::Test {
                passed: 2,
                total: 3,
            },
            stored,
        );
        let request = repair_request(&stages);
        assert_eq!(
            request.split("\n\nThe tests are fixed").next().unwrap(),
            "Your code compiles, but 1 of 3 tests fails:\n\n```text\nfailing tests: tests::zero_is_zero\n\ntest tests::zero_is_zero panicked at src/tests.rs:10:9:\n   10 |         assert_eq!(sign(0), \"zero\");\nassertion `left == right` failed\n  left: \"positive\"\n right: \"zero\"\n```"
        );
    }

    #[test]
    fn tests_that_do_not_build_say_so_and_keep_rustcs_text() {
        let stored =
            "the hidden tests do not build against this answer:\nerror[E0308]: mismatched types";
        let stages = failed(
            Stage::Test,
            StageDetail::Test {
                passed: 0,
                total: 0,
            },
            stored,
        );
        assert!(repair_request(&stages).starts_with(
            "The tests do not build against your code. rustc says:\n\n```text\nerror[E0308]: mismatched types\n```"
        ));
    }

    #[test]
    fn the_budget_keeps_whole_errors_and_counts_the_rest() {
        let error =
            |n: usize| format!("error[E0425]: cannot find value `x{n}`\n --> src/lib.rs:{n}:1");
        let text = (0..10).map(error).collect::<Vec<_>>().join("\n\n");
        let budget = error(0).len() * 3 + 6;
        let kept = within_budget(&text, budget);
        assert_eq!(
            kept,
            format!(
                "{}\n\n{}\n\n{}\n\n(7 more messages not shown)",
                error(0),
                error(1),
                error(2)
            )
        );
    }

    #[test]
    fn a_first_error_larger_than_the_budget_is_cut_at_a_line() {
        let text = "error: first\nline two\nline three";
        assert_eq!(within_budget(text, 25), "error: first\nline two\n...");
    }

    #[test]
    fn the_same_error_on_another_line_has_the_same_signature() {
        let detail = || StageDetail::Compile {
            error_codes: vec!["E0382".to_owned()],
            warnings: 0,
        };
        let moved_down = MOVED
            .replace("src/lib.rs:3:12", "src/lib.rs:4:12")
            .replace("3 |     v.push(s);", "4 |     v.push(s);");
        assert_eq!(
            failure_signature(&failed(Stage::Compile, detail(), MOVED)),
            failure_signature(&failed(Stage::Compile, detail(), &moved_down)),
        );
        let other = MOVED.replace("`s`", "`t`");
        assert_ne!(
            failure_signature(&failed(Stage::Compile, detail(), MOVED)),
            failure_signature(&failed(Stage::Compile, detail(), &other)),
        );
    }

    #[test]
    fn positions_are_dropped_only_after_a_rust_file_name() {
        assert_eq!(
            without_positions("panicked at src/tests.rs:10:9: x:1"),
            "panicked at src/tests.rs: x:1"
        );
        assert_eq!(without_positions("a.rs:"), "a.rs:");
        assert_eq!(without_positions("at a.rs:12"), "at a.rs");
    }
}
