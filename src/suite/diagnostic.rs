//! Suite problems with their location, rendered as `file:line:col: key: what is wrong`.

use std::fmt;
use std::path::PathBuf;

/// One problem in a suite file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub line: u64,
    pub column: u64,
    /// The dotted path of the offending key, e.g. `cases[3].timeout`.
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn file_level(message: &str) -> Diagnostic {
        Diagnostic {
            line: 1,
            column: 1,
            key: String::new(),
            message: message.to_owned(),
            hint: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("cannot read suite {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", render_invalid(path, diagnostics))]
    Invalid {
        path: PathBuf,
        diagnostics: Vec<Diagnostic>,
    },
}

fn render_invalid(path: &std::path::Path, diagnostics: &[Diagnostic]) -> String {
    let mut text = format!(
        "invalid suite {} ({} problem{})",
        path.display(),
        diagnostics.len(),
        if diagnostics.len() == 1 { "" } else { "s" }
    );
    for diagnostic in diagnostics {
        text.push_str(&format!("\n  {}", DisplayAt(path, diagnostic)));
    }
    text
}

/// `file:line:col: key: message (hint)`.
struct DisplayAt<'a>(&'a std::path::Path, &'a Diagnostic);

impl fmt::Display for DisplayAt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let DisplayAt(path, diagnostic) = self;
        write!(
            f,
            "{}:{}:{}: ",
            path.display(),
            diagnostic.line,
            diagnostic.column
        )?;
        if !diagnostic.key.is_empty() {
            write!(f, "{}: ", diagnostic.key)?;
        }
        f.write_str(&diagnostic.message)?;
        if let Some(hint) = &diagnostic.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}
