//! `cargo llm-bench merge`: the reports of `--partition` shares → the reports one unpartitioned
//! run would have written, identical apart from timings.
//!
//! The cases of every share are read back into the domain run and summarized again by the code
//! a run uses, against the suites reloaded from disk, so the merged summary is not an
//! approximation stitched from partial summaries.

use super::Outcome;
use crate::cli::{MergeSettings, OutputFormat};
use crate::error::{bad_input, ExitKind};
use crate::partition::Partition;
use crate::report::{self, ReadError, Report, RunInfo};
use crate::runner::ModelRun;
use crate::suite::{self, Suite, SuiteError};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Why shares cannot be merged; each names the files or the model at fault.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{} is not the report of a share: it has no `partition`", path.display())]
    NotAShare { path: PathBuf },
    #[error("{}: `partition` {message}", path.display())]
    BadPartition { path: PathBuf, message: String },
    #[error(
        "{} and {} are shares of {model} cut in {first_count} and in {count}",
        first.display(), path.display()
    )]
    MixedCounts {
        model: String,
        first: PathBuf,
        first_count: u32,
        path: PathBuf,
        count: u32,
    },
    #[error(
        "share {}/{} of {model} is given twice: {} and {}",
        share.index, share.count, first.display(), second.display()
    )]
    DuplicateShare {
        model: String,
        share: Partition,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("{model} lacks share {}", missing.join(", "))]
    MissingShares { model: String, missing: Vec<String> },
    #[error(
        "{} and {} are not shares of one run: their {what} differ ({first_value} and {value})",
        first.display(), path.display()
    )]
    Mismatch {
        what: &'static str,
        first: PathBuf,
        first_value: String,
        path: PathBuf,
        value: String,
    },
    #[error(
        "{} was written by {tool} {version}; this is {tool} {ours}, which would summarize it differently",
        path.display()
    )]
    ToolVersion {
        path: PathBuf,
        tool: String,
        version: String,
        ours: &'static str,
    },
    #[error("{} has a `created` time that is not RFC 3339: `{created}`", path.display())]
    Created { path: PathBuf, created: String },
    #[error("cannot reload suite `{name}` that the reports were scored on")]
    SuiteUnreadable {
        name: String,
        #[source]
        source: SuiteError,
    },
    #[error("the suite file {path} changed since the shares were scored (hash {now}, the reports say {then})")]
    SuiteChanged {
        path: String,
        then: String,
        now: String,
    },
    #[error(
        "{model} has `{suite}/{case}` sample {sample} in two shares: {} and {}",
        first.display(), second.display()
    )]
    DuplicateCase {
        model: String,
        suite: String,
        case: String,
        sample: u32,
        first: PathBuf,
        second: PathBuf,
    },
    #[error(
        "the shares of {model} lack {missing} of its {total} runs, `{suite}/{case}` sample {sample} the first"
    )]
    MissingRuns {
        model: String,
        missing: usize,
        total: usize,
        suite: String,
        case: String,
        sample: u32,
    },
    #[error("{}: {source}", path.display())]
    Cases {
        path: PathBuf,
        #[source]
        source: ReadError,
    },
}

impl MergeError {
    fn hint(&self) -> Option<String> {
        let hint = match self {
            MergeError::Read(ReadError::FormatVersion { .. }) | MergeError::ToolVersion { .. } => {
                "merge with the cargo-llm-bench version that ran the shares"
            }
            MergeError::Read(_) | MergeError::Cases { .. } => {
                "pass the JSON reports the shares wrote (report_*.json), not the CSV"
            }
            MergeError::NotAShare { .. } | MergeError::BadPartition { .. } => {
                "pass the reports of runs with `--partition slice:M/N`"
            }
            MergeError::MixedCounts { .. }
            | MergeError::DuplicateShare { .. }
            | MergeError::MissingShares { .. }
            | MergeError::Mismatch { .. }
            | MergeError::DuplicateCase { .. } => {
                "pass every share of one run exactly once: slice:1/N to slice:N/N for each model"
            }
            MergeError::MissingRuns { .. } => {
                "run every share with the same suites and models, in the same order: a share is a slice of that order"
            }
            MergeError::Created { .. } => "pass the reports as the shares wrote them",
            MergeError::SuiteUnreadable { .. } | MergeError::SuiteChanged { .. } => {
                "merge where the suites are as the shares scored them (paths are relative to the folder the shares ran in)"
            }
        };
        Some(hint.to_owned())
    }
}

/// One share's report and where it came from.
struct Share {
    path: PathBuf,
    report: Report,
    partition: Partition,
}

/// Merged reports, and when the run they make up finished.
#[derive(Debug)]
pub struct Merged {
    pub created: chrono::DateTime<chrono::Utc>,
    pub reports: Vec<Report>,
}

pub fn merge(settings: &MergeSettings) -> anyhow::Result<Outcome> {
    let Merged { created, reports } = merged_reports(&settings.reports).map_err(|error| {
        let hint = error.hint();
        bad_input(error, hint)
    })?;
    report::check_output_dir(&settings.output).map_err(|error| {
        bad_input(
            error,
            Some("pass --output DIR, a folder you can write".into()),
        )
    })?;
    for report in &reports {
        let model = crate::provider::ModelSpec {
            provider: report.provider.clone(),
            model: report.model.clone(),
        };
        let date = created.format("%Y%m%d").to_string();
        let paths = report::write_report(&settings.output, &model, &date, report)?;
        eprintln!("wrote {} and {}", paths.json.display(), paths.csv.display());
    }
    match settings.format {
        OutputFormat::Table => {
            let width = crate::ui::stdout_width();
            println!("{}", report::render_table(&reports, width, false));
            let failures = report::render_failures(&reports, width, false);
            if !failures.is_empty() {
                println!("\n{failures}");
            }
        }
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&reports)?),
    }
    Ok(Outcome(ExitKind::Success))
}

/// Reads and checks every share, and joins each model's shares into one report, models in the
/// order they first appear among `paths`.
pub fn merged_reports(paths: &[PathBuf]) -> Result<Merged, MergeError> {
    let shares = paths
        .iter()
        .map(|path| read_share(path))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(first) = shares.first() else {
        return Ok(Merged {
            created: chrono::Utc::now(),
            reports: Vec::new(),
        });
    };
    for share in &shares[1..] {
        check_same_run(first, share)?;
    }
    let suites = reload_suites(&first.report)?;
    let mut created = chrono::DateTime::<chrono::Utc>::MIN_UTC;
    for share in &shares {
        created = created.max(created_time(share)?);
    }
    let info = RunInfo {
        suites: &suites,
        samples: first.report.samples,
        weights: first.report.weights,
        rustc: first.report.rustc.clone(),
        // The time the last share finished, as a run's report is stamped when it finishes.
        created,
        sandbox: first.report.sandbox.clone(),
        complete: shares.iter().all(|share| share.report.complete),
        partition: None,
    };
    let mut reports = Vec::new();
    for (model, group) in by_model(&shares)? {
        // Every group holds at least the share that started it.
        if let Some((first, rest)) = group.split_first() {
            let run = merged_run(&model, first, rest, &suites)?;
            if info.complete {
                check_whole(&model, &run, &suites)?;
            }
            reports.push(report::build_report(&info, &run));
        }
    }
    Ok(Merged { created, reports })
}

fn read_share(path: &Path) -> Result<Share, MergeError> {
    let report = report::read_report(path)?;
    let text = report
        .partition
        .clone()
        .ok_or_else(|| MergeError::NotAShare {
            path: path.to_owned(),
        })?;
    let partition = text.parse().map_err(|message| MergeError::BadPartition {
        path: path.to_owned(),
        message,
    })?;
    let ours = env!("CARGO_PKG_VERSION");
    if report.tool.name != env!("CARGO_PKG_NAME") || report.tool.version != ours {
        return Err(MergeError::ToolVersion {
            path: path.to_owned(),
            tool: report.tool.name.clone(),
            version: report.tool.version.clone(),
            ours,
        });
    }
    Ok(Share {
        path: path.to_owned(),
        report,
        partition,
    })
}

/// Shares of one run scored the same suites with the same samples, weights, toolchain and
/// sandbox; anything else would merge into a report no run could have written.
fn check_same_run(first: &Share, share: &Share) -> Result<(), MergeError> {
    for ((what, first_value), (_, value)) in run_facts(&first.report)
        .into_iter()
        .zip(run_facts(&share.report))
    {
        if first_value != value {
            return Err(MergeError::Mismatch {
                what,
                first: first.path.clone(),
                first_value,
                path: share.path.clone(),
                value,
            });
        }
    }
    Ok(())
}

/// What every share of one run has in common, each as a message shows it.
fn run_facts(report: &Report) -> [(&'static str, String); 5] {
    let suites: Vec<String> = report
        .suites
        .iter()
        .map(|suite| format!("{} {}", suite.name, suite.hash))
        .collect();
    [
        ("suites", suites.join(", ")),
        ("samples", report.samples.to_string()),
        (
            "weights",
            serde_json::to_string(&report.weights).unwrap_or_default(),
        ),
        ("toolchains", report.rustc.clone()),
        ("sandbox levels", report.sandbox.clone()),
    ]
}

/// The suites as the reports name them, each refused if its file changed since.
fn reload_suites(report: &Report) -> Result<Vec<Suite>, MergeError> {
    report
        .suites
        .iter()
        .map(|info| {
            let suite = suite::load(Path::new(&info.path)).map_err(|source| {
                MergeError::SuiteUnreadable {
                    name: info.name.clone(),
                    source,
                }
            })?;
            if suite.hash != info.hash {
                return Err(MergeError::SuiteChanged {
                    path: info.path.clone(),
                    then: info.hash.clone(),
                    now: suite.hash,
                });
            }
            Ok(suite)
        })
        .collect()
}

fn created_time(share: &Share) -> Result<chrono::DateTime<chrono::Utc>, MergeError> {
    chrono::DateTime::parse_from_rfc3339(&share.report.created)
        .map(|time| time.to_utc())
        .map_err(|_| MergeError::Created {
            path: share.path.clone(),
            created: share.report.created.clone(),
        })
}

/// Each model's shares, checked to be 1..N exactly once, in share order.
fn by_model(shares: &[Share]) -> Result<Vec<(String, Vec<&Share>)>, MergeError> {
    let mut groups: Vec<(String, Vec<&Share>)> = Vec::new();
    for share in shares {
        let model = share.report.label();
        match groups.iter_mut().find(|(label, _)| *label == model) {
            Some((_, group)) => group.push(share),
            None => groups.push((model, vec![share])),
        }
    }
    for (model, group) in &mut groups {
        let first = group[0];
        let count = first.partition.count;
        let mut seen: BTreeMap<u32, &Path> = BTreeMap::new();
        for share in group.iter() {
            if share.partition.count != count {
                return Err(MergeError::MixedCounts {
                    model: model.clone(),
                    first: first.path.clone(),
                    first_count: count,
                    path: share.path.clone(),
                    count: share.partition.count,
                });
            }
            if let Some(earlier) = seen.insert(share.partition.index, &share.path) {
                return Err(MergeError::DuplicateShare {
                    model: model.clone(),
                    share: share.partition,
                    first: earlier.to_owned(),
                    second: share.path.clone(),
                });
            }
        }
        let missing: Vec<String> = (1..=count)
            .filter(|index| !seen.contains_key(index))
            .map(|index| format!("{index}/{count}"))
            .collect();
        if !missing.is_empty() {
            return Err(MergeError::MissingShares {
                model: model.clone(),
                missing,
            });
        }
        group.sort_by_key(|share| share.partition.index);
    }
    Ok(groups)
}

/// One model's shares as one run: the cases in the order an unpartitioned run records them.
///
/// A partitioned run has no one wall time: `elapsed` is the shares' times summed (the work the
/// model did), the load time the longest share's.
fn merged_run(
    model: &str,
    first: &Share,
    rest: &[&Share],
    suites: &[Suite],
) -> Result<ModelRun, MergeError> {
    let read = |share: &Share| {
        report::model_run(&share.report, suites).map_err(|source| MergeError::Cases {
            path: share.path.clone(),
            source,
        })
    };
    let mut seen: BTreeMap<(usize, usize, u32), PathBuf> = BTreeMap::new();
    let mut check_disjoint = |share: &Share, run: &ModelRun| {
        for case in &run.cases {
            let unit = (case.suite, case.case, case.sample);
            if let Some(earlier) = seen.insert(unit, share.path.clone()) {
                return Err(MergeError::DuplicateCase {
                    model: model.to_owned(),
                    suite: suites[case.suite].name.clone(),
                    case: suites[case.suite].cases[case.case].id.clone(),
                    sample: case.sample,
                    first: earlier,
                    second: share.path.clone(),
                });
            }
        }
        Ok(())
    };
    let mut joined = read(first)?;
    check_disjoint(first, &joined)?;
    for share in rest {
        let run = read(share)?;
        check_disjoint(share, &run)?;
        joined.cases.extend(run.cases);
        joined.elapsed += run.elapsed;
        joined.load_time = joined.load_time.max(run.load_time);
        joined.stopped = joined.stopped.or(run.stopped);
    }
    joined
        .cases
        .sort_by_key(|case| (case.suite, case.case, case.sample));
    Ok(joined)
}

/// A run of complete shares has every case of every suite, each with samples 0..n (one the
/// provider failed included); a gap means the shares sliced different orders of work. Samples
/// can differ per case (suites set them per case, flags override them, and reports record only
/// the most), so a case's n is read from the shares: its highest sample plus one.
fn check_whole(model: &str, run: &ModelRun, suites: &[Suite]) -> Result<(), MergeError> {
    let present: BTreeSet<(usize, usize, u32)> = run
        .cases
        .iter()
        .map(|case| (case.suite, case.case, case.sample))
        .collect();
    let samples_of = |suite: usize, case: usize| {
        run.cases
            .iter()
            .filter(|run| (run.suite, run.case) == (suite, case))
            .map(|run| run.sample + 1)
            .max()
            .unwrap_or(1)
    };
    let every: Vec<(usize, usize, u32)> = suites
        .iter()
        .enumerate()
        .flat_map(|(suite_index, suite)| {
            (0..suite.cases.len()).flat_map(move |case_index| {
                (0..samples_of(suite_index, case_index))
                    .map(move |sample| (suite_index, case_index, sample))
            })
        })
        .collect();
    let absent: Vec<&(usize, usize, u32)> = every
        .iter()
        .filter(|unit| !present.contains(unit))
        .collect();
    let Some(&&(suite, case, sample)) = absent.first() else {
        return Ok(());
    };
    Err(MergeError::MissingRuns {
        model: model.to_owned(),
        missing: absent.len(),
        total: every.len(),
        suite: suites[suite].name.clone(),
        case: suites[suite].cases[case].id.clone(),
        sample,
    })
}
