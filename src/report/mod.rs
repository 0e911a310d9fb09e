//! The only module that serializes results: the versioned JSON report, the CSV, the table and
//! the list of failures printed after it.
//!
//! Report types are a contract of their own (`FORMAT_VERSION`), separate from the domain types,
//! so the runner can change without changing what users parse.

mod failures;
mod files;
mod html;
pub mod junit;
pub mod markdown;
mod read;
pub mod snapshot;
mod summary;
mod table;

pub use failures::render_failures;
pub use files::{
    check_output_dir, write_new, write_replacing, write_report, OutputError, ReportPaths,
};
pub use html::render_html;
pub use read::{model_run, read_report, ReadError};
pub use table::{render_model_list, render_table, DEFAULT_TABLE_WIDTH};

use crate::partition::Partition;
use crate::pipeline::{StageDetail, StageOutcome};
use crate::provider::{self, GenerationEnd, ModelSpec};
use crate::runner::{Attempt, CaseRun, ModelRun, RepairStop};
use crate::score::Weights;
use crate::suite::{Stage, Suite};
use crate::summary::{self as model_summary, ModelSummary};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Bumped on any change a consumer could notice.
///
/// 2: invalid runs counted apart (and left out of every rate), why each generation ended, every
/// metric with its source, TTFT to the answer, prefill, retries and waits, load time.
///
/// 3: pass@k for k in {1, 5, 10} (where some case has k valid samples) with the cases each
/// averages over, the pass rate's 95% confidence interval, flaky cases, repairs per solved run,
/// the rustc error profile; every fraction rounded to 4 decimals.
pub const FORMAT_VERSION: u32 = 3;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub format_version: u32,
    pub tool: Tool,
    pub rustc: String,
    /// RFC 3339, UTC.
    pub created: String,
    /// How generated code was confined: `bwrap`, `unshare` or `none`.
    pub sandbox: String,
    /// False when the run was interrupted: the cases hold what was scored before it stopped.
    pub complete: bool,
    pub provider: String,
    pub model: String,
    pub suites: Vec<SuiteInfo>,
    pub samples: u32,
    pub weights: Weights,
    /// The share of the work this report holds (`slice:M/N`), when the run was partitioned;
    /// `merge` joins the shares into the report an unpartitioned run writes, without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    pub summary: Summary,
    pub cases: Vec<CaseReport>,
}

impl Report {
    /// The model as written on the command line: `ollama:qwen2.5-coder:7b`, or `reference`.
    pub fn label(&self) -> String {
        if self.provider == "reference" {
            "reference".to_owned()
        } else {
            format!("{}:{}", self.provider, self.model)
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuiteInfo {
    pub name: String,
    pub path: String,
    pub hash: String,
    pub cases: usize,
}

/// One model's results at a glance.
///
/// Every rate, score, pass@k and repair count is computed over **valid runs only**: a run that
/// is invalid for reasons of the run rather than the model (a budget or context window too
/// small, a provider that timed out, failed or was stopped) is counted in `invalid`, by reason,
/// and nowhere else, so "the model wrote wrong Rust" and "the benchmark was misconfigured" stay
/// apart. Rates are fractions in 0..=1 rounded to 4 decimals; a stage's rate is null when no
/// valid run had that stage, and the other rates are 0 when no run was valid.
///
/// Speed percentiles use every scored attempt whose number was measured (by the server or on
/// our clock); offline answers (`reference`, `replay`) have none, so theirs are null.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Case × sample runs, valid or not.
    pub runs: usize,
    /// Runs that count: `runs` minus `invalid.total`.
    pub valid_runs: usize,
    /// Runs left out of every rate because the run, not the model, is to blame.
    pub invalid: InvalidCounts,
    /// Valid runs whose final attempt passed every stage of its case.
    pub passed: usize,
    /// Mean final score of the valid runs.
    pub mean_score: f64,
    /// pass@1 over valid runs (see `pass_at_k`).
    pub pass_at_1: f64,
    /// pass@k (`pass@1`, `pass@5`, `pass@10`) for each k that some case has k valid samples
    /// for: the unbiased estimator per case over its valid samples, averaged over the cases with
    /// at least k valid samples.
    pub pass_at_k: BTreeMap<String, f64>,
    /// How many cases each `pass_at_k` entry averages over.
    #[serde(default)]
    pub pass_at_k_cases: BTreeMap<String, usize>,
    /// Per stage: valid runs whose final attempt passed it, over valid runs whose case has it.
    pub stage_pass_rates: BTreeMap<Stage, Option<f64>>,
    /// Valid runs whose first attempt passed, over valid runs.
    pub first_try_pass_rate: f64,
    /// Valid runs whose final attempt passed, over valid runs: the pass rate.
    pub after_repair_pass_rate: f64,
    /// The 95% confidence interval of `after_repair_pass_rate`; null when no run was valid.
    #[serde(default)]
    pub pass_rate_ci: Option<ConfidenceInterval>,
    /// How many cases both passed and failed across their valid samples.
    #[serde(default)]
    pub flaky: usize,
    /// Those cases, in suite and case order.
    #[serde(default)]
    pub flaky_cases: Vec<FlakyCaseReport>,
    /// Repairs asked for in valid runs.
    pub repairs_total: u32,
    /// `repairs_total` over valid runs.
    pub repairs_mean: f64,
    /// Repairs the valid runs that passed needed; null when none passed.
    #[serde(default)]
    pub repairs_per_solved: Option<RepairsPerSolvedReport>,
    /// rustc error codes over every failed compile.
    #[serde(default)]
    pub rustc_errors: RustcErrorsReport,
    /// Runs the provider failed (timed out, errored, or the model was stopped); a part of
    /// `invalid`.
    pub provider_errors: usize,
    /// Request sent → first token, thinking included, in milliseconds on our clock.
    pub ttft_ms: Percentiles,
    /// Request sent → first token of the answer itself, after any thinking.
    pub ttft_answer_ms: Percentiles,
    /// Generated tokens per second after the first one.
    pub decode_tokens_per_second: Percentiles,
    /// Prompt tokens processed per second (only servers report it).
    pub prefill_tokens_per_second: Percentiles,
    /// Over every attempt, valid or not: what the run cost.
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Generation time of every attempt, summed (requests overlap, so this exceeds wall time).
    pub generation_ms: u64,
    /// Requests retried, over every attempt and every failed request.
    pub retries: u32,
    /// Time spent waiting before those retries.
    pub retry_wait_ms: u64,
    /// Loading the model, measured apart before any timed request; null when nothing was loaded.
    pub load_time_ms: Option<u64>,
    /// Wall time from the model's first request to its last scored attempt.
    pub total_ms: u64,
    /// Why the model stopped before its last case, when it did.
    pub stopped: Option<String>,
}

/// A confidence interval of a rate: Wilson's score interval over the valid runs' effective
/// count. Samples of one case are correlated, so with several samples per case the runs are
/// worth fewer independent trials (between the number of cases and of runs), estimated from the
/// spread between cases; with one sample per case it is plain Wilson over the valid runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceInterval {
    /// `0.95`.
    pub level: f64,
    pub low: f64,
    pub high: f64,
    /// What the valid runs are worth as independent trials.
    pub effective_runs: f64,
}

/// A case that passed in some valid samples and failed in others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlakyCaseReport {
    pub suite: String,
    pub case: String,
    /// Valid samples that passed, of `samples`.
    pub passed: u32,
    pub samples: u32,
}

/// Repairs per solved run: over the valid runs whose final attempt passed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RepairsPerSolvedReport {
    pub solved: usize,
    pub mean: f64,
    pub median: f64,
    pub max: u32,
}

/// rustc error codes over every failed compile of an answer whose generation finished.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RustcErrorsReport {
    /// Compiles that failed, over every attempt (repairs included).
    pub failed_compiles: usize,
    /// Most frequent first (ties by code).
    pub codes: Vec<ErrorCodeReport>,
}

/// One rustc error code and how many failed compiles reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCodeReport {
    pub code: String,
    pub count: usize,
    /// What the code means in a few words; null for a code outside our table (see
    /// `rustc --explain CODE`).
    pub gloss: Option<String>,
}

/// Invalid runs, by why they are invalid. A run has one reason: a provider failure first, else
/// why its final answer ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidCounts {
    pub total: usize,
    /// The answer hit `max_tokens`.
    pub max_tokens: usize,
    /// The prompt was cut to fit the context window.
    pub prompt_truncated: usize,
    /// Thinking used the whole budget and no answer came.
    pub thinking_exhausted: usize,
    /// The request timed out at the provider.
    pub provider_timeout: usize,
    /// The provider failed the request (an error, an incomplete stream).
    pub provider_error: usize,
    /// The model was stopped (it became unusable) before this run finished.
    pub model_stopped: usize,
}

/// Why a run is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvalidReason {
    MaxTokens,
    PromptTruncated,
    ThinkingExhausted,
    ProviderTimeout,
    ProviderError,
    ModelStopped,
}

impl From<model_summary::InvalidReason> for InvalidReason {
    fn from(reason: model_summary::InvalidReason) -> InvalidReason {
        match reason {
            model_summary::InvalidReason::MaxTokens => InvalidReason::MaxTokens,
            model_summary::InvalidReason::PromptTruncated => InvalidReason::PromptTruncated,
            model_summary::InvalidReason::ThinkingExhausted => InvalidReason::ThinkingExhausted,
            model_summary::InvalidReason::ProviderTimeout => InvalidReason::ProviderTimeout,
            model_summary::InvalidReason::ProviderError => InvalidReason::ProviderError,
            model_summary::InvalidReason::ModelStopped => InvalidReason::ModelStopped,
        }
    }
}

impl InvalidReason {
    pub fn name(self) -> &'static str {
        match self {
            InvalidReason::MaxTokens => "max_tokens",
            InvalidReason::PromptTruncated => "prompt_truncated",
            InvalidReason::ThinkingExhausted => "thinking_exhausted",
            InvalidReason::ProviderTimeout => "provider_timeout",
            InvalidReason::ProviderError => "provider_error",
            InvalidReason::ModelStopped => "model_stopped",
        }
    }
}

/// The 50th and 90th percentile (nearest rank) of the attempts that measured the number, and
/// how many did, by source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    /// Attempts whose number came from the server's own clock or counters.
    pub from_server: usize,
    /// Attempts whose number came from our clock.
    pub from_client: usize,
}

/// One case and sample: every attempt, and the verdict of the last.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseReport {
    pub suite: String,
    pub case: String,
    pub sample: u32,
    pub passed: bool,
    pub score: f64,
    pub first_try_passed: bool,
    pub repairs: u32,
    /// Invalid for reasons of the run, not the model: left out of every rate of the summary.
    pub invalid: bool,
    pub invalid_reason: Option<InvalidReason>,
    /// Set when the provider failed this run's last request; the run went on without it.
    pub provider_error: Option<ProviderErrorReport>,
    /// Why the last answer, having failed, got no repair; null when it passed.
    pub repair_stop: Option<RepairStopReport>,
    pub attempts: Vec<AttemptReport>,
}

/// Why a failed answer got no repair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum RepairStopReport {
    /// The case's repairs were all used, or it allows none.
    OutOfRepairs,
    /// Completion mode, a provider that takes no feedback, an answer cut short, a stopped model.
    NotRepairable,
    /// The answer repeated the code of this earlier attempt.
    SameCode { attempt: u32 },
    /// The same stage failed with the same diagnostics as in the attempt before.
    SameError,
}

impl From<RepairStop> for RepairStopReport {
    fn from(stop: RepairStop) -> Self {
        match stop {
            RepairStop::OutOfRepairs => RepairStopReport::OutOfRepairs,
            RepairStop::NotRepairable => RepairStopReport::NotRepairable,
            RepairStop::SameCode { attempt } => RepairStopReport::SameCode { attempt },
            RepairStop::SameError => RepairStopReport::SameError,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProviderErrorReport {
    pub reason: String,
    pub timed_out: bool,
    /// The model was stopped before this run was asked, or by this very request.
    pub model_stopped: bool,
    /// Retries spent on the failed request, and the time waited before them.
    pub retries: u32,
    pub retry_wait_ms: f64,
}

/// One answer and how it fared. Its key is the case's `suite`, `case` and `sample` with
/// `attempt` (0 for the first answer, n for the n-th repair).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttemptReport {
    pub attempt: u32,
    pub passed: bool,
    pub score: f64,
    /// Why generation ended; anything but `finished` makes a failed attempt invalid.
    pub end: GenerationEndReport,
    /// Failed because generation did not finish on its own: the run's fault, not the model's.
    pub invalid: bool,
    pub flags: Vec<String>,
    pub metrics: Metrics,
    pub stages: Vec<StageReport>,
    /// The length of the model's thinking, in characters; the thinking itself is not kept, as it
    /// can dwarf the answer and is never scored.
    pub thinking_chars: usize,
    /// The repair request that asked for this answer: the previous answer's failing stage and
    /// its diagnostics, exactly as sent. Null for the first answer.
    pub feedback: Option<String>,
    /// The code that was scored, as extracted from the answer.
    pub code: String,
    /// The model's raw answer.
    pub answer: String,
    /// The answer came from the response cache, not from the model: its metrics are those of
    /// the run that first asked.
    #[serde(default)]
    pub cached: bool,
}

/// Why generation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum GenerationEndReport {
    /// The model stopped by itself.
    Finished,
    /// The answer hit `max_tokens`.
    MaxTokens,
    /// The prompt was cut to fit the context window: the server read `sent_tokens` of the
    /// `expected_tokens` the prompt holds.
    PromptTruncated {
        sent_tokens: u64,
        expected_tokens: u64,
    },
    /// Thinking used the whole budget and no answer came.
    ThinkingExhausted,
}

impl GenerationEndReport {
    pub fn name(&self) -> &'static str {
        match self {
            GenerationEndReport::Finished => "finished",
            GenerationEndReport::MaxTokens => "max_tokens",
            GenerationEndReport::PromptTruncated { .. } => "prompt_truncated",
            GenerationEndReport::ThinkingExhausted => "thinking_exhausted",
        }
    }
}

/// Speed and size of one generation; null where the server left a number out and we could not
/// measure it. `sources` says where each number came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Metrics {
    /// Request sent → first token, thinking included.
    pub ttft_ms: Option<f64>,
    /// Request sent → first token of the answer itself.
    pub ttft_answer_ms: Option<f64>,
    /// Request sent → end of the stream, on our clock.
    pub generation_ms: f64,
    pub prompt_tokens: Option<u64>,
    /// Every generated token, thinking included.
    pub completion_tokens: Option<u64>,
    pub decode_tokens_per_second: Option<f64>,
    pub prefill_tokens_per_second: Option<f64>,
    /// The server's own prompt-processing time, beside our TTFT, never instead of it.
    pub server_prompt_ms: Option<f64>,
    /// Model load time the server reported for this request (about 0 once loaded).
    pub server_load_ms: Option<f64>,
    /// Requests retried before this answer came, and the time waited before them.
    pub retries: u32,
    pub retry_wait_ms: f64,
    pub sources: MetricSources,
}

/// Where each number of `Metrics` came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricSources {
    /// Both TTFTs: always our clock when measured.
    pub ttft: SourceReport,
    /// Prompt and completion tokens.
    pub tokens: SourceReport,
    pub decode: SourceReport,
    /// Only a server can tell prefill apart from queueing, so this is `server` or `none`.
    pub prefill: SourceReport,
}

/// `server`: the server's own clock or counter; `client`: our clock, or our count of streamed
/// chunks; `none`: not measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceReport {
    Server,
    Client,
    None,
}

impl SourceReport {
    pub fn name(self) -> &'static str {
        match self {
            SourceReport::Server => "server",
            SourceReport::Client => "client",
            SourceReport::None => "none",
        }
    }
}

impl From<provider::Source> for SourceReport {
    fn from(source: provider::Source) -> SourceReport {
        match source {
            provider::Source::Server => SourceReport::Server,
            provider::Source::Client => SourceReport::Client,
            provider::Source::None => SourceReport::None,
        }
    }
}

/// One stage; the fields after `duration_ms` are set for the stage they belong to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageReport {
    pub stage: Stage,
    pub passed: bool,
    pub duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub already_formatted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_codes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tests_passed: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tests_total: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub covered_lines: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverable_lines: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage_required: Option<f64>,
    pub diagnostics: String,
}

/// What every report of one run shares.
#[derive(Debug, Clone)]
pub struct RunInfo<'a> {
    pub suites: &'a [Suite],
    pub samples: u32,
    pub weights: Weights,
    pub rustc: String,
    pub created: chrono::DateTime<chrono::Utc>,
    pub sandbox: String,
    pub complete: bool,
    /// The share of the work that was run, if not all of it.
    pub partition: Option<Partition>,
}

/// The report of one model's run; its summary is the domain `ModelSummary`, computed here once.
pub fn build_report(info: &RunInfo, run: &ModelRun) -> Report {
    let cases: Vec<CaseReport> = run
        .cases
        .iter()
        .map(|case_run| case_report(info.suites, case_run))
        .collect();
    Report {
        format_version: FORMAT_VERSION,
        tool: Tool {
            name: env!("CARGO_PKG_NAME").to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        rustc: info.rustc.clone(),
        created: info
            .created
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        sandbox: info.sandbox.clone(),
        complete: info.complete,
        provider: run.model.provider.clone(),
        model: run.model.model.clone(),
        suites: info
            .suites
            .iter()
            .map(|suite| SuiteInfo {
                name: suite.name.clone(),
                path: suite.path.display().to_string(),
                hash: suite.hash.clone(),
                cases: suite.cases.len(),
            })
            .collect(),
        samples: info.samples,
        weights: info.weights,
        partition: info.partition.map(|share| share.to_string()),
        summary: summary::summary_report(info.suites, &ModelSummary::of(info.suites, run)),
        cases,
    }
}

fn case_report(suites: &[Suite], case_run: &CaseRun) -> CaseReport {
    let suite = &suites[case_run.suite];
    let last = case_run.last();
    let invalid_reason = model_summary::InvalidReason::of(case_run).map(InvalidReason::from);
    CaseReport {
        suite: suite.name.clone(),
        case: suite.cases[case_run.case].id.clone(),
        sample: case_run.sample,
        passed: case_run.passed(),
        score: fraction(last.map_or(0.0, |attempt| attempt.score)),
        first_try_passed: case_run
            .attempts
            .first()
            .is_some_and(|attempt| attempt.passed),
        repairs: case_run.repairs(),
        invalid: invalid_reason.is_some(),
        invalid_reason,
        provider_error: case_run
            .provider_error
            .as_ref()
            .map(|failure| ProviderErrorReport {
                reason: failure.reason.clone(),
                timed_out: failure.timed_out,
                model_stopped: failure.model_stopped,
                retries: failure.retries.count,
                retry_wait_ms: millis(failure.retries.waited),
            }),
        repair_stop: case_run.repair_stop.map(RepairStopReport::from),
        attempts: case_run.attempts.iter().map(attempt_report).collect(),
    }
}

fn attempt_report(attempt: &Attempt) -> AttemptReport {
    let metrics = &attempt.metrics;
    let measured = |value: Option<f64>, source: SourceReport| {
        if value.is_some() {
            source
        } else {
            SourceReport::None
        }
    };
    AttemptReport {
        attempt: attempt.key.attempt,
        passed: attempt.passed,
        score: fraction(attempt.score),
        end: match attempt.end {
            GenerationEnd::Finished => GenerationEndReport::Finished,
            GenerationEnd::MaxTokens => GenerationEndReport::MaxTokens,
            GenerationEnd::PromptTruncated {
                sent_tokens,
                expected_tokens,
            } => GenerationEndReport::PromptTruncated {
                sent_tokens,
                expected_tokens,
            },
            GenerationEnd::ThinkingExhausted => GenerationEndReport::ThinkingExhausted,
        },
        invalid: attempt.is_invalid(),
        flags: attempt
            .flags
            .iter()
            .map(|flag| {
                serde_json::to_value(flag)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            })
            .collect(),
        metrics: Metrics {
            ttft_ms: metrics.ttft.map(millis),
            ttft_answer_ms: metrics.ttft_answer.map(millis),
            generation_ms: millis(metrics.generation_time),
            prompt_tokens: metrics.prompt_tokens,
            completion_tokens: metrics.completion_tokens,
            decode_tokens_per_second: metrics.decode_tokens_per_second.map(hundredths),
            prefill_tokens_per_second: metrics.prefill_tokens_per_second.map(hundredths),
            server_prompt_ms: metrics.server_prompt_time.map(millis),
            server_load_ms: metrics.load_time.map(millis),
            retries: metrics.retries,
            retry_wait_ms: millis(metrics.retry_wait),
            sources: MetricSources {
                ttft: measured(
                    metrics.ttft.or(metrics.ttft_answer).map(millis),
                    SourceReport::Client,
                ),
                tokens: metrics.tokens_source.into(),
                decode: measured(
                    metrics.decode_tokens_per_second,
                    metrics.decode_source.into(),
                ),
                prefill: measured(metrics.prefill_tokens_per_second, SourceReport::Server),
            },
        },
        stages: attempt.stages.iter().map(stage_report).collect(),
        thinking_chars: attempt.thinking.chars().count(),
        feedback: attempt.feedback.clone(),
        code: attempt.code.clone(),
        answer: attempt.answer.clone(),
        // Set by the run, which knows what the response cache served.
        cached: false,
    }
}

// Rounding at the report's boundary: round(x·10ⁿ)/10ⁿ is the double nearest the n-decimal
// number, which serde_json prints as just those decimals (0.3, never 0.30000000000000004).

/// Milliseconds to a tenth: finer is noise.
fn millis(duration: Duration) -> f64 {
    tenths(duration.as_secs_f64() * 1e3)
}

fn tenths(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

fn hundredths(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// Scores, rates and other fractions: 4 decimals, a hundredth of a percent.
fn fraction(value: f64) -> f64 {
    (value * 1e4).round() / 1e4
}

fn stage_report(outcome: &StageOutcome) -> StageReport {
    let mut report = StageReport {
        stage: outcome.stage,
        passed: outcome.passed,
        duration_ms: millis(outcome.elapsed),
        already_formatted: None,
        error_codes: None,
        warnings: None,
        tests_passed: None,
        tests_total: None,
        covered_lines: None,
        coverable_lines: None,
        coverage: None,
        coverage_required: None,
        diagnostics: outcome.diagnostics.clone(),
    };
    match &outcome.detail {
        StageDetail::Format { already_formatted } => {
            report.already_formatted = Some(*already_formatted)
        }
        StageDetail::Compile {
            error_codes,
            warnings,
        } => {
            report.error_codes = Some(error_codes.clone());
            report.warnings = Some(*warnings);
        }
        StageDetail::Test { passed, total } => {
            report.tests_passed = Some(*passed);
            report.tests_total = Some(*total);
        }
        StageDetail::Coverage {
            covered,
            total,
            ratio,
            required,
        } => {
            report.covered_lines = Some(*covered);
            report.coverable_lines = Some(*total);
            report.coverage = Some(fraction(*ratio));
            report.coverage_required = Some(*required);
        }
    }
    report
}

/// A model name made safe for a file name: `qwen3-coder:8b-cloud` → `qwen3-coder_8b-cloud`.
pub fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_matches('.')
        .to_owned()
}

/// The report's model label for file names.
pub fn model_label(model: &ModelSpec) -> (String, String) {
    (file_safe(&model.provider), file_safe(&model.model))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::extract::Flag;
    use crate::provider::{AttemptKey, GenerationMetrics, Retries, Source};
    use crate::runner::ProviderFailure;
    use std::path::Path;

    #[test]
    fn model_names_are_made_file_safe() {
        assert_eq!(file_safe("qwen3-coder:8b-cloud"), "qwen3-coder_8b-cloud");
        assert_eq!(file_safe("../../etc/passwd"), "_.._etc_passwd");
    }

    pub(super) fn suite() -> Suite {
        let mut yaml =
            String::from("suite: arith\ndefaults:\n  stages: [format, compile, test]\ncases:\n");
        for id in ["add", "sub", "mul", "div"] {
            yaml.push_str(&format!(
                "  - id: {id}\n    prompt: p\n    reference: |\n      pub fn {id}() {{}}\n    tests: |\n      #[test]\n      fn works() {{ {id}() }}\n"
            ));
        }
        crate::suite::parse(Path::new("arith.yaml"), &yaml).expect("a valid suite")
    }

    fn outcome(stage: Stage, passed: bool, detail: StageDetail) -> StageOutcome {
        StageOutcome {
            stage,
            passed,
            elapsed: Duration::from_millis(5),
            detail,
            diagnostics: String::new(),
        }
    }

    fn format_ok() -> StageOutcome {
        outcome(
            Stage::Format,
            true,
            StageDetail::Format {
                already_formatted: true,
            },
        )
    }

    fn compile(passed: bool) -> StageOutcome {
        outcome(
            Stage::Compile,
            passed,
            StageDetail::Compile {
                error_codes: if passed {
                    vec![]
                } else {
                    vec!["E0308".to_owned()]
                },
                warnings: 0,
            },
        )
    }

    fn test(passed: u32, total: u32) -> StageOutcome {
        outcome(
            Stage::Test,
            passed == total,
            StageDetail::Test { passed, total },
        )
    }

    fn attempt(case: &str, end: GenerationEnd, stages: Vec<StageOutcome>) -> Attempt {
        let passed = stages.len() == 3 && stages.iter().all(|s| s.passed);
        Attempt {
            key: AttemptKey {
                suite: "arith".to_owned(),
                case: case.to_owned(),
                sample: 0,
                attempt: 0,
            },
            feedback: None,
            answer: "```rust\nfn x() {}\n```".to_owned(),
            thinking: "hmm".to_owned(),
            code: "fn x() {}".to_owned(),
            flags: vec![Flag::SeveralCodeBlocks],
            end,
            metrics: GenerationMetrics::offline(Duration::from_millis(900)),
            score: if passed { 1.0 } else { 0.3 },
            passed,
            stages,
        }
    }

    fn case_run(case: usize, attempts: Vec<Attempt>) -> CaseRun {
        CaseRun {
            suite: 0,
            case,
            sample: 0,
            attempts,
            provider_error: None,
            repair_stop: None,
        }
    }

    /// add passes, sub fails its tests, mul hits max_tokens, div times out at the provider.
    pub(super) fn model_run() -> ModelRun {
        let mut passed = attempt(
            "add",
            GenerationEnd::Finished,
            vec![format_ok(), compile(true), test(2, 2)],
        );
        passed.metrics.ttft = Some(Duration::from_millis(100));
        passed.metrics.decode_tokens_per_second = Some(40.0);
        passed.metrics.decode_source = Source::Server;
        passed.metrics.prompt_tokens = Some(50);
        passed.metrics.completion_tokens = Some(70);
        passed.metrics.retries = 1;
        passed.metrics.retry_wait = Duration::from_millis(500);
        let mut wrong = attempt(
            "sub",
            GenerationEnd::Finished,
            vec![format_ok(), compile(true), test(3, 5)],
        );
        wrong.metrics.ttft = Some(Duration::from_millis(300));
        wrong.metrics.decode_tokens_per_second = Some(20.0);
        wrong.metrics.decode_source = Source::Client;
        let mut cut_short = attempt(
            "mul",
            GenerationEnd::MaxTokens,
            vec![format_ok(), compile(false)],
        );
        // A rate nobody measured is no measurement.
        cut_short.metrics.decode_tokens_per_second = Some(1e6);
        let mut timed_out = case_run(3, Vec::new());
        timed_out.provider_error = Some(ProviderFailure {
            reason: "no answer within 60s".to_owned(),
            timed_out: true,
            model_stopped: false,
            retries: Retries {
                count: 2,
                waited: Duration::from_secs(3),
            },
        });
        ModelRun {
            model: ModelSpec::parse("local:tiny-coder").unwrap(),
            cases: vec![
                case_run(0, vec![passed]),
                case_run(1, vec![wrong]),
                case_run(2, vec![cut_short]),
                timed_out,
            ],
            elapsed: Duration::from_secs(12),
            load_time: Some(Duration::from_millis(1500)),
            stopped: None,
        }
    }

    pub(super) fn build(run: &ModelRun) -> Report {
        let suites = [suite()];
        let info = RunInfo {
            suites: &suites,
            samples: 1,
            weights: Weights::default(),
            rustc: "rustc 1.0".to_owned(),
            created: chrono::Utc::now(),
            sandbox: "bwrap".to_owned(),
            complete: true,
            partition: None,
        };
        build_report(&info, run)
    }

    #[test]
    fn invalid_runs_are_counted_apart_and_left_out_of_every_rate() {
        let summary = build(&model_run()).summary;
        assert_eq!(
            (summary.runs, summary.valid_runs, summary.passed),
            (4, 2, 1)
        );
        assert_eq!(
            summary.invalid,
            InvalidCounts {
                total: 2,
                max_tokens: 1,
                provider_timeout: 1,
                ..InvalidCounts::default()
            }
        );
        assert_eq!(summary.provider_errors, 1);
        assert_eq!(summary.pass_at_1, 0.5);
        assert_eq!(summary.after_repair_pass_rate, 0.5);
        assert!((summary.mean_score - 0.65).abs() < 1e-9);
        assert_eq!(summary.stage_pass_rates[&Stage::Compile], Some(1.0));
        assert_eq!(summary.stage_pass_rates[&Stage::Test], Some(0.5));
        assert_eq!(summary.stage_pass_rates[&Stage::Coverage], None);
    }

    #[test]
    fn speed_summaries_use_only_measured_numbers_and_say_where_they_came_from() {
        let summary = build(&model_run()).summary;
        assert_eq!(
            summary.decode_tokens_per_second,
            Percentiles {
                p50: Some(20.0),
                p90: Some(40.0),
                from_server: 1,
                from_client: 1,
            }
        );
        assert_eq!(summary.ttft_ms.p50, Some(100.0));
        assert_eq!(summary.ttft_ms.from_client, 2);
        assert_eq!(summary.prefill_tokens_per_second.p50, None);
        assert_eq!((summary.prompt_tokens, summary.completion_tokens), (50, 70));
        assert_eq!((summary.retries, summary.retry_wait_ms), (3, 3500));
        assert_eq!(summary.load_time_ms, Some(1500));
        assert_eq!(summary.total_ms, 12_000);
    }

    #[test]
    fn each_attempt_says_why_it_ended_and_where_its_numbers_came_from() {
        let report = build(&model_run());
        let cut_short = &report.cases[2];
        assert!(cut_short.invalid);
        assert_eq!(cut_short.invalid_reason, Some(InvalidReason::MaxTokens));
        let attempt = &cut_short.attempts[0];
        assert_eq!(attempt.end, GenerationEndReport::MaxTokens);
        assert!(attempt.invalid);
        assert_eq!(attempt.metrics.sources.decode, SourceReport::None);
        assert_eq!(attempt.thinking_chars, 3);
        let json = serde_json::to_value(attempt).unwrap();
        assert_eq!(json["end"], serde_json::json!({"reason": "max_tokens"}));
        assert_eq!(json["flags"], serde_json::json!(["several-code-blocks"]));

        let passed = &report.cases[0].attempts[0].metrics;
        assert_eq!(passed.sources.decode, SourceReport::Server);
        assert_eq!(passed.sources.ttft, SourceReport::Client);
        assert_eq!(passed.sources.tokens, SourceReport::None);

        let timed_out = &report.cases[3];
        assert_eq!(
            timed_out.invalid_reason,
            Some(InvalidReason::ProviderTimeout)
        );
        let error = timed_out.provider_error.as_ref().unwrap();
        assert_eq!((error.retries, error.retry_wait_ms), (2, 3000.0));
    }

    #[test]
    fn a_report_reads_back_as_it_was_written() {
        let report = build(&model_run());
        let json = serde_json::to_string(&report).unwrap();
        let read: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(read.format_version, FORMAT_VERSION);
        assert_eq!(serde_json::to_string(&read).unwrap(), json);
    }

    #[test]
    fn no_number_in_a_report_carries_float_noise() {
        let mut run = model_run();
        for case_run in &mut run.cases {
            for attempt in &mut case_run.attempts {
                attempt.score = 0.1 + 0.2;
                attempt.metrics.ttft = Some(Duration::from_nanos(123_456_789));
                attempt.metrics.decode_tokens_per_second = Some(41.273_456_7);
                attempt.metrics.decode_source = Source::Server;
                attempt.metrics.prefill_tokens_per_second = Some(1_000.0 / 3.0);
            }
        }
        // A third of the runs pass: rates of 1/3 and 2/3.
        run.cases.push(CaseRun {
            sample: 1,
            ..run.cases[1].clone()
        });
        let json = serde_json::to_value(build(&run)).unwrap();
        assert_eq!(json["cases"][1]["score"], serde_json::json!(0.3));
        let mut noisy = Vec::new();
        find_noise(&json, "", &mut noisy);
        assert!(noisy.is_empty(), "{noisy:#?}");
    }

    /// Every number printed with more than 4 decimals, with its path.
    fn find_noise(value: &serde_json::Value, path: &str, noisy: &mut Vec<String>) {
        match value {
            serde_json::Value::Number(number) => {
                let text = number.to_string();
                let decimals = text.split_once('.').map_or(0, |(_, after)| after.len());
                if decimals > 4 || text.contains('e') {
                    noisy.push(format!("{path} = {text}"));
                }
            }
            serde_json::Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    find_noise(item, &format!("{path}[{index}]"), noisy);
                }
            }
            serde_json::Value::Object(fields) => {
                for (key, item) in fields {
                    find_noise(item, &format!("{path}.{key}"), noisy);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn the_summary_names_flaky_cases_and_explains_rustc_errors() {
        let mut run = model_run();
        let mut broken = run.cases[0].clone();
        broken.sample = 1;
        broken.attempts[0].stages = vec![format_ok(), compile(false)];
        broken.attempts[0].passed = false;
        run.cases.push(broken);
        let summary = build(&run).summary;
        assert_eq!(summary.flaky, 1);
        assert_eq!(
            summary.flaky_cases,
            [FlakyCaseReport {
                suite: "arith".to_owned(),
                case: "add".to_owned(),
                passed: 1,
                samples: 2,
            }]
        );
        // The cut-short answer's failed compile is left out of the profile.
        assert_eq!(summary.rustc_errors.failed_compiles, 1);
        assert_eq!(
            summary.rustc_errors.codes,
            [ErrorCodeReport {
                code: "E0308".to_owned(),
                count: 1,
                gloss: Some("mismatched types".to_owned()),
            }]
        );
        let ci = summary.pass_rate_ci.unwrap();
        assert_eq!((ci.level, ci.effective_runs), (0.95, 3.0));
        assert!(ci.low < 1.0 / 3.0 && ci.high > 1.0 / 3.0, "{ci:?}");
        assert_eq!(summary.pass_at_k.keys().collect::<Vec<_>>(), ["pass@1"]);
    }

    #[test]
    fn the_csv_has_one_row_per_run_with_every_column() {
        let csv = files::to_csv(&build(&model_run())).unwrap();
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let headers = reader.headers().unwrap().clone();
        assert_eq!(headers.iter().collect::<Vec<_>>(), files::CSV_COLUMNS);
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 4);
        let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
        assert_eq!(&rows[0][column("ttft_ms")], "100.0");
        assert_eq!(&rows[0][column("tokens_per_second")], "40.00");
        assert_eq!(&rows[0][column("timing_source")], "server");
        assert_eq!(&rows[0][column("retries")], "1");
        assert_eq!(&rows[2][column("end_reason")], "max_tokens");
        assert_eq!(&rows[2][column("invalid")], "true");
        assert_eq!(&rows[3][column("invalid_reason")], "provider_timeout");
        assert_eq!(&rows[3][column("retries")], "2");
        assert_eq!(&rows[3][column("end_reason")], "");
    }

    #[test]
    fn the_failure_list_names_each_failed_case_with_its_stage_and_each_invalid_run() {
        let text = render_failures(&[build(&model_run())], Some(80), false);
        assert_eq!(
            text,
            "local:tiny-coder failed 1 of 2 valid runs; 2 invalid:\n  sub (test: 3/5 passed)\n  mul (invalid: max_tokens)\n  div (invalid, provider_timeout: no answer within 60s)"
        );
    }

    #[test]
    fn a_model_that_passed_everything_is_left_out_of_the_failure_list() {
        let mut run = model_run();
        run.cases.truncate(1);
        assert_eq!(render_failures(&[build(&run)], None, false), "");
    }

    #[test]
    fn the_failure_list_says_how_many_cases_were_flaky() {
        let mut run = model_run();
        let mut broken = run.cases[0].clone();
        broken.sample = 1;
        broken.attempts[0].stages = vec![format_ok(), compile(false)];
        broken.attempts[0].passed = false;
        run.cases.push(broken);
        let text = render_failures(&[build(&run)], Some(80), false);
        assert_eq!(
            text.lines().next(),
            Some("local:tiny-coder failed 2 of 3 valid runs; 1 flaky case; 2 invalid:")
        );
        assert!(text.contains("  add (compile: E0308)"), "{text}");
    }

    fn long_failure_list() -> ModelRun {
        let mut run = model_run();
        let wrong = run.cases[1].clone();
        let mut cases: Vec<CaseRun> = (0..4)
            .map(|case| CaseRun {
                case,
                ..wrong.clone()
            })
            .collect();
        // Samples that failed alike are one line; the invalid runs follow.
        cases.extend((1..3).map(|sample| CaseRun {
            sample,
            ..wrong.clone()
        }));
        cases.extend(run.cases.drain(2..).map(|case_run| CaseRun {
            sample: 1,
            ..case_run
        }));
        let mut never_asked = cases.last().unwrap().clone();
        never_asked.sample = 2;
        never_asked.provider_error.as_mut().unwrap().model_stopped = true;
        cases.push(never_asked);
        run.cases = cases;
        run.stopped = Some("the server went away".to_owned());
        run
    }

    #[test]
    fn a_long_failure_list_is_capped_and_counts_the_rest() {
        let text = render_failures(&[build(&long_failure_list())], Some(60), false);
        assert!(
            text.lines().all(|line| line.chars().count() <= 60),
            "{text}"
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "local:tiny-coder failed 6 of 6 valid runs; 3 invalid:",
                "  stopped with 1 run unfinished: the server went away",
                "  add (test: 3/5 passed)",
                "  sub ×3 (test: 3/5 passed)",
                "  mul (test: 3/5 passed)",
                "  div (test: 3/5 passed)",
                "  … and 2 more in the JSON report",
            ],
            "{text}"
        );
    }

    #[test]
    fn a_verbose_failure_list_shows_every_failure() {
        let text = render_failures(&[build(&long_failure_list())], Some(60), true);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + 1 + 4 + 2, "{text}");
        assert!(lines.contains(&"  mul (invalid: max_tokens)"), "{text}");
        assert!(!text.contains("more in the JSON report"), "{text}");
    }
}
