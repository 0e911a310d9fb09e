//! `optimize --save`: writes `model = "PROVIDER:MODEL"` into the project's config, where
//! `config::load` would read it, leaving every other byte of the file as it was.

use crate::report::{write_replacing, OutputError};
use std::path::{Path, PathBuf};
use toml_edit::{DocumentMut, Item, Table};

/// Why the model could not be saved; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not valid TOML", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: toml_edit::TomlError,
    },
    #[error("{}: `{key}` is not a table, so `model` cannot be written under it", path.display())]
    NotATable { path: PathBuf, key: String },
    #[error(transparent)]
    Write(#[from] OutputError),
}

/// Where the config lives: a file, and the table path of the config inside it (empty: the
/// whole file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigPlace {
    pub path: PathBuf,
    pub table: Vec<&'static str>,
}

/// The config `config::load` reads, in its order: `llm-bench.toml` at the workspace root, then
/// the `llm-bench` table of `[package.metadata]` or `[workspace.metadata]` of each manifest.
/// Without any config, the first manifest's package (or, for a virtual workspace, its
/// workspace) gets the table; outside a cargo project, `llm-bench.toml` is created.
pub fn config_place(
    workspace_root: &Path,
    manifests: &[PathBuf],
) -> Result<ConfigPlace, SaveError> {
    let file = workspace_root.join("llm-bench.toml");
    if file.is_file() {
        return Ok(ConfigPlace {
            path: file,
            table: Vec::new(),
        });
    }
    let mut first_manifest = None;
    for manifest in manifests {
        let Ok(text) = std::fs::read_to_string(manifest) else {
            continue;
        };
        let document = parse(manifest, &text)?;
        for holder in ["package", "workspace"] {
            let has_config = document
                .get(holder)
                .and_then(|item| item.get("metadata"))
                .and_then(|item| item.get("llm-bench"))
                .is_some();
            if has_config {
                return Ok(ConfigPlace {
                    path: manifest.clone(),
                    table: vec![holder, "metadata", "llm-bench"],
                });
            }
        }
        if first_manifest.is_none() {
            let holder = if document.contains_key("package") {
                "package"
            } else {
                "workspace"
            };
            first_manifest = Some(ConfigPlace {
                path: manifest.clone(),
                table: vec![holder, "metadata", "llm-bench"],
            });
        }
    }
    Ok(first_manifest.unwrap_or(ConfigPlace {
        path: file,
        table: Vec::new(),
    }))
}

/// Writes `model = "{model}"` into the config at `place`, replacing an earlier `model`.
pub fn save_model(place: &ConfigPlace, model: &str) -> Result<(), SaveError> {
    let text = match std::fs::read_to_string(&place.path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && place.table.is_empty() => {
            String::new()
        }
        Err(source) => {
            return Err(SaveError::Read {
                path: place.path.clone(),
                source,
            })
        }
    };
    let updated = with_model(&place.path, &text, &place.table, model)?;
    write_replacing(&place.path, updated.as_bytes())?;
    Ok(())
}

/// `text` with `model` set in the table at `table_path`, created when missing.
pub fn with_model(
    path: &Path,
    text: &str,
    table_path: &[&str],
    model: &str,
) -> Result<String, SaveError> {
    let mut document = parse(path, text)?;
    let mut table = document.as_table_mut() as &mut dyn toml_edit::TableLike;
    for (depth, key) in table_path.iter().enumerate() {
        let last = depth + 1 == table_path.len();
        let item = table.entry(key).or_insert_with(|| {
            let mut new = Table::new();
            // `[package.metadata.llm-bench]` is written as one header, not three.
            new.set_implicit(!last);
            // At the end of the file rather than among the parent's tables.
            new.set_position(usize::MAX);
            Item::Table(new)
        });
        table = item
            .as_table_like_mut()
            .ok_or_else(|| SaveError::NotATable {
                path: path.to_owned(),
                key: table_path[..=depth].join("."),
            })?;
    }
    match table.get_mut("model").and_then(Item::as_value_mut) {
        // Keeps the key's place and the comment after the value.
        Some(value) => {
            let decor = value.decor().clone();
            *value = toml_edit::Value::from(model);
            *value.decor_mut() = decor;
        }
        None => {
            table.insert("model", toml_edit::value(model));
        }
    }
    let mut updated = document.to_string();
    if !updated.ends_with('\n') {
        updated.push('\n');
    }
    Ok(updated)
}

fn parse(path: &Path, text: &str) -> Result<DocumentMut, SaveError> {
    text.parse::<DocumentMut>()
        .map_err(|source| SaveError::Parse {
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"# The crate.
[package]
name = "demo"   # its name
version = "0.1.0"

[dependencies]
serde = "1" # for reports

# Tool settings below.
"#;

    #[test]
    fn a_new_model_table_leaves_the_rest_of_the_manifest_byte_for_byte() {
        let updated = with_model(
            Path::new("Cargo.toml"),
            MANIFEST,
            &["package", "metadata", "llm-bench"],
            "ollama:qwen2.5-coder:1.5b",
        )
        .unwrap();
        // The file's trailing comment stays last: toml_edit keeps it after every table.
        assert_eq!(
            updated,
            MANIFEST.replace(
                "\n# Tool settings below.\n",
                "\n[package.metadata.llm-bench]\nmodel = \"ollama:qwen2.5-coder:1.5b\"\n\n# Tool settings below.\n"
            )
        );
    }

    #[test]
    fn an_earlier_model_is_replaced_in_place_with_its_comment_kept() {
        let text = "# config\nsuites = [\"suites/*.yaml\"]\nmodel = \"reference\" # chosen by optimize\njobs = 2\n";
        let updated = with_model(Path::new("llm-bench.toml"), text, &[], "qwen:q").unwrap();
        assert_eq!(
            updated,
            "# config\nsuites = [\"suites/*.yaml\"]\nmodel = \"qwen:q\" # chosen by optimize\njobs = 2\n"
        );
    }

    #[test]
    fn an_existing_metadata_table_gets_the_key_among_its_others() {
        let text = "[workspace]\nmembers = [\"a\"]\n\n[workspace.metadata.llm-bench]\n# keep\njobs = 1\n\n[profile.release]\nlto = true\n";
        let updated = with_model(
            Path::new("Cargo.toml"),
            text,
            &["workspace", "metadata", "llm-bench"],
            "gemma:g",
        )
        .unwrap();
        assert_eq!(
            updated,
            "[workspace]\nmembers = [\"a\"]\n\n[workspace.metadata.llm-bench]\n# keep\njobs = 1\nmodel = \"gemma:g\"\n\n[profile.release]\nlto = true\n"
        );
    }

    #[test]
    fn a_key_in_the_way_that_is_not_a_table_is_an_error_not_an_overwrite() {
        let text = "[package]\nname = \"x\"\nmetadata = 3\n";
        let error = with_model(
            Path::new("Cargo.toml"),
            text,
            &["package", "metadata", "llm-bench"],
            "m:m",
        )
        .unwrap_err();
        assert!(error
            .to_string()
            .contains("`package.metadata` is not a table"));
    }

    #[test]
    fn the_place_follows_the_order_config_load_reads_in() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        std::fs::write(&manifest, "[workspace]\nmembers = []\n").unwrap();
        let manifests = [manifest.clone()];
        assert_eq!(
            config_place(dir.path(), &manifests).unwrap(),
            ConfigPlace {
                path: manifest.clone(),
                table: vec!["workspace", "metadata", "llm-bench"],
            }
        );
        std::fs::write(dir.path().join("llm-bench.toml"), "").unwrap();
        assert_eq!(
            config_place(dir.path(), &manifests).unwrap().path,
            dir.path().join("llm-bench.toml")
        );
    }
}
