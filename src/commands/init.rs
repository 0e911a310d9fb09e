//! `cargo llm-bench init`: a commented starter config and a small suite in the current project.

use super::Outcome;
use crate::error::{bad_input, ExitKind};
use anyhow::Context;
use std::path::{Path, PathBuf};

const STARTER_CONFIG: &str = include_str!("../../templates/starter-config.toml");
const STARTER_SUITE: &str = include_str!("../../templates/starter-suite.yaml");

/// Where `init` writes, relative to the workspace root.
const CONFIG_FILE: &str = "llm-bench.toml";
const SUITE_FILE: &str = "suites/starter.yaml";

/// Writes the starter files under `root`; an existing one is kept unless `force`.
pub fn init(root: &Path, force: bool) -> anyhow::Result<Outcome> {
    let files = [
        (root.join(CONFIG_FILE), STARTER_CONFIG),
        (root.join(SUITE_FILE), STARTER_SUITE),
    ];
    let existing: Vec<&PathBuf> = files
        .iter()
        .map(|(path, _)| path)
        .filter(|path| path.exists())
        .collect();
    if !force && !existing.is_empty() {
        let names: Vec<String> = existing.iter().map(|p| p.display().to_string()).collect();
        return Err(bad_input(
            anyhow::anyhow!("{} already exist(s): nothing was written", names.join(", ")),
            Some("pass --force to overwrite them".to_owned()),
        ));
    }
    for (path, text) in &files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if has_manifest_config(root) {
        eprintln!("warning: Cargo.toml has a [package.metadata.llm-bench] or [workspace.metadata.llm-bench] table; {CONFIG_FILE} now takes its place");
    }
    println!(
        "\nNext:\n  cargo llm-bench validate        # every reference answer passes every stage\n  cargo llm-bench run             # the `reference` model through the pipeline, gated at min-score\n  cargo llm-bench models ollama   # the models your local Ollama server has\n  cargo llm-bench run -m ollama:qwen2.5-coder:1.5b   # a real model (or add it to `models` in {CONFIG_FILE})"
    );
    Ok(Outcome(ExitKind::Success))
}

fn has_manifest_config(root: &Path) -> bool {
    std::fs::read_to_string(root.join("Cargo.toml"))
        .is_ok_and(|text| text.contains("metadata.llm-bench"))
}
