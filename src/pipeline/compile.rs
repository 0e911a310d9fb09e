//! The compile stage: `cargo check` of each answer alone, batched by the sandbox.

use super::{trim, Funnel, StageDetail, StageOutcome};
use crate::sandbox::{BuildKind, Member};
use crate::suite::Stage;

impl Funnel<'_> {
    pub(super) fn compile(&mut self) -> anyhow::Result<()> {
        let members: Vec<Member> = self
            .due(Stage::Compile)
            .into_iter()
            .map(|index| self.member(index, false))
            .collect();
        for built in self.sandbox.build(BuildKind::Check, &members)? {
            let passed = built.compiled.is_some();
            self.outcomes[built.member].push(StageOutcome {
                stage: Stage::Compile,
                passed,
                elapsed: built.elapsed,
                detail: StageDetail::Compile {
                    error_codes: built.error_codes,
                    warnings: built.warnings,
                },
                diagnostics: trim(&built.diagnostics),
            });
        }
        Ok(())
    }
}
