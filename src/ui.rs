//! The only module that knows the terminal: runner events become progress bars on stderr.
//!
//! One bar per model counts its scored attempts and says what is in flight, retrying and
//! waiting to be scored; a spinner line under them names the stage being scored. Both tick
//! steadily, so a long build never looks frozen.

use crate::provider::ModelSpec;
use crate::runner::Event;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

const TICK: Duration = Duration::from_millis(120);

/// Progress for one run; draws nothing when stderr is not a terminal or progress is off.
#[derive(Debug)]
pub struct Progress {
    multi: MultiProgress,
    visible: bool,
    plain: bool,
    scoring: ProgressBar,
    models: Mutex<HashMap<ModelSpec, ModelProgress>>,
}

#[derive(Debug)]
struct ModelProgress {
    bar: ProgressBar,
    in_flight: usize,
    retrying: usize,
    waiting: usize,
    failed: usize,
}

impl ModelProgress {
    fn refresh(&self) {
        let mut parts = vec![format!("{} in flight", self.in_flight)];
        if self.retrying > 0 {
            parts.push(format!("{} retrying", self.retrying));
        }
        parts.push(format!("{} to score", self.waiting));
        if self.failed > 0 {
            parts.push(format!("{} provider errors", self.failed));
        }
        self.bar.set_message(parts.join(" · "));
    }
}

impl Progress {
    pub fn new(enabled: bool) -> Progress {
        let visible = enabled && std::io::stderr().is_terminal();
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let multi = MultiProgress::with_draw_target(target);
        let plain = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        let scoring = multi.add(ProgressBar::new_spinner());
        scoring.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"),
        );
        scoring.set_message("waiting for answers");
        if visible {
            scoring.enable_steady_tick(TICK);
        }
        Progress {
            multi,
            visible,
            plain,
            scoring,
            models: Mutex::new(HashMap::new()),
        }
    }

    fn model_bar(&self, model: &ModelSpec, length: u64) -> ProgressBar {
        let template = if self.plain {
            "{prefix:24!} [{bar:20}] {pos}/{len} {wide_msg}"
        } else {
            "{prefix:24!.bold} [{bar:20.cyan/blue}] {pos}/{len} {wide_msg}"
        };
        let bar = self
            .multi
            .insert_before(&self.scoring, ProgressBar::new(length));
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(model.to_string());
        if self.visible {
            bar.enable_steady_tick(TICK);
        }
        bar
    }

    pub fn handle(&self, event: Event) {
        let mut models = self.models.lock().unwrap_or_else(|e| e.into_inner());
        let model = match event {
            Event::ModelStarted {
                model,
                conversations,
            } => {
                let bar = self.model_bar(model, conversations as u64);
                models.insert(
                    model.clone(),
                    ModelProgress {
                        bar,
                        in_flight: 0,
                        retrying: 0,
                        waiting: 0,
                        failed: 0,
                    },
                );
                model
            }
            Event::ModelPrepared { .. } => return,
            Event::StageStarted { stage, attempts } => {
                self.scoring
                    .set_message(format!("scoring: {stage} of {attempts} answers"));
                return;
            }
            Event::RequestSent { model, .. } => {
                if let Some(progress) = models.get_mut(model) {
                    progress.in_flight += 1;
                }
                model
            }
            Event::Retrying { model, wait, .. } => {
                if let Some(progress) = models.get_mut(model) {
                    progress.retrying += 1;
                    progress
                        .bar
                        .println(format!("{model}: rate limited, retrying in {wait:.1?}"));
                }
                model
            }
            Event::Generated { model, .. } => {
                if let Some(progress) = models.get_mut(model) {
                    progress.in_flight = progress.in_flight.saturating_sub(1);
                    progress.retrying = 0;
                    progress.waiting += 1;
                }
                model
            }
            Event::AttemptScored { model, attempt } => {
                if let Some(progress) = models.get_mut(model) {
                    progress.waiting = progress.waiting.saturating_sub(1);
                    if attempt.key.attempt > 0 {
                        progress.bar.inc_length(1);
                    }
                    progress.bar.inc(1);
                }
                self.scoring.set_message("waiting for answers");
                model
            }
            Event::ConversationFailed { model, .. } => {
                if let Some(progress) = models.get_mut(model) {
                    progress.waiting = progress.waiting.saturating_sub(1);
                    progress.failed += 1;
                    progress.bar.inc(1);
                }
                model
            }
            Event::ModelStopped { model, reason } => {
                if let Some(progress) = models.get(model) {
                    progress.bar.println(format!("{model} stopped: {reason}"));
                }
                model
            }
        };
        if let Some(progress) = models.get(model) {
            progress.refresh();
        }
    }

    pub fn finish(&self) {
        let models = self.models.lock().unwrap_or_else(|e| e.into_inner());
        for progress in models.values() {
            progress.bar.finish_and_clear();
        }
        self.scoring.finish_and_clear();
        let _ = self.multi.clear();
    }
}

/// The width the table should fit: the terminal's when stdout is one, else `COLUMNS` when set
/// (`COLUMNS=200 cargo llm-bench > table.txt`), else None.
pub fn stdout_width() -> Option<u16> {
    // comfy-table asks the terminal itself (through crossterm) when stdout is one.
    comfy_table::Table::new().width().or_else(|| {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|columns| columns.trim().parse().ok())
    })
}
