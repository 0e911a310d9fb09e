//! The test stage: the hidden tests built against each answer, then run apart for each answer.

use super::{trim, Funnel, StageDetail, StageOutcome, TESTS_DO_NOT_BUILD};
use crate::sandbox::{BuildKind, BuildOutcome, Member};
use crate::suite::Stage;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

impl Funnel<'_> {
    /// Builds and runs the hidden tests; returns the builds of the answers whose tests passed.
    pub(super) fn test(&mut self) -> anyhow::Result<Vec<BuildOutcome>> {
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

        // One listing per test binary, the binaries listed side by side.
        let executables: HashSet<PathBuf> = builds
            .iter()
            .filter_map(|b| b.compiled.as_ref()?.executable.clone())
            .collect();
        let listed: HashMap<PathBuf, Vec<String>> = executables
            .into_par_iter()
            .map(|executable| {
                let tests = self
                    .sandbox
                    .list_tests(&executable, Duration::from_secs(30))?;
                Ok((executable, tests))
            })
            .collect::<std::io::Result<_>>()?;
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
                diagnostics: trim(&format!("{TESTS_DO_NOT_BUILD}\n{}", built.diagnostics)),
            });
        };
        // The listing comes from a binary that holds every answer of the chunk, and any of
        // them can print made-up names before `main`: only names the trusted hidden tests
        // define are run.
        let hidden_tests = &self.submissions[built.member].case.tests;
        let expected: Vec<String> = listed
            .get(executable)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|name| defines_test(hidden_tests, name))
            .cloned()
            .collect();
        let run = self.sandbox.run_tests(
            executable,
            &compiled.test_filter,
            &expected,
            &format!("case_{}", built.member),
            settings.timeout,
            crate::sandbox::Limits {
                memory_bytes: settings.limits.memory_bytes,
                file_bytes: settings.limits.file_bytes,
                // The sandbox makes CPU time follow the timeout.
                cpu_seconds: settings.timeout.as_secs() + 1,
                processes: settings.limits.processes,
                output_bytes: usize::try_from(settings.limits.output_bytes).unwrap_or(usize::MAX),
            },
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
                    .replace(&compiled.source_file.display().to_string(), "src/lib.rs")
                    .replace(&compiled.hidden_file.display().to_string(), "src/tests.rs");
                let output = if compiled.test_filter.is_empty() {
                    output
                } else {
                    output.replace(&compiled.test_filter, "")
                };
                trim(&with_assertion_source(
                    &without_batch_artifacts(&output),
                    hidden_tests,
                ))
            },
        })
    }
}

/// Whether the hidden tests' text defines a function by the listed test's last name.
fn defines_test(hidden_tests: &str, listed_name: &str) -> bool {
    let name = listed_name.rsplit("::").next().unwrap_or(listed_name);
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    hidden_tests.match_indices(name).any(|(at, _)| {
        let before = hidden_tests[..at].trim_end();
        let after = hidden_tests[at + name.len()..].chars().next();
        before.ends_with("fn")
            && !before[..before.len() - 2].ends_with(is_ident)
            && !after.is_some_and(is_ident)
    })
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

/// Each panic inside the hidden tests named after the test it happened in (with panic=abort
/// tests every test runs as the `main` thread of a process of its own), and under it the line
/// of the tests that panicked, as rustc quotes source: the message alone says `left` and
/// `right` but not what was called.
fn with_assertion_source(output: &str, hidden_tests: &str) -> String {
    const AT_TESTS: &str = " panicked at src/tests.rs:";
    let failed: Vec<&str> = output
        .lines()
        .filter_map(|line| line.strip_prefix("test ")?.strip_suffix(" ... FAILED"))
        .collect();
    let tests: Vec<&str> = hidden_tests.lines().collect();
    let mut shown = String::with_capacity(output.len());
    for line in output.lines() {
        let Some(at) = line.find(AT_TESTS) else {
            shown.push_str(line);
            shown.push('\n');
            continue;
        };
        let location = &line[at + AT_TESTS.len()..];
        let number = location
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|number| number.parse::<usize>().ok())
            .filter(|&number| (1..=tests.len()).contains(&number));
        let Some(number) = number else {
            shown.push_str(line);
            shown.push('\n');
            continue;
        };
        let test = enclosing_function(&tests[..number]).and_then(|name| {
            failed
                .iter()
                .find(|full| **full == name || full.ends_with(&format!("::{name}")))
        });
        match test {
            Some(test) => shown.push_str(&format!("test {test}{}", &line[at..])),
            None => shown.push_str(line),
        }
        shown.push('\n');
        shown.push_str(&format!("{number:>4} | {}\n", tests[number - 1].trim_end()));
    }
    shown.trim_end().to_owned()
}

/// The name of the last function declared in `lines` (`fn name(`): the test a line is in.
fn enclosing_function(lines: &[&str]) -> Option<String> {
    lines.iter().rev().find_map(|line| {
        let (_, after) = line.split_once("fn ")?;
        let name: String = after
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        (!name.is_empty()
            && after.trim_start()[name.len()..]
                .trim_start()
                .starts_with(['(', '<']))
        .then_some(name)
    })
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

#[cfg(test)]
mod tests {
    #[test]
    fn only_names_the_hidden_tests_define_are_run() {
        let hidden = "#[test]\nfn adds_small() { }\n#[test] fn  signs() {}\nfn helperfn_x() {}";
        assert!(super::defines_test(
            hidden,
            "case_3::__hidden::tests::adds_small"
        ));
        assert!(super::defines_test(hidden, "tests::signs"));
        // Made up by an answer, or only a prefix or suffix of a real name.
        assert!(!super::defines_test(hidden, "case_3::tests::adds"));
        assert!(!super::defines_test(hidden, "case_3::tests::forged"));
        assert!(!super::defines_test(hidden, "tests::x"));
    }

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
    fn a_panic_in_the_hidden_tests_names_its_test_and_quotes_the_assertion() {
        let tests = "#[cfg(test)]\nmod tests {\n    #[test]\n    fn zero() {\n        assert_eq!(sign(0), \"zero\");\n    }\n}";
        let output = "thread 'main' panicked at src/tests.rs:5:9:\nassertion `left == right` failed\nthread 'main' panicked at src/lib.rs:2:5:\nboom\ntest tests::zero ... FAILED";
        assert_eq!(
            with_assertion_source(output, tests),
            "test tests::zero panicked at src/tests.rs:5:9:\n   5 |         assert_eq!(sign(0), \"zero\");\nassertion `left == right` failed\nthread 'main' panicked at src/lib.rs:2:5:\nboom\ntest tests::zero ... FAILED"
        );
    }

    #[test]
    fn a_panic_past_the_end_of_the_tests_is_left_as_it_was() {
        let output = "thread 'main' panicked at src/tests.rs:99:1:\nboom";
        assert_eq!(with_assertion_source(output, "fn t() {}"), output);
    }

    #[test]
    fn a_thread_name_with_parentheses_is_left_alone() {
        let line = "thread 'tests::odd (x) name' panicked at src/lib.rs:1:1:";
        assert_eq!(without_thread_id(line), line);
    }
}
