//! Runs test binaries: one answer's tests in their own confined process, parsed from libtest
//! output.

use super::process::{self, Job, Limits, Stop};
use super::Sandbox;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Limits for test processes unless a suite or case sets its own: generous for honest code,
/// fatal for runaway code. CPU time is always the stage's timeout.
pub const DEFAULT_TEST_LIMITS: Limits = Limits {
    memory_bytes: 2 << 30,
    file_bytes: 64 << 20,
    cpu_seconds: 600,
    processes: 64,
    output_bytes: 1 << 20,
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
                DEFAULT_TEST_LIMITS,
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
        let confined = self.untrusted(
            Limits {
                cpu_seconds: timeout.as_secs() + 1,
                ..limits
            },
            vec![run_dir.clone()],
            vec![executable.to_owned()],
        );
        let mut job = Job::new(executable, &run_dir, timeout)
            // With one thread libtest prints `test NAME ... ` before a test runs, and an answer
            // could finish that line with a forged `ok`; with two it prints each line whole,
            // after the test returned.
            .args(["--test-threads", "2", "--color", "never"])
            .env("RUST_BACKTRACE", "0")
            .env("LLVM_PROFILE_FILE", &profile)
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
        // Only listed tests count, each once: an answer that writes its own "test … ok" lines
        // past libtest's capture must at least know the hidden tests' names.
        let passed_names: HashSet<&str> = finished
            .stdout
            .lines()
            .filter_map(|line| line.strip_prefix("test ")?.strip_suffix(" ... ok"))
            .map(|name| name.strip_suffix(" - should panic").unwrap_or(name))
            .filter(|name| selected.contains(name))
            .collect();
        let passed = passed_names.len() as u32;
        let total = selected.len() as u32;
        // libtest prints its summary only after the last test returns, so an answer that ends
        // the process early (`std::process::exit(0)`) leaves none.
        let completed = finished.success()
            && finished
                .stdout
                .lines()
                .any(|line| line.starts_with("test result: ok."));
        let mut output = String::new();
        if let Some(failures) = finished.stdout.find("\nfailures:\n") {
            output.push_str(finished.stdout[failures..].trim());
        }
        if output.is_empty() && !(completed && passed == total) {
            output = format!("{}\n{}", finished.stdout.trim(), finished.stderr.trim());
        }
        if finished.timed_out() {
            let mut unfinished: Vec<&str> = selected.difference(&passed_names).copied().collect();
            unfinished.sort_unstable();
            output = format!(
                "timeout: the tests ran past {}s; unfinished: {}\n{output}",
                timeout.as_secs(),
                unfinished.join(", ").replace(filter, "")
            );
        } else if let Some(stop) = finished.stop.filter(|_| !completed) {
            output = format!("the test process was stopped: {stop}\n{output}");
        }
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
