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

/// Why reports cannot be written; every variant names the path.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("the output folder {} is a file", path.display())]
    NotAFolder { path: PathBuf },
    #[error("cannot create the output folder {}", path.display())]
    CreateFolder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write into the output folder {}", path.display())]
    Unwritable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the report {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} appeared while this run wrote its report", path.display())]
    Raced { path: PathBuf },
}

/// Makes sure reports can be written under `dir` (creating it), before any work is done: a run
/// that would fail only when it writes its reports loses everything it scored.
pub fn check_output_dir(dir: &Path) -> Result<(), OutputError> {
    if dir.exists() && !dir.is_dir() {
        return Err(OutputError::NotAFolder {
            path: dir.to_owned(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| OutputError::CreateFolder {
        path: dir.to_owned(),
        source,
    })?;
    // Permissions alone do not tell (root ignores them, read-only mounts do not show in them):
    // only a write does.
    new_temp_file(dir)
        .map(drop)
        .map_err(|source| OutputError::Unwritable {
            path: dir.to_owned(),
            source,
        })
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
    check_output_dir(dir)?;
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
            let csv_written = persist_new(&paths.csv, csv.as_bytes());
            if !matches!(csv_written, Ok(true)) {
                // Half a report is worse than none: a reader would take the JSON for all of it.
                let _ = std::fs::remove_file(&paths.json);
            }
            return match csv_written {
                Ok(true) => Ok(paths),
                Ok(false) => Err(OutputError::Raced { path: paths.csv }.into()),
                Err(error) => Err(error.into()),
            };
        }
    }
    unreachable!("the loop only ends by returning")
}

/// Writes `{stem}.{extension}` under `dir`, or `{stem}-2.{extension}`, ... when taken: never
/// over an earlier file. Returns the path written.
pub fn write_new(
    dir: &Path,
    stem: &str,
    extension: &str,
    contents: &[u8],
) -> Result<PathBuf, OutputError> {
    check_output_dir(dir)?;
    for attempt in 1.. {
        let name = if attempt == 1 {
            format!("{stem}.{extension}")
        } else {
            format!("{stem}-{attempt}.{extension}")
        };
        let path = dir.join(name);
        if !path.exists() && persist_new(&path, contents)? {
            return Ok(path);
        }
    }
    unreachable!("the loop only ends by returning")
}

/// A temporary file in `dir` created with mode 0666 less the umask, like any file the user's
/// tools write (tempfile's own default, 0600, would hide reports from the rest of a team).
fn new_temp_file(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix(".report-")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
}

/// Writes a file atomically (temp file + rename); false when `path` already exists. On any
/// error (a full disk, say) the temporary file is removed and nothing is left at `path`.
fn persist_new(path: &Path, contents: &[u8]) -> Result<bool, OutputError> {
    let write_error = |source| OutputError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = new_temp_file(dir).map_err(write_error)?;
    file.write_all(contents).map_err(write_error)?;
    file.as_file().sync_all().map_err(write_error)?;
    match file.persist_noclobber(path) {
        Ok(_) => Ok(true),
        Err(error) if error.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(write_error(error.error)),
    }
}

/// Writes `path` atomically (temp file + rename), replacing any file there: a reader sees the
/// old contents or the new, never half of either. The folder is created when missing.
pub fn write_replacing(path: &Path, contents: &[u8]) -> Result<(), OutputError> {
    let write_error = |source| OutputError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|source| OutputError::CreateFolder {
        path: dir.to_owned(),
        source,
    })?;
    let mut file = new_temp_file(dir).map_err(write_error)?;
    file.write_all(contents).map_err(write_error)?;
    file.as_file().sync_all().map_err(write_error)?;
    file.persist(path)
        .map(drop)
        .map_err(|error| write_error(error.error))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_folder_that_is_a_file_is_named_before_any_work() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("taken");
        std::fs::write(&file, "").unwrap();
        let error = check_output_dir(&file).unwrap_err();
        assert!(matches!(error, OutputError::NotAFolder { .. }));
        assert!(error.to_string().contains("taken"), "{error}");
        let below_a_file = check_output_dir(&file.join("reports")).unwrap_err();
        assert!(below_a_file.to_string().contains("taken/reports"));
    }

    #[test]
    fn a_folder_that_takes_no_new_file_is_unwritable_even_for_root() {
        let error = check_output_dir(Path::new("/proc/self")).unwrap_err();
        assert!(matches!(error, OutputError::Unwritable { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            "cannot write into the output folder /proc/self"
        );
    }

    #[test]
    fn checking_the_output_folder_creates_it_and_leaves_nothing_in_it() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("a/b");
        check_output_dir(&output).unwrap();
        assert_eq!(std::fs::read_dir(&output).unwrap().count(), 0);
    }

    #[test]
    fn a_report_that_cannot_be_written_names_its_path_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone/report.json");
        let error = persist_new(&path, b"{}").unwrap_err();
        assert!(error.to_string().contains("gone/report.json"), "{error}");
        assert!(!dir.path().join("gone").exists());
    }
}
