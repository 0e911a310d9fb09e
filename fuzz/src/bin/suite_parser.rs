//! Fuzz target: any bytes as a suite file, through parsing, validation and error rendering.
//!
//! A panic anywhere is a finding; so is a diagnostic that points outside the file.

use cargo_llm_bench::suite::{self, SuiteError};
use std::path::Path;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        match suite::parse(Path::new("fuzz.yaml"), text) {
            Ok(parsed) => assert!(!parsed.cases.is_empty(), "a valid suite has cases"),
            Err(error) => {
                let rendered = error.to_string();
                assert!(
                    rendered.starts_with("invalid suite fuzz.yaml"),
                    "{rendered}"
                );
                if let SuiteError::Invalid { diagnostics, .. } = error {
                    // YAML ends lines at `\n`, `\r\n` and a lone `\r`.
                    let lines = text.split(['\n', '\r']).count() as u64;
                    for diagnostic in diagnostics {
                        if diagnostic.message.starts_with("YAML syntax error") {
                            assert!(diagnostic.source_line.is_some(), "{diagnostic:?}");
                        }
                        assert!(
                            (1..=lines).contains(&diagnostic.line) && diagnostic.column >= 1,
                            "{diagnostic:?} is outside a file of {lines} lines"
                        );
                    }
                }
            }
        }
    });
}
