//! Threshold gates: each model's summary against the bars of `GateSettings`. Every miss names
//! the model, the gate, the model's number and the bar.
//!
//! A gate on a number the model does not have (no measured TTFT for `reference` or `replay`, no
//! valid run to take a pass rate of) fails and says so: a CI bar that cannot be checked must not
//! pass silently, and the fix (drop the gate, or the model that cannot be measured) is the
//! user's call.

use crate::cli::GateSettings;
use crate::report::{Report, Summary};
use crate::suite::Stage;
use std::fmt;
use std::time::Duration;

/// Rates and scores are compared with this much slack, so 0.8 read back from JSON as
/// 0.7999999999999999 still clears a bar of 0.8.
const TOLERANCE: f64 = 1e-9;

/// One bar of `GateSettings`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Gate {
    MinScore(f64),
    MinPassRate(Stage, f64),
    MaxRepairs(f64),
    MaxTtft(Duration),
    MinTps(f64),
    MaxInvalid(usize),
}

impl Gate {
    /// Every bar that is set, in the order of the flags' help.
    pub fn all(settings: &GateSettings) -> Vec<Gate> {
        let GateSettings {
            min_score,
            min_pass_rate,
            max_repairs,
            max_ttft,
            min_tps,
            max_invalid,
        } = settings;
        let mut gates = Vec::new();
        gates.extend(min_score.map(Gate::MinScore));
        gates.extend(
            min_pass_rate
                .iter()
                .map(|&(stage, rate)| Gate::MinPassRate(stage, rate)),
        );
        gates.extend(max_repairs.map(Gate::MaxRepairs));
        gates.extend(max_ttft.map(Gate::MaxTtft));
        gates.extend(min_tps.map(Gate::MinTps));
        gates.extend(max_invalid.map(Gate::MaxInvalid));
        gates
    }

    /// The flag as the user would write it: `--min-pass-rate test=0.8`.
    pub fn flag(&self) -> String {
        match self {
            Gate::MinScore(bar) => format!("--min-score {}", number(*bar)),
            Gate::MinPassRate(stage, bar) => format!("--min-pass-rate {stage}={}", number(*bar)),
            Gate::MaxRepairs(bar) => format!("--max-repairs {}", number(*bar)),
            Gate::MaxTtft(bar) => format!("--max-ttft {}", humantime::format_duration(*bar)),
            Gate::MinTps(bar) => format!("--min-tps {}", number(*bar)),
            Gate::MaxInvalid(bar) => format!("--max-invalid {bar}"),
        }
    }

    /// What the gate measures, in words.
    pub fn measures(&self) -> String {
        match self {
            Gate::MinScore(_) => "mean score".to_owned(),
            Gate::MinPassRate(stage, _) => format!("{stage} pass rate"),
            Gate::MaxRepairs(_) => "mean repairs per valid run".to_owned(),
            Gate::MaxTtft(_) => "median time to first token".to_owned(),
            Gate::MinTps(_) => "median decode speed".to_owned(),
            Gate::MaxInvalid(_) => "invalid runs".to_owned(),
        }
    }

    /// The model's number for this gate, or why it has none.
    fn measure(&self, summary: &Summary) -> Result<f64, Unmeasured> {
        let needs_valid_runs = |value: f64| {
            if summary.valid_runs == 0 {
                Err(Unmeasured::NoValidRun)
            } else {
                Ok(value)
            }
        };
        match self {
            Gate::MinScore(_) => needs_valid_runs(summary.mean_score),
            Gate::MinPassRate(stage, _) => match summary.stage_pass_rates.get(stage).copied() {
                Some(Some(rate)) => Ok(rate),
                _ if summary.valid_runs == 0 => Err(Unmeasured::NoValidRun),
                _ => Err(Unmeasured::NoRunWithStage(*stage)),
            },
            Gate::MaxRepairs(_) => needs_valid_runs(summary.repairs_mean),
            Gate::MaxTtft(_) => summary.ttft_ms.p50.ok_or(Unmeasured::NotTimed),
            Gate::MinTps(_) => summary
                .decode_tokens_per_second
                .p50
                .ok_or(Unmeasured::NotTimed),
            // Counts are exact in f64 far beyond any number of runs.
            Gate::MaxInvalid(_) => Ok(summary.invalid.total as f64),
        }
    }

    /// Whether `value` clears the bar.
    fn clears(&self, value: f64) -> bool {
        match *self {
            Gate::MinScore(bar) | Gate::MinPassRate(_, bar) | Gate::MinTps(bar) => {
                value + TOLERANCE >= bar
            }
            Gate::MaxRepairs(bar) => value <= bar + TOLERANCE,
            Gate::MaxTtft(bar) => value <= bar.as_secs_f64() * 1e3 + TOLERANCE,
            Gate::MaxInvalid(bar) => value <= bar as f64,
        }
    }

    /// The model's number as the message shows it, with its unit.
    fn show(&self, value: f64) -> String {
        match self {
            Gate::MaxTtft(_) => format!("{value:.0} ms"),
            Gate::MinTps(_) => format!("{value:.1} tokens/s"),
            Gate::MaxInvalid(_) => format!("{value:.0}"),
            _ => number(value),
        }
    }

    fn is_floor(&self) -> bool {
        matches!(
            self,
            Gate::MinScore(_) | Gate::MinPassRate(..) | Gate::MinTps(_)
        )
    }
}

/// Why a model has no number for a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmeasured {
    /// Every run was invalid, so there is no rate, score or repair count.
    NoValidRun,
    /// No valid run's case has the stage.
    NoRunWithStage(Stage),
    /// No attempt was timed: offline answers (`reference`, `replay`) have no speed.
    NotTimed,
}

impl fmt::Display for Unmeasured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unmeasured::NoValidRun => f.write_str("no run was valid"),
            Unmeasured::NoRunWithStage(stage) => {
                write!(f, "no valid run has the {stage} stage")
            }
            Unmeasured::NotTimed => f.write_str(
                "no attempt was timed (offline answers such as `reference` and `replay` have no speed)",
            ),
        }
    }
}

/// A model that missed a bar, or whose number for it does not exist.
#[derive(Debug, Clone, PartialEq)]
pub struct GateFailure {
    /// The model's label, as on the command line.
    pub model: String,
    pub gate: Gate,
    pub value: Result<f64, Unmeasured>,
}

impl fmt::Display for GateFailure {
    /// `ollama:x: test pass rate 0.62 is below --min-pass-rate test=0.8`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let GateFailure { model, gate, value } = self;
        match value {
            Ok(value) => {
                let side = if gate.is_floor() { "below" } else { "above" };
                write!(
                    f,
                    "{model}: {} {} is {side} {}",
                    gate.measures(),
                    gate.show(*value),
                    gate.flag()
                )
            }
            Err(why) => write!(
                f,
                "{model}: {} cannot be checked: {why}; a gate that cannot be checked fails",
                gate.flag()
            ),
        }
    }
}

/// Every gate every model misses, model by model in report order.
pub fn evaluate(settings: &GateSettings, reports: &[Report]) -> Vec<GateFailure> {
    let gates = Gate::all(settings);
    reports
        .iter()
        .flat_map(|report| misses(&gates, &report.label(), &report.summary))
        .collect()
}

/// The gates one model's summary misses.
fn misses(gates: &[Gate], model: &str, summary: &Summary) -> Vec<GateFailure> {
    gates
        .iter()
        .filter_map(|gate| {
            let value = gate.measure(summary);
            let cleared = value.as_ref().is_ok_and(|&value| gate.clears(value));
            (!cleared).then(|| GateFailure {
                model: model.to_owned(),
                gate: *gate,
                value,
            })
        })
        .collect()
}

/// A rate, score or count as short as it stays exact to three decimals: `0.8`, `0.625`, `2`.
fn number(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{InvalidCounts, Percentiles};
    use std::collections::BTreeMap;

    fn summary() -> Summary {
        Summary {
            runs: 10,
            valid_runs: 8,
            invalid: InvalidCounts {
                total: 2,
                max_tokens: 2,
                ..InvalidCounts::default()
            },
            passed: 5,
            mean_score: 0.7,
            stage_pass_rates: BTreeMap::from([
                (Stage::Format, Some(1.0)),
                (Stage::Compile, Some(0.875)),
                (Stage::Test, Some(0.625)),
                (Stage::Coverage, None),
            ]),
            repairs_total: 6,
            repairs_mean: 0.75,
            ttft_ms: Percentiles {
                p50: Some(850.0),
                ..Percentiles::default()
            },
            decode_tokens_per_second: Percentiles {
                p50: Some(24.5),
                ..Percentiles::default()
            },
            ..Summary::default()
        }
    }

    fn check(settings: GateSettings, summary: Summary) -> Vec<String> {
        misses(&Gate::all(&settings), "ollama:x", &summary)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn each_missed_bar_names_the_model_the_gate_the_value_and_the_bar() {
        let settings = GateSettings {
            min_score: Some(0.75),
            min_pass_rate: vec![(Stage::Test, 0.8), (Stage::Compile, 0.8)],
            max_repairs: Some(0.5),
            max_ttft: Some(Duration::from_millis(500)),
            min_tps: Some(30.0),
            max_invalid: Some(1),
        };
        assert_eq!(
            check(settings, summary()),
            [
                "ollama:x: mean score 0.7 is below --min-score 0.75",
                "ollama:x: test pass rate 0.625 is below --min-pass-rate test=0.8",
                "ollama:x: mean repairs per valid run 0.75 is above --max-repairs 0.5",
                "ollama:x: median time to first token 850 ms is above --max-ttft 500ms",
                "ollama:x: median decode speed 24.5 tokens/s is below --min-tps 30",
                "ollama:x: invalid runs 2 is above --max-invalid 1",
            ]
        );
    }

    #[test]
    fn bars_met_exactly_pass() {
        let settings = GateSettings {
            min_score: Some(0.7),
            min_pass_rate: vec![(Stage::Test, 0.625)],
            max_repairs: Some(0.75),
            max_ttft: Some(Duration::from_millis(850)),
            min_tps: Some(24.5),
            max_invalid: Some(2),
        };
        assert_eq!(check(settings, summary()), Vec::<String>::new());
    }

    #[test]
    fn a_gate_on_a_number_the_model_does_not_have_fails_and_says_why() {
        let offline = Summary {
            ttft_ms: Percentiles::default(),
            decode_tokens_per_second: Percentiles::default(),
            ..summary()
        };
        let settings = GateSettings {
            min_pass_rate: vec![(Stage::Coverage, 0.5)],
            max_ttft: Some(Duration::from_secs(2)),
            ..GateSettings::default()
        };
        assert_eq!(
            check(settings, offline),
            [
                "ollama:x: --min-pass-rate coverage=0.5 cannot be checked: no valid run has the coverage stage; a gate that cannot be checked fails",
                "ollama:x: --max-ttft 2s cannot be checked: no attempt was timed (offline answers such as `reference` and `replay` have no speed); a gate that cannot be checked fails",
            ]
        );
    }

    #[test]
    fn a_model_without_valid_runs_cannot_clear_a_score_bar() {
        let all_invalid = Summary {
            valid_runs: 0,
            mean_score: 0.0,
            ..summary()
        };
        let settings = GateSettings {
            min_score: Some(0.0),
            ..GateSettings::default()
        };
        assert_eq!(
            check(settings, all_invalid),
            ["ollama:x: --min-score 0 cannot be checked: no run was valid; a gate that cannot be checked fails"]
        );
    }

    #[test]
    fn numbers_print_as_short_as_they_stay_exact() {
        assert_eq!(number(0.8), "0.8");
        assert_eq!(number(0.625), "0.625");
        assert_eq!(number(2.0), "2");
        assert_eq!(number(0.30000000000000004), "0.3");
    }
}
