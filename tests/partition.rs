//! `--partition slice:M/N` and `merge`: shares of a run, run apart and joined, make the report
//! the whole run makes; bad sets of shares are refused.

#[path = "support/project.rs"]
mod project;

use project::Project;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

const SUITE: &str = "suite: arith
defaults:
  stages: [format, compile, test]
  repairs: 1
cases:
  - id: add
    prompt: |
      Write `pub fn add(a: i32, b: i32) -> i32`.
    reference: |
      pub fn add(a: i32, b: i32) -> i32 {
          a + b
      }
    tests: |
      #[test]
      fn adds() {
          assert_eq!(add(2, 3), 5);
      }
  - id: sub
    prompt: |
      Write `pub fn sub(a: i32, b: i32) -> i32`.
    reference: |
      pub fn sub(a: i32, b: i32) -> i32 {
          a - b
      }
    tests: |
      #[test]
      fn subtracts() {
          assert_eq!(sub(2, 3), -1);
      }
  - id: mul
    prompt: |
      Write `pub fn mul(a: i32, b: i32) -> i32`.
    reference: |
      pub fn mul(a: i32, b: i32) -> i32 {
          a * b
      }
    tests: |
      #[test]
      fn multiplies() {
          assert_eq!(mul(2, 3), 6);
      }
  - id: neg
    prompt: |
      Write `pub fn neg(a: i32) -> i32`.
    reference: |
      pub fn neg(a: i32) -> i32 {
          -a
      }
    tests: |
      #[test]
      fn negates() {
          assert_eq!(neg(2), -2);
      }
";

/// Recorded answers, `(case, sample-attempt, answer)`: some pass, some fail to compile or
/// their tests, one is repaired, one is no code at all.
const RECORDINGS: &[(&str, &str, &str)] = &[
    (
        "add",
        "0-0",
        "```rust\npub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n```\n",
    ),
    (
        "add",
        "1-0",
        "```rust\npub fn add(a: i32, b: i32) -> i32 { b + a }\n```\n",
    ),
    (
        "sub",
        "0-0",
        "```rust\npub fn sub(a: i32, b: i32) -> i32 {\n    \"a - b\"\n}\n```\n",
    ),
    (
        "sub",
        "1-0",
        "```rust\npub fn sub(a: i32, b: i32) -> i32 {\n    b - a\n}\n```\n",
    ),
    (
        "mul",
        "0-0",
        "```rust\npub fn mul(a: i32, b: i32) -> i32 {\n    a + b\n}\n```\n",
    ),
    (
        "mul",
        "0-1",
        "```rust\npub fn mul(a: i32, b: i32) -> i32 {\n    a * b\n}\n```\n",
    ),
    (
        "mul",
        "1-0",
        "```rust\npub fn mul(a: i32, b: i32) -> i32 {\n    a * b\n}\n```\n",
    ),
    ("neg", "0-0", "I cannot help with that.\n"),
    (
        "neg",
        "1-0",
        "```rust\npub fn neg(a: i32) -> i32 {\n    -a\n}\n```\n",
    ),
];

const MODELS: [&str; 2] = ["reference", "replay:recordings"];

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A project with the suite and the recordings, paths relative to it as a CI checkout has them.
fn project() -> Project {
    let project = Project::new();
    project.write("suites/arith.yaml", SUITE);
    for (case, name, answer) in RECORDINGS {
        project.write(&format!("recordings/arith/{case}/{name}.md"), answer);
    }
    project
}

/// Runs both models, two samples each, into `out/NAME`, as share `partition` if given.
fn run(project: &Project, name: &str, partition: Option<&str>) {
    let output_dir = format!("out/{name}");
    let mut args = vec!["run", "--suite", "suites/arith.yaml", "--samples", "2"];
    for model in MODELS {
        args.extend(["--model", model]);
    }
    args.extend(["--output", &output_dir, "--no-progress"]);
    if let Some(partition) = partition {
        args.extend(["--partition", partition]);
    }
    let output = project.run(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

/// The JSON reports in `out/NAME`, in file-name order.
fn json_files(project: &Project, name: &str) -> Vec<PathBuf> {
    project
        .reports_in(&format!("out/{name}"))
        .into_iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect()
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Runs `merge` on the given reports into `out/merged`.
fn merge(project: &Project, reports: &[PathBuf]) -> Output {
    let mut args = vec![
        "merge".to_owned(),
        "--output".to_owned(),
        "out/merged".to_owned(),
    ];
    args.extend(reports.iter().map(|path| path.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    project.run(&args)
}

/// A report with what differs between two runs of the same work removed: when it was written,
/// and how long things took.
fn without_timings(mut report: Value) -> Value {
    let object = report.as_object_mut().unwrap();
    object.remove("created");
    let summary = object["summary"].as_object_mut().unwrap();
    for field in [
        "total_ms",
        "generation_ms",
        "load_time_ms",
        "retry_wait_ms",
        "ttft_ms",
        "ttft_answer_ms",
        "decode_tokens_per_second",
        "prefill_tokens_per_second",
    ] {
        summary.remove(field);
    }
    for case in object["cases"].as_array_mut().unwrap() {
        for attempt in case["attempts"].as_array_mut().unwrap() {
            attempt["metrics"]
                .as_object_mut()
                .unwrap()
                .remove("generation_ms");
            for stage in attempt["stages"].as_array_mut().unwrap() {
                stage.as_object_mut().unwrap().remove("duration_ms");
            }
        }
    }
    report
}

/// The model a report is of, as `--model` names it.
fn label(report: &Value) -> String {
    match report["provider"].as_str().unwrap() {
        "reference" => "reference".to_owned(),
        provider => format!("{provider}:{}", report["model"].as_str().unwrap()),
    }
}

/// (suite, case, sample) of every case of a report.
fn units(report: &Value) -> Vec<(String, String, u64)> {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| {
            (
                case["suite"].as_str().unwrap().to_owned(),
                case["case"].as_str().unwrap().to_owned(),
                case["sample"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn shares_of(project: &Project, count: u32) -> Vec<PathBuf> {
    (1..=count)
        .flat_map(|index| {
            run(
                project,
                &format!("share{index}"),
                Some(&format!("slice:{index}/{count}")),
            );
            json_files(project, &format!("share{index}"))
        })
        .collect()
}

#[test]
fn four_merged_partitions_equal_the_unpartitioned_run_apart_from_timings() {
    let project = project();
    run(&project, "whole", None);
    let whole: Vec<Value> = json_files(&project, "whole")
        .iter()
        .map(|p| read(p))
        .collect();
    assert_eq!(whole.len(), 2);
    let replayed = whole.iter().find(|r| r["provider"] == "replay").unwrap();
    assert_eq!(replayed["summary"]["runs"], 8);
    assert_eq!(replayed["summary"]["passed"], 5, "{replayed:#}");
    assert_eq!(replayed["summary"]["repairs_total"], 1);

    let shares = shares_of(&project, 4);
    // Every share writes a report for every model, marked with its share.
    assert_eq!(shares.len(), 8);
    let mut seen: Vec<(String, (String, String, u64))> = Vec::new();
    for path in &shares {
        let report = read(path);
        assert!(
            report["partition"]
                .as_str()
                .is_some_and(|p| p.starts_with("slice:") && p.ends_with("/4")),
            "{path:?}"
        );
        seen.extend(
            units(&report)
                .into_iter()
                .map(|unit| (label(&report), unit)),
        );
    }
    // The shares are disjoint and together hold every unit of the whole run.
    let distinct: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(distinct.len(), seen.len(), "a unit ran in two shares");
    let everything: BTreeSet<_> = whole
        .iter()
        .flat_map(|report| units(report).into_iter().map(|unit| (label(report), unit)))
        .collect();
    assert_eq!(distinct, everything);

    let output = merge(&project, &shares);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("replay:recordings"), "{table}");
    let merged: Vec<Value> = json_files(&project, "merged")
        .iter()
        .map(|p| read(p))
        .collect();
    assert_eq!(merged.len(), 2);
    assert_eq!(project.reports_in("out/merged").len(), 4, "a CSV per JSON");
    for report in &merged {
        assert!(report.get("partition").is_none(), "{report:#}");
        let original = whole.iter().find(|w| label(w) == label(report)).unwrap();
        assert_eq!(
            without_timings(report.clone()),
            without_timings(original.clone()),
            "{}",
            label(report)
        );
    }
}

#[test]
fn a_share_with_no_work_still_writes_each_models_report_with_no_cases() {
    let project = project();
    // 2 models × 4 cases × 2 samples are 16 units: share 17 of 17 has none.
    run(&project, "empty", Some("slice:17/17"));
    let reports: Vec<Value> = json_files(&project, "empty")
        .iter()
        .map(|p| read(p))
        .collect();
    assert_eq!(reports.len(), 2);
    for report in reports {
        assert_eq!(report["cases"], serde_json::json!([]));
        assert_eq!(report["summary"]["runs"], 0);
        assert_eq!(report["partition"], "slice:17/17");
    }
}

/// Shares of a small run (the `reference` model, two shares) to break in the tests below.
fn two_shares(project: &Project) -> Vec<PathBuf> {
    for index in 1..=2 {
        let output = project.run(&[
            "run",
            "--suite",
            "suites/arith.yaml",
            "--model",
            "reference",
            "--output",
            &format!("out/share{index}"),
            "--partition",
            &format!("slice:{index}/2"),
            "--no-progress",
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    }
    [1, 2]
        .into_iter()
        .flat_map(|index| json_files(project, &format!("share{index}")))
        .collect()
}

/// Merges, expects exit 2 and returns the error text.
fn refused(project: &Project, reports: &[PathBuf]) -> String {
    let output = merge(project, reports);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        json_files(project, "merged").is_empty(),
        "a refused merge wrote a report"
    );
    stderr(&output)
}

#[test]
fn merge_refuses_a_missing_or_a_repeated_share() {
    let project = project();
    let shares = two_shares(&project);
    let text = refused(&project, &shares[..1]);
    assert!(text.contains("error: reference lacks share 2/2"), "{text}");
    assert!(
        text.contains("hint: pass every share of one run exactly once"),
        "{text}"
    );

    let text = refused(&project, &[shares[0].clone(), shares[0].clone()]);
    assert!(
        text.contains("error: share 1/2 of reference is given twice"),
        "{text}"
    );

    let text = refused(&project, &[]);
    assert!(text.contains("REPORT"), "{text}");
}

#[test]
fn merge_refuses_shares_that_miss_a_run_or_hold_one_twice() {
    let project = project();
    let shares = two_shares(&project);
    let mut short = read(&shares[1]);
    let removed = short["cases"].as_array_mut().unwrap().remove(0);
    let short = project.write("short.json", short.to_string());
    let text = refused(&project, &[shares[0].clone(), short.into()]);
    assert!(
        text.contains(&format!(
            "error: the shares of reference lack 1 of its 4 runs, `arith/{}` sample 0 the first",
            removed["case"].as_str().unwrap()
        )),
        "{text}"
    );
    assert!(
        text.contains("hint: run every share with the same suites and models"),
        "{text}"
    );

    let mut overlapping = read(&shares[1]);
    let borrowed = read(&shares[0])["cases"][0].clone();
    overlapping["cases"]
        .as_array_mut()
        .unwrap()
        .push(borrowed.clone());
    let overlapping = project.write("overlapping.json", overlapping.to_string());
    let text = refused(&project, &[shares[0].clone(), overlapping.into()]);
    assert!(
        text.contains(&format!(
            "error: reference has `arith/{}` sample 0 in two shares",
            borrowed["case"].as_str().unwrap()
        )),
        "{text}"
    );
}

#[test]
fn merge_refuses_shares_of_different_suites_or_a_suite_changed_since() {
    let project = project();
    let shares = two_shares(&project);
    let mut other = read(&shares[1]);
    other["suites"][0]["hash"] = "sha256:0000".into();
    let other_path = project.write("other.json", other.to_string());
    let text = refused(&project, &[shares[0].clone(), other_path.into()]);
    assert!(
        text.contains("are not shares of one run: their suites differ"),
        "{text}"
    );

    project.write("suites/arith.yaml", SUITE.replace("a + b", "b + a"));
    let text = refused(&project, &shares);
    assert!(
        text.contains(
            "error: the suite file suites/arith.yaml changed since the shares were scored"
        ),
        "{text}"
    );
}

#[test]
fn merge_refuses_unreadable_json_another_format_version_and_unpartitioned_reports() {
    let project = project();
    let shares = two_shares(&project);
    let garbage = project.write("garbage.json", "{ not json");
    let text = refused(&project, &[shares[0].clone(), garbage.into()]);
    assert!(text.contains("garbage.json is not a JSON report"), "{text}");

    let mut old = read(&shares[1]);
    old["format_version"] = 1.into();
    let old = project.write("old.json", old.to_string());
    let text = refused(&project, &[shares[0].clone(), old.into()]);
    assert!(
        text.contains(
            "old.json is a report of format version 1; this cargo-llm-bench reads version"
        ),
        "{text}"
    );

    let mut whole = read(&shares[1]);
    whole.as_object_mut().unwrap().remove("partition");
    let whole = project.write("whole.json", whole.to_string());
    let text = refused(&project, &[shares[0].clone(), whole.into()]);
    assert!(
        text.contains("whole.json is not the report of a share: it has no `partition`"),
        "{text}"
    );
}
