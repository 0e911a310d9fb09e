//! Settling blame: each member of a built chunk gets its outcome, or goes back to be built
//! again (alone, or without the answers an error was pinned on).

use super::chunks::{Chunk, HIDDEN_MODULE};
use super::messages::ChunkReport;
use super::{BuildOutcome, Compiled, Member};
use std::path::PathBuf;
use std::time::Duration;

/// Whether cargo reports that a limit stopped the compiler of `chunk` (it ran past its CPU
/// time, or was killed).
pub(super) fn compiler_stopped(cargo_stderr: &str, chunk: &str) -> bool {
    cargo_stderr.split("could not compile `").any(|block| {
        block.starts_with(&format!("{chunk}`"))
            && (block.contains("SIGXCPU") || block.contains("SIGKILL"))
    })
}

/// Records outcomes for a chunk's members and returns the chunks that must be built again.
pub(super) fn settle_chunk<'a>(
    chunk: Chunk<'a>,
    mut report: ChunkReport,
    stopped: Option<&str>,
    cargo_stderr: &str,
    share: Duration,
    outcomes: &mut Vec<BuildOutcome>,
) -> Vec<Chunk<'a>> {
    // Say it as if the answer were the crate: no scratch paths, no module of ours in names.
    let rewrite = |text: &str, member: &Member| {
        text.replace(&chunk.source_path(member), "src/lib.rs")
            .replace(&chunk.hidden_path(member), "src/tests.rs")
            .replace(&chunk.hidden_test_prefix(member), "")
            .replace(&format!("{HIDDEN_MODULE}::"), "")
            .replace(&format!("case_{}::", member.id), "")
    };
    if let Some(executable) = report.artifact.take() {
        for member in &chunk.members {
            let warnings = report.warnings.remove(&member.id).unwrap_or_default();
            outcomes.push(BuildOutcome {
                member: member.id,
                compiled: Some(Compiled {
                    executable: executable.clone(),
                    test_filter: chunk.hidden_test_prefix(member),
                    source_file: PathBuf::from(chunk.source_path(member)),
                    hidden_file: PathBuf::from(chunk.hidden_path(member)),
                }),
                error_codes: Vec::new(),
                warnings: warnings.len() as u32,
                diagnostics: rewrite(&warnings.concat(), member),
                elapsed: share,
            });
        }
        return Vec::new();
    }
    // In a crate of several answers an error may be a neighbour's doing (trait impls that
    // clash, say), so blamed answers are built once more alone before they fail.
    let shared = chunk.members.len() > 1;
    let mut blamed = Vec::new();
    let mut remaining = Vec::new();
    for member in &chunk.members {
        match report.errors.remove(&member.id) {
            Some(_) if shared => blamed.push(*member),
            Some(errors) => {
                let mut error_codes: Vec<String> =
                    errors.iter().filter_map(|(code, _)| code.clone()).collect();
                error_codes.sort();
                error_codes.dedup();
                let rendered: String = errors.iter().map(|(_, text)| text.as_str()).collect();
                outcomes.push(BuildOutcome {
                    member: member.id,
                    compiled: None,
                    error_codes,
                    warnings: report
                        .warnings
                        .get(&member.id)
                        .map_or(0, |w| w.len() as u32),
                    diagnostics: rewrite(&rendered, member),
                    elapsed: share,
                });
            }
            None => remaining.push(*member),
        }
    }
    let alone = |suffix: &str, members: Vec<&'a Member>| -> Vec<Chunk<'a>> {
        members
            .into_iter()
            .enumerate()
            .map(|(index, member)| Chunk {
                name: format!("{}_{suffix}{index}", chunk.name),
                members: vec![member],
                at_root: chunk.at_root,
            })
            .collect()
    };
    let mut next = alone("b", blamed);
    if remaining.is_empty() {
        return next;
    }
    if !next.is_empty() && stopped.is_none() {
        // The blamed members are out; the others build again together.
        next.push(Chunk {
            name: chunk.name.clone(),
            members: remaining,
            at_root: chunk.at_root,
        });
        return next;
    }
    if remaining.len() > 1 {
        // Nothing could be pinned on anyone (a timeout, a linker error): each builds alone.
        next.extend(alone("", remaining));
        return next;
    }
    let member = remaining[0];
    let diagnostics = if let Some(reason) = stopped {
        format!("the build was stopped: {reason}")
    } else if report.unattributed.is_empty() {
        cargo_stderr
            .lines()
            .filter(|line| line.starts_with("error"))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        report.unattributed.concat()
    };
    outcomes.push(BuildOutcome {
        member: member.id,
        compiled: None,
        error_codes: Vec::new(),
        warnings: 0,
        diagnostics: rewrite(&diagnostics, member),
        elapsed: share,
    });
    next
}
