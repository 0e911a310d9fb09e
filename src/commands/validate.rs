//! `cargo llm-bench validate`: every reference through every stage, before any model is scored.

use super::{load_suites, sandbox, Outcome};
use crate::cli::{OutputFormat, Settings};
use crate::error::ExitKind;
use crate::provider::{ModelSpec, Provider, ReferenceProvider};
use crate::runner::{self, Contestant, Plan, RunError};
use crate::ui::Progress;
use serde::Serialize;

/// A reference that failed, for people and for `--format json`.
#[derive(Debug, Serialize)]
struct Failure {
    suite: String,
    case: String,
    stage: String,
    diagnostics: String,
}

/// How many diagnostic lines a failure shows on the terminal.
const SHOWN_LINES: usize = 8;

pub fn validate(settings: &Settings) -> anyhow::Result<Outcome> {
    let suites = load_suites(settings, &settings.overrides)?;
    let sandbox = sandbox(settings)?;
    let plan = Plan {
        suites: &suites,
        weights: settings.weights,
        partition: None,
    };
    let contestants = [Contestant {
        model: ModelSpec::parse("reference").expect("`reference` is a valid spec"),
        provider: Provider::Reference(ReferenceProvider::new(super::reference_answers(&suites))),
    }];
    let progress = Progress::new(settings.progress);
    let runs = runner::run(&sandbox, &plan, &contestants, &|event| {
        progress.handle(event)
    });
    progress.finish();
    let runs = runs.map_err(|RunError::Scoring(error)| super::scoring_error(error, &suites))?;

    let mut failures = Vec::new();
    let mut total = 0;
    for case_run in &runs[0].cases {
        total += 1;
        let Some(attempt) = case_run.last().filter(|attempt| !attempt.passed) else {
            continue;
        };
        let suite = &suites[case_run.suite];
        let failed = attempt.stages.iter().find(|outcome| !outcome.passed);
        failures.push(Failure {
            suite: suite.name.clone(),
            case: suite.cases[case_run.case].id.clone(),
            stage: failed.map_or("format".to_owned(), |outcome| outcome.stage.to_string()),
            diagnostics: failed.map_or_else(
                || "the reference holds no code".to_owned(),
                |outcome| outcome.diagnostics.clone(),
            ),
        });
    }

    match settings.format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "cases": total, "failed": failures })
            )?
        ),
        OutputFormat::Table => {
            for failure in &failures {
                println!(
                    "FAIL {}/{} at {}",
                    failure.suite, failure.case, failure.stage
                );
                for line in failure.diagnostics.lines().take(SHOWN_LINES) {
                    println!("    {line}");
                }
            }
            println!(
                "{} of {} references pass every stage",
                total - failures.len(),
                total
            );
        }
    }
    Ok(Outcome(if failures.is_empty() {
        ExitKind::Success
    } else {
        ExitKind::GateFailed
    }))
}
