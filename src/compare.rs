//! Paired comparison of two reports of one model: runs matched by (suite, case, sample), what was
//! fixed and what broke, stage by stage, the change of pass rate and mean score with bootstrap
//! confidence intervals, and a one-sided significance test that tells a real regression from
//! noise.
//!
//! The unit of evidence is the case. With one sample per case the test is the exact McNemar test
//! (a binomial test on the discordant pairs). With several samples per case, samples of one case
//! are not independent, so the test is a sign-flip permutation test on the per-case differences
//! in pass rate: under "no change" each case's difference is as likely to have either sign.
//! Everything random is drawn from a fixed seed, so a comparison is reproducible.

use crate::report::{CaseReport, Report, FORMAT_VERSION};
use crate::suite::Stage;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The significance level of the regression test when none is given.
pub const DEFAULT_SIGNIFICANCE: f64 = 0.05;

/// Bootstrap resamples of the cases for each confidence interval.
const BOOTSTRAP_RESAMPLES: usize = 4_000;
/// Up to this many cases that moved, the sign-flip test enumerates every sign pattern.
const EXACT_SIGN_FLIP_CASES: usize = 16;
/// Beyond it, this many random sign patterns estimate the p-value.
const RANDOM_SIGN_FLIPS: usize = 50_000;
/// The seed of every random draw: the same two reports always give the same numbers.
const SEED: u64 = 0x11b3_c0de_5eed;
/// Changes of a score smaller than this are float noise, not a change.
const SCORE_EPSILON: f64 = 1e-9;

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("cannot read the report {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a JSON report of cargo llm-bench: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path} is report format {found}; this version reads format {FORMAT_VERSION}")]
    Version { path: PathBuf, found: u64 },
}

/// Reads a JSON report written by `run` (or `merge`).
pub fn load_report(path: &Path) -> Result<Report, CompareError> {
    let text = std::fs::read_to_string(path).map_err(|source| CompareError::Read {
        path: path.to_owned(),
        source,
    })?;
    let parse_error = |source| CompareError::Parse {
        path: path.to_owned(),
        source,
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(parse_error)?;
    // Checked before the shape, so an older report says which format it is.
    if let Some(found) = value
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
    {
        if found != u64::from(FORMAT_VERSION) {
            return Err(CompareError::Version {
                path: path.to_owned(),
                found,
            });
        }
    }
    serde_json::from_value(value).map_err(parse_error)
}

/// Which run: a case of a suite, and the sample.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RunKey {
    pub suite: String,
    pub case: String,
    pub sample: u32,
}

impl std::fmt::Display for RunKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} sample {}", self.suite, self.case, self.sample)
    }
}

/// How one run's final answer fared.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RunState {
    pub passed: bool,
    pub score: f64,
    /// The first stage the final answer failed; null when it passed.
    pub failed_at: Option<Stage>,
}

impl RunState {
    fn of(case: &CaseReport) -> RunState {
        let failed_at = case
            .attempts
            .last()
            .and_then(|attempt| attempt.stages.iter().find(|stage| !stage.passed))
            .map(|stage| stage.stage);
        RunState {
            passed: case.passed,
            score: case.score,
            failed_at,
        }
    }

    fn passed_stage(case: &CaseReport, stage: Stage) -> bool {
        case.attempts.last().is_some_and(|attempt| {
            attempt
                .stages
                .iter()
                .any(|outcome| outcome.stage == stage && outcome.passed)
        })
    }

    fn describe(&self) -> String {
        match self.failed_at {
            None if self.passed => "passed".to_owned(),
            None => "failed".to_owned(),
            Some(stage) => format!("failed at {stage}"),
        }
    }
}

/// What happened to one paired run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Passed before, fails now.
    Broken,
    /// Failed before, passes now.
    Fixed,
    /// Fails both times, with a lower score now.
    Worse,
    /// Fails both times, with a higher score now.
    Better,
}

/// A paired run whose verdict or score moved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunChange {
    #[serde(flatten)]
    pub key: RunKey,
    pub change: Change,
    pub old: RunState,
    pub new: RunState,
}

/// A number of both reports over the paired runs, its change, and the change's 95% bootstrap
/// confidence interval over cases.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Delta {
    pub old: f64,
    pub new: f64,
    pub change: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// One stage over the paired runs: how many passed it on each side, and how many moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StageChange {
    pub old_passed: usize,
    pub new_passed: usize,
    pub fixed: usize,
    pub broken: usize,
}

/// Runs matched on both sides but left out because either side is invalid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LeftOut {
    pub runs: usize,
    pub invalid_old: usize,
    pub invalid_new: usize,
}

/// Which test gave the p-values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Method {
    /// One sample per case: a binomial test on the runs that were fixed or broken.
    ExactMcnemar { discordant: usize },
    /// Several samples per case: signs of the per-case pass-rate differences flipped, every
    /// pattern (`exact`) or `RANDOM_SIGN_FLIPS` random ones.
    SignFlipPermutation { cases_moved: usize, exact: bool },
}

impl Method {
    fn describe(&self) -> String {
        match self {
            Method::ExactMcnemar { discordant } => {
                format!("exact McNemar test on {discordant} discordant runs")
            }
            Method::SignFlipPermutation { cases_moved, exact } => format!(
                "sign-flip permutation test over cases ({cases_moved} moved{})",
                if *exact {
                    ", every sign pattern"
                } else {
                    ", random sign patterns"
                }
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Significance {
    pub method: Method,
    /// One-sided p-value of "NEW is worse than OLD".
    pub p_regression: f64,
    /// One-sided p-value of "NEW is better than OLD".
    pub p_improvement: f64,
    /// The level a p-value must be below to count.
    pub alpha: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    SignificantRegression,
    SignificantImprovement,
    NoSignificantChange,
}

impl Verdict {
    pub fn describe(self) -> &'static str {
        match self {
            Verdict::SignificantRegression => "significant regression",
            Verdict::SignificantImprovement => "significant improvement",
            Verdict::NoSignificantChange => "no significant change",
        }
    }
}

/// Everything `compare` and `--baseline` say about two reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub old_model: String,
    pub new_model: String,
    /// What differs between the runs besides the answers: another model, an edited suite.
    pub notes: Vec<String>,
    pub paired_runs: usize,
    pub paired_cases: usize,
    pub left_out: LeftOut,
    /// Runs only one report has: listed, never paired.
    pub only_old: Vec<RunKey>,
    pub only_new: Vec<RunKey>,
    pub pass_rate: Delta,
    pub mean_score: Delta,
    pub stages: BTreeMap<Stage, StageChange>,
    pub fixed: usize,
    pub broken: usize,
    /// Paired runs whose verdict or score moved: broken first, then fixed, worse, better.
    pub moved: Vec<RunChange>,
    pub significance: Significance,
    pub verdict: Verdict,
}

/// One paired run, as the statistics see it.
#[derive(Debug, Clone, Copy)]
struct Pair {
    old_passed: bool,
    new_passed: bool,
    old_score: f64,
    new_score: f64,
}

/// Compares NEW with OLD run by run; `alpha` is the significance level.
pub fn compare(old: &Report, new: &Report, alpha: f64) -> Comparison {
    let old_runs: BTreeMap<RunKey, &CaseReport> = by_key(old);
    let new_runs: BTreeMap<RunKey, &CaseReport> = by_key(new);
    let only_old: Vec<RunKey> = old_runs
        .keys()
        .filter(|key| !new_runs.contains_key(*key))
        .cloned()
        .collect();
    let only_new: Vec<RunKey> = new_runs
        .keys()
        .filter(|key| !old_runs.contains_key(*key))
        .cloned()
        .collect();

    let mut left_out = LeftOut::default();
    let mut by_case: BTreeMap<(String, String), Vec<Pair>> = BTreeMap::new();
    let mut stages: BTreeMap<Stage, StageChange> = BTreeMap::new();
    let mut moved = Vec::new();
    for (key, old_case) in &old_runs {
        let Some(new_case) = new_runs.get(key) else {
            continue;
        };
        if old_case.invalid || new_case.invalid {
            left_out.runs += 1;
            left_out.invalid_old += usize::from(old_case.invalid);
            left_out.invalid_new += usize::from(new_case.invalid);
            continue;
        }
        for stage in Stage::ALL {
            let before = RunState::passed_stage(old_case, stage);
            let after = RunState::passed_stage(new_case, stage);
            if !before && !after && !reached(old_case, stage) && !reached(new_case, stage) {
                continue;
            }
            let change = stages.entry(stage).or_default();
            change.old_passed += usize::from(before);
            change.new_passed += usize::from(after);
            change.fixed += usize::from(!before && after);
            change.broken += usize::from(before && !after);
        }
        let (old_state, new_state) = (RunState::of(old_case), RunState::of(new_case));
        let change = match (old_state.passed, new_state.passed) {
            (true, false) => Some(Change::Broken),
            (false, true) => Some(Change::Fixed),
            _ if new_state.score < old_state.score - SCORE_EPSILON => Some(Change::Worse),
            _ if new_state.score > old_state.score + SCORE_EPSILON => Some(Change::Better),
            _ => None,
        };
        if let Some(change) = change {
            moved.push(RunChange {
                key: key.clone(),
                change,
                old: old_state,
                new: new_state,
            });
        }
        by_case
            .entry((key.suite.clone(), key.case.clone()))
            .or_default()
            .push(Pair {
                old_passed: old_state.passed,
                new_passed: new_state.passed,
                old_score: old_state.score,
                new_score: new_state.score,
            });
    }
    moved.sort_by(|a, b| a.change.cmp(&b.change).then_with(|| a.key.cmp(&b.key)));

    let cases: Vec<Vec<Pair>> = by_case.into_values().collect();
    let pairs: Vec<Pair> = cases.iter().flatten().copied().collect();
    let fixed = pairs
        .iter()
        .filter(|p| !p.old_passed && p.new_passed)
        .count();
    let broken = pairs
        .iter()
        .filter(|p| p.old_passed && !p.new_passed)
        .count();
    let significance = significance(&cases, fixed, broken, alpha);
    let verdict = if significance.p_regression < alpha {
        Verdict::SignificantRegression
    } else if significance.p_improvement < alpha {
        Verdict::SignificantImprovement
    } else {
        Verdict::NoSignificantChange
    };
    let pass = |passed: bool| if passed { 1.0 } else { 0.0 };
    Comparison {
        old_model: old.label(),
        new_model: new.label(),
        notes: notes(old, new),
        paired_runs: pairs.len(),
        paired_cases: cases.len(),
        left_out,
        only_old,
        only_new,
        pass_rate: delta(&cases, |p| (pass(p.old_passed), pass(p.new_passed))),
        mean_score: delta(&cases, |p| (p.old_score, p.new_score)),
        stages,
        fixed,
        broken,
        moved,
        significance,
        verdict,
    }
}

fn by_key(report: &Report) -> BTreeMap<RunKey, &CaseReport> {
    report
        .cases
        .iter()
        .map(|case| {
            (
                RunKey {
                    suite: case.suite.clone(),
                    case: case.case.clone(),
                    sample: case.sample,
                },
                case,
            )
        })
        .collect()
}

/// Whether the final answer got as far as running `stage`.
fn reached(case: &CaseReport, stage: Stage) -> bool {
    case.attempts
        .last()
        .is_some_and(|attempt| attempt.stages.iter().any(|s| s.stage == stage))
}

/// What makes the two runs differ besides the model's answers.
fn notes(old: &Report, new: &Report) -> Vec<String> {
    let mut notes = Vec::new();
    if old.label() != new.label() {
        notes.push(format!(
            "the reports are of different models: {} and {}",
            old.label(),
            new.label()
        ));
    }
    for new_suite in &new.suites {
        match old.suites.iter().find(|s| s.name == new_suite.name) {
            Some(old_suite) if old_suite.hash != new_suite.hash => notes.push(format!(
                "suite {} changed between the runs; its cases are paired by id",
                new_suite.name
            )),
            Some(_) => {}
            None => notes.push(format!("suite {} is only in NEW", new_suite.name)),
        }
    }
    for old_suite in &old.suites {
        if !new.suites.iter().any(|s| s.name == old_suite.name) {
            notes.push(format!("suite {} is only in OLD", old_suite.name));
        }
    }
    for (report, side) in [(old, "OLD"), (new, "NEW")] {
        if !report.complete {
            notes.push(format!("the {side} run was interrupted before its end"));
        }
    }
    notes
}

/// The one-sided p-values of regression and improvement.
fn significance(cases: &[Vec<Pair>], fixed: usize, broken: usize, alpha: f64) -> Significance {
    if cases.iter().all(|pairs| pairs.len() == 1) {
        let discordant = fixed + broken;
        return Significance {
            method: Method::ExactMcnemar { discordant },
            p_regression: binomial_upper_tail(discordant, broken),
            p_improvement: binomial_upper_tail(discordant, fixed),
            alpha,
        };
    }
    let differences: Vec<f64> = cases
        .iter()
        .map(|pairs| {
            let moved: i64 = pairs
                .iter()
                .map(|p| i64::from(p.new_passed) - i64::from(p.old_passed))
                .sum();
            moved as f64 / pairs.len() as f64
        })
        .filter(|difference| difference.abs() > SCORE_EPSILON)
        .collect();
    let (p_regression, p_improvement, exact) = sign_flip(&differences);
    Significance {
        method: Method::SignFlipPermutation {
            cases_moved: differences.len(),
            exact,
        },
        p_regression,
        p_improvement,
        alpha,
    }
}

/// P(X ≥ k) for X ~ Binomial(n, ½): the one-sided exact McNemar p-value of k runs moving one way
/// out of n that moved at all. Summed in log space, so thousands of runs do not underflow.
pub fn binomial_upper_tail(n: usize, k: usize) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    let n_f = n as f64;
    let half_power = n_f * std::f64::consts::LN_2;
    let mut log_choose = 0.0; // ln C(n, 0)
    let mut tail = 0.0;
    for j in 0..=n {
        if j >= k {
            tail += (log_choose - half_power).exp();
        }
        if j < n {
            log_choose += (n_f - j as f64).ln() - (j as f64 + 1.0).ln();
        }
    }
    tail.min(1.0)
}

/// Sign-flip permutation test of the per-case differences (new − old): the share of sign
/// patterns whose sum is at most (regression) and at least (improvement) the observed one.
/// Returns both p-values and whether every pattern was counted.
fn sign_flip(differences: &[f64]) -> (f64, f64, bool) {
    let observed: f64 = differences.iter().sum();
    let tolerance = 1e-9;
    let mut at_most = 0usize;
    let mut at_least = 0usize;
    let mut count = |total: f64| {
        at_most += usize::from(total <= observed + tolerance);
        at_least += usize::from(total >= observed - tolerance);
    };
    if differences.len() <= EXACT_SIGN_FLIP_CASES {
        let patterns = 1usize << differences.len();
        for pattern in 0..patterns {
            let total: f64 = differences
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    if pattern >> i & 1 == 1 {
                        -d.abs()
                    } else {
                        d.abs()
                    }
                })
                .sum();
            count(total);
        }
        (
            at_most as f64 / patterns as f64,
            at_least as f64 / patterns as f64,
            true,
        )
    } else {
        let mut rng = fastrand::Rng::with_seed(SEED);
        for _ in 0..RANDOM_SIGN_FLIPS {
            let total: f64 = differences
                .iter()
                .map(|d| if rng.bool() { -d.abs() } else { d.abs() })
                .sum();
            count(total);
        }
        // The observed pattern counts as one of the draws, so a p-value is never 0.
        let draws = (RANDOM_SIGN_FLIPS + 1) as f64;
        (
            (at_most + 1) as f64 / draws,
            (at_least + 1) as f64 / draws,
            false,
        )
    }
}

/// Old and new means over the paired runs, and the 95% percentile-bootstrap interval of the
/// change with cases resampled (the runs of a case stay together).
fn delta(cases: &[Vec<Pair>], value: impl Fn(&Pair) -> (f64, f64)) -> Delta {
    let totals: Vec<(f64, f64, usize)> = cases
        .iter()
        .map(|pairs| {
            pairs.iter().fold((0.0, 0.0, 0), |(old, new, n), pair| {
                let (before, after) = value(pair);
                (old + before, new + after, n + 1)
            })
        })
        .collect();
    let means = |picked: &mut dyn Iterator<Item = &(f64, f64, usize)>| {
        let (old, new, n) = picked.fold((0.0, 0.0, 0), |(old, new, n), case| {
            (old + case.0, new + case.1, n + case.2)
        });
        if n == 0 {
            (0.0, 0.0)
        } else {
            (old / n as f64, new / n as f64)
        }
    };
    let (old, new) = means(&mut totals.iter());
    if totals.is_empty() {
        return Delta {
            old,
            new,
            change: 0.0,
            ci_low: 0.0,
            ci_high: 0.0,
        };
    }
    let mut rng = fastrand::Rng::with_seed(SEED);
    let mut changes: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            let (old, new) =
                means(&mut (0..totals.len()).map(|_| &totals[rng.usize(..totals.len())]));
            new - old
        })
        .collect();
    changes.sort_by(f64::total_cmp);
    let at = |share: f64| changes[((share * changes.len() as f64) as usize).min(changes.len() - 1)];
    Delta {
        old,
        new,
        change: new - old,
        ci_low: at(0.025),
        ci_high: at(0.975),
    }
}

/// How many moved runs the text and Markdown list before "… and N more".
const MOVED_SHOWN: usize = 20;

impl Comparison {
    /// Whether `--fail-on-regression` fails on this comparison.
    pub fn is_significant_regression(&self) -> bool {
        self.verdict == Verdict::SignificantRegression
    }

    /// The p-value that decided the verdict, as `--fail-on-regression` prints it.
    pub fn headline(&self) -> String {
        format!(
            "{}: {} at α = {} (one-sided p = {} for a regression; {} broken, {} fixed)",
            self.new_model,
            self.verdict.describe(),
            self.significance.alpha,
            p_value(self.significance.p_regression),
            self.broken,
            self.fixed
        )
    }

    /// The comparison for a terminal.
    pub fn render_text(&self) -> String {
        let mut text = String::new();
        let title = if self.old_model == self.new_model {
            format!("compare {}", self.new_model)
        } else {
            format!("compare {} → {}", self.old_model, self.new_model)
        };
        let _ = writeln!(
            text,
            "{title}: {} paired runs over {} cases",
            self.paired_runs, self.paired_cases
        );
        for note in &self.notes {
            let _ = writeln!(text, "  note: {note}");
        }
        self.write_left_out(&mut text, "  ");
        let _ = writeln!(
            text,
            "  {:<12} {:>7} {:>7} {:>8}  95% CI",
            "", "old", "new", "change"
        );
        for (name, delta) in [
            ("pass rate", self.pass_rate),
            ("mean score", self.mean_score),
        ] {
            let _ = writeln!(
                text,
                "  {name:<12} {:>7.3} {:>7.3} {:>+8.3}  [{:+.3}, {:+.3}]",
                delta.old, delta.new, delta.change, delta.ci_low, delta.ci_high
            );
        }
        for (stage, change) in &self.stages {
            let _ = writeln!(
                text,
                "  {:<12} {:>7} {:>7} {:>+8}  {} fixed, {} broken",
                stage.name(),
                change.old_passed,
                change.new_passed,
                change.new_passed as i64 - change.old_passed as i64,
                change.fixed,
                change.broken
            );
        }
        if !self.moved.is_empty() {
            let _ = writeln!(text, "  moved:");
            for run in self.moved.iter().take(MOVED_SHOWN) {
                let _ = writeln!(text, "    {}", describe_move(run));
            }
            if self.moved.len() > MOVED_SHOWN {
                let _ = writeln!(
                    text,
                    "    … and {} more (--format json lists all)",
                    self.moved.len() - MOVED_SHOWN
                );
            }
        }
        let _ = writeln!(
            text,
            "  test: {}; one-sided p = {} (regression), {} (improvement)",
            self.significance.method.describe(),
            p_value(self.significance.p_regression),
            p_value(self.significance.p_improvement)
        );
        let _ = write!(
            text,
            "  verdict: {} at α = {}",
            self.verdict.describe(),
            self.significance.alpha
        );
        text
    }

    /// The comparison as a Markdown section, for the `--summary` file.
    pub fn to_markdown(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "#### {}: {} (one-sided p = {}, α = {})\n",
            self.new_model,
            self.verdict.describe(),
            p_value(self.significance.p_regression),
            self.significance.alpha
        );
        for note in &self.notes {
            let _ = writeln!(text, "> {note}\n");
        }
        let _ = writeln!(text, "| | old | new | change | 95% CI |");
        let _ = writeln!(text, "|---|---:|---:|---:|---|");
        for (name, delta) in [
            ("pass rate", self.pass_rate),
            ("mean score", self.mean_score),
        ] {
            let _ = writeln!(
                text,
                "| {name} | {:.3} | {:.3} | {:+.3} | [{:+.3}, {:+.3}] |",
                delta.old, delta.new, delta.change, delta.ci_low, delta.ci_high
            );
        }
        let _ = writeln!(
            text,
            "\n{} paired runs over {} cases; {}.",
            self.paired_runs,
            self.paired_cases,
            self.significance.method.describe()
        );
        self.write_left_out(&mut text, "");
        let pass_fail: Vec<&RunChange> = self
            .moved
            .iter()
            .filter(|run| matches!(run.change, Change::Broken | Change::Fixed))
            .collect();
        if !pass_fail.is_empty() {
            text.push('\n');
            for run in pass_fail.iter().take(MOVED_SHOWN) {
                let _ = writeln!(text, "- {}", describe_move(run).replace('`', "'"));
            }
            if pass_fail.len() > MOVED_SHOWN {
                let _ = writeln!(
                    text,
                    "- … and {} more in `cargo llm-bench compare --format json`",
                    pass_fail.len() - MOVED_SHOWN
                );
            }
        }
        text
    }

    fn write_left_out(&self, text: &mut String, indent: &str) {
        if self.left_out.runs > 0 {
            let _ = writeln!(
                text,
                "{indent}left out: {} invalid on a side ({} in old, {} in new)",
                runs(self.left_out.runs),
                self.left_out.invalid_old,
                self.left_out.invalid_new
            );
        }
        for (side, keys) in [("old", &self.only_old), ("new", &self.only_new)] {
            if !keys.is_empty() {
                let shown: Vec<String> = keys.iter().take(5).map(ToString::to_string).collect();
                let more = if keys.len() > 5 {
                    format!(", … {} more", keys.len() - 5)
                } else {
                    String::new()
                };
                let _ = writeln!(
                    text,
                    "{indent}only in {side} (not paired): {}: {}{more}",
                    runs(keys.len()),
                    shown.join(", ")
                );
            }
        }
    }
}

/// All comparisons of a run as Markdown, for `report::markdown::render(.., comparisons)`.
pub fn to_markdown(comparisons: &[Comparison]) -> String {
    comparisons
        .iter()
        .map(Comparison::to_markdown)
        .collect::<Vec<_>>()
        .join("\n")
}

/// `1 run`, `3 runs`.
fn runs(count: usize) -> String {
    format!("{count} run{}", if count == 1 { "" } else { "s" })
}

fn describe_move(run: &RunChange) -> String {
    let word = match run.change {
        Change::Broken => "broken",
        Change::Fixed => "fixed ",
        Change::Worse => "worse ",
        Change::Better => "better",
    };
    format!(
        "{word} {}: {} → {} (score {:.2} → {:.2})",
        run.key,
        run.old.describe(),
        run.new.describe(),
        run.old.score,
        run.new.score
    )
}

/// A p-value with the digits that matter: 0.0312, 0.5, 1.2e-5.
fn p_value(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        let text = format!("{p:.4}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(old_passed: bool, new_passed: bool) -> Pair {
        Pair {
            old_passed,
            new_passed,
            old_score: if old_passed { 1.0 } else { 0.3 },
            new_score: if new_passed { 1.0 } else { 0.3 },
        }
    }

    #[test]
    fn the_exact_mcnemar_tail_matches_known_values() {
        // Five runs broke and none was fixed: (½)^5.
        assert!((binomial_upper_tail(5, 5) - 0.03125).abs() < 1e-12);
        // 6 of 7 discordant runs broke: (C(7,6) + C(7,7)) / 2^7 = 8/128.
        assert!((binomial_upper_tail(7, 6) - 0.0625).abs() < 1e-12);
        // 10 of 12: (66 + 12 + 1) / 4096, as scipy.stats.binomtest(10, 12, alternative="greater").
        assert!((binomial_upper_tail(12, 10) - 79.0 / 4096.0).abs() < 1e-12);
        // One broken run alone is a coin flip.
        assert!((binomial_upper_tail(1, 1) - 0.5).abs() < 1e-12);
        assert_eq!(binomial_upper_tail(3, 0), 1.0);
        assert_eq!(binomial_upper_tail(0, 0), 1.0);
    }

    #[test]
    fn the_binomial_tail_of_thousands_of_runs_does_not_underflow() {
        // Symmetric: P(X ≥ 1000) for n = 2000 is just above one half.
        let p = binomial_upper_tail(2000, 1000);
        assert!(p > 0.5 && p < 0.52, "{p}");
        assert!(binomial_upper_tail(2000, 1200) < 1e-10);
    }

    #[test]
    fn one_sample_per_case_uses_mcnemar_on_the_discordant_runs() {
        let mut cases: Vec<Vec<Pair>> = (0..5).map(|_| vec![pair(true, false)]).collect();
        cases.extend((0..10).map(|_| vec![pair(true, true)]));
        let result = significance(&cases, 0, 5, 0.05);
        assert_eq!(result.method, Method::ExactMcnemar { discordant: 5 });
        assert!((result.p_regression - 0.03125).abs() < 1e-12);
        assert_eq!(result.p_improvement, 1.0);
    }

    #[test]
    fn several_samples_per_case_use_the_sign_flip_test_over_cases() {
        // Four cases each lost two of three samples: the only pattern as low is the observed one.
        let cases: Vec<Vec<Pair>> = (0..4)
            .map(|_| vec![pair(true, false), pair(true, false), pair(true, true)])
            .collect();
        let result = significance(&cases, 0, 8, 0.05);
        assert_eq!(
            result.method,
            Method::SignFlipPermutation {
                cases_moved: 4,
                exact: true
            }
        );
        assert!((result.p_regression - 1.0 / 16.0).abs() < 1e-12);
        assert_eq!(result.p_improvement, 1.0);
    }

    #[test]
    fn a_single_flipped_case_is_never_significant() {
        let mut cases: Vec<Vec<Pair>> = vec![vec![pair(true, false), pair(true, false)]];
        cases.extend((0..9).map(|_| vec![pair(true, true), pair(false, false)]));
        let result = significance(&cases, 0, 2, 0.05);
        assert_eq!(result.p_regression, 0.5);
    }

    #[test]
    fn many_moved_cases_are_tested_with_seeded_random_sign_patterns() {
        let mut cases: Vec<Vec<Pair>> = (0..30)
            .map(|_| vec![pair(true, false), pair(true, true)])
            .collect();
        cases.extend((0..10).map(|_| vec![pair(false, true), pair(true, true)]));
        let first = significance(&cases, 10, 30, 0.05);
        assert_eq!(
            first.method,
            Method::SignFlipPermutation {
                cases_moved: 40,
                exact: false
            }
        );
        // 30 of 40 moved cases down: about the binomial tail P(X ≥ 30 | n = 40) ≈ 0.0011.
        assert!(first.p_regression < 0.005, "{}", first.p_regression);
        assert_eq!(first, significance(&cases, 10, 30, 0.05));
    }

    #[test]
    fn the_bootstrap_interval_holds_the_change_and_is_reproducible() {
        let cases: Vec<Vec<Pair>> = (0..20)
            .map(|i| vec![pair(true, i % 4 != 0), pair(i % 2 == 0, i % 2 == 0)])
            .collect();
        let passed = |p: &Pair| {
            (
                f64::from(u8::from(p.old_passed)),
                f64::from(u8::from(p.new_passed)),
            )
        };
        let result = delta(&cases, passed);
        assert!((result.old - 0.75).abs() < 1e-12);
        assert!((result.new - 0.625).abs() < 1e-12);
        assert!(result.ci_low <= result.change && result.change <= result.ci_high);
        assert!(result.ci_low < 0.0, "{result:?}");
        assert_eq!(result, delta(&cases, passed));
    }

    fn report(model: &str, runs: &[(&str, u32, Option<bool>)]) -> Report {
        use crate::report::{SuiteInfo, Summary, Tool};
        Report {
            format_version: FORMAT_VERSION,
            tool: Tool {
                name: "cargo-llm-bench".to_owned(),
                version: "0".to_owned(),
            },
            rustc: "rustc 1.0".to_owned(),
            created: "2026-11-30T00:00:00Z".to_owned(),
            sandbox: "none".to_owned(),
            complete: true,
            partition: None,
            provider: "ollama".to_owned(),
            model: model.to_owned(),
            suites: vec![SuiteInfo {
                name: "s".to_owned(),
                path: "s.yaml".to_owned(),
                hash: "h".to_owned(),
                cases: runs.len(),
            }],
            samples: 1,
            weights: crate::score::Weights::default(),
            summary: Summary::default(),
            // `None` is an invalid run.
            cases: runs
                .iter()
                .map(|&(case, sample, passed)| CaseReport {
                    suite: "s".to_owned(),
                    case: case.to_owned(),
                    sample,
                    passed: passed == Some(true),
                    score: if passed == Some(true) { 1.0 } else { 0.0 },
                    first_try_passed: passed == Some(true),
                    repairs: 0,
                    invalid: passed.is_none(),
                    invalid_reason: None,
                    provider_error: None,
                    repair_stop: None,
                    attempts: Vec::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn invalid_runs_are_left_out_and_runs_of_one_side_are_listed_not_paired() {
        let old = report(
            "x",
            &[
                ("a", 0, Some(true)),
                ("b", 0, Some(true)),
                ("c", 0, None),
                ("gone", 0, Some(true)),
            ],
        );
        let new = report(
            "x",
            &[
                ("a", 0, Some(false)),
                ("b", 0, None),
                ("c", 0, Some(true)),
                ("added", 0, Some(false)),
            ],
        );
        let comparison = compare(&old, &new, 0.05);
        assert_eq!((comparison.paired_runs, comparison.broken), (1, 1));
        assert_eq!(
            comparison.left_out,
            LeftOut {
                runs: 2,
                invalid_old: 1,
                invalid_new: 1
            }
        );
        let names = |keys: &[RunKey]| keys.iter().map(|k| k.case.clone()).collect::<Vec<_>>();
        assert_eq!(names(&comparison.only_old), ["gone"]);
        assert_eq!(names(&comparison.only_new), ["added"]);
        assert_eq!(comparison.verdict, Verdict::NoSignificantChange);
        let text = comparison.render_text();
        assert!(
            text.contains("left out: 2 runs invalid on a side (1 in old, 1 in new)"),
            "{text}"
        );
        assert!(
            text.contains("only in new (not paired): 1 run: s/added sample 0"),
            "{text}"
        );
    }

    #[test]
    fn the_markdown_section_names_the_verdict_the_p_value_and_the_runs_that_moved() {
        let cases = ["a", "b", "c", "d", "e", "f"];
        let old: Vec<(&str, u32, Option<bool>)> =
            cases.iter().map(|&c| (c, 0, Some(true))).collect();
        let new: Vec<(&str, u32, Option<bool>)> =
            cases.iter().map(|&c| (c, 0, Some(false))).collect();
        let comparison = compare(&report("x", &old), &report("y", &new), 0.05);
        let markdown = to_markdown(&[comparison]);
        assert!(
            markdown.starts_with(
                "#### ollama:y: significant regression (one-sided p = 0.0156, α = 0.05)"
            ),
            "{markdown}"
        );
        assert!(
            markdown.contains("> the reports are of different models: ollama:x and ollama:y"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| pass rate | 1.000 | 0.000 | -1.000 |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("- broken s/a sample 0: passed → failed"),
            "{markdown}"
        );
    }

    #[test]
    fn p_values_keep_the_digits_that_matter() {
        assert_eq!(p_value(0.03125), "0.0312");
        assert_eq!(p_value(0.5), "0.5");
        assert_eq!(p_value(1.0), "1");
        assert_eq!(p_value(0.000012), "1.2e-5");
    }
}
