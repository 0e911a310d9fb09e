//! `cargo llm-bench run`: suites × models × samples → reports, table and gates.

use super::{load_suites, sandbox, Outcome};
use crate::cli::{OutputFormat, Settings};
use crate::error::{bad_input, provider_unavailable, ExitKind};
use crate::journal::{Fingerprint, Journal};
use crate::provider::{
    self, AnswerLog, AnswerStore, AttemptKey, CachedProvider, EarlierAnswer, ModelSpec, Provider,
    ReferenceProvider, ResponseCache,
};
use crate::report::{self, Report, RunInfo};
use crate::runner::{self, Contestant, ModelRun, Plan, RunError};
use crate::score;
use crate::suite::Suite;
use crate::ui::Progress;
use std::collections::HashMap;
use std::sync::Arc;

pub fn run(settings: &Settings) -> anyhow::Result<Outcome> {
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
        samples: super::most_samples(&suites),
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
    print_results(settings, &reports)?;

    if let Some(outcome) = provider_failures(&reports) {
        return Ok(outcome);
    }
    Ok(gates(settings, &reports))
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
                let provider = provider::connect(model, &settings.profiles).map_err(|error| {
                    provider_unavailable(
                        anyhow::anyhow!("model {model} cannot be used: {error}"),
                        None,
                    )
                })?;
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
            println!("{}", report::render_table(reports, width));
            let failures = report::render_failures(reports, width);
            if !failures.is_empty() {
                println!("\n{failures}");
            }
        }
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(reports)?),
    }
    Ok(())
}

/// Exit 3 when a model stopped or requests failed at the provider.
fn provider_failures(reports: &[Report]) -> Option<Outcome> {
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

/// Exit 1 when a model misses a bar.
fn gates(settings: &Settings, reports: &[Report]) -> Outcome {
    if let Some(min_score) = settings.gates.min_score {
        let scores: Vec<(String, f64)> = reports
            .iter()
            .map(|r| (r.label(), r.summary.mean_score))
            .collect();
        let failing = score::below_bar(
            scores.iter().map(|(name, value)| (name.as_str(), *value)),
            min_score,
        );
        if !failing.is_empty() {
            for (model, value) in failing {
                eprintln!("error: {model} scored {value:.3}, below --min-score {min_score}");
            }
            return Outcome(ExitKind::GateFailed);
        }
    }
    Outcome(ExitKind::Success)
}
