//! Ranks the candidate models of `optimize` under a policy: the ordered rows, the Pareto frontier
//! of score against speed, and the recommendation with one sentence saying why. Pure: no I/O.
//!
//! The score that ranks is the pass rate over valid runs (the share of cases whose code passed
//! every stage), with its 95% interval; the mean score (partial credit) orders models whose pass
//! rates are equal. Speed is the median decode rate in tokens per second.

use crate::report::Report;
use crate::suite::Stage;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// z for a two-sided 95% interval.
const Z_95: f64 = 1.959_963_984_540_054;

/// A closed range of rates in 0..=1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    /// The Wilson score interval at 95% for `passed` of `runs`; None when nothing ran.
    ///
    /// Wilson rather than the normal approximation, because suites are small and pass rates
    /// sit near 0 and 1, where the normal interval collapses to a point or leaves 0..=1.
    pub fn wilson(passed: usize, runs: usize) -> Option<Interval> {
        if runs == 0 {
            return None;
        }
        let n = runs as f64;
        let p = passed.min(runs) as f64 / n;
        let z2 = Z_95 * Z_95;
        let denominator = 1.0 + z2 / n;
        let centre = (p + z2 / (2.0 * n)) / denominator;
        let half_width = Z_95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
        Some(Interval {
            low: (centre - half_width).max(0.0),
            high: (centre + half_width).min(1.0),
        })
    }

    pub fn contains(&self, rate: f64) -> bool {
        // The bounds are computed in floating point; a rate on the edge is inside.
        self.low - 1e-12 <= rate && rate <= self.high + 1e-12
    }
}

/// One model as `optimize` weighs it: what the provider says about it and what its run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// As written on the command line (`qwen:qwen2.5-coder-1.5b`); matches `Report::label`.
    pub label: String,
    /// Parameters (1.5e9), from the provider's model listing when it gives them.
    pub parameters: Option<f64>,
    pub quantization: Option<String>,
    /// Memory the loaded model takes, where the provider tells it (Ollama `/api/ps`).
    pub memory_bytes: Option<u64>,
    /// Valid runs whose final attempt passed every stage, over valid runs; 0 without valid runs.
    pub pass_rate: f64,
    /// The pass rate's 95% interval; None without valid runs.
    pub pass_rate_interval: Option<Interval>,
    pub mean_score: f64,
    pub stage_pass_rates: BTreeMap<Stage, Option<f64>>,
    pub first_try_pass_rate: f64,
    pub after_repair_pass_rate: f64,
    pub ttft_p50_ms: Option<f64>,
    /// Median decode rate; None for offline answers, which measure no speed.
    pub tokens_per_second: Option<f64>,
    /// Generation time over valid runs, repairs included; None without valid runs.
    pub seconds_per_case: Option<f64>,
    pub valid_runs: usize,
    pub invalid_runs: usize,
}

impl Candidate {
    /// The candidate a model's report describes, without size, quantization or memory (the
    /// provider's listing has those). `pass_rate_interval` is the model summary's own interval
    /// when it has one; without it, the Wilson interval of passed over valid runs is used.
    pub fn from_report(report: &Report, pass_rate_interval: Option<(f64, f64)>) -> Candidate {
        let summary = &report.summary;
        let valid_runs = summary.valid_runs;
        let pass_rate = if valid_runs == 0 {
            0.0
        } else {
            summary.passed as f64 / valid_runs as f64
        };
        let pass_rate_interval = if valid_runs == 0 {
            None
        } else {
            pass_rate_interval
                .map(|(low, high)| Interval { low, high })
                .or_else(|| Interval::wilson(summary.passed, valid_runs))
        };
        Candidate {
            label: report.label(),
            parameters: None,
            quantization: None,
            memory_bytes: None,
            pass_rate,
            pass_rate_interval,
            mean_score: summary.mean_score,
            stage_pass_rates: summary.stage_pass_rates.clone(),
            first_try_pass_rate: summary.first_try_pass_rate,
            after_repair_pass_rate: summary.after_repair_pass_rate,
            ttft_p50_ms: summary.ttft_ms.p50,
            tokens_per_second: summary.decode_tokens_per_second.p50,
            seconds_per_case: (valid_runs > 0)
                .then(|| summary.generation_ms as f64 / 1000.0 / valid_runs as f64),
            valid_runs,
            invalid_runs: summary.invalid.total,
        }
    }

    /// "0.75 [0.30, 0.95]": the pass rate and its interval, or "no valid runs".
    pub fn pass_rate_text(&self) -> String {
        match self.pass_rate_interval {
            Some(interval) => format!(
                "{:.2} [{:.2}, {:.2}]",
                self.pass_rate, interval.low, interval.high
            ),
            None => "no valid runs".to_owned(),
        }
    }
}

/// Parameters from a provider's size text: `7.6B`, `494.03M`, `1.5b`, `270m`, `8x7B` (the
/// product). None for anything else.
pub fn parse_parameter_count(text: &str) -> Option<f64> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let number = &text[..text.len() - unit.len_utf8()];
    let scale = match unit.to_ascii_uppercase() {
        'K' => 1e3,
        'M' => 1e6,
        'B' | 'G' => 1e9,
        'T' => 1e12,
        _ => return None,
    };
    let count = match number.split_once(['x', 'X']) {
        Some((experts, each)) => experts.parse::<f64>().ok()? * each.parse::<f64>().ok()?,
        None => number.parse::<f64>().ok()?,
    };
    (count.is_finite() && count > 0.0).then_some(count * scale)
}

/// "1.5B", "270M", "7B": parameters as people write them.
pub fn format_parameters(parameters: f64) -> String {
    if parameters >= 1e9 {
        let text = format!("{:.1}", parameters / 1e9);
        format!("{}B", text.strip_suffix(".0").unwrap_or(&text))
    } else {
        format!("{:.0}M", parameters / 1e6)
    }
}

/// What `optimize` recommends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Policy {
    /// The best pass rate; models whose pass rates cannot be told apart go to the faster one.
    BestScore,
    /// The smallest model, then the fastest, whose pass rate reaches this.
    TargetScore(f64),
    /// The best pass rate among models that take at most this many seconds per case.
    MaxSecondsPerCase(f64),
}

/// Why a candidate cannot be recommended under the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exclusion {
    /// More of its runs were invalid than valid: too little to judge it by, and a sign the run's
    /// budget (max_tokens, the timeout) does not suit the model.
    MostlyInvalid,
    /// Every run was invalid: there is nothing to judge it by.
    NoValidRuns,
    BelowTarget,
    OverBudget,
}

impl Exclusion {
    pub fn describe(self) -> &'static str {
        match self {
            Exclusion::MostlyInvalid => "mostly invalid runs",
            Exclusion::NoValidRuns => "no valid runs",
            Exclusion::BelowTarget => "below the target",
            Exclusion::OverBudget => "over the time budget",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RankedCandidate {
    pub candidate: Candidate,
    /// None when the policy allows it.
    pub excluded: Option<Exclusion>,
    /// No other candidate is at least as good on both pass rate and speed and better on one.
    pub on_frontier: bool,
}

/// The candidates in the policy's order: those it allows first, the recommendation at the top.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    pub policy: Policy,
    pub rows: Vec<RankedCandidate>,
    /// One sentence: why the recommendation won and what the runner-up would give up, or why no
    /// candidate meets the policy.
    pub verdict: String,
}

impl Ranking {
    /// The first row, when the policy allows it.
    pub fn recommendation(&self) -> Option<&Candidate> {
        self.rows
            .first()
            .filter(|row| row.excluded.is_none())
            .map(|row| &row.candidate)
    }

    /// The frontier from the fastest model to the best-scoring one.
    pub fn frontier(&self) -> Vec<&Candidate> {
        let mut frontier: Vec<&Candidate> = self
            .rows
            .iter()
            .filter(|row| row.on_frontier)
            .map(|row| &row.candidate)
            .collect();
        frontier.sort_by(|a, b| {
            faster(a, b)
                .then_with(|| a.pass_rate.total_cmp(&b.pass_rate))
                .then_with(|| a.label.cmp(&b.label))
        });
        frontier
    }
}

/// Orders the candidates under `policy` and says which one to use and why.
pub fn rank(candidates: Vec<Candidate>, policy: Policy) -> Ranking {
    let frontier = frontier_flags(&candidates);
    let mut pool: Vec<RankedCandidate> = candidates
        .into_iter()
        .zip(frontier)
        .map(|(candidate, on_frontier)| RankedCandidate {
            excluded: exclusion(&candidate, policy),
            candidate,
            on_frontier,
        })
        .collect();
    let mut rows = Vec::with_capacity(pool.len());
    // Allowed first, then the rest, each in the policy's order; without valid runs last.
    for class in [
        None,
        Some(Exclusion::BelowTarget),
        Some(Exclusion::OverBudget),
        Some(Exclusion::MostlyInvalid),
        Some(Exclusion::NoValidRuns),
    ] {
        let (mut group, rest): (Vec<_>, Vec<_>) =
            pool.into_iter().partition(|row| row.excluded == class);
        pool = rest;
        match (policy, class) {
            (Policy::TargetScore(_), None) => {
                group.sort_by(|a, b| smallest_then_fastest(&a.candidate, &b.candidate));
                rows.extend(group);
            }
            _ => rows.extend(best_score_order(group)),
        }
    }
    let verdict = verdict(&rows, policy);
    Ranking {
        policy,
        rows,
        verdict,
    }
}

fn exclusion(candidate: &Candidate, policy: Policy) -> Option<Exclusion> {
    if candidate.valid_runs == 0 {
        return Some(Exclusion::NoValidRuns);
    }
    if candidate.invalid_runs > candidate.valid_runs {
        return Some(Exclusion::MostlyInvalid);
    }
    match policy {
        Policy::BestScore => None,
        // A pass rate is a ratio of counts; the epsilon keeps 0.8 from missing 4/5 by rounding.
        Policy::TargetScore(target) => {
            (candidate.pass_rate + 1e-9 < target).then_some(Exclusion::BelowTarget)
        }
        Policy::MaxSecondsPerCase(budget) => match candidate.seconds_per_case {
            Some(seconds) if seconds <= budget => None,
            _ => Some(Exclusion::OverBudget),
        },
    }
}

/// Whether two pass rates cannot be told apart: each lies inside the other's 95% interval.
///
/// Mere overlap of the intervals is too weak on the small suites people run: 1 of 5 against 4
/// of 5 overlap ([0.04, 0.62] and [0.38, 0.96]), and a tie would hand the win to the faster
/// model that failed four cases in five. Each estimate inside the other's interval still ties
/// 2 of 5 with 3 of 5, which no suite that size can separate.
pub fn indistinguishable(a: &Candidate, b: &Candidate) -> bool {
    match (a.pass_rate_interval, b.pass_rate_interval) {
        (Some(a_interval), Some(b_interval)) => {
            a_interval.contains(b.pass_rate) && b_interval.contains(a.pass_rate)
        }
        _ => false,
    }
}

/// Better pass rate first, then better mean score, then the label for a stable order.
fn by_score(a: &Candidate, b: &Candidate) -> Ordering {
    b.pass_rate
        .total_cmp(&a.pass_rate)
        .then_with(|| b.mean_score.total_cmp(&a.mean_score))
        .then_with(|| a.label.cmp(&b.label))
}

/// Faster first; a model whose speed was not measured after every measured one.
fn faster(a: &Candidate, b: &Candidate) -> Ordering {
    match (a.tokens_per_second, b.tokens_per_second) {
        (Some(a), Some(b)) => b.total_cmp(&a),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Fewer parameters first (unknown sizes last), then faster, then better.
fn smallest_then_fastest(a: &Candidate, b: &Candidate) -> Ordering {
    let size = match (a.parameters, b.parameters) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    size.then_with(|| faster(a, b)).then_with(|| by_score(a, b))
}

/// Repeatedly takes the best remaining model, or the fastest one whose pass rate cannot be told
/// apart from it.
fn best_score_order(mut pool: Vec<RankedCandidate>) -> Vec<RankedCandidate> {
    let mut ordered = Vec::with_capacity(pool.len());
    pool.sort_by(|a, b| by_score(&a.candidate, &b.candidate));
    while !pool.is_empty() {
        let leader = &pool[0].candidate;
        let chosen = (0..pool.len())
            .filter(|&index| index == 0 || indistinguishable(leader, &pool[index].candidate))
            .min_by(|&a, &b| {
                faster(&pool[a].candidate, &pool[b].candidate)
                    .then_with(|| by_score(&pool[a].candidate, &pool[b].candidate))
            })
            .unwrap_or(0);
        ordered.push(pool.remove(chosen));
    }
    ordered
}

/// Which candidates are on the Pareto frontier of pass rate against tokens per second. A model
/// without a measured speed has no place on that plane, and one without enough valid runs to
/// judge has no pass rate worth placing.
fn frontier_flags(candidates: &[Candidate]) -> Vec<bool> {
    let placed = |c: &Candidate| {
        c.valid_runs > 0 && c.invalid_runs <= c.valid_runs && c.tokens_per_second.is_some()
    };
    candidates
        .iter()
        .map(|candidate| {
            placed(candidate)
                && !candidates
                    .iter()
                    .filter(|other| placed(other))
                    .any(|other| dominates(other, candidate))
        })
        .collect()
}

fn dominates(a: &Candidate, b: &Candidate) -> bool {
    let (Some(a_speed), Some(b_speed)) = (a.tokens_per_second, b.tokens_per_second) else {
        return false;
    };
    a.pass_rate >= b.pass_rate
        && a_speed >= b_speed
        && (a.pass_rate > b.pass_rate || a_speed > b_speed)
}

/// "2.1× faster" / "1.4× slower" for `a` against `b`, when both speeds were measured; within
/// 10% "slightly faster" with both rates, as "1.0× faster" reads as no difference at all.
fn speed_comparison(a: &Candidate, b: &Candidate) -> Option<String> {
    let (a_speed, b_speed) = (a.tokens_per_second?, b.tokens_per_second?);
    if a_speed <= 0.0 || b_speed <= 0.0 {
        return None;
    }
    let (ratio, direction) = if a_speed >= b_speed {
        (a_speed / b_speed, "faster")
    } else {
        (b_speed / a_speed, "slower")
    };
    Some(if ratio >= 1.1 {
        format!("{ratio:.1}× {direction}")
    } else if a_speed == b_speed {
        format!("as fast ({a_speed:.1} tokens/s)")
    } else {
        format!("slightly {direction} ({a_speed:.1} vs {b_speed:.1} tokens/s)")
    })
}

fn seconds_text(seconds: f64) -> String {
    format!("{seconds:.1} s per case")
}

fn verdict(rows: &[RankedCandidate], policy: Policy) -> String {
    let judged: Vec<&Candidate> = rows
        .iter()
        .filter(|row| {
            !matches!(
                row.excluded,
                Some(Exclusion::NoValidRuns | Exclusion::MostlyInvalid)
            )
        })
        .map(|row| &row.candidate)
        .collect();
    let Some(winner) = rows
        .first()
        .filter(|row| row.excluded.is_none())
        .map(|row| &row.candidate)
    else {
        return no_recommendation(&judged, policy);
    };
    let allowed: Vec<&Candidate> = rows
        .iter()
        .filter(|row| row.excluded.is_none())
        .map(|row| &row.candidate)
        .collect();
    let mut sentence = match policy {
        Policy::BestScore => best_score_verdict(winner, judged.get(1).copied()),
        Policy::TargetScore(target) => target_verdict(winner, &allowed, &judged, target),
        Policy::MaxSecondsPerCase(budget) => budget_verdict(winner, &allowed, &judged, budget),
    };
    if winner.invalid_runs > 0 {
        let runs = winner.valid_runs + winner.invalid_runs;
        sentence.push_str(&format!(
            " ({} of its {runs} runs were invalid and are not counted)",
            winner.invalid_runs
        ));
    }
    sentence
}

fn best_score_verdict(winner: &Candidate, runner_up: Option<&Candidate>) -> String {
    let Some(runner_up) = runner_up else {
        return format!(
            "{} is the only candidate with enough valid runs to judge: {}",
            winner.label,
            winner.pass_rate_text()
        );
    };
    let speed = speed_comparison(runner_up, winner);
    if by_score(runner_up, winner) == Ordering::Less {
        // The runner-up scored higher, so the winner was chosen for speed within the tie.
        let faster = speed_comparison(winner, runner_up)
            .map(|text| format!(", and {} is {text}", winner.label))
            .unwrap_or_default();
        return format!(
            "{} wins: {} cannot be told apart from {:.2} for {}{faster}",
            winner.label,
            winner.pass_rate_text(),
            runner_up.pass_rate,
            runner_up.label
        );
    }
    let tradeoff = match speed {
        Some(text) if text.ends_with("slower") => format!(", which is also {text}"),
        Some(text) => format!(", which is {text}"),
        None => String::new(),
    };
    format!(
        "{} wins: {} vs {:.2} for {}{tradeoff}",
        winner.label,
        winner.pass_rate_text(),
        runner_up.pass_rate,
        runner_up.label
    )
}

fn size_text(candidate: &Candidate) -> String {
    candidate
        .parameters
        .map(|parameters| format!("{} parameters", format_parameters(parameters)))
        .unwrap_or_else(|| "an unknown size".to_owned())
}

fn target_verdict(
    winner: &Candidate,
    allowed: &[&Candidate],
    judged: &[&Candidate],
    target: f64,
) -> String {
    let opening = format!(
        "{} is the smallest model that reaches {target:.2}: {} with {}",
        winner.label,
        winner.pass_rate_text(),
        size_text(winner)
    );
    if let Some(runner_up) = allowed.get(1) {
        let cost = if runner_up.parameters == winner.parameters {
            speed_comparison(runner_up, winner)
                .map(|text| format!("is as large and {text}"))
                .unwrap_or_else(|| "is as large".to_owned())
        } else {
            format!("has {}", size_text(runner_up))
        };
        return format!(
            "{opening}; {} reaches it too ({:.2}) but {cost}",
            runner_up.label, runner_up.pass_rate
        );
    }
    match judged.iter().find(|c| !std::ptr::eq(**c, winner)) {
        Some(best_of_rest) => format!(
            "{opening}; no other model reaches it (next best: {} with {:.2})",
            best_of_rest.label, best_of_rest.pass_rate
        ),
        None => opening,
    }
}

fn budget_verdict(
    winner: &Candidate,
    allowed: &[&Candidate],
    judged: &[&Candidate],
    budget: f64,
) -> String {
    let opening = format!(
        "{} has the best pass rate within {}: {} at {}",
        winner.label,
        seconds_text(budget),
        winner.pass_rate_text(),
        winner
            .seconds_per_case
            .map(seconds_text)
            .unwrap_or_default()
    );
    // What the budget costs: a better model it rules out, else the next model within it.
    let better_outside = judged.iter().find(|c| {
        !allowed.iter().any(|a| std::ptr::eq(*a, **c)) && by_score(c, winner) == Ordering::Less
    });
    if let Some(better) = better_outside {
        return format!(
            "{opening}; {} would score {:.2} but takes {}",
            better.label,
            better.pass_rate,
            better
                .seconds_per_case
                .map(seconds_text)
                .unwrap_or_else(|| "an unmeasured time per case".to_owned())
        );
    }
    match allowed.get(1) {
        Some(runner_up) => {
            let speed = speed_comparison(runner_up, winner)
                .map(|text| format!(", which is {text}"))
                .unwrap_or_default();
            format!(
                "{opening}; vs {:.2} for {}{speed}",
                runner_up.pass_rate, runner_up.label
            )
        }
        None => opening,
    }
}

fn no_recommendation(judged: &[&Candidate], policy: Policy) -> String {
    const NOTHING_TO_JUDGE: &str =
        "no candidate has more valid runs than invalid ones to judge it by";
    let Some(best) = judged.first() else {
        return NOTHING_TO_JUDGE.to_owned();
    };
    match policy {
        Policy::BestScore => NOTHING_TO_JUDGE.to_owned(),
        Policy::TargetScore(target) => format!(
            "no candidate reaches a pass rate of {target:.2}: the best, {}, has {}",
            best.label,
            best.pass_rate_text()
        ),
        Policy::MaxSecondsPerCase(budget) => {
            let quickest = judged
                .iter()
                .filter_map(|c| c.seconds_per_case.map(|seconds| (seconds, c)))
                .min_by(|a, b| a.0.total_cmp(&b.0));
            match quickest {
                Some((seconds, quickest)) => format!(
                    "no candidate answers within {}: the quickest, {}, takes {}",
                    seconds_text(budget),
                    quickest.label,
                    seconds_text(seconds)
                ),
                None => format!(
                    "no candidate answers within {}: none measured its time",
                    seconds_text(budget)
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model that passed `passed` of `runs` valid runs at `speed` tokens per second.
    fn candidate(label: &str, passed: usize, runs: usize, speed: Option<f64>) -> Candidate {
        let pass_rate = if runs == 0 {
            0.0
        } else {
            passed as f64 / runs as f64
        };
        Candidate {
            label: label.to_owned(),
            parameters: None,
            quantization: None,
            memory_bytes: None,
            pass_rate,
            pass_rate_interval: Interval::wilson(passed, runs),
            mean_score: pass_rate,
            stage_pass_rates: BTreeMap::new(),
            first_try_pass_rate: pass_rate,
            after_repair_pass_rate: pass_rate,
            ttft_p50_ms: speed.map(|_| 100.0),
            tokens_per_second: speed,
            seconds_per_case: (runs > 0).then_some(10.0),
            valid_runs: runs,
            invalid_runs: 0,
        }
    }

    fn sized(mut candidate: Candidate, parameters: f64) -> Candidate {
        candidate.parameters = Some(parameters);
        candidate
    }

    fn taking(mut candidate: Candidate, seconds_per_case: f64) -> Candidate {
        candidate.seconds_per_case = Some(seconds_per_case);
        candidate
    }

    fn order(ranking: &Ranking) -> Vec<&str> {
        ranking
            .rows
            .iter()
            .map(|row| row.candidate.label.as_str())
            .collect()
    }

    #[test]
    fn the_wilson_interval_matches_the_published_values() {
        // Newcombe (1998), table I: 15 of 148 → 0.0624–0.1605; 0 of 10 → 0–0.2775.
        let interval = Interval::wilson(15, 148).unwrap();
        assert!((interval.low - 0.0624).abs() < 5e-5, "{interval:?}");
        assert!((interval.high - 0.1605).abs() < 5e-5, "{interval:?}");
        let none_passed = Interval::wilson(0, 10).unwrap();
        assert_eq!(none_passed.low, 0.0);
        assert!((none_passed.high - 0.2775).abs() < 5e-5, "{none_passed:?}");
        assert_eq!(Interval::wilson(0, 0), None);
    }

    #[test]
    fn provider_sizes_are_read_as_parameter_counts() {
        assert_eq!(parse_parameter_count("7.6B"), Some(7.6e9));
        assert_eq!(parse_parameter_count("494.03M"), Some(494.03e6));
        assert_eq!(parse_parameter_count("270m"), Some(270e6));
        assert_eq!(parse_parameter_count("8x7B"), Some(56e9));
        assert_eq!(parse_parameter_count("large"), None);
        assert_eq!(parse_parameter_count("7"), None);
        assert_eq!(parse_parameter_count("-1B"), None);
        assert_eq!(format_parameters(1.5e9), "1.5B");
        assert_eq!(format_parameters(7e9), "7B");
        assert_eq!(format_parameters(270e6), "270M");
    }

    #[test]
    fn the_best_pass_rate_wins_and_the_sentence_says_what_the_runner_up_gives_up() {
        let ranking = rank(
            vec![
                candidate("qwen 0.5b", 4, 20, Some(42.0)),
                candidate("qwen 1.5b", 18, 20, Some(20.0)),
            ],
            Policy::BestScore,
        );
        assert_eq!(order(&ranking), ["qwen 1.5b", "qwen 0.5b"]);
        assert_eq!(ranking.recommendation().unwrap().label, "qwen 1.5b");
        assert_eq!(
            ranking.verdict,
            "qwen 1.5b wins: 0.90 [0.70, 0.97] vs 0.20 for qwen 0.5b, which is 2.1× faster"
        );
    }

    #[test]
    fn pass_rates_that_cannot_be_told_apart_go_to_the_faster_model() {
        let ranking = rank(
            vec![
                candidate("slow", 3, 5, Some(10.0)),
                candidate("fast", 2, 5, Some(30.0)),
            ],
            Policy::BestScore,
        );
        assert_eq!(order(&ranking), ["fast", "slow"]);
        assert_eq!(
            ranking.verdict,
            "fast wins: 0.40 [0.12, 0.77] cannot be told apart from 0.60 for slow, and fast is 3.0× faster"
        );
    }

    #[test]
    fn intervals_that_merely_overlap_do_not_make_a_tie() {
        let one = candidate("fast", 1, 5, Some(90.0));
        let four = candidate("slow", 4, 5, Some(10.0));
        let (one_interval, four_interval) = (
            one.pass_rate_interval.unwrap(),
            four.pass_rate_interval.unwrap(),
        );
        assert!(one_interval.high > four_interval.low, "they overlap");
        assert!(!indistinguishable(&one, &four));
        let ranking = rank(vec![one, four], Policy::BestScore);
        assert_eq!(order(&ranking), ["slow", "fast"]);
    }

    #[test]
    fn equal_pass_rates_go_to_the_better_mean_score_when_no_speed_was_measured() {
        let mut partial = candidate("replay", 1, 4, None);
        partial.mean_score = 0.6;
        let mut worse = candidate("reference", 1, 4, None);
        worse.mean_score = 0.4;
        let ranking = rank(vec![worse, partial], Policy::BestScore);
        assert_eq!(order(&ranking), ["replay", "reference"]);
        assert_eq!(
            ranking.verdict,
            "replay wins: 0.25 [0.05, 0.70] vs 0.25 for reference"
        );
    }

    #[test]
    fn a_model_with_a_measured_speed_beats_an_offline_one_it_ties_with() {
        let ranking = rank(
            vec![
                candidate("offline", 4, 5, None),
                candidate("served", 3, 5, Some(12.0)),
            ],
            Policy::BestScore,
        );
        assert_eq!(order(&ranking), ["served", "offline"]);
        assert!(
            ranking.verdict.starts_with("served wins: 0.60"),
            "{}",
            ranking.verdict
        );
    }

    #[test]
    fn a_model_without_valid_runs_is_ranked_last_and_never_recommended() {
        let mut broken = candidate("broken", 0, 0, Some(99.0));
        broken.invalid_runs = 4;
        let ranking = rank(vec![broken.clone()], Policy::BestScore);
        assert_eq!(ranking.recommendation(), None);
        assert_eq!(
            ranking.verdict,
            "no candidate has more valid runs than invalid ones to judge it by"
        );
        assert!(!ranking.rows[0].on_frontier);

        let ranking = rank(
            vec![broken, candidate("only", 1, 3, Some(5.0))],
            Policy::BestScore,
        );
        assert_eq!(order(&ranking), ["only", "broken"]);
        assert_eq!(ranking.rows[1].excluded, Some(Exclusion::NoValidRuns));
        assert_eq!(
            ranking.verdict,
            "only is the only candidate with enough valid runs to judge: 0.33 [0.06, 0.79]"
        );
    }

    #[test]
    fn invalid_runs_of_the_winner_are_owned_up_to() {
        let mut winner = candidate("qwen", 3, 4, Some(17.0));
        winner.invalid_runs = 1;
        let ranking = rank(vec![winner], Policy::BestScore);
        assert!(
            ranking
                .verdict
                .ends_with("(1 of its 5 runs were invalid and are not counted)"),
            "{}",
            ranking.verdict
        );
    }

    #[test]
    fn a_speed_difference_under_ten_percent_is_called_slight_with_both_rates() {
        let ranking = rank(
            vec![
                candidate("q05", 3, 4, Some(3.0)),
                candidate("q15", 4, 4, Some(2.9)),
            ],
            Policy::BestScore,
        );
        assert_eq!(
            ranking.verdict,
            "q15 wins: 1.00 [0.51, 1.00] vs 0.75 for q05, which is slightly faster (3.0 vs 2.9 tokens/s)"
        );
    }

    #[test]
    fn a_model_with_more_invalid_runs_than_valid_ones_is_not_recommended() {
        // One valid run that passed is no evidence against three of four passed.
        let mut rambler = candidate("gemma", 1, 1, Some(31.0));
        rambler.invalid_runs = 3;
        let ranking = rank(
            vec![rambler, candidate("qwen", 3, 4, Some(17.0))],
            Policy::BestScore,
        );
        assert_eq!(order(&ranking), ["qwen", "gemma"]);
        assert_eq!(ranking.rows[1].excluded, Some(Exclusion::MostlyInvalid));
        assert_eq!(
            ranking.verdict,
            "qwen is the only candidate with enough valid runs to judge: 0.75 [0.30, 0.95]"
        );
    }

    #[test]
    fn a_better_model_that_is_also_faster_wins_on_both_counts() {
        let ranking = rank(
            vec![
                candidate("old", 10, 20, Some(10.0)),
                candidate("new", 19, 20, Some(15.0)),
            ],
            Policy::BestScore,
        );
        assert_eq!(
            ranking.verdict,
            "new wins: 0.95 [0.76, 0.99] vs 0.50 for old, which is also 1.5× slower"
        );
    }

    #[test]
    fn a_target_goes_to_the_smallest_model_that_reaches_it() {
        let ranking = rank(
            vec![
                sized(candidate("7b", 19, 20, Some(8.0)), 7e9),
                sized(candidate("1.5b", 17, 20, Some(20.0)), 1.5e9),
                sized(candidate("0.5b", 10, 20, Some(45.0)), 0.5e9),
            ],
            Policy::TargetScore(0.8),
        );
        assert_eq!(order(&ranking), ["1.5b", "7b", "0.5b"]);
        assert_eq!(ranking.rows[2].excluded, Some(Exclusion::BelowTarget));
        assert_eq!(
            ranking.verdict,
            "1.5b is the smallest model that reaches 0.80: 0.85 [0.64, 0.95] with 1.5B parameters; 7b reaches it too (0.95) but has 7B parameters"
        );
    }

    #[test]
    fn a_target_reached_exactly_counts_as_reached() {
        let ranking = rank(
            vec![sized(candidate("four-fifths", 4, 5, Some(8.0)), 1e9)],
            Policy::TargetScore(0.8),
        );
        assert_eq!(ranking.recommendation().unwrap().label, "four-fifths");
    }

    #[test]
    fn models_of_equal_size_that_reach_the_target_go_to_the_faster_one() {
        let ranking = rank(
            vec![
                sized(candidate("q8", 9, 10, Some(10.0)), 1.5e9),
                sized(candidate("q4", 8, 10, Some(25.0)), 1.5e9),
            ],
            Policy::TargetScore(0.8),
        );
        assert_eq!(order(&ranking), ["q4", "q8"]);
        assert!(
            ranking
                .verdict
                .ends_with("q8 reaches it too (0.90) but is as large and 2.5× slower"),
            "{}",
            ranking.verdict
        );
    }

    #[test]
    fn a_model_of_unknown_size_comes_after_every_known_size() {
        let ranking = rank(
            vec![
                candidate("cloud", 10, 10, Some(80.0)),
                sized(candidate("local", 9, 10, Some(5.0)), 32e9),
            ],
            Policy::TargetScore(0.5),
        );
        assert_eq!(order(&ranking), ["local", "cloud"]);
    }

    #[test]
    fn a_target_nobody_reaches_recommends_nothing_and_names_the_best() {
        let ranking = rank(
            vec![
                sized(candidate("small", 2, 10, Some(40.0)), 0.5e9),
                sized(candidate("large", 6, 10, Some(9.0)), 1.5e9),
            ],
            Policy::TargetScore(0.95),
        );
        assert_eq!(ranking.recommendation(), None);
        assert_eq!(order(&ranking), ["large", "small"]);
        assert_eq!(
            ranking.verdict,
            "no candidate reaches a pass rate of 0.95: the best, large, has 0.60 [0.31, 0.83]"
        );
    }

    #[test]
    fn a_time_budget_takes_the_best_model_within_it_and_names_what_it_rules_out() {
        let ranking = rank(
            vec![
                taking(candidate("big", 19, 20, Some(6.0)), 9.5),
                taking(candidate("mid", 14, 20, Some(18.0)), 3.2),
                taking(candidate("tiny", 5, 20, Some(60.0)), 0.9),
            ],
            Policy::MaxSecondsPerCase(4.0),
        );
        assert_eq!(order(&ranking), ["mid", "tiny", "big"]);
        assert_eq!(ranking.rows[2].excluded, Some(Exclusion::OverBudget));
        assert_eq!(
            ranking.verdict,
            "mid has the best pass rate within 4.0 s per case: 0.70 [0.48, 0.85] at 3.2 s per case; big would score 0.95 but takes 9.5 s per case"
        );
    }

    #[test]
    fn a_budget_nobody_meets_names_the_quickest() {
        let ranking = rank(
            vec![
                taking(candidate("slow", 5, 5, Some(3.0)), 12.0),
                taking(candidate("slower", 5, 5, Some(2.0)), 20.0),
            ],
            Policy::MaxSecondsPerCase(1.0),
        );
        assert_eq!(ranking.recommendation(), None);
        assert_eq!(
            ranking.verdict,
            "no candidate answers within 1.0 s per case: the quickest, slow, takes 12.0 s per case"
        );
    }

    #[test]
    fn the_frontier_holds_the_models_no_other_beats_on_both_score_and_speed() {
        let ranking = rank(
            vec![
                candidate("accurate", 9, 10, Some(10.0)),
                candidate("balanced", 7, 10, Some(20.0)),
                candidate("dominated", 6, 10, Some(15.0)),
                candidate("quick", 2, 10, Some(50.0)),
                candidate("same-as-quick", 2, 10, Some(50.0)),
                candidate("offline", 10, 10, None),
                Candidate {
                    invalid_runs: 2,
                    ..candidate("mostly-invalid", 1, 1, Some(99.0))
                },
            ],
            Policy::BestScore,
        );
        let frontier: Vec<&str> = ranking
            .frontier()
            .iter()
            .map(|c| c.label.as_str())
            .collect();
        assert_eq!(frontier, ["quick", "same-as-quick", "balanced", "accurate"]);
    }

    #[test]
    fn a_report_becomes_a_candidate_with_a_wilson_interval_unless_it_brings_its_own() {
        use crate::report::{Percentiles, Summary, Tool};
        let report = Report {
            format_version: 2,
            tool: Tool {
                name: "cargo-llm-bench".to_owned(),
                version: "0".to_owned(),
            },
            rustc: "rustc".to_owned(),
            created: "2026-11-30T00:00:00Z".to_owned(),
            sandbox: "bwrap".to_owned(),
            complete: true,
            partition: None,
            provider: "qwen".to_owned(),
            model: "qwen2.5-coder-0.5b".to_owned(),
            suites: Vec::new(),
            samples: 1,
            weights: crate::score::Weights::default(),
            summary: Summary {
                runs: 4,
                valid_runs: 4,
                passed: 3,
                mean_score: 0.84,
                generation_ms: 24_000,
                decode_tokens_per_second: Percentiles {
                    p50: Some(16.7),
                    ..Percentiles::default()
                },
                ..Summary::default()
            },
            cases: Vec::new(),
        };
        let candidate = Candidate::from_report(&report, None);
        assert_eq!(candidate.label, "qwen:qwen2.5-coder-0.5b");
        assert_eq!(candidate.pass_rate, 0.75);
        assert_eq!(candidate.pass_rate_text(), "0.75 [0.30, 0.95]");
        assert_eq!(candidate.tokens_per_second, Some(16.7));
        assert_eq!(candidate.seconds_per_case, Some(6.0));
        let own = Candidate::from_report(&report, Some((0.5, 1.0)));
        assert_eq!(own.pass_rate_text(), "0.75 [0.50, 1.00]");
    }
}
