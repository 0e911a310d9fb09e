//! Runs the real `cargo-llm-bench` binary on fixture projects with a scrubbed environment.

#[path = "support/project.rs"]
mod project;

use project::Project;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn suite(name: &str) -> String {
    fixtures().join("suites").join(name).display().to_string()
}

fn replay_dir() -> String {
    format!("replay:{}", fixtures().join("replay").display())
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn today() -> String {
    chrono::Utc::now().format("%Y%m%d").to_string()
}

#[test]
fn validate_passes_every_reference_of_a_sound_suite() {
    let project = Project::new();
    let output = project.run(&["validate", "--suite", &suite("fixture.yaml")]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("7 of 7 references pass every stage"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn validate_reports_each_broken_reference_with_its_stage_and_exits_1() {
    let project = Project::new();
    let output = project.run(&["validate", "--suite", &suite("broken.yaml")]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.contains("FAIL broken/type-error at compile"), "{text}");
    assert!(text.contains("E0277"), "{text}");
    assert!(text.contains("FAIL broken/wrong-answer at test"), "{text}");
    assert!(!text.contains("FAIL broken/fine"), "{text}");
    assert!(
        text.contains("1 of 3 references pass every stage"),
        "{text}"
    );
}

#[test]
fn should_panic_ignored_and_one_line_references_are_read_right() {
    let project = Project::new();
    let output = project.run(&["validate", "--suite", &suite("harness.yaml")]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
}

#[test]
fn validate_speaks_json_for_machines() {
    let project = Project::new();
    let output = project.run(&[
        "validate",
        "--suite",
        &suite("broken.yaml"),
        "--format",
        "json",
    ]);
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["cases"], 3);
    let failed: Vec<(&str, &str)> = json["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["case"].as_str().unwrap(), f["stage"].as_str().unwrap()))
        .collect();
    assert_eq!(
        failed,
        [("type-error", "compile"), ("wrong-answer", "test")]
    );
}

#[test]
fn a_reference_run_writes_both_reports_prints_the_table_and_passes_its_gate() {
    let project = Project::new();
    let output = project.run(&[
        "run",
        "--suite",
        &suite("fixture.yaml"),
        "--model",
        "reference",
        "--min-score",
        "0.9",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let stem = format!("report_reference_reference_{}", today());
    let names: Vec<String> = project
        .reports()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let html = format!("report_{}.html", today());
    assert_eq!(names, [html, format!("{stem}.csv"), format!("{stem}.json")]);
    let table = stdout(&output);
    assert!(
        table.contains("reference") && table.contains("1.000") && table.contains("100%"),
        "{table}"
    );
    let csv = std::fs::read_to_string(project.path().join(format!("logs/benchmarks/{stem}.csv")))
        .unwrap();
    assert_eq!(csv.lines().count(), 1 + 7);
}

#[test]
fn run_is_the_default_command_and_reads_the_config_from_cargo_toml() {
    let suite_path = suite("fixture.yaml");
    let project = Project::with_manifest_extra(&format!("[package.metadata.llm-bench]\nsuites = [\"{suite_path}\"]\nmodels = [\"reference\"]\nmin-score = 0.99\noutput = \"reports\"\n"));
    let output = project.run(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(project
        .path()
        .join(format!(
            "reports/report_reference_reference_{}.json",
            today()
        ))
        .is_file());
}

#[test]
fn a_score_below_min_score_fails_the_gate_with_exit_1() {
    let project = Project::new();
    let output = project.run(&[
        "--suite",
        &suite("fixture.yaml"),
        "--model",
        &replay_dir(),
        "--min-score",
        "0.9",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("below --min-score 0.9"),
        "{}",
        stderr(&output)
    );
    // Not a terminal and no COLUMNS: the table fits 80 columns, and the failures follow it.
    let text = stdout(&output);
    assert!(
        text.lines().all(|line| line.chars().count() <= 80),
        "{text}"
    );
    for failure in [
        "failed 4 of 7 valid runs:",
        "  greet (format: no code block)",
        "  repeat (compile: E0308)",
        "  spin (test: 0/1 passed, timed out)",
        "  clamp (coverage: 29% < 80%)",
    ] {
        assert!(text.contains(failure), "{failure} is missing:\n{text}");
    }
}

#[test]
fn a_second_run_on_the_same_day_keeps_the_first_report() {
    let project = Project::new();
    for _ in 0..2 {
        let output = project.run(&[
            "--suite",
            &suite("fixture.yaml"),
            "--model",
            "reference",
            "--jobs",
            "1",
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    }
    let stem = format!("report_reference_reference_{}", today());
    for name in [
        format!("{stem}.json"),
        format!("{stem}-2.json"),
        format!("{stem}.csv"),
        format!("{stem}-2.csv"),
    ] {
        assert!(
            project.path().join("logs/benchmarks").join(&name).is_file(),
            "{name} is missing"
        );
    }
}

/// Runs the recorded answers and returns the JSON report.
fn replay_report(project: &Project) -> Value {
    let output = project.run_with_env(
        &[
            "--suite",
            &suite("fixture.yaml"),
            "--model",
            &replay_dir(),
            "--format",
            "json",
        ],
        &[("OPENAI_API_KEY", "sk-must-not-leak")],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json_path = project
        .reports()
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let report: Value = serde_json::from_str(&std::fs::read_to_string(json_path).unwrap()).unwrap();
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed[0]["summary"]["runs"], report["summary"]["runs"]);
    report
}

/// Runs a fixture suite on its recorded answers and returns the one model's report, as printed.
fn replay_printed(project: &Project, suite_file: &str, extra: &[&str]) -> Value {
    let suite_path = suite(suite_file);
    let replay = replay_dir();
    let mut args = vec![
        "--suite",
        &suite_path,
        "--model",
        &replay,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let output = project.run(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let mut reports: Value = serde_json::from_slice(&output.stdout).unwrap();
    reports[0].take()
}

fn case<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["case"] == id)
        .unwrap()
}

fn final_stages(case: &Value) -> Vec<(String, bool)> {
    let attempts = case["attempts"].as_array().unwrap();
    attempts.last().unwrap()["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["stage"].as_str().unwrap().to_owned(),
                s["passed"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn recorded_answers_fail_exactly_the_stage_they_break() {
    let project = Project::new();
    let report = replay_report(&project);
    let stages = |id| final_stages(case(&report, id));
    let pass = |name: &str| (name.to_owned(), true);
    let fail = |name: &str| (name.to_owned(), false);
    assert_eq!(stages("greet"), [fail("format")]);
    assert_eq!(stages("repeat"), [pass("format"), fail("compile")]);
    assert_eq!(
        stages("spin"),
        [pass("format"), pass("compile"), fail("test")]
    );
    assert_eq!(
        stages("clamp"),
        [
            pass("format"),
            pass("compile"),
            pass("test"),
            fail("coverage")
        ]
    );
    assert_eq!(
        stages("add"),
        [
            pass("format"),
            pass("compile"),
            pass("test"),
            pass("coverage")
        ]
    );

    let repeat = &case(&report, "repeat")["attempts"][0]["stages"][1];
    assert_eq!(repeat["error_codes"], serde_json::json!(["E0308"]));
    let spin = &case(&report, "spin")["attempts"][0]["stages"][2];
    assert!(
        spin["diagnostics"]
            .as_str()
            .unwrap()
            .contains("timed out after 3s"),
        "{spin}"
    );
}

#[test]
fn a_failed_answer_is_repaired_from_its_diagnostics() {
    let project = Project::new();
    let report = replay_report(&project);
    let sign = case(&report, "sign");
    assert_eq!(sign["repairs"], 1);
    assert_eq!(sign["first_try_passed"], false);
    assert_eq!(sign["passed"], true);
    assert_eq!(sign["attempts"][0]["stages"][0]["already_formatted"], false);
}

#[test]
fn generated_code_does_not_see_the_callers_secrets() {
    let project = Project::new();
    let report = replay_report(&project);
    assert_eq!(case(&report, "secret")["passed"], true);
    let text = report.to_string();
    assert!(!text.contains("sk-must-not-leak"));
}

#[test]
fn the_scored_replay_report_matches_its_snapshot() {
    let project = Project::new();
    let report = replay_report(&project);
    insta::with_settings!({
        snapshot_path => "../snapshots",
        prepend_module_to_snapshot => false,
        filters => vec![
            (r"/[^\s\x22]*/fixtures/", "[FIXTURES]/"),
            (r"_[^\s\x22]*fixtures_replay", "_[FIXTURES]_replay"),
        ],
    }, {
        insta::assert_json_snapshot!("replay_report", report, {
            ".created" => "[created]",
            ".rustc" => "[rustc]",
            ".summary.total_ms" => "[ms]",
            ".summary.generation_ms" => "[ms]",
            ".cases[].attempts[].metrics.generation_ms" => "[ms]",
            ".cases[].attempts[].stages[].duration_ms" => "[ms]",
        });
    });
}

#[test]
fn every_problem_of_an_invalid_suite_is_named_with_file_line_column_and_key() {
    let project = Project::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(fixtures().join("suites/invalid"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for path in names {
        let output = project.run(&["validate", "--suite", &path.display().to_string()]);
        assert_eq!(output.status.code(), Some(2), "{}", path.display());
        let text = stderr(&output).replace(&fixtures().display().to_string(), "[FIXTURES]");
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(format!("invalid_{name}"), text);
        });
    }
}

#[test]
fn bad_flags_exit_2_with_a_hint() {
    let project = Project::new();
    let fixture = suite("fixture.yaml");
    for args in [
        vec!["--suite", "missing.yaml", "--model", "reference"],
        vec![
            "--suite",
            &fixture,
            "--model",
            "reference",
            "--samples",
            "0",
        ],
        vec![
            "--suite",
            &fixture,
            "--model",
            "reference",
            "--min-score",
            "1.5",
        ],
        vec!["--suite", &fixture, "--model", "nocolon"],
        vec!["--suite", &fixture, "--no-such-flag"],
    ] {
        let output = project.run(&args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).starts_with("error"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn a_provider_that_cannot_be_used_exits_3() {
    let project = Project::new();
    for model in ["replay:/no/such/folder", "nosuch:model"] {
        let output = project.run(&["--suite", &suite("fixture.yaml"), "--model", model]);
        assert_eq!(
            output.status.code(),
            Some(3),
            "{model}: {}",
            stderr(&output)
        );
    }
    assert!(
        project.reports().is_empty(),
        "no report for a run that never started"
    );
}

#[test]
fn an_invalid_config_names_its_file_line_and_column() {
    let project = Project::new();
    std::fs::write(
        project.path().join("llm-bench.toml"),
        "models = [\"reference\"]\nmin-scroe = 0.5\n",
    )
    .unwrap();
    let output = project.run(&["--suite", &suite("fixture.yaml")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("llm-bench.toml:2:1"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn hostile_answers_fail_their_own_tests_and_leave_their_neighbours_alone() {
    let project = Project::new();
    let report = &replay_printed(&project, "hostile.yaml", &[]);
    let verdict = |id| case(report, id)["passed"].as_bool().unwrap();
    for id in [
        "exit-early",
        "fake-report",
        "memory-hog",
        "disk-filler",
        "stack-overflow",
    ] {
        assert!(!verdict(id), "{id} must fail its tests");
        assert_eq!(
            final_stages(case(report, id)).last().unwrap().0,
            "test",
            "{id}"
        );
    }
    // `injector` planted a failing test in a module named like this neighbour's.
    assert!(verdict("honest-neighbour"));
    // A flood of output meets the output limit, and says so.
    assert!(!verdict("output-flood"));
    let flood = case(report, "output-flood")["attempts"][0]["stages"][2]["diagnostics"]
        .as_str()
        .unwrap();
    assert!(flood.contains("output limit"), "{flood}");
    let hog = case(report, "compiler-memory-hog");
    assert_eq!(
        final_stages(hog).last().unwrap(),
        &("compile".to_owned(), false)
    );
    let disk = case(report, "disk-filler")["attempts"][0]["stages"][2]["diagnostics"]
        .as_str()
        .unwrap();
    assert!(
        disk.contains("file size limit (killed by signal 25)"),
        "{disk}"
    );
}

#[test]
fn megabytes_of_compiler_output_lose_no_answer() {
    // Each answer draws 150 warnings; cargo's JSON for the batch runs to megabytes.
    let mut yaml =
        String::from("suite: noisy\ndefaults:\n  stages: [format, compile, test]\ncases:\n");
    for n in 0..60 {
        yaml.push_str(&format!("  - id: noisy-{n}\n    prompt: p\n    reference: |\n      pub fn value_{n}() -> u32 {{\n"));
        for i in 0..150 {
            yaml.push_str(&format!("          let unused_{i} = {i};\n"));
        }
        yaml.push_str(&format!("          {n}\n      }}\n    tests: |\n      #[test]\n      fn value_is_right() {{\n          assert_eq!(value_{n}(), {n});\n      }}\n"));
    }
    let project = Project::new();
    let path = project.path().join("noisy.yaml");
    std::fs::write(&path, yaml).unwrap();
    let output = project.run(&["validate", "--suite", &path.display().to_string()]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("60 of 60 references pass every stage"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn an_answer_that_never_finishes_compiling_does_not_take_its_neighbour_down() {
    let project = Project::new();
    let report = replay_printed(&project, "compile-spin.yaml", &["--jobs", "1"]);
    let spinner = case(&report, "spinner");
    assert_eq!(
        final_stages(spinner),
        [("format".to_owned(), true), ("compile".to_owned(), false)]
    );
    assert!(spinner["attempts"][0]["stages"][1]["diagnostics"]
        .as_str()
        .unwrap()
        .contains("timeout"));
    assert_eq!(case(&report, "honest")["passed"], true);
}

#[test]
fn ctrl_c_takes_the_running_test_processes_down_too() {
    let project = Project::new();
    let mut command = Command::new(env!("CARGO_BIN_EXE_cargo-llm-bench"));
    command
        .args([
            "llm-bench",
            "--suite",
            &suite("fixture.yaml"),
            "--model",
            &replay_dir(),
            "--timeout",
            "60s",
        ])
        .current_dir(project.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut tool = command.spawn().unwrap();
    // `spin` loops forever in its test; wait until its test process is up.
    let running = |pattern: &str| {
        let found = Command::new("pgrep")
            .args(["-f", pattern])
            .output()
            .unwrap();
        !found.stdout.is_empty()
    };
    let project_path = project.path().display().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let spin_test = format!("{project_path}/target/llm-bench/target-coverage.*returns_one");
    while !running(&spin_test) {
        assert!(
            std::time::Instant::now() < deadline,
            "the test process never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(tool.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = tool.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        !running(&format!("{project_path}/target/llm-bench/target-coverage")),
        "a test process outlived the interrupted run"
    );
}

/// One case whose reference leaves a function untested: about half its lines are covered.
const HALF_COVERED_SUITE: &str = "suite: half-covered\ndefaults:\n  coverage: 0.3\ncases:\n  - id: half\n    prompt: p\n    reference: |\n      pub fn used(x: i32) -> i32 {\n          x + 1\n      }\n      pub fn unused(x: i32) -> i32 {\n          let y = x * 2;\n          let z = y - 3;\n          z * z\n      }\n    tests: |\n      #[cfg(test)]\n      mod tests {\n          #[test]\n          fn used_adds_one() {\n              assert_eq!(super::used(1), 2);\n          }\n      }\n";

#[test]
fn validate_applies_the_configs_coverage_bar_as_run_does() {
    let project = Project::new();
    let suite_path = project.write("suites/half.yaml", HALF_COVERED_SUITE);
    let without_config = project.run(&["validate", "--suite", &suite_path]);
    assert_eq!(
        without_config.status.code(),
        Some(0),
        "{}",
        stdout(&without_config)
    );
    project.write("llm-bench.toml", "coverage = 1.0\n");
    let validate = project.run(&["validate", "--suite", &suite_path]);
    assert_eq!(validate.status.code(), Some(1), "{}", stdout(&validate));
    assert!(
        stdout(&validate).contains("FAIL half-covered/half at coverage"),
        "{}",
        stdout(&validate)
    );
    let run = project.run(&[
        "--suite",
        &suite_path,
        "--model",
        "reference",
        "--format",
        "json",
    ]);
    let reports: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(
        final_stages(&reports[0]["cases"][0]).last(),
        Some(&("coverage".to_owned(), false)),
        "run fails the same stage validate does"
    );
}

#[test]
fn samples_come_from_the_suite_per_case_and_a_flag_overrides_them() {
    let project = Project::new();
    let text = std::fs::read_to_string(suite("fixture.yaml"))
        .unwrap()
        .replace("  repairs: 1\n", "  repairs: 1\n  samples: 2\n")
        .replacen("  - id: add\n", "  - id: add\n    samples: 3\n", 1);
    let suite_path = project.write("suites/sampled.yaml", text);
    let conversations = |extra: &[&str]| {
        let mut args = vec![
            "--suite",
            &suite_path,
            "--model",
            "reference",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let output = project.run(&args);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let reports: Value = serde_json::from_slice(&output.stdout).unwrap();
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for case in reports[0]["cases"].as_array().unwrap() {
            *counts
                .entry(case["case"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        (counts, reports[0]["samples"].clone())
    };
    let (counts, samples) = conversations(&[]);
    assert_eq!(counts["add"], 3);
    assert_eq!(counts["sign"], 2);
    assert_eq!(
        samples, 3,
        "a report's samples is the most any case asks for"
    );
    let (counts, _) = conversations(&["--samples", "1"]);
    assert!(counts.values().all(|count| *count == 1), "{counts:?}");
}
