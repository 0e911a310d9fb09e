//! The format stage: rustfmt must parse the answer; whether it was already formatted is noted.
//! All answers due go to the sandbox at once, which batches them into few rustfmt processes.

use super::{trim, Funnel, StageDetail, StageOutcome, Submission};
use crate::sandbox::format::FormatRequest;
use crate::suite::Stage;

impl Funnel<'_> {
    pub(super) fn format(&mut self) -> anyhow::Result<()> {
        let due = self.due(Stage::Format);
        let requests: Vec<FormatRequest> = due
            .iter()
            .map(|&index| {
                let Submission { code, case } = self.submissions[index];
                FormatRequest {
                    code,
                    edition: &case.settings.edition,
                    timeout: case.settings.timeout,
                }
            })
            .collect();
        let verdicts = self.sandbox.rustfmt_all(&requests)?;
        for (index, formatted) in due.into_iter().zip(verdicts) {
            self.outcomes[index].push(StageOutcome {
                stage: Stage::Format,
                passed: formatted.accepted,
                elapsed: formatted.elapsed,
                detail: StageDetail::Format {
                    already_formatted: formatted.already_formatted,
                },
                diagnostics: trim(&formatted.diagnostics),
            });
        }
        Ok(())
    }
}
