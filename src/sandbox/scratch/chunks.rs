//! Planning: which answers share a crate, and the names of crates and their files.

use super::Member;
use std::collections::BTreeMap;

/// Answers per chunk crate at most: big enough to amortize rustc's start-up and the test
/// harness's link, small enough that a chunk rebuilt without a broken answer stays cheap.
const MAX_CHUNK: usize = 80;

/// The module the hidden tests of an answer live in, a child of the answer's module.
pub(super) const HIDDEN_MODULE: &str = "llm_bench_hidden";

/// One crate of the workspace.
#[derive(Debug)]
pub(super) struct Chunk<'a> {
    pub name: String,
    pub members: Vec<&'a Member>,
    /// A lone answer that cannot live in a module (it uses `crate::` paths, crate attributes, ...)
    /// is the crate root itself.
    pub at_root: bool,
}

impl Chunk<'_> {
    /// The answer's file, relative to the workspace.
    pub fn source_path(&self, member: &Member) -> String {
        format!("{}/src/{}.rs", self.name, self.file_stem(member))
    }

    /// The file of the answer's hidden tests, relative to the workspace.
    pub fn hidden_path(&self, member: &Member) -> String {
        format!("{}/src/{}_hidden.rs", self.name, self.file_stem(member))
    }

    pub fn file_stem(&self, member: &Member) -> String {
        if self.at_root {
            "lib".to_owned()
        } else {
            format!("case_{}", member.id)
        }
    }

    /// The path prefix of the member's hidden tests in the test binary.
    pub fn hidden_test_prefix(&self, member: &Member) -> String {
        if self.at_root {
            format!("{HIDDEN_MODULE}::")
        } else {
            format!("case_{}::{HIDDEN_MODULE}::", member.id)
        }
    }
}

/// Whether an answer can live as a module among others. Code that names the crate root or its
/// parent, sets crate attributes, exports macros, pulls in files or places symbols for the
/// linker could reach or disturb its neighbours, so it builds as a crate of its own.
fn fits_in_module(answer: &str) -> bool {
    const REACHES_OUTSIDE: &[&str] = &[
        "crate::",
        "super::",
        "macro_export",
        "$crate",
        "include!",
        "include_str!",
        "include_bytes!",
        "#[path",
        "link_section",
        "#[used",
        "no_mangle",
        "export_name",
        "global_allocator",
        "#[link",
    ];
    let crate_attribute = answer.lines().any(|line| {
        let line = line.trim_start();
        line.starts_with("#![")
            && ![
                "#![allow(",
                "#![warn(",
                "#![deny(",
                "#![forbid(",
                "#![expect(",
            ]
            .iter()
            .any(|lint| line.starts_with(lint))
    });
    !crate_attribute && !REACHES_OUTSIDE.iter().any(|marker| answer.contains(marker))
}

/// A short stable name for a set of dependencies.
pub(super) fn dependency_key(dependencies: &BTreeMap<String, String>) -> String {
    use sha2::{Digest, Sha256};
    if dependencies.is_empty() {
        return "std".to_owned();
    }
    let digest = Sha256::digest(format!("{dependencies:?}").as_bytes());
    format!("deps-{}", &format!("{digest:x}")[..12])
}

pub(super) fn plan_chunks<'a>(members: &[&'a Member], jobs: usize) -> Vec<Chunk<'a>> {
    // Answers of one edition may share a crate (a workspace has one set of dependencies).
    let mut groups: BTreeMap<&str, Vec<&Member>> = BTreeMap::new();
    let mut chunks = Vec::new();
    for member in members {
        // Hidden tests that name the crate root need the answer to be the root.
        let tests_name_the_root = member
            .tests
            .as_deref()
            .is_some_and(|tests| tests.contains("crate::"));
        if fits_in_module(&member.answer) && !tests_name_the_root {
            groups
                .entry(member.edition.as_str())
                .or_default()
                .push(member);
        } else {
            chunks.push(vec![*member]);
        }
    }
    let solo = chunks.len();
    for group in groups.into_values() {
        // Whole rounds of one chunk per job: every chunk costs a rustc start and a link, and a
        // last round with fewer chunks than jobs leaves cores idle (120 answers on 2 jobs build
        // in 2 chunks about a third faster than in 3).
        let n_chunks = group
            .len()
            .div_ceil(MAX_CHUNK)
            .next_multiple_of(jobs)
            .min(group.len());
        let size = group.len().div_ceil(n_chunks);
        chunks.extend(group.chunks(size).map(<[&Member]>::to_vec));
    }
    chunks
        .into_iter()
        .enumerate()
        .map(|(index, members)| Chunk {
            name: format!("chunk_{index}"),
            at_root: index < solo,
            members,
        })
        .collect()
}
