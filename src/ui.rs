//! The only module that knows the terminal: runner events become progress bars on stderr.

use crate::runner::Event;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Progress for one run; draws nothing when stderr is not a terminal or progress is off.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new(enabled: bool) -> Progress {
        let visible = enabled && std::io::stderr().is_terminal();
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        let plain = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        let template = if plain {
            "{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})"
        } else {
            "{prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len} {msg} ({elapsed})"
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("the template is valid")
                .progress_chars("=> "),
        );
        Progress { bar }
    }

    pub fn handle(&self, event: Event) {
        match event {
            Event::RoundStarted { round, attempts } => {
                self.bar.set_prefix(if round == 0 {
                    "answers".to_owned()
                } else {
                    format!("repairs {round}")
                });
                self.bar.set_length(attempts as u64);
                self.bar.set_position(0);
                self.bar.set_message("generating");
            }
            Event::Generated { model, case } => {
                self.bar.inc(1);
                self.bar.set_message(format!("{model} {case}"));
            }
            Event::StageStarted { stage, attempts } => {
                self.bar.set_message(format!("{stage}: {attempts} answers"));
            }
            Event::RoundScored {
                round,
                attempts,
                passed,
            } => {
                let label = if round == 0 {
                    "answers".to_owned()
                } else {
                    format!("repair round {round}")
                };
                self.bar.println(format!(
                    "{label}: {passed} of {attempts} passed every stage"
                ));
            }
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
