//! The format stage: rustfmt must parse the answer; whether it was already formatted is noted.

use super::{trim, Funnel, StageDetail, StageOutcome, Submission};
use crate::suite::Stage;
use rayon::prelude::*;
use std::time::Instant;

impl Funnel<'_> {
    pub(super) fn format(&mut self) -> anyhow::Result<()> {
        let due = self.due(Stage::Format);
        let results: Vec<(usize, StageOutcome)> = due
            .par_iter()
            .map(|&index| {
                let Submission { code, case } = self.submissions[index];
                let started = Instant::now();
                let formatted =
                    self.sandbox
                        .rustfmt(code, &case.settings.edition, case.settings.timeout)?;
                Ok((
                    index,
                    StageOutcome {
                        stage: Stage::Format,
                        passed: formatted.accepted,
                        elapsed: started.elapsed(),
                        detail: StageDetail::Format {
                            already_formatted: formatted.already_formatted,
                        },
                        diagnostics: trim(&formatted.diagnostics),
                    },
                ))
            })
            .collect::<std::io::Result<_>>()?;
        for (index, outcome) in results {
            self.outcomes[index].push(outcome);
        }
        Ok(())
    }
}
