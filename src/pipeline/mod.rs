//! One answer's way through the stages: extract → format → compile → test → coverage.
//!
//! The unit is the attempt (one answer of a model to one case). Attempts are scored in
//! batches so the sandbox can build many answers at once; the stages stay a funnel per attempt.

pub mod extract;

use crate::sandbox::coverage::{self, CoverageQuery, LineCoverage};
use crate::sandbox::{BuildKind, BuildOutcome, Member, Sandbox};
use crate::suite::{Case, Stage};
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Diagnostics kept per stage, in lines: enough for a person or a repair prompt.
const DIAGNOSTIC_LINES: usize = 60;

/// An answer's code, ready to score against its case.
#[derive(Debug, Clone, Copy)]
pub struct Submission<'a> {
    pub code: &'a str,
    pub case: &'a Case,
}

/// How one stage went for one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct StageOutcome {
    pub stage: Stage,
    pub passed: bool,
    /// For batched work, this attempt's share of the batch's time.
    pub elapsed: Duration,
    pub detail: StageDetail,
    /// The first lines of what the tool said (rustfmt, rustc, the test harness).
    pub diagnostics: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StageDetail {
    Format {
        already_formatted: bool,
    },
    Compile {
        error_codes: Vec<String>,
        warnings: u32,
    },
    Test {
        passed: u32,
        total: u32,
    },
    Coverage {
        covered: u32,
        total: u32,
        ratio: f64,
        required: f64,
    },
}

/// Scores a batch of submissions; the result has one list of stage outcomes per submission,
/// in the order of the funnel, ending at the first stage that failed.
/// `on_stage(stage, n)` is told as each stage starts on its `n` attempts.
pub fn score(
    sandbox: &Sandbox,
    submissions: &[Submission],
    on_stage: &(dyn Fn(Stage, usize) + Sync),
) -> anyhow::Result<Vec<Vec<StageOutcome>>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(sandbox.jobs)
        .build()?;
    pool.install(|| Funnel::new(sandbox, submissions, on_stage).run())
}

struct Funnel<'a> {
    sandbox: &'a Sandbox,
    submissions: &'a [Submission<'a>],
    outcomes: Vec<Vec<StageOutcome>>,
    on_stage: &'a (dyn Fn(Stage, usize) + Sync),
}

impl<'a> Funnel<'a> {
    fn new(
        sandbox: &'a Sandbox,
        submissions: &'a [Submission<'a>],
        on_stage: &'a (dyn Fn(Stage, usize) + Sync),
    ) -> Self {
        Funnel {
            sandbox,
            submissions,
            outcomes: vec![Vec::new(); submissions.len()],
            on_stage,
        }
    }

    /// Submissions that passed every stage so far and have `stage` to run; tells `on_stage`.
    fn due(&self, stage: Stage) -> Vec<usize> {
        let due: Vec<usize> = (0..self.submissions.len())
            .filter(|&index| {
                self.submissions[index]
                    .case
                    .settings
                    .stages
                    .contains(&stage)
            })
            .filter(|&index| self.outcomes[index].iter().all(|outcome| outcome.passed))
            .collect();
        (self.on_stage)(stage, due.len());
        due
    }

    fn run(mut self) -> anyhow::Result<Vec<Vec<StageOutcome>>> {
        self.reject_empty();
        self.format()?;
        self.compile()?;
        let tested = self.test()?;
        self.coverage(tested);
        Ok(self.outcomes)
    }

    /// An answer without code fails its first stage, whichever that is: an empty file would
    /// otherwise compile.
    fn reject_empty(&mut self) {
        for (index, submission) in self.submissions.iter().enumerate() {
            let Some(&stage) = submission.case.settings.stages.first() else {
                continue;
            };
            if submission.code.trim().is_empty() {
                let detail = match stage {
                    Stage::Format => StageDetail::Format {
                        already_formatted: false,
                    },
                    Stage::Compile => StageDetail::Compile {
                        error_codes: Vec::new(),
                        warnings: 0,
                    },
                    Stage::Test | Stage::Coverage => StageDetail::Test {
                        passed: 0,
                        total: 0,
                    },
                };
                self.outcomes[index].push(StageOutcome {
                    stage,
                    passed: false,
                    elapsed: Duration::ZERO,
                    detail,
                    diagnostics: "the answer holds no code".to_owned(),
                });
            }
        }
    }

    fn format(&mut self) -> anyhow::Result<()> {
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

    /// The sandbox's view of a submission: its answer and, for test builds, the hidden tests.
    fn member(&self, index: usize, with_tests: bool) -> Member {
        let Submission { code, case } = self.submissions[index];
        let settings = &case.settings;
        Member {
            id: index,
            answer: code.to_owned(),
            tests: with_tests.then(|| case.tests.clone()),
            edition: settings.edition.clone(),
            dependencies: settings.dependencies.clone(),
            timeout: settings.timeout,
        }
    }

    fn compile(&mut self) -> anyhow::Result<()> {
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

    /// Builds and runs the hidden tests; returns the builds of the answers whose tests passed.
    fn test(&mut self) -> anyhow::Result<Vec<BuildOutcome>> {
        let due = self.due(Stage::Test);
        let needs_coverage = |index: &usize| {
            self.submissions[*index]
                .case
                .settings
                .stages
                .contains(&Stage::Coverage)
        };
        let (instrumented, plain): (Vec<usize>, Vec<usize>) =
            due.iter().partition(|index| needs_coverage(index));
        let mut builds = Vec::new();
        for (instrument, indices) in [(true, instrumented), (false, plain)] {
            let members: Vec<Member> = indices
                .iter()
                .map(|&index| self.member(index, true))
                .collect();
            builds.extend(
                self.sandbox
                    .build(BuildKind::Test { instrument }, &members)?,
            );
        }

        let mut listed: HashMap<PathBuf, Vec<String>> = HashMap::new();
        for executable in builds
            .iter()
            .filter_map(|b| b.compiled.as_ref()?.executable.clone())
        {
            if let std::collections::hash_map::Entry::Vacant(entry) = listed.entry(executable) {
                let tests = self
                    .sandbox
                    .list_tests(entry.key(), Duration::from_secs(30))?;
                entry.insert(tests);
            }
        }
        let runs: Vec<(BuildOutcome, StageOutcome)> = builds
            .into_par_iter()
            .map(|built| {
                let outcome = self.run_tests(&built, &listed)?;
                Ok((built, outcome))
            })
            .collect::<std::io::Result<_>>()?;
        let mut passed_builds = Vec::new();
        for (built, outcome) in runs {
            let index = built.member;
            if outcome.passed {
                passed_builds.push(built);
            }
            self.outcomes[index].push(outcome);
        }
        Ok(passed_builds)
    }

    fn run_tests(
        &self,
        built: &BuildOutcome,
        listed: &HashMap<PathBuf, Vec<String>>,
    ) -> std::io::Result<StageOutcome> {
        let settings = &self.submissions[built.member].case.settings;
        let compiled = built
            .compiled
            .as_ref()
            .and_then(|compiled| Some((compiled, compiled.executable.as_ref()?)));
        let Some((compiled, executable)) = compiled else {
            return Ok(StageOutcome {
                stage: Stage::Test,
                passed: false,
                elapsed: built.elapsed,
                detail: StageDetail::Test {
                    passed: 0,
                    total: 0,
                },
                diagnostics: trim(&format!(
                    "the hidden tests do not build against this answer:\n{}",
                    built.diagnostics
                )),
            });
        };
        let expected = listed
            .get(executable)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let run = self.sandbox.run_tests(
            executable,
            &compiled.test_filter,
            expected,
            &format!("case_{}", built.member),
            settings.timeout,
        )?;
        Ok(StageOutcome {
            stage: Stage::Test,
            passed: run.all_passed(),
            elapsed: built.elapsed + run.elapsed,
            detail: StageDetail::Test {
                passed: run.passed,
                total: run.total,
            },
            diagnostics: if run.total == 0 && !run.timed_out {
                "the hidden tests define no test that runs".to_owned()
            } else {
                // Say it as if the answer were the crate: no scratch paths or module prefixes.
                let output = run
                    .output
                    .replace(&compiled.source_file.display().to_string(), "src/lib.rs");
                let output = if compiled.test_filter.is_empty() {
                    output
                } else {
                    output.replace(&compiled.test_filter, "")
                };
                trim(&without_batch_artifacts(&output))
            },
        })
    }

    fn coverage(&mut self, tested: Vec<BuildOutcome>) {
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

/// libtest's summary says how many tests of *other* answers the filter skipped, and a time;
/// panic messages name a thread id. None says anything about this answer, and all would make
/// reports unstable from run to run.
fn without_batch_artifacts(output: &str) -> String {
    output
        .lines()
        .map(|line| match line.strip_prefix("test result: ") {
            None if line.starts_with("thread '") => without_thread_id(line),
            Some(summary) => {
                let kept: Vec<&str> = summary
                    .split("; ")
                    .filter(|part| {
                        !part.ends_with("filtered out") && !part.starts_with("finished in")
                    })
                    .collect();
                format!("test result: {}", kept.join("; "))
            }
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `thread 'tests::a' (4242) panicked at …` → `thread 'tests::a' panicked at …`.
fn without_thread_id(line: &str) -> String {
    let Some(open) = line.find("' (") else {
        return line.to_owned();
    };
    let rest = &line[open + 3..];
    match rest.find(") ") {
        Some(close) if rest[..close].bytes().all(|b| b.is_ascii_digit()) => {
            format!("{}' {}", &line[..open], &rest[close + 2..])
        }
        _ => line.to_owned(),
    }
}

/// The first lines of a tool's output, with a note of how much was left out.
pub fn trim(text: &str) -> String {
    let lines: Vec<&str> = text.trim().lines().collect();
    if lines.len() <= DIAGNOSTIC_LINES {
        return lines.join("\n");
    }
    format!(
        "{}\n... ({} more lines)",
        lines[..DIAGNOSTIC_LINES].join("\n"),
        lines.len() - DIAGNOSTIC_LINES
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_output_loses_what_batching_and_threads_put_in_it() {
        let output = "thread 'tests::a' (4242) panicked at src/lib.rs:3:9:\ntest result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 40 filtered out; finished in 0.01s";
        assert_eq!(
            without_batch_artifacts(output),
            "thread 'tests::a' panicked at src/lib.rs:3:9:\ntest result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured"
        );
    }

    #[test]
    fn a_thread_name_with_parentheses_is_left_alone() {
        let line = "thread 'tests::odd (x) name' panicked at src/lib.rs:1:1:";
        assert_eq!(without_thread_id(line), line);
    }

    #[test]
    fn an_answer_without_code_fails_its_first_stage_even_without_format() {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = Sandbox::open(dir.path(), 1).unwrap();
        let mut case = crate::suite::parse(
            std::path::Path::new("s.yaml"),
            "cases:\n  - id: a\n    prompt: p\n    reference: r\n    tests: \"#[test] fn t() {}\"\n",
        )
        .unwrap()
        .cases
        .remove(0);
        case.settings.stages = vec![Stage::Compile, Stage::Test];
        let submissions = [Submission {
            code: "  \n",
            case: &case,
        }];
        let outcomes = score(&sandbox, &submissions, &|_, _| {}).unwrap();
        assert_eq!(outcomes[0].len(), 1);
        assert_eq!(
            (outcomes[0][0].stage, outcomes[0][0].passed),
            (Stage::Compile, false)
        );
    }

    #[test]
    fn long_diagnostics_are_trimmed_with_a_count() {
        let text: String = (0..100).map(|n| format!("line {n}\n")).collect();
        let trimmed = trim(&text);
        assert_eq!(trimmed.lines().count(), DIAGNOSTIC_LINES + 1);
        assert!(trimmed.ends_with("... (40 more lines)"));
    }
}
