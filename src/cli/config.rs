//! The configuration file: `llm-bench.toml` at the workspace root, or the `llm-bench` table of
//! `[package.metadata]` or `[workspace.metadata]` in Cargo.toml (first found wins).

use super::{FormatArg, SandboxArg};
pub use crate::provider::ProviderProfile;
use crate::score::Weights;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    pub suites: Option<Vec<String>>,
    pub models: Option<Vec<String>>,
    pub samples: Option<u32>,
    pub jobs: Option<usize>,
    pub min_score: Option<f64>,
    pub output: Option<PathBuf>,
    pub format: Option<FormatArg>,
    pub sandbox: Option<SandboxArg>,
    pub repairs: Option<u32>,
    pub timeout: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    pub seed: Option<u64>,
    pub coverage: Option<f64>,
    pub weights: Option<Weights>,
    /// Named provider profiles: `local:qwen2.5-coder-1.5b` uses the profile `local`.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderProfile>,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    package: Option<MetadataHolder>,
    workspace: Option<MetadataHolder>,
}

#[derive(Debug, Deserialize)]
struct MetadataHolder {
    metadata: Option<LlmBenchTable>,
}

#[derive(Debug, Deserialize)]
struct LlmBenchTable {
    #[serde(rename = "llm-bench")]
    llm_bench: Option<Config>,
}

/// Finds and parses the config; a malformed one is an error naming file, line and column.
pub fn load(workspace_root: &Path, manifests: &[PathBuf]) -> anyhow::Result<Config> {
    let file = workspace_root.join("llm-bench.toml");
    if file.is_file() {
        let text = std::fs::read_to_string(&file)?;
        return toml::from_str(&text).map_err(|error| located(&file, &error));
    }
    for manifest_path in manifests {
        let Ok(text) = std::fs::read_to_string(manifest_path) else {
            continue;
        };
        let manifest: Manifest =
            toml::from_str(&text).map_err(|error| located(manifest_path, &error))?;
        let tables = [manifest.package, manifest.workspace];
        if let Some(config) = tables
            .into_iter()
            .flatten()
            .filter_map(|holder| holder.metadata?.llm_bench)
            .next()
        {
            return Ok(config);
        }
    }
    Ok(Config::default())
}

fn located(path: &Path, error: &toml::de::Error) -> anyhow::Error {
    let position = error.span().and_then(|span| {
        let text = std::fs::read_to_string(path).ok()?;
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |newline| newline + 1) + 1;
        Some(format!(":{line}:{column}"))
    });
    crate::error::bad_input(
        anyhow::anyhow!(
            "invalid config {}{}: {}",
            path.display(),
            position.unwrap_or_default(),
            error.message()
        ),
        Some("see the README's Configuration section for every key".to_owned()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ProviderKind;

    #[test]
    fn package_metadata_is_read_from_cargo_toml() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        std::fs::write(&manifest, "[package]\nname = \"x\"\n[package.metadata.llm-bench]\nmodels = [\"reference\"]\nmin-score = 0.5\n[package.metadata.llm-bench.providers.local]\nkind = \"openai\"\nbase-url = \"http://127.0.0.1:8080/v1\"\n").unwrap();
        let loaded = load(dir.path(), &[manifest]).unwrap();
        assert_eq!(loaded.min_score, Some(0.5));
        assert_eq!(loaded.providers["local"].kind, ProviderKind::Openai);
    }

    #[test]
    fn an_unknown_key_names_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("llm-bench.toml"),
            "models = []\nmin-scroe = 1\n",
        )
        .unwrap();
        let error = load(dir.path(), &[]).unwrap_err().to_string();
        assert!(error.contains("llm-bench.toml:2:1"), "{error}");
        assert!(error.contains("min-scroe"), "{error}");
    }
}
