//! What CI reads from a run, through the real CLI with recorded answers: insta snapshots and
//! accepting them (with cargo-insta and with `cargo llm-bench accept`), JUnit XML checked
//! against Jenkins' schema with xmllint, and the Markdown summary.

#[path = "support/project.rs"]
mod project;

use project::Project;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SNAPSHOT: &str = "snapshots/ci__replay_recordings.snap";
const PENDING: &str = "snapshots/ci__replay_recordings.snap.new";

/// Two cases; `add`'s hidden tests come in two versions, so the suite can change under the
/// same recorded answers. `sign`'s first answer fails and its recorded repair passes.
fn suite(add_tests: &str) -> String {
    format!(
        r#"suite: ci
defaults:
  repairs: 1
  timeout: 20s
cases:
  - id: add
    prompt: |
      Write `pub fn add(a: i32, b: i32) -> i32`.
    reference: |
      pub fn add(a: i32, b: i32) -> i32 {{
          a.wrapping_add(b)
      }}
    tests: |
      #[cfg(test)]
      mod tests {{
          use super::*;
{add_tests}
      }}
  - id: sign
    prompt: |
      Write `pub fn sign(x: i64) -> i64`: -1, 0 or 1.
    reference: |
      pub fn sign(x: i64) -> i64 {{
          x.signum()
      }}
    tests: |
      #[cfg(test)]
      mod tests {{
          use super::*;
          #[test]
          fn negative_numbers_are_minus_one() {{
              assert_eq!(sign(-4), -1);
          }}
          #[test]
          fn zero_is_zero() {{
              assert_eq!(sign(0), 0);
          }}
      }}
"#
    )
}

const ADD_TESTS: &str = "          #[test]
          fn adds_small_numbers() {
              assert_eq!(add(2, 3), 5);
          }";

/// A test the recorded `a + b` fails: it overflows.
const ADD_TESTS_WITH_OVERFLOW: &str = "          #[test]
          fn adds_small_numbers() {
              assert_eq!(add(2, 3), 5);
          }
          #[test]
          fn wraps_around_on_overflow() {
              assert_eq!(add(i32::MAX, 1), i32::MIN);
          }";

fn project() -> Project {
    let project = Project::new();
    project.write("suites/ci.yaml", suite(ADD_TESTS));
    project.write(
        "recordings/ci/add/0-0.md",
        "```rust\npub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n```\n",
    );
    project.write(
        "recordings/ci/sign/0-0.md",
        "```rust\npub fn sign(x: i64) -> i64 {\n    if x < 0 { -1 } else { 1 }\n}\n```\n",
    );
    project.write(
        "recordings/ci/sign/0-1.md",
        "```rust\npub fn sign(x: i64) -> i64 {\n    x.signum()\n}\n```\n",
    );
    project
}

fn run(project: &Project, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "--suite",
        "suites/ci.yaml",
        "--model",
        "replay:recordings",
        "--snapshot",
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    project.run(&args)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn read(project: &Project, name: &str) -> String {
    std::fs::read_to_string(project.path().join(name)).unwrap()
}

/// True when `program --version` runs. Under CI a missing tool fails the test, since CI
/// installs it; elsewhere the caller skips that half and says so.
fn available(program: &str, args: &[&str], what: &str) -> bool {
    let found = Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{what} is missing under CI=true; .ci/run installs it"
        );
        eprintln!("skipped the {what} half of this test: {what} is not installed");
    }
    found
}

/// `cargo insta accept` in the project, with only the toolchain's variables set.
fn cargo_insta_accept(project: &Project) -> Output {
    project
        .toolchain_command("cargo")
        .args(["insta", "accept"])
        .output()
        .unwrap()
}

fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn a_snapshot_is_written_kept_when_unchanged_and_pending_with_a_diff_when_the_suite_changes() {
    let project = project();
    let snapshot = project.path().join(SNAPSHOT);
    let pending = project.path().join(PENDING);

    let first = run(&project, &[]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(
        stderr(&first).contains(&format!("wrote the snapshot {SNAPSHOT}")),
        "{}",
        stderr(&first)
    );
    let written = read(&project, SNAPSHOT);
    assert!(
        written.starts_with("---\nsource: suites/ci.yaml\n"),
        "{written}"
    );
    assert!(
        written.contains("\n  model: \"replay:recordings\"\n  toolchain: rustc "),
        "{written}"
    );
    assert!(
        written.ends_with(
            "---\n2 of 2 valid runs passed; 0 invalid\n\n\
             add: passed; format ok, compile ok, test 1/1, coverage ok; repairs 0; score 1.000\n\
             sign: passed; format ok, compile ok, test 2/2, coverage ok; repairs 1; score 1.000\n"
        ),
        "{written}"
    );
    assert!(!pending.exists());

    let unchanged = run(&project, &[]);
    assert_eq!(unchanged.status.code(), Some(0), "{}", stderr(&unchanged));
    assert!(
        !stderr(&unchanged).contains("snapshot"),
        "{}",
        stderr(&unchanged)
    );
    assert_eq!(read(&project, SNAPSHOT), written);
    assert!(!pending.exists());
    let kept = modified(&snapshot);

    project.write("suites/ci.yaml", suite(ADD_TESTS_WITH_OVERFLOW));
    let changed = run(&project, &[]);
    assert_eq!(changed.status.code(), Some(1), "{}", stderr(&changed));
    let said = stderr(&changed);
    assert!(
        said.contains(&format!(
            "error: the results of replay:recordings on suite ci differ from the snapshot {SNAPSHOT}; the new ones are in {PENDING}:"
        )),
        "{said}"
    );
    assert!(
        said.contains(
            "-2 of 2 valid runs passed; 0 invalid\n+1 of 2 valid runs passed; 0 invalid\n"
        ),
        "{said}"
    );
    assert!(
        said.contains(
            "-add: passed; format ok, compile ok, test 1/1, coverage ok; repairs 0; score 1.000\n\
             +add: failed at test; format ok, compile ok, test 1/2;"
        ),
        "{said}"
    );
    assert!(said.contains("cargo llm-bench accept"), "{said}");
    assert_eq!(read(&project, SNAPSHOT), written);
    assert_eq!(modified(&snapshot), kept);
    let pending_text = read(&project, PENDING);
    assert!(
        pending_text.contains("\nadd: failed at test;"),
        "{pending_text}"
    );

    // Accepted by cargo-insta, which reads the pending file and writes it again itself: not a
    // byte may change, or insta and this tool disagree on the format.
    if available("cargo", &["insta", "--version"], "cargo-insta") {
        let accepted = cargo_insta_accept(&project);
        assert!(accepted.status.success(), "{}", stderr(&accepted));
        assert!(
            stdout(&accepted).contains("accepted"),
            "{}",
            stdout(&accepted)
        );
        assert!(!pending.exists());
        assert_eq!(read(&project, SNAPSHOT), pending_text);
        let rerun = run(&project, &[]);
        assert_eq!(rerun.status.code(), Some(0), "{}", stderr(&rerun));

        // Back to the first tests: a change again, this time for our own accept.
        project.write("suites/ci.yaml", suite(ADD_TESTS));
        let changed_back = run(&project, &[]);
        assert_eq!(
            changed_back.status.code(),
            Some(1),
            "{}",
            stderr(&changed_back)
        );
    }

    let accepted = project.run(&["accept"]);
    assert_eq!(accepted.status.code(), Some(0), "{}", stderr(&accepted));
    assert_eq!(stdout(&accepted), format!("accepted {SNAPSHOT}\n"));
    assert!(!pending.exists());
    let rerun = run(&project, &[]);
    assert_eq!(rerun.status.code(), Some(0), "{}", stderr(&rerun));

    let nothing_left = project.run(&["accept"]);
    assert_eq!(nothing_left.status.code(), Some(0));
    assert!(
        stdout(&nothing_left).starts_with("no pending snapshots in "),
        "{}",
        stdout(&nothing_left)
    );
}

/// Every kind of test case JUnit can hold, from a real run's report: a pass, a pass after a
/// repair, a failure, a provider error and a skip.
fn junit_of_every_outcome(project: &Project, report: &Path) -> PathBuf {
    let mut report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    let cases = report["cases"].as_array_mut().unwrap();
    let mut timed_out = cases[0].clone();
    timed_out["case"] = "timed-out".into();
    timed_out["invalid"] = true.into();
    timed_out["invalid_reason"] = "provider_timeout".into();
    timed_out["provider_error"] = serde_json::json!({"reason": "no answer within 60s",
        "timed_out": true, "model_stopped": false, "retries": 2, "retry_wait_ms": 3000.0});
    timed_out["attempts"] = serde_json::json!([]);
    let mut cut_short = cases[0].clone();
    cut_short["case"] = "cut-short".into();
    cut_short["invalid"] = true.into();
    cut_short["invalid_reason"] = "max_tokens".into();
    cases.push(timed_out);
    cases.push(cut_short);
    let report: cargo_llm_bench::report::Report = serde_json::from_value(report).unwrap();
    let xml = cargo_llm_bench::report::junit::render(&[report]).unwrap();
    for element in ["<failure ", "<error ", "<skipped>", "<system-out>"] {
        assert!(xml.contains(element), "no {element} in:\n{xml}");
    }
    PathBuf::from(project.write("every-outcome.xml", xml))
}

#[test]
fn junit_xml_validates_against_jenkins_schema_and_names_the_failing_stage() {
    let project = project();
    project.write("suites/ci.yaml", suite(ADD_TESTS_WITH_OVERFLOW));
    let output = project.run(&[
        "run",
        "--suite",
        "suites/ci.yaml",
        "--model",
        "replay:recordings",
        "--no-progress",
        "--junit",
        "ci/junit.xml",
        "--summary",
        "summary.md",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("wrote ci/junit.xml"),
        "{}",
        stderr(&output)
    );
    let xml = read(&project, "ci/junit.xml");
    assert!(
        xml.contains("<testsuite name=\"replay:recordings\" tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"0\""),
        "{xml}"
    );
    assert!(
        xml.contains("<testcase name=\"add[replay:recordings]\" classname=\"ci\""),
        "{xml}"
    );
    assert!(
        xml.contains("<failure message=\"test: 1/2 passed\" type=\"test\">sample 0 failed at test after 0 repairs (score "),
        "{xml}"
    );
    assert!(xml.contains("wraps_around_on_overflow"), "{xml}");
    assert!(
        xml.contains("<system-out>sample 0 passed after 1 repair</system-out>"),
        "{xml}"
    );

    let summary = read(&project, "summary.md");
    assert!(summary.starts_with("## cargo llm-bench\n"), "{summary}");
    assert!(
        summary.contains("\n| replay:recordings | 2 | 0 |"),
        "{summary}"
    );
    assert!(
        summary.contains("### Gates\n\nNo gate failed.\n"),
        "{summary}"
    );
    assert!(summary.contains("  add (test: 1/2 passed)"), "{summary}");

    if available("xmllint", &["--version"], "xmllint") {
        let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/junit/jenkins-junit.xsd");
        let report = project
            .reports()
            .into_iter()
            .find(|path| path.extension().is_some_and(|ext| ext == "json"))
            .unwrap();
        for file in [
            project.path().join("ci/junit.xml"),
            junit_of_every_outcome(&project, &report),
        ] {
            let checked = Command::new("xmllint")
                .arg("--noout")
                .arg("--schema")
                .arg(&schema)
                .arg(&file)
                .output()
                .unwrap();
            assert!(
                checked.status.success(),
                "{} does not validate: {}",
                file.display(),
                stderr(&checked)
            );
            assert!(
                stderr(&checked).contains(" validates"),
                "{}",
                stderr(&checked)
            );
        }
    }
}

#[test]
fn the_summary_is_appended_as_github_expects_and_carries_the_failed_gates() {
    let project = project();
    project.write("suites/ci.yaml", suite(ADD_TESTS_WITH_OVERFLOW));
    project.write("summary.md", "earlier step\n");
    let output = project.run(&[
        "run",
        "--suite",
        "suites/ci.yaml",
        "--model",
        "replay:recordings",
        "--no-progress",
        "--min-score",
        "0.99",
        "--summary",
        "summary.md",
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    // The data on stdout stays JSON whatever else was written.
    let _: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let summary = read(&project, "summary.md");
    assert!(
        summary.starts_with("earlier step\n## cargo llm-bench\n"),
        "{summary}"
    );
    assert!(
        summary.contains(
            "**1 gate failed:**\n\n- replay:recordings: mean score 0.65 is below --min-score 0.99\n"
        ),
        "{summary}"
    );
}

#[test]
fn a_snapshot_file_that_is_not_one_is_bad_input_and_left_alone() {
    let project = project();
    project.write(SNAPSHOT, "---\nsource: suites/ci.yaml\n");
    let output = run(&project, &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let said = stderr(&output);
    assert!(
        said.contains("is not an insta snapshot")
            && said.contains("hint: delete the file to write it anew"),
        "{said}"
    );
    assert_eq!(read(&project, SNAPSHOT), "---\nsource: suites/ci.yaml\n");
    assert!(!project.path().join(PENDING).exists());
}

#[test]
fn a_model_whose_provider_failed_is_not_snapshotted() {
    let project = project();
    std::fs::remove_file(project.path().join("recordings/ci/sign/0-0.md")).unwrap();
    let output = run(&project, &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(
            "warning: no snapshot of replay:recordings: some of its requests failed at the provider"
        ),
        "{}",
        stderr(&output)
    );
    assert!(!project.path().join("snapshots").exists());
}
