//! `cargo llm-bench run`: suites × models × samples → reports, table and gate.

use super::{load_suites, sandbox, Outcome};
use crate::cli::{OutputFormat, Settings};
use crate::error::{bad_input, provider_unavailable, ExitKind};
use crate::provider::{self, Provider, ReferenceProvider};
use crate::report::{self, RunInfo};
use crate::runner::{self, Contestant, Plan, RunError};
use crate::score;
use crate::ui::Progress;

pub fn run(settings: &Settings) -> anyhow::Result<Outcome> {
    let suites = load_suites(settings, &settings.overrides)?;
    report::check_output_dir(&settings.output).map_err(|error| {
        bad_input(
            error,
            Some("pass --output DIR, a folder you can write".into()),
        )
    })?;
    let contestants = settings
        .models
        .iter()
        .map(|model| {
            let provider = if model.provider == "reference" {
                Provider::Reference(ReferenceProvider::new(super::reference_answers(&suites)))
            } else {
                provider::connect(model, &settings.profiles).map_err(|error| {
                    provider_unavailable(
                        anyhow::anyhow!("model {model} cannot be used: {error}"),
                        None,
                    )
                })?
            };
            Ok(Contestant {
                model: model.clone(),
                provider,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let sandbox = sandbox(settings)?;
    let plan = Plan {
        suites: &suites,
        samples: settings.samples,
        weights: settings.weights,
    };
    let progress = Progress::new(settings.progress);
    let runs = runner::run(&sandbox, &plan, &contestants, &|event| {
        progress.handle(event)
    });
    progress.finish();
    let runs = runs.map_err(|RunError::Scoring(error)| super::scoring_error(error, &suites))?;

    let created = chrono::Utc::now();
    let info = RunInfo {
        suites: &suites,
        samples: settings.samples,
        weights: settings.weights,
        rustc: sandbox.rustc_version(),
        sandbox: sandbox.level().to_string(),
        // An interrupted run still writes what it scored, marked as such.
        complete: crate::sandbox::interruption().is_none(),
        created,
    };
    let date = created.format("%Y%m%d").to_string();
    let mut reports = Vec::new();
    for model_run in &runs {
        let report = report::build_report(&info, model_run);
        let paths = report::write_report(&settings.output, &model_run.model, &date, &report)?;
        eprintln!("wrote {} and {}", paths.json.display(), paths.csv.display());
        reports.push(report);
    }
    match settings.format {
        OutputFormat::Table => {
            let width = crate::ui::stdout_width();
            println!("{}", report::render_table(&reports, width));
            let failures = report::render_failures(&reports, width);
            if !failures.is_empty() {
                println!("\n{failures}");
            }
        }
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&reports)?),
    }

    let provider_errors: usize = reports
        .iter()
        .map(|report| report.summary.provider_errors)
        .sum();
    for report in &reports {
        if let Some(reason) = &report.summary.stopped {
            eprintln!("error: {} stopped: {reason}", report.label());
        }
    }
    if provider_errors > 0 {
        eprintln!("error: {provider_errors} request(s) failed at the provider; their cases are recorded as provider errors");
        return Ok(Outcome(ExitKind::ProviderUnavailable));
    }
    if let Some(min_score) = settings.min_score {
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
            return Ok(Outcome(ExitKind::GateFailed));
        }
    }
    Ok(Outcome(ExitKind::Success))
}
