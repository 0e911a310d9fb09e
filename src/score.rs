//! Pure functions: stage outcomes → case scores, and the statistics a model summary is made of
//! (pass@k, percentiles, medians, confidence intervals).

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

/// The median: the middle value, or the mean of the two middle ones; None for no values.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    })
}

/// z of a two-sided 95% interval of the normal distribution.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// The Wilson score interval of a rate observed over `runs` independent trials (a fractional
/// count is allowed: see `effective_runs`). Unlike the normal approximation it stays within
/// 0..=1 and does not collapse to a point at 0% or 100%. None when there are no runs.
pub fn wilson_interval(rate: f64, runs: f64, z: f64) -> Option<(f64, f64)> {
    if runs.is_nan() || runs <= 0.0 || !(0.0..=1.0).contains(&rate) {
        return None;
    }
    let z2 = z * z;
    let denominator = 1.0 + z2 / runs;
    let centre = (rate + z2 / (2.0 * runs)) / denominator;
    let half = z / denominator * (rate * (1.0 - rate) / runs + z2 / (4.0 * runs * runs)).sqrt();
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// How many independent runs a pooled pass rate over `cases` (valid runs, passes) is worth.
///
/// Samples of one case are correlated (an easy case passes every time), so n samples of k cases
/// are worth fewer than n independent runs. The variance of the pooled rate is estimated with
/// cases as the unit (the cluster-robust variance of a ratio, with the k/(k−1) small-sample
/// factor), and the effective count is the count whose binomial variance matches it: Kish's n
/// over the design effect. It lies between the number of cases (samples of a case always agree)
/// and the number of runs (they vary as independently as separate cases would). With one run
/// per case, or when every run passed or every run failed (no spread between cases to measure),
/// it is the number of runs.
pub fn effective_runs(cases: &[(u32, u32)]) -> f64 {
    let cases: Vec<(f64, f64)> = cases
        .iter()
        .filter(|(runs, _)| *runs > 0)
        .map(|&(runs, passes)| (f64::from(runs), f64::from(passes.min(runs))))
        .collect();
    let runs: f64 = cases.iter().map(|(runs, _)| runs).sum();
    let passes: f64 = cases.iter().map(|(_, passes)| passes).sum();
    let count = cases.len() as f64;
    if cases.iter().all(|(runs, _)| *runs <= 1.0) || passes == 0.0 || passes == runs {
        return runs;
    }
    let rate = passes / runs;
    let spread: f64 = cases
        .iter()
        .map(|(case_runs, case_passes)| (case_passes - rate * case_runs).powi(2))
        .sum();
    let variance = count / (count - 1.0) * spread / (runs * runs);
    if variance <= 0.0 {
        return runs;
    }
    (rate * (1.0 - rate) / variance).clamp(count, runs)
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

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 0.0]), Some(2.0));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn the_wilson_interval_matches_published_values() {
        // Newcombe (1998), table I: 81 of 263 → 0.2553..0.3662; 15 of 148 → 0.0624..0.1605.
        let (low, high) = wilson_interval(81.0 / 263.0, 263.0, Z_95).unwrap();
        assert!((low - 0.2553).abs() < 1e-4 && (high - 0.3662).abs() < 1e-4);
        let (low, high) = wilson_interval(15.0 / 148.0, 148.0, Z_95).unwrap();
        assert!((low - 0.0624).abs() < 1e-4 && (high - 0.1605).abs() < 1e-4);
    }

    #[test]
    fn the_wilson_interval_does_not_collapse_at_zero_or_everything() {
        // Newcombe (1998), table I: 0 of 10 → 0..0.2775.
        let (low, high) = wilson_interval(0.0, 10.0, Z_95).unwrap();
        assert!(low.abs() < 1e-12 && (high - 0.2775).abs() < 1e-4);
        let (low, high) = wilson_interval(1.0, 10.0, Z_95).unwrap();
        assert!((low - 0.7225).abs() < 1e-4 && (high - 1.0).abs() < 1e-12);
        assert_eq!(wilson_interval(0.5, 0.0, Z_95), None);
    }

    #[test]
    fn samples_that_always_agree_are_worth_one_run_per_case() {
        // Three cases always pass, two always fail, ten samples each: five cases' worth.
        let cases = [(10, 10), (10, 10), (10, 10), (10, 0), (10, 0)];
        assert_eq!(effective_runs(&cases), 5.0);
    }

    #[test]
    fn samples_that_vary_like_separate_cases_are_worth_every_run() {
        // Every case passes half its samples: no spread between cases, so all 40 runs count.
        let cases = [(10, 5), (10, 5), (10, 5), (10, 5)];
        assert_eq!(effective_runs(&cases), 40.0);
        // One sample per case is plain Wilson over runs.
        assert_eq!(effective_runs(&[(1, 1), (1, 0), (1, 1)]), 3.0);
        // Every run passed: no spread between cases to measure, so every run counts.
        assert_eq!(effective_runs(&[(5, 5), (5, 5)]), 10.0);
    }

    #[test]
    fn partly_correlated_samples_are_worth_between_the_cases_and_the_runs() {
        let cases = [(5, 5), (5, 4), (5, 1), (5, 0), (5, 3), (5, 2)];
        let effective = effective_runs(&cases);
        assert!(effective > 6.0 && effective < 30.0, "{effective}");
        // By hand: rate 0.5, spread Σ(c − 2.5)² = 17.5, variance 6/5 · 17.5 / 900 = 0.02333,
        // so 0.25 / 0.02333 = 10.71 runs.
        assert!((effective - 10.714).abs() < 1e-3, "{effective}");
    }
}
