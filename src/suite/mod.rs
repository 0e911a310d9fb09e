//! YAML suites → validated domain types. The only module that reads YAML.

mod diagnostic;
mod node;
pub mod setting;
mod validate;

pub use diagnostic::{render_diagnostics, Diagnostic, SuiteError};
pub use setting::{Overrides, MAX_TIMEOUT};

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A validated suite: every case carries its fully resolved settings.
#[derive(Debug, Clone)]
pub struct Suite {
    pub name: String,
    pub description: Option<String>,
    pub path: PathBuf,
    /// `sha256:` of the file's bytes, so a report says exactly which suite it scored.
    pub hash: String,
    pub cases: Vec<Case>,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub prompt: String,
    pub reference: String,
    pub tests: String,
    pub tags: Vec<String>,
    pub settings: CaseSettings,
}

/// Everything `defaults:` can set and a case can override.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseSettings {
    pub edition: String,
    pub mode: Mode,
    pub system: Option<String>,
    pub temperature: f64,
    pub max_tokens: u32,
    pub seed: Option<u64>,
    pub repairs: u32,
    /// Independent conversations per case and model (`samples`).
    pub samples: u32,
    pub timeout: Duration,
    pub stages: Vec<Stage>,
    pub coverage: f64,
    pub dependencies: BTreeMap<String, String>,
    /// What the answer's test process may use (`limits:`).
    pub limits: TestLimits,
}

/// Resource limits of a case's test process; CPU time follows `timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestLimits {
    /// Address space, in bytes (`memory`).
    pub memory_bytes: u64,
    /// Processes and threads alive at once (`processes`).
    pub processes: u32,
    /// Largest file the tests may write, in bytes (`file-size`).
    pub file_bytes: u64,
    /// Bytes of stdout and of stderr kept before the process is stopped (`output`).
    pub output_bytes: u64,
}

impl Default for TestLimits {
    fn default() -> Self {
        TestLimits {
            memory_bytes: 2 << 30,
            processes: 64,
            file_bytes: 64 << 20,
            output_bytes: 1 << 20,
        }
    }
}

impl Default for CaseSettings {
    fn default() -> Self {
        CaseSettings {
            edition: "2021".to_owned(),
            mode: Mode::Chat,
            system: Some(DEFAULT_SYSTEM_PROMPT.to_owned()),
            temperature: 0.2,
            max_tokens: 1024,
            seed: None,
            repairs: 2,
            samples: 1,
            timeout: Duration::from_secs(30),
            stages: Stage::ALL.to_vec(),
            coverage: 0.8,
            dependencies: BTreeMap::new(),
            limits: TestLimits::default(),
        }
    }
}

pub const DEFAULT_SYSTEM_PROMPT: &str =
    "You are an expert Rust programmer. Answer with one ```rust code block.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The prompt is a user message; code comes from the answer's code block.
    Chat,
    /// The prompt is raw text for base models; the code is prompt + answer.
    Completion,
}

/// The four stages of the funnel, in the order they run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Format,
    Compile,
    Test,
    Coverage,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::Format, Stage::Compile, Stage::Test, Stage::Coverage];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Format => "format",
            Stage::Compile => "compile",
            Stage::Test => "test",
            Stage::Coverage => "coverage",
        }
    }

    pub fn from_name(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|stage| stage.name() == name)
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Reads and validates one suite file; every problem in it comes back at once.
pub fn load(path: &Path) -> Result<Suite, SuiteError> {
    let bytes = std::fs::read(path).map_err(|source| SuiteError::Io {
        path: path.to_owned(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|error| SuiteError::Invalid {
        path: path.to_owned(),
        diagnostics: vec![not_utf8(error.as_bytes(), error.utf8_error())],
    })?;
    parse(path, &text)
}

/// Where the first byte that is not UTF-8 sits, by line and column (in characters).
fn not_utf8(bytes: &[u8], error: std::str::Utf8Error) -> Diagnostic {
    let valid = std::str::from_utf8(&bytes[..error.valid_up_to()]).unwrap_or_default();
    let line_start = valid.rfind('\n').map_or(0, |newline| newline + 1);
    let invalid_byte = bytes[error.valid_up_to()];
    Diagnostic {
        line: valid.matches('\n').count() as u64 + 1,
        column: valid[line_start..].chars().count() as u64 + 1,
        key: String::new(),
        message: format!("the file is not valid UTF-8 (byte 0x{invalid_byte:02x})"),
        hint: Some("save the suite as UTF-8".to_owned()),
        source_line: None,
    }
}

/// Validates suite text as if it were read from `path` (used by `load` and by tests).
pub fn parse(path: &Path, text: &str) -> Result<Suite, SuiteError> {
    let hash = format!("sha256:{:x}", Sha256::digest(text.as_bytes()));
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "suite".to_owned());
    validate::validate(text, &stem)
        .map(|validated| Suite {
            name: validated.name,
            description: validated.description,
            path: path.to_owned(),
            hash,
            cases: validated.cases,
        })
        .map_err(|diagnostics| SuiteError::Invalid {
            path: path.to_owned(),
            diagnostics,
        })
}
