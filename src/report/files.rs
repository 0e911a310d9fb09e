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

/// One row per case and sample, describing its final attempt.
pub const CSV_COLUMNS: &[&str] = &[
    "suite",
    "case",
    "sample",
    "provider",
    "model",
    "passed",
    "score",
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
    "ttft_ms",
    "tokens_per_second",
    "prompt_tokens",
    "completion_tokens",
    "generation_ms",
    "provider_error",
];

fn to_csv(report: &Report) -> anyhow::Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(CSV_COLUMNS)?;
    for case in &report.cases {
        let last = case.attempts.last();
        let stage = |name: crate::suite::Stage| match last
            .and_then(|a| a.stages.iter().find(|s| s.stage == name))
        {
            Some(stage) if stage.passed => "pass",
            Some(_) => "fail",
            None => "skip",
        };
        let find = |name| last.and_then(|a| a.stages.iter().find(|s| s.stage == name));
        use crate::suite::Stage::{Compile, Coverage, Format, Test};
        let opt = |value: Option<String>| value.unwrap_or_default();
        let tokens: (Option<u64>, Option<u64>) = last.map_or((None, None), |a| {
            (a.metrics.prompt_tokens, a.metrics.completion_tokens)
        });
        writer.write_record([
            case.suite.clone(),
            case.case.clone(),
            case.sample.to_string(),
            report.provider.clone(),
            report.model.clone(),
            case.passed.to_string(),
            format!("{:.4}", case.score),
            stage(Format).to_owned(),
            stage(Compile).to_owned(),
            stage(Test).to_owned(),
            stage(Coverage).to_owned(),
            opt(find(Format)
                .and_then(|s| s.already_formatted)
                .map(|v| v.to_string())),
            opt(find(Compile)
                .and_then(|s| s.error_codes.clone())
                .map(|codes| codes.join(" "))),
            opt(find(Compile)
                .and_then(|s| s.warnings)
                .map(|v| v.to_string())),
            opt(find(Test)
                .and_then(|s| s.tests_passed)
                .map(|v| v.to_string())),
            opt(find(Test)
                .and_then(|s| s.tests_total)
                .map(|v| v.to_string())),
            opt(find(Coverage)
                .and_then(|s| s.coverage)
                .map(|v| format!("{v:.4}"))),
            case.repairs.to_string(),
            opt(last
                .and_then(|a| a.metrics.ttft_ms)
                .map(|v| format!("{v:.1}"))),
            opt(last
                .and_then(|a| a.metrics.tokens_per_second)
                .map(|v| format!("{v:.2}"))),
            opt(tokens.0.map(|v| v.to_string())),
            opt(tokens.1.map(|v| v.to_string())),
            opt(last.map(|a| format!("{:.1}", a.metrics.generation_ms))),
            case.provider_error.clone().unwrap_or_default(),
        ])?;
    }
    Ok(String::from_utf8(writer.into_inner()?)?)
}
