//! `cargo llm-bench run`: suites × models × samples → reports, table and gates.

use super::{compare, load_suites, sandbox, Outcome};
use crate::cli::{OutputFormat, Settings};
use crate::compare::Comparison;
use crate::error::{bad_input, ExitKind};
use crate::gate;
use crate::journal::{Fingerprint, Journal};
use crate::provider::{
    AnswerLog, AnswerStore, AttemptKey, CachedProvider, EarlierAnswer, ModelSpec, Provider,
    ReferenceProvider, ResponseCache,
};
use crate::report::snapshot::{self, Verdict};
use crate::report::{self, Report, RunInfo};
use crate::runner::{self, Contestant, ModelRun, Plan, RunError};
use crate::suite::Suite;
use crate::ui::Progress;
use anyhow::Context;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub fn run(settings: &Settings) -> anyhow::Result<Outcome> {
    let baselines = compare::load_baselines(&settings.outputs.baseline)?;
    let reports = benchmark(settings)?;
    write_html(
        &settings.output,
        "report",
        &report::render_html(&reports, None),
    )?;
    print_results(settings, &reports)?;
    let comparisons = compare_with_baselines(settings, &baselines, &reports);
    let gate_failures: Vec<String> = gate::evaluate(&settings.gates, &reports)
        .iter()
        .map(ToString::to_string)
        .collect();
    let comparisons_markdown = (!comparisons.is_empty()).then(|| {
        let compared: Vec<Comparison> = comparisons.iter().map(|(_, c)| c.clone()).collect();
        crate::compare::to_markdown(&compared)
    });
    let snapshots_changed = ci_outputs(
        settings,
        &reports,
        &gate_failures,
        comparisons_markdown.as_deref(),
    )?;

    if let Some(outcome) = provider_failures(&reports) {
        return Ok(outcome);
    }
    for failure in &gate_failures {
        eprintln!("error: {failure}");
    }
    let regression = compare::regression_outcome(settings.outputs.fail_on_regression, &comparisons);
    if !gate_failures.is_empty() || snapshots_changed {
        return Ok(Outcome(ExitKind::GateFailed));
    }
    Ok(regression)
}

/// Every model of `settings` on every case of its suites, with the response cache and the
/// journal: the reports, written as JSON and CSV under the output folder. The shared first half
/// of `run` and `optimize`.
pub fn benchmark(settings: &Settings) -> anyhow::Result<Vec<Report>> {
    let suites = load_suites(settings, &settings.overrides)?;
    report::check_output_dir(&settings.output).map_err(|error| {
        bad_input(
            error,
            Some("pass --output DIR, a folder you can write".into()),
        )
    })?;
    let answers = Answers::open(settings, &suites)?;
    let contestants = contestants(settings, &suites, &answers.store)?;
    let sandbox = sandbox(settings)?;
    let plan = Plan {
        suites: &suites,
        weights: settings.weights,
        partition: settings.partition,
    };
    let progress = Progress::new(settings.progress);
    let runs = runner::run(&sandbox, &plan, &contestants, &|event| {
        progress.handle(event)
    });
    progress.finish();
    let runs = runs.map_err(|RunError::Scoring(error)| super::scoring_error(error, &suites))?;

    let info = RunInfo {
        suites: &suites,
        samples: super::most_samples(&suites),
        weights: settings.weights,
        rustc: sandbox.rustc_version(),
        sandbox: sandbox.level().to_string(),
        // An interrupted run still writes what it scored, marked as such.
        complete: crate::sandbox::interruption().is_none(),
        created: chrono::Utc::now(),
        partition: settings.partition,
    };
    let reports = write_reports(settings, &info, &runs, &answers.store)?;
    answers.close(info.complete)?;
    Ok(reports)
}

/// Writes `{stem}_{YYYYMMDD}.html` under `dir`, never over an earlier one.
pub fn write_html(dir: &Path, stem: &str, html: &str) -> anyhow::Result<PathBuf> {
    let date = chrono::Utc::now().format("%Y%m%d");
    let path = report::write_new(dir, &format!("{stem}_{date}"), "html", html.as_bytes())?;
    eprintln!("wrote {}", path.display());
    Ok(path)
}

/// Where this run's answers come from before a model is asked, and where they are kept.
struct Answers {
    store: Arc<AnswerStore>,
    journal: Arc<Journal>,
}

impl Answers {
    /// The response cache under `target/llm-bench/cache`, and the run's journal under
    /// `target/llm-bench/journal`: a new one, or with `--resume` the newest unfinished one of the
    /// same suites, models and settings, whose answers are given again without asking.
    fn open(settings: &Settings, suites: &[Suite]) -> anyhow::Result<Answers> {
        let fingerprint = Fingerprint::of(settings, suites);
        let journal_dir = settings.scratch_dir.join("journal");
        let resumed = if settings.resume {
            Journal::resume(&journal_dir, &fingerprint)?
        } else {
            None
        };
        let (journal, earlier) = match resumed {
            Some(resumed) => {
                eprintln!(
                    "resuming the run journaled in {}: {} answer(s) already given are not asked again",
                    resumed.journal.path().display(),
                    resumed.answers.len()
                );
                if resumed.unreadable > 0 {
                    eprintln!(
                        "warning: {} unreadable journal line(s) (cut off by a kill) are asked again",
                        resumed.unreadable
                    );
                }
                (resumed.journal, resumed.answers)
            }
            None => {
                if settings.resume {
                    eprintln!("warning: --resume found no unfinished run of these suites, models and settings; running from the start");
                }
                (
                    Journal::start(&journal_dir, &fingerprint)?,
                    HashMap::<_, EarlierAnswer>::new(),
                )
            }
        };
        let journal = Arc::new(journal);
        let log: Arc<dyn AnswerLog> = journal.clone();
        let store = AnswerStore::new(
            ResponseCache::new(settings.scratch_dir.join("cache")),
            settings.cache,
            earlier,
            Some(log),
        );
        Ok(Answers {
            store: Arc::new(store),
            journal,
        })
    }

    /// A complete run removes its journal; an interrupted one keeps it for `--resume`.
    fn close(&self, complete: bool) -> anyhow::Result<()> {
        for failure in [self.store.write_failure(), self.journal.write_failure()]
            .into_iter()
            .flatten()
        {
            eprintln!("warning: {failure}");
        }
        if complete {
            self.journal.finish()?;
        } else {
            eprintln!(
                "the answers of this run are journaled in {}: run the same command with --resume to go on",
                self.journal.path().display()
            );
        }
        Ok(())
    }
}

/// Every model with the provider that will answer for it; network providers answer from the
/// journal of an interrupted run or the response cache when they can.
fn contestants(
    settings: &Settings,
    suites: &[Suite],
    answers: &Arc<AnswerStore>,
) -> anyhow::Result<Vec<Contestant>> {
    settings
        .models
        .iter()
        .map(|model| {
            let provider = if model.provider == "reference" {
                Provider::Reference(ReferenceProvider::new(super::reference_answers(suites)))
            } else {
                let provider = super::connect_model(model, &settings.profiles)?;
                CachedProvider::wrap(provider, model, &settings.profiles, answers)
            };
            Ok(Contestant {
                model: model.clone(),
                provider,
            })
        })
        .collect()
}

/// One JSON and one CSV report per model, never clobbering an earlier one.
fn write_reports(
    settings: &Settings,
    info: &RunInfo,
    runs: &[ModelRun],
    answers: &AnswerStore,
) -> anyhow::Result<Vec<Report>> {
    let date = info.created.format("%Y%m%d").to_string();
    let mut reports = Vec::new();
    for model_run in runs {
        let mut report = report::build_report(info, model_run);
        mark_cached(&mut report, &model_run.model, answers);
        let paths = report::write_report(&settings.output, &model_run.model, &date, &report)?;
        eprintln!("wrote {} and {}", paths.json.display(), paths.csv.display());
        reports.push(report);
    }
    Ok(reports)
}

/// Marks the attempts the response cache answered.
fn mark_cached(report: &mut Report, model: &ModelSpec, answers: &AnswerStore) {
    for case in &mut report.cases {
        for attempt in &mut case.attempts {
            let key = AttemptKey {
                suite: case.suite.clone(),
                case: case.case.clone(),
                sample: case.sample,
                attempt: attempt.attempt,
            };
            attempt.cached = answers.was_cached(model, &key);
        }
    }
}

/// The table and the failure list, or every report as JSON.
fn print_results(settings: &Settings, reports: &[Report]) -> anyhow::Result<()> {
    match settings.format {
        OutputFormat::Table => {
            let width = crate::ui::stdout_width();
            let verbose = settings.outputs.verbose;
            println!("{}", report::render_table(reports, width, verbose));
            let failures = report::render_failures(reports, width, verbose);
            if !failures.is_empty() {
                println!("\n{failures}");
            }
        }
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(reports)?),
    }
    Ok(())
}

/// Exit 3 when a model stopped or requests failed at the provider.
pub(super) fn provider_failures(reports: &[Report]) -> Option<Outcome> {
    let provider_errors: usize = reports
        .iter()
        .map(|report| report.summary.provider_errors)
        .sum();
    for report in reports {
        if let Some(reason) = &report.summary.stopped {
            eprintln!("error: {} stopped: {reason}", report.label());
        }
    }
    (provider_errors > 0).then(|| {
        eprintln!("error: {provider_errors} request(s) failed at the provider; their cases are recorded as provider errors");
        Outcome(ExitKind::ProviderUnavailable)
    })
}

/// The files CI reads: snapshots, JUnit XML, the Markdown summary. True when a snapshot
/// changed, which fails the run as a gate does.
fn ci_outputs(
    settings: &Settings,
    reports: &[Report],
    gate_failures: &[String],
    comparisons: Option<&str>,
) -> anyhow::Result<bool> {
    if let Some(path) = &settings.outputs.junit {
        let xml = report::junit::render(reports)
            .map_err(|error| anyhow::anyhow!("cannot render the JUnit XML: {error}"))?;
        report::write_replacing(path, xml.as_bytes())?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = &settings.outputs.summary {
        let markdown = report::markdown::render(reports, gate_failures, comparisons);
        append(path, &markdown)
            .with_context(|| format!("cannot write the summary {}", path.display()))?;
        eprintln!("wrote the summary to {}", path.display());
    }
    // Last: a snapshot that cannot be read stops the run, and the files above are still there.
    Ok(settings.outputs.snapshot && check_snapshots(settings, reports)?)
}

/// One snapshot per suite and model under `snapshots/` at the workspace root; true when one
/// changed. Runs that are not the whole of a model's results are not compared: a share of a
/// partitioned run, an interrupted run, a model whose provider failed.
fn check_snapshots(settings: &Settings, reports: &[Report]) -> anyhow::Result<bool> {
    if settings.partition.is_some() {
        eprintln!("warning: --snapshot ignored: a --partition share holds only part of each suite");
        return Ok(false);
    }
    let dir = settings.workspace_root.join(snapshot::SNAPSHOT_DIR);
    let current_dir = std::env::current_dir().context("cannot read the current directory")?;
    let mut changed = false;
    for report in reports {
        if !report.complete || report.summary.provider_errors > 0 {
            eprintln!(
                "warning: no snapshot of {}: {}",
                report.label(),
                if report.complete {
                    "some of its requests failed at the provider"
                } else {
                    "the run was interrupted"
                }
            );
            continue;
        }
        for snapshot in snapshot::snapshots(report, &settings.workspace_root, &current_dir) {
            let checked = snapshot::check(&dir, &snapshot).map_err(|error| match error {
                snapshot::SnapshotError::Malformed { .. } => bad_input(
                    error,
                    Some(
                        "delete the file to write it anew, or restore it from version control"
                            .to_owned(),
                    ),
                ),
                error => error.into(),
            })?;
            let path = shown(&checked.path, &current_dir);
            match checked.verdict {
                Verdict::Created => eprintln!("wrote the snapshot {}", path.display()),
                Verdict::Unchanged => {}
                Verdict::Changed { pending, diff } => {
                    changed = true;
                    eprintln!(
                        "error: the results of {} on suite {} differ from the snapshot {}; the new ones are in {}:\n{diff}",
                        report.label(),
                        snapshot.suite,
                        path.display(),
                        shown(&pending, &current_dir).display()
                    );
                }
            }
        }
    }
    if changed {
        eprintln!("hint: review with `cargo insta review`; accept with `cargo insta accept` or `cargo llm-bench accept`");
    }
    Ok(changed)
}

/// Appends, as GitHub expects of `$GITHUB_STEP_SUMMARY` (a step may write several summaries).
fn append(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.flush()
}

/// A path relative to `current_dir` when it is below it.
fn shown<'a>(path: &'a Path, current_dir: &Path) -> &'a Path {
    path.strip_prefix(current_dir).unwrap_or(path)
}

/// Each `--baseline` compared with this run's report of its model, printed after the table
/// (on stderr with `--format json`, so stdout stays one JSON document).
fn compare_with_baselines(
    settings: &Settings,
    baselines: &[(PathBuf, Report)],
    reports: &[Report],
) -> Vec<(PathBuf, Comparison)> {
    if settings.outputs.fail_on_regression && baselines.is_empty() {
        eprintln!(
            "warning: --fail-on-regression has no --baseline to compare with; it checks nothing"
        );
    }
    let comparisons = compare::baselines(baselines, reports, settings.outputs.significance);
    for (path, comparison) in &comparisons {
        let text = format!(
            "\nbaseline {}\n{}",
            path.display(),
            comparison.render_text()
        );
        match settings.format {
            OutputFormat::Table => println!("{text}"),
            OutputFormat::Json => eprintln!("{text}"),
        }
    }
    comparisons
}
