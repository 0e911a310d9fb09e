//! The generated workspace: answers as modules of chunk crates, built at once, failures isolated.

use super::process::{self, Job};
use super::Sandbox;
use cargo_metadata::diagnostic::DiagnosticLevel;
use cargo_metadata::Message;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Answers per chunk crate at most: big enough to amortize rustc's start-up and the test
/// harness's link, small enough that a chunk rebuilt without a broken answer stays cheap.
const MAX_CHUNK: usize = 80;

/// The most of cargo's output kept: far more than any real build prints.
const CARGO_OUTPUT_CAP: usize = 512 << 20;

/// Dependencies get this long to download and build before any answer is compiled.
const DEPENDENCY_TIMEOUT: Duration = Duration::from_secs(900);

/// One answer to build: its source file's text and what it builds with.
#[derive(Debug, Clone)]
pub struct Member {
    /// The caller's key for this answer; also names its module.
    pub id: usize,
    pub answer: String,
    /// Hidden tests, placed after the answer in the same file (test builds).
    pub tests: Option<String>,
    pub edition: String,
    pub dependencies: BTreeMap<String, String>,
    pub timeout: Duration,
}

impl Member {
    fn source(&self) -> String {
        match &self.tests {
            Some(tests) => format!("{}\n{tests}", self.answer.trim_end()),
            None => self.answer.clone(),
        }
    }
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
        // Instrumented builds need their own target dir: RUSTFLAGS changes every fingerprint.
        match self {
            BuildKind::Test { instrument: true } => "target-coverage",
            _ => "target",
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
}

/// One crate of the workspace.
#[derive(Debug)]
struct Chunk<'a> {
    name: String,
    members: Vec<&'a Member>,
    /// A lone answer that cannot live in a module (it uses `crate::` paths, crate attributes, ...)
    /// is the crate root itself.
    at_root: bool,
}

impl Chunk<'_> {
    fn source_path(&self, member: &Member) -> String {
        if self.at_root {
            format!("{}/src/lib.rs", self.name)
        } else {
            format!("{}/src/case_{}.rs", self.name, member.id)
        }
    }
}

/// What cargo said about one chunk.
#[derive(Debug, Default)]
struct ChunkReport {
    artifact: Option<Option<PathBuf>>,
    /// Rendered errors and warnings per member id, and unattributed errors.
    errors: HashMap<usize, Vec<(Option<String>, String)>>,
    warnings: HashMap<usize, Vec<String>>,
    unattributed: Vec<String>,
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
            let job = self
                .cargo_job(
                    kind,
                    workspace,
                    target_dir,
                    per_crate * rounds + Duration::from_secs(60),
                )?
                .env(
                    "LLM_BENCH_RUSTC_TIMEOUT",
                    format!("{}s", per_crate.as_secs().max(1)),
                );
            let finished = process::run(&job)?;
            let n_members: usize = chunks.iter().map(|chunk| chunk.members.len()).sum();
            let share = finished.elapsed / n_members.max(1) as u32;
            let mut reports = parse_messages(&finished.stdout, &chunks);
            let mut next = Vec::new();
            for chunk in chunks {
                let report = reports.remove(&chunk.name).unwrap_or_default();
                let killed =
                    finished.timed_out() || killed_by_wrapper(&finished.stderr, &chunk.name);
                next.extend(settle_chunk(
                    chunk,
                    report,
                    killed,
                    &finished.stderr,
                    share,
                    outcomes,
                ));
            }
            chunks = next;
        }
        Ok(())
    }

    /// Builds a set of dependencies on its own, so the first run's downloads and builds do not
    /// count against any answer's timeout.
    fn build_dependencies(
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
        // A failure here (a crate that does not exist, say) is not reported on its own: every
        // answer that needs the dependency fails to build and says why.
        process::run(&self.cargo_job(kind, workspace, target_dir, DEPENDENCY_TIMEOUT)?)?;
        Ok(())
    }

    fn cargo_job(
        &self,
        kind: BuildKind,
        workspace: &Path,
        target_dir: &Path,
        timeout: Duration,
    ) -> std::io::Result<Job> {
        // Every build uses the wrapper, dependencies too, so their fingerprints stay the same.
        let mut job = Job::new(self.cargo(), workspace, timeout)
            .envs(self.build_env())
            .env("CARGO_TARGET_DIR", target_dir)
            .env("RUSTC_WRAPPER", &self.rustc_wrapper);
        // Cargo's JSON is how results come back: cutting it would lose whole answers.
        // A thousand answers with a dozen warnings each print tens of megabytes.
        job.output_cap = CARGO_OUTPUT_CAP;
        // `cargo test --no-run` has no `--keep-going`; `cargo build --tests` builds the same
        // test harnesses and has.
        job = match kind {
            BuildKind::Check => job.args(["check", "--lib"]),
            BuildKind::Test { .. } => job.args(["build", "--tests"]),
        };
        if let BuildKind::Test { instrument: true } = kind {
            // Later entries win: this replaces the empty flags of the build environment.
            job = job.env("CARGO_ENCODED_RUSTFLAGS", "-Cinstrument-coverage");
        }
        Ok(job
            .args([
                "--workspace",
                "--keep-going",
                "--message-format=json",
                "--jobs",
            ])
            .arg(self.jobs.to_string()))
    }
}

/// Writes the rustc wrapper that bounds each compile of an answer crate (named `chunk_…`) with
/// `timeout` and 8 GiB of address space, so one answer that never finishes compiling, or asks
/// rustc for a huge constant, cannot use up its neighbours' time or the machine.
pub(super) fn write_rustc_wrapper(root: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = root.join("rustc-wrapper.sh");
    let script = "#!/bin/sh\n# Written by cargo-llm-bench: time and memory limits for each rustc run on answers.\ncase \" $* \" in\n    *\" --crate-name chunk_\"*)\n        ulimit -v 8388608 2>/dev/null\n        exec timeout -s KILL \"$LLM_BENCH_RUSTC_TIMEOUT\" \"$@\" ;;\nesac\nexec \"$@\"\n";
    write_if_changed(&path, script)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(path)
}

/// Whether an answer can live as a module among others. Code that names the crate root or its
/// parent, sets crate attributes, exports macros, pulls in files or places symbols for the
/// linker could reach or disturb its neighbours, so it builds as a crate of its own.
fn fits_in_module(answer: &str) -> bool {
    const REACHES_OUTSIDE: &[&str] = &[
        "crate::",
        "super::",
        "macro_export",
        "$crate",
        "include!",
        "include_str!",
        "include_bytes!",
        "#[path",
        "link_section",
        "#[used",
        "no_mangle",
        "export_name",
        "global_allocator",
        "#[link",
    ];
    let crate_attribute = answer.lines().any(|line| {
        let line = line.trim_start();
        line.starts_with("#![")
            && ![
                "#![allow(",
                "#![warn(",
                "#![deny(",
                "#![forbid(",
                "#![expect(",
            ]
            .iter()
            .any(|lint| line.starts_with(lint))
    });
    !crate_attribute && !REACHES_OUTSIDE.iter().any(|marker| answer.contains(marker))
}

/// A short stable name for a set of dependencies.
fn dependency_key(dependencies: &BTreeMap<String, String>) -> String {
    use sha2::{Digest, Sha256};
    if dependencies.is_empty() {
        return "std".to_owned();
    }
    let digest = Sha256::digest(format!("{dependencies:?}").as_bytes());
    format!("deps-{}", &format!("{digest:x}")[..12])
}

/// Whether cargo reports that the wrapper killed the rustc of `chunk` (its time ran out).
fn killed_by_wrapper(cargo_stderr: &str, chunk: &str) -> bool {
    cargo_stderr
        .split("could not compile `")
        .any(|block| block.starts_with(&format!("{chunk}`")) && block.contains("SIGKILL"))
}

fn plan_chunks<'a>(members: &[&'a Member], jobs: usize) -> Vec<Chunk<'a>> {
    // Answers of one edition may share a crate (a workspace has one set of dependencies).
    let mut groups: BTreeMap<&str, Vec<&Member>> = BTreeMap::new();
    let mut chunks = Vec::new();
    for member in members {
        // Hidden tests that name the crate root need the answer to be the root.
        let tests_name_the_root = member
            .tests
            .as_deref()
            .is_some_and(|tests| tests.contains("crate::"));
        if fits_in_module(&member.answer) && !tests_name_the_root {
            groups
                .entry(member.edition.as_str())
                .or_default()
                .push(member);
        } else {
            chunks.push(vec![*member]);
        }
    }
    let solo = chunks.len();
    for group in groups.into_values() {
        // Whole rounds of one chunk per job: every chunk costs a rustc start and a link, and a
        // last round with fewer chunks than jobs leaves cores idle (120 answers on 2 jobs build
        // in 2 chunks about a third faster than in 3).
        let n_chunks = group
            .len()
            .div_ceil(MAX_CHUNK)
            .next_multiple_of(jobs)
            .min(group.len());
        let size = group.len().div_ceil(n_chunks);
        chunks.extend(group.chunks(size).map(<[&Member]>::to_vec));
    }
    chunks
        .into_iter()
        .enumerate()
        .map(|(index, members)| Chunk {
            name: format!("chunk_{index}"),
            at_root: index < solo,
            members,
        })
        .collect()
}

fn write_workspace(workspace: &Path, chunks: &[Chunk]) -> std::io::Result<()> {
    // Crates of earlier builds go, so `--workspace` builds exactly these chunks.
    for entry in std::fs::read_dir(workspace)? {
        let path = entry?.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        }
    }
    let mut manifest = String::from("# Generated by cargo-llm-bench: scratch crates of answers under test.\n[workspace]\nresolver = \"2\"\nmembers = [");
    for chunk in chunks {
        let _ = write!(manifest, "\"{}\", ", chunk.name);
    }
    manifest.push_str("]\n\n[profile.dev]\ndebug = 0\nincremental = false\n\n[profile.test]\ndebug = 0\nincremental = false\n");
    write_if_changed(&workspace.join("Cargo.toml"), &manifest)?;
    for chunk in chunks {
        let src = workspace.join(&chunk.name).join("src");
        std::fs::create_dir_all(&src)?;
        let first = chunk.members[0];
        let mut crate_manifest = format!(
            "[package]\nname = \"{}\"\nversion = \"0.0.0\"\nedition = \"{}\"\npublish = false\n\n[lib]\ndoctest = false\n\n[dependencies]\n",
            chunk.name, first.edition
        );
        for (name, version) in &first.dependencies {
            let _ = writeln!(
                crate_manifest,
                "{name} = \"{}\"",
                version.replace(['"', '\\'], "")
            );
        }
        std::fs::write(
            workspace.join(&chunk.name).join("Cargo.toml"),
            crate_manifest,
        )?;
        if chunk.at_root {
            std::fs::write(src.join("lib.rs"), first.source())?;
            continue;
        }
        let mut lib = String::from("// Generated by cargo-llm-bench: one module per answer.\n");
        for member in &chunk.members {
            let _ = writeln!(lib, "pub mod case_{};", member.id);
            std::fs::write(src.join(format!("case_{}.rs", member.id)), member.source())?;
        }
        std::fs::write(src.join("lib.rs"), lib)?;
    }
    Ok(())
}

fn write_if_changed(path: &Path, contents: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == contents) {
        return Ok(());
    }
    std::fs::write(path, contents)
}

/// Sorts cargo's JSON messages by chunk and by the member whose file they point at.
fn parse_messages(stdout: &str, chunks: &[Chunk]) -> HashMap<String, ChunkReport> {
    let mut reports: HashMap<String, ChunkReport> = HashMap::new();
    for message in Message::parse_stream(stdout.as_bytes()).flatten() {
        match message {
            Message::CompilerArtifact(artifact)
                if chunks.iter().any(|c| c.name == artifact.target.name) =>
            {
                let report = reports.entry(artifact.target.name.clone()).or_default();
                report.artifact = Some(artifact.executable.map(PathBuf::from));
            }
            Message::CompilerMessage(compiler_message) => {
                let Some(chunk) = chunks
                    .iter()
                    .find(|c| c.name == compiler_message.target.name)
                else {
                    continue;
                };
                let diagnostic = compiler_message.message;
                let rendered = diagnostic
                    .rendered
                    .clone()
                    .unwrap_or_else(|| diagnostic.message.clone());
                let member = diagnostic.spans.iter().find_map(|span| {
                    chunk.members.iter().find(|member| {
                        span.file_name.ends_with(&chunk.source_path(member))
                            || chunk.source_path(member).ends_with(&span.file_name)
                    })
                });
                let report = reports.entry(chunk.name.clone()).or_default();
                match (diagnostic.level, member) {
                    (DiagnosticLevel::Error | DiagnosticLevel::Ice, Some(member)) => {
                        let code = diagnostic.code.map(|code| code.code);
                        report
                            .errors
                            .entry(member.id)
                            .or_default()
                            .push((code, rendered));
                    }
                    (DiagnosticLevel::Error | DiagnosticLevel::Ice, None) => {
                        if diagnostic.spans.is_empty()
                            && diagnostic.message.starts_with("aborting due to")
                        {
                            continue;
                        }
                        report.unattributed.push(rendered);
                    }
                    (DiagnosticLevel::Warning, Some(member)) => {
                        report.warnings.entry(member.id).or_default().push(rendered);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    reports
}

/// Records outcomes for a chunk's members and returns the chunks that must be built again.
fn settle_chunk<'a>(
    chunk: Chunk<'a>,
    mut report: ChunkReport,
    timed_out: bool,
    cargo_stderr: &str,
    share: Duration,
    outcomes: &mut Vec<BuildOutcome>,
) -> Vec<Chunk<'a>> {
    // Say it as if the answer were the crate: no scratch paths, no module of ours in names.
    let rewrite = |text: &str, member: &Member| {
        text.replace(&chunk.source_path(member), "src/lib.rs")
            .replace(&format!("case_{}::", member.id), "")
    };
    if let Some(executable) = report.artifact.take() {
        for member in &chunk.members {
            let warnings = report.warnings.remove(&member.id).unwrap_or_default();
            outcomes.push(BuildOutcome {
                member: member.id,
                compiled: Some(Compiled {
                    executable: executable.clone(),
                    test_filter: if chunk.at_root {
                        String::new()
                    } else {
                        format!("case_{}::", member.id)
                    },
                    source_file: PathBuf::from(chunk.source_path(member)),
                }),
                error_codes: Vec::new(),
                warnings: warnings.len() as u32,
                diagnostics: rewrite(&warnings.concat(), member),
                elapsed: share,
            });
        }
        return Vec::new();
    }
    // In a crate of several answers an error may be a neighbour's doing (trait impls that
    // clash, say), so blamed answers are built once more alone before they fail.
    let shared = chunk.members.len() > 1;
    let mut blamed = Vec::new();
    let mut remaining = Vec::new();
    for member in &chunk.members {
        match report.errors.remove(&member.id) {
            Some(_) if shared => blamed.push(*member),
            Some(errors) => {
                let mut error_codes: Vec<String> =
                    errors.iter().filter_map(|(code, _)| code.clone()).collect();
                error_codes.sort();
                error_codes.dedup();
                let rendered: String = errors.iter().map(|(_, text)| text.as_str()).collect();
                outcomes.push(BuildOutcome {
                    member: member.id,
                    compiled: None,
                    error_codes,
                    warnings: report
                        .warnings
                        .get(&member.id)
                        .map_or(0, |w| w.len() as u32),
                    diagnostics: rewrite(&rendered, member),
                    elapsed: share,
                });
            }
            None => remaining.push(*member),
        }
    }
    let alone = |suffix: &str, members: Vec<&'a Member>| -> Vec<Chunk<'a>> {
        members
            .into_iter()
            .enumerate()
            .map(|(index, member)| Chunk {
                name: format!("{}_{suffix}{index}", chunk.name),
                members: vec![member],
                at_root: chunk.at_root,
            })
            .collect()
    };
    let mut next = alone("b", blamed);
    if remaining.is_empty() {
        return next;
    }
    if !next.is_empty() && !timed_out {
        // The blamed members are out; the others build again together.
        next.push(Chunk {
            name: chunk.name.clone(),
            members: remaining,
            at_root: chunk.at_root,
        });
        return next;
    }
    if remaining.len() > 1 {
        // Nothing could be pinned on anyone (a timeout, a linker error): each builds alone.
        next.extend(alone("", remaining));
        return next;
    }
    let member = remaining[0];
    let diagnostics = if timed_out {
        format!("the build timed out after {}s", member.timeout.as_secs())
    } else if report.unattributed.is_empty() {
        cargo_stderr
            .lines()
            .filter(|line| line.starts_with("error"))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        report.unattributed.concat()
    };
    outcomes.push(BuildOutcome {
        member: member.id,
        compiled: None,
        error_codes: Vec::new(),
        warnings: 0,
        diagnostics: rewrite(&diagnostics, member),
        elapsed: share,
    });
    next
}
