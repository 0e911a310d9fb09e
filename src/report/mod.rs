//! The only module that serializes results: the versioned JSON report, the CSV, the table.
//!
//! Report types are a contract of their own (`FORMAT_VERSION`), separate from the domain types,
//! so the runner can change without changing what users parse.

mod files;
mod table;

pub use files::{check_output_dir, write_report, OutputError, ReportPaths};
pub use table::render_table;

use crate::pipeline::StageDetail;
use crate::provider::{ModelSpec, Source};
use crate::runner::{Attempt, CaseRun, ModelRun};
use crate::score::{self, Weights};
use crate::suite::{Stage, Suite};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bumped on any change a consumer could notice.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub format_version: u32,
    pub tool: Tool,
    pub rustc: String,
    /// RFC 3339, UTC.
    pub created: String,
    pub provider: String,
    pub model: String,
    pub suites: Vec<SuiteInfo>,
    pub samples: u32,
    pub weights: Weights,
    pub summary: Summary,
    pub cases: Vec<CaseReport>,
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

/// Rates are fractions in 0..=1; a rate is null when nothing was measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Case × sample runs.
    pub runs: usize,
    pub passed: usize,
    pub mean_score: f64,
    pub pass_at_1: f64,
    /// pass@k for k = 1 up to the number of samples.
    pub pass_at_k: BTreeMap<String, f64>,
    pub stage_pass_rates: BTreeMap<Stage, Option<f64>>,
    pub first_try_pass_rate: f64,
    pub after_repair_pass_rate: f64,
    pub repairs_total: u32,
    pub repairs_mean: f64,
    pub provider_errors: usize,
    pub ttft_ms: Percentiles,
    pub tokens_per_second: Percentiles,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub generation_ms: u64,
    /// Generation plus this model's share of scoring.
    pub total_ms: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseReport {
    pub suite: String,
    pub case: String,
    pub sample: u32,
    pub passed: bool,
    pub score: f64,
    pub first_try_passed: bool,
    pub repairs: u32,
    pub provider_error: Option<String>,
    pub attempts: Vec<AttemptReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttemptReport {
    pub attempt: u32,
    pub passed: bool,
    pub score: f64,
    pub flags: Vec<String>,
    pub metrics: Metrics,
    pub stages: Vec<StageReport>,
    /// The code that was scored, as extracted from the answer.
    pub code: String,
    /// The model's raw answer.
    pub answer: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Metrics {
    pub ttft_ms: Option<f64>,
    pub generation_ms: f64,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub tokens_per_second: Option<f64>,
    pub timing_source: Source,
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
}

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
        summary: summarize(info, run),
        cases,
    }
}

fn case_report(suites: &[Suite], case_run: &CaseRun) -> CaseReport {
    let suite = &suites[case_run.suite];
    let last = case_run.last();
    CaseReport {
        suite: suite.name.clone(),
        case: suite.cases[case_run.case].id.clone(),
        sample: case_run.sample,
        passed: last.is_some_and(|attempt| attempt.passed),
        score: last.map_or(0.0, |attempt| attempt.score),
        first_try_passed: case_run
            .attempts
            .first()
            .is_some_and(|attempt| attempt.passed),
        repairs: case_run.repairs(),
        provider_error: case_run.provider_error.clone(),
        attempts: case_run
            .attempts
            .iter()
            .enumerate()
            .map(|(index, attempt)| attempt_report(index as u32, attempt))
            .collect(),
    }
}

fn attempt_report(index: u32, attempt: &Attempt) -> AttemptReport {
    let metrics = &attempt.metrics;
    AttemptReport {
        attempt: index,
        passed: attempt.passed,
        score: attempt.score,
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
            ttft_ms: metrics.ttft.map(|ttft| ttft.as_secs_f64() * 1e3),
            generation_ms: metrics.generation_time.as_secs_f64() * 1e3,
            prompt_tokens: metrics.prompt_tokens,
            completion_tokens: metrics.completion_tokens,
            tokens_per_second: metrics.decode_tokens_per_second,
            timing_source: metrics.decode_source,
        },
        stages: attempt.stages.iter().map(stage_report).collect(),
        code: attempt.code.clone(),
        answer: attempt.answer.clone(),
    }
}

fn stage_report(outcome: &crate::pipeline::StageOutcome) -> StageReport {
    let mut report = StageReport {
        stage: outcome.stage,
        passed: outcome.passed,
        duration_ms: (outcome.elapsed.as_secs_f64() * 1e3 * 10.0).round() / 10.0,
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
            report.coverage = Some((ratio * 1e4).round() / 1e4);
            report.coverage_required = Some(*required);
        }
    }
    report
}

fn summarize(info: &RunInfo, run: &ModelRun) -> Summary {
    let runs = run.cases.len();
    let rate = |count: usize, of: usize| {
        if of == 0 {
            0.0
        } else {
            count as f64 / of as f64
        }
    };
    let finals: Vec<Option<&Attempt>> = run.cases.iter().map(CaseRun::last).collect();
    let passed = finals
        .iter()
        .filter(|attempt| attempt.is_some_and(|a| a.passed))
        .count();
    let first_try = run
        .cases
        .iter()
        .filter(|c| c.attempts.first().is_some_and(|a| a.passed))
        .count();

    let mut stage_pass_rates = BTreeMap::new();
    for stage in Stage::ALL {
        let runs_with_stage: Vec<&CaseRun> = run
            .cases
            .iter()
            .filter(|c| {
                info.suites[c.suite].cases[c.case]
                    .settings
                    .stages
                    .contains(&stage)
            })
            .collect();
        let passed_stage = runs_with_stage
            .iter()
            .filter(|c| {
                c.last()
                    .is_some_and(|a| a.stages.iter().any(|o| o.stage == stage && o.passed))
            })
            .count();
        stage_pass_rates.insert(
            stage,
            (!runs_with_stage.is_empty()).then(|| rate(passed_stage, runs_with_stage.len())),
        );
    }

    // pass@k per case over its samples, averaged over cases.
    let mut per_case: BTreeMap<(usize, usize), (u32, u32)> = BTreeMap::new();
    for case_run in &run.cases {
        let entry = per_case.entry((case_run.suite, case_run.case)).or_default();
        entry.0 += 1;
        entry.1 += u32::from(case_run.last().is_some_and(|a| a.passed));
    }
    let mean_pass_at = |k: u32| {
        let values: Vec<f64> = per_case
            .values()
            .map(|&(n, c)| score::pass_at_k(n, c, k))
            .collect();
        if values.is_empty() {
            0.0
        } else {
            values.iter().sum::<f64>() / values.len() as f64
        }
    };
    let attempts: Vec<&Attempt> = run.cases.iter().flat_map(|c| &c.attempts).collect();
    let ttfts: Vec<f64> = attempts
        .iter()
        .filter_map(|a| a.metrics.ttft)
        .map(|t| t.as_secs_f64() * 1e3)
        .collect();
    let speeds: Vec<f64> = attempts
        .iter()
        .filter_map(|a| a.metrics.decode_tokens_per_second)
        .collect();
    let repairs_total: u32 = run.cases.iter().map(CaseRun::repairs).sum();
    Summary {
        runs,
        passed,
        mean_score: if runs == 0 {
            0.0
        } else {
            finals
                .iter()
                .map(|a| a.map_or(0.0, |a| a.score))
                .sum::<f64>()
                / runs as f64
        },
        pass_at_1: mean_pass_at(1),
        pass_at_k: (1..=info.samples)
            .map(|k| (format!("pass@{k}"), mean_pass_at(k)))
            .collect(),
        stage_pass_rates,
        first_try_pass_rate: rate(first_try, runs),
        after_repair_pass_rate: rate(passed, runs),
        repairs_total,
        repairs_mean: if runs == 0 {
            0.0
        } else {
            f64::from(repairs_total) / runs as f64
        },
        provider_errors: run
            .cases
            .iter()
            .filter(|c| c.provider_error.is_some())
            .count(),
        ttft_ms: Percentiles {
            p50: score::percentile(&ttfts, 50.0),
            p90: score::percentile(&ttfts, 90.0),
        },
        tokens_per_second: Percentiles {
            p50: score::percentile(&speeds, 50.0),
            p90: score::percentile(&speeds, 90.0),
        },
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
            .map(|a| a.metrics.generation_time.as_millis() as u64)
            .sum(),
        total_ms: run.elapsed.as_millis() as u64,
    }
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

    #[test]
    fn model_names_are_made_file_safe() {
        assert_eq!(file_safe("qwen3-coder:8b-cloud"), "qwen3-coder_8b-cloud");
        assert_eq!(file_safe("../../etc/passwd"), "_.._etc_passwd");
    }
}
