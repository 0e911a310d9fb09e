//! Report files: JSON and CSV side by side, written atomically, never over an earlier report.

use super::{model_label, Report};
use crate::provider::ModelSpec;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct ReportPaths {
    pub json: PathBuf,
    pub csv: PathBuf,
}

/// Writes `report_{provider}_{model}_{YYYYMMDD}.json` and `.csv` under `dir`. When a report of
/// the same name exists (a second run the same day), the new one gets `-2`, `-3`, ... so no
/// earlier report is lost.
pub fn write_report(
    dir: &Path,
    model: &ModelSpec,
    date: &str,
    report: &Report,
) -> anyhow::Result<ReportPaths> {
    std::fs::create_dir_all(dir)?;
    let (provider, model) = model_label(model);
    let stem = format!("report_{provider}_{model}_{date}");
    let json = serde_json::to_string_pretty(report)? + "\n";
    let csv = to_csv(report)?;
    for attempt in 1.. {
        let name = if attempt == 1 {
            stem.clone()
        } else {
            format!("{stem}-{attempt}")
        };
        let paths = ReportPaths {
            json: dir.join(format!("{name}.json")),
            csv: dir.join(format!("{name}.csv")),
        };
        if paths.json.exists() || paths.csv.exists() {
            continue;
        }
        // The JSON is claimed first without clobbering; a concurrent run that claimed the
        // same name makes this one move on to the next.
        if persist_new(&paths.json, json.as_bytes())? {
            if !persist_new(&paths.csv, csv.as_bytes())? {
                anyhow::bail!(
                    "{} appeared while this run wrote its report",
                    paths.csv.display()
                );
            }
            return Ok(paths);
        }
    }
    unreachable!("the loop only ends by returning")
}

/// Writes a file atomically (temp file + rename); false when `path` already exists.
fn persist_new(path: &Path, contents: &[u8]) -> anyhow::Result<bool> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(contents)?;
    file.as_file().sync_all()?;
    match file.persist_noclobber(path) {
        Ok(_) => Ok(true),
        Err(error) if error.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(error.error.into()),
    }
}

/// One row per case and sample. The stage columns and the metrics describe its final attempt;
/// `retries` and `retry_wait_ms` count every request of the run, failed ones included. An
/// `invalid` run is left out of every rate of the summary, for `invalid_reason`.
pub const CSV_COLUMNS: &[&str] = &[
    "suite",
    "case",
    "sample",
    "provider",
    "model",
    "passed",
    "score",
    "invalid",
    "invalid_reason",
    "format",
    "compile",
    "test",
    "coverage",
    "already_formatted",
    "error_codes",
    "warnings",
    "tests_passed",
    "tests_total",
    "coverage_ratio",
    "repairs",
    "end_reason",
    "ttft_ms",
    "ttft_answer_ms",
    "tokens_per_second",
    "timing_source",
    "prefill_tokens_per_second",
    "prompt_tokens",
    "completion_tokens",
    "tokens_source",
    "generation_ms",
    "retries",
    "retry_wait_ms",
    "provider_error",
];

pub(super) fn to_csv(report: &Report) -> anyhow::Result<String> {
    use crate::suite::Stage::{self, Compile, Coverage, Format, Test};
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(CSV_COLUMNS)?;
    for case in &report.cases {
        let last = case.attempts.last();
        let metrics = last.map(|attempt| &attempt.metrics);
        let find = |name: Stage| last.and_then(|a| a.stages.iter().find(|s| s.stage == name));
        let stage = |name: Stage| match find(name) {
            Some(stage) if stage.passed => "pass",
            Some(_) => "fail",
            None => "skip",
        };
        let text = |value: Option<String>| value.unwrap_or_default();
        let failed_request = case.provider_error.as_ref();
        let retries = case.attempts.iter().map(|a| a.metrics.retries).sum::<u32>()
            + failed_request.map_or(0, |error| error.retries);
        let retry_wait_ms = case
            .attempts
            .iter()
            .map(|a| a.metrics.retry_wait_ms)
            .sum::<f64>()
            + failed_request.map_or(0.0, |error| error.retry_wait_ms);
        writer.write_record([
            case.suite.clone(),
            case.case.clone(),
            case.sample.to_string(),
            report.provider.clone(),
            report.model.clone(),
            case.passed.to_string(),
            format!("{:.4}", case.score),
            case.invalid.to_string(),
            text(case.invalid_reason.map(|reason| reason.name().to_owned())),
            stage(Format).to_owned(),
            stage(Compile).to_owned(),
            stage(Test).to_owned(),
            stage(Coverage).to_owned(),
            text(
                find(Format)
                    .and_then(|s| s.already_formatted)
                    .map(|v| v.to_string()),
            ),
            text(
                find(Compile)
                    .and_then(|s| s.error_codes.clone())
                    .map(|codes| codes.join(" ")),
            ),
            text(
                find(Compile)
                    .and_then(|s| s.warnings)
                    .map(|v| v.to_string()),
            ),
            text(
                find(Test)
                    .and_then(|s| s.tests_passed)
                    .map(|v| v.to_string()),
            ),
            text(
                find(Test)
                    .and_then(|s| s.tests_total)
                    .map(|v| v.to_string()),
            ),
            text(
                find(Coverage)
                    .and_then(|s| s.coverage)
                    .map(|v| format!("{v:.4}")),
            ),
            case.repairs.to_string(),
            text(last.map(|a| a.end.name().to_owned())),
            text(metrics.and_then(|m| m.ttft_ms).map(|v| format!("{v:.1}"))),
            text(
                metrics
                    .and_then(|m| m.ttft_answer_ms)
                    .map(|v| format!("{v:.1}")),
            ),
            text(
                metrics
                    .and_then(|m| m.decode_tokens_per_second)
                    .map(|v| format!("{v:.2}")),
            ),
            text(metrics.map(|m| m.sources.decode.name().to_owned())),
            text(
                metrics
                    .and_then(|m| m.prefill_tokens_per_second)
                    .map(|v| format!("{v:.2}")),
            ),
            text(metrics.and_then(|m| m.prompt_tokens).map(|v| v.to_string())),
            text(
                metrics
                    .and_then(|m| m.completion_tokens)
                    .map(|v| v.to_string()),
            ),
            text(metrics.map(|m| m.sources.tokens.name().to_owned())),
            text(metrics.map(|m| format!("{:.1}", m.generation_ms))),
            retries.to_string(),
            format!("{retry_wait_ms:.1}"),
            text(failed_request.map(|error| error.reason.clone())),
        ])?;
    }
    Ok(String::from_utf8(writer.into_inner()?)?)
}
