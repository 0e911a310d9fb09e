//! The generated workspace: answers as modules of chunk crates, built at once, failures
//! isolated. Planning chunks, writing the workspace, running cargo, reading its messages and
//! settling blame each have a file of their own.

mod blame;
mod cargo;
mod chunks;
mod messages;
mod workspace;

use super::process::{self, Stop};
use super::Sandbox;
use blame::{compiler_stopped, settle_chunk};
use chunks::{dependency_key, plan_chunks};
use messages::parse_messages;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use workspace::write_workspace;

/// A suite's dependencies that cargo cannot fetch (a crate that is not on crates.io, a
/// version that does not exist): the suite's error, not any answer's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the suite's dependencies cannot be fetched ({}):\n{cargo_says}", dependencies.join(", "))]
pub struct UnresolvedDependencies {
    pub dependencies: Vec<String>,
    pub cargo_says: String,
}

/// One answer to build: its source file's text and what it builds with.
#[derive(Debug, Clone)]
pub struct Member {
    /// The caller's key for this answer; also names its module.
    pub id: usize,
    pub answer: String,
    /// Hidden tests (test builds), trusted: they build in a module of their own inside the
    /// answer's, out of reach of its macros.
    pub tests: Option<String>,
    pub edition: String,
    pub dependencies: BTreeMap<String, String>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildKind {
    /// `cargo check` of the answer alone.
    Check,
    /// The unit-test harness of each crate, optionally with `-C instrument-coverage`.
    Test { instrument: bool },
}

impl BuildKind {
    fn workspace_name(self) -> &'static str {
        match self {
            BuildKind::Check => "check",
            BuildKind::Test { instrument: false } => "test",
            BuildKind::Test { instrument: true } => "test-coverage",
        }
    }

    fn target_dir_name(self) -> &'static str {
        // Each kind has its own flags, and flags change every fingerprint: sharing a target
        // dir would rebuild dependencies at every switch.
        match self {
            BuildKind::Check => "target",
            BuildKind::Test { instrument: false } => "target-test",
            BuildKind::Test { instrument: true } => "target-coverage",
        }
    }
}

/// How one member's build went.
#[derive(Debug, Clone)]
pub struct BuildOutcome {
    pub member: usize,
    pub compiled: Option<Compiled>,
    pub error_codes: Vec<String>,
    pub warnings: u32,
    /// Rendered errors (or, when it built, warnings), with paths as if the answer were `src/lib.rs`.
    pub diagnostics: String,
    /// This member's share of the builds it took part in.
    pub elapsed: Duration,
}

/// A member that built: where its tests are and how to select them.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The test binary (test builds only).
    pub executable: Option<PathBuf>,
    /// The libtest filter that selects exactly this member's tests.
    pub test_filter: String,
    /// The file holding the member's source, as coverage data names it.
    pub source_file: PathBuf,
    /// The file holding the member's hidden tests, as panic messages name it.
    pub hidden_file: PathBuf,
}

impl Sandbox {
    /// Builds every member, isolating failures; returns one outcome per member, in any order.
    pub fn build(&self, kind: BuildKind, members: &[Member]) -> std::io::Result<Vec<BuildOutcome>> {
        let target_dir = self.root.join(kind.target_dir_name());
        // One workspace, and so one lockfile, per set of dependencies: a dependency that does
        // not resolve fails only the answers that asked for it.
        let mut by_dependencies: BTreeMap<&BTreeMap<String, String>, Vec<&Member>> =
            BTreeMap::new();
        for member in members {
            by_dependencies
                .entry(&member.dependencies)
                .or_default()
                .push(member);
        }
        let mut outcomes = Vec::with_capacity(members.len());
        for (dependencies, group) in by_dependencies {
            let workspace = self.scratch_dir(&format!(
                "work/{}/{}",
                kind.workspace_name(),
                dependency_key(dependencies)
            ))?;
            self.build_dependencies(kind, dependencies, &workspace, &target_dir)?;
            self.build_workspace(kind, &group, &workspace, &target_dir, &mut outcomes)?;
        }
        Ok(outcomes)
    }

    /// Builds chunks of members in one workspace until every member has an outcome.
    fn build_workspace(
        &self,
        kind: BuildKind,
        members: &[&Member],
        workspace: &Path,
        target_dir: &Path,
        outcomes: &mut Vec<BuildOutcome>,
    ) -> std::io::Result<()> {
        let mut chunks = plan_chunks(members, self.jobs);
        while !chunks.is_empty() {
            write_workspace(workspace, &chunks)?;
            let longest = chunks
                .iter()
                .flat_map(|c| c.members.iter().map(|m| m.timeout))
                .max()
                .unwrap_or_default();
            // Each rustc of an answer crate gets its own limit (a crate of many answers four
            // times one answer's); cargo as a whole gets enough for every crate in turn.
            let per_crate = longest
                * if chunks.iter().any(|c| c.members.len() > 1) {
                    4
                } else {
                    1
                };
            let rounds = chunks.len().div_ceil(self.jobs) as u32 + 1;
            let job = self.cargo_job(
                kind,
                workspace,
                target_dir,
                per_crate,
                per_crate * rounds + Duration::from_secs(60),
            )?;
            let finished = process::run(&job)?;
            let whole_build_stopped = finished.stop.filter(|stop| {
                // A compiler out of CPU time stops only its own crate; cargo goes on.
                !matches!(stop, Stop::CpuLimit)
            });
            let n_members: usize = chunks.iter().map(|chunk| chunk.members.len()).sum();
            let share = finished.elapsed / n_members.max(1) as u32;
            let mut reports = parse_messages(&finished.stdout, &chunks);
            let mut next = Vec::new();
            for chunk in chunks {
                let report = reports.remove(&chunk.name).unwrap_or_default();
                let stopped = match whole_build_stopped {
                    Some(stop) => Some(stop.to_string()),
                    None if compiler_stopped(&finished.stderr, &chunk.name) => Some(format!(
                        "timeout (the compiler ran past {}s of CPU time)",
                        per_crate.as_secs().max(10)
                    )),
                    None => None,
                };
                next.extend(settle_chunk(
                    chunk,
                    report,
                    stopped.as_deref(),
                    &finished.stderr,
                    share,
                    outcomes,
                ));
            }
            chunks = next;
        }
        Ok(())
    }
}
