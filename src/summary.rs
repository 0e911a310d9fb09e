//! The model summary, computed once from a model's run: rates over valid runs, pass@k, the
//! pass rate's confidence interval, flaky cases, repairs, the rustc error profile, speed and
//! cost. Reports, the table, the gates and `compare` all read it (through the report).

mod rustc_codes;

pub use rustc_codes::gloss as rustc_error_gloss;

use crate::pipeline::StageDetail;
use crate::provider::{GenerationEnd, Source};
use crate::runner::{Attempt, CaseRun, ModelRun, ProviderFailure};
use crate::score;
use crate::suite::{Stage, Suite};
use std::collections::BTreeMap;
use std::time::Duration;

/// pass@k is reported for these k, each where some case has at least k valid samples.
pub const PASS_AT_K: [u32; 3] = [1, 5, 10];

/// The level of `ModelSummary::pass_rate_interval`.
pub const CONFIDENCE_LEVEL: f64 = 0.95;

/// One model's results at a glance.
///
/// Every rate, score, pass@k, interval, flaky case and repair count is computed over **valid
/// runs only**: a run invalid for reasons of the run rather than the model is counted in
/// `invalid`, by reason, and nowhere else. A run is one case × sample.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSummary {
    /// Case × sample runs, valid or not.
    pub runs: usize,
    pub valid_runs: usize,
    pub invalid: InvalidCounts,
    /// Valid runs whose final attempt passed every stage of its case.
    pub passed: usize,
    /// Mean final score of the valid runs; 0 when none was valid.
    pub mean_score: f64,
    /// For each k of `PASS_AT_K` that some case has k valid samples for.
    pub pass_at_k: Vec<PassAtK>,
    /// Valid runs whose first attempt passed, over valid runs.
    pub first_try_pass_rate: f64,
    /// Valid runs whose final attempt passed, over valid runs: the pass rate.
    pub after_repair_pass_rate: f64,
    /// The 95% interval of the pass rate; None when no run was valid.
    pub pass_rate_interval: Option<Interval>,
    /// Cases that passed in some valid samples and failed in others, in suite and case order.
    pub flaky_cases: Vec<FlakyCase>,
    /// Per stage: valid runs whose final attempt passed it, over valid runs whose case has it;
    /// None when no valid run's case has the stage.
    pub stage_pass_rates: BTreeMap<Stage, Option<f64>>,
    /// Repairs asked for in valid runs.
    pub repairs_total: u32,
    /// `repairs_total` over valid runs.
    pub repairs_mean: f64,
    /// Repairs the solved runs needed; None when no valid run passed.
    pub repairs_per_solved: Option<RepairsPerSolved>,
    /// rustc error codes of every failed compile.
    pub rustc_errors: ErrorProfile,
    /// Runs the provider failed (timed out, errored, or the model was stopped).
    pub provider_errors: usize,
    /// Request sent → first token (thinking included), → first answer token, in milliseconds.
    pub ttft_ms: Percentiles,
    pub ttft_answer_ms: Percentiles,
    pub decode_tokens_per_second: Percentiles,
    pub prefill_tokens_per_second: Percentiles,
    /// Over every attempt, valid or not: what the run cost.
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Generation time of every attempt, summed (requests overlap, so this exceeds wall time).
    pub generation_time: Duration,
    /// Requests retried, over every attempt and every failed request, and the time waited.
    pub retries: u32,
    pub retry_wait: Duration,
    pub load_time: Option<Duration>,
    /// From the model's first request to its last scored attempt.
    pub elapsed: Duration,
    pub stopped: Option<String>,
}

/// Invalid runs, by why they are invalid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InvalidCounts {
    pub total: usize,
    pub max_tokens: usize,
    pub prompt_truncated: usize,
    pub thinking_exhausted: usize,
    pub provider_timeout: usize,
    pub provider_error: usize,
    pub model_stopped: usize,
}

impl InvalidCounts {
    fn count(&mut self, reason: InvalidReason) {
        self.total += 1;
        let slot = match reason {
            InvalidReason::MaxTokens => &mut self.max_tokens,
            InvalidReason::PromptTruncated => &mut self.prompt_truncated,
            InvalidReason::ThinkingExhausted => &mut self.thinking_exhausted,
            InvalidReason::ProviderTimeout => &mut self.provider_timeout,
            InvalidReason::ProviderError => &mut self.provider_error,
            InvalidReason::ModelStopped => &mut self.model_stopped,
        };
        *slot += 1;
    }

    /// Runs the provider failed, whatever the way.
    pub fn provider_failures(&self) -> usize {
        self.provider_timeout + self.provider_error + self.model_stopped
    }
}

/// Why a run is invalid: the run, not the model, is to blame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum InvalidReason {
    MaxTokens,
    PromptTruncated,
    ThinkingExhausted,
    ProviderTimeout,
    ProviderError,
    ModelStopped,
}

impl InvalidReason {
    /// Why a run is invalid, if it is: a provider failure first, else how its last answer ended.
    pub fn of(case_run: &CaseRun) -> Option<InvalidReason> {
        if let Some(failure) = &case_run.provider_error {
            return Some(Self::of_failure(failure));
        }
        let last = case_run.last().filter(|attempt| attempt.is_invalid())?;
        match last.end {
            GenerationEnd::Finished => None,
            GenerationEnd::MaxTokens => Some(InvalidReason::MaxTokens),
            GenerationEnd::PromptTruncated { .. } => Some(InvalidReason::PromptTruncated),
            GenerationEnd::ThinkingExhausted => Some(InvalidReason::ThinkingExhausted),
        }
    }

    fn of_failure(failure: &ProviderFailure) -> InvalidReason {
        if failure.model_stopped {
            InvalidReason::ModelStopped
        } else if failure.timed_out {
            InvalidReason::ProviderTimeout
        } else {
            InvalidReason::ProviderError
        }
    }
}

/// The unbiased pass@k estimate per case over its valid samples, averaged over the `cases` that
/// have at least k of them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PassAtK {
    pub k: u32,
    pub value: f64,
    pub cases: usize,
}

/// A confidence interval of a rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
    /// What the valid runs are worth as independent trials (`score::effective_runs`): the valid
    /// runs with one sample per case, fewer when samples of a case agree with each other.
    pub effective_runs: f64,
}

/// A case that both passed and failed across its valid samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlakyCase {
    /// Indices into the run's suites and the suite's cases.
    pub suite: usize,
    pub case: usize,
    pub passed: u32,
    pub samples: u32,
}

/// How many repairs the valid runs that passed needed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RepairsPerSolved {
    pub solved: usize,
    pub mean: f64,
    pub median: f64,
    pub max: u32,
}

/// rustc error codes over every failed compile of an attempt whose generation finished (an
/// answer cut short by a budget fails to compile for that reason alone, and is left out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorProfile {
    pub failed_compiles: usize,
    /// Each code with the number of failed compiles that reported it, most frequent first
    /// (ties by code).
    pub codes: Vec<(String, usize)>,
}

/// The 50th and 90th percentile (nearest rank) of the attempts that measured a number, and how
/// many did, by source.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub from_server: usize,
    pub from_client: usize,
}

impl ModelSummary {
    /// Summarizes one model's run; `suites` are the suites its cases index into.
    pub fn of(suites: &[Suite], run: &ModelRun) -> ModelSummary {
        let mut invalid = InvalidCounts::default();
        let mut valid: Vec<&CaseRun> = Vec::new();
        for case_run in &run.cases {
            match InvalidReason::of(case_run) {
                Some(reason) => invalid.count(reason),
                None => valid.push(case_run),
            }
        }
        let valid_runs = valid.len();
        let passed = valid.iter().filter(|case_run| case_run.passed()).count();
        let first_try = valid
            .iter()
            .filter(|case_run| case_run.attempts.first().is_some_and(|a| a.passed))
            .count();
        let repairs_total: u32 = valid.iter().map(|case_run| case_run.repairs()).sum();
        let per_case = per_case(&valid);
        let after_repair_pass_rate = score::rate(passed, valid_runs).unwrap_or(0.0);

        let attempts: Vec<&Attempt> = run.cases.iter().flat_map(|c| &c.attempts).collect();
        let failed_requests = run.cases.iter().filter_map(|c| c.provider_error.as_ref());
        let client_timed =
            |time: Option<Duration>| time.map(|t| (t.as_secs_f64() * 1e3, Source::Client));
        ModelSummary {
            runs: run.cases.len(),
            valid_runs,
            invalid,
            passed,
            mean_score: score::mean(
                &valid
                    .iter()
                    .map(|case_run| case_run.last().map_or(0.0, |attempt| attempt.score))
                    .collect::<Vec<_>>(),
            )
            .unwrap_or(0.0),
            pass_at_k: pass_at_k(&per_case),
            first_try_pass_rate: score::rate(first_try, valid_runs).unwrap_or(0.0),
            after_repair_pass_rate,
            pass_rate_interval: pass_rate_interval(&per_case, after_repair_pass_rate),
            flaky_cases: per_case
                .iter()
                .filter(|(_, &(samples, passes))| passes > 0 && passes < samples)
                .map(|(&(suite, case), &(samples, passed))| FlakyCase {
                    suite,
                    case,
                    passed,
                    samples,
                })
                .collect(),
            stage_pass_rates: stage_pass_rates(suites, &valid),
            repairs_total,
            repairs_mean: score::rate(repairs_total as usize, valid_runs).unwrap_or(0.0),
            repairs_per_solved: repairs_per_solved(&valid),
            rustc_errors: error_profile(&attempts),
            provider_errors: invalid.provider_failures(),
            ttft_ms: percentiles(attempts.iter().map(|a| client_timed(a.metrics.ttft))),
            ttft_answer_ms: percentiles(
                attempts.iter().map(|a| client_timed(a.metrics.ttft_answer)),
            ),
            decode_tokens_per_second: percentiles(attempts.iter().map(|a| {
                a.metrics
                    .decode_tokens_per_second
                    .map(|rate| (rate, a.metrics.decode_source))
            })),
            // Only servers report prefill: it cannot be told apart from queueing on our clock.
            prefill_tokens_per_second: percentiles(attempts.iter().map(|a| {
                a.metrics
                    .prefill_tokens_per_second
                    .map(|rate| (rate, Source::Server))
            })),
            prompt_tokens: attempts
                .iter()
                .filter_map(|a| a.metrics.prompt_tokens)
                .sum(),
            completion_tokens: attempts
                .iter()
                .filter_map(|a| a.metrics.completion_tokens)
                .sum(),
            generation_time: attempts.iter().map(|a| a.metrics.generation_time).sum(),
            retries: attempts.iter().map(|a| a.metrics.retries).sum::<u32>()
                + failed_requests
                    .clone()
                    .map(|f| f.retries.count)
                    .sum::<u32>(),
            retry_wait: attempts
                .iter()
                .map(|a| a.metrics.retry_wait)
                .chain(failed_requests.map(|f| f.retries.waited))
                .sum(),
            load_time: run.load_time,
            elapsed: run.elapsed,
            stopped: run.stopped.clone(),
        }
    }
}

/// (valid samples, passes) per (suite, case), in suite and case order.
fn per_case(valid: &[&CaseRun]) -> BTreeMap<(usize, usize), (u32, u32)> {
    let mut per_case: BTreeMap<(usize, usize), (u32, u32)> = BTreeMap::new();
    for case_run in valid {
        let (samples, passes) = per_case.entry((case_run.suite, case_run.case)).or_default();
        *samples += 1;
        *passes += u32::from(case_run.passed());
    }
    per_case
}

fn pass_at_k(per_case: &BTreeMap<(usize, usize), (u32, u32)>) -> Vec<PassAtK> {
    PASS_AT_K
        .into_iter()
        .filter_map(|k| {
            let values: Vec<f64> = per_case
                .values()
                .filter(|&&(samples, _)| samples >= k)
                .map(|&(samples, passes)| score::pass_at_k(samples, passes, k))
                .collect();
            Some(PassAtK {
                k,
                value: score::mean(&values)?,
                cases: values.len(),
            })
        })
        .collect()
}

/// Wilson over the runs' effective count: samples of one case are correlated, so the case, not
/// the sample, is the unit of the spread (see `score::effective_runs`). A bootstrap over cases
/// would be the other honest choice; it was not taken because it collapses to a point when every
/// case agrees (5 cases passing every sample give [100%, 100%]) and needs a random seed.
fn pass_rate_interval(
    per_case: &BTreeMap<(usize, usize), (u32, u32)>,
    rate: f64,
) -> Option<Interval> {
    let cases: Vec<(u32, u32)> = per_case.values().copied().collect();
    let effective_runs = score::effective_runs(&cases);
    let (low, high) = score::wilson_interval(rate, effective_runs, score::Z_95)?;
    Some(Interval {
        low,
        high,
        effective_runs,
    })
}

fn stage_pass_rates(suites: &[Suite], valid: &[&CaseRun]) -> BTreeMap<Stage, Option<f64>> {
    Stage::ALL
        .into_iter()
        .map(|stage| {
            let with_stage: Vec<&&CaseRun> = valid
                .iter()
                .filter(|case_run| {
                    suites[case_run.suite].cases[case_run.case]
                        .settings
                        .stages
                        .contains(&stage)
                })
                .collect();
            let passed_stage = with_stage
                .iter()
                .filter(|case_run| {
                    case_run.last().is_some_and(|attempt| {
                        attempt
                            .stages
                            .iter()
                            .any(|outcome| outcome.stage == stage && outcome.passed)
                    })
                })
                .count();
            (stage, score::rate(passed_stage, with_stage.len()))
        })
        .collect()
}

fn repairs_per_solved(valid: &[&CaseRun]) -> Option<RepairsPerSolved> {
    let repairs: Vec<u32> = valid
        .iter()
        .filter(|case_run| case_run.passed())
        .map(|case_run| case_run.repairs())
        .collect();
    let as_float: Vec<f64> = repairs.iter().copied().map(f64::from).collect();
    Some(RepairsPerSolved {
        solved: repairs.len(),
        mean: score::mean(&as_float)?,
        median: score::median(&as_float)?,
        max: repairs.iter().copied().max()?,
    })
}

fn error_profile(attempts: &[&Attempt]) -> ErrorProfile {
    let mut profile = ErrorProfile::default();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let failed_compiles = attempts
        .iter()
        .filter(|attempt| !attempt.is_invalid())
        .flat_map(|attempt| &attempt.stages)
        .filter(|outcome| outcome.stage == Stage::Compile && !outcome.passed);
    for outcome in failed_compiles {
        profile.failed_compiles += 1;
        if let StageDetail::Compile { error_codes, .. } = &outcome.detail {
            let mut codes: Vec<&str> = error_codes.iter().map(String::as_str).collect();
            codes.sort_unstable();
            codes.dedup();
            for code in codes {
                *counts.entry(code).or_default() += 1;
            }
        }
    }
    profile.codes = counts
        .into_iter()
        .map(|(code, count)| (code.to_owned(), count))
        .collect();
    // Stable: ties keep the code order of the map.
    profile
        .codes
        .sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    profile
}

/// p50 and p90 of the measured values; a value without a source (an offline answer) or not a
/// finite number is not a measurement and is left out.
fn percentiles(values: impl Iterator<Item = Option<(f64, Source)>>) -> Percentiles {
    let mut measured = Vec::new();
    let mut summary = Percentiles::default();
    for (value, source) in values.flatten() {
        if !value.is_finite() {
            continue;
        }
        match source {
            Source::Server => summary.from_server += 1,
            Source::Client => summary.from_client += 1,
            Source::None => continue,
        }
        measured.push(value);
    }
    summary.p50 = score::percentile(&measured, 50.0);
    summary.p90 = score::percentile(&measured, 90.0);
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::StageOutcome;
    use crate::provider::{AttemptKey, GenerationMetrics};
    use std::path::Path;

    fn suite(cases: &[&str]) -> Suite {
        let mut yaml =
            String::from("suite: s\ndefaults:\n  stages: [format, compile, test]\ncases:\n");
        for id in cases {
            yaml.push_str(&format!(
                "  - id: {id}\n    prompt: p\n    reference: |\n      pub fn {id}() {{}}\n    tests: |\n      #[test]\n      fn works() {{ {id}() }}\n"
            ));
        }
        crate::suite::parse(Path::new("s.yaml"), &yaml).expect("a valid suite")
    }

    fn stage(stage: Stage, passed: bool, detail: StageDetail) -> StageOutcome {
        StageOutcome {
            stage,
            passed,
            elapsed: Duration::ZERO,
            detail,
            diagnostics: String::new(),
        }
    }

    /// An attempt that passed, or failed to compile with these codes.
    fn attempt(failed_with: Option<&[&str]>) -> Attempt {
        let format = stage(
            Stage::Format,
            true,
            StageDetail::Format {
                already_formatted: true,
            },
        );
        let compiled = failed_with.is_none();
        let compile = stage(
            Stage::Compile,
            compiled,
            StageDetail::Compile {
                error_codes: failed_with
                    .unwrap_or_default()
                    .iter()
                    .map(|code| code.to_string())
                    .collect(),
                warnings: 0,
            },
        );
        let mut stages = vec![format, compile];
        if compiled {
            stages.push(stage(
                Stage::Test,
                true,
                StageDetail::Test {
                    passed: 1,
                    total: 1,
                },
            ));
        }
        Attempt {
            key: AttemptKey {
                suite: "s".to_owned(),
                case: "c".to_owned(),
                sample: 0,
                attempt: 0,
            },
            feedback: None,
            answer: String::new(),
            thinking: String::new(),
            code: String::new(),
            flags: Vec::new(),
            end: GenerationEnd::Finished,
            metrics: GenerationMetrics::offline(Duration::ZERO),
            score: if compiled { 1.0 } else { 0.1 },
            passed: compiled,
            stages,
        }
    }

    fn passing() -> Attempt {
        attempt(None)
    }

    fn failing() -> Attempt {
        attempt(Some(&["E0308"]))
    }

    fn run(case: usize, sample: u32, attempts: Vec<Attempt>) -> CaseRun {
        CaseRun {
            suite: 0,
            case,
            sample,
            attempts,
            provider_error: None,
            repair_stop: None,
        }
    }

    /// `passes[case]` of `samples` samples pass, the first ones; the rest fail.
    fn sampled(samples: u32, passes: &[u32]) -> Vec<CaseRun> {
        passes
            .iter()
            .enumerate()
            .flat_map(|(case, &passes)| {
                (0..samples).map(move |sample| {
                    let answer = if sample < passes {
                        passing()
                    } else {
                        failing()
                    };
                    run(case, sample, vec![answer])
                })
            })
            .collect()
    }

    fn summarize(cases: usize, runs: Vec<CaseRun>) -> ModelSummary {
        let ids: Vec<String> = (0..cases).map(|case| format!("c{case}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let model_run = ModelRun {
            model: crate::provider::ModelSpec::parse("local:tiny").unwrap(),
            cases: runs,
            elapsed: Duration::ZERO,
            load_time: None,
            stopped: None,
        };
        ModelSummary::of(&[suite(&ids)], &model_run)
    }

    #[test]
    fn pass_at_k_is_the_unbiased_estimate_per_case_averaged_over_cases() {
        // Six samples each: 1, 6 and 0 passes.
        let summary = summarize(3, sampled(6, &[1, 6, 0]));
        // pass@1 = mean(1/6, 1, 0); pass@5 = mean(1 − C(5,5)/C(6,5), 1, 0) = mean(5/6, 1, 0).
        let pass_at: Vec<(u32, f64, usize)> = summary
            .pass_at_k
            .iter()
            .map(|pass| (pass.k, pass.value, pass.cases))
            .collect();
        assert_eq!(pass_at.len(), 2, "no pass@10 from six samples: {pass_at:?}");
        assert_eq!((pass_at[0].0, pass_at[0].2), (1, 3));
        assert!((pass_at[0].1 - (1.0 / 6.0 + 1.0) / 3.0).abs() < 1e-12);
        assert_eq!((pass_at[1].0, pass_at[1].2), (5, 3));
        assert!((pass_at[1].1 - (5.0 / 6.0 + 1.0) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn a_case_left_with_fewer_than_k_valid_samples_is_left_out_of_pass_at_k() {
        let mut runs = sampled(5, &[5, 0]);
        // The second case's last sample ran out of tokens: four valid samples.
        runs[9].attempts[0].end = GenerationEnd::MaxTokens;
        let summary = summarize(2, runs);
        assert_eq!(summary.invalid.max_tokens, 1);
        assert_eq!(summary.pass_at_k[0].cases, 2);
        assert_eq!(summary.pass_at_k[0].value, 0.5);
        assert_eq!((summary.pass_at_k[1].k, summary.pass_at_k[1].cases), (5, 1));
        assert_eq!(summary.pass_at_k[1].value, 1.0);
    }

    #[test]
    fn cases_that_pass_some_samples_and_fail_others_are_flaky() {
        let summary = summarize(4, sampled(3, &[3, 1, 0, 2]));
        let flaky: Vec<(usize, u32, u32)> = summary
            .flaky_cases
            .iter()
            .map(|flaky| (flaky.case, flaky.passed, flaky.samples))
            .collect();
        assert_eq!(flaky, [(1, 1, 3), (3, 2, 3)]);
    }

    #[test]
    fn one_sample_per_case_gives_plain_wilson_over_the_runs() {
        // 7 of 10 cases: Wilson 0.3968..0.8922.
        let summary = summarize(10, sampled(1, &[1, 1, 1, 1, 1, 1, 1, 0, 0, 0]));
        let interval = summary.pass_rate_interval.unwrap();
        assert_eq!(interval.effective_runs, 10.0);
        assert!((interval.low - 0.3968).abs() < 1e-4, "{interval:?}");
        assert!((interval.high - 0.8922).abs() < 1e-4, "{interval:?}");
    }

    #[test]
    fn samples_of_a_case_that_agree_widen_the_interval_to_what_the_cases_can_tell() {
        // The same 70% from ten cases, but five samples each that always agree: still ten
        // cases' worth, not fifty runs'.
        let agreeing = summarize(10, sampled(5, &[5, 5, 5, 5, 5, 5, 5, 0, 0, 0]));
        let interval = agreeing.pass_rate_interval.unwrap();
        assert_eq!(agreeing.after_repair_pass_rate, 0.7);
        assert_eq!(interval.effective_runs, 10.0);
        assert!((interval.low - 0.3968).abs() < 1e-4, "{interval:?}");
        // Samples that vary within every case as much as between cases count fully.
        let varying = summarize(2, sampled(10, &[7, 7]));
        assert_eq!(varying.pass_rate_interval.unwrap().effective_runs, 20.0);
    }

    #[test]
    fn no_valid_run_has_no_interval() {
        let mut runs = sampled(1, &[0]);
        runs[0].attempts[0].end = GenerationEnd::MaxTokens;
        assert_eq!(summarize(1, runs).pass_rate_interval, None);
    }

    #[test]
    fn repairs_per_solved_run_count_only_runs_that_passed() {
        let runs = vec![
            run(0, 0, vec![passing()]),
            run(1, 0, vec![failing(), failing(), passing()]),
            run(2, 0, vec![failing(), passing()]),
            // Unsolved after two repairs: not a solved run.
            run(3, 0, vec![failing(), failing(), failing()]),
        ];
        let summary = summarize(4, runs);
        assert_eq!(
            summary.repairs_per_solved,
            Some(RepairsPerSolved {
                solved: 3,
                mean: 1.0,
                median: 1.0,
                max: 2,
            })
        );
        assert_eq!(summary.first_try_pass_rate, 0.25);
        assert_eq!(summary.after_repair_pass_rate, 0.75);
        assert_eq!(summary.repairs_total, 5);
        assert_eq!(
            summarize(1, vec![run(0, 0, vec![failing()])]).repairs_per_solved,
            None
        );
    }

    #[test]
    fn the_error_profile_counts_codes_per_failed_compile_most_frequent_first() {
        let mut cut_short = attempt(Some(&["E0765"]));
        cut_short.end = GenerationEnd::MaxTokens;
        let runs = vec![
            run(
                0,
                0,
                vec![
                    attempt(Some(&["E0382", "E0308"])),
                    attempt(Some(&["E0308", "E0308"])),
                    passing(),
                ],
            ),
            run(1, 0, vec![attempt(Some(&["E0382", "E0502"]))]),
            // Cut short by the budget: its failed compile says nothing about the model.
            run(2, 0, vec![cut_short]),
            run(3, 0, vec![attempt(Some(&[]))]),
        ];
        let profile = summarize(4, runs).rustc_errors;
        assert_eq!(profile.failed_compiles, 4);
        let codes: Vec<(&str, usize)> = profile
            .codes
            .iter()
            .map(|(code, count)| (code.as_str(), *count))
            .collect();
        assert_eq!(codes, [("E0308", 2), ("E0382", 2), ("E0502", 1)]);
    }
}
