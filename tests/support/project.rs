//! A throwaway cargo project to run the real `cargo-llm-bench` binary in, with a scrubbed
//! environment, and the reports it leaves behind.

// Each test binary includes this file through `#[path]` and uses a different part of it, so
// what one binary leaves unused is not dead code of the crate.
#![allow(dead_code, reason = "each test binary uses a part of it")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where the tool writes its reports unless told `--output`.
const REPORTS_DIR: &str = "logs/benchmarks";

#[derive(Debug)]
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Project {
        Project::with_manifest_extra("")
    }

    /// A project whose Cargo.toml ends with `extra` (e.g. a `[package.metadata.llm-bench]`).
    pub fn with_manifest_extra(extra: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            format!("[package]\nname = \"fixture-project\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n{extra}"),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/lib.rs"), "").unwrap();
        Project { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `name` (folders created as needed) and returns its path as an argument.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path.display().to_string()
    }

    /// `cargo llm-bench ARGS` as cargo would run it (`llm-bench` first), in the project, with
    /// only the toolchain's variables set.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = self.toolchain_command(env!("CARGO_BIN_EXE_cargo-llm-bench"));
        command.arg("llm-bench").args(args).env("NO_COLOR", "1");
        command
    }

    /// `program` in the project with only the toolchain's variables set: no secrets, no
    /// `CARGO_*` of the test run.
    pub fn toolchain_command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.current_dir(self.path()).env_clear();
        for name in [
            "PATH",
            "HOME",
            "CARGO_HOME",
            "RUSTUP_HOME",
            "RUSTUP_TOOLCHAIN",
        ] {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs the tool with `env` set on top of the toolchain's variables.
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(args)
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    /// Runs the tool through `sh` with a given umask, which `Command` cannot set.
    pub fn run_with_umask(&self, umask: &str, args: &[&str]) -> Output {
        let command = self.command(args);
        let program = command.get_program().to_owned();
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
            .arg(program)
            .args(command.get_args())
            .current_dir(self.path())
            .env_clear()
            .envs(
                command
                    .get_envs()
                    .filter_map(|(name, value)| Some((name, value?))),
            );
        shell.output().unwrap()
    }

    /// The files under `logs/benchmarks`, in file-name order.
    pub fn reports(&self) -> Vec<PathBuf> {
        self.reports_in(REPORTS_DIR)
    }

    /// The files under `dir` (a run's `--output`), in file-name order.
    pub fn reports_in(&self, dir: &str) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.path().join(dir))
            .map(|entries| entries.map(|entry| entry.unwrap().path()).collect())
            .unwrap_or_default();
        paths.sort();
        paths
    }

    /// The JSON reports under `logs/benchmarks`, parsed, in file-name order.
    pub fn json_reports(&self) -> Vec<serde_json::Value> {
        self.reports()
            .iter()
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .map(|path| serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
            .collect()
    }

    /// Every file the run left in the project (reports, scratch work), for leak checks.
    pub fn all_text(&self) -> String {
        let mut text = String::new();
        let mut stack = vec![self.path().to_owned()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(bytes) = std::fs::read(&path) {
                    text.push_str(&String::from_utf8_lossy(&bytes));
                }
            }
        }
        text
    }
}
