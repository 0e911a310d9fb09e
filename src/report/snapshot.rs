//! Snapshots in insta's file format: one `.snap` per suite and model holding only what is stable
//! from run to run, a `.snap.new` beside it when a run differs, and accepting those.
//!
//! The files are insta's own format, byte for byte as insta writes them, so `cargo insta review`
//! and `cargo insta accept` work on them in the user's project: a YAML metadata block between
//! `---` lines (`source`, `description`, `info`), then the contents. Text snapshots carry no
//! `snapshot_kind` key: insta writes it only for binary snapshots since 1.42.
//!
//! insta does not expose its writer (a snapshot with metadata of our choosing cannot be built
//! through its public API), so the metadata is written here, by insta's quoting rules; a unit
//! test reads each file back with insta itself and saves it again, as `cargo insta accept` does,
//! and checks that not a byte changes.

use super::files::{write_replacing, OutputError};
use super::{file_safe, CaseReport, Report, StageReport};
use crate::suite::Stage;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The folder, at the workspace root, that holds the snapshots.
pub const SNAPSHOT_DIR: &str = "snapshots";

/// Why a snapshot cannot be read, written or accepted; every variant names the path.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read the snapshot {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not an insta snapshot: its metadata block never ends with `---`", path.display())]
    Malformed { path: PathBuf },
    #[error("cannot list the snapshot folder {}", path.display())]
    List {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot remove the stale pending snapshot {}", path.display())]
    RemovePending {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot accept {}", path.display())]
    Accept {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] OutputError),
}

/// One suite's results for one model, as its snapshot file holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The file name without `.snap`: `{suite}__{model}`, made file-safe.
    pub name: String,
    /// The suite's name.
    pub suite: String,
    /// The suite file, relative to the workspace root, with `/` between folders.
    pub source: String,
    pub description: String,
    /// Model, toolchain and suite hash, in that order.
    pub info: Vec<(&'static str, String)>,
    /// One line per case and sample; no timings, no answers.
    pub contents: String,
}

/// What comparing a run with its snapshot found.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// There was no snapshot: the run's became it.
    Created,
    /// The snapshot holds the same results; nothing was written.
    Unchanged,
    /// The results differ: they were written to `pending` (`.snap.new`) beside the snapshot.
    Changed { pending: PathBuf, diff: String },
}

/// A snapshot file and what comparing the run with it found.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub path: PathBuf,
    pub verdict: Verdict,
}

/// One snapshot per suite of the report. Suite files are named relative to `workspace_root`;
/// relative paths in the report are taken from `current_dir`, as the run was given them.
pub fn snapshots(report: &Report, workspace_root: &Path, current_dir: &Path) -> Vec<Snapshot> {
    let label = report.label();
    report
        .suites
        .iter()
        .map(|suite| {
            let cases: Vec<&CaseReport> = report
                .cases
                .iter()
                .filter(|case| case.suite == suite.name)
                .collect();
            Snapshot {
                name: format!("{}__{}", file_safe(&suite.name), file_safe(&label)),
                suite: suite.name.clone(),
                source: source_path(Path::new(&suite.path), workspace_root, current_dir),
                description: format!("cargo llm-bench results of {label} on suite {}", suite.name),
                info: vec![
                    ("model", label.clone()),
                    ("toolchain", report.rustc.clone()),
                    ("suite_hash", suite.hash.clone()),
                ],
                contents: contents(&cases),
            }
        })
        .collect()
}

/// Compares `snapshot` with its file under `dir`: writes it when there is none, writes a
/// `.snap.new` beside it when it differs (removing a stale one when it no longer does).
///
/// Only the contents are compared, as insta does: a new toolchain or suite hash with the same
/// results is no change.
pub fn check(dir: &Path, snapshot: &Snapshot) -> Result<Checked, SnapshotError> {
    let path = dir.join(format!("{}.snap", snapshot.name));
    let pending = pending_path(&path);
    let verdict = if !path.exists() {
        write_replacing(&path, snapshot.to_file().as_bytes())?;
        remove_stale(&pending)?;
        Verdict::Created
    } else {
        let old = read_contents(&path)?;
        if normalize(&old) == normalize(&snapshot.contents) {
            remove_stale(&pending)?;
            Verdict::Unchanged
        } else {
            write_replacing(&pending, snapshot.to_file().as_bytes())?;
            let (old, new) = (normalize(&old) + "\n", normalize(&snapshot.contents) + "\n");
            let diff = similar::TextDiff::from_lines(&old, &new)
                .unified_diff()
                .context_radius(2)
                .header("old snapshot", "new results")
                .to_string();
            Verdict::Changed { pending, diff }
        }
    };
    Ok(Checked { path, verdict })
}

/// Moves every `.snap.new` under `dir` over its `.snap`, as `cargo insta accept` does, and
/// returns the snapshots accepted, in name order. A missing folder holds nothing to accept.
pub fn accept_pending(dir: &Path) -> Result<Vec<PathBuf>, SnapshotError> {
    let list_error = |source| SnapshotError::List {
        path: dir.to_owned(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(list_error(error)),
    };
    let mut pending: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let path = entry.map_err(list_error)?.path();
        let is_pending = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.ends_with(".snap.new"));
        if is_pending && path.is_file() {
            pending.push(path);
        }
    }
    pending.sort();
    pending
        .into_iter()
        .map(|new| {
            let accepted = new.with_extension("");
            std::fs::rename(&new, &accepted)
                .map(|()| accepted)
                .map_err(|source| SnapshotError::Accept { path: new, source })
        })
        .collect()
}

impl Snapshot {
    /// The file as insta writes it: the metadata as YAML between `---` lines, then the
    /// contents with trailing whitespace trimmed and one newline.
    pub fn to_file(&self) -> String {
        let mut file = String::from("---\n");
        let _ = writeln!(file, "source: {}", yaml_scalar(&self.source));
        let _ = writeln!(file, "description: {}", yaml_scalar(&self.description));
        file.push_str("info:");
        for (key, value) in &self.info {
            let _ = write!(file, "\n  {}: {}", yaml_scalar(key), yaml_scalar(value));
        }
        file.push_str("\n---\n");
        file.push_str(&normalize(&self.contents));
        file.push('\n');
        file
    }
}

/// `x.snap` → `x.snap.new`.
fn pending_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

fn remove_stale(pending: &Path) -> Result<(), SnapshotError> {
    match std::fs::remove_file(pending) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(SnapshotError::RemovePending {
            path: pending.to_owned(),
            source,
        }),
    }
}

/// The contents of a snapshot file, read as insta reads them: after the metadata block (or,
/// in insta's legacy format, after the header lines up to the first empty one).
fn read_contents(path: &Path) -> Result<String, SnapshotError> {
    let text = std::fs::read_to_string(path).map_err(|source| SnapshotError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut lines = text.lines();
    let opened_with_yaml = lines.next().is_some_and(|line| line.trim_end() == "---");
    if opened_with_yaml {
        if !lines.any(|line| line.trim_end() == "---") {
            return Err(SnapshotError::Malformed {
                path: path.to_owned(),
            });
        }
    } else {
        // insta's legacy format: `key: value` lines up to the first empty one (or the end).
        let _header_ended = lines.any(|line| line.trim_end().is_empty());
    }
    Ok(lines.collect::<Vec<_>>().join("\n"))
}

/// insta's comparison: trailing whitespace dropped, Windows line ends read as Unix ones.
fn normalize(contents: &str) -> String {
    contents.trim_end().replace("\r\n", "\n")
}

/// The suite file relative to the workspace root when it lies inside it, else as given.
fn source_path(path: &Path, workspace_root: &Path, current_dir: &Path) -> String {
    let absolute = current_dir.join(path);
    let relative = match (absolute.canonicalize(), workspace_root.canonicalize()) {
        (Ok(file), Ok(root)) => file.strip_prefix(root).map(Path::to_owned).ok(),
        _ => None,
    }
    .or_else(|| {
        absolute
            .strip_prefix(workspace_root)
            .map(Path::to_owned)
            .ok()
    });
    // Unix paths already separate folders with `/`, as insta's `source` does.
    relative.unwrap_or(absolute).to_string_lossy().into_owned()
}

/// A header line, then one line per case and sample in report order:
/// `add: passed; format ok, compile ok, test 2/2; repairs 0; score 1.000`.
fn contents(cases: &[&CaseReport]) -> String {
    let valid: Vec<&&CaseReport> = cases.iter().filter(|case| !case.invalid).collect();
    let passed = valid.iter().filter(|case| case.passed).count();
    let invalid = cases.len() - valid.len();
    let mut text = format!(
        "{passed} of {} valid runs passed; {invalid} invalid\n",
        valid.len()
    );
    let several_samples = cases.iter().any(|case| case.sample > 0);
    for case in cases {
        text.push('\n');
        text.push_str(&case.case);
        if several_samples {
            let _ = write!(text, " sample {}", case.sample);
        }
        text.push_str(": ");
        text.push_str(&case_line(case));
    }
    text
}

fn case_line(case: &CaseReport) -> String {
    if let Some(reason) = case.invalid_reason {
        return format!("invalid ({})", reason.name());
    }
    let Some(last) = case.attempts.last() else {
        return "no answer".to_owned();
    };
    let verdict = match last.stages.iter().find(|stage| !stage.passed) {
        None if case.passed => "passed".to_owned(),
        None => "failed".to_owned(),
        Some(stage) => format!("failed at {}", stage.stage),
    };
    let stages: Vec<String> = last.stages.iter().map(stage_reached).collect();
    format!(
        "{verdict}; {}; repairs {}; score {:.3}",
        if stages.is_empty() {
            "no stage ran".to_owned()
        } else {
            stages.join(", ")
        },
        case.repairs,
        case.score
    )
}

/// `format ok`, `compile failed`, `test 2/3`.
fn stage_reached(stage: &StageReport) -> String {
    match (stage.stage, stage.tests_passed, stage.tests_total) {
        (Stage::Test, Some(passed), Some(total)) => format!("test {passed}/{total}"),
        _ => format!(
            "{} {}",
            stage.stage,
            if stage.passed { "ok" } else { "failed" }
        ),
    }
}

/// A YAML scalar as insta's emitter writes it: plain when YAML reads it back as the same
/// string, else double-quoted with JSON-style escapes. The rules follow insta's emitter to the
/// byte, quirks included (a bell or an escape character alone does not cause quoting).
fn yaml_scalar(text: &str) -> String {
    if !needs_quotes(text) {
        return text.to_owned();
    }
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\u{8}' => quoted.push_str("\\b"),
            '\t' => quoted.push_str("\\t"),
            '\n' => quoted.push_str("\\n"),
            '\u{c}' => quoted.push_str("\\f"),
            '\r' => quoted.push_str("\\r"),
            '\0'..='\u{1f}' | '\u{7f}' => {
                let _ = write!(quoted, "\\u{:04x}", u32::from(c));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// Words YAML 1.1 reads as booleans or null.
const RESERVED_WORDS: &[&str] = &[
    "yes", "Yes", "YES", "no", "No", "NO", "True", "TRUE", "true", "False", "FALSE", "false", "on",
    "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~",
];

fn needs_quotes(text: &str) -> bool {
    text.is_empty()
        || text.starts_with(' ')
        || text.ends_with(' ')
        || text.starts_with(['&', '*', '?', '|', '-', '<', '>', '=', '!', '%', '@'])
        || text.contains(|c: char| {
            matches!(
                c,
                ':' | '{'
                    | '}'
                    | '['
                    | ']'
                    | ','
                    | '#'
                    | '`'
                    | '"'
                    | '\''
                    | '\\'
                    | '\0'..='\u{6}'
                    | '\t'
                    | '\n'
                    | '\r'
                    | '\u{e}'..='\u{1a}'
                    | '\u{1c}'..='\u{1f}'
            )
        })
        || RESERVED_WORDS.contains(&text)
        || text.starts_with('.')
        || text.starts_with("0x")
        || text.parse::<i64>().is_ok()
        || text.parse::<f64>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{InvalidReason, Summary};

    fn stage(stage: Stage, passed: bool, tests: Option<(u32, u32)>) -> StageReport {
        StageReport {
            stage,
            passed,
            duration_ms: 12.5,
            already_formatted: None,
            error_codes: None,
            warnings: None,
            tests_passed: tests.map(|(passed, _)| passed),
            tests_total: tests.map(|(_, total)| total),
            covered_lines: None,
            coverable_lines: None,
            coverage: None,
            coverage_required: None,
            diagnostics: String::new(),
        }
    }

    fn case(id: &str, sample: u32, stages: Vec<StageReport>) -> CaseReport {
        let passed = stages.iter().all(|stage| stage.passed);
        serde_json::from_value(serde_json::json!({
            "suite": "basics", "case": id, "sample": sample, "passed": passed,
            // Float noise in a score does not reach the snapshot.
            "score": if passed { 1.0 } else { 0.3 + 1e-12 }, "first_try_passed": passed,
            "repairs": u32::from(!passed), "invalid": false, "invalid_reason": null,
            "provider_error": null, "attempts": [{
                "attempt": 0, "passed": passed, "score": 1.0, "end": {"reason": "finished"},
                "invalid": false, "flags": [], "metrics": {
                    "ttft_ms": 812.3, "ttft_answer_ms": null, "generation_ms": 900.0,
                    "prompt_tokens": null, "completion_tokens": null,
                    "decode_tokens_per_second": null, "prefill_tokens_per_second": null,
                    "server_prompt_ms": null, "server_load_ms": null, "retries": 0,
                    "retry_wait_ms": 0.0, "sources": {"ttft": "client", "tokens": "none",
                    "decode": "none", "prefill": "none"}},
                "stages": stages, "thinking_chars": 0, "feedback": null,
                "code": "fn x() {}", "answer": "fn x() {}"}]
        }))
        .unwrap()
    }

    fn report_with(cases: Vec<CaseReport>) -> Report {
        Report {
            format_version: super::super::FORMAT_VERSION,
            tool: super::super::Tool {
                name: "cargo-llm-bench".to_owned(),
                version: "0.1.0".to_owned(),
            },
            rustc: "rustc 1.89.0 (29483883e 2025-08-04)".to_owned(),
            created: "2026-11-30T21:00:00Z".to_owned(),
            sandbox: "bwrap".to_owned(),
            complete: true,
            partition: None,
            provider: "local".to_owned(),
            model: "qwen2.5-coder-0.5b".to_owned(),
            suites: vec![super::super::SuiteInfo {
                name: "basics".to_owned(),
                path: "suites/basics.yaml".to_owned(),
                hash: "sha256:0a1b2c".to_owned(),
                cases: 3,
            }],
            samples: 1,
            weights: Default::default(),
            summary: Summary::default(),
            cases,
        }
    }

    fn sample_report() -> Report {
        let mut invalid = case("div", 0, vec![]);
        invalid.invalid = true;
        invalid.invalid_reason = Some(InvalidReason::MaxTokens);
        report_with(vec![
            case(
                "add",
                0,
                vec![
                    stage(Stage::Format, true, None),
                    stage(Stage::Compile, true, None),
                    stage(Stage::Test, true, Some((2, 2))),
                ],
            ),
            case(
                "sub",
                0,
                vec![
                    stage(Stage::Format, true, None),
                    stage(Stage::Compile, false, None),
                ],
            ),
            invalid,
        ])
    }

    fn workspace() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("suites")).unwrap();
        std::fs::write(dir.path().join("suites/basics.yaml"), "suite: basics\n").unwrap();
        dir
    }

    #[test]
    fn a_snapshot_holds_stages_tests_repairs_and_scores_but_no_timings_or_answers() {
        let dir = workspace();
        let snapshots = snapshots(&sample_report(), dir.path(), dir.path());
        assert_eq!(snapshots.len(), 1);
        let snapshot = &snapshots[0];
        assert_eq!(snapshot.name, "basics__local_qwen2.5-coder-0.5b");
        assert_eq!(
            snapshot.to_file(),
            "---\n\
             source: suites/basics.yaml\n\
             description: \"cargo llm-bench results of local:qwen2.5-coder-0.5b on suite basics\"\n\
             info:\n  \
               model: \"local:qwen2.5-coder-0.5b\"\n  \
               toolchain: rustc 1.89.0 (29483883e 2025-08-04)\n  \
               suite_hash: \"sha256:0a1b2c\"\n\
             ---\n\
             1 of 2 valid runs passed; 1 invalid\n\
             \n\
             add: passed; format ok, compile ok, test 2/2; repairs 0; score 1.000\n\
             sub: failed at compile; format ok, compile failed; repairs 1; score 0.300\n\
             div: invalid (max_tokens)\n"
        );
    }

    #[test]
    fn samples_are_named_only_when_a_case_has_several() {
        let mut report = sample_report();
        report.cases.truncate(1);
        let mut second = report.cases[0].clone();
        second.sample = 1;
        report.cases.push(second);
        let dir = workspace();
        let contents = &snapshots(&report, dir.path(), dir.path())[0].contents;
        assert!(contents.contains("\nadd sample 0: passed;"), "{contents}");
        assert!(contents.contains("\nadd sample 1: passed;"), "{contents}");
    }

    #[test]
    fn suite_files_are_named_from_the_workspace_root_wherever_the_run_stood() {
        let dir = workspace();
        let mut report = sample_report();
        report.suites[0].path = "../suites/basics.yaml".to_owned();
        let inner = dir.path().join("crates");
        std::fs::create_dir(&inner).unwrap();
        assert_eq!(
            snapshots(&report, dir.path(), &inner)[0].source,
            "suites/basics.yaml"
        );
        report.suites[0].path = "/elsewhere/basics.yaml".to_owned();
        assert_eq!(
            snapshots(&report, dir.path(), &inner)[0].source,
            "/elsewhere/basics.yaml"
        );
    }

    /// What `cargo insta accept` does to a pending snapshot: insta reads it and saves it again.
    fn saved_again_by_insta(file: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let pending = dir.path().join("x.snap.new");
        std::fs::write(&pending, file).unwrap();
        let read = insta::Snapshot::from_file(&pending).unwrap();
        let accepted = dir.path().join("x.snap");
        read.save(&accepted).unwrap();
        std::fs::read_to_string(accepted).unwrap()
    }

    #[test]
    fn insta_reads_and_saves_our_files_without_changing_a_byte() {
        let dir = workspace();
        let mut snapshot = snapshots(&sample_report(), dir.path(), dir.path()).remove(0);
        let file = snapshot.to_file();
        assert_eq!(saved_again_by_insta(&file), file);
        let read = insta::Snapshot::from_file(&{
            let path = dir.path().join("x.snap");
            std::fs::write(&path, &file).unwrap();
            path
        })
        .unwrap();
        assert_eq!(read.metadata().source(), Some("suites/basics.yaml"));
        assert_eq!(
            read.as_text().unwrap().to_string(),
            normalize(&snapshot.contents)
        );

        // Every quoting rule of insta's emitter, on the values a model label can bring.
        for hostile in [
            "",
            " lead",
            "trail ",
            "-dash",
            "*star",
            "a: b",
            "a#b",
            "say \"hi\"",
            "back\\slash",
            "tab\there",
            "new\nline",
            "bell\u{7}",
            "esc\u{1b}[0m",
            "del\u{7f}",
            "yes",
            "NULL",
            "~",
            ".hidden",
            "0x1F",
            "42",
            "-7",
            "1e5",
            "inf",
            "NaN",
            "2014-12-31",
            "ünï ✓",
            "carriage\rreturn",
            "{x}",
            "@at",
            "it's",
        ] {
            snapshot.info = vec![("model", hostile.to_owned())];
            snapshot.description = hostile.to_owned();
            let file = snapshot.to_file();
            assert_eq!(saved_again_by_insta(&file), file, "{hostile:?}");
        }
    }

    #[test]
    fn the_first_run_writes_the_snapshot_and_an_unchanged_rerun_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let snapshot = snapshots(&sample_report(), dir.path(), dir.path()).remove(0);
        let checked = check(dir.path(), &snapshot).unwrap();
        assert_eq!(checked.verdict, Verdict::Created);
        assert_eq!(
            std::fs::read_to_string(&checked.path).unwrap(),
            snapshot.to_file()
        );
        let modified = std::fs::metadata(&checked.path)
            .unwrap()
            .modified()
            .unwrap();

        let mut new_toolchain = snapshot.clone();
        new_toolchain.info[1].1 = "rustc 1.99.0".to_owned();
        let again = check(dir.path(), &new_toolchain).unwrap();
        assert_eq!(again.verdict, Verdict::Unchanged);
        assert_eq!(
            std::fs::metadata(&checked.path)
                .unwrap()
                .modified()
                .unwrap(),
            modified
        );
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1);
    }

    #[test]
    fn a_changed_run_leaves_the_snapshot_and_writes_a_pending_one_with_a_diff() {
        let dir = tempfile::tempdir().unwrap();
        let snapshot = snapshots(&sample_report(), dir.path(), dir.path()).remove(0);
        check(dir.path(), &snapshot).unwrap();
        let mut changed = snapshot.clone();
        changed.contents = changed.contents.replace("test 2/2", "test 1/2");
        let checked = check(dir.path(), &changed).unwrap();
        let Verdict::Changed { pending, diff } = &checked.verdict else {
            panic!("not a change: {checked:?}");
        };
        assert_eq!(
            pending.file_name().unwrap(),
            "basics__local_qwen2.5-coder-0.5b.snap.new"
        );
        assert_eq!(
            std::fs::read_to_string(&checked.path).unwrap(),
            snapshot.to_file()
        );
        assert_eq!(std::fs::read_to_string(pending).unwrap(), changed.to_file());
        assert!(
            diff.contains(
                "\n-add: passed; format ok, compile ok, test 2/2; repairs 0; score 1.000\n\
                 +add: passed; format ok, compile ok, test 1/2; repairs 0; score 1.000\n"
            ),
            "{diff}"
        );

        // Back to what the snapshot holds: the stale pending snapshot goes.
        assert_eq!(
            check(dir.path(), &snapshot).unwrap().verdict,
            Verdict::Unchanged
        );
        assert!(!pending.exists());
    }

    #[test]
    fn a_snapshot_reformatted_by_insta_or_with_windows_line_ends_still_matches() {
        let dir = tempfile::tempdir().unwrap();
        let snapshot = snapshots(&sample_report(), dir.path(), dir.path()).remove(0);
        let path = dir.path().join(format!("{}.snap", snapshot.name));
        std::fs::write(&path, snapshot.to_file().replace('\n', "\r\n") + "\r\n\r\n").unwrap();
        assert_eq!(
            check(dir.path(), &snapshot).unwrap().verdict,
            Verdict::Unchanged
        );
    }

    #[test]
    fn a_file_that_is_not_a_snapshot_is_named_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let snapshot = snapshots(&sample_report(), dir.path(), dir.path()).remove(0);
        let path = dir.path().join(format!("{}.snap", snapshot.name));
        std::fs::write(&path, "---\nsource: x\n").unwrap();
        let error = check(dir.path(), &snapshot).unwrap_err();
        assert!(matches!(error, SnapshotError::Malformed { .. }), "{error}");
        assert!(error.to_string().contains(".snap is not an insta snapshot"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "---\nsource: x\n");
    }

    #[test]
    fn accepting_moves_every_pending_snapshot_over_its_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.snap"), "old").unwrap();
        std::fs::write(dir.path().join("a.snap.new"), "new a").unwrap();
        std::fs::write(dir.path().join("b.snap.new"), "new b").unwrap();
        std::fs::write(dir.path().join("c.snap"), "kept").unwrap();
        let accepted = accept_pending(dir.path()).unwrap();
        assert_eq!(
            accepted,
            [dir.path().join("a.snap"), dir.path().join("b.snap")]
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.snap")).unwrap(),
            "new a"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("b.snap")).unwrap(),
            "new b"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("c.snap")).unwrap(),
            "kept"
        );
        assert!(accept_pending(dir.path()).unwrap().is_empty());
        assert!(accept_pending(&dir.path().join("missing"))
            .unwrap()
            .is_empty());
    }
}
