//! `optimize` end to end with the real CLI: candidates from a fake Ollama's `/api/tags` and from
//! fake OpenAI-compatible servers' `/v1/models`, ranked under each policy, and `--save` writing
//! the recommendation into a commented Cargo.toml without touching the rest of it.

#[path = "support/fake_server.rs"]
mod fake_server;
#[path = "support/project.rs"]
mod project;

use fake_server::{fake_ollama, transcript, FakeServer, Reply, Split};
use project::Project;
use serde_json::Value;
use std::process::Output;
use std::time::Duration;

/// Answers the one case of `SUITE` correctly.
const GOOD_ANSWER: &str = "```rust\npub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n```\n";

const SUITE: &str = r#"suite: opt
defaults:
  repairs: 0
  timeout: 20s
  max_tokens: 256
  stages: [format, compile, test]
cases:
  - id: add
    prompt: "Write `pub fn add(a: i32, b: i32) -> i32`."
    reference: |
      pub fn add(a: i32, b: i32) -> i32 { a + b }
    tests: |
      #[cfg(test)]
      mod tests {
          use super::*;
          #[test]
          fn adds() { assert_eq!(add(2, 3), 5); }
      }
"#;

/// An OpenAI-compatible stream of `answer`, a few characters an event, ending with `stop`.
fn openai_stream(answer: &str) -> Vec<u8> {
    let mut body = String::new();
    let chars: Vec<char> = answer.chars().collect();
    for chunk in chars.chunks(6) {
        let piece: String = chunk.iter().collect();
        let event = serde_json::json!({"choices": [{"index": 0, "finish_reason": null,
            "delta": {"content": piece}}]});
        body.push_str(&format!("data: {event}\n\n"));
    }
    let last = serde_json::json!({"choices": [{"index": 0, "finish_reason": "stop", "delta": {}}],
        "usage": {"prompt_tokens": 20, "completion_tokens": chars.len().div_ceil(6)}});
    body.push_str(&format!("data: {last}\n\ndata: [DONE]\n\n"));
    body.into_bytes()
}

/// A llama.cpp-like server serving one model of `parameters` parameters, answering every chat
/// with `answer`; `pause` between the stream's chunks makes it slow.
fn openai_server(model: &str, parameters: u64, answer: &str, pause: Duration) -> FakeServer {
    let server = FakeServer::start();
    let models = serde_json::json!({"object": "list", "data": [{"id": model, "object": "model",
        "meta": {"n_params": parameters, "n_ctx_train": 32768, "size": parameters / 2}}]});
    server.route(
        "GET",
        "/v1/models",
        [Reply::json(200, models.to_string().into_bytes())],
    );
    server.route(
        "POST",
        "/v1/chat/completions",
        [Reply::sse(openai_stream(answer))
            .split(Split::Every(40))
            .pause(pause)],
    );
    server
}

fn openai_profiles(profiles: &[(&str, &FakeServer)]) -> String {
    let mut text = String::new();
    for (name, server) in profiles {
        text.push_str(&format!(
            "[package.metadata.llm-bench.providers.{name}]\nkind = \"openai\"\nbase-url = \"{}/v1\"\n",
            server.url()
        ));
    }
    text
}

fn optimize(project: &Project, args: &[&str], env: &[(&str, &str)]) -> Output {
    project.write("opt.yaml", SUITE);
    let mut command = vec!["optimize", "--suite", "opt.yaml", "--no-progress"];
    command.extend_from_slice(args);
    project.run_with_env(&command, env)
}

fn explain(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn ranking(output: &Output) -> Value {
    assert_eq!(output.status.code(), Some(0), "{}", explain(output));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("stdout is not JSON ({error}):\n{}", explain(output)))
}

fn models(ranking: &Value) -> Vec<String> {
    ranking["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|candidate| candidate["model"].as_str().unwrap().to_owned())
        .collect()
}

/// Two passing models: a large fast one and a small slow one.
fn large_fast_and_small_slow() -> (FakeServer, FakeServer, Project) {
    let large = openai_server(
        "coder-7b",
        7_600_000_000,
        GOOD_ANSWER,
        Duration::from_millis(0),
    );
    let small = openai_server(
        "coder-0.5b",
        494_000_000,
        GOOD_ANSWER,
        Duration::from_millis(250),
    );
    let project =
        Project::with_manifest_extra(&openai_profiles(&[("large", &large), ("small", &small)]));
    (large, small, project)
}

/// A fake local Ollama server with the models of `ollama/tags.json` and a loaded model in
/// `/api/ps`, answering every chat with `GOOD_ANSWER` (after the first model's load; the second
/// model's load takes an answer too).
fn ollama_server() -> FakeServer {
    let answer = serde_json::json!({"model": "m", "created_at": "2026-11-30T10:00:01Z",
        "message": {"role": "assistant", "content": GOOD_ANSWER}, "done": true,
        "done_reason": "stop", "prompt_eval_count": 20, "eval_count": 30});
    let server = fake_ollama([Reply::ndjson(format!("{answer}\n"))]);
    server.route(
        "GET",
        "/api/ps",
        [Reply::json(200, transcript("ollama/ps.json"))],
    );
    server
}

#[test]
fn family_takes_the_ollama_models_of_that_name_with_their_sizes_and_memory() {
    let server = ollama_server();
    let project = Project::new();
    let url = server.url();
    let output = optimize(
        &project,
        &["--family", "qwen2.5-coder", "--format", "json"],
        &[("OLLAMA_HOST", url.as_str())],
    );
    let ranking = ranking(&output);
    let mut found = models(&ranking);
    found.sort();
    assert_eq!(
        found,
        ["ollama:qwen2.5-coder:14b", "ollama:qwen2.5-coder:7b"],
        "the cloud model of another family is not a candidate"
    );
    let seven = ranking["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|candidate| candidate["model"] == "ollama:qwen2.5-coder:7b")
        .unwrap();
    assert_eq!(seven["parameters"], 7.6e9);
    assert_eq!(seven["quantization"], "Q4_K_M");
    assert_eq!(seven["memory_bytes"], 6_654_289_920_u64, "from /api/ps");
}

#[test]
fn optimize_ollama_takes_every_model_of_the_local_server() {
    let server = ollama_server();
    let project = Project::new();
    project.write("opt.yaml", SUITE);
    let url = server.url();
    let output = project.run_with_env(
        &[
            "optimize-ollama",
            "--suite",
            "opt.yaml",
            "--no-progress",
            "--format",
            "json",
        ],
        &[("OLLAMA_HOST", url.as_str())],
    );
    let mut found = models(&ranking(&output));
    found.sort();
    assert_eq!(
        found,
        [
            "ollama:qwen2.5-coder:14b",
            "ollama:qwen2.5-coder:7b",
            "ollama:qwen3-coder:480b-cloud"
        ]
    );
}

#[test]
fn a_family_the_server_does_not_have_exits_2_naming_what_it_has() {
    let server = FakeServer::start();
    server.route(
        "GET",
        "/api/tags",
        [Reply::json(200, transcript("ollama/tags.json"))],
    );
    let project = Project::new();
    let url = server.url();
    let output = optimize(
        &project,
        &["--family", "llama3"],
        &[("OLLAMA_HOST", url.as_str())],
    );
    assert_eq!(output.status.code(), Some(2), "{}", explain(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("qwen2.5-coder:14b"), "{stderr}");
}

#[test]
fn without_any_candidate_optimize_exits_2() {
    let project = Project::new();
    let output = optimize(&project, &[], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", explain(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no candidate model"));
}

#[test]
fn each_policy_recommends_its_own_model_from_two_servers() {
    let (_large, _small, project) = large_fast_and_small_slow();
    let profiles = [
        "--profile",
        "large",
        "--profile",
        "small",
        "--format",
        "json",
    ];

    let best = ranking(&optimize(&project, &profiles, &[]));
    let mut found = models(&best);
    found.sort();
    assert_eq!(found, ["large:coder-7b", "small:coder-0.5b"]);
    assert_eq!(
        best["recommendation"], "large:coder-7b",
        "equal pass rates go to the faster: {best:#}"
    );

    let mut args = profiles.to_vec();
    args.extend(["--target-score", "0.9"]);
    let target = ranking(&optimize(&project, &args, &[]));
    assert_eq!(
        target["recommendation"], "small:coder-0.5b",
        "the smallest that reaches the target: {target:#}"
    );

    let mut args = profiles.to_vec();
    args.extend(["--max-seconds-per-case", "0.2s"]);
    let budget = ranking(&optimize(&project, &args, &[]));
    assert_eq!(budget["recommendation"], "large:coder-7b", "{budget:#}");
    let small = budget["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|candidate| candidate["model"] == "small:coder-0.5b")
        .unwrap();
    assert_eq!(small["excluded"], "over the time budget", "{budget:#}");
}

#[test]
fn the_table_shows_sizes_the_frontier_and_the_reason_and_an_html_report_is_written() {
    let (_large, _small, project) = large_fast_and_small_slow();
    let html = project.path().join("optimize.html");
    let output = optimize(
        &project,
        &[
            "--profile",
            "large",
            "--profile",
            "small",
            "--html",
            html.to_str().unwrap(),
        ],
        &[("COLUMNS", "160")],
    );
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "7.6B",
        "494M",
        "Pareto frontier",
        "recommended (best score): large:coder-7b",
    ] {
        assert!(stdout.contains(expected), "{expected} missing:\n{stdout}");
    }
    assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));
    let beside_reports = std::fs::read_dir(project.path().join("logs/benchmarks"))
        .unwrap()
        .filter_map(Result::ok)
        .any(|entry| entry.file_name().to_string_lossy().starts_with("optimize_"));
    assert!(beside_reports, "an optimize_DATE.html next to the reports");
}

#[test]
fn save_writes_the_recommendation_and_keeps_every_other_byte_of_cargo_toml() {
    let project = Project::new();
    let manifest = "# A project with opinions.\n[package]\nname = \"fixture-project\" # keep me\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[package.metadata.llm-bench]\n# Suites live here.\nsuites = [\"opt.yaml\"]   # aligned\n\n[dependencies]\n";
    project.write("Cargo.toml", manifest);
    let output = optimize(&project, &["--model", "reference", "--save"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    let saved = std::fs::read_to_string(project.path().join("Cargo.toml")).unwrap();
    assert_eq!(
        saved,
        manifest.replace("# aligned\n", "# aligned\nmodel = \"reference\"\n"),
        "only the key was added"
    );
}

#[test]
fn every_run_writes_an_html_report_next_to_its_json_reports() {
    let project = Project::new();
    project.write("opt.yaml", SUITE);
    let first = project.run(&[
        "run",
        "--suite",
        "opt.yaml",
        "-m",
        "reference",
        "--no-progress",
    ]);
    assert_eq!(first.status.code(), Some(0), "{}", explain(&first));
    let second = project.run(&[
        "run",
        "--suite",
        "opt.yaml",
        "-m",
        "reference",
        "--no-progress",
    ]);
    assert_eq!(second.status.code(), Some(0), "{}", explain(&second));
    let mut html: Vec<String> = std::fs::read_dir(project.path().join("logs/benchmarks"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".html"))
        .collect();
    html.sort();
    assert_eq!(html.len(), 2, "the second run does not clobber: {html:?}");
    assert!(
        html.iter().all(|name| name.starts_with("report_")),
        "{html:?}"
    );
}
