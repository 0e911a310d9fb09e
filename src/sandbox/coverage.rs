//! The coverage stage's reader: LLVM profiles parsed in process with `llvm_profparser`, so no
//! LLVM tools (rustup's llvm-tools) are needed.

use llvm_profparser::{merge_profiles, CoverageMapping, CoverageResult};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Covered and coverable lines of one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCoverage {
    pub covered: u32,
    pub total: u32,
}

impl LineCoverage {
    /// The covered fraction; an answer with no coverable lines (only types, say) is fully covered.
    pub fn ratio(self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            f64::from(self.covered) / f64::from(self.total)
        }
    }
}

/// One answer whose coverage to read from a shared binary.
#[derive(Debug, Clone)]
pub struct CoverageQuery<'a> {
    /// The answer's file, as the build named it (relative paths match by suffix).
    pub source_file: &'a Path,
    /// Only lines 1..=answer_lines count: the hidden tests follow the answer in the same file.
    pub answer_lines: usize,
    /// The answer's source text, to leave blank and comment-only lines out.
    pub source: &'a str,
}

/// Reads the profiles written by runs of one binary and reports each query's line coverage.
///
/// Answers in one binary live in separate modules and cannot call each other, so merging the
/// profiles of all runs and reading each answer's file gives each answer's own coverage.
pub fn measure(
    binary: &Path,
    profiles: &[PathBuf],
    queries: &[CoverageQuery],
) -> anyhow::Result<Vec<LineCoverage>> {
    let profile = merge_profiles(profiles)?;
    let objects = [binary.to_owned()];
    let mapping = CoverageMapping::new(&objects, &profile, true)?;
    let report = mapping.generate_report()?;
    Ok(queries
        .iter()
        .map(|query| {
            report
                .files
                .iter()
                .find(|(path, _)| path.ends_with(query.source_file))
                .map(|(_, result)| count_lines(result, query))
                .unwrap_or(LineCoverage {
                    covered: 0,
                    total: 0,
                })
        })
        .collect())
}

/// Line coverage in the manner of llvm-cov: a line counts when a region covers it; its count
/// is the largest among regions starting on it, else that of the innermost region around it.
fn count_lines(result: &CoverageResult, query: &CoverageQuery) -> LineCoverage {
    let mut line_hits: BTreeMap<usize, (usize, bool)> = BTreeMap::new();
    let lines: Vec<&str> = query.source.lines().collect();
    for (location, &hits) in &result.hits {
        let first = location.line_start.max(1);
        let last = location.line_end.min(query.answer_lines);
        for line in first..=last {
            let starts_here = line == location.line_start;
            let entry = line_hits.entry(line).or_insert((hits, starts_here));
            match (entry.1, starts_here) {
                (false, true) => *entry = (hits, true),
                (true, true) => entry.0 = entry.0.max(hits),
                // Regions are visited outermost first, so a later enclosing region is inner.
                (false, false) => entry.0 = hits,
                (true, false) => {}
            }
        }
    }
    let mut coverage = LineCoverage {
        covered: 0,
        total: 0,
    };
    for (line, (hits, _)) in line_hits {
        let text = lines.get(line - 1).map_or("", |text| text.trim());
        if text.is_empty() || text.starts_with("//") || text == "}" || text == "{" {
            continue;
        }
        coverage.total += 1;
        if hits > 0 {
            coverage.covered += 1;
        }
    }
    coverage
}
