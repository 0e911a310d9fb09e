//! Error kinds that decide the process exit code, and the one error renderer.

use std::fmt;

/// Exit codes documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// Everything passed.
    Success = 0,
    /// A gate failed: a score below `--min-score`, or a reference that fails `validate`.
    GateFailed = 1,
    /// Invalid suite, config or flags.
    BadInput = 2,
    /// A provider could not be used (unreachable, auth, model missing).
    ProviderUnavailable = 3,
    /// A bug or an environment problem (cannot spawn cargo, disk full, ...).
    Internal = 101,
}

/// An error that carries the exit code it should end the process with.
///
/// Commands wrap errors in it at the edge; anything else that reaches `main` is internal.
#[derive(Debug)]
pub struct Classified {
    pub kind: ExitKind,
    pub error: anyhow::Error,
    pub hint: Option<String>,
}

impl fmt::Display for Classified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)
    }
}

impl std::error::Error for Classified {}

/// Marks an error as bad user input (exit 2), with an optional hint on what to do.
pub fn bad_input(error: impl Into<anyhow::Error>, hint: Option<String>) -> anyhow::Error {
    Classified {
        kind: ExitKind::BadInput,
        error: error.into(),
        hint,
    }
    .into()
}

/// Marks an error as an unusable provider (exit 3).
pub fn provider_unavailable(
    error: impl Into<anyhow::Error>,
    hint: Option<String>,
) -> anyhow::Error {
    Classified {
        kind: ExitKind::ProviderUnavailable,
        error: error.into(),
        hint,
    }
    .into()
}

/// Renders an error the way uv and nextest do: `error: …`, then `Caused by:` lines, then a hint.
pub fn render(error: &anyhow::Error) -> (ExitKind, String) {
    let (kind, inner, hint) = match error.downcast_ref::<Classified>() {
        Some(classified) => (classified.kind, &classified.error, classified.hint.clone()),
        None => (ExitKind::Internal, error, None),
    };
    let mut text = format!("error: {inner}\n");
    let causes: Vec<String> = inner
        .chain()
        .skip(1)
        .map(|cause| cause.to_string())
        .collect();
    if !causes.is_empty() {
        text.push_str("\nCaused by:\n");
        for cause in causes {
            text.push_str(&format!("  {cause}\n"));
        }
    }
    if let Some(hint) = hint {
        text.push_str(&format!("\nhint: {hint}\n"));
    }
    (kind, text)
}
