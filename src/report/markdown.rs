//! The Markdown summary of a run, for `$GITHUB_STEP_SUMMARY`: the table with every column, the
//! gates, the significant changes against a baseline, and the failed cases folded away.
//!
//! Only what every GitHub-flavoured renderer draws is used (tables, `<details>`, emphasis; not
//! github.com's own alerts), so the summary reads the same wherever it is shown. Every name that
//! came from a suite or a model is escaped, so a model called `a|b` or `<script>` cannot break
//! the table or inject HTML.

use super::table::{Column, COLUMNS};
use super::{render_failures, Report};
use std::fmt::Write as _;

/// Failure lines are cut to this width; there is no terminal to fit.
const FAILURE_WIDTH: u16 = 160;

/// The summary: `gate_failures` are the gates' messages, one per failed gate and model;
/// `comparisons` is the comparison with the baseline, already Markdown, when there was one.
pub fn render(reports: &[Report], gate_failures: &[String], comparisons: Option<&str>) -> String {
    let mut md = String::from("## cargo llm-bench\n\n");
    if let Some(first) = reports.first() {
        let suites: Vec<String> = first
            .suites
            .iter()
            .map(|suite| {
                format!(
                    "{} ({} case{})",
                    escape(&suite.name),
                    suite.cases,
                    plural(suite.cases)
                )
            })
            .collect();
        let _ = writeln!(
            md,
            "Suites: {} · {} sample{} per case · {} · sandbox {}\n",
            suites.join(", "),
            first.samples,
            plural(first.samples as usize),
            escape(&first.rustc),
            escape(&first.sandbox)
        );
    }
    if reports.iter().any(|report| !report.complete) {
        md.push_str(
            "**Interrupted:** the reports hold only what was scored before the run stopped.\n\n",
        );
    }
    md.push_str(&table(reports));

    md.push_str("\n### Gates\n\n");
    if gate_failures.is_empty() {
        md.push_str("No gate failed.\n");
    } else {
        let _ = writeln!(
            md,
            "**{} gate{} failed:**\n",
            gate_failures.len(),
            plural(gate_failures.len())
        );
        for failure in gate_failures {
            let _ = writeln!(md, "- {}", escape(failure));
        }
    }

    if let Some(comparisons) = comparisons {
        md.push_str("\n### Significant changes\n\n");
        md.push_str(comparisons.trim_end());
        md.push('\n');
    }

    let failures = render_failures(reports, Some(FAILURE_WIDTH), true);
    if !failures.is_empty() {
        let fence = fence_for(&failures);
        let _ = write!(
            md,
            "\n<details><summary>Failed cases and invalid runs</summary>\n\n{fence}text\n{failures}\n{fence}\n\n</details>\n"
        );
    }
    md
}

/// One row per model with the columns of the terminal table, numbers aligned right. A column
/// no model has a value in (speeds of offline models, say) is left out and named below.
fn table(reports: &[Report]) -> String {
    let has_value = |column: &Column| reports.iter().any(|report| (column.value)(report) != "-");
    // Optional columns (pass@5 of a run with fewer samples) go without a word, as on a terminal.
    let (shown, empty): (Vec<&Column>, Vec<&Column>) = COLUMNS
        .iter()
        .filter(|column| !column.optional || has_value(column))
        .partition(|column| reports.is_empty() || has_value(column));
    let mut md = String::from("| model |");
    for column in &shown {
        let _ = write!(md, " {} |", escape(column.header));
    }
    md.push_str("\n| :--- |");
    for _ in &shown {
        md.push_str(" ---: |");
    }
    md.push('\n');
    for report in reports {
        let _ = write!(md, "| {} |", escape(&report.label()));
        for column in &shown {
            let _ = write!(md, " {} |", escape(&(column.value)(report)));
        }
        md.push('\n');
    }
    if !empty.is_empty() {
        let names: Vec<String> = empty.iter().map(|column| escape(column.header)).collect();
        let _ = writeln!(md, "\nNo model has a value for: {}.", names.join(", "));
    }
    md
}

/// Text that Markdown shows as written: inline markup and HTML escaped, one line, and `|` safe
/// inside a table cell.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '&' => escaped.push_str("&amp;"),
            '\n' | '\r' => escaped.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' | '!' => {
                escaped.push('\\');
                escaped.push(c);
            }
            c => escaped.push(c),
        }
    }
    escaped
}

/// A code fence longer than any run of backticks in `text`, so the text cannot close it.
fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::Stage;

    fn report(provider: &str, model: &str, passed: bool) -> Report {
        let case = serde_json::json!({
            "suite": "basics", "case": "add", "sample": 0, "passed": passed,
            "score": if passed { 1.0 } else { 0.4 }, "first_try_passed": passed, "repairs": 0,
            "invalid": false, "invalid_reason": null, "provider_error": null,
            "attempts": [{
                "attempt": 0, "passed": passed, "score": 1.0, "end": {"reason": "finished"},
                "invalid": false, "flags": [], "metrics": {
                    "ttft_ms": null, "ttft_answer_ms": null, "generation_ms": 500.0,
                    "prompt_tokens": null, "completion_tokens": null,
                    "decode_tokens_per_second": null, "prefill_tokens_per_second": null,
                    "server_prompt_ms": null, "server_load_ms": null, "retries": 0,
                    "retry_wait_ms": 0.0, "sources": {"ttft": "none", "tokens": "none",
                    "decode": "none", "prefill": "none"}},
                "stages": [{"stage": "compile", "passed": passed, "duration_ms": 250.0,
                    "error_codes": [],
                    "diagnostics": "```"}],
                "thinking_chars": 0, "feedback": null, "code": "", "answer": ""}]
        });
        let mut summary = crate::report::Summary {
            runs: 1,
            valid_runs: 1,
            passed: usize::from(passed),
            mean_score: if passed { 1.0 } else { 0.4 },
            ..Default::default()
        };
        summary.pass_at_1 = summary.passed as f64;
        for stage in [Stage::Format, Stage::Compile, Stage::Test] {
            summary
                .stage_pass_rates
                .insert(stage, Some(summary.passed as f64));
        }
        serde_json::from_value(serde_json::json!({
            "format_version": 2, "tool": {"name": "cargo-llm-bench", "version": "0.1.0"},
            "rustc": "rustc 1.89.0", "created": "2026-11-30T21:00:00Z", "sandbox": "bwrap",
            "complete": true, "provider": provider, "model": model,
            "suites": [{"name": "basics", "path": "suites/basics.yaml", "hash": "sha256:0",
                "cases": 1}],
            "samples": 1, "weights": {"format": 0.1, "compile": 0.3, "test": 0.5, "coverage": 0.1},
            "summary": summary, "cases": [case],
        }))
        .unwrap()
    }

    #[test]
    fn the_table_has_a_row_per_model_and_names_the_columns_no_model_has_a_value_in() {
        let md = render(
            &[
                report("reference", "reference", true),
                report("local", "a|b<script>", false),
            ],
            &[],
            None,
        );
        let lines: Vec<&str> = md.lines().collect();
        let header = lines
            .iter()
            .position(|line| line.starts_with("| model |"))
            .unwrap();
        // Offline models measure no speed, no case here has coverage, and these hand-made reports
        // carry no interval: those columns are
        // named, not drawn empty.
        let empty = [
            "coverage",
            "95% CI",
            "TTFT p50",
            "tok/s p50",
            "prefill p50",
            "tokens in+out",
        ];
        assert_eq!(
            lines[header + 1].matches("---").count(),
            COLUMNS.iter().filter(|column| !column.optional).count() + 1 - empty.len()
        );
        assert!(!lines[header].contains("TTFT"), "{md}");
        assert!(
            md.contains(&format!(
                "\nNo model has a value for: {}.\n",
                empty.join(", ")
            )),
            "{md}"
        );
        assert!(lines[header + 2].starts_with("| reference | 1 |"), "{md}");
        assert!(
            lines[header + 3].starts_with("| local:a\\|b&lt;script&gt; |"),
            "{md}"
        );
        assert!(lines[header + 3].contains("| 0.400 |"), "{md}");
        assert!(
            md.contains(
                "Suites: basics (1 case) · 1 sample per case · rustc 1.89.0 · sandbox bwrap"
            ),
            "{md}"
        );
        assert!(md.contains("### Gates\n\nNo gate failed.\n"), "{md}");
        assert!(!md.contains("### Significant changes"), "{md}");
    }

    #[test]
    fn gate_failures_and_significant_changes_are_shown_as_given() {
        let md = render(
            &[report("reference", "reference", true)],
            &["local:x: score 0.40 is below --min-score 0.9".to_owned()],
            Some("| case | change |\n|---|---|\n| add | broken |\n"),
        );
        assert!(
            md.contains("**1 gate failed:**\n\n- local:x: score 0.40 is below --min-score 0.9\n"),
            "{md}"
        );
        assert!(
            md.contains(
                "### Significant changes\n\n| case | change |\n|---|---|\n| add | broken |\n"
            ),
            "{md}"
        );
    }

    #[test]
    fn failures_are_folded_in_a_fence_their_text_cannot_close() {
        let md = render(&[report("local", "x", false)], &[], None);
        assert!(md.contains("<details><summary>Failed cases and invalid runs</summary>\n\n````text\nlocal:x failed 1 of 1 valid runs:\n  add (compile: ```)\n````\n\n</details>\n"), "{md}");
    }
}
