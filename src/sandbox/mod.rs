//! Scratch cargo projects and every process the tool runs: the sandbox for generated code.
//!
//! Answers are built in batches: a generated workspace whose member crates each hold many
//! answers as modules, built by one cargo invocation with `--keep-going`. A compile error is
//! pinned on the answer whose file it points at, and the rest of its crate is built again
//! without it, so one broken answer never fails its neighbours.

pub mod coverage;
pub mod format;
pub mod process;
mod scratch;
pub mod test_binaries;
mod toolchain;

pub use process::{
    interruption, watch_interrupts, ConfinementError, Interrupted, Limits, SandboxLevel,
    SandboxRequest, Stop,
};
pub use scratch::{BuildKind, BuildOutcome, Compiled, Member, UnresolvedDependencies};

use process::{Policy, Untrusted, View};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How a sandbox is opened: parallelism, the confinement asked for, and what is left behind.
#[derive(Debug, Clone, Copy)]
pub struct SandboxOptions {
    pub jobs: usize,
    pub request: SandboxRequest,
    /// Leave the scratch workspaces and test folders in place when the sandbox closes.
    pub keep_scratch: bool,
}

impl SandboxOptions {
    pub fn new(jobs: usize) -> SandboxOptions {
        SandboxOptions {
            jobs,
            request: SandboxRequest::Auto,
            keep_scratch: false,
        }
    }
}

/// Why a sandbox cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot prepare the scratch folder")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Confinement(#[from] ConfinementError),
}

/// Where scratch work goes, how parallel it may be, and the environment builds see.
#[derive(Debug)]
pub struct Sandbox {
    /// `target/llm-bench` of the user's workspace.
    pub root: PathBuf,
    pub jobs: usize,
    build_env: Vec<(OsString, OsString)>,
    toolchain: toolchain::Toolchain,
    policy: Arc<Policy>,
    keep_scratch: bool,
    /// Held while the sandbox lives: two runs in one target dir would share scratch crates.
    _lock: std::fs::File,
}

/// Variables a cargo build needs to find the toolchain; everything else, secrets included,
/// is left behind.
const PASSED_TO_BUILDS: &[&str] = &["RUSTUP_TOOLCHAIN"];

/// Scratch folders that hold answers and their runs: removed when the sandbox closes unless
/// kept. The target folders stay: they cache built dependencies from run to run.
const SCRATCH_FOLDERS: &[&str] = &["work", "runs", "format", "home"];

impl Sandbox {
    /// Opens the sandbox under `root` with the best confinement this machine allows, waiting
    /// for any other run that holds it.
    pub fn open(root: &Path, jobs: usize) -> Result<Sandbox, OpenError> {
        Sandbox::open_with(root, SandboxOptions::new(jobs))
    }

    /// Opens the sandbox under `root` as `options` ask.
    pub fn open_with(root: &Path, options: SandboxOptions) -> Result<Sandbox, OpenError> {
        std::fs::create_dir_all(root)?;
        let lock = std::fs::File::create(root.join(".lock"))?;
        lock.lock()?;
        let root = std::fs::canonicalize(root)?;
        let mut build_env: Vec<(OsString, OsString)> = PASSED_TO_BUILDS
            .iter()
            .filter_map(|name| std::env::var_os(name).map(|value| (OsString::from(name), value)))
            .collect();
        // Cargo and rustup find their homes through HOME unless told; they are told, so HOME
        // can point at scratch space and `env!("HOME")` in an answer leads nowhere useful.
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let mut cargo_home = None;
        for (name, default) in [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")] {
            let value = std::env::var_os(name).or_else(|| {
                home.as_ref()
                    .map(|home| home.join(default).into_os_string())
            });
            if let Some(value) = value {
                if name == "CARGO_HOME" {
                    cargo_home = Some(PathBuf::from(&value));
                }
                build_env.push((OsString::from(name), value));
            }
        }
        let parent_path =
            std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin"));
        let mut env_for_resolving = build_env.clone();
        env_for_resolving.push((OsString::from("PATH"), parent_path.clone()));
        // The toolchain is resolved once, as the builds would see it. Inside `cargo llm-bench`,
        // cargo tells us which cargo binary it is.
        let toolchain =
            toolchain::Toolchain::resolve(&env_for_resolving, &root, std::env::var_os("CARGO"));
        // The sysroot is what confined builds see of the toolchain, read-only.
        let sysroot = toolchain
            .rustc_resolved
            .then(|| Path::new(&toolchain.rustc).parent()?.parent())
            .flatten()
            .and_then(|sysroot| std::fs::canonicalize(sysroot).ok());
        // The toolchain's own binaries come first, so build scripts that call `rustc` or
        // `cargo` get them directly rather than through rustup's proxies.
        let mut path = OsString::new();
        if let Some(sysroot) = &sysroot {
            path.push(sysroot.join("bin"));
            path.push(":");
        }
        path.push(parent_path);
        build_env.push((OsString::from("PATH"), path));
        let scratch_home = root.join("home");
        std::fs::create_dir_all(&scratch_home)?;
        build_env.push((OsString::from("HOME"), scratch_home.into_os_string()));
        build_env.extend(
            [
                ("TMPDIR", "/tmp"),
                ("CARGO_INCREMENTAL", "0"),
                ("CARGO_TERM_COLOR", "never"),
                ("CARGO_TERM_PROGRESS_WHEN", "never"),
                // Flags from the user's .cargo/config.toml must not change scores.
                ("CARGO_ENCODED_RUSTFLAGS", ""),
                ("LANG", "C"),
            ]
            .map(|(key, value)| (OsString::from(key), OsString::from(value))),
        );
        // RUSTC, so cargo does not find rustc on PATH: a proxy, costly on every call, and one
        // a confined build could not run.
        if toolchain.rustc_resolved {
            build_env.push((OsString::from("RUSTC"), toolchain.rustc.clone()));
        }
        // rustfmt looks for config in parent folders; the user's must not change scoring.
        std::fs::write(root.join("rustfmt.toml"), "")?;
        let policy = Policy::detect(options.request, sysroot.into_iter().collect(), cargo_home)?;
        Ok(Sandbox {
            root,
            jobs: options.jobs.max(1),
            build_env,
            toolchain,
            policy: Arc::new(policy),
            keep_scratch: options.keep_scratch,
            _lock: lock,
        })
    }

    /// The confinement untrusted processes get in this run.
    pub fn level(&self) -> SandboxLevel {
        self.policy.level()
    }

    /// One line naming what untrusted code is not kept from here, if anything.
    pub fn warning(&self) -> Option<String> {
        let missing = self.policy.missing_protections();
        (!missing.is_empty())
            .then(|| format!("sandbox level `{}`: {}", self.level(), missing.join("; ")))
    }

    /// The environment for toolchain processes (cargo, rustc, rustfmt).
    pub(crate) fn build_env(&self) -> &[(OsString, OsString)] {
        &self.build_env
    }

    pub(crate) fn cargo(&self) -> &OsString {
        &self.toolchain.cargo
    }

    /// Confinement for untrusted work that sees `view` and may write only `writable`.
    pub(crate) fn untrusted(
        &self,
        view: View,
        limits: Limits,
        writable: Vec<PathBuf>,
        readable: Vec<PathBuf>,
    ) -> Untrusted {
        Untrusted {
            policy: Arc::clone(&self.policy),
            view,
            limits,
            writable,
            readable,
        }
    }

    /// A directory under the sandbox root, created on demand.
    pub(crate) fn scratch_dir(&self, name: &str) -> std::io::Result<PathBuf> {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// `rustc -V` as the builds see it, for reports.
    pub fn rustc_version(&self) -> String {
        let job = process::Job::new(&self.toolchain.rustc, &self.root, Duration::from_secs(30))
            .envs(self.build_env())
            .arg("-V");
        match process::run(&job) {
            Ok(finished) if finished.success() => finished.stdout.trim().to_owned(),
            _ => "unknown".to_owned(),
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if self.keep_scratch {
            return;
        }
        for folder in SCRATCH_FOLDERS {
            let _ = std::fs::remove_dir_all(self.root.join(folder));
        }
    }
}

/// Brings the sandbox's typed errors that travel inside an `io::Error` — an interruption, a
/// suite's dependencies that cannot be fetched — to the top, where `downcast_ref` finds them.
pub fn surface_typed_error(error: anyhow::Error) -> anyhow::Error {
    let inner = error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>()?.get_ref())
        .next();
    if let Some(interrupted) = inner.and_then(|e| e.downcast_ref::<Interrupted>()) {
        return anyhow::Error::new(*interrupted);
    }
    if let Some(unresolved) = inner.and_then(|e| e.downcast_ref::<UnresolvedDependencies>()) {
        return anyhow::Error::new(unresolved.clone());
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interruption_inside_an_io_error_is_found_by_downcast() {
        let io = std::io::Error::new(std::io::ErrorKind::Interrupted, Interrupted { signal: 15 });
        let error = surface_typed_error(anyhow::Error::new(io).context("while scoring"));
        let interrupted = error.downcast_ref::<Interrupted>().unwrap();
        assert_eq!(interrupted.exit_code(), 143);
    }

    #[test]
    fn a_suites_unfetchable_dependency_is_found_by_downcast() {
        let unresolved = UnresolvedDependencies {
            dependencies: vec!["nope = \"1\"".to_owned()],
            cargo_says: "no matching package".to_owned(),
        };
        let error = surface_typed_error(anyhow::Error::new(std::io::Error::other(
            unresolved.clone(),
        )));
        assert_eq!(
            error.downcast_ref::<UnresolvedDependencies>(),
            Some(&unresolved)
        );
    }
}
