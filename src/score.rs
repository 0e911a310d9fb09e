//! Pure functions: stage outcomes → case scores → model summaries, pass@k.

use crate::pipeline::StageOutcome;
use crate::suite::Stage;
use serde::{Deserialize, Serialize};

/// How much each stage is worth; a case's score is the passed stages' share of its stages' weight.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    pub format: f64,
    pub compile: f64,
    pub test: f64,
    pub coverage: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            format: 0.1,
            compile: 0.2,
            test: 0.5,
            coverage: 0.2,
        }
    }
}

impl Weights {
    pub fn of(&self, stage: Stage) -> f64 {
        match stage {
            Stage::Format => self.format,
            Stage::Compile => self.compile,
            Stage::Test => self.test,
            Stage::Coverage => self.coverage,
        }
    }
}

/// Score in 0..=1 of one attempt: the weight of the stages it passed over the weight of the
/// stages the case runs. The funnel means a failed stage also fails every later one.
pub fn attempt_score(weights: &Weights, stages: &[Stage], outcomes: &[StageOutcome]) -> f64 {
    let total: f64 = stages.iter().map(|&stage| weights.of(stage)).sum();
    if total <= 0.0 {
        return 0.0;
    }
    // A fold from +0.0, because an empty f64 sum is -0.0 and would print as "-0".
    let earned = outcomes
        .iter()
        .filter(|outcome| outcome.passed && stages.contains(&outcome.stage))
        .fold(0.0, |earned, outcome| earned + weights.of(outcome.stage));
    earned / total
}

/// Whether an attempt passed every stage its case runs.
pub fn attempt_passed(stages: &[Stage], outcomes: &[StageOutcome]) -> bool {
    stages.iter().all(|stage| {
        outcomes
            .iter()
            .any(|outcome| outcome.stage == *stage && outcome.passed)
    })
}

/// The unbiased pass@k estimator of Chen et al. (2021): 1 − C(n−c, k) / C(n, k), computed as a
/// product so large n does not overflow.
pub fn pass_at_k(n: u32, c: u32, k: u32) -> f64 {
    if n == 0 || k == 0 || k > n {
        return 0.0;
    }
    if n - c < k {
        return 1.0;
    }
    let fail_all: f64 = ((n - c + 1)..=n)
        .map(|i| 1.0 - f64::from(k) / f64::from(i))
        .product();
    1.0 - fail_all
}

/// The p-th percentile (0..=100) by nearest rank, or None for no values.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// `count` over `of`, or None when there is nothing to count.
pub fn rate(count: usize, of: usize) -> Option<f64> {
    (of > 0).then(|| count as f64 / of as f64)
}

/// The arithmetic mean, or None for no values.
pub fn mean(values: &[f64]) -> Option<f64> {
    // A fold from +0.0, because an empty f64 sum is -0.0.
    (!values.is_empty())
        .then(|| values.iter().fold(0.0, |sum, value| sum + value) / values.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::StageDetail;
    use std::time::Duration;

    fn outcome(stage: Stage, passed: bool) -> StageOutcome {
        StageOutcome {
            stage,
            passed,
            elapsed: Duration::ZERO,
            detail: StageDetail::Format {
                already_formatted: true,
            },
            diagnostics: String::new(),
        }
    }

    #[test]
    fn a_case_failing_its_tests_keeps_format_and_compile_weight() {
        let outcomes = [
            outcome(Stage::Format, true),
            outcome(Stage::Compile, true),
            outcome(Stage::Test, false),
        ];
        let score = attempt_score(&Weights::default(), &Stage::ALL, &outcomes);
        assert!((score - 0.3).abs() < 1e-9);
        assert!(!attempt_passed(&Stage::ALL, &outcomes));
    }

    #[test]
    fn scores_are_normalised_over_the_stages_a_case_runs() {
        let stages = [Stage::Format, Stage::Compile];
        let outcomes = [outcome(Stage::Format, true), outcome(Stage::Compile, true)];
        assert!((attempt_score(&Weights::default(), &stages, &outcomes) - 1.0).abs() < 1e-9);
        assert!(attempt_passed(&stages, &outcomes));
    }

    #[test]
    fn pass_at_k_matches_the_closed_form() {
        // n = 5, c = 2, k = 2: 1 − C(3,2)/C(5,2) = 1 − 3/10.
        assert!((pass_at_k(5, 2, 2) - 0.7).abs() < 1e-9);
        assert!((pass_at_k(10, 3, 1) - 0.3).abs() < 1e-9);
        assert_eq!(pass_at_k(4, 0, 2), 0.0);
        assert_eq!(pass_at_k(4, 3, 2), 1.0);
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&values, 50.0), Some(3.0));
        assert_eq!(percentile(&values, 90.0), Some(5.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn a_rate_of_nothing_is_unknown_rather_than_zero() {
        assert_eq!(rate(3, 4), Some(0.75));
        assert_eq!(rate(0, 4), Some(0.0));
        assert_eq!(rate(0, 0), None);
    }

    #[test]
    fn the_mean_of_no_values_is_unknown() {
        assert_eq!(mean(&[1.0, 2.0, 6.0]), Some(3.0));
        assert_eq!(mean(&[]), None);
    }
}
