//! The comparison table: one row per model, fitted to the terminal's width.
//!
//! A table wider than the terminal wraps into noise, so columns are dropped, least telling
//! first, and long model names are shortened in the middle until the table fits. A note under
//! the table names what was left out; `--format json` has everything. With `--verbose` the
//! rustc error profile of each model follows.

use super::{ConfidenceInterval, Percentiles, Report};
use crate::provider::ModelInfo;
use crate::suite::Stage;
use comfy_table::{Cell, CellAlignment, Table};

/// The width to fit when the terminal's is unknown (output to a file or a pipe).
pub const DEFAULT_TABLE_WIDTH: u16 = 80;

/// Model names are shortened to no fewer characters than this before columns are dropped...
const SHORT_MODEL_WIDTH: usize = 20;
/// ... and to no fewer than this once only the model and its score are left.
const MIN_MODEL_WIDTH: usize = 12;

/// No lines but the one under the header, no vertical rules.
const PRESET: &str = "     ──            ";

pub(super) struct Column {
    pub(super) header: &'static str,
    /// The header when space is short.
    short: &'static str,
    pub(super) value: fn(&Report) -> String,
    /// Left out, without a note, when no model has a value (pass@5 of a run with fewer
    /// samples).
    pub(super) optional: bool,
}

/// Every column but the model's, in the order they are shown.
pub(super) const COLUMNS: &[Column] = &[
    Column {
        header: "runs",
        short: "runs",
        value: |r| r.summary.runs.to_string(),
        optional: false,
    },
    Column {
        header: "invalid",
        short: "inv",
        value: |r| r.summary.invalid.total.to_string(),
        optional: false,
    },
    Column {
        header: "format",
        short: "fmt",
        value: |r| stage_rate(r, Stage::Format),
        optional: false,
    },
    Column {
        header: "compile",
        short: "comp",
        value: |r| stage_rate(r, Stage::Compile),
        optional: false,
    },
    Column {
        header: "test",
        short: "test",
        value: |r| stage_rate(r, Stage::Test),
        optional: false,
    },
    Column {
        header: "coverage",
        short: "cov",
        value: |r| stage_rate(r, Stage::Coverage),
        optional: false,
    },
    Column {
        header: "score",
        short: "score",
        value: |r| format!("{:.3}", r.summary.mean_score),
        optional: false,
    },
    Column {
        header: "1st try",
        short: "1st",
        value: |r| valid_rate(r, r.summary.first_try_pass_rate),
        optional: false,
    },
    Column {
        header: "pass",
        short: "pass",
        value: |r| valid_rate(r, r.summary.after_repair_pass_rate),
        optional: false,
    },
    Column {
        header: "95% CI",
        short: "CI",
        value: |r| r.summary.pass_rate_ci.map_or_else(dash, interval),
        optional: false,
    },
    Column {
        header: "pass@5",
        short: "p@5",
        value: |r| percent(r.summary.pass_at_k.get("pass@5").copied()),
        optional: true,
    },
    Column {
        header: "pass@10",
        short: "p@10",
        value: |r| percent(r.summary.pass_at_k.get("pass@10").copied()),
        optional: true,
    },
    Column {
        header: "repairs",
        short: "rep",
        value: |r| r.summary.repairs_total.to_string(),
        optional: false,
    },
    Column {
        header: "TTFT p50",
        short: "TTFT",
        value: |r| r.summary.ttft_ms.p50.map_or_else(dash, milliseconds),
        optional: false,
    },
    Column {
        header: "tok/s p50",
        short: "tok/s",
        value: |r| rate(&r.summary.decode_tokens_per_second),
        optional: false,
    },
    Column {
        header: "prefill p50",
        short: "pre/s",
        value: |r| rate(&r.summary.prefill_tokens_per_second),
        optional: false,
    },
    Column {
        header: "tokens in+out",
        short: "tokens",
        value: |r| {
            let summary = &r.summary;
            if summary.prompt_tokens == 0 && summary.completion_tokens == 0 {
                dash()
            } else {
                format!(
                    "{}+{}",
                    count(summary.prompt_tokens),
                    count(summary.completion_tokens)
                )
            }
        },
        optional: false,
    },
    Column {
        header: "retries",
        short: "retry",
        value: |r| r.summary.retries.to_string(),
        optional: false,
    },
    Column {
        header: "time",
        short: "time",
        value: |r| seconds(r.summary.total_ms),
        optional: false,
    },
];

/// Which columns go first when the table must shrink: the least telling first. The model, its
/// score, its pass rate with the interval, first try beside it and the invalid runs stay
/// longest; pass@5 and pass@10 say less than the interval about noise, and the stage columns
/// narrow down what `compile` and `test` already show.
const DROP_ORDER: &[&str] = &[
    "prefill p50",
    "pass@10",
    "runs",
    "coverage",
    "format",
    "retries",
    "tokens in+out",
    "time",
    "repairs",
    "tok/s p50",
    "pass@5",
    "TTFT p50",
    "compile",
    "test",
    "invalid",
    "1st try",
    "95% CI",
    "pass",
];

/// Error codes listed per model under the table with `--verbose`.
const TOP_ERROR_CODES: usize = 5;

/// Renders the table to fit `width` columns (`None`: the width is unknown, so the classic
/// terminal's 80), and with `verbose` each model's most frequent rustc errors under it. Lines
/// stay within the width unless it is too narrow for even the model and its score.
pub fn render_table(reports: &[Report], width: Option<u16>, verbose: bool) -> String {
    let width = usize::from(width.unwrap_or(DEFAULT_TABLE_WIDTH));
    let table = fitted_table(reports, width);
    if !verbose {
        return table;
    }
    let profile = error_profile(reports, width);
    if profile.is_empty() {
        table
    } else {
        format!("{table}\n\n{profile}")
    }
}

fn fitted_table(reports: &[Report], width: usize) -> String {
    let names: Vec<String> = reports.iter().map(Report::label).collect();
    let mut shown: Vec<&Column> = COLUMNS
        .iter()
        .filter(|column| !column.optional || reports.iter().any(|r| (column.value)(r) != dash()))
        .collect();
    let mut dropped: Vec<&'static str> = Vec::new();
    loop {
        if let Some(table) = fit(reports, &names, &shown, width, SHORT_MODEL_WIDTH) {
            return with_note(table, &dropped, width);
        }
        let Some(next) = DROP_ORDER
            .iter()
            .find(|header| shown.iter().any(|column| column.header == **header))
        else {
            break;
        };
        shown.retain(|column| column.header != *next);
        dropped.push(next);
    }
    if let Some(table) = fit(reports, &names, &shown, width, MIN_MODEL_WIDTH) {
        return with_note(table, &dropped, width);
    }
    // Too narrow even for the model and its score: show them as small as they go.
    let short_names: Vec<String> = names
        .iter()
        .map(|name| shorten(name, MIN_MODEL_WIDTH))
        .collect();
    with_note(render(reports, &short_names, &shown, true), &dropped, width)
}

/// The table with these columns within `width`, by shorter headers and then model names
/// shortened to no fewer than `min_model` characters, or None when it does not fit.
fn fit(
    reports: &[Report],
    names: &[String],
    shown: &[&Column],
    width: usize,
    min_model: usize,
) -> Option<String> {
    let long = render(reports, names, shown, false);
    if rendered_width(&long) <= width {
        return Some(long);
    }
    let short = render(reports, names, shown, true);
    if rendered_width(&short) <= width {
        return Some(short);
    }
    let excess = rendered_width(&short) - width;
    let longest = names.iter().map(|name| name.chars().count()).max()?;
    let room = longest.checked_sub(excess)?;
    if room < min_model.max("model".len()) {
        return None;
    }
    let shortened: Vec<String> = names.iter().map(|name| shorten(name, room)).collect();
    let table = render(reports, &shortened, shown, true);
    (rendered_width(&table) <= width).then_some(table)
}

fn render(reports: &[Report], names: &[String], shown: &[&Column], short: bool) -> String {
    let mut table = Table::new();
    table.force_no_tty().load_preset(PRESET);
    let headers = std::iter::once("model").chain(shown.iter().map(|column| {
        if short {
            column.short
        } else {
            column.header
        }
    }));
    table.set_header(headers.map(Cell::new));
    for (report, name) in reports.iter().zip(names) {
        let values = shown.iter().map(|column| (column.value)(report));
        table.add_row(std::iter::once(name.clone()).chain(values));
    }
    // comfy-table keeps a space where the (undrawn) vertical rule goes: with one space of
    // padding on the right, columns are two apart.
    let last = shown.len();
    for (index, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, u16::from(index != last)));
        if index > 0 {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table.lines().collect::<Vec<_>>().join("\n")
}

fn rendered_width(table: &str) -> usize {
    table
        .lines()
        .map(|line| line.chars().count())
        .max()
        .unwrap_or(0)
}

/// Names what was left out, wrapped to the width.
fn with_note(table: String, dropped: &[&str], width: usize) -> String {
    if dropped.is_empty() {
        return table;
    }
    let note = format!(
        "left out to fit {width} columns: {}; --format json has everything",
        dropped.join(", ")
    );
    let mut text = table;
    let mut line = String::new();
    for word in note.split(' ') {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            text.push('\n');
            text.push_str(&line);
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    text.push('\n');
    text.push_str(&line);
    text
}

/// Shortens a model label to `max` characters. The model's own name tells models apart best, so
/// the provider gives way first (`ollama-cloud:gpt-oss:120b` → `ollama…:gpt-oss:120b`); a name
/// too long even alone loses its middle (`local:qwen2.5-coder-0.5b-instruct-q8_0` →
/// `local:…instruct-q8_0`), keeping the start and the end.
fn shorten(name: &str, max: usize) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= max || max < 2 {
        return name.to_owned();
    }
    if let Some((provider, model)) = name.split_once(':') {
        let model_len = model.chars().count();
        // The provider's start, `…:`, and the whole model name.
        if let Some(keep) = max.checked_sub(model_len + 2).filter(|&keep| keep > 0) {
            let provider: String = provider.chars().take(keep).collect();
            return format!("{provider}…:{model}");
        }
    }
    let head = (max - 1) / 3;
    let tail = max - 1 - head;
    let mut short: String = chars[..head].iter().collect();
    short.push('…');
    short.extend(&chars[chars.len() - tail..]);
    short
}

/// Each model's most frequent rustc error codes, with what they mean; nothing for a model
/// without a failed compile.
fn error_profile(reports: &[Report], width: usize) -> String {
    let mut lines = Vec::new();
    for report in reports {
        let errors = &report.summary.rustc_errors;
        if errors.failed_compiles == 0 {
            continue;
        }
        let noun = if errors.failed_compiles == 1 {
            "compile"
        } else {
            "compiles"
        };
        lines.push(format!(
            "{}: rustc errors in {} failed {noun}",
            report.label(),
            errors.failed_compiles
        ));
        let shown = &errors.codes[..errors.codes.len().min(TOP_ERROR_CODES)];
        let count_width = shown
            .iter()
            .map(|code| code.count.to_string().len())
            .max()
            .unwrap_or(1);
        for code in shown {
            let mut line = format!("  {} ×{:>count_width$}", code.code, code.count);
            if let Some(gloss) = &code.gloss {
                line.push_str("  ");
                line.push_str(gloss);
            }
            lines.push(line);
        }
        if errors.codes.len() > shown.len() {
            lines.push(format!(
                "  … and {} more codes in the JSON report",
                errors.codes.len() - shown.len()
            ));
        }
    }
    lines
        .iter()
        .map(|line| super::failures::cut(line, width))
        .collect::<Vec<_>>()
        .join("\n")
}

fn dash() -> String {
    "-".to_owned()
}

/// A rate of the valid runs, or a dash when none was valid.
fn valid_rate(report: &Report, rate: f64) -> String {
    if report.summary.valid_runs == 0 {
        dash()
    } else {
        percent(Some(rate))
    }
}

/// `58–83%`.
fn interval(interval: ConfidenceInterval) -> String {
    format!("{:.0}–{:.0}%", interval.low * 100.0, interval.high * 100.0)
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(dash, |v| format!("{:.0}%", v * 100.0))
}

fn stage_rate(report: &Report, stage: Stage) -> String {
    percent(
        report
            .summary
            .stage_pass_rates
            .get(&stage)
            .copied()
            .flatten(),
    )
}

fn rate(percentiles: &Percentiles) -> String {
    percentiles.p50.map_or_else(dash, |rate| {
        if rate >= 1000.0 {
            format!("{rate:.0}")
        } else {
            format!("{rate:.1}")
        }
    })
}

fn milliseconds(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{:.1}s", ms / 1e3)
    }
}

fn seconds(ms: u64) -> String {
    let secs = ms / 1000;
    match secs {
        0..60 => format!("{:.1}s", ms as f64 / 1e3),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// 950 → `950`, 12_345 → `12k`, 1_234 → `1.2k`, 3_400_000 → `3.4M`.
fn count(n: u64) -> String {
    let scaled = |value: f64, unit: &str| {
        if value < 10.0 {
            format!("{value:.1}{unit}")
        } else {
            format!("{value:.0}{unit}")
        }
    };
    match n {
        0..1000 => n.to_string(),
        1000..999_500 => scaled(n as f64 / 1e3, "k"),
        _ => scaled(n as f64 / 1e6, "M"),
    }
}

/// The models one provider offers, one row each; columns the provider left empty show `-`.
pub fn render_model_list(provider: &str, models: &[ModelInfo], width: Option<u16>) -> String {
    let dash = |value: Option<String>| value.unwrap_or_else(|| "-".to_owned());
    let mut table = Table::new();
    table
        .load_preset(PRESET)
        .set_width(width.unwrap_or(DEFAULT_TABLE_WIDTH))
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header(["model", "family", "params", "quant", "context", "size"]);
    for model in models {
        let name = if model.remote {
            format!("{} (remote)", model.name)
        } else {
            model.name.clone()
        };
        table.add_row([
            name,
            dash(model.family.clone()),
            dash(model.parameter_size.clone()),
            dash(model.quantization.clone()),
            dash(model.context_length.map(|tokens| tokens.to_string())),
            dash(model.size_bytes.map(human_bytes)),
        ]);
    }
    for index in 2..6 {
        if let Some(column) = table.column_mut(index) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    let noun = if models.len() == 1 { "model" } else { "models" };
    format!("{provider}: {} {noun}\n{table}", models.len())
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ErrorCodeReport, InvalidCounts, RustcErrorsReport, Summary, Tool};

    fn report(provider: &str, model: &str) -> Report {
        let summary = Summary {
            runs: 40,
            valid_runs: 37,
            invalid: InvalidCounts {
                total: 3,
                max_tokens: 2,
                provider_timeout: 1,
                ..InvalidCounts::default()
            },
            passed: 30,
            mean_score: 0.8234,
            pass_at_1: 0.8108,
            first_try_pass_rate: 0.6216,
            after_repair_pass_rate: 0.8108,
            pass_rate_ci: Some(ConfidenceInterval {
                level: 0.95,
                low: 0.6567,
                high: 0.9055,
                effective_runs: 37.0,
            }),
            stage_pass_rates: Stage::ALL.into_iter().map(|s| (s, Some(0.9))).collect(),
            repairs_total: 12,
            ttft_ms: Percentiles {
                p50: Some(1234.5),
                p90: Some(2000.0),
                from_server: 0,
                from_client: 37,
            },
            decode_tokens_per_second: Percentiles {
                p50: Some(41.27),
                p90: Some(50.0),
                from_server: 37,
                from_client: 0,
            },
            prefill_tokens_per_second: Percentiles {
                p50: Some(1523.0),
                p90: Some(1800.0),
                from_server: 37,
                from_client: 0,
            },
            prompt_tokens: 12_345,
            completion_tokens: 345_678,
            retries: 3,
            total_ms: 754_000,
            ..Summary::default()
        };
        let pass_at_k = [("pass@1", 0.8108), ("pass@5", 0.9412)]
            .into_iter()
            .map(|(k, value)| (k.to_owned(), value))
            .collect();
        Report {
            format_version: super::super::FORMAT_VERSION,
            tool: Tool {
                name: "cargo-llm-bench".to_owned(),
                version: "0".to_owned(),
            },
            rustc: String::new(),
            created: String::new(),
            sandbox: "bwrap".to_owned(),
            complete: true,
            provider: provider.to_owned(),
            model: model.to_owned(),
            suites: Vec::new(),
            samples: 1,
            weights: Default::default(),
            partition: None,
            summary: Summary {
                pass_at_k,
                ..summary
            },
            cases: Vec::new(),
        }
    }

    fn reports() -> Vec<Report> {
        vec![
            report("ollama", "qwen2.5-coder:7b"),
            report("ollama-cloud", "gpt-oss:120b"),
            report("gemini", "gemini-2.5-flash"),
            report("local", "qwen2.5-coder-0.5b-instruct-q8_0"),
            report("reference", "reference"),
        ]
    }

    fn widest_line(text: &str) -> usize {
        text.lines().map(|line| line.chars().count()).max().unwrap()
    }

    #[test]
    fn an_80_column_terminal_gets_a_table_no_wider_than_80() {
        let table = render_table(&reports(), Some(80), false);
        assert!(widest_line(&table) <= 80, "\n{table}");
        for kept in ["model", "score", "1st", "pass", "CI", "inv", "66–91%"] {
            assert!(table.contains(kept), "{kept} is missing:\n{table}");
        }
        assert!(table.contains("left out to fit 80 columns"), "\n{table}");
        assert!(table.contains("ollama-cloud:gpt-oss:120b") || table.contains('…'));
    }

    #[test]
    fn a_160_column_terminal_gets_every_column_and_whole_names() {
        let table = render_table(&reports(), Some(160), false);
        assert!(widest_line(&table) <= 160, "\n{table}");
        let header: Vec<&str> = table.lines().next().unwrap().split("  ").collect();
        for column in COLUMNS.iter().filter(|column| column.header != "pass@10") {
            assert!(
                header
                    .iter()
                    .any(|shown| [column.header, column.short].contains(&shown.trim())),
                "{}:\n{table}",
                column.header
            );
        }
        assert!(table.contains("local:qwen2.5-coder-0.5b-instruct-q8_0"));
        assert!(!table.contains("left out"), "\n{table}");
    }

    #[test]
    fn an_unknown_width_fits_80_columns() {
        assert_eq!(
            render_table(&reports(), None, false),
            render_table(&reports(), Some(80), false)
        );
    }

    #[test]
    fn the_table_fits_every_width_from_40_columns_up() {
        for width in 40..=200 {
            let table = render_table(&reports(), Some(width), false);
            assert!(
                widest_line(&table) <= usize::from(width),
                "{width}:\n{table}"
            );
        }
    }

    #[test]
    fn the_numbers_are_short_and_say_their_unit() {
        let table = render_table(&reports(), Some(200), false);
        for shown in [
            "0.823", "62%", "81%", "66–91%", "94%", "1.2s", "41.3", "1523", "12k+346k", "12m34s",
        ] {
            assert!(table.contains(shown), "{shown} is missing:\n{table}");
        }
    }

    #[test]
    fn pass_at_k_columns_appear_only_when_some_model_has_enough_samples() {
        let table = render_table(&reports(), Some(200), false);
        assert!(
            table.contains("pass@5") && !table.contains("pass@10"),
            "\n{table}"
        );
        let mut one_sample = reports();
        for report in &mut one_sample {
            report.summary.pass_at_k.remove("pass@5");
        }
        let table = render_table(&one_sample, Some(200), false);
        assert!(!table.contains("pass@5"), "\n{table}");
        assert!(!table.contains("left out"), "\n{table}");
    }

    #[test]
    fn a_model_without_valid_runs_shows_no_pass_rate_rather_than_zero() {
        let mut all_invalid = report("local", "tiny");
        let summary = &mut all_invalid.summary;
        summary.valid_runs = 0;
        summary.pass_rate_ci = None;
        summary.pass_at_k.clear();
        summary.first_try_pass_rate = 0.0;
        summary.after_repair_pass_rate = 0.0;
        for rate in summary.stage_pass_rates.values_mut() {
            *rate = None;
        }
        let table = render_table(&[all_invalid], Some(200), false);
        let row = table.lines().nth(2).unwrap();
        assert!(!row.contains('%'), "\n{table}");
    }

    #[test]
    fn verbose_tables_list_each_models_top_rustc_errors_with_their_meaning() {
        let mut reports = reports();
        reports[0].summary.rustc_errors = RustcErrorsReport {
            failed_compiles: 14,
            codes: [
                ("E0308", 9),
                ("E0382", 4),
                ("E0502", 3),
                ("E0425", 2),
                ("E0599", 2),
                ("E9999", 1),
            ]
            .into_iter()
            .map(|(code, count)| ErrorCodeReport {
                code: code.to_owned(),
                count,
                gloss: crate::summary::rustc_error_gloss(code).map(str::to_owned),
            })
            .collect(),
        };
        let quiet = render_table(&reports, Some(80), false);
        assert!(!quiet.contains("E0308"), "\n{quiet}");
        let verbose = render_table(&reports, Some(80), true);
        assert!(verbose.starts_with(&quiet), "\n{verbose}");
        let profile: Vec<&str> = verbose[quiet.len()..].trim_start().lines().collect();
        assert_eq!(
            profile,
            [
                "ollama:qwen2.5-coder:7b: rustc errors in 14 failed compiles",
                "  E0308 ×9  mismatched types",
                "  E0382 ×4  use after move",
                "  E0502 ×3  borrowed as mutable while borrowed as immutable",
                "  E0425 ×2  unresolved name",
                "  E0599 ×2  no method or associated item of that name",
                "  … and 1 more codes in the JSON report",
            ],
            "\n{verbose}"
        );
        for width in 40..=100 {
            let verbose = render_table(&reports, Some(width), true);
            assert!(
                widest_line(&verbose) <= usize::from(width),
                "{width}:\n{verbose}"
            );
        }
    }

    #[test]
    fn long_names_keep_the_model_and_give_up_the_provider_first() {
        assert_eq!(
            shorten("ollama-cloud:gpt-oss:120b", 20),
            "ollama…:gpt-oss:120b"
        );
        assert_eq!(
            shorten("ollama:qwen2.5-coder:7b", 20),
            "ol…:qwen2.5-coder:7b"
        );
        assert_eq!(
            shorten("local:qwen2.5-coder-0.5b-instruct-q8_0", 20),
            "local:…instruct-q8_0"
        );
        assert_eq!(shorten("reference", 18), "reference");
    }

    #[test]
    fn counts_and_times_read_at_a_glance() {
        assert_eq!(count(950), "950");
        assert_eq!(count(1_234), "1.2k");
        assert_eq!(count(999_999), "1.0M");
        assert_eq!(seconds(12_345), "12.3s");
        assert_eq!(seconds(3_725_000), "1h02m");
        assert_eq!(milliseconds(312.4), "312ms");
    }

    #[test]
    fn a_model_list_shows_sizes_in_human_units_and_dashes_for_gaps() {
        let models = [ModelInfo {
            name: "qwen2.5-coder:7b".to_owned(),
            parameter_size: Some("7.6B".to_owned()),
            size_bytes: Some(4_683_087_332),
            ..ModelInfo::default()
        }];
        let text = render_model_list("ollama", &models, Some(80));
        assert!(text.starts_with("ollama: 1 model\n"), "{text}");
        assert!(text.contains("4.7 GB") && text.contains("7.6B"), "{text}");
        assert!(text.contains(" - "), "{text}");
    }
}
