//! One model's summary: rates over valid runs, invalid runs by reason, speed percentiles, costs.

use super::{invalid_reason, InvalidCounts, InvalidReason, Percentiles, RunInfo, Summary};
use crate::provider::Source;
use crate::runner::{Attempt, CaseRun, ModelRun};
use crate::score;
use crate::suite::Stage;
use std::collections::BTreeMap;
use std::time::Duration;

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

pub(super) fn summarize(info: &RunInfo, run: &ModelRun) -> Summary {
    let mut invalid = InvalidCounts::default();
    let mut valid: Vec<&CaseRun> = Vec::new();
    for case_run in &run.cases {
        match invalid_reason(case_run) {
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

    let mut stage_pass_rates = BTreeMap::new();
    for stage in Stage::ALL {
        let with_stage: Vec<&&CaseRun> = valid
            .iter()
            .filter(|case_run| {
                info.suites[case_run.suite].cases[case_run.case]
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
        stage_pass_rates.insert(stage, score::rate(passed_stage, with_stage.len()));
    }

    // pass@k per case over its valid samples, averaged over the cases that have k of them.
    let mut per_case: BTreeMap<(usize, usize), (u32, u32)> = BTreeMap::new();
    for case_run in &valid {
        let (samples, passes) = per_case.entry((case_run.suite, case_run.case)).or_default();
        *samples += 1;
        *passes += u32::from(case_run.passed());
    }
    let mean_pass_at = |k: u32| {
        let values: Vec<f64> = per_case
            .values()
            .filter(|&&(samples, _)| samples >= k)
            .map(|&(samples, passes)| score::pass_at_k(samples, passes, k))
            .collect();
        score::mean(&values).unwrap_or(0.0)
    };

    let attempts: Vec<&Attempt> = run.cases.iter().flat_map(|c| &c.attempts).collect();
    let failed_requests = run.cases.iter().filter_map(|c| c.provider_error.as_ref());
    let client_timed =
        |time: Option<Duration>| time.map(|t| (t.as_secs_f64() * 1e3, Source::Client));
    Summary {
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
        pass_at_1: mean_pass_at(1),
        pass_at_k: (1..=info.samples)
            .map(|k| (format!("pass@{k}"), mean_pass_at(k)))
            .collect(),
        stage_pass_rates,
        first_try_pass_rate: score::rate(first_try, valid_runs).unwrap_or(0.0),
        after_repair_pass_rate: score::rate(passed, valid_runs).unwrap_or(0.0),
        repairs_total,
        repairs_mean: score::rate(repairs_total as usize, valid_runs).unwrap_or(0.0),
        provider_errors: invalid.provider_failures(),
        ttft_ms: percentiles(attempts.iter().map(|a| client_timed(a.metrics.ttft))),
        ttft_answer_ms: percentiles(attempts.iter().map(|a| client_timed(a.metrics.ttft_answer))),
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
        generation_ms: attempts
            .iter()
            .map(|a| whole_millis(a.metrics.generation_time))
            .sum(),
        retries: attempts.iter().map(|a| a.metrics.retries).sum::<u32>()
            + failed_requests
                .clone()
                .map(|f| f.retries.count)
                .sum::<u32>(),
        retry_wait_ms: attempts
            .iter()
            .map(|a| whole_millis(a.metrics.retry_wait))
            .chain(failed_requests.map(|f| whole_millis(f.retries.waited)))
            .sum(),
        load_time_ms: run.load_time.map(whole_millis),
        total_ms: whole_millis(run.elapsed),
        stopped: run.stopped.clone(),
    }
}

fn whole_millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
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
