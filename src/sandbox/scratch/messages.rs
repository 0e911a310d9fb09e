//! Reading cargo's JSON: which chunk built, and whose file each diagnostic points at.

use super::chunks::Chunk;
use cargo_metadata::diagnostic::DiagnosticLevel;
use cargo_metadata::Message;
use std::collections::HashMap;
use std::path::PathBuf;

/// What cargo said about one chunk.
#[derive(Debug, Default)]
pub(super) struct ChunkReport {
    pub artifact: Option<Option<PathBuf>>,
    /// Rendered errors (with their codes) and warnings per member id, and unattributed errors.
    pub errors: HashMap<usize, Vec<(Option<String>, String)>>,
    pub warnings: HashMap<usize, Vec<String>>,
    pub unattributed: Vec<String>,
}

/// Sorts cargo's JSON messages by chunk and by the member whose file they point at.
pub(super) fn parse_messages(stdout: &str, chunks: &[Chunk]) -> HashMap<String, ChunkReport> {
    let mut reports: HashMap<String, ChunkReport> = HashMap::new();
    for message in Message::parse_stream(stdout.as_bytes()).flatten() {
        match message {
            Message::CompilerArtifact(artifact)
                if chunks.iter().any(|c| c.name == artifact.target.name) =>
            {
                let report = reports.entry(artifact.target.name.clone()).or_default();
                report.artifact = Some(artifact.executable.map(PathBuf::from));
            }
            Message::CompilerMessage(compiler_message) => {
                let Some(chunk) = chunks
                    .iter()
                    .find(|c| c.name == compiler_message.target.name)
                else {
                    continue;
                };
                let diagnostic = compiler_message.message;
                let rendered = diagnostic
                    .rendered
                    .clone()
                    .unwrap_or_else(|| diagnostic.message.clone());
                let member = diagnostic.spans.iter().find_map(|span| {
                    chunk.members.iter().find(|member| {
                        [chunk.source_path(member), chunk.hidden_path(member)]
                            .iter()
                            .any(|path| {
                                span.file_name.ends_with(path.as_str())
                                    || path.ends_with(&span.file_name)
                            })
                    })
                });
                let report = reports.entry(chunk.name.clone()).or_default();
                match (diagnostic.level, member) {
                    (DiagnosticLevel::Error | DiagnosticLevel::Ice, Some(member)) => {
                        let code = diagnostic.code.map(|code| code.code);
                        report
                            .errors
                            .entry(member.id)
                            .or_default()
                            .push((code, rendered));
                    }
                    (DiagnosticLevel::Error | DiagnosticLevel::Ice, None) => {
                        if diagnostic.spans.is_empty()
                            && diagnostic.message.starts_with("aborting due to")
                        {
                            continue;
                        }
                        report.unattributed.push(rendered);
                    }
                    (DiagnosticLevel::Warning, Some(member)) => {
                        report.warnings.entry(member.id).or_default().push(rendered);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    reports
}
