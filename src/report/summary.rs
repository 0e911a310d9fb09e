//! The model summary as the report writes it: the domain `ModelSummary` mapped to the report's
//! types, numbers rounded to what they can tell (no float noise such as 0.30000000000000004).

use super::{
    fraction, hundredths, tenths, ConfidenceInterval, ErrorCodeReport, FlakyCaseReport,
    InvalidCounts, Percentiles, RepairsPerSolvedReport, RustcErrorsReport, Summary,
};
use crate::suite::Suite;
use crate::summary::{self, ModelSummary};
use std::time::Duration;

pub(super) fn summary_report(suites: &[Suite], summary: &ModelSummary) -> Summary {
    let pass_at_k = |value: fn(&summary::PassAtK) -> f64| {
        summary
            .pass_at_k
            .iter()
            .map(|pass| (format!("pass@{}", pass.k), value(pass)))
            .collect()
    };
    Summary {
        runs: summary.runs,
        valid_runs: summary.valid_runs,
        invalid: invalid_counts(&summary.invalid),
        passed: summary.passed,
        mean_score: fraction(summary.mean_score),
        pass_at_1: fraction(
            summary
                .pass_at_k
                .iter()
                .find(|pass| pass.k == 1)
                .map_or(0.0, |pass| pass.value),
        ),
        pass_at_k: pass_at_k(|pass| fraction(pass.value)),
        pass_at_k_cases: summary
            .pass_at_k
            .iter()
            .map(|pass| (format!("pass@{}", pass.k), pass.cases))
            .collect(),
        stage_pass_rates: summary
            .stage_pass_rates
            .iter()
            .map(|(&stage, rate)| (stage, rate.map(fraction)))
            .collect(),
        first_try_pass_rate: fraction(summary.first_try_pass_rate),
        after_repair_pass_rate: fraction(summary.after_repair_pass_rate),
        pass_rate_ci: summary
            .pass_rate_interval
            .map(|interval| ConfidenceInterval {
                level: summary::CONFIDENCE_LEVEL,
                low: fraction(interval.low),
                high: fraction(interval.high),
                effective_runs: hundredths(interval.effective_runs),
            }),
        flaky: summary.flaky_cases.len(),
        flaky_cases: summary
            .flaky_cases
            .iter()
            .map(|flaky| FlakyCaseReport {
                suite: suites[flaky.suite].name.clone(),
                case: suites[flaky.suite].cases[flaky.case].id.clone(),
                passed: flaky.passed,
                samples: flaky.samples,
            })
            .collect(),
        repairs_total: summary.repairs_total,
        repairs_mean: fraction(summary.repairs_mean),
        repairs_per_solved: summary
            .repairs_per_solved
            .map(|repairs| RepairsPerSolvedReport {
                solved: repairs.solved,
                mean: fraction(repairs.mean),
                median: fraction(repairs.median),
                max: repairs.max,
            }),
        rustc_errors: RustcErrorsReport {
            failed_compiles: summary.rustc_errors.failed_compiles,
            codes: summary
                .rustc_errors
                .codes
                .iter()
                .map(|(code, count)| ErrorCodeReport {
                    code: code.clone(),
                    count: *count,
                    gloss: summary::rustc_error_gloss(code).map(str::to_owned),
                })
                .collect(),
        },
        provider_errors: summary.provider_errors,
        ttft_ms: percentiles(&summary.ttft_ms, tenths),
        ttft_answer_ms: percentiles(&summary.ttft_answer_ms, tenths),
        decode_tokens_per_second: percentiles(&summary.decode_tokens_per_second, hundredths),
        prefill_tokens_per_second: percentiles(&summary.prefill_tokens_per_second, hundredths),
        prompt_tokens: summary.prompt_tokens,
        completion_tokens: summary.completion_tokens,
        generation_ms: whole_millis(summary.generation_time),
        retries: summary.retries,
        retry_wait_ms: whole_millis(summary.retry_wait),
        load_time_ms: summary.load_time.map(whole_millis),
        total_ms: whole_millis(summary.elapsed),
        stopped: summary.stopped.clone(),
    }
}

fn invalid_counts(counts: &summary::InvalidCounts) -> InvalidCounts {
    let summary::InvalidCounts {
        total,
        max_tokens,
        prompt_truncated,
        thinking_exhausted,
        provider_timeout,
        provider_error,
        model_stopped,
    } = *counts;
    InvalidCounts {
        total,
        max_tokens,
        prompt_truncated,
        thinking_exhausted,
        provider_timeout,
        provider_error,
        model_stopped,
    }
}

fn percentiles(values: &summary::Percentiles, round: fn(f64) -> f64) -> Percentiles {
    Percentiles {
        p50: values.p50.map(round),
        p90: values.p90.map(round),
        from_server: values.from_server,
        from_client: values.from_client,
    }
}

fn whole_millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
