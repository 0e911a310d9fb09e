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
pub mod tests;
mod toolchain;

pub use scratch::{BuildKind, BuildOutcome, Compiled, Member};

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Where scratch work goes, how parallel it may be, and the environment builds see.
#[derive(Debug)]
pub struct Sandbox {
    /// `target/llm-bench` of the user's workspace.
    pub root: PathBuf,
    pub jobs: usize,
    build_env: Vec<(OsString, OsString)>,
    toolchain: toolchain::Toolchain,
    rustc_wrapper: PathBuf,
    /// Whether test processes get a network namespace of their own on this machine.
    pub network_isolated: bool,
    /// Held while the sandbox lives: two runs in one target dir would share scratch crates.
    _lock: std::fs::File,
}

/// Variables a cargo build needs to find the toolchain; everything else, secrets included,
/// is left behind.
const PASSED_TO_BUILDS: &[&str] = &["PATH", "RUSTUP_TOOLCHAIN", "TMPDIR"];

impl Sandbox {
    /// Opens the sandbox under `root`, waiting for any other run that holds it.
    pub fn open(root: &Path, jobs: usize) -> std::io::Result<Sandbox> {
        std::fs::create_dir_all(root)?;
        let lock = std::fs::File::create(root.join(".lock"))?;
        lock.lock()?;
        let mut build_env: Vec<(OsString, OsString)> = PASSED_TO_BUILDS
            .iter()
            .filter_map(|name| std::env::var_os(name).map(|value| (OsString::from(name), value)))
            .collect();
        // Cargo and rustup find their homes through HOME unless told; they are told, so HOME
        // can point at scratch space and `env!("HOME")` in an answer leads nowhere useful.
        let home = std::env::var_os("HOME").map(PathBuf::from);
        for (name, default) in [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")] {
            let value = std::env::var_os(name).or_else(|| {
                home.as_ref()
                    .map(|home| home.join(default).into_os_string())
            });
            if let Some(value) = value {
                build_env.push((OsString::from(name), value));
            }
        }
        let scratch_home = root.join("home");
        std::fs::create_dir_all(&scratch_home)?;
        build_env.push((OsString::from("HOME"), scratch_home.into_os_string()));
        build_env.extend(
            [
                ("CARGO_INCREMENTAL", "0"),
                ("CARGO_TERM_COLOR", "never"),
                ("CARGO_TERM_PROGRESS_WHEN", "never"),
                // Flags from the user's .cargo/config.toml must not change scores.
                ("CARGO_ENCODED_RUSTFLAGS", ""),
                ("LANG", "C"),
            ]
            .map(|(key, value)| (OsString::from(key), OsString::from(value))),
        );
        // The toolchain is resolved once, as the builds would see it. Inside `cargo llm-bench`,
        // cargo tells us which cargo binary it is.
        let toolchain = toolchain::Toolchain::resolve(&build_env, root, std::env::var_os("CARGO"));
        if toolchain.rustc_resolved {
            // Cargo would otherwise find rustc on PATH: a proxy, costly on every call.
            build_env.push((OsString::from("RUSTC"), toolchain.rustc.clone()));
        }
        // rustfmt looks for config in parent folders; the user's must not change scoring.
        std::fs::write(root.join("rustfmt.toml"), "")?;
        Ok(Sandbox {
            rustc_wrapper: scratch::write_rustc_wrapper(root)?,
            root: root.to_owned(),
            jobs: jobs.max(1),
            build_env,
            toolchain,
            network_isolated: process::network_isolation(),
            _lock: lock,
        })
    }

    /// The environment for toolchain processes (cargo, rustc, rustfmt).
    pub(crate) fn build_env(&self) -> &[(OsString, OsString)] {
        &self.build_env
    }

    pub(crate) fn cargo(&self) -> &OsString {
        &self.toolchain.cargo
    }

    /// A directory under the sandbox root, created on demand.
    pub(crate) fn scratch_dir(&self, name: &str) -> std::io::Result<PathBuf> {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// `rustc -V` as the builds see it, for reports.
    pub fn rustc_version(&self) -> String {
        let job = process::Job::new(
            &self.toolchain.rustc,
            &self.root,
            std::time::Duration::from_secs(30),
        )
        .envs(self.build_env())
        .arg("-V");
        match process::run(&job) {
            Ok(finished) if finished.success() => finished.stdout.trim().to_owned(),
            _ => "unknown".to_owned(),
        }
    }
}
