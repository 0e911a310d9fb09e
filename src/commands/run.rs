//! `cargo llm-bench run`: suites × models × samples → reports, table and gates.

use super::{compare, load_suites, sandbox, Outcome};
use crate::cli::{OutputFormat, Settings};
use crate::compare::Comparison;
use crate::error::{bad_input, provider_unavailable, ExitKind};
use crate::gate;
use crate::provider::{self, Provider, ReferenceProvider};
use crate::report::{self, Report, RunInfo};
use crate::runner::{self, Contestant, ModelRun, Plan, RunError};
use crate::suite::Suite;
use crate::ui::Progress;
use std::path::PathBuf;

pub fn run(settings: &Settings) -> anyhow::Result<Outcome> {
    let suites = load_suites(settings, &settings.overrides)?;
    report::check_output_dir(&settings.output).map_err(|error| {
        bad_input(
            error,
            Some("pass --output DIR, a folder you can write".into()),
        )
    })?;
    let baselines = compare::load_baselines(&settings.outputs.baseline)?;
    let contestants = contestants(settings, &suites)?;
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

    let info = RunInfo {
        suites: &suites,
        samples: settings.samples,
        weights: settings.weights,
        rustc: sandbox.rustc_version(),
        sandbox: sandbox.level().to_string(),
        // An interrupted run still writes what it scored, marked as such.
        complete: crate::sandbox::interruption().is_none(),
        created: chrono::Utc::now(),
    };
    let reports = write_reports(settings, &info, &runs)?;
    print_results(settings, &reports)?;
    let comparisons = compare_with_baselines(settings, &baselines, &reports);

    if let Some(outcome) = provider_failures(&reports) {
        return Ok(outcome);
    }
    Ok(gates(settings, &reports, &comparisons))
}

/// Every model with the provider that will answer for it.
fn contestants(settings: &Settings, suites: &[Suite]) -> anyhow::Result<Vec<Contestant>> {
    settings
        .models
        .iter()
        .map(|model| {
            let provider = if model.provider == "reference" {
                Provider::Reference(ReferenceProvider::new(super::reference_answers(suites)))
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
        .collect()
}

/// One JSON and one CSV report per model, never clobbering an earlier one.
fn write_reports(
    settings: &Settings,
    info: &RunInfo,
    runs: &[ModelRun],
) -> anyhow::Result<Vec<Report>> {
    let date = info.created.format("%Y%m%d").to_string();
    let mut reports = Vec::new();
    for model_run in runs {
        let report = report::build_report(info, model_run);
        let paths = report::write_report(&settings.output, &model_run.model, &date, &report)?;
        eprintln!("wrote {} and {}", paths.json.display(), paths.csv.display());
        reports.push(report);
    }
    Ok(reports)
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

/// Exit 1 when a model misses a bar, or is significantly worse than its baseline and
/// `--fail-on-regression` is set. Every failure is printed, not just the first.
fn gates(
    settings: &Settings,
    reports: &[Report],
    comparisons: &[(PathBuf, Comparison)],
) -> Outcome {
    let failures = gate::evaluate(&settings.gates, reports);
    for failure in &failures {
        eprintln!("error: {failure}");
    }
    let regression = compare::regression_outcome(settings.outputs.fail_on_regression, comparisons);
    if failures.is_empty() {
        regression
    } else {
        Outcome(ExitKind::GateFailed)
    }
}
