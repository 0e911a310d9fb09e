//! The short list printed after the table: which cases each model failed, at which stage, and
//! which runs were invalid and why, so nobody has to dig in the JSON to learn what went wrong.

use super::{CaseReport, InvalidReason, Report, StageReport, DEFAULT_TABLE_WIDTH};
use crate::suite::Stage;

/// At most this many lines per model unless verbose; the rest are counted.
const MAX_LINES_PER_MODEL: usize = 5;

/// One line per failed case (samples that failed the same way are counted, not repeated) and
/// per invalid run, under a line per model that says how many cases were flaky (passed some
/// samples, failed others); nothing for a model that passed every valid run. Lines are cut to
/// `width` (`None`: 80). At most five lines per model, or every one when `verbose`. Empty when
/// every model passed everything.
pub fn render_failures(reports: &[Report], width: Option<u16>, verbose: bool) -> String {
    let width = usize::from(width.unwrap_or(DEFAULT_TABLE_WIDTH));
    let mut lines = Vec::new();
    for report in reports {
        let summary = &report.summary;
        let failed = summary.valid_runs.saturating_sub(summary.passed);
        if failed == 0 && summary.invalid.total == 0 && summary.stopped.is_none() {
            continue;
        }
        let mut heading = format!(
            "{} failed {failed} of {} valid runs",
            report.label(),
            summary.valid_runs
        );
        if summary.flaky > 0 {
            heading.push_str(&format!(
                "; {} flaky case{}",
                summary.flaky,
                plural(summary.flaky)
            ));
        }
        if summary.invalid.total > 0 {
            heading.push_str(&format!("; {} invalid", summary.invalid.total));
        }
        let entries = entries(report);
        if !entries.is_empty() || summary.stopped.is_some() {
            heading.push(':');
        }
        lines.push(heading);
        // Why the model stopped comes first and is never cut for the cap: it explains the rest.
        if let Some(reason) = &summary.stopped {
            let unfinished = summary.invalid.model_stopped;
            lines.push(format!(
                "  stopped with {unfinished} run{} unfinished: {}",
                plural(unfinished),
                first_line(reason)
            ));
        }
        let shown = if !verbose && entries.len() > MAX_LINES_PER_MODEL {
            MAX_LINES_PER_MODEL - 1
        } else {
            entries.len()
        };
        for entry in &entries[..shown] {
            lines.push(format!("  {entry}"));
        }
        if entries.len() > shown {
            lines.push(format!(
                "  … and {} more in the JSON report",
                entries.len() - shown
            ));
        }
    }
    lines
        .iter()
        .map(|line| cut(line, width))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `fizzbuzz ×3 (test: 3/5 passed)`: failures first, then invalid runs, in case order.
fn entries(report: &Report) -> Vec<String> {
    let several_suites = report.suites.len() > 1;
    let name = |case: &CaseReport| {
        if several_suites {
            format!("{}/{}", case.suite, case.case)
        } else {
            case.case.clone()
        }
    };
    let mut failures: Vec<(String, String, usize)> = Vec::new();
    let mut invalid: Vec<(String, String, usize)> = Vec::new();
    let mut stopped = 0;
    for case in &report.cases {
        let (list, what) = match case.invalid_reason {
            Some(InvalidReason::ModelStopped) => {
                stopped += 1;
                continue;
            }
            Some(reason) => (&mut invalid, invalid_detail(case, reason)),
            None if case.passed => continue,
            None => (&mut failures, failure_detail(case)),
        };
        let name = name(case);
        match list
            .iter_mut()
            .find(|(listed, detail, _)| *listed == name && *detail == what)
        {
            Some((_, _, times)) => *times += 1,
            None => list.push((name, what, 1)),
        }
    }
    let mut entries: Vec<String> = failures
        .into_iter()
        .chain(invalid)
        .map(|(name, detail, times)| {
            if times > 1 {
                format!("{name} ×{times} ({detail})")
            } else {
                format!("{name} ({detail})")
            }
        })
        .collect();
    if stopped > 0 && report.summary.stopped.is_none() {
        entries.push(format!(
            "{stopped} run{} unfinished: the model was stopped",
            plural(stopped)
        ));
    }
    entries
}

/// The failing stage of the last attempt and what it said, in a few words.
pub(super) fn failure_detail(case: &CaseReport) -> String {
    let Some(attempt) = case.attempts.last() else {
        return "no answer".to_owned();
    };
    let Some(stage) = attempt.stages.iter().find(|stage| !stage.passed) else {
        return "no stage ran".to_owned();
    };
    let said = match stage.stage {
        Stage::Format => ["no-code-block", "unterminated", "placeholder"]
            .into_iter()
            .find(|flag| attempt.flags.iter().any(|f| f == flag))
            .map(|flag| flag.replace('-', " "))
            .unwrap_or_else(|| first_line(&stage.diagnostics).to_owned()),
        Stage::Compile => match stage.error_codes.as_deref() {
            Some(codes) if !codes.is_empty() => {
                let mut codes = codes.to_vec();
                codes.dedup();
                codes.join(", ")
            }
            _ => first_line(&stage.diagnostics).to_owned(),
        },
        Stage::Test => test_detail(stage),
        Stage::Coverage => match (stage.coverage, stage.coverage_required) {
            (Some(covered), Some(required)) => {
                format!("{:.0}% < {:.0}%", covered * 100.0, required * 100.0)
            }
            _ => first_line(&stage.diagnostics).to_owned(),
        },
    };
    if said.is_empty() {
        stage.stage.name().to_owned()
    } else {
        format!("{}: {said}", stage.stage.name())
    }
}

fn test_detail(stage: &StageReport) -> String {
    let mut said = match (stage.tests_passed, stage.tests_total) {
        (Some(passed), Some(total)) => format!("{passed}/{total} passed"),
        _ => String::new(),
    };
    if stage.diagnostics.contains("timed out") {
        if !said.is_empty() {
            said.push_str(", ");
        }
        said.push_str("timed out");
    }
    said
}

fn invalid_detail(case: &CaseReport, reason: InvalidReason) -> String {
    match &case.provider_error {
        Some(error) => format!("invalid, {}: {}", reason.name(), first_line(&error.reason)),
        None => format!("invalid: {}", reason.name()),
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

fn first_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("")
}

pub(super) fn cut(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        return line.to_owned();
    }
    let mut short: String = line.chars().take(width.saturating_sub(1)).collect();
    short.push('…');
    short
}
