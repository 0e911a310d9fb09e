//! A throwaway cargo project to run the real `cargo-llm-bench` binary in, with a scrubbed
//! environment, and the reports it leaves behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[derive(Debug)]
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
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

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Runs `cargo llm-bench ARGS` as cargo would (`llm-bench` first), in the project, with
    /// only the toolchain's variables and `env` set.
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cargo-llm-bench"));
        command
            .arg("llm-bench")
            .args(args)
            .current_dir(self.path())
            .env_clear();
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
        command.env("NO_COLOR", "1").envs(env.iter().copied());
        command.output().unwrap()
    }

    /// The JSON reports under `logs/benchmarks`, parsed, in file-name order.
    pub fn json_reports(&self) -> Vec<serde_json::Value> {
        let dir = self.path().join("logs/benchmarks");
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|entries| entries.map(|entry| entry.unwrap().path()).collect())
            .unwrap_or_default();
        paths.sort();
        paths
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
