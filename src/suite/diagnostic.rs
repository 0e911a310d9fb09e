//! Problems in a suite or config file with their location, rendered as
//! `file:line:col: key: what is wrong`.

use std::fmt;
use std::path::PathBuf;

/// One problem in a suite or config file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub line: u64,
    pub column: u64,
    /// The dotted path of the offending key, e.g. `cases[3].timeout`.
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
    /// The offending line, shown under the message with a caret (for syntax errors, where
    /// the position is all there is to go on).
    pub source_line: Option<String>,
}

impl Diagnostic {
    pub fn file_level(message: &str) -> Diagnostic {
        Diagnostic {
            line: 1,
            column: 1,
            key: String::new(),
            message: message.to_owned(),
            hint: None,
            source_line: None,
        }
    }
}

/// How many problems of one file are listed; the rest are counted. A generated suite with a
/// systematic mistake would otherwise print one line per case.
const SHOWN_DIAGNOSTICS: usize = 50;

/// How many characters either side of the column an excerpt shows, so a 10 MB line prints as
/// one short line.
const EXCERPT_RADIUS: usize = 60;

#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("cannot read suite {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", render_diagnostics("suite", path, diagnostics))]
    Invalid {
        path: PathBuf,
        diagnostics: Vec<Diagnostic>,
    },
}

/// `invalid WHAT FILE (N problems)` and one located line per problem, with an excerpt where
/// the diagnostic carries its source line.
pub fn render_diagnostics(
    what: &str,
    path: &std::path::Path,
    diagnostics: &[Diagnostic],
) -> String {
    let mut text = format!(
        "invalid {what} {} ({} problem{})",
        path.display(),
        diagnostics.len(),
        if diagnostics.len() == 1 { "" } else { "s" }
    );
    for diagnostic in diagnostics.iter().take(SHOWN_DIAGNOSTICS) {
        text.push_str(&format!("\n  {}", DisplayAt(path, diagnostic)));
        if let Some(line) = &diagnostic.source_line {
            text.push_str(&excerpt(line, diagnostic.line, diagnostic.column));
        }
    }
    if diagnostics.len() > SHOWN_DIAGNOSTICS {
        text.push_str(&format!(
            "\n  ... and {} more",
            diagnostics.len() - SHOWN_DIAGNOSTICS
        ));
    }
    text
}

/// The line under a gutter with its number, and a caret under the column, cropped around it.
fn excerpt(line: &str, line_number: u64, column: u64) -> String {
    let column = usize::try_from(column.saturating_sub(1)).unwrap_or(usize::MAX);
    let start = column.saturating_sub(EXCERPT_RADIUS);
    // Tabs become spaces so the caret lines up whatever the terminal's tab width.
    let shown: String = line
        .chars()
        .skip(start)
        .take(2 * EXCERPT_RADIUS)
        .map(|c| if c == '\t' || c.is_control() { ' ' } else { c })
        .collect();
    let (open, close) = (
        if start > 0 { "..." } else { "" },
        if line.chars().count() > start + 2 * EXCERPT_RADIUS {
            "..."
        } else {
            ""
        },
    );
    let number = line_number.to_string();
    let gutter = " ".repeat(number.len());
    let caret_at = open.len() + column - start;
    format!(
        "\n   {gutter} |\n   {number} | {open}{shown}{close}\n   {gutter} | {}^",
        " ".repeat(caret_at)
    )
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
