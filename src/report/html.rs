//! The one-file HTML report: the answer first, then the comparison table, pass rate against
//! speed, the per-stage funnel, the TTFT distribution and the top rustc error codes.
//!
//! It opens offline: inline CSS and SVG, no scripts, no fonts or images fetched. Every string
//! that came from a model, a server or a suite goes through `escape`, because model names and
//! diagnostics are hostile input.

use super::Report;
use crate::optimize::{self, format_parameters, Candidate, Policy, Ranking};
use crate::suite::Stage;
use std::collections::BTreeMap;

/// Colours told apart by most readers, colour-blind ones included (Tableau 10).
const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// Error codes listed, most frequent first.
const TOP_ERROR_CODES: usize = 10;

const STYLE: &str = r#"
:root { color-scheme: light; --ink: #1f2328; --muted: #656d76; --line: #d0d7de; --soft: #f6f8fa; --good: #1a7f37; }
* { box-sizing: border-box; }
body { margin: 0; padding: 28px 36px 40px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 0 0 10px; }
.meta { color: var(--muted); margin: 0 0 18px; font-size: 12.5px; }
.answer { border: 1px solid #9fd3ae; background: #eefbf1; border-radius: 10px; padding: 14px 18px; margin-bottom: 22px; }
.answer.none { border-color: #f0c674; background: #fff8e6; }
.answer .pick { font-size: 20px; font-weight: 650; }
.answer .why { margin: 4px 0 0; font-size: 15px; }
.answer .policy { color: var(--muted); font-size: 12.5px; margin-top: 6px; }
section { margin-bottom: 26px; }
.grid { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 26px; }
.card { border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 6px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { font-size: 12px; color: var(--muted); font-weight: 600; background: var(--soft); }
th:nth-child(-n+2), td:nth-child(-n+2) { text-align: left; }
td.model { white-space: normal; overflow-wrap: anywhere; min-width: 170px; max-width: 300px; font-weight: 600; }
td.model .badges { display: block; font-weight: 400; }
tr.winner td { background: #eefbf1; }
tr.excluded td { color: var(--muted); }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 6px; vertical-align: baseline; }
.badge { display: inline-block; font-size: 11px; font-weight: 600; padding: 0 6px; border-radius: 9px; margin: 2px 4px 0 0; background: #ddf4ff; color: #0969da; }
.badge.pick { background: #dafbe1; color: var(--good); }
.badge.out { background: #eaeef2; color: var(--muted); }
.rate { display: inline-flex; align-items: center; gap: 6px; }
.rate .bar { position: relative; width: 56px; height: 8px; background: #eaeef2; border-radius: 4px; }
.rate .fill { position: absolute; left: 0; top: 0; bottom: 0; background: var(--good); border-radius: 4px; }
.rate .ci { position: absolute; top: -2px; bottom: -2px; border: 1px solid #1f2328; border-width: 0 1px; opacity: .55; }
.ci-text { color: var(--muted); font-size: 12px; }
.note { color: var(--muted); font-size: 12.5px; margin: 6px 0 0; }
.funnel { display: grid; grid-template-columns: 74px 1fr 44px; gap: 3px 8px; align-items: center; margin-bottom: 12px; font-size: 12.5px; }
.funnel .name { grid-column: 1 / -1; font-weight: 600; word-break: break-all; }
.funnel .track { height: 12px; background: #eaeef2; border-radius: 3px; overflow: hidden; }
.funnel .track div { height: 100%; }
.funnel .value { text-align: right; font-variant-numeric: tabular-nums; }
.funnel .absent { color: var(--muted); }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
a { color: #0969da; }
footer { color: var(--muted); font-size: 12px; }
"#;

/// Escapes text for HTML element content and quoted attribute values alike.
///
/// Five replacements need no crate; they are the whole of what the HTML spec requires here.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(character),
        }
    }
    escaped
}

/// One model as the report shows it: the ranked row, the colour it has everywhere, and its
/// report when there is one (a ranking may hold models whose reports were not passed).
struct Shown<'a> {
    candidate: &'a Candidate,
    excluded: Option<&'static str>,
    on_frontier: bool,
    colour: &'static str,
    report: Option<&'a Report>,
}

/// The whole report as one HTML document. Without a ranking, the reports' models are ranked by
/// pass rate (the default policy of `optimize`) so the answer still comes first.
pub fn render_html(reports: &[Report], ranking: Option<&Ranking>) -> String {
    let own_ranking;
    let (ranking, recommends) = match ranking {
        Some(ranking) => (ranking, true),
        None => {
            own_ranking = optimize::rank(
                reports
                    .iter()
                    .map(|report| Candidate::from_report(report, None))
                    .collect(),
                Policy::BestScore,
            );
            (&own_ranking, false)
        }
    };
    let shown: Vec<Shown> = ranking
        .rows
        .iter()
        .enumerate()
        .map(|(index, row)| Shown {
            candidate: &row.candidate,
            excluded: row.excluded.map(optimize::Exclusion::describe),
            on_frontier: row.on_frontier,
            colour: PALETTE[index % PALETTE.len()],
            report: reports
                .iter()
                .find(|report| report.label() == row.candidate.label),
        })
        .collect();

    let mut html = String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>cargo llm-bench report</title>\n<style>");
    html.push_str(STYLE);
    html.push_str("</style>\n</head>\n<body>\n");
    html.push_str(&header(reports));
    html.push_str(&answer(ranking, recommends));
    html.push_str(&comparison_table(&shown));
    html.push_str(
        "<section class=\"grid\">\n<div class=\"card\">\n<h2>Pass rate against speed</h2>\n",
    );
    html.push_str(&bubble_chart(&shown));
    html.push_str(
        "</div>\n<div class=\"card\">\n<h2>Where answers fail: pass rate by stage</h2>\n",
    );
    html.push_str(&funnels(&shown));
    html.push_str("</div>\n</section>\n<section class=\"card\">\n<h2>Time to first token, every attempt</h2>\n");
    html.push_str(&ttft_chart(&shown));
    html.push_str(
        "</section>\n<section class=\"card\">\n<h2>Top rustc error codes in failed compiles</h2>\n",
    );
    html.push_str(&error_codes(&shown));
    html.push_str("</section>\n");
    html.push_str(&format!(
        "<footer>{} {}</footer>\n</body>\n</html>\n",
        escape(env!("CARGO_PKG_NAME")),
        escape(env!("CARGO_PKG_VERSION"))
    ));
    html
}

fn header(reports: &[Report]) -> String {
    let mut meta = Vec::new();
    if let Some(first) = reports.first() {
        let suites: Vec<String> = first
            .suites
            .iter()
            .map(|suite| format!("{} ({} cases)", escape(&suite.name), suite.cases))
            .collect();
        if !suites.is_empty() {
            meta.push(format!("suite {}", suites.join(", ")));
        }
        meta.push(format!(
            "{} sample{} per case",
            first.samples,
            if first.samples == 1 { "" } else { "s" }
        ));
        meta.push(escape(&first.created));
        meta.push(escape(&first.rustc));
        meta.push(format!("sandbox {}", escape(&first.sandbox)));
    }
    if reports.iter().any(|report| !report.complete) {
        meta.push("<strong>interrupted: some models did not finish</strong>".to_owned());
    }
    format!(
        "<header>\n<h1>Which model writes working Rust?</h1>\n<p class=\"meta\">{}</p>\n</header>\n",
        meta.join(" · ")
    )
}

fn policy_text(policy: Policy) -> String {
    match policy {
        Policy::BestScore => {
            "Policy: best pass rate; pass rates that cannot be told apart go to the faster model."
                .to_owned()
        }
        Policy::TargetScore(target) => format!(
            "Policy: the smallest, then fastest, model whose pass rate reaches {target:.2}."
        ),
        Policy::MaxSecondsPerCase(budget) => {
            format!("Policy: the best pass rate within {budget:.1} s per case.")
        }
    }
}

fn answer(ranking: &Ranking, recommends: bool) -> String {
    let pick = match ranking.recommendation() {
        Some(winner) if recommends => format!("Use {}", escape(&winner.label)),
        Some(winner) => format!("Best: {}", escape(&winner.label)),
        None => "No model meets the policy".to_owned(),
    };
    let class = if ranking.recommendation().is_some() {
        "answer"
    } else {
        "answer none"
    };
    format!(
        "<section class=\"{class}\">\n<div class=\"pick\">{pick}</div>\n<p class=\"why\">{}.</p>\n<div class=\"policy\">{} Pass rate = valid runs whose code passed every stage, with its 95% interval.</div>\n</section>\n",
        escape(&ranking.verdict),
        escape(&policy_text(ranking.policy))
    )
}

fn optional(value: Option<f64>, format: impl Fn(f64) -> String) -> String {
    value.map(format).unwrap_or_else(|| "—".to_owned())
}

fn rate_cell(candidate: &Candidate) -> String {
    let Some(interval) = candidate.pass_rate_interval else {
        return "<span class=\"ci-text\">no valid runs</span>".to_owned();
    };
    format!(
        "<span class=\"rate\"><strong>{:.2}</strong><span class=\"bar\"><span class=\"fill\" style=\"width:{:.1}%\"></span><span class=\"ci\" style=\"left:{:.1}%;width:{:.1}%\"></span></span><span class=\"ci-text\">[{:.2}, {:.2}]</span></span>",
        candidate.pass_rate,
        candidate.pass_rate * 100.0,
        interval.low * 100.0,
        (interval.high - interval.low) * 100.0,
        interval.low,
        interval.high
    )
}

fn memory_text(bytes: u64) -> String {
    format!("{:.1} GB", bytes as f64 / 1e9)
}

fn comparison_table(shown: &[Shown]) -> String {
    // Only some providers tell memory; a column of dashes would only take room.
    let with_memory = shown
        .iter()
        .any(|model| model.candidate.memory_bytes.is_some());
    let mut html = String::from("<section>\n<h2>Comparison</h2>\n<table>\n<thead><tr><th>#</th><th>Model</th><th>Size</th><th>Quant</th><th>Pass rate [95% CI]</th><th>Mean score</th><th>First try</th><th>After repair</th><th>TTFT p50</th><th>Tokens/s</th><th>s per case</th><th>Invalid runs</th>");
    if with_memory {
        html.push_str("<th>Memory</th>");
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for (index, model) in shown.iter().enumerate() {
        let candidate = model.candidate;
        let class = match (index, model.excluded) {
            (_, Some(_)) => " class=\"excluded\"",
            (0, None) => " class=\"winner\"",
            _ => "",
        };
        let mut badges = String::from("<span class=\"badges\">");
        if index == 0 && model.excluded.is_none() {
            badges.push_str("<span class=\"badge pick\">pick</span>");
        }
        if model.on_frontier {
            badges.push_str("<span class=\"badge\">frontier</span>");
        }
        if let Some(reason) = model.excluded {
            badges.push_str(&format!(
                "<span class=\"badge out\">{}</span>",
                escape(reason)
            ));
        }
        badges.push_str("</span>");
        html.push_str(&format!(
            "<tr{class}><td>{}</td><td class=\"model\"><span class=\"swatch\" style=\"background:{}\"></span>{}{badges}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td><td>{} of {}</td>",
            index + 1,
            model.colour,
            escape(&candidate.label),
            optional(candidate.parameters, format_parameters),
            candidate.quantization.as_deref().map(escape).unwrap_or_else(|| "—".to_owned()),
            rate_cell(candidate),
            candidate.mean_score,
            candidate.first_try_pass_rate,
            candidate.after_repair_pass_rate,
            optional(candidate.ttft_p50_ms, |ms| format!("{ms:.0} ms")),
            optional(candidate.tokens_per_second, |speed| format!("{speed:.1}")),
            optional(candidate.seconds_per_case, |seconds| format!("{seconds:.1}")),
            candidate.invalid_runs,
            candidate.invalid_runs + candidate.valid_runs,
        ));
        if with_memory {
            html.push_str(&format!(
                "<td>{}</td>",
                candidate
                    .memory_bytes
                    .map(memory_text)
                    .unwrap_or_else(|| "—".to_owned())
            ));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table>\n</section>\n");
    html
}

/// Round steps for an axis from 0 to at least `max`: the step and the axis end.
fn axis_steps(max: f64) -> (f64, f64) {
    let rough = (max / 5.0).max(1e-9);
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|factor| factor * magnitude)
        .find(|step| *step >= rough)
        .unwrap_or(10.0 * magnitude);
    (step, (max / step).ceil().max(1.0) * step)
}

fn number_text(value: f64) -> String {
    if value.fract().abs() < 1e-9 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// A label's box on the chart, to keep labels from covering each other.
#[derive(Clone, Copy)]
struct LabelBox {
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl LabelBox {
    fn overlaps(&self, other: &LabelBox) -> bool {
        self.left < other.right
            && other.left < self.right
            && self.top < other.bottom
            && other.top < self.bottom
    }
}

/// About the width of `text` at 12px in a bold sans-serif font; labels only need to dodge
/// roughly.
fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * 8.0
}

fn bubble_chart(shown: &[Shown]) -> String {
    const WIDTH: f64 = 600.0;
    const HEIGHT: f64 = 360.0;
    const LEFT: f64 = 52.0;
    const RIGHT: f64 = 20.0;
    const TOP: f64 = 34.0;
    const BOTTOM: f64 = 46.0;
    let placed: Vec<(&Shown, f64)> = shown
        .iter()
        .filter(|model| model.candidate.valid_runs > 0)
        .filter_map(|model| Some((model, model.candidate.tokens_per_second?)))
        .collect();
    let unplaced: Vec<String> = shown
        .iter()
        .filter(|model| {
            model.candidate.valid_runs == 0 || model.candidate.tokens_per_second.is_none()
        })
        .map(|model| escape(&model.candidate.label))
        .collect();
    let mut svg = format!(
        "<svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"100%\" role=\"img\" aria-label=\"pass rate against tokens per second\">\n"
    );
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let max_speed = placed.iter().map(|(_, speed)| *speed).fold(0.0, f64::max);
    let (step, x_end) = axis_steps(if max_speed > 0.0 {
        max_speed * 1.1
    } else {
        10.0
    });
    let x = |speed: f64| LEFT + speed / x_end * plot_width;
    let y = |rate: f64| TOP + (1.0 - rate) * plot_height;

    for tick in 0..=4 {
        let rate = f64::from(tick) * 0.25;
        svg.push_str(&format!(
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eaeef2\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#656d76\" text-anchor=\"end\">{rate:.2}</text>\n",
            WIDTH - RIGHT,
            LEFT - 6.0,
            y(rate) + 4.0,
            y = y(rate),
        ));
    }
    let mut speed = 0.0;
    while speed <= x_end + step / 2.0 {
        svg.push_str(&format!(
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{:.1}\" stroke=\"#eaeef2\"/><text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#656d76\" text-anchor=\"middle\">{}</text>\n",
            HEIGHT - BOTTOM,
            HEIGHT - BOTTOM + 16.0,
            number_text(speed),
            x = x(speed),
        ));
        speed += step;
    }
    svg.push_str(&format!(
        "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{b:.1}\" y2=\"{b:.1}\" stroke=\"#8c959f\"/><line x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{b:.1}\" stroke=\"#8c959f\"/>\n<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#1f2328\" text-anchor=\"middle\">decode tokens per second (median) →</text>\n<text transform=\"translate(14 {:.1}) rotate(-90)\" font-size=\"12\" fill=\"#1f2328\" text-anchor=\"middle\">pass rate →</text>\n",
        WIDTH - RIGHT,
        LEFT + plot_width / 2.0,
        HEIGHT - 8.0,
        TOP + plot_height / 2.0,
        b = HEIGHT - BOTTOM,
    ));
    if placed.is_empty() {
        svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" fill=\"#656d76\" text-anchor=\"middle\">no model measured its speed</text>\n",
            LEFT + plot_width / 2.0,
            TOP + plot_height / 2.0
        ));
    }

    // The frontier first, under the bubbles.
    let mut frontier: Vec<(f64, f64)> = placed
        .iter()
        .filter(|(model, _)| model.on_frontier)
        .map(|(model, speed)| (x(*speed), y(model.candidate.pass_rate)))
        .collect();
    frontier.sort_by(|a, b| a.0.total_cmp(&b.0));
    if frontier.len() > 1 {
        let points: Vec<String> = frontier
            .iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        svg.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#1f2328\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\" opacity=\"0.7\"/>\n",
            points.join(" ")
        ));
    }

    let largest = placed
        .iter()
        .filter_map(|(model, _)| model.candidate.parameters)
        .fold(0.0, f64::max);
    let radius = |model: &Shown| match model.candidate.parameters {
        // Area, not radius, follows the parameter count.
        Some(parameters) if largest > 0.0 => 7.0 + 21.0 * (parameters / largest).sqrt(),
        _ => 9.0,
    };
    // Big bubbles first, so small ones stay visible on top.
    let mut drawn: Vec<&(&Shown, f64)> = placed.iter().collect();
    drawn.sort_by(|a, b| radius(b.0).total_cmp(&radius(a.0)));
    for (model, speed) in &drawn {
        let candidate = model.candidate;
        let (cx, cy) = (x(*speed), y(candidate.pass_rate));
        if let Some(interval) = candidate.pass_rate_interval {
            svg.push_str(&format!(
                "<line x1=\"{cx:.1}\" x2=\"{cx:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"{}\" stroke-width=\"2\" opacity=\"0.6\"/>\n",
                y(interval.low),
                y(interval.high),
                model.colour
            ));
        }
        let dash = if candidate.parameters.is_none() {
            " stroke-dasharray=\"3 2\""
        } else {
            ""
        };
        // The frontier's models wear a dark ring, so a frontier of one still shows.
        let ring = if model.on_frontier {
            "#1f2328"
        } else {
            model.colour
        };
        svg.push_str(&format!(
            "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"{:.1}\" fill=\"{colour}\" fill-opacity=\"0.55\" stroke=\"{ring}\" stroke-width=\"2\"{dash}><title>{}: {} at {:.1} tokens/s</title></circle>\n",
            radius(model),
            escape(&candidate.label),
            escape(&candidate.pass_rate_text()),
            speed,
            colour = model.colour,
        ));
    }

    // Labels last, highest first, each at the first spot beside its bubble that covers no
    // other label and no other bubble.
    let bubbles: Vec<LabelBox> = placed
        .iter()
        .map(|(model, speed)| {
            let (cx, cy, r) = (x(*speed), y(model.candidate.pass_rate), radius(model));
            LabelBox {
                left: cx - r,
                right: cx + r,
                top: cy - r,
                bottom: cy + r,
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..placed.len()).collect();
    order.sort_by(|&a, &b| {
        placed[b]
            .0
            .candidate
            .pass_rate
            .total_cmp(&placed[a].0.candidate.pass_rate)
    });
    let mut taken: Vec<LabelBox> = Vec::new();
    for index in order {
        let (model, speed) = &placed[index];
        let candidate = model.candidate;
        let text = match candidate.parameters {
            Some(parameters) => format!("{} ({})", candidate.label, format_parameters(parameters)),
            None => candidate.label.clone(),
        };
        let width = text_width(&text);
        let (cx, cy, r) = (x(*speed), y(candidate.pass_rate), radius(model));
        // Where the text is anchored, how it is anchored, and its baseline; the anchor keeps
        // the text off its own bubble however far the width estimate is off.
        let spots = [
            (cx + r + 5.0, "start", cy + 4.0),
            (cx - r - 5.0, "end", cy + 4.0),
            (cx, "middle", cy - r - 5.0),
            (cx, "middle", cy + r + 15.0),
        ];
        let label_at = |(at, anchor, baseline): (f64, &'static str, f64)| {
            let left = match anchor {
                "start" => at,
                "end" => at - width,
                _ => at - width / 2.0,
            };
            let label = LabelBox {
                left,
                right: left + width,
                top: baseline - 12.0,
                bottom: baseline + 3.0,
            };
            (label, at, anchor, baseline)
        };
        let inside = |label: &LabelBox| {
            label.left >= LEFT + 2.0
                && label.right <= WIDTH - 2.0
                && label.top >= 0.0
                && label.bottom <= HEIGHT - BOTTOM
        };
        let free = |label: &LabelBox| {
            !taken.iter().any(|other| other.overlaps(label))
                && !bubbles
                    .iter()
                    .enumerate()
                    .any(|(other, bubble)| other != index && bubble.overlaps(label))
        };
        let shifted = (0..12).flat_map(|step| {
            let shift = f64::from(step) * 8.0;
            spots.into_iter().flat_map(move |(at, anchor, baseline)| {
                [
                    (at, anchor, baseline + shift),
                    (at, anchor, baseline - shift),
                ]
            })
        });
        let (label, at, anchor, baseline) = shifted
            .map(label_at)
            .filter(|(label, ..)| inside(label))
            .find(|(label, ..)| free(label))
            // Crowded beyond help: beside the bubble, on top of whatever is there.
            .unwrap_or_else(|| label_at(spots[0]));
        taken.push(label);
        svg.push_str(&format!(
            "<text x=\"{at:.1}\" y=\"{baseline:.1}\" text-anchor=\"{anchor}\" font-size=\"12\" font-weight=\"600\" fill=\"#1f2328\" paint-order=\"stroke\" stroke=\"#fff\" stroke-width=\"3\">{}</text>\n",
            escape(&text)
        ));
    }
    svg.push_str("</svg>\n");

    let mut notes = vec![
        "Bubble area follows the parameter count (dashed: size unknown); the vertical bar is the 95% interval; dark rings and the dashed line mark the frontier: no other model is both better and faster."
            .to_owned(),
    ];
    if !unplaced.is_empty() {
        notes.push(format!(
            "Not placed, no speed measured or no valid runs: {}.",
            unplaced.join(", ")
        ));
    }
    for note in notes {
        svg.push_str(&format!("<p class=\"note\">{note}</p>\n"));
    }
    svg
}

fn funnels(shown: &[Shown]) -> String {
    let mut html = String::new();
    for model in shown {
        html.push_str(&format!(
            "<div class=\"funnel\"><div class=\"name\"><span class=\"swatch\" style=\"background:{}\"></span>{}</div>\n",
            model.colour,
            escape(&model.candidate.label)
        ));
        for stage in Stage::ALL {
            let rate = model
                .candidate
                .stage_pass_rates
                .get(&stage)
                .copied()
                .flatten();
            match rate {
                Some(rate) => html.push_str(&format!(
                    "<div>{}</div><div class=\"track\"><div style=\"width:{:.1}%;background:{}\"></div></div><div class=\"value\">{:.0}%</div>\n",
                    stage.name(),
                    rate * 100.0,
                    model.colour,
                    rate * 100.0
                )),
                // A rate is unknown when no valid run had the stage: either the suite leaves it
                // out, or the model had no valid run at all.
                None => html.push_str(&format!(
                    "<div class=\"absent\">{}</div><div class=\"absent\">{}</div><div class=\"value absent\">—</div>\n",
                    stage.name(),
                    if model.candidate.valid_runs == 0 {
                        "no valid runs"
                    } else {
                        "not in the suite"
                    }
                )),
            }
        }
        html.push_str("</div>\n");
    }
    html
}

/// Every measured TTFT of a report, in milliseconds.
fn ttfts(report: &Report) -> Vec<f64> {
    report
        .cases
        .iter()
        .flat_map(|case| &case.attempts)
        .filter_map(|attempt| attempt.metrics.ttft_ms)
        .filter(|ms| ms.is_finite() && *ms > 0.0)
        .collect()
}

fn ttft_chart(shown: &[Shown]) -> String {
    const WIDTH: f64 = 1000.0;
    const LEFT: f64 = 230.0;
    const RIGHT: f64 = 170.0;
    const ROW: f64 = 34.0;
    const TOP: f64 = 8.0;
    let rows: Vec<(&Shown, Vec<f64>)> = shown
        .iter()
        .map(|model| (model, model.report.map(ttfts).unwrap_or_default()))
        .collect();
    let all: Vec<f64> = rows.iter().flat_map(|(_, values)| values.clone()).collect();
    if all.is_empty() {
        return "<p class=\"note\">No attempt measured its time to first token (offline answers such as <code>reference</code> and <code>replay</code> have none).</p>\n".to_owned();
    }
    let low = all.iter().copied().fold(f64::INFINITY, f64::min);
    let high = all.iter().copied().fold(0.0, f64::max);
    // A log scale: first tokens range from tens of milliseconds to tens of seconds.
    let decade_low = low.log10().floor();
    let decade_high = high.log10().ceil().max(decade_low + 1.0);
    let plot_width = WIDTH - LEFT - RIGHT;
    let x = |ms: f64| LEFT + (ms.log10() - decade_low) / (decade_high - decade_low) * plot_width;
    let height = TOP + ROW * rows.len() as f64 + 34.0;
    let axis_y = TOP + ROW * rows.len() as f64;
    let mut svg = format!(
        "<svg viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"100%\" role=\"img\" aria-label=\"time to first token per model\">\n"
    );
    let mut decade = decade_low;
    while decade <= decade_high {
        for factor in [1.0, 2.0, 5.0] {
            let ms = factor * 10f64.powf(decade);
            if ms.log10() > decade_high + 1e-9 {
                break;
            }
            let major = factor == 1.0;
            svg.push_str(&format!(
                "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{axis_y:.1}\" stroke=\"{}\"/>",
                if major { "#d0d7de" } else { "#f0f2f4" },
                x = x(ms),
            ));
            // Over many decades the in-between labels would run into each other.
            if major || decade_high - decade_low <= 3.0 {
                svg.push_str(&format!(
                    "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#656d76\" text-anchor=\"middle\">{}</text>",
                    x(ms),
                    axis_y + 15.0,
                    duration_text(ms),
                ));
            }
            svg.push('\n');
        }
        decade += 1.0;
    }
    svg.push_str(&format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#1f2328\" text-anchor=\"middle\">request sent → first token (log scale); the bar marks the median</text>\n",
        LEFT + plot_width / 2.0,
        axis_y + 31.0
    ));
    for (index, (model, values)) in rows.iter().enumerate() {
        let middle = TOP + ROW * index as f64 + ROW / 2.0;
        let label = escape(&truncate(&model.candidate.label, 32));
        svg.push_str(&format!(
            "<circle cx=\"8\" cy=\"{middle:.1}\" r=\"5\" fill=\"{}\"/><text x=\"18\" y=\"{:.1}\" font-size=\"12\" font-weight=\"600\" fill=\"#1f2328\">{label}<title>{}</title></text>\n",
            model.colour,
            middle + 4.0,
            escape(&model.candidate.label)
        ));
        if values.is_empty() {
            svg.push_str(&format!(
                "<text x=\"{LEFT}\" y=\"{:.1}\" font-size=\"12\" fill=\"#656d76\">not measured</text>\n",
                middle + 4.0
            ));
            continue;
        }
        for (n, ms) in values.iter().enumerate() {
            // Spread the dots over the row so equal times stay countable.
            let jitter = ((n * 7) % 11) as f64 / 10.0 - 0.5;
            svg.push_str(&format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{}\" fill-opacity=\"0.55\"/>\n",
                x(*ms),
                middle + jitter * (ROW - 14.0),
                model.colour
            ));
        }
        if let Some(median) = crate::score::percentile(values, 50.0) {
            svg.push_str(&format!(
                "<line x1=\"{m:.1}\" x2=\"{m:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#1f2328\" stroke-width=\"2.5\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#1f2328\">p50 {} · {} attempts</text>\n",
                middle - ROW / 2.0 + 3.0,
                middle + ROW / 2.0 - 3.0,
                WIDTH - RIGHT + 8.0,
                middle + 4.0,
                duration_text(median),
                values.len(),
                m = x(median),
            ));
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn duration_text(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{} s", number_text(ms / 1000.0))
    } else {
        format!("{ms:.0} ms")
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_owned()
    } else {
        let kept: String = text.chars().take(max_chars - 1).collect();
        format!("{kept}…")
    }
}

/// Per error code, how often it appeared in each model's failed compiles, most frequent first.
fn error_code_counts(shown: &[Shown]) -> Vec<(String, Vec<usize>)> {
    let mut counts: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, model) in shown.iter().enumerate() {
        let Some(report) = model.report else { continue };
        let failed_compiles = report
            .cases
            .iter()
            .flat_map(|case| &case.attempts)
            .flat_map(|attempt| &attempt.stages)
            .filter(|stage| stage.stage == Stage::Compile && !stage.passed);
        for stage in failed_compiles {
            for code in stage.error_codes.iter().flatten() {
                counts
                    .entry(code.clone())
                    .or_insert_with(|| vec![0; shown.len()])[index] += 1;
            }
        }
    }
    let mut ordered: Vec<(String, Vec<usize>)> = counts.into_iter().collect();
    ordered.sort_by(|a, b| {
        b.1.iter()
            .sum::<usize>()
            .cmp(&a.1.iter().sum::<usize>())
            .then_with(|| a.0.cmp(&b.0))
    });
    ordered.truncate(TOP_ERROR_CODES);
    ordered
}

/// Codes as rustc prints them (`E0308`) link to their page in the error index.
fn is_rustc_code(code: &str) -> bool {
    code.len() == 5 && code.starts_with('E') && code[1..].chars().all(|c| c.is_ascii_digit())
}

fn error_codes(shown: &[Shown]) -> String {
    let counts = error_code_counts(shown);
    if counts.is_empty() {
        return "<p class=\"note\">No failed compile reported a rustc error code.</p>\n".to_owned();
    }
    let most = counts
        .iter()
        .map(|(_, per_model)| per_model.iter().sum::<usize>())
        .max()
        .unwrap_or(1)
        .max(1);
    let mut html = String::from("<table>\n<thead><tr><th>Code</th><th>Count</th>");
    for model in shown {
        html.push_str(&format!(
            "<th><span class=\"swatch\" style=\"background:{}\"></span>{}</th>",
            model.colour,
            escape(&truncate(&model.candidate.label, 24))
        ));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for (code, per_model) in &counts {
        let total: usize = per_model.iter().sum();
        let name = if is_rustc_code(code) {
            format!(
                "<a href=\"https://doc.rust-lang.org/error_codes/{code}.html\">{code}</a>",
                code = escape(code)
            )
        } else {
            escape(code)
        };
        // A stacked bar: each model's share of this code, in its colour.
        let mut bar = String::new();
        for (model, count) in shown.iter().zip(per_model) {
            if *count > 0 {
                bar.push_str(&format!(
                    "<span style=\"display:inline-block;height:10px;width:{:.1}px;background:{}\"></span>",
                    *count as f64 / most as f64 * 160.0,
                    model.colour
                ));
            }
        }
        html.push_str(&format!(
            "<tr><td>{name}</td><td style=\"text-align:left\">{bar} {total}</td>"
        ));
        for count in per_model {
            html.push_str(&format!("<td>{count}</td>"));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table>\n<p class=\"note\">Counted over every failed compile, repairs included; each code links to its explanation in the rustc error index.</p>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{
        AttemptReport, CaseReport, GenerationEndReport, MetricSources, Metrics, Percentiles,
        SourceReport, StageReport, Summary, Tool,
    };

    fn stage(stage: Stage, passed: bool, error_codes: &[&str]) -> StageReport {
        StageReport {
            stage,
            passed,
            duration_ms: 10.0,
            already_formatted: None,
            error_codes: (stage == Stage::Compile)
                .then(|| error_codes.iter().map(|code| (*code).to_owned()).collect()),
            warnings: None,
            tests_passed: None,
            tests_total: None,
            covered_lines: None,
            coverable_lines: None,
            coverage: None,
            coverage_required: None,
            diagnostics: "<b>error</b>: hostile diagnostics".to_owned(),
        }
    }

    fn attempt(ttft_ms: Option<f64>, stages: Vec<StageReport>) -> AttemptReport {
        let source = SourceReport::Client;
        AttemptReport {
            attempt: 0,
            passed: stages.iter().all(|stage| stage.passed),
            score: 0.5,
            end: GenerationEndReport::Finished,
            invalid: false,
            cached: false,
            flags: Vec::new(),
            metrics: Metrics {
                ttft_ms,
                ttft_answer_ms: ttft_ms,
                generation_ms: 1000.0,
                prompt_tokens: None,
                completion_tokens: None,
                decode_tokens_per_second: None,
                prefill_tokens_per_second: None,
                server_prompt_ms: None,
                server_load_ms: None,
                retries: 0,
                retry_wait_ms: 0.0,
                sources: MetricSources {
                    ttft: source,
                    tokens: source,
                    decode: source,
                    prefill: SourceReport::None,
                },
            },
            stages,
            thinking_chars: 0,
            feedback: None,
            code: "fn main() {}".to_owned(),
            answer: "<script>alert('answer')</script>".to_owned(),
        }
    }

    /// A model whose first case failed to compile twice (E0308 both times, E0425 once) and
    /// whose second passed; `tokens_per_second` as measured.
    fn report(model: &str, tokens_per_second: Option<f64>) -> Report {
        let failed = CaseReport {
            suite: "basics".to_owned(),
            case: "add".to_owned(),
            sample: 0,
            passed: false,
            score: 0.1,
            first_try_passed: false,
            repairs: 1,
            invalid: false,
            invalid_reason: None,
            provider_error: None,
            repair_stop: None,
            attempts: vec![
                attempt(
                    Some(120.0),
                    vec![
                        stage(Stage::Format, true, &[]),
                        stage(Stage::Compile, false, &["E0308", "E0425"]),
                    ],
                ),
                attempt(
                    Some(95.0),
                    vec![
                        stage(Stage::Format, true, &[]),
                        stage(Stage::Compile, false, &["E0308"]),
                    ],
                ),
            ],
        };
        let passed = CaseReport {
            case: "sub".to_owned(),
            passed: true,
            first_try_passed: true,
            repairs: 0,
            attempts: vec![attempt(
                Some(2400.0),
                vec![
                    stage(Stage::Format, true, &[]),
                    // A passing compile's codes are warnings' business, not failures'.
                    stage(Stage::Compile, true, &["E9999"]),
                    stage(Stage::Test, true, &[]),
                ],
            )],
            ..failed.clone()
        };
        Report {
            format_version: 2,
            tool: Tool {
                name: "cargo-llm-bench".to_owned(),
                version: "0".to_owned(),
            },
            rustc: "rustc 1.95.0".to_owned(),
            created: "2026-11-30T21:00:00Z".to_owned(),
            sandbox: "bwrap".to_owned(),
            complete: true,
            partition: None,
            provider: "local".to_owned(),
            model: model.to_owned(),
            suites: Vec::new(),
            samples: 1,
            weights: crate::score::Weights::default(),
            summary: Summary {
                runs: 2,
                valid_runs: 2,
                passed: 1,
                mean_score: 0.55,
                stage_pass_rates: [
                    (Stage::Format, Some(1.0)),
                    (Stage::Compile, Some(0.5)),
                    (Stage::Test, Some(0.5)),
                    (Stage::Coverage, None),
                ]
                .into_iter()
                .collect(),
                after_repair_pass_rate: 0.5,
                first_try_pass_rate: 0.5,
                decode_tokens_per_second: Percentiles {
                    p50: tokens_per_second,
                    ..Percentiles::default()
                },
                generation_ms: 3000,
                ..Summary::default()
            },
            cases: vec![failed, passed],
        }
    }

    #[test]
    fn every_string_from_a_model_or_server_is_escaped() {
        let hostile = "<img src=x onerror=alert(1)>\"'&";
        let html = render_html(&[report(hostile, Some(20.0))], None);
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("<b>error</b>"));
    }

    #[test]
    fn the_page_fetches_nothing_and_opens_offline() {
        let html = render_html(&[report("a", Some(20.0)), report("b", None)], None);
        for fetches in ["<script", " src=", "@import", "url(", "<link"] {
            assert!(!html.contains(fetches), "the page fetches with {fetches}");
        }
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<svg"));
    }

    #[test]
    fn error_codes_are_counted_over_failed_compiles_of_every_attempt() {
        let html = render_html(&[report("one", None), report("two", None)], None);
        let row = |code: &str| {
            let start = html
                .find(&format!(">{code}</a>"))
                .unwrap_or_else(|| panic!("{code} is missing"));
            let end = start + html[start..].find("</tr>").unwrap();
            html[start..end].to_owned()
        };
        // Twice per model, in two models.
        assert!(row("E0308").contains("</span> 4</td><td>2</td><td>2</td>"));
        assert!(row("E0425").contains("</span> 2</td><td>1</td><td>1</td>"));
        assert!(
            !html.contains("E9999"),
            "a passing compile's code was counted"
        );
        assert!(
            html.find(">E0308<").unwrap() < html.find(">E0425<").unwrap(),
            "the most frequent code comes first"
        );
    }

    #[test]
    fn the_ttft_of_every_attempt_is_plotted_with_its_median() {
        let html = render_html(&[report("timed", Some(20.0))], None);
        assert!(html.contains("p50 120 ms · 3 attempts"), "{html}");
        let mut offline = report("offline", None);
        for attempt in offline.cases.iter_mut().flat_map(|case| &mut case.attempts) {
            attempt.metrics.ttft_ms = None;
        }
        let html = render_html(&[offline], None);
        assert!(html.contains("No attempt measured its time to first token"));
    }

    #[test]
    fn a_ranking_given_is_shown_with_its_policy_and_verdict() {
        let reports = [report("small", Some(40.0)), report("large", Some(10.0))];
        let candidates: Vec<Candidate> = reports
            .iter()
            .zip([0.5e9, 7e9])
            .map(|(report, parameters)| Candidate {
                parameters: Some(parameters),
                ..Candidate::from_report(report, None)
            })
            .collect();
        let ranking = optimize::rank(candidates, Policy::TargetScore(0.9));
        let html = render_html(&reports, Some(&ranking));
        assert!(html.contains("No model meets the policy"));
        assert!(html.contains(&escape(&ranking.verdict)));
        assert!(html.contains("reaches 0.90"));
        assert!(html.contains("<td>500M</td>") && html.contains("<td>7B</td>"));
    }

    #[test]
    fn without_a_ranking_the_reports_are_ranked_by_pass_rate_and_the_faster_tie_wins() {
        let html = render_html(
            &[report("slow", Some(10.0)), report("fast", Some(30.0))],
            None,
        );
        assert!(html.contains("Best: local:fast"), "{html}");
        assert!(!html.contains("Use local:fast"));
    }

    #[test]
    fn no_reports_make_a_page_that_says_there_is_nothing_to_judge() {
        let html = render_html(&[], None);
        assert!(html.contains("No model meets the policy"));
        assert!(html.contains("no model measured its speed"));
        assert!(html.ends_with("</html>\n"));
    }

    #[test]
    fn labels_on_the_chart_do_not_cover_each_other() {
        let reports: Vec<Report> = (0..6)
            .map(|n| {
                report(
                    &format!("crowded-model-{n}"),
                    Some(20.0 + f64::from(n) * 0.1),
                )
            })
            .collect();
        let html = render_html(&reports, None);
        let labels: Vec<LabelBox> = html
            .match_indices("<text x=\"")
            .filter_map(|(at, _)| {
                let tag = &html[at..at + html[at..].find("</text>")?];
                let text = &tag[tag.find('>')? + 1..];
                let attribute = |name: &str| {
                    let value = tag.split(&format!(" {name}=\"")).nth(1)?;
                    Some(value[..value.find('"')?].to_owned())
                };
                let (x, baseline) = (
                    attribute("x")?.parse::<f64>().ok()?,
                    attribute("y")?.parse::<f64>().ok()?,
                );
                let width = text_width(text);
                let left = match attribute("text-anchor")?.as_str() {
                    "start" => x,
                    "end" => x - width,
                    _ => x - width / 2.0,
                };
                text.starts_with("local:crowded").then_some(LabelBox {
                    left,
                    right: left + width,
                    top: baseline - 12.0,
                    bottom: baseline + 3.0,
                })
            })
            .collect();
        assert_eq!(labels.len(), 6, "{html}");
        for (n, label) in labels.iter().enumerate() {
            for other in &labels[n + 1..] {
                assert!(!label.overlaps(other), "labels {n} and another overlap");
            }
        }
    }
}
