//! Gates and comparisons through the real binary: recorded answers (`replay:DIR`) scored by
//! `run`, compared with `compare` and `run --baseline`, and every threshold gate failing by name.

#[path = "support/project.rs"]
mod project;

use project::Project;
use serde_json::Value;
use std::process::Output;

/// Cases in the generated suite.
const CASES: usize = 12;

/// A suite of `CASES` one-line cases: `value_N` must return N.
fn write_suite(project: &Project, repairs: u32) -> String {
    let mut yaml = format!(
        "suite: values\nedition: \"2021\"\ndefaults:\n  repairs: {repairs}\n  timeout: 30s\n  stages: [format, compile, test]\ncases:\n"
    );
    for case in 0..CASES {
        yaml.push_str(&format!(
            "  - id: value-{case}\n    prompt: Write `pub fn value_{case}() -> i32` returning {case}.\n    reference: |\n      pub fn value_{case}() -> i32 {{\n          {case}\n      }}\n    tests: |\n      #[cfg(test)]\n      mod tests {{\n          use super::*;\n          #[test]\n          fn returns_its_number() {{\n              assert_eq!(value_{case}(), {case});\n          }}\n      }}\n"
        ));
    }
    project.write("suites/values.yaml", yaml)
}

/// A recorded answer to case `case`: right, or off by one (it compiles, and fails its test).
fn answer(case: usize, right: bool) -> String {
    let value = if right { case } else { case + 1 };
    format!("```rust\npub fn value_{case}() -> i32 {{\n    {value}\n}}\n```\n")
}

/// Records every case's answer for every sample (`right(case, sample)` decides which) into the
/// one recordings folder, so every run is of the same model, `replay:<project>/recordings`.
fn record(project: &Project, samples: u32, right: impl Fn(usize, u32) -> bool) -> String {
    for case in 0..CASES {
        for sample in 0..samples {
            project.write(
                &format!("recordings/values/value-{case}/{sample}-0.md"),
                answer(case, right(case, sample)),
            );
        }
    }
    format!("replay:{}", project.path().join("recordings").display())
}

/// `run` on the recordings into `output`; returns the output and the written JSON report.
fn run(
    project: &Project,
    suite: &str,
    model: &str,
    output: &str,
    extra: &[&str],
) -> (Output, String) {
    let mut args = vec![
        "run",
        "--suite",
        suite,
        "--model",
        model,
        "--output",
        output,
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    let result = project.run(&args);
    let report = project
        .reports_in(output)
        .into_iter()
        .find(|path| path.extension().is_some_and(|ext| ext == "json"))
        .unwrap_or_else(|| panic!("no report in {output}: {}", stderr(&result)));
    (result, report.display().to_string())
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

/// A noisy model: two samples per case, about two thirds passing, no case all-or-nothing twice
/// in a row.
fn noisy(case: usize, sample: u32) -> bool {
    !(case + sample as usize).is_multiple_of(3)
}

#[test]
fn a_single_flipped_case_of_a_noisy_model_is_not_a_significant_regression() {
    let project = Project::new();
    let suite = write_suite(&project, 0);
    let model = record(&project, 2, noisy);
    let (output, baseline) = run(&project, &suite, &model, "old", &["--samples", "2"]);
    assert_exit(&output, 0);

    // Case 1 passed both samples before; now it fails both.
    record(&project, 2, |case, sample| case != 1 && noisy(case, sample));
    let (output, _) = run(
        &project,
        &suite,
        &model,
        "new",
        &[
            "--samples",
            "2",
            "--baseline",
            &baseline,
            "--fail-on-regression",
        ],
    );
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(text.contains("24 paired runs over 12 cases"), "{text}");
    assert!(
        text.contains("broken values/value-1 sample 0: passed → failed at test (score 1.00 → "),
        "{text}"
    );
    assert!(
        text.contains("sign-flip permutation test over cases (1 moved, every sign pattern); one-sided p = 0.5 (regression)"),
        "{text}"
    );
    assert!(
        text.contains("verdict: no significant change at α = 0.05"),
        "{text}"
    );
}

#[test]
fn a_real_drop_is_a_significant_regression_and_fails_only_when_asked() {
    let project = Project::new();
    let suite = write_suite(&project, 0);
    let model = record(&project, 1, |case, _| case != 11);
    let (output, baseline) = run(&project, &suite, &model, "old", &[]);
    assert_exit(&output, 0);

    // Six of the eleven passing cases now fail: exact McNemar p = (½)^6.
    record(&project, 1, |case, _| case >= 6 && case != 11);
    let (output, worse) = run(
        &project,
        &suite,
        &model,
        "new",
        &["--baseline", &baseline, "--fail-on-regression"],
    );
    assert_exit(&output, 1);
    let errors = stderr(&output);
    assert!(
        errors.contains("significant regression at α = 0.05 (one-sided p = 0.0156 for a regression; 6 broken, 0 fixed)"),
        "{errors}"
    );
    assert!(
        errors.contains("broken: values/value-0 sample 0, values/value-1 sample 0"),
        "{errors}"
    );
    assert!(stdout(&output).contains("exact McNemar test on 6 discordant runs"));

    // Without --fail-on-regression the regression is a warning.
    let output = project.run(&["compare", &baseline, &worse]);
    assert_exit(&output, 0);
    assert!(
        stderr(&output).starts_with("warning: "),
        "{}",
        stderr(&output)
    );
    let output = project.run(&["compare", &baseline, &worse, "--fail-on-regression"]);
    assert_exit(&output, 1);
    // A stricter level than the evidence clears passes.
    let output = project.run(&[
        "compare",
        &baseline,
        &worse,
        "--fail-on-regression",
        "--significance",
        "0.01",
    ]);
    assert_exit(&output, 0);
    assert!(stdout(&output).contains("verdict: no significant change at α = 0.01"));

    let output = project.run(&["compare", &baseline, &worse, "--format", "json"]);
    assert_exit(&output, 0);
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["verdict"], "significant_regression");
    assert_eq!(json["broken"], 6);
    assert_eq!(json["significance"]["method"]["name"], "exact_mcnemar");
    assert_eq!(json["stages"]["test"]["broken"], 6);
    assert_eq!(json["stages"]["compile"]["broken"], 0);
    let p = json["significance"]["p_regression"].as_f64().unwrap();
    assert!((p - 1.0 / 64.0).abs() < 1e-12, "{p}");
    let change = &json["pass_rate"];
    assert!((change["change"].as_f64().unwrap() + 0.5).abs() < 1e-12);
    assert!(change["ci_high"].as_f64().unwrap() < 0.0, "{change}");
}

#[test]
fn compare_lists_runs_of_one_side_and_baselines_of_other_models_warn() {
    let project = Project::new();
    let suite = write_suite(&project, 0);
    let model = record(&project, 2, noisy);
    let (output, two_samples) = run(&project, &suite, &model, "two", &["--samples", "2"]);
    assert_exit(&output, 0);
    let (output, one_sample) = run(&project, &suite, &model, "one", &[]);
    assert_exit(&output, 0);

    let output = project.run(&["compare", &two_samples, &one_sample]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(text.contains("12 paired runs over 12 cases"), "{text}");
    assert!(
        text.contains("only in old (not paired): 12 runs: values/value-0 sample 1,"),
        "{text}"
    );

    // A baseline of a model the run does not have is a warning; the run goes on and passes.
    let mut other: Value =
        serde_json::from_str(&std::fs::read_to_string(&one_sample).unwrap()).unwrap();
    other["provider"] = "ollama".into();
    other["model"] = "other".into();
    let other = project.write("other.json", other.to_string());
    let (output, _) = run(
        &project,
        &suite,
        &model,
        "again",
        &["--baseline", &other, "--fail-on-regression"],
    );
    assert_exit(&output, 0);
    assert!(
        stderr(&output).contains(
            "is a report of ollama:other, which this run does not have; it is not compared"
        ),
        "{}",
        stderr(&output)
    );

    let not_a_report = project.write("notes.json", "{\"hello\": 1}");
    let output = project.run(&["compare", &not_a_report, &one_sample]);
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("is not a JSON report of cargo llm-bench"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn every_threshold_gate_fails_naming_the_model_and_the_gate() {
    let project = Project::new();
    let suite = write_suite(&project, 1);
    // Cases 0..3 fail first and are repaired; case 3 stays wrong.
    let model = record(&project, 1, |case, _| case > 3);
    for case in 0..3 {
        project.write(
            &format!("recordings/values/value-{case}/0-1.md"),
            answer(case, true),
        );
    }
    let label = model.as_str();
    let (output, _) = run(
        &project,
        &suite,
        &model,
        "gated",
        &[
            "--min-score",
            "0.99",
            "--min-pass-rate",
            "test=0.95",
            "--min-pass-rate",
            "compile=1",
            "--max-repairs",
            "0.2",
            "--max-ttft",
            "2s",
            "--min-tps",
            "5",
            "--max-invalid",
            "0",
        ],
    );
    assert_exit(&output, 1);
    let errors = stderr(&output);
    let expected = [
        format!("error: {label}: mean score 0.948 is below --min-score 0.99"),
        format!("error: {label}: test pass rate 0.917 is below --min-pass-rate test=0.95"),
        format!("error: {label}: mean repairs per valid run 0.25 is above --max-repairs 0.2"),
        format!("error: {label}: --max-ttft 2s cannot be checked: no attempt was timed"),
        format!("error: {label}: --min-tps 5 cannot be checked: no attempt was timed"),
    ];
    for line in &expected {
        assert!(
            errors.contains(line.as_str()),
            "missing `{line}` in:\n{errors}"
        );
    }
    // Bars the model clears are not mentioned.
    assert!(!errors.contains("compile=1"), "{errors}");
    assert!(!errors.contains("--max-invalid"), "{errors}");

    let (output, _) = run(
        &project,
        &suite,
        &model,
        "cleared",
        &[
            "--min-score",
            "0.9",
            "--min-pass-rate",
            "test=0.9",
            "--max-repairs",
            "0.25",
        ],
    );
    assert_exit(&output, 0);
}

#[test]
fn a_baseline_that_cannot_be_read_fails_before_any_model_is_asked() {
    let project = Project::new();
    let suite = write_suite(&project, 0);
    let output = project.run(&[
        "run",
        "--suite",
        &suite,
        "--model",
        "replay:does-not-matter",
        "--baseline",
        "missing.json",
        "--no-progress",
    ]);
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("error: cannot read the report missing.json"),
        "{}",
        stderr(&output)
    );
    assert!(project.reports().is_empty());
}
