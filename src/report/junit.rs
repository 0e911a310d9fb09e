//! JUnit XML for CI test views: one `<testsuite>` per model, one `<testcase>` per suite case.
//!
//! - A test case is named as pytest names a parametrized test, `case[model]`, with the suite as
//!   its class, so flat lists (GitHub, GitLab) and class trees (Jenkins) both tell the models
//!   apart. Its time is the model's generation time plus the stages' time, over every attempt
//!   of every sample.
//! - Samples of a case are one test case. It fails when any valid sample failed: the
//!   `<failure>` names the failing stage (`type`), says what failed in a few words (`message`)
//!   and holds each failed sample's diagnostics. Pass rates over samples belong to the report and
//!   the gates; JUnit answers "did this case work every time".
//! - Invalid runs: a run the provider failed (timed out, errored, or the model was stopped) is an
//!   `<error>`, as it is an infrastructure failure CI should see; a run cut short by its own
//!   budget (`max_tokens`, a truncated prompt, thinking that used every token) is `<skipped>`
//!   when no sample of the case is valid, as the benchmark's settings, not the model, are to
//!   blame. A failure outranks an error, an error outranks a skip; what is left over is told in
//!   `<system-out>`.
//!
//! The document validates against Jenkins' JUnit schema (fixtures/junit/), which is stricter
//! than what most CI servers accept: `<skipped>` carries no attributes, `<testsuites>` no skip
//! count.

use super::{CaseReport, Report, StageReport};
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;
use std::io;

/// Diagnostics past this many characters per failed sample are cut: the JSON report has all.
const MAX_DIAGNOSTIC_CHARS: usize = 4000;
/// A `message` attribute is one line of at most this many characters.
const MAX_MESSAGE_CHARS: usize = 200;

/// The JUnit XML document for every report of a run.
pub fn render(reports: &[Report]) -> io::Result<String> {
    let suites: Vec<SuiteResult> = reports.iter().map(SuiteResult::new).collect();
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let tests: usize = suites.iter().map(|suite| suite.cases.len()).sum();
    let failures: usize = suites.iter().map(|suite| suite.failures()).sum();
    let errors: usize = suites.iter().map(|suite| suite.errors()).sum();
    writer
        .create_element("testsuites")
        .with_attributes([
            ("name", "cargo llm-bench"),
            ("tests", tests.to_string().as_str()),
            ("failures", &failures.to_string()),
            ("errors", &errors.to_string()),
            (
                "time",
                &seconds(suites.iter().map(SuiteResult::seconds).sum()),
            ),
        ])
        .write_inner_content(|writer| {
            for suite in &suites {
                suite.write(writer)?;
            }
            Ok(())
        })?;
    let mut xml = String::from_utf8(writer.into_inner())
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
    xml.push('\n');
    Ok(xml)
}

/// One model's test cases.
struct SuiteResult<'a> {
    report: &'a Report,
    cases: Vec<CaseResult<'a>>,
}

/// Every sample of one suite case, and the verdict over them.
struct CaseResult<'a> {
    suite: &'a str,
    case: &'a str,
    runs: Vec<&'a CaseReport>,
    outcome: Outcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failed,
    Error,
    Skipped,
}

impl<'a> SuiteResult<'a> {
    fn new(report: &'a Report) -> SuiteResult<'a> {
        let mut cases: Vec<CaseResult> = Vec::new();
        for run in &report.cases {
            match cases
                .iter_mut()
                .find(|case| case.suite == run.suite && case.case == run.case)
            {
                Some(case) => case.runs.push(run),
                None => cases.push(CaseResult {
                    suite: &run.suite,
                    case: &run.case,
                    runs: vec![run],
                    outcome: Outcome::Passed,
                }),
            }
        }
        for case in &mut cases {
            case.outcome = outcome(&case.runs);
        }
        SuiteResult { report, cases }
    }

    fn count(&self, outcome: Outcome) -> usize {
        self.cases
            .iter()
            .filter(|case| case.outcome == outcome)
            .count()
    }

    fn failures(&self) -> usize {
        self.count(Outcome::Failed)
    }

    fn errors(&self) -> usize {
        self.count(Outcome::Error)
    }

    fn seconds(&self) -> f64 {
        self.cases.iter().map(CaseResult::seconds).sum()
    }

    fn write(&self, writer: &mut Writer<Vec<u8>>) -> io::Result<()> {
        let report = self.report;
        let label = report.label();
        let properties = [
            ("provider", report.provider.clone()),
            ("model", report.model.clone()),
            ("rustc", report.rustc.clone()),
            ("sandbox", report.sandbox.clone()),
            ("samples", report.samples.to_string()),
            ("complete", report.complete.to_string()),
        ];
        writer
            .create_element("testsuite")
            .with_attributes([
                ("name", xml_safe(&label).as_str()),
                ("tests", &self.cases.len().to_string()),
                ("failures", &self.failures().to_string()),
                ("errors", &self.errors().to_string()),
                ("skipped", &self.count(Outcome::Skipped).to_string()),
                ("time", &seconds(self.seconds())),
                ("timestamp", &xml_safe(&report.created)),
            ])
            .write_inner_content(|writer| {
                writer
                    .create_element("properties")
                    .write_inner_content(|writer| {
                        for (name, value) in &properties {
                            writer
                                .create_element("property")
                                .with_attributes([("name", *name), ("value", &xml_safe(value))])
                                .write_empty()?;
                        }
                        Ok(())
                    })?;
                for case in &self.cases {
                    case.write(writer, &label)?;
                }
                Ok(())
            })?;
        Ok(())
    }
}

impl CaseResult<'_> {
    fn seconds(&self) -> f64 {
        let millis: f64 = self
            .runs
            .iter()
            .flat_map(|run| &run.attempts)
            .map(|attempt| {
                attempt.metrics.generation_ms
                    + attempt
                        .stages
                        .iter()
                        .map(|stage| stage.duration_ms)
                        .sum::<f64>()
            })
            .sum();
        millis / 1000.0
    }

    fn write(&self, writer: &mut Writer<Vec<u8>>, label: &str) -> io::Result<()> {
        let name = xml_safe(&format!("{}[{label}]", self.case));
        let element = writer.create_element("testcase").with_attributes([
            ("name", name.as_str()),
            ("classname", &xml_safe(self.suite)),
            ("time", &seconds(self.seconds())),
        ]);
        let failed: Vec<&CaseReport> = self
            .runs
            .iter()
            .copied()
            .filter(|run| !run.invalid && !run.passed)
            .collect();
        let notes = self.notes();
        if self.outcome == Outcome::Passed && notes.is_empty() {
            element.write_empty()?;
            return Ok(());
        }
        element.write_inner_content(|writer| {
            match self.outcome {
                Outcome::Passed => {}
                Outcome::Skipped => {
                    writer
                        .create_element("skipped")
                        .write_text_content(text(&invalid_summary(&self.runs)))?;
                }
                Outcome::Error => {
                    let errors: Vec<&CaseReport> = self
                        .runs
                        .iter()
                        .copied()
                        .filter(|run| run.provider_error.is_some())
                        .collect();
                    let first = errors.first().copied().and_then(provider_error_line);
                    writer
                        .create_element("error")
                        .with_attributes([
                            ("message", one_line(&first.unwrap_or_default()).as_str()),
                            ("type", invalid_name(errors.first().copied())),
                        ])
                        .write_text_content(text(
                            &errors
                                .iter()
                                .filter_map(|run| {
                                    provider_error_line(run)
                                        .map(|line| format!("sample {}: {line}", run.sample))
                                })
                                .collect::<Vec<_>>()
                                .join("\n"),
                        ))?;
                }
                Outcome::Failed => {
                    if let Some(first) = failed.first().copied() {
                        let valid = self.runs.iter().filter(|run| !run.invalid).count();
                        write_failure(writer, first, &failed, valid)?;
                    }
                }
            }
            if !notes.is_empty() {
                writer
                    .create_element("system-out")
                    .write_text_content(text(&notes.join("\n")))?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// What the verdict leaves unsaid: repairs that saved a sample, invalid samples beside
    /// valid ones, provider errors beside a failure.
    fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for run in &self.runs {
            if run.passed && run.repairs > 0 {
                notes.push(format!(
                    "sample {} passed after {} repair{}",
                    run.sample,
                    run.repairs,
                    plural(run.repairs as usize)
                ));
            }
        }
        let invalid: Vec<&CaseReport> = self
            .runs
            .iter()
            .copied()
            .filter(|run| run.invalid)
            .collect();
        let told = matches!(self.outcome, Outcome::Skipped | Outcome::Error);
        if !invalid.is_empty() && !told {
            notes.push(invalid_summary(&self.runs));
        }
        notes
    }
}

/// One `<failure>` for every failed sample: the first one's stage and detail on top, each one's
/// diagnostics inside.
fn write_failure(
    writer: &mut Writer<Vec<u8>>,
    first: &CaseReport,
    failed: &[&CaseReport],
    valid: usize,
) -> io::Result<()> {
    let stage = failing_stage(first);
    let mut message = super::failures::failure_detail(first);
    if valid > 1 {
        message = format!(
            "{} of {valid} valid samples failed; sample {}: {message}",
            failed.len(),
            first.sample
        );
    }
    let bodies: Vec<String> = failed.iter().map(|run| failure_body(run)).collect();
    writer
        .create_element("failure")
        .with_attributes([
            ("message", one_line(&message).as_str()),
            (
                "type",
                stage.map_or("no-answer", |stage| stage.stage.name()),
            ),
        ])
        .write_text_content(text(&bodies.join("\n\n")))?;
    Ok(())
}

fn outcome(runs: &[&CaseReport]) -> Outcome {
    if runs.iter().any(|run| !run.invalid && !run.passed) {
        Outcome::Failed
    } else if runs.iter().any(|run| run.provider_error.is_some()) {
        Outcome::Error
    } else if runs.iter().all(|run| run.invalid) {
        Outcome::Skipped
    } else {
        Outcome::Passed
    }
}

/// `2 of 5 samples invalid (the run, not the model, is to blame): sample 1 max_tokens, …`.
fn invalid_summary(runs: &[&CaseReport]) -> String {
    let invalid: Vec<String> = runs
        .iter()
        .filter(|run| run.invalid)
        .map(|run| {
            format!(
                "sample {} {}",
                run.sample,
                run.invalid_reason.map_or("invalid", |reason| reason.name())
            )
        })
        .collect();
    format!(
        "{} of {} sample{} invalid, left out of every rate (the run, not the model, is to blame): {}",
        invalid.len(),
        runs.len(),
        plural(runs.len()),
        invalid.join(", ")
    )
}

fn provider_error_line(run: &CaseReport) -> Option<String> {
    let error = run.provider_error.as_ref()?;
    Some(format!(
        "{}: {}",
        invalid_name(Some(run)),
        error.reason.trim()
    ))
}

fn invalid_name(run: Option<&CaseReport>) -> &'static str {
    run.and_then(|run| run.invalid_reason)
        .map_or("provider_error", |reason| reason.name())
}

/// The first stage the final attempt failed.
fn failing_stage(run: &CaseReport) -> Option<&StageReport> {
    run.attempts
        .last()?
        .stages
        .iter()
        .find(|stage| !stage.passed)
}

/// `sample 0 failed at test after 1 repair (score 0.467):` and that stage's diagnostics.
fn failure_body(run: &CaseReport) -> String {
    let stage = failing_stage(run);
    let mut body = format!(
        "sample {} failed at {} after {} repair{} (score {:.3})",
        run.sample,
        stage.map_or("its answer", |stage| stage.stage.name()),
        run.repairs,
        plural(run.repairs as usize),
        run.score
    );
    if let Some(stage) = stage {
        if let Some(codes) = stage.error_codes.as_ref().filter(|codes| !codes.is_empty()) {
            body.push_str(&format!(", errors {}", codes.join(" ")));
        }
        let diagnostics = stage.diagnostics.trim_end();
        if !diagnostics.is_empty() {
            body.push_str(":\n");
            body.push_str(&cut(diagnostics, MAX_DIAGNOSTIC_CHARS));
        }
    }
    body
}

fn seconds(value: f64) -> String {
    format!("{value:.3}")
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}\n… (cut; the JSON report has all of it)", &text[..end]),
        None => text.to_owned(),
    }
}

/// The first line, cut short: attribute values lose their line breaks when read back.
fn one_line(text: &str) -> String {
    let line = text
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("");
    let line = xml_safe(line.trim());
    match line.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line,
    }
}

fn text(content: &str) -> BytesText<'static> {
    BytesText::new(&xml_safe(content)).into_owned()
}

/// XML 1.0 allows no control character but tab, line feed and carriage return, escaped or not:
/// diagnostics with terminal colours, say, would make the whole file unreadable.
fn xml_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            '\0'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => '\u{fffd}',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::InvalidReason;

    fn run(case: &str, sample: u32, passed: bool, invalid: Option<InvalidReason>) -> CaseReport {
        let stages = if passed {
            serde_json::json!([
                {"stage": "compile", "passed": true, "duration_ms": 250.0, "diagnostics": ""},
                {"stage": "test", "passed": true, "duration_ms": 250.0, "tests_passed": 2,
                 "tests_total": 2, "diagnostics": ""}
            ])
        } else {
            serde_json::json!([
                {"stage": "compile", "passed": true, "duration_ms": 250.0, "diagnostics": ""},
                {"stage": "test", "passed": false, "duration_ms": 250.0, "tests_passed": 1,
                 "tests_total": 2, "diagnostics":
                 "---- tests::adds stdout ----\nassertion `left == right` failed <&>\n  left: 4\n right: 5\u{1b}[0m"}
            ])
        };
        serde_json::from_value(serde_json::json!({
            "suite": "basics", "case": case, "sample": sample, "passed": passed,
            "score": if passed { 1.0 } else { 0.6 }, "first_try_passed": passed,
            "repairs": if passed { 0 } else { 1 }, "invalid": invalid.is_some(),
            "invalid_reason": invalid,
            "provider_error": if invalid == Some(InvalidReason::ProviderTimeout) {
                serde_json::json!({"reason": "no answer within 60s", "timed_out": true,
                    "model_stopped": false, "retries": 2, "retry_wait_ms": 3000.0})
            } else {
                serde_json::Value::Null
            },
            "attempts": if invalid == Some(InvalidReason::ProviderTimeout) {
                serde_json::json!([])
            } else {
                serde_json::json!([{
                "attempt": 0, "passed": passed, "score": 1.0, "end": {"reason": "finished"},
                "invalid": invalid.is_some(), "flags": [], "metrics": {
                    "ttft_ms": null, "ttft_answer_ms": null, "generation_ms": 500.0,
                    "prompt_tokens": null, "completion_tokens": null,
                    "decode_tokens_per_second": null, "prefill_tokens_per_second": null,
                    "server_prompt_ms": null, "server_load_ms": null, "retries": 0,
                    "retry_wait_ms": 0.0, "sources": {"ttft": "none", "tokens": "none",
                    "decode": "none", "prefill": "none"}},
                "stages": stages, "thinking_chars": 0, "feedback": null,
                "code": "", "answer": ""}])
            }
        }))
        .unwrap()
    }

    fn report(cases: Vec<CaseReport>) -> Report {
        serde_json::from_value(serde_json::json!({
            "format_version": 2, "tool": {"name": "cargo-llm-bench", "version": "0.1.0"},
            "rustc": "rustc 1.89.0", "created": "2026-11-30T21:00:00Z", "sandbox": "bwrap",
            "complete": true, "provider": "local", "model": "qwen<2.5>", "suites": [],
            "samples": 2, "weights": {"format": 0.1, "compile": 0.3, "test": 0.5, "coverage": 0.1},
            "summary": serde_json::to_value(crate::report::Summary::default()).unwrap(),
            "cases": cases,
        }))
        .unwrap()
    }

    fn xml() -> String {
        render(&[report(vec![
            run("add", 0, true, None),
            run("add", 1, true, None),
            run("sub", 0, false, None),
            run("sub", 1, true, None),
            run("mul", 0, true, Some(InvalidReason::MaxTokens)),
            run("mul", 1, true, Some(InvalidReason::MaxTokens)),
            run("div", 0, true, Some(InvalidReason::ProviderTimeout)),
            run("div", 1, true, None),
        ])])
        .unwrap()
    }

    #[test]
    fn each_case_is_one_test_case_named_with_its_model_and_timed_over_its_samples() {
        let xml = xml();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"cargo llm-bench\" tests=\"4\" failures=\"1\" errors=\"1\""), "{xml}");
        assert!(xml.contains("<testsuite name=\"local:qwen&lt;2.5&gt;\" tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"1\""), "{xml}");
        assert!(xml.contains("<testcase name=\"add[local:qwen&lt;2.5&gt;]\" classname=\"basics\" time=\"2.000\"/>"), "{xml}");
        assert_eq!(xml.matches("<testcase ").count(), 4, "{xml}");
    }

    #[test]
    fn a_failure_names_the_failing_stage_and_carries_its_diagnostics() {
        let xml = xml();
        assert!(
            xml.contains("<failure message=\"1 of 2 valid samples failed; sample 0: test: 1/2 passed\" type=\"test\">sample 0 failed at test after 1 repair (score 0.600):\n---- tests::adds stdout ----\nassertion `left == right` failed &lt;&amp;&gt;"),
            "{xml}"
        );
        // The escape character of a terminal colour is not allowed in XML 1.0, even escaped.
        assert!(
            !xml.contains('\u{1b}') && xml.contains("right: 5\u{fffd}[0m"),
            "{xml}"
        );
    }

    #[test]
    fn a_provider_failure_is_an_error_and_a_case_with_no_valid_sample_is_skipped() {
        let xml = xml();
        assert!(xml.contains("<error message=\"provider_timeout: no answer within 60s\" type=\"provider_timeout\">sample 0: provider_timeout: no answer within 60s</error>"), "{xml}");
        assert!(xml.contains("<skipped>2 of 2 samples invalid, left out of every rate (the run, not the model, is to blame): sample 0 max_tokens, sample 1 max_tokens</skipped>"), "{xml}");
    }

    #[test]
    fn a_repair_that_saved_a_sample_is_told_in_system_out() {
        let mut saved = run("add", 0, true, None);
        saved.repairs = 2;
        let xml = render(&[report(vec![saved])]).unwrap();
        assert!(
            xml.contains("<system-out>sample 0 passed after 2 repairs</system-out>"),
            "{xml}"
        );
    }
}
