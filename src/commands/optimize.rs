//! `cargo llm-bench optimize` and `optimize-ollama`: finds the candidates (a family of the local
//! Ollama server, every model of a profile, a `--model` list), runs the suites on each as `run`
//! does, and prints the table, the Pareto frontier and the recommendation of the policy.

use super::run::{benchmark, provider_failures, write_html};
use super::Outcome;
use crate::cli::save;
use crate::cli::{OptimizeSettings, OutputFormat};
use crate::error::{bad_input, provider_unavailable, ExitKind};
use crate::gate;
use crate::optimize::{self, Candidate, Exclusion, Policy, Ranking};
use crate::provider::{self, ModelInfo, ModelSpec};
use crate::report::{self, Report, DEFAULT_TABLE_WIDTH};
use crate::suite::Stage;
use comfy_table::{Cell, CellAlignment, Table};
use serde::Serialize;
use std::collections::BTreeMap;

pub fn optimize(settings: &OptimizeSettings) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let listed = candidates(settings, &runtime)?;
    let mut run = settings.run.clone();
    run.models = listed.iter().map(|(spec, _)| spec.clone()).collect();
    eprintln!(
        "optimize: {} candidate(s): {}",
        run.models.len(),
        run.models
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let reports = benchmark(&run)?;

    let mut candidates = Vec::with_capacity(reports.len());
    for report in &reports {
        let label = report.label();
        let Some((spec, info)) = listed.iter().find(|(spec, _)| spec.to_string() == label) else {
            continue;
        };
        let interval = report
            .summary
            .pass_rate_ci
            .map(|interval| (interval.low, interval.high));
        let mut candidate = Candidate::from_report(report, interval);
        if let Some(info) = info {
            candidate.parameters = info
                .parameter_size
                .as_deref()
                .and_then(optimize::parse_parameter_count);
            candidate.quantization = info.quantization.clone();
        }
        candidate.memory_bytes = memory_in_use(spec, settings, &runtime);
        candidates.push(candidate);
    }
    let ranking = optimize::rank(candidates, settings.policy);

    let html = report::render_html(&reports, Some(&ranking));
    write_html(&run.output, "optimize", &html)?;
    if let Some(path) = &settings.html {
        report::write_replacing(path, html.as_bytes())?;
        eprintln!("wrote {}", path.display());
    }
    match run.format {
        OutputFormat::Table => {
            println!("{}", render(&ranking, crate::ui::stdout_width(), &reports))
        }
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&to_json(&ranking))?),
    }
    if let Some(place) = &settings.save {
        match ranking.recommendation() {
            Some(recommended) => {
                save::save_model(place, &recommended.label)?;
                eprintln!(
                    "saved model = \"{}\" in {}",
                    recommended.label,
                    place.path.display()
                );
            }
            None => eprintln!("warning: --save: no model meets the policy, so none was saved"),
        }
    }

    if let Some(outcome) = provider_failures(&reports) {
        return Ok(outcome);
    }
    let gate_failures = gate::evaluate(&run.gates, &reports);
    for failure in &gate_failures {
        eprintln!("error: {failure}");
    }
    if !gate_failures.is_empty() {
        return Ok(Outcome(ExitKind::GateFailed));
    }
    Ok(Outcome(ExitKind::Success))
}

/// Every candidate once, in the order found (`--model` first), with what its provider's listing
/// says about it (None when the provider does not list models, or the listing failed).
fn candidates(
    settings: &OptimizeSettings,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<Vec<(ModelSpec, Option<ModelInfo>)>> {
    let mut listings: BTreeMap<String, Vec<ModelInfo>> = BTreeMap::new();
    let mut list = |name: &str| -> anyhow::Result<Vec<ModelInfo>> {
        if let Some(models) = listings.get(name) {
            return Ok(models.clone());
        }
        let models = provider::connect_provider(name, &settings.run.profiles)
            .and_then(|provider| runtime.block_on(provider.list_models()))
            .map_err(|error| {
                provider_unavailable(
                    anyhow::anyhow!("cannot list the models of `{name}`: {error}"),
                    None,
                )
            })?;
        listings.insert(name.to_owned(), models.clone());
        Ok(models)
    };
    let mut found: Vec<(ModelSpec, Option<ModelInfo>)> = Vec::new();
    let mut add = |spec: ModelSpec, info: Option<ModelInfo>| {
        if !found.iter().any(|(known, _)| *known == spec) {
            found.push((spec, info));
        }
    };
    for spec in &settings.run.models {
        // Sizes are a courtesy for `--model`: a provider that cannot list still runs.
        let info = if matches!(spec.provider.as_str(), "reference" | "replay") {
            None
        } else {
            list(&spec.provider)
                .ok()
                .and_then(|models| models.into_iter().find(|info| info.name == spec.model))
        };
        add(spec.clone(), info);
    }
    if let Some(family) = &settings.candidates.family {
        let models = list("ollama")?;
        let matching: Vec<ModelInfo> = models
            .iter()
            .filter(|info| of_family(info, family))
            .cloned()
            .collect();
        if matching.is_empty() {
            let names: Vec<&str> = models.iter().map(|info| info.name.as_str()).collect();
            return Err(bad_input(
                anyhow::anyhow!("no model of the local Ollama server is of the family `{family}`"),
                Some(if names.is_empty() {
                    "pull one first, e.g. `ollama pull qwen2.5-coder:0.5b`".to_owned()
                } else {
                    format!("the server has: {}", names.join(", "))
                }),
            ));
        }
        for info in matching {
            add(spec("ollama", &info.name), Some(info));
        }
    }
    for profile in &settings.candidates.profiles {
        let models = list(profile)?;
        if models.is_empty() {
            eprintln!("warning: `{profile}` lists no models");
        }
        for info in models {
            add(spec(profile, &info.name), Some(info));
        }
    }
    if found.is_empty() {
        return Err(bad_input(
            anyhow::anyhow!("no candidate model to optimize over"),
            Some(
                "pass --family NAME (Ollama), --profile NAME or --model SPEC, or set `models` in the config"
                    .to_owned(),
            ),
        ));
    }
    Ok(found)
}

fn spec(provider: &str, model: &str) -> ModelSpec {
    ModelSpec {
        provider: provider.to_owned(),
        model: model.to_owned(),
    }
}

/// `qwen2.5-coder` takes `qwen2.5-coder:1.5b` and any model Ollama files under that family.
fn of_family(info: &ModelInfo, family: &str) -> bool {
    let family = family.to_lowercase();
    info.name.to_lowercase().starts_with(&family)
        || info
            .family
            .as_deref()
            .is_some_and(|known| known.to_lowercase().starts_with(&family))
}

/// What the provider says the loaded model takes, asked after its run while it is loaded.
fn memory_in_use(
    spec: &ModelSpec,
    settings: &OptimizeSettings,
    runtime: &tokio::runtime::Runtime,
) -> Option<u64> {
    if matches!(spec.provider.as_str(), "reference" | "replay") {
        return None;
    }
    let provider = provider::connect(spec, &settings.run.profiles).ok()?;
    runtime.block_on(provider.memory_in_use())
}

/// The table, the frontier and the recommendation, for the terminal.
fn render(ranking: &Ranking, width: Option<u16>, reports: &[Report]) -> String {
    let width = usize::from(width.unwrap_or(DEFAULT_TABLE_WIDTH));
    let mut text = fitted_table(ranking, width);
    text.push_str("\n\nPareto frontier (pass rate against tokens/s), fastest first:\n");
    let frontier = ranking.frontier();
    if frontier.is_empty() {
        text.push_str("  (none: no candidate has both valid runs and a measured speed)\n");
    }
    for candidate in frontier {
        text.push_str(&format!(
            "  {}  pass {}  {}\n",
            candidate.label,
            candidate.pass_rate_text(),
            candidate.tokens_per_second.map_or_else(
                || "speed not measured".to_owned(),
                |tps| format!("{tps:.1} tok/s")
            )
        ));
    }
    let failures = report::render_failures(reports, Some(width as u16), false);
    text.push_str(&format!(
        "\n{}: {}\n{}",
        policy_text(ranking.policy),
        ranking
            .recommendation()
            .map_or("no recommendation", |candidate| candidate.label.as_str()),
        ranking.verdict
    ));
    if !failures.is_empty() {
        text = format!("{failures}\n\n{text}");
    }
    text
}

fn policy_text(policy: Policy) -> String {
    match policy {
        Policy::BestScore => "recommended (best score)".to_owned(),
        Policy::TargetScore(target) => format!("recommended (target score {target:.2})"),
        Policy::MaxSecondsPerCase(budget) => {
            format!("recommended (at most {budget:.1} s per case)")
        }
    }
}

/// A column of the candidate table.
struct Column {
    header: &'static str,
    value: fn(&Candidate) -> String,
}

/// Every column but the model's, in the order shown; dropped from the end of `DROP_ORDER` when
/// the terminal is too narrow.
const COLUMNS: &[Column] = &[
    Column {
        header: "params",
        value: |c| c.parameters.map_or_else(dash, optimize::format_parameters),
    },
    Column {
        header: "quant",
        value: |c| c.quantization.clone().unwrap_or_else(dash),
    },
    Column {
        header: "pass [95% CI]",
        value: Candidate::pass_rate_text,
    },
    Column {
        header: "score",
        value: |c| format!("{:.2}", c.mean_score),
    },
    Column {
        header: "fmt",
        value: |c| stage(c, Stage::Format),
    },
    Column {
        header: "comp",
        value: |c| stage(c, Stage::Compile),
    },
    Column {
        header: "test",
        value: |c| stage(c, Stage::Test),
    },
    Column {
        header: "1st→repair",
        value: |c| {
            format!(
                "{:.0}%→{:.0}%",
                c.first_try_pass_rate * 100.0,
                c.after_repair_pass_rate * 100.0
            )
        },
    },
    Column {
        header: "ttft p50",
        value: |c| {
            c.ttft_p50_ms.map_or_else(dash, |ms| {
                if ms >= 1000.0 {
                    format!("{:.1}s", ms / 1000.0)
                } else {
                    format!("{ms:.0}ms")
                }
            })
        },
    },
    Column {
        header: "tok/s",
        value: |c| {
            c.tokens_per_second
                .map_or_else(dash, |tps| format!("{tps:.1}"))
        },
    },
    Column {
        header: "s/case",
        value: |c| c.seconds_per_case.map_or_else(dash, |s| format!("{s:.1}")),
    },
    Column {
        header: "invalid",
        value: |c| c.invalid_runs.to_string(),
    },
    Column {
        header: "memory",
        value: |c| c.memory_bytes.map_or_else(dash, human_bytes),
    },
    Column {
        header: "note",
        value: |_| String::new(),
    },
];

/// Least telling first.
const DROP_ORDER: &[&str] = &[
    "memory",
    "quant",
    "fmt",
    "comp",
    "ttft p50",
    "1st→repair",
    "score",
    "invalid",
    "test",
    "params",
    "s/case",
];

fn dash() -> String {
    "-".to_owned()
}

fn stage(candidate: &Candidate, stage: Stage) -> String {
    match candidate.stage_pass_rates.get(&stage) {
        Some(Some(rate)) => format!("{:.0}%", rate * 100.0),
        _ => dash(),
    }
}

fn human_bytes(bytes: u64) -> String {
    let gib = bytes as f64 / (1024.0 * 1024.0 * 1024.0);
    if gib >= 1.0 {
        format!("{gib:.1}G")
    } else {
        format!("{:.0}M", bytes as f64 / (1024.0 * 1024.0))
    }
}

/// "best", "frontier", or why the policy leaves the model out.
fn note(row: &optimize::RankedCandidate, first: bool) -> String {
    let mut parts = Vec::new();
    if first && row.excluded.is_none() {
        parts.push("best");
    }
    if row.on_frontier {
        parts.push("frontier");
    }
    if let Some(exclusion) = row.excluded {
        parts.push(match exclusion {
            Exclusion::OverBudget => "over budget",
            Exclusion::BelowTarget => "below target",
            exclusion => exclusion.describe(),
        });
    }
    parts.join(", ")
}

/// Columns only some providers fill (llama.cpp tells no quantization, only Ollama memory): left
/// out without a note when no candidate has a value.
const PROVIDER_COLUMNS: &[&str] = &["params", "quant", "memory"];

/// One row per candidate in the ranking's order, columns dropped until it fits `width`.
fn fitted_table(ranking: &Ranking, width: usize) -> String {
    let mut shown: Vec<&Column> = COLUMNS
        .iter()
        .filter(|column| {
            !PROVIDER_COLUMNS.contains(&column.header)
                || ranking
                    .rows
                    .iter()
                    .any(|row| (column.value)(&row.candidate) != dash())
        })
        .collect();
    let mut dropped = Vec::new();
    loop {
        let table = table(ranking, &shown);
        let fits = table.lines().all(|line| line.chars().count() <= width);
        let next = DROP_ORDER
            .iter()
            .find(|header| shown.iter().any(|column| column.header == **header));
        match next {
            Some(header) if !fits => {
                shown.retain(|column| column.header != *header);
                dropped.push(*header);
            }
            _ if dropped.is_empty() => return table,
            _ => {
                return format!(
                    "{table}\nleft out to fit {width} columns: {}; --format json has everything",
                    dropped.join(", ")
                )
            }
        }
    }
}

fn table(ranking: &Ranking, shown: &[&Column]) -> String {
    let mut table = Table::new();
    table.force_no_tty().load_preset("     ──            ");
    table.set_header(
        std::iter::once("model")
            .chain(shown.iter().map(|column| column.header))
            .map(Cell::new),
    );
    for (index, row) in ranking.rows.iter().enumerate() {
        let values = shown.iter().map(|column| {
            if column.header == "note" {
                note(row, index == 0)
            } else {
                (column.value)(&row.candidate)
            }
        });
        table.add_row(std::iter::once(row.candidate.label.clone()).chain(values));
    }
    let last = shown.len();
    for (index, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, u16::from(index != last)));
        if index > 0 && index != last {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
        .lines()
        .map(|line| line.trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `--format json`: the ranking as data.
#[derive(Debug, Serialize)]
struct RankingJson<'a> {
    policy: PolicyJson,
    recommendation: Option<&'a str>,
    verdict: &'a str,
    frontier: Vec<&'a str>,
    candidates: Vec<CandidateJson<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum PolicyJson {
    BestScore,
    TargetScore { target: f64 },
    MaxSecondsPerCase { seconds: f64 },
}

#[derive(Debug, Serialize)]
struct CandidateJson<'a> {
    model: &'a str,
    parameters: Option<f64>,
    quantization: Option<&'a str>,
    memory_bytes: Option<u64>,
    pass_rate: f64,
    pass_rate_ci: Option<[f64; 2]>,
    mean_score: f64,
    stage_pass_rates: BTreeMap<String, Option<f64>>,
    first_try_pass_rate: f64,
    after_repair_pass_rate: f64,
    ttft_p50_ms: Option<f64>,
    tokens_per_second: Option<f64>,
    seconds_per_case: Option<f64>,
    valid_runs: usize,
    invalid_runs: usize,
    on_frontier: bool,
    excluded: Option<&'static str>,
}

fn to_json(ranking: &Ranking) -> RankingJson<'_> {
    RankingJson {
        policy: match ranking.policy {
            Policy::BestScore => PolicyJson::BestScore,
            Policy::TargetScore(target) => PolicyJson::TargetScore { target },
            Policy::MaxSecondsPerCase(seconds) => PolicyJson::MaxSecondsPerCase { seconds },
        },
        recommendation: ranking
            .recommendation()
            .map(|candidate| candidate.label.as_str()),
        verdict: &ranking.verdict,
        frontier: ranking
            .frontier()
            .into_iter()
            .map(|candidate| candidate.label.as_str())
            .collect(),
        candidates: ranking
            .rows
            .iter()
            .map(|row| {
                let c = &row.candidate;
                CandidateJson {
                    model: &c.label,
                    parameters: c.parameters,
                    quantization: c.quantization.as_deref(),
                    memory_bytes: c.memory_bytes,
                    pass_rate: c.pass_rate,
                    pass_rate_ci: c.pass_rate_interval.map(|i| [i.low, i.high]),
                    mean_score: c.mean_score,
                    stage_pass_rates: c
                        .stage_pass_rates
                        .iter()
                        .map(|(stage, rate)| (stage.to_string(), *rate))
                        .collect(),
                    first_try_pass_rate: c.first_try_pass_rate,
                    after_repair_pass_rate: c.after_repair_pass_rate,
                    ttft_p50_ms: c.ttft_p50_ms,
                    tokens_per_second: c.tokens_per_second,
                    seconds_per_case: c.seconds_per_case,
                    valid_runs: c.valid_runs,
                    invalid_runs: c.invalid_runs,
                    on_frontier: row.on_frontier,
                    excluded: row.excluded.map(Exclusion::describe),
                }
            })
            .collect(),
    }
}
