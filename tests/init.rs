//! `init` in a fresh project, then the commands it prints, as a new user would type them; and
//! the `model` that `optimize --save` leaves in the config.

#[path = "support/project.rs"]
mod project;

use project::Project;
use std::process::Output;

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The `cargo llm-bench …` commands `init` prints that need no model server.
fn printed_offline_commands(init: &Output) -> Vec<Vec<String>> {
    stdout(init)
        .lines()
        .filter_map(|line| line.trim().strip_prefix("cargo llm-bench "))
        .map(|command| command.split('#').next().unwrap_or_default().trim())
        .filter(|command| !command.starts_with("models") && !command.contains("-m "))
        .map(|command| command.split_whitespace().map(str::to_owned).collect())
        .collect()
}

#[test]
fn init_then_the_printed_commands_work_without_edits() {
    let project = Project::new();
    let init = project.run(&["init"]);
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    assert!(project.path().join("llm-bench.toml").is_file());
    assert!(project.path().join("suites/starter.yaml").is_file());

    let commands = printed_offline_commands(&init);
    assert_eq!(
        commands,
        [vec!["validate".to_owned()], vec!["run".to_owned()]],
        "{}",
        stdout(&init)
    );
    for command in &commands {
        let mut args: Vec<&str> = command.iter().map(String::as_str).collect();
        args.push("--no-progress");
        let output = project.run(&args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "`cargo llm-bench {}`:\n{}{}",
            command.join(" "),
            stdout(&output),
            stderr(&output)
        );
    }
    let reports = project.reports();
    assert!(!reports.is_empty(), "run wrote no report");
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let project = Project::new();
    assert_eq!(project.run(&["init"]).status.code(), Some(0));
    project.write("llm-bench.toml", "# mine\nmodels = [\"reference\"]\n");

    let again = project.run(&["init"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    let kept = std::fs::read_to_string(project.path().join("llm-bench.toml")).unwrap();
    assert_eq!(kept, "# mine\nmodels = [\"reference\"]\n");

    let forced = project.run(&["init", "--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
    let replaced = std::fs::read_to_string(project.path().join("llm-bench.toml")).unwrap();
    assert!(
        replaced.contains("models = [\"reference\"]") && replaced.starts_with("# cargo llm-bench")
    );
}

#[test]
fn the_saved_model_is_what_run_benchmarks_when_no_models_are_named() {
    let project = Project::new();
    assert_eq!(project.run(&["init"]).status.code(), Some(0));
    // As `optimize --save` leaves it: a `model`, and no `models` list.
    project.write(
        "llm-bench.toml",
        "suites = [\"suites/starter.yaml\"]\nmodel = \"reference\"\n",
    );
    let run = project.run(&["run", "--no-progress", "--format", "json"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let reports: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(reports[0]["provider"], "reference", "{reports:#}");
}
