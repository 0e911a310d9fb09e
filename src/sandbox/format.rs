//! The format stage's tool: rustfmt on answers, many files per rustfmt process, each answer
//! judged exactly as if rustfmt had been run on it alone.
//!
//! A rustfmt process costs far more to start than to format a small answer, so answers go to
//! rustfmt in batches: one file each in a fresh folder with an unguessable name, all named on
//! one command line, formatted to stdout. rustfmt writes every file it formatted after a
//! `<path>:` header, so each answer's formatted text is read back from between the headers.
//! Whatever a batch cannot say for sure — a file that did not parse, a message on stderr, a
//! missing header, a timeout, output past the cap — is settled by rustfmt on that answer
//! alone, which is what every answer got before batching and is still the reference.

use super::process::{self, Job};
use super::Sandbox;
use rayon::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Answers per rustfmt process at most: start-up (~40 ms) is paid once for this many small
/// answers, and a run's answers still spread over every job.
const MAX_BATCH: usize = 64;

/// Output kept from a batch beyond the answers' own size: headers and rustfmt's reflowing.
const BATCH_OUTPUT_SLACK: usize = 1 << 20;

/// One answer for rustfmt.
#[derive(Debug, Clone, Copy)]
pub struct FormatRequest<'a> {
    pub code: &'a str,
    pub edition: &'a str,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formatted {
    /// rustfmt parsed the code.
    pub accepted: bool,
    /// rustfmt would not change a byte.
    pub already_formatted: bool,
    pub diagnostics: String,
    /// This answer's share of the rustfmt time it took part in.
    pub elapsed: Duration,
}

impl Sandbox {
    /// Runs rustfmt on every request; returns one verdict per request, in order. rustfmt only
    /// parses, so no code runs.
    pub fn rustfmt_all(&self, requests: &[FormatRequest]) -> std::io::Result<Vec<Formatted>> {
        // One edition per rustfmt process; answers that could pull other files in (`mod x;`)
        // or could be skipped by rustfmt are formatted alone.
        let mut alone = Vec::new();
        let mut by_edition: Vec<(&str, Vec<usize>)> = Vec::new();
        for (index, request) in requests.iter().enumerate() {
            if !may_share_a_process(request.code) {
                alone.push(index);
            } else if let Some((_, group)) = by_edition
                .iter_mut()
                .find(|(edition, _)| *edition == request.edition)
            {
                group.push(index);
            } else {
                by_edition.push((request.edition, vec![index]));
            }
        }
        // Whole rounds of one batch per job, none larger than MAX_BATCH.
        let mut batches: Vec<Vec<usize>> = Vec::new();
        for (_, group) in by_edition {
            let count = group
                .len()
                .div_ceil(MAX_BATCH)
                .next_multiple_of(self.jobs)
                .min(group.len());
            let size = group.len().div_ceil(count);
            batches.extend(group.chunks(size).map(<[usize]>::to_vec));
        }
        batches.extend(alone.into_iter().map(|index| vec![index]));

        let judged: Vec<Vec<(usize, Formatted)>> = batches
            .par_iter()
            .map(|batch| self.rustfmt_batch(requests, batch))
            .collect::<std::io::Result<_>>()?;
        // Every request is in exactly one batch, so its verdict is found exactly once.
        let mut verdicts: Vec<(usize, Formatted)> = judged.into_iter().flatten().collect();
        verdicts.sort_unstable_by_key(|(index, _)| *index);
        Ok(verdicts
            .into_iter()
            .map(|(_, formatted)| formatted)
            .collect())
    }

    /// Judges `batch` (indices into `requests`, one edition) with as few rustfmt processes as
    /// the answers allow.
    fn rustfmt_batch(
        &self,
        requests: &[FormatRequest],
        batch: &[usize],
    ) -> std::io::Result<Vec<(usize, Formatted)>> {
        if let [index] = batch {
            let request = requests[*index];
            let formatted = self.rustfmt(request.code, request.edition, request.timeout)?;
            return Ok(vec![(*index, formatted)]);
        }
        let started = Instant::now();
        let folder = tempfile::Builder::new()
            .prefix("batch-")
            .rand_bytes(16)
            .tempdir_in(self.scratch_dir("format")?)?;
        let files: Vec<PathBuf> = batch
            .iter()
            .map(|index| folder.path().join(format!("answer_{index}.rs")))
            .collect();
        for (index, file) in batch.iter().zip(&files) {
            std::fs::write(file, requests[*index].code)?;
        }
        let timeout = batch
            .iter()
            .map(|&index| requests[index].timeout)
            .max()
            .unwrap_or_default();
        let mut job = Job::new(&self.toolchain.rustfmt, &self.root, timeout)
            .envs(self.build_env())
            .args(["--edition", requests[batch[0]].edition, "--emit", "stdout"])
            .args(&files);
        job.output_cap = batch
            .iter()
            .map(|&index| 2 * requests[index].code.len())
            .sum::<usize>()
            + BATCH_OUTPUT_SLACK;
        let finished = process::run(&job)?;

        let texts = if finished.timed_out() || finished.truncated {
            vec![None; files.len()]
        } else {
            formatted_texts(&finished.stdout, &files)
        };
        // A file is settled here only when rustfmt wrote its text and said nothing about it.
        let settled = |position: usize| {
            texts[position].is_some()
                && !finished
                    .stderr
                    .contains(&*files[position].to_string_lossy())
        };
        let clean = finished.success() && finished.stderr.is_empty();
        let share = started.elapsed() / batch.len() as u32;
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut unsettled = Vec::new();
        let mut retry = Vec::new();
        for (position, &index) in batch.iter().enumerate() {
            if let (true, Some(text)) = (clean, &texts[position]) {
                outcomes.push((
                    index,
                    Formatted {
                        accepted: true,
                        already_formatted: text == requests[index].code,
                        diagnostics: String::new(),
                        elapsed: share,
                    },
                ));
            } else if settled(position) {
                // Its neighbour's trouble may have hidden something about it: ask again
                // without the neighbours that caused it.
                retry.push(index);
            } else {
                unsettled.push(index);
            }
        }
        drop(folder);

        // The rest is asked again: each unsettled answer alone, the settled ones together.
        let mut asked_again: Vec<Vec<usize>> =
            unsettled.into_iter().map(|index| vec![index]).collect();
        if asked_again.is_empty() {
            // Nothing could be pinned on any file: each answer is judged alone.
            asked_again.extend(retry.into_iter().map(|index| vec![index]));
        } else if !retry.is_empty() {
            asked_again.push(retry);
        }
        let answered: Vec<Vec<(usize, Formatted)>> = asked_again
            .par_iter()
            .map(|answers| self.rustfmt_batch(requests, answers))
            .collect::<std::io::Result<_>>()?;
        for (index, mut formatted) in answered.into_iter().flatten() {
            formatted.elapsed += share;
            outcomes.push((index, formatted));
        }
        Ok(outcomes)
    }

    /// Runs rustfmt on `code` alone; rustfmt only parses, so the code never runs.
    pub fn rustfmt(
        &self,
        code: &str,
        edition: &str,
        timeout: Duration,
    ) -> std::io::Result<Formatted> {
        let started = Instant::now();
        // rustfmt reads a file here rather than stdin because our process module gives
        // every child a null stdin.
        let mut file = tempfile::Builder::new()
            .suffix(".rs")
            .tempfile_in(self.scratch_dir("format")?)?;
        file.write_all(code.as_bytes())?;
        let mut job = Job::new(&self.toolchain.rustfmt, &self.root, timeout)
            .envs(self.build_env())
            .args(["--edition", edition, "--emit", "stdout", "--quiet"])
            .arg(file.path());
        // rustfmt prints the whole answer back: a cap below its size would stop it mid-way and
        // fail a sound answer (a megabyte comment is still Rust).
        job.output_cap = 2 * code.len() + BATCH_OUTPUT_SLACK;
        let finished = process::run(&job)?;
        if finished.timed_out() {
            return Ok(Formatted {
                accepted: false,
                already_formatted: false,
                diagnostics: format!("rustfmt timed out after {}s", timeout.as_secs()),
                elapsed: started.elapsed(),
            });
        }
        let accepted = finished.success();
        Ok(Formatted {
            accepted,
            already_formatted: accepted && finished.stdout == code,
            diagnostics: finished
                .stderr
                .replace(&file.path().display().to_string(), "src/lib.rs"),
            elapsed: started.elapsed(),
        })
    }
}

/// Whether rustfmt's verdict on `code` can be read from a batch. rustfmt also formats the
/// files that out-of-line modules (`mod name;`) name, and it writes nothing at all for a file
/// that opts out with a `rustfmt` attribute; both would blur what the batch says about this
/// answer. The check is on text, not tokens, so it errs towards formatting an answer alone:
/// every `mod` keyword must be followed by a name and `{`, nothing in between.
fn may_share_a_process(code: &str) -> bool {
    if code.contains("rustfmt") {
        return false;
    }
    let is_identifier = |c: char| c.is_alphanumeric() || c == '_';
    let mut rest = code;
    while let Some(found) = rest.find("mod") {
        let before = rest[..found].chars().next_back();
        let after = &rest[found + 3..];
        rest = after;
        if before.is_some_and(|c| is_identifier(c) || c == '#') || after.starts_with(is_identifier)
        {
            continue;
        }
        let name_and_brace = after.trim_start();
        let brace = name_and_brace
            .trim_start_matches(is_identifier)
            .trim_start();
        let has_name = brace.len() < name_and_brace.len();
        if !(has_name && brace.starts_with('{')) {
            return false;
        }
    }
    true
}

/// Each file's formatted text from rustfmt's stdout, where rustfmt wrote one: the text runs
/// from the file's `<path>:` header to the next header of ours. The folder's random name keeps
/// an answer from forging a neighbour's header.
fn formatted_texts(stdout: &str, files: &[PathBuf]) -> Vec<Option<String>> {
    let headers: Vec<String> = files.iter().map(|file| header(file)).collect();
    let mut starts: Vec<(usize, usize)> = headers
        .iter()
        .enumerate()
        .filter_map(|(position, header)| {
            let mut found = stdout.match_indices(header.as_str());
            let (at, _) = found.next()?;
            // A header seen twice cannot be told apart from text: the file is judged alone.
            found.next().is_none().then_some((at, position))
        })
        .collect();
    starts.sort_unstable();
    let mut texts = vec![None; files.len()];
    for (order, &(at, position)) in starts.iter().enumerate() {
        let begin = at + headers[position].len();
        let end = starts
            .get(order + 1)
            .map_or(stdout.len(), |&(next, _)| next);
        texts[position] = Some(stdout[begin..end].to_owned());
    }
    texts
}

/// What rustfmt writes before a file's text when it formats more than one.
fn header(file: &Path) -> String {
    format!("{}:\n\n", file.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox(jobs: usize) -> (tempfile::TempDir, Sandbox) {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = Sandbox::open(dir.path(), jobs).unwrap();
        (dir, sandbox)
    }

    /// Answers that probe every way a batch could disagree with rustfmt on one file.
    const AWKWARD_ANSWERS: &[&str] = &[
        "fn f() -> u8 {\n    1\n}\n",
        "fn f()->u8{1}",
        "fn f( {",
        "fn f() {}",
        "fn f() {}\r\n",
        "\u{feff}fn f() {}\n",
        "// only a comment\n",
        "",
        "\n",
        "// @generated\nfn f(){}\n",
        "fn f() {}\n\n\n",
        "fn f() {}   \n",
        "#![rustfmt::skip]\nfn f(){}\n",
        "#[rustfmt::skip]\nfn f(){}\n",
        "mod missing;\nfn f() {}\n",
        "#[path = \"/etc/hostname\"]\nmod host;\n",
        "mod inline {\n    pub fn f() {}\n}\n",
        "pub mod /* { */ sneaky;\n",
        "fn f() { let s = \"answer_0.rs:\\n\\n\"; }\n",
        "fn f() {\n    let x = \"                                                                                                                  \";\n}\n",
        "macro_rules! m { ($x:expr) => { $x } }\nfn f() -> u8 { m!(1) }\n",
        "fn f() { let _ = 'a; }\n",
        "async fn f() {}\n",
        "fn main() {\n    let r#mod = 1;\n    let _ = r#mod;\n}\n",
        "struct S;\nimpl S {\n    fn model(&self) -> u8 {\n        1\n    }\n}\n",
    ];

    #[test]
    fn batched_verdicts_match_rustfmt_on_each_answer_alone() {
        let (_dir, sandbox) = sandbox(2);
        for edition in ["2015", "2021"] {
            let requests: Vec<FormatRequest> = AWKWARD_ANSWERS
                .iter()
                .map(|code| FormatRequest {
                    code,
                    edition,
                    timeout: Duration::from_secs(30),
                })
                .collect();
            let batched = sandbox.rustfmt_all(&requests).unwrap();
            for (request, batched) in requests.iter().zip(batched) {
                let alone = sandbox
                    .rustfmt(request.code, edition, request.timeout)
                    .unwrap();
                assert_eq!(
                    (
                        batched.accepted,
                        batched.already_formatted,
                        batched.diagnostics
                    ),
                    (alone.accepted, alone.already_formatted, alone.diagnostics),
                    "edition {edition}, answer {:?}",
                    request.code
                );
            }
        }
    }

    #[test]
    fn an_answer_that_does_not_parse_fails_only_itself() {
        let (_dir, sandbox) = sandbox(1);
        let codes = ["fn a() {}\n", "fn b( {", "fn c()->u8{1}", "fn d() {}\n"];
        let requests: Vec<FormatRequest> = codes
            .iter()
            .map(|code| FormatRequest {
                code,
                edition: "2021",
                timeout: Duration::from_secs(30),
            })
            .collect();
        let verdicts: Vec<(bool, bool)> = sandbox
            .rustfmt_all(&requests)
            .unwrap()
            .into_iter()
            .map(|formatted| (formatted.accepted, formatted.already_formatted))
            .collect();
        assert_eq!(
            verdicts,
            [(true, true), (false, false), (true, false), (true, true)]
        );
    }

    #[test]
    fn module_declarations_that_pull_in_files_are_formatted_alone() {
        assert!(may_share_a_process("mod tests {\n}\n"));
        assert!(may_share_a_process("fn model() {}\nlet modulo = 1;"));
        assert!(!may_share_a_process("mod tests;"));
        assert!(!may_share_a_process("pub(crate) mod a ;"));
        assert!(!may_share_a_process("mod a /* { */;"));
        assert!(!may_share_a_process("mod r#a;"));
        assert!(!may_share_a_process("#![rustfmt::skip]"));
    }

    #[test]
    fn texts_are_read_between_headers_and_missing_ones_stay_unknown() {
        let files = [PathBuf::from("/b/x_1.rs"), PathBuf::from("/b/x_11.rs")];
        let stdout = "/b/x_11.rs:\n\nfn b() {}\n/b/x_1.rs:\n\nfn a() {}\n";
        assert_eq!(
            formatted_texts(stdout, &files),
            [
                Some("fn a() {}\n".to_owned()),
                Some("fn b() {}\n".to_owned())
            ]
        );
        assert_eq!(
            formatted_texts("/b/x_11.rs:\n\nfn b() {}\n", &files),
            [None, Some("fn b() {}\n".to_owned())]
        );
    }

    #[test]
    fn clean_code_is_accepted_and_already_formatted() {
        let (_dir, sandbox) = sandbox(1);
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
        let (_dir, sandbox) = sandbox(1);
        let formatted = sandbox
            .rustfmt("fn f()->u8{1}", "2021", Duration::from_secs(10))
            .unwrap();
        assert!(formatted.accepted && !formatted.already_formatted);
    }

    #[test]
    fn code_that_does_not_parse_is_rejected_with_a_diagnostic() {
        let (_dir, sandbox) = sandbox(1);
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
