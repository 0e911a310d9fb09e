//! Settling blame: each member of a built chunk gets its outcome, or goes back to be built
//! again (alone, or without the answers an error was pinned on).

use super::chunks::{Chunk, HIDDEN_MODULE};
use super::messages::ChunkReport;
use super::workspace::hidden_declaration;
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
    // Say it as if the answer were the crate: no scratch paths, no module of ours in names,
    // none of our text in the answer's quoted lines.
    let rewrite = |text: &str, member: &Member| {
        let text = without_declaration(text, &hidden_declaration(&chunk, member));
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

/// rustc's rendering without the hidden tests' declaration that test builds put before the
/// answer's first item: the quoted line loses it, the carets under that line move back by its
/// width, and so does the column of every location on that line.
fn without_declaration(rendered: &str, declaration: &str) -> String {
    if !rendered.contains(declaration) {
        return rendered.to_owned();
    }
    let width = declaration.chars().count();
    let mut lines_holding_it = Vec::new();
    let mut out = Vec::new();
    // Where the declaration began in the last quoted line that held it.
    let mut removed_at: Option<usize> = None;
    for line in rendered.lines() {
        if let Some(at) = line.find(declaration) {
            let number = line.trim_start().split(' ').next().unwrap_or_default();
            if number.bytes().all(|b| b.is_ascii_digit()) {
                lines_holding_it.push(number.to_owned());
            }
            out.push(line.replacen(declaration, "", 1));
            removed_at = Some(at);
            continue;
        }
        match removed_at {
            // An annotation line under the quoted one: `  |     ^^^ label`.
            Some(at) if line.trim_start().starts_with('|') => {
                let blank = line
                    .get(at..at + declaration.len())
                    .is_some_and(|span| span.bytes().all(|b| b == b' '));
                if blank {
                    out.push(format!(
                        "{}{}",
                        &line[..at],
                        &line[at + declaration.len()..]
                    ));
                } else {
                    out.push(line.to_owned());
                }
            }
            _ => {
                removed_at = None;
                out.push(line.to_owned());
            }
        }
    }
    let mut text = out.join("\n");
    if rendered.ends_with('\n') {
        text.push('\n');
    }
    // `file.rs:LINE:COLUMN` on a line that held the declaration points past it.
    for number in lines_holding_it {
        let mut fixed = String::with_capacity(text.len());
        let mut rest = text.as_str();
        let marker = format!(".rs:{number}:");
        while let Some(at) = rest.find(&marker) {
            let (before, after) = rest.split_at(at + marker.len());
            fixed.push_str(before);
            let digits = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            match after[..digits].parse::<usize>() {
                Ok(column) if column > width => fixed.push_str(&(column - width).to_string()),
                _ => fixed.push_str(&after[..digits]),
            }
            rest = &after[digits..];
        }
        fixed.push_str(rest);
        text = fixed;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hidden_tests_declaration_leaves_no_trace_in_the_answers_quoted_lines() {
        let declaration = "#[cfg(test)] #[path = \"case_0_hidden.rs\"] mod llm_bench_hidden; ";
        let pad = " ".repeat(declaration.len());
        let rendered = format!(
            "note: function defined here\n --> chunk_0/src/case_0.rs:1:{}\n  |\n1 | {declaration}pub fn add(a: i32, b: i32) -> i32 {{\n  | {pad}       ^^^\n\n",
            declaration.len() + 8
        );
        assert_eq!(
            without_declaration(&rendered, declaration),
            "note: function defined here\n --> chunk_0/src/case_0.rs:1:8\n  |\n1 | pub fn add(a: i32, b: i32) -> i32 {\n  |        ^^^\n\n"
        );
    }

    #[test]
    fn text_without_the_declaration_is_left_alone() {
        let rendered = "error[E0308]: mismatched types\n --> src/lib.rs:1:70\n";
        assert_eq!(without_declaration(rendered, "mod x; "), rendered);
    }
}
