//! One answer's way through the stages: extract → format → compile → test → coverage.
//!
//! The unit is the attempt (one answer of a model to one case). Attempts are scored in
//! batches so the sandbox can build many answers at once; the stages stay a funnel per attempt.
//! This file holds the funnel; each stage lives in the file named after it.

mod compile;
mod coverage;
pub mod extract;
pub mod feedback;
mod format;
mod test;

use crate::sandbox::{Member, Sandbox};
use crate::suite::{Case, Stage};
use std::time::Duration;

/// Diagnostics kept per stage, in lines: enough for a person or a repair prompt.
const DIAGNOSTIC_LINES: usize = 60;

/// The diagnostics of an answer that held no code.
const NO_CODE: &str = "the answer holds no code";

/// How the test stage's diagnostics open when the hidden tests do not build against an answer.
const TESTS_DO_NOT_BUILD: &str = "the hidden tests do not build against this answer:";

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
        // An interruption or a suite's unfetchable dependency arrives inside an io::Error;
        // callers find it with `downcast_ref::<sandbox::Interrupted>()` and the like.
        .map_err(crate::sandbox::surface_typed_error)
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
                    diagnostics: NO_CODE.to_owned(),
                });
            }
        }
    }

    /// The sandbox's view of a submission: its answer and, for test builds, the hidden tests.
    pub(super) fn member(&self, index: usize, with_tests: bool) -> Member {
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
}

/// The first lines of a tool's output, with a note of how much was left out. The cut falls
/// between two messages (blank-line separated, as rustc's are) when one ends within the limit,
/// so no error is kept half.
pub fn trim(text: &str) -> String {
    let lines: Vec<&str> = text.trim().lines().collect();
    if lines.len() <= DIAGNOSTIC_LINES {
        return lines.join("\n");
    }
    let cut = (1..=DIAGNOSTIC_LINES)
        .rev()
        .find(|&at| lines[at].trim().is_empty())
        .unwrap_or(DIAGNOSTIC_LINES);
    format!(
        "{}\n... ({} more lines)",
        lines[..cut].join("\n").trim_end(),
        lines.len() - cut
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn tests_an_answer_writes_itself_do_not_change_which_tests_run() {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = Sandbox::open(dir.path(), 1).unwrap();
        let mut case = crate::suite::parse(
            std::path::Path::new("s.yaml"),
            "cases:\n  - id: a\n    prompt: p\n    reference: r\n    tests: |\n      #[cfg(test)]\n      mod tests {\n          use super::*;\n          #[test]\n          fn zero_is_zero() { assert_eq!(sign(0), \"zero\"); }\n      }\n",
        )
        .unwrap()
        .cases
        .remove(0);
        case.settings.stages = vec![Stage::Compile, Stage::Test];
        // Wrong for zero, with passing look-alikes of the hidden test in and outside `mod tests`.
        let answer = "pub fn sign(n: i32) -> &'static str { if n < 0 { \"negative\" } else { \"positive\" } }\n#[test]\nfn zero_is_zero() {}\nmod tests {\n    #[test]\n    fn zero_is_zero() {}\n}\n";
        let submissions = [Submission {
            code: answer,
            case: &case,
        }];
        let outcomes = score(&sandbox, &submissions, &|_, _| {}).unwrap();
        let test = outcomes[0].last().unwrap();
        assert_eq!(
            (test.stage, test.passed, &test.detail),
            (
                Stage::Test,
                false,
                &StageDetail::Test {
                    passed: 0,
                    total: 1
                }
            ),
            "{}",
            test.diagnostics
        );
        assert!(
            test.diagnostics.contains("right: \"zero\""),
            "{}",
            test.diagnostics
        );
    }

    #[test]
    fn tests_that_do_not_build_point_at_the_answers_own_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = Sandbox::open(dir.path(), 1).unwrap();
        let mut case = crate::suite::parse(
            std::path::Path::new("s.yaml"),
            "cases:\n  - id: a\n    prompt: p\n    reference: r\n    tests: |\n      #[test]\n      fn adds() { assert_eq!(add(1, 2), 3); }\n",
        )
        .unwrap()
        .cases
        .remove(0);
        case.settings.stages = vec![Stage::Compile, Stage::Test];
        let submissions = [Submission {
            code: "pub fn add(a: i32) -> i32 {\n    a\n}\n",
            case: &case,
        }];
        let outcomes = score(&sandbox, &submissions, &|_, _| {}).unwrap();
        let test = &outcomes[0].last().unwrap().diagnostics;
        assert!(test.starts_with(TESTS_DO_NOT_BUILD), "{test}");
        assert!(test.contains("--> src/tests.rs:2:"), "{test}");
        assert!(test.contains("--> src/lib.rs:1:8"), "{test}");
        assert!(test.contains("1 | pub fn add(a: i32) -> i32 {"), "{test}");
        assert!(!test.contains("llm_bench_hidden"), "{test}");
    }

    #[test]
    fn long_diagnostics_are_cut_between_two_messages() {
        let error: String = (0..25).map(|n| format!("line {n}\n")).collect();
        let text = [error.as_str(); 4].join("\n");
        let trimmed = trim(&text);
        // Two whole errors of 25 lines and the blank line between them fit in 60 lines.
        assert_eq!(trimmed.lines().count(), 51 + 1);
        assert!(
            trimmed.ends_with("line 24\n... (52 more lines)"),
            "{trimmed}"
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
