//! Running cargo on a generated workspace: dependencies fetched as trusted work, then every
//! build confined, offline, with the limits below.

use super::chunks::Chunk;
use super::workspace::write_workspace;
use super::{BuildKind, Member, UnresolvedDependencies};
use crate::sandbox::process::{self, Job, Limits, View};
use crate::sandbox::Sandbox;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The most of cargo's output kept: far more than any real build prints.
const CARGO_OUTPUT_CAP: usize = 512 << 20;

/// Dependencies get this long to download and build before any answer is compiled.
const DEPENDENCY_TIMEOUT: Duration = Duration::from_secs(900);

/// Limits of a confined cargo build. Memory, CPU and file size hold for each process of the
/// build — each rustc on its own, so an answer whose compile never ends or asks for a huge
/// constant fails alone, with CPU time standing in for a per-compile timeout.
fn build_limits(cpu_per_compile: Duration, jobs: usize) -> Limits {
    Limits {
        memory_bytes: 8 << 30,
        file_bytes: 4 << 30,
        cpu_seconds: cpu_per_compile.as_secs().max(10),
        // cargo's threads, each rustc's and linker's: generous, but no fork storm.
        processes: 256 + 64 * jobs as u32,
        output_bytes: CARGO_OUTPUT_CAP,
    }
}

impl Sandbox {
    /// Fetches a set of dependencies (trusted: our manifest, crates.io) and builds them
    /// confined on their own, so the first run's downloads and builds do not count against
    /// any answer's timeout.
    pub(super) fn build_dependencies(
        &self,
        kind: BuildKind,
        dependencies: &BTreeMap<String, String>,
        workspace: &Path,
        target_dir: &Path,
    ) -> std::io::Result<()> {
        if dependencies.is_empty() {
            return Ok(());
        }
        let placeholder = Member {
            id: 0,
            answer: String::new(),
            tests: None,
            edition: "2021".to_owned(),
            dependencies: dependencies.clone(),
            timeout: DEPENDENCY_TIMEOUT,
        };
        let chunk = Chunk {
            name: "dependencies".to_owned(),
            members: vec![&placeholder],
            at_root: true,
        };
        write_workspace(workspace, &[chunk])?;
        let fetch = Job::new(self.cargo(), workspace, DEPENDENCY_TIMEOUT)
            .envs(self.build_env())
            .args(["fetch", "--quiet"]);
        let fetched = process::run(&fetch)?;
        if !fetched.success() {
            return Err(std::io::Error::other(UnresolvedDependencies {
                dependencies: dependencies
                    .iter()
                    .map(|(name, version)| format!("{name} = \"{version}\""))
                    .collect(),
                cargo_says: fetched
                    .stderr
                    .lines()
                    .filter(|line| !line.trim().is_empty())
                    .take(12)
                    .collect::<Vec<_>>()
                    .join("\n"),
            }));
        }
        process::run(&self.cargo_job(
            kind,
            workspace,
            target_dir,
            DEPENDENCY_TIMEOUT,
            DEPENDENCY_TIMEOUT,
        )?)?;
        Ok(())
    }

    /// The confined cargo build of a workspace; `cpu_per_compile` bounds each rustc, `wall`
    /// the whole build.
    pub(super) fn cargo_job(
        &self,
        kind: BuildKind,
        workspace: &Path,
        target_dir: &Path,
        cpu_per_compile: Duration,
        wall: Duration,
    ) -> std::io::Result<Job> {
        let untrusted = self.untrusted(
            View::Toolchain,
            build_limits(cpu_per_compile, self.jobs),
            vec![workspace.to_owned(), target_dir.to_owned()],
            Vec::new(),
        );
        std::fs::create_dir_all(target_dir)?;
        let mut job = Job::new(self.cargo(), workspace, wall)
            .envs(self.build_env())
            .env("CARGO_TARGET_DIR", target_dir)
            .untrusted(untrusted);
        // `cargo test --no-run` has no `--keep-going`; `cargo build --tests` builds the same
        // test harnesses and has.
        job = match kind {
            BuildKind::Check => job.args(["check", "--lib"]),
            BuildKind::Test { .. } => job.args(["build", "--tests"]),
        };
        if let BuildKind::Test { instrument } = kind {
            // The answer must not be able to forge its tests' results. With panic=abort tests,
            // libtest runs each test in a child process of its own, captures what the child
            // prints, and counts a pass only from the child's exit status: an answer's
            // `process::exit(0)` or printed `test … ok` lines land in the captured output, not
            // in the report we read. The flag is unstable, hence RUSTC_BOOTSTRAP for these
            // builds alone.
            let mut flags = String::from("-Cpanic=abort\x1f-Zpanic-abort-tests");
            if instrument {
                flags.push_str("\x1f-Cinstrument-coverage");
            }
            // Later entries win: this replaces the empty flags of the build environment.
            job = job
                .env("CARGO_ENCODED_RUSTFLAGS", flags)
                .env("RUSTC_BOOTSTRAP", "1");
        }
        Ok(job
            .args([
                "--offline",
                "--workspace",
                "--keep-going",
                "--message-format=json",
                "--jobs",
            ])
            .arg(self.jobs.to_string()))
    }
}
