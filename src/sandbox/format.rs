//! The format stage's tool: rustfmt on one answer, read from stdin.

use super::process::{self, Job};
use super::Sandbox;
use std::io::Write;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formatted {
    /// rustfmt parsed the code.
    pub accepted: bool,
    /// rustfmt would not change a byte.
    pub already_formatted: bool,
    pub diagnostics: String,
}

impl Sandbox {
    /// Runs rustfmt on `code`; rustfmt only parses, so the code never runs.
    pub fn rustfmt(
        &self,
        code: &str,
        edition: &str,
        timeout: Duration,
    ) -> std::io::Result<Formatted> {
        // rustfmt reads a file here rather than stdin because our process module gives
        // every child a null stdin.
        let mut file = tempfile::Builder::new()
            .suffix(".rs")
            .tempfile_in(self.scratch_dir("format")?)?;
        file.write_all(code.as_bytes())?;
        let job = Job::new("rustfmt", &self.root, timeout)
            .envs(self.build_env())
            .args(["--edition", edition, "--emit", "stdout", "--quiet"])
            .arg(file.path());
        let finished = process::run(&job)?;
        if finished.timed_out() {
            return Ok(Formatted {
                accepted: false,
                already_formatted: false,
                diagnostics: format!("rustfmt timed out after {}s", timeout.as_secs()),
            });
        }
        let accepted = finished.success();
        Ok(Formatted {
            accepted,
            already_formatted: accepted && finished.stdout == code,
            diagnostics: finished
                .stderr
                .replace(&file.path().display().to_string(), "src/lib.rs"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox() -> (tempfile::TempDir, Sandbox) {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = Sandbox::open(dir.path(), 1).unwrap();
        (dir, sandbox)
    }

    #[test]
    fn clean_code_is_accepted_and_already_formatted() {
        let (_dir, sandbox) = sandbox();
        let formatted = sandbox
            .rustfmt(
                "fn f() -> u8 {\n    1\n}\n",
                "2021",
                Duration::from_secs(10),
            )
            .unwrap();
        assert!(formatted.accepted && formatted.already_formatted);
    }

    #[test]
    fn messy_code_is_accepted_but_not_already_formatted() {
        let (_dir, sandbox) = sandbox();
        let formatted = sandbox
            .rustfmt("fn f()->u8{1}", "2021", Duration::from_secs(10))
            .unwrap();
        assert!(formatted.accepted && !formatted.already_formatted);
    }

    #[test]
    fn code_that_does_not_parse_is_rejected_with_a_diagnostic() {
        let (_dir, sandbox) = sandbox();
        let formatted = sandbox
            .rustfmt("fn f( {", "2021", Duration::from_secs(10))
            .unwrap();
        assert!(!formatted.accepted);
        assert!(
            formatted.diagnostics.contains("src/lib.rs"),
            "{}",
            formatted.diagnostics
        );
    }
}
