//! The coverage stage: the share of the answer's lines its passing hidden tests run.

use super::{Funnel, StageDetail, StageOutcome};
use crate::sandbox::coverage::{self, CoverageQuery, LineCoverage};
use crate::sandbox::BuildOutcome;
use crate::suite::Stage;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

impl Funnel<'_> {
    pub(super) fn coverage(&mut self, tested: Vec<BuildOutcome>) {
        let due: HashSet<usize> = self.due(Stage::Coverage).into_iter().collect();
        let mut by_binary: HashMap<PathBuf, Vec<(usize, PathBuf)>> = HashMap::new();
        for built in tested.iter().filter(|built| due.contains(&built.member)) {
            let Some(compiled) = &built.compiled else {
                continue;
            };
            if let Some(executable) = &compiled.executable {
                by_binary
                    .entry(executable.clone())
                    .or_default()
                    .push((built.member, compiled.source_file.clone()));
            }
        }
        let results: Vec<Vec<(usize, StageOutcome)>> = by_binary
            .into_par_iter()
            .map(|(binary, members)| self.measure(&binary, &members))
            .collect();
        for (index, outcome) in results.into_iter().flatten() {
            self.outcomes[index].push(outcome);
        }
    }

    fn measure(
        &self,
        binary: &std::path::Path,
        members: &[(usize, PathBuf)],
    ) -> Vec<(usize, StageOutcome)> {
        let started = Instant::now();
        let profiles: Vec<PathBuf> = members
            .iter()
            .map(|(index, _)| {
                self.sandbox
                    .root
                    .join(format!("runs/case_{index}/coverage.profraw"))
            })
            .collect();
        let queries: Vec<CoverageQuery> = members
            .iter()
            .map(|(index, source_file)| CoverageQuery {
                source_file,
                answer_lines: self.submissions[*index].code.trim_end().lines().count(),
                source: self.submissions[*index].code,
            })
            .collect();
        let measured: Vec<Result<LineCoverage, String>> =
            match coverage::measure(binary, &profiles, &queries) {
                Ok(lines) => lines.into_iter().map(Ok).collect(),
                // One unreadable profile must not cost its neighbours their coverage.
                Err(_) if members.len() > 1 => profiles
                    .iter()
                    .zip(&queries)
                    .map(|(profile, query)| {
                        coverage::measure(
                            binary,
                            std::slice::from_ref(profile),
                            std::slice::from_ref(query),
                        )
                        .map(|lines| lines[0])
                        .map_err(|error| format!("{error:#}"))
                    })
                    .collect(),
                Err(error) => vec![Err(format!("{error:#}"))],
            };
        let share = started.elapsed() / members.len().max(1) as u32;
        members
            .iter()
            .enumerate()
            .map(|(position, (index, _))| {
                let required = self.submissions[*index].case.settings.coverage;
                let outcome = match &measured[position] {
                    Ok(line_coverage) => {
                        let line_coverage = *line_coverage;
                        let ratio = line_coverage.ratio();
                        StageOutcome {
                            stage: Stage::Coverage,
                            passed: ratio + 1e-9 >= required,
                            elapsed: share,
                            detail: StageDetail::Coverage { covered: line_coverage.covered, total: line_coverage.total, ratio, required },
                            diagnostics: if ratio + 1e-9 >= required {
                                String::new()
                            } else {
                                format!("the hidden tests cover {} of {} lines ({:.0}%), below the bar of {:.0}%", line_coverage.covered, line_coverage.total, ratio * 100.0, required * 100.0)
                            },
                        }
                    }
                    Err(error) => StageOutcome {
                        stage: Stage::Coverage,
                        passed: false,
                        elapsed: share,
                        detail: StageDetail::Coverage { covered: 0, total: 0, ratio: 0.0, required },
                        diagnostics: format!("cannot read the coverage profile: {error}"),
                    },
                };
                (*index, outcome)
            })
            .collect()
    }
}
