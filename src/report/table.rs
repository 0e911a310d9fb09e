//! The comparison table: one row per model.

use super::Report;
use crate::suite::Stage;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};

pub fn render_table(reports: &[Report]) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "model",
        "runs",
        "format",
        "compile",
        "test",
        "coverage",
        "score",
        "pass@1",
        "repairs",
        "TTFT p50",
        "tok/s p50",
        "time",
    ]);
    for report in reports {
        let summary = &report.summary;
        let percent =
            |value: Option<f64>| value.map_or("-".to_owned(), |v| format!("{:.0}%", v * 100.0));
        let stage = |stage: Stage| percent(summary.stage_pass_rates.get(&stage).copied().flatten());
        let model = if report.provider == "reference" {
            "reference".to_owned()
        } else {
            format!("{}:{}", report.provider, report.model)
        };
        let row = [
            model,
            summary.runs.to_string(),
            stage(Stage::Format),
            stage(Stage::Compile),
            stage(Stage::Test),
            stage(Stage::Coverage),
            format!("{:.3}", summary.mean_score),
            percent(Some(summary.pass_at_1)),
            summary.repairs_total.to_string(),
            summary
                .ttft_ms
                .p50
                .map_or("-".to_owned(), |ms| format!("{ms:.0} ms")),
            summary
                .tokens_per_second
                .p50
                .map_or("-".to_owned(), |rate| format!("{rate:.1}")),
            format!("{:.1} s", summary.total_ms as f64 / 1e3),
        ];
        table.add_row(row.into_iter().enumerate().map(|(column, text)| {
            let cell = Cell::new(text);
            if column == 0 {
                cell
            } else {
                cell.set_alignment(CellAlignment::Right)
            }
        }));
    }
    table.to_string()
}
