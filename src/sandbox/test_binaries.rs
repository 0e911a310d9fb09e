//! Runs test binaries: one answer's tests in their own confined process, parsed from libtest
//! output.

use super::process::{self, Job, Limits, Stop, View};
use super::Sandbox;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Limits for listing a binary's tests: libtest only prints names, but the answer's code is
/// in the binary (the limits of the test runs themselves come from the suite).
const LISTING_LIMITS: Limits = Limits {
    memory_bytes: 1 << 30,
    file_bytes: 1 << 20,
    cpu_seconds: 30,
    processes: 16,
    output_bytes: 16 << 20,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRun {
    /// Listed tests reported passing, each counted once.
    pub passed: u32,
    pub total: u32,
    pub timed_out: bool,
    /// The process ended by itself, successfully, after libtest's closing summary.
    pub completed: bool,
    /// Failure output (panics, assertion messages), trimmed by the caller.
    pub output: String,
    pub elapsed: Duration,
    /// The coverage profile written by an instrumented binary.
    pub profile: Option<PathBuf>,
    /// The limit or signal that stopped the test process, if one did.
    pub stop: Option<Stop>,
}

impl TestRun {
    pub fn all_passed(&self) -> bool {
        self.completed && self.total > 0 && self.passed == self.total
    }
}

impl Sandbox {
    /// Lists the tests of a binary that will run (not `#[ignore]`d), so a crash or timeout
    /// still knows how many there were.
    pub fn list_tests(&self, executable: &Path, timeout: Duration) -> std::io::Result<Vec<String>> {
        let list = |ignored: bool| -> std::io::Result<Vec<String>> {
            let runs = self.scratch_dir("runs")?;
            let confined = self.untrusted(
                View::Runtime,
                LISTING_LIMITS,
                vec![runs.clone()],
                vec![executable.to_owned()],
            );
            let mut job = Job::new(executable, &runs, timeout)
                .args(["--list", "--format", "terse"])
                .untrusted(confined);
            if ignored {
                job = job.arg("--ignored");
            }
            Ok(process::run(&job)?
                .stdout
                .lines()
                .filter_map(|line| line.strip_suffix(": test"))
                .map(str::to_owned)
                .collect())
        };
        let ignored = list(true)?;
        Ok(list(false)?
            .into_iter()
            .filter(|name| !ignored.contains(name))
            .collect())
    }

    /// Runs the tests selected by `filter` in a fresh process with a clean environment.
    pub fn run_tests(
        &self,
        executable: &Path,
        filter: &str,
        expected: &[String],
        run_name: &str,
        timeout: Duration,
        limits: Limits,
    ) -> std::io::Result<TestRun> {
        let run_dir = self.scratch_dir(&format!("runs/{run_name}"))?;
        let profile = run_dir.join("coverage.profraw");
        let _ = std::fs::remove_file(&profile);
        // Each test runs in a process of its own; `%m` has them all merge into one profile.
        let merged_profile = run_dir.join("coverage-%m.profraw");
        let confined = self.untrusted(
            View::Runtime,
            Limits {
                cpu_seconds: timeout.as_secs() + 1,
                ..limits
            },
            vec![run_dir.clone()],
            vec![executable.to_owned()],
        );
        // The binary is built with panic=abort tests: libtest runs each test in a child
        // process and decides pass or fail from the child's exit status, so its own exit status
        // — 0 only when every test it ran passed — is the one result the answer cannot write.
        // `--nocapture` lets the children's output reach our capped pipe, so an answer that
        // prints without end meets the output limit. With two threads libtest prints each
        // result line whole, after the test's child ended.
        let mut job = Job::new(executable, &run_dir, timeout)
            .args(["--test-threads", "2", "--color", "never", "--nocapture"])
            .env("RUST_BACKTRACE", "0")
            .env("LLVM_PROFILE_FILE", &merged_profile)
            .untrusted(confined);
        // Exactly the answer's tests, by name: a prefix filter could pick up tests an answer
        // names after its neighbours' modules.
        let selected: HashSet<&str> = expected
            .iter()
            .filter(|name| name.starts_with(filter))
            .map(String::as_str)
            .collect();
        if selected.is_empty() {
            return Ok(TestRun {
                passed: 0,
                total: 0,
                timed_out: false,
                completed: false,
                output: String::new(),
                elapsed: Duration::ZERO,
                profile: None,
                stop: None,
            });
        }
        let mut names: Vec<&str> = selected.iter().copied().collect();
        names.sort_unstable();
        job = job.arg("--exact").args(names);
        let finished = process::run(&job)?;
        // Only listed tests count, each once, and a test libtest reports FAILED does not count
        // whatever an answer printed about it: the children write to the same pipe.
        let result_lines = |verdict: &'static str| {
            finished
                .stdout
                .lines()
                .filter_map(move |line| line.strip_prefix("test ")?.strip_suffix(verdict))
                .map(|name| name.strip_suffix(" - should panic").unwrap_or(name))
                .filter(|name| selected.contains(name))
        };
        let failed_names: HashSet<&str> = result_lines(" ... FAILED").collect();
        let passed_names: HashSet<&str> = result_lines(" ... ok")
            .filter(|name| !failed_names.contains(name))
            .collect();
        let passed = passed_names.len() as u32;
        let total = selected.len() as u32;
        // The exit status is the verdict: libtest exits 0 only when every test passed.
        let completed = finished.success();
        let mut output = String::new();
        if !(completed && passed == total) {
            // Panic messages go to stderr; they say most, so they come first, then what the
            // tests printed and their results, without libtest's empty capture sections.
            let mut stdout: Vec<&str> = finished
                .stdout
                .lines()
                .filter(|line| {
                    let boilerplate = line.trim().is_empty()
                        || line.starts_with("running ")
                        || line.starts_with("failures:")
                        || (line.starts_with("---- ") && line.ends_with(" ----"))
                        || line
                            .strip_prefix("    ")
                            .is_some_and(|name| selected.contains(name));
                    !boilerplate
                })
                .collect();
            // Two tests run at once, so result lines come in either order; sorted, reports
            // stay the same from run to run (the summary, `test result:`, sorts last).
            stdout.sort_by_key(|line| (line.starts_with("test result:"), *line));
            output = format!("{}\n{}", finished.stderr.trim(), stdout.join("\n"))
                .trim()
                .to_owned();
        }
        if finished.timed_out() {
            let mut unfinished: Vec<&str> = selected.difference(&passed_names).copied().collect();
            unfinished.sort_unstable();
            output = format!(
                "timeout: the tests timed out after {}s; unfinished: {}\n{output}",
                timeout.as_secs(),
                unfinished.join(", ").replace(filter, ""),
            );
        } else if let Some(stop) = finished.stop.filter(|_| !completed) {
            output = format!("the test process was stopped: {stop}\n{output}");
        }
        gather_profile(&run_dir, &profile)?;
        Ok(TestRun {
            completed,
            passed,
            total: total.max(passed),
            timed_out: finished.timed_out(),
            output,
            elapsed: finished.elapsed,
            profile: profile.exists().then_some(profile),
            stop: finished.stop,
        })
    }
}

/// Renames the merged profile the run's processes wrote to `profile`, if there is one.
fn gather_profile(run_dir: &Path, profile: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(run_dir)? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with("coverage-") && name.ends_with(".profraw") {
            return std::fs::rename(&path, profile);
        }
    }
    Ok(())
}
