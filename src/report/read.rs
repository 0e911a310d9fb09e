//! Reports read back: a JSON file → `Report` with its format version checked, and a report's
//! cases → the domain run they were built from (the inverse of `build_report`'s mapping), so
//! `merge` can compute a summary with the very code a run uses.

use super::{
    AttemptReport, CaseReport, GenerationEndReport, RepairStopReport, Report, SourceReport,
    StageReport, FORMAT_VERSION,
};
use crate::pipeline::extract::Flag;
use crate::pipeline::{StageDetail, StageOutcome};
use crate::provider::{AttemptKey, GenerationEnd, GenerationMetrics, ModelSpec, Retries, Source};
use crate::runner::{Attempt, CaseRun, ModelRun, ProviderFailure, RepairStop};
use crate::suite::{Stage, Suite};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a report cannot be read back; every variant names what is wrong where.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read the report {}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a JSON report", path.display())]
    NotJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{} is a report of format version {}; this cargo-llm-bench reads version {FORMAT_VERSION}",
        path.display(),
        found.map_or_else(|| "(none)".to_owned(), |version| version.to_string())
    )]
    FormatVersion { path: PathBuf, found: Option<u64> },
    #[error("the report names suite `{suite}`, which is not among the suites given")]
    UnknownSuite { suite: String },
    #[error("the report names case `{suite}/{case}`, which suite `{suite}` does not have")]
    UnknownCase { suite: String, case: String },
    #[error("attempt {attempt} of `{suite}/{case}` has the unknown flag `{flag}`")]
    UnknownFlag {
        suite: String,
        case: String,
        attempt: u32,
        flag: String,
    },
    #[error("the {stage} stage of `{suite}/{case}` attempt {attempt} lacks its `{field}`")]
    MissingStageField {
        suite: String,
        case: String,
        attempt: u32,
        stage: Stage,
        field: &'static str,
    },
}

/// Reads a JSON report, refusing one of another format version before reading its fields.
pub fn read_report(path: &Path) -> Result<Report, ReadError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReadError::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    let not_json = |source| ReadError::NotJson {
        path: path.to_owned(),
        source,
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(not_json)?;
    let found = value
        .get("format_version")
        .and_then(serde_json::Value::as_u64);
    if found != Some(u64::from(FORMAT_VERSION)) {
        return Err(ReadError::FormatVersion {
            path: path.to_owned(),
            found,
        });
    }
    serde_json::from_value(value).map_err(not_json)
}

/// The run a report was built from, with its cases pointing into `suites`.
///
/// What a report rounds (times to a tenth of a millisecond, rates to hundredths) comes back
/// rounded, which `build_report` rounds to the same numbers again; what a report leaves out (the
/// thinking's text) comes back only as far as the report keeps it.
pub fn model_run(report: &Report, suites: &[Suite]) -> Result<ModelRun, ReadError> {
    let cases = report
        .cases
        .iter()
        .map(|case| case_run(case, suites))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ModelRun {
        model: ModelSpec {
            provider: report.provider.clone(),
            model: report.model.clone(),
        },
        cases,
        elapsed: Duration::from_millis(report.summary.total_ms),
        load_time: report.summary.load_time_ms.map(Duration::from_millis),
        stopped: report.summary.stopped.clone(),
    })
}

fn case_run(case: &CaseReport, suites: &[Suite]) -> Result<CaseRun, ReadError> {
    let suite_index = suites
        .iter()
        .position(|suite| suite.name == case.suite)
        .ok_or_else(|| ReadError::UnknownSuite {
            suite: case.suite.clone(),
        })?;
    let case_index = suites[suite_index]
        .cases
        .iter()
        .position(|known| known.id == case.case)
        .ok_or_else(|| ReadError::UnknownCase {
            suite: case.suite.clone(),
            case: case.case.clone(),
        })?;
    Ok(CaseRun {
        suite: suite_index,
        case: case_index,
        sample: case.sample,
        repair_stop: case.repair_stop.map(|stop| match stop {
            RepairStopReport::OutOfRepairs => RepairStop::OutOfRepairs,
            RepairStopReport::NotRepairable => RepairStop::NotRepairable,
            RepairStopReport::SameCode { attempt } => RepairStop::SameCode { attempt },
            RepairStopReport::SameError => RepairStop::SameError,
        }),
        attempts: case
            .attempts
            .iter()
            .map(|attempt| self::attempt(case, attempt))
            .collect::<Result<_, _>>()?,
        provider_error: case.provider_error.as_ref().map(|failure| ProviderFailure {
            reason: failure.reason.clone(),
            timed_out: failure.timed_out,
            model_stopped: failure.model_stopped,
            retries: Retries {
                count: failure.retries,
                waited: duration(failure.retry_wait_ms),
            },
        }),
    })
}

fn attempt(case: &CaseReport, attempt: &AttemptReport) -> Result<Attempt, ReadError> {
    let metrics = &attempt.metrics;
    let flags = attempt
        .flags
        .iter()
        .map(|flag| {
            serde_json::from_value::<Flag>(serde_json::Value::String(flag.clone())).map_err(|_| {
                ReadError::UnknownFlag {
                    suite: case.suite.clone(),
                    case: case.case.clone(),
                    attempt: attempt.attempt,
                    flag: flag.clone(),
                }
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Attempt {
        key: AttemptKey {
            suite: case.suite.clone(),
            case: case.case.clone(),
            sample: case.sample,
            attempt: attempt.attempt,
        },
        feedback: attempt.feedback.clone(),
        answer: attempt.answer.clone(),
        // The report keeps only the thinking's length (the text can dwarf the answer and is
        // never scored); a stand-in of that many characters keeps the length a report shows.
        thinking: "…".repeat(attempt.thinking_chars),
        code: attempt.code.clone(),
        flags,
        end: match &attempt.end {
            GenerationEndReport::Finished => GenerationEnd::Finished,
            GenerationEndReport::MaxTokens => GenerationEnd::MaxTokens,
            GenerationEndReport::PromptTruncated {
                sent_tokens,
                expected_tokens,
            } => GenerationEnd::PromptTruncated {
                sent_tokens: *sent_tokens,
                expected_tokens: *expected_tokens,
            },
            GenerationEndReport::ThinkingExhausted => GenerationEnd::ThinkingExhausted,
        },
        metrics: GenerationMetrics {
            ttft: metrics.ttft_ms.map(duration),
            ttft_answer: metrics.ttft_answer_ms.map(duration),
            generation_time: duration(metrics.generation_ms),
            prompt_tokens: metrics.prompt_tokens,
            completion_tokens: metrics.completion_tokens,
            tokens_source: source(metrics.sources.tokens),
            decode_tokens_per_second: metrics.decode_tokens_per_second,
            decode_source: source(metrics.sources.decode),
            prefill_tokens_per_second: metrics.prefill_tokens_per_second,
            server_prompt_time: metrics.server_prompt_ms.map(duration),
            load_time: metrics.server_load_ms.map(duration),
            retries: metrics.retries,
            retry_wait: duration(metrics.retry_wait_ms),
        },
        stages: attempt
            .stages
            .iter()
            .map(|stage| stage_outcome(case, attempt.attempt, stage))
            .collect::<Result<_, _>>()?,
        score: attempt.score,
        passed: attempt.passed,
    })
}

fn stage_outcome(
    case: &CaseReport,
    attempt: u32,
    stage: &StageReport,
) -> Result<StageOutcome, ReadError> {
    let detail = stage_detail(stage).map_err(|field| ReadError::MissingStageField {
        suite: case.suite.clone(),
        case: case.case.clone(),
        attempt,
        stage: stage.stage,
        field,
    })?;
    Ok(StageOutcome {
        stage: stage.stage,
        passed: stage.passed,
        elapsed: duration(stage.duration_ms),
        detail,
        diagnostics: stage.diagnostics.clone(),
    })
}

/// The stage's own numbers, or the name of the first one missing.
fn stage_detail(stage: &StageReport) -> Result<StageDetail, &'static str> {
    fn field<T: Clone>(value: &Option<T>, name: &'static str) -> Result<T, &'static str> {
        value.clone().ok_or(name)
    }
    Ok(match stage.stage {
        Stage::Format => StageDetail::Format {
            already_formatted: field(&stage.already_formatted, "already_formatted")?,
        },
        Stage::Compile => StageDetail::Compile {
            error_codes: field(&stage.error_codes, "error_codes")?,
            warnings: field(&stage.warnings, "warnings")?,
        },
        Stage::Test => StageDetail::Test {
            passed: field(&stage.tests_passed, "tests_passed")?,
            total: field(&stage.tests_total, "tests_total")?,
        },
        Stage::Coverage => StageDetail::Coverage {
            covered: field(&stage.covered_lines, "covered_lines")?,
            total: field(&stage.coverable_lines, "coverable_lines")?,
            ratio: field(&stage.coverage, "coverage")?,
            required: field(&stage.coverage_required, "coverage_required")?,
        },
    })
}

/// Milliseconds as a report writes them back to a duration; a negative or broken number (a
/// hand-edited report) is no time at all rather than a panic.
fn duration(millis: f64) -> Duration {
    Duration::try_from_secs_f64(millis / 1e3).unwrap_or_default()
}

fn source(source: SourceReport) -> Source {
    match source {
        SourceReport::Server => Source::Server,
        SourceReport::Client => Source::Client,
        SourceReport::None => Source::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{build, model_run as scored_run, suite};

    fn without_created(report: &Report) -> serde_json::Value {
        let mut json = serde_json::to_value(report).unwrap();
        json.as_object_mut().unwrap().remove("created");
        json
    }

    #[test]
    fn a_report_read_back_into_a_run_builds_the_same_report() {
        let mut run = scored_run();
        run.cases[1].attempts[0].feedback = Some("Your code failed the test stage".to_owned());
        let report = build(&run);
        let read = model_run(&report, &[suite()]).unwrap();
        assert_eq!(without_created(&build(&read)), without_created(&report));
    }

    #[test]
    fn a_case_the_suites_do_not_have_is_refused() {
        let mut report = build(&scored_run());
        report.cases[2].case = "pow".to_owned();
        let error = model_run(&report, &[suite()]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the report names case `arith/pow`, which suite `arith` does not have"
        );
    }

    #[test]
    fn a_report_of_another_format_version_is_refused_before_its_fields_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.json");
        std::fs::write(&path, r#"{"format_version": 1, "model": 7}"#).unwrap();
        let error = read_report(&path).unwrap_err();
        assert!(
            matches!(error, ReadError::FormatVersion { found: Some(1), .. }),
            "{error}"
        );
        let written = build(&scored_run());
        std::fs::write(&path, serde_json::to_string(&written).unwrap()).unwrap();
        assert_eq!(
            without_created(&read_report(&path).unwrap()),
            without_created(&written)
        );
    }
}
