//! Every bad input of docs/bad-input.md, tried on the real binary the way a new user would.
//!
//! Each test is one row of that table: what the user did, the message they get, the exit code.
//! No input may panic: every run here is checked for exit 101 and for "panicked".

#[path = "support/project.rs"]
mod project;

use project::Project;
use serde_json::Value;
use std::path::Path;
use std::process::Output;

fn bad_input(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/bad-input")
        .join(name)
        .display()
        .to_string()
}

fn sound_suite() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/suites/fixture.yaml")
        .display()
        .to_string()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The exit code is the expected one, and nothing panicked on the way.
fn assert_exit(output: &Output, code: i32) {
    let (out, err) = (stdout(output), stderr(output));
    assert!(
        !err.contains("panicked") && !out.contains("panicked"),
        "a panic:\n{err}"
    );
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{out}\nstderr:\n{err}"
    );
}

fn assert_contains(text: &str, wanted: &str) {
    assert!(text.contains(wanted), "`{wanted}` is missing from:\n{text}");
}

fn validate(suite: &str) -> (Output, String) {
    let output = Project::new().run(&["validate", "--suite", suite]);
    let text = stderr(&output);
    (output, text)
}

#[test]
fn a_yaml_syntax_error_names_the_real_file_once_with_its_line_and_column() {
    let suite = bad_input("unquoted-colon.yaml");
    let (output, text) = validate(&suite);
    assert_exit(&output, 2);
    assert_contains(&text, &format!("{suite}:3:32: YAML syntax error: "));
    assert_eq!(text.matches("3:32").count(), 1, "{text}");
    assert_eq!(text.matches("line 3").count(), 0, "{text}");
    assert!(!text.contains("<input>"), "{text}");
    // One excerpt, with the caret under the colon that YAML tripped on.
    assert_contains(
        &text,
        "   3 |     prompt: Write `pub fn add(a: i32, b: i32) -> i32` that adds two numbers.\n     |                                ^\n",
    );
}

#[test]
fn an_unclosed_quote_is_traced_back_to_where_it_opened() {
    let suite = bad_input("unclosed-quote.yaml");
    let (output, text) = validate(&suite);
    assert_exit(&output, 2);
    assert_contains(&text, &format!("{suite}:4:17: YAML syntax error: invalid trailing content after double-quoted scalar (the quoted value opened at 3:13 runs on to here; is its closing quote missing?)"));
}

#[test]
fn an_unquoted_colon_in_a_prompt_gets_a_hint_to_quote_it_or_use_a_block() {
    let suite = bad_input("unquoted-colon.yaml");
    let (output, text) = validate(&suite);
    assert_exit(&output, 2);
    assert_contains(
        &text,
        &format!("{suite}:3:32: YAML syntax error: mapping values are not allowed in this context"),
    );
    assert_contains(&text, "quote the whole value");
    assert_contains(&text, "`key: |`");
}

#[test]
fn a_tab_in_the_indentation_is_pointed_at_on_its_own_line() {
    let suite = bad_input("tab-indent.yaml");
    let (output, text) = validate(&suite);
    assert_exit(&output, 2);
    assert_contains(&text, &format!("{suite}:3:1: YAML syntax error"));
    assert_contains(&text, "replace the tab with spaces");
}

#[test]
fn a_syntax_error_on_a_ten_megabyte_line_prints_a_short_excerpt() {
    let project = Project::new();
    let line = "x".repeat(10 * 1024 * 1024);
    let suite = project.write(
        "huge-line.yaml",
        format!("cases:\n  - id: a\n    prompt: \"{line}\n"),
    );
    let output = project.run(&["validate", "--suite", &suite]);
    assert_exit(&output, 2);
    let text = stderr(&output);
    assert_contains(
        &text,
        "huge-line.yaml:3:13: YAML syntax error: unclosed quote",
    );
    assert!(text.len() < 2_000, "{} bytes of error", text.len());
}

#[test]
fn values_of_the_wrong_type_are_all_listed_with_their_keys() {
    let suite = bad_input("wrong-types.yaml");
    let (output, text) = validate(&suite);
    assert_exit(&output, 2);
    assert_contains(&text, "(7 problems)");
    for wanted in [
        ":1:10: edition: expected a string, found a list",
        ":3:12: defaults.repairs: expected an integer, found a string",
        ":4:12: defaults.timeout: expected a duration such as `30s`, found a list",
        ":5:16: defaults.temperature: expected a number, found a string",
        ":7:9: cases[0].id: expected a string, found a list",
        ":8:13: cases[0].prompt: expected a string, found an integer",
        ":11:11: cases[0].tags: expected a list, found a string",
    ] {
        assert_contains(&text, wanted);
    }
}

#[test]
fn unknown_keys_are_named_with_the_key_they_were_probably_meant_to_be() {
    let suite = bad_input("unknown-keys.yaml");
    let (output, text) = validate(&suite);
    assert_exit(&output, 2);
    assert_contains(
        &text,
        ":2:1: defautls: unknown key (did you mean `defaults`?)",
    );
    assert_contains(
        &text,
        ":6:5: cases[0].promt: unknown key (did you mean `prompt`?)",
    );
    assert_contains(
        &text,
        ":10:5: cases[0].colour: unknown key (known keys: id, prompt",
    );
}

#[test]
fn a_suite_file_that_does_not_exist_is_named() {
    let project = Project::new();
    for suite in ["missing.yaml", "suites/*.yaml", "/"] {
        let output = project.run(&["validate", "--suite", suite]);
        assert_exit(&output, 2);
        assert_contains(
            &stderr(&output),
            &format!("error: no suite file matches `{suite}`"),
        );
    }
}

#[test]
fn an_empty_suite_file_says_it_is_empty() {
    for name in ["empty.yaml", "only-comments.yaml"] {
        let suite = bad_input(name);
        let (output, text) = validate(&suite);
        assert_exit(&output, 2);
        assert_contains(
            &text,
            &format!("{suite}:1:1: the suite is empty (a suite is a mapping with a `cases:` list"),
        );
    }
}

#[test]
fn a_suite_without_cases_says_it_needs_one() {
    let suite = bad_input("no-cases.yaml");
    let (output, text) = validate(&suite);
    assert_exit(&output, 2);
    assert_contains(
        &text,
        &format!("{suite}:2:8: cases: must list at least one case"),
    );
}

#[test]
fn a_duplicate_case_id_points_at_the_second_one() {
    let suite = bad_input("duplicate-ids.yaml");
    let (output, text) = validate(&suite);
    assert_exit(&output, 2);
    assert_contains(
        &text,
        &format!("{suite}:6:9: cases[1].id: duplicate case id `add`"),
    );
}

#[test]
fn tests_that_do_not_compile_against_their_own_reference_fail_validate_and_say_why() {
    let suite = bad_input("tests-do-not-compile.yaml");
    let (output, _) = validate(&suite);
    assert_exit(&output, 1);
    let text = stdout(&output);
    assert_contains(&text, "FAIL tests-do-not-compile/add at test");
    assert_contains(&text, "the hidden tests do not build against this answer");
    assert_contains(
        &text,
        "error[E0425]: cannot find function `sum` in this scope",
    );
    assert_contains(&text, "0 of 1 references pass every stage");
}

#[test]
fn a_dependency_that_is_not_on_crates_io_is_the_suites_error_not_the_models() {
    let suite = bad_input("missing-dependency.yaml");
    let (output, text) = validate(&suite);
    assert_exit(&output, 2);
    assert_contains(&text, &suite);
    assert_contains(&text, "no-such-crate-llm-bench-fixture");
}

#[test]
fn a_malformed_model_spec_exits_2_and_shows_the_form() {
    let project = Project::new();
    let suite = sound_suite();
    for spec in ["nocolon", "ollama:", ":model", ""] {
        let output = project.run(&["--suite", &suite, "--model", spec]);
        assert_exit(&output, 2);
        assert_contains(&stderr(&output), "is not a model: write PROVIDER:MODEL");
    }
}

#[test]
fn an_unknown_provider_is_named_and_no_report_is_written() {
    let project = Project::new();
    let output = project.run(&["--suite", &sound_suite(), "--model", "nosuch:model"]);
    assert_exit(&output, 3);
    assert_contains(
        &stderr(&output),
        "error: model nosuch:model cannot be used: unknown provider `nosuch`",
    );
    assert!(project.reports().is_empty());
}

#[test]
fn invalid_config_in_cargo_toml_names_the_file_line_and_column() {
    let project = Project::with_manifest_extra(
        "[package.metadata.llm-bench]\nmodels = [\"reference\"]\nsamples = \"three\"\n",
    );
    let output = project.run(&["--suite", &sound_suite()]);
    assert_exit(&output, 2);
    let manifest = project.path().join("Cargo.toml");
    assert_contains(
        &stderr(&output),
        &format!(
            "{}:8:11: samples: expected an integer, found a string",
            manifest.display()
        ),
    );
}

#[test]
fn an_unknown_key_in_cargo_toml_config_is_named() {
    let project = Project::with_manifest_extra("[package.metadata.llm-bench]\nmin-scroe = 0.5\n");
    let output = project.run(&["--suite", &sound_suite(), "--model", "reference"]);
    assert_exit(&output, 2);
    assert_contains(
        &stderr(&output),
        "Cargo.toml:7:1: min-scroe: unknown key (did you mean `min-score`?)",
    );
}

#[test]
fn every_problem_of_a_config_comes_at_once_like_a_suites() {
    let project = Project::new();
    std::fs::write(
        project.path().join("llm-bench.toml"),
        "models = [\"reference\"]\nrepairs = \"two\"\ntimout = 5\nformat = \"jsn\"\nmin-pass-rate = { tset = 0.8 }\n\n[weights]\ncoverage = -1\n",
    )
    .unwrap();
    let output = project.run(&["--suite", &sound_suite()]);
    assert_exit(&output, 2);
    let text = stderr(&output);
    assert_contains(&text, "llm-bench.toml (5 problems)");
    for line in [
        "llm-bench.toml:2:11: repairs: expected an integer, found a string",
        "llm-bench.toml:3:1: timout: unknown key (did you mean `timeout`?)",
        "llm-bench.toml:4:10: format: unknown value `jsn` (did you mean `json`?)",
        "llm-bench.toml:5:19: min-pass-rate.tset: unknown key (did you mean `test`?)",
        "llm-bench.toml:8:12: weights.coverage: -1 must be at least 0",
    ] {
        assert_contains(&text, line);
    }
}

#[test]
fn a_timeout_of_a_number_of_seconds_is_taken_from_a_flag_and_the_config() {
    let project = Project::new();
    let suite = sound_suite();
    let flag = project.run(&["validate", "--suite", &suite, "--timeout", "20"]);
    assert_exit(&flag, 0);
    std::fs::write(project.path().join("llm-bench.toml"), "timeout = 20\n").unwrap();
    let config = project.run(&["validate", "--suite", &suite]);
    assert_exit(&config, 0);
}

#[test]
fn a_cargo_toml_that_is_not_toml_is_reported_by_cargo_with_its_position() {
    let project = Project::new();
    std::fs::write(
        project.path().join("Cargo.toml"),
        "[package\nname = \"x\"\n",
    )
    .unwrap();
    let output = project.run(&["--suite", &sound_suite()]);
    assert_exit(&output, 2);
    assert_contains(&stderr(&output), "Cargo.toml:1:9");
}

#[test]
fn an_output_folder_that_cannot_be_written_is_refused_before_any_work() {
    let project = Project::new();
    let taken = project.write("taken", "not a folder");
    let below_a_file = format!("{taken}/reports");
    for (output_dir, wanted) in [
        (
            taken.as_str(),
            format!("error: the output folder {taken} is a file"),
        ),
        (
            below_a_file.as_str(),
            format!("error: cannot create the output folder {below_a_file}"),
        ),
        (
            "/proc/x",
            "error: cannot create the output folder /proc/x".to_owned(),
        ),
        // A folder that exists but takes no new file, even from root.
        (
            "/proc/self",
            "error: cannot write into the output folder /proc/self".to_owned(),
        ),
    ] {
        let output = project.run(&[
            "--suite",
            &sound_suite(),
            "--model",
            "reference",
            "--output",
            output_dir,
        ]);
        assert_exit(&output, 2);
        assert_contains(&stderr(&output), &wanted);
        assert_contains(&stderr(&output), "hint: pass --output DIR");
        // Refused before any work: no scratch project was even opened.
        assert!(!project.path().join("target/llm-bench").exists());
    }
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "not a folder");
}

#[test]
fn report_files_follow_the_umask_like_any_other_file() {
    use std::os::unix::fs::PermissionsExt;
    let project = Project::new();
    for (umask, mode, dir) in [("022", 0o644, "open"), ("077", 0o600, "private")] {
        let output = project.run_with_umask(
            umask,
            &[
                "--suite",
                &sound_suite(),
                "--model",
                "reference",
                "--output",
                dir,
            ],
        );
        assert_exit(&output, 0);
        let reports = project.reports_in(dir);
        assert_eq!(reports.len(), 3, "JSON, CSV and HTML: {reports:?}");
        for report in reports {
            let actual = std::fs::metadata(&report).unwrap().permissions().mode() & 0o777;
            assert_eq!(actual, mode, "{} under umask {umask}", report.display());
        }
    }
}

/// A suite of `n` cases that would all pass, as YAML text.
fn many_cases(n: usize) -> String {
    let mut yaml = String::from("suite: many\ncases:\n");
    for index in 0..n {
        yaml.push_str(&format!(
            "  - id: case-{index}\n    prompt: Return {index}.\n    reference: \"pub fn value() -> usize {{ {index} }}\"\n    tests: \"#[test] fn right() {{ assert_eq!(value(), {index}); }}\"\n"
        ));
    }
    yaml
}

#[test]
fn a_suite_of_ten_thousand_cases_is_read_whole_and_its_one_mistake_found() {
    let project = Project::new();
    // The last case repeats the first id: the whole file is parsed and checked, but nothing
    // is scored, because a suite with a problem never reaches the sandbox.
    let yaml = many_cases(10_000) + &many_cases(1).replace("suite: many\ncases:\n", "");
    let suite = project.write("many.yaml", yaml);
    let output = project.run(&["validate", "--suite", &suite]);
    assert_exit(&output, 2);
    let text = stderr(&output);
    assert_contains(&text, "(1 problem)");
    assert_contains(
        &text,
        "many.yaml:40003:9: cases[10000].id: duplicate case id `case-0`",
    );
}

#[test]
fn ten_thousand_broken_cases_print_fifty_problems_and_a_count() {
    let project = Project::new();
    let yaml = many_cases(10_000).replace("    tests: ", "    test: ");
    let suite = project.write("many.yaml", yaml);
    let output = project.run(&["validate", "--suite", &suite]);
    assert_exit(&output, 2);
    let text = stderr(&output);
    assert_contains(&text, "(20000 problems)");
    assert_contains(&text, "\n  ... and 19950 more\n");
    assert!(text.lines().count() < 60, "{} lines", text.lines().count());
}

#[test]
fn a_ten_megabyte_prompt_is_accepted() {
    let project = Project::new();
    let prompt = "Add two numbers. ".repeat(10 * 1024 * 1024 / 17 + 1);
    let yaml = format!(
        "suite: big-prompt\ndefaults:\n  stages: [format, compile]\ncases:\n  - id: add\n    prompt: \"{prompt}\"\n    reference: \"pub fn add(a: i32, b: i32) -> i32 {{ a + b }}\"\n    tests: \"#[test] fn adds() {{ assert_eq!(add(1, 2), 3); }}\"\n"
    );
    let suite = project.write("big-prompt.yaml", yaml);
    let output = project.run(&["validate", "--suite", &suite]);
    assert_exit(&output, 0);
    assert_contains(&stdout(&output), "1 of 1 references pass every stage");
}

#[test]
fn a_suite_with_bytes_that_are_not_utf8_names_where_they_are() {
    let project = Project::new();
    let suite = project.write(
        "latin1.yaml",
        b"cases:\n  - id: caf\xe9\n    prompt: p\n".as_slice(),
    );
    let output = project.run(&["validate", "--suite", &suite]);
    assert_exit(&output, 2);
    assert_contains(
        &stderr(&output),
        "latin1.yaml:2:12: the file is not valid UTF-8 (byte 0xe9) (save the suite as UTF-8)",
    );
}

#[test]
fn a_raw_control_character_in_a_suite_is_located_with_a_hint_to_escape_it() {
    let project = Project::new();
    let suite = project.write("bell.yaml", "cases:\n  - id: a\n    prompt: ring \u{7}\n");
    let output = project.run(&["validate", "--suite", &suite]);
    assert_exit(&output, 2);
    let text = stderr(&output);
    assert_contains(
        &text,
        "bell.yaml:3:18: YAML syntax error: unexpected character",
    );
    assert_contains(&text, "write them as escapes in a double-quoted string");
}

/// Writes recorded answers for the cases of `suite_name` and returns the `replay:` spec.
fn recordings(project: &Project, suite_name: &str, answers: &[(&str, &[u8])]) -> String {
    for (case, answer) in answers {
        project.write(&format!("recordings/{suite_name}/{case}/0-0.md"), answer);
    }
    format!("replay:{}", project.path().join("recordings").display())
}

#[test]
fn recorded_answers_with_nul_bytes_or_megabyte_lines_are_scored_not_crashed_on() {
    let project = Project::new();
    let long_line = format!(
        "```rust\npub fn add(a: i32, b: i32) -> i32 {{ a + b }} // {}\n```\n",
        "x".repeat(1024 * 1024)
    );
    let replay = recordings(
        &project,
        "replay-answers",
        &[
            (
                "nul-bytes",
                b"```rust\npub fn add(a: i32, b: i32) -> i32 {\0 a + b }\n```\n",
            ),
            ("long-line", long_line.as_bytes()),
        ],
    );
    let output = project.run(&[
        "--suite",
        &bad_input("replay-answers.yaml"),
        "--model",
        &replay,
        "--format",
        "json",
    ]);
    assert_exit(&output, 0);
    let reports: Value = serde_json::from_slice(&output.stdout).unwrap();
    let passed = |id: &str| {
        reports[0]["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|case| case["case"] == id)
            .unwrap()["passed"]
            .as_bool()
            .unwrap()
    };
    assert!(!passed("nul-bytes"), "a NUL byte is not Rust");
    assert!(passed("long-line"), "a megabyte comment is still Rust");
    assert_eq!(project.reports().len(), 3, "JSON, CSV and HTML");
}

#[test]
fn a_recorded_answer_that_is_not_utf8_is_a_provider_error_naming_the_file() {
    let project = Project::new();
    let replay = recordings(
        &project,
        "replay-not-utf8",
        &[("not-utf8", b"```rust\npub fn add() {} // caf\xe9\n```\n")],
    );
    let output = project.run(&[
        "--suite",
        &bad_input("replay-not-utf8.yaml"),
        "--model",
        &replay,
    ]);
    assert_exit(&output, 3);
    assert_contains(
        &stderr(&output),
        "1 request(s) failed at the provider; their cases are recorded as provider errors",
    );
    let report = std::fs::read_to_string(
        project
            .reports()
            .into_iter()
            .find(|path| path.extension().is_some_and(|ext| ext == "json"))
            .unwrap(),
    )
    .unwrap();
    assert_contains(&report, "not-utf8/0-0.md");
}

#[test]
fn flag_values_out_of_range_exit_2_naming_the_flag() {
    let project = Project::new();
    let suite = sound_suite();
    for (flags, wanted) in [
        (vec!["--jobs", "0"], "--jobs"),
        (vec!["--timeout", "soon"], "--timeout"),
        (vec!["--samples", "0"], "--samples"),
        (vec!["--min-score", "1.5"], "--min-score"),
        (vec!["--format", "xml"], "--format"),
        (vec!["--temperature", "hot"], "--temperature"),
    ] {
        let mut args = vec!["--suite", suite.as_str(), "--model", "reference"];
        args.extend(flags);
        let output = project.run(&args);
        assert_exit(&output, 2);
        assert_contains(&stderr(&output), wanted);
    }
}
