//! `cargo llm-bench compare OLD.json NEW.json`, and the `--baseline` step of `run`: paired
//! comparisons printed, and `--fail-on-regression` deciding the exit code.

use super::Outcome;
use crate::cli::{CompareArgs, FormatArg};
use crate::compare::{self, Comparison};
use crate::error::{bad_input, ExitKind};
use crate::report::Report;
use crate::suite::setting::{self, Scalar};
use std::path::{Path, PathBuf};

pub fn compare(args: &CompareArgs) -> anyhow::Result<Outcome> {
    let alpha = significance(args.significance)?;
    let old = load(&args.old)?;
    let new = load(&args.new)?;
    let comparison = compare::compare(&old, &new, alpha);
    if comparison.paired_runs == 0 {
        return Err(bad_input(
            anyhow::anyhow!(
                "{} and {} share no valid run to pair (same suite, case and sample)",
                args.old.display(),
                args.new.display()
            ),
            Some("compare two reports of the same suites".to_owned()),
        ));
    }
    match args.format {
        Some(FormatArg::Json) => println!("{}", serde_json::to_string_pretty(&comparison)?),
        Some(FormatArg::Table) | None => println!("{}", comparison.render_text()),
    }
    Ok(regression_outcome(
        args.fail_on_regression,
        &[(args.old.clone(), comparison)],
    ))
}

/// The reports of `run --baseline FILE…`, read before the run so a wrong path fails at once.
pub fn load_baselines(paths: &[PathBuf]) -> anyhow::Result<Vec<(PathBuf, Report)>> {
    paths
        .iter()
        .map(|path| Ok((path.clone(), load(path)?)))
        .collect()
}

/// Each baseline compared with the run's report of the same model. A baseline of a model the
/// run does not have is a warning, not an error.
pub fn baselines(
    baselines: &[(PathBuf, Report)],
    reports: &[Report],
    alpha: f64,
) -> Vec<(PathBuf, Comparison)> {
    let mut comparisons = Vec::new();
    for (path, baseline) in baselines {
        let label = baseline.label();
        match reports.iter().find(|report| report.label() == label) {
            Some(report) => {
                comparisons.push((path.clone(), compare::compare(baseline, report, alpha)))
            }
            None => eprintln!(
                "warning: baseline {} is a report of {label}, which this run does not have; it is not compared",
                path.display()
            ),
        }
    }
    comparisons
}

/// Exit 1 only for a significant regression, and only when asked; each one is printed with its
/// p-value and the runs that broke.
pub fn regression_outcome(
    fail_on_regression: bool,
    comparisons: &[(PathBuf, Comparison)],
) -> Outcome {
    let regressions: Vec<&(PathBuf, Comparison)> = comparisons
        .iter()
        .filter(|(_, comparison)| comparison.is_significant_regression())
        .collect();
    for (path, comparison) in &regressions {
        let severity = if fail_on_regression {
            "error"
        } else {
            "warning"
        };
        eprintln!(
            "{severity}: {} (against {})",
            comparison.headline(),
            path.display()
        );
        let broken: Vec<String> = comparison
            .moved
            .iter()
            .filter(|run| run.change == compare::Change::Broken)
            .map(|run| run.key.to_string())
            .collect();
        if !broken.is_empty() {
            eprintln!("  broken: {}", broken.join(", "));
        }
    }
    if fail_on_regression && !regressions.is_empty() {
        Outcome(ExitKind::GateFailed)
    } else {
        Outcome(ExitKind::Success)
    }
}

fn load(path: &Path) -> anyhow::Result<Report> {
    compare::load_report(path).map_err(|error| {
        bad_input(
            error,
            Some("pass JSON reports written by `cargo llm-bench run`".to_owned()),
        )
    })
}

/// The level of the test, checked as `run --significance` and the config's key are.
fn significance(given: Option<f64>) -> anyhow::Result<f64> {
    match given {
        None => Ok(compare::DEFAULT_SIGNIFICANCE),
        Some(alpha) => setting::significance(Scalar::Float(alpha)).map_err(|problem| {
            bad_input(
                anyhow::anyhow!("--significance: {}", problem.message),
                problem.hint,
            )
        }),
    }
}
