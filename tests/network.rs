//! The real CLI against loopback fakes of the network providers: answers asked, scored and
//! timed; rate limits, dead providers, cut answers and API keys handled as a user would expect.

#[path = "support/fake_server.rs"]
mod fake_server;
#[path = "support/project.rs"]
mod project;

use fake_server::{fake_ollama, fake_ollama_showing, transcript, FakeServer, Reply, Split};
use project::Project;
use serde_json::Value;
use std::process::Output;

/// Answers both cases of `SUITE` correctly: `add` and `sign`.
const GOOD_ANSWER: &str = "Here you go:\n```rust\npub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\npub fn sign(x: i64) -> &'static str {\n    if x < 0 {\n        \"negative\"\n    } else if x == 0 {\n        \"zero\"\n    } else {\n        \"positive\"\n    }\n}\n```\n";

const SUITE: &str = r#"suite: net
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
  - id: sign
    prompt: "Write `pub fn sign(x: i64) -> &'static str` returning negative, zero or positive."
    reference: |
      pub fn sign(x: i64) -> &'static str { if x < 0 { "negative" } else if x == 0 { "zero" } else { "positive" } }
    tests: |
      #[cfg(test)]
      mod tests {
          use super::*;
          #[test]
          fn signs() { assert_eq!(sign(-4), "negative"); assert_eq!(sign(0), "zero"); }
      }
"#;

/// An Ollama `/api/chat` stream of `answer` that ends by itself.
fn ollama_chat(answer: &str, with_metrics: bool) -> Vec<u8> {
    fake_server::ollama_chat(answer, with_metrics, "stop")
}

fn config(profiles: &[(&str, &str)]) -> String {
    let mut text = String::new();
    for (name, url) in profiles {
        text.push_str(&format!(
            "[package.metadata.llm-bench.providers.{name}]\nkind = \"ollama\"\nbase-url = \"{url}\"\nretry-base = \"50ms\"\nretry-cap = \"200ms\"\n"
        ));
    }
    text
}

/// Runs `SUITE`, written into `project`, without progress display: `cargo llm-bench run`
/// with `args` (the models, mostly) and `env`.
fn run_suite(project: &Project, args: &[&str], env: &[(&str, &str)]) -> Output {
    project.write("net.yaml", SUITE);
    let mut command = vec!["run", "--suite", "net.yaml", "--no-progress"];
    command.extend_from_slice(args);
    project.run_with_env(&command, env)
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

fn explain(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn an_ollama_server_that_splits_escapes_omits_metrics_and_rate_limits_is_scored_right() {
    // The very first request (the warm-up load) is rate limited, and so is the first answer.
    let rate_limited = || Reply::json(429, &b"{\"error\":\"too many requests\"}"[..]);
    let server = FakeServer::start();
    server.route(
        "POST",
        "/api/show",
        [Reply::json(200, transcript("ollama/show.json"))],
    );
    server.route(
        "POST",
        "/api/chat",
        [
            rate_limited(),
            Reply::ndjson(transcript("ollama/load.json")).split(Split::Every(5)),
            rate_limited(),
            Reply::ndjson(ollama_chat(GOOD_ANSWER, false)).split(Split::Every(7)),
        ],
    );
    let project = Project::with_manifest_extra(&config(&[("fake", &server.url())]));
    let output = run_suite(&project, &["-m", "fake:qwen2.5-coder:7b"], &[]);
    assert_eq!(code(&output), 0, "{}", explain(&output));
    let reports = project.json_reports();
    assert_eq!(reports.len(), 1);
    let summary = &reports[0]["summary"];
    assert_eq!(summary["passed"], 2, "{summary:#}");
    assert_eq!(summary["retries"], 1, "{summary:#}");
    let attempts: Vec<&Value> = reports[0]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|case| case["attempts"].as_array().unwrap())
        .collect();
    // Without the server's durations, speed comes from our own clock and says so.
    for attempt in &attempts {
        assert_eq!(
            attempt["metrics"]["sources"]["decode"], "client",
            "{attempt:#}"
        );
        assert!(
            attempt["metrics"]["ttft_ms"].as_f64().is_some(),
            "{attempt:#}"
        );
    }
    // `<` and `&` arrived escaped and were decoded before scoring.
    assert!(attempts[0]["code"]
        .as_str()
        .unwrap()
        .contains("&'static str"));
}

#[test]
fn server_durations_become_the_reported_speed() {
    let server = fake_ollama(vec![Reply::ndjson(ollama_chat(GOOD_ANSWER, true))]);
    let project = Project::with_manifest_extra(&config(&[("fake", &server.url())]));
    let output = run_suite(&project, &["-m", "fake:qwen2.5-coder:7b"], &[]);
    assert_eq!(code(&output), 0, "{}", explain(&output));
    let report = &project.json_reports()[0];
    let attempt = &report["cases"][0]["attempts"][0];
    assert_eq!(
        attempt["metrics"]["sources"]["decode"], "server",
        "{attempt:#}"
    );
    let pieces = GOOD_ANSWER.chars().count().div_ceil(6) as f64;
    let rate = attempt["metrics"]["decode_tokens_per_second"]
        .as_f64()
        .unwrap();
    assert!((rate - pieces).abs() < 1e-6, "{rate} vs {pieces}");
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        table.contains("fake:qwen2.5-coder:7b") || table.contains("qwen2.5-coder:7b"),
        "{table}"
    );
}

#[test]
fn a_provider_that_dies_mid_run_stops_alone_and_the_other_report_is_complete() {
    let healthy = fake_ollama(vec![Reply::ndjson(ollama_chat(GOOD_ANSWER, true))]);
    let dying = fake_ollama(vec![
        Reply::ndjson(ollama_chat(GOOD_ANSWER, true)),
        Reply::json(
            404,
            &b"{\"error\":\"model \\\"qwen2.5-coder:7b\\\" not found, try pulling it first\"}"[..],
        ),
    ]);
    let project = Project::with_manifest_extra(&config(&[
        ("healthy", &healthy.url()),
        ("dying", &dying.url()),
    ]));
    let output = run_suite(
        &project,
        &[
            "--samples",
            "2",
            "-m",
            "healthy:qwen2.5-coder:7b",
            "-m",
            "dying:qwen2.5-coder:7b",
        ],
        &[],
    );
    assert_eq!(code(&output), 3, "{}", explain(&output));
    let reports = project.json_reports();
    assert_eq!(reports.len(), 2, "{}", explain(&output));
    let by_provider = |name: &str| {
        reports
            .iter()
            .find(|report| report["provider"] == name)
            .unwrap()
            .clone()
    };
    let healthy_report = by_provider("healthy");
    assert_eq!(healthy_report["summary"]["passed"], 4, "{healthy_report:#}");
    let dying_report = by_provider("dying");
    assert!(
        dying_report["summary"]["stopped"].is_string(),
        "{dying_report:#}"
    );
    assert_eq!(dying_report["summary"]["passed"], 1, "{dying_report:#}");
    assert_eq!(dying_report["cases"].as_array().unwrap().len(), 4);
}

#[test]
fn answers_cut_by_max_tokens_or_a_truncated_prompt_are_invalid_runs_not_failures() {
    let server = fake_ollama(vec![
        Reply::ndjson(fake_server::ollama_chat(
            "```rust\npub fn add(a: i32, b: i32) -> i32 {\n",
            true,
            "length",
        )),
        Reply::ndjson(transcript("ollama/truncated-prompt.ndjson")),
    ]);
    // A context window far too short for the prompt: Ollama cuts it silently.
    let project = Project::with_manifest_extra(&format!(
        "{}num-ctx = 16\nconcurrency = 1\n",
        config(&[("fake", &server.url())])
    ));
    let output = run_suite(&project, &["-m", "fake:qwen2.5-coder:7b"], &[]);
    let report = &project.json_reports()[0];
    let invalid = &report["summary"]["invalid"];
    assert_eq!(invalid["total"], 2, "{}\n{report:#}", explain(&output));
    assert_eq!(invalid["max_tokens"], 1, "{invalid:#}");
    assert_eq!(invalid["prompt_truncated"], 1, "{invalid:#}");
    // No valid run is left, so nothing counts against the model.
    assert_eq!(report["summary"]["valid_runs"], 0, "{report:#}");
}

#[test]
fn api_keys_never_reach_a_local_server_the_reports_or_the_output() {
    let server = fake_ollama(vec![Reply::ndjson(ollama_chat(GOOD_ANSWER, true))]);
    let project = Project::with_manifest_extra(&config(&[("fake", &server.url())]));
    let markers = [
        ("OLLAMA_API_KEY", "marker-ollama-5c1e"),
        ("GEMINI_API_KEY", "marker-gemini-77ab"),
        ("OPENAI_API_KEY", "marker-openai-90fd"),
    ];
    let output = run_suite(
        &project,
        &[
            "-m",
            "fake:qwen2.5-coder:7b",
            "-m",
            "ollama:qwen2.5-coder:7b",
        ],
        &[
            markers[0],
            markers[1],
            markers[2],
            ("OLLAMA_HOST", &server.url()),
        ],
    );
    assert_eq!(code(&output), 0, "{}", explain(&output));
    let everything = format!(
        "{}{}{}{:?}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        project.all_text(),
        server.requests()
    );
    for (_, marker) in markers {
        assert!(!everything.contains(marker), "{marker} leaked");
    }
}

#[test]
fn an_unknown_model_exits_3_naming_the_models_that_exist() {
    let server = fake_ollama_showing(
        Reply::json(404, &b"{\"error\":\"model 'llama9' not found\"}"[..]),
        Vec::new(),
    );
    let project = Project::with_manifest_extra(&config(&[("fake", &server.url())]));
    let output = run_suite(&project, &["-m", "fake:llama9"], &[]);
    assert_eq!(code(&output), 3, "{}", explain(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ollama pull llama9"), "{stderr}");
    assert!(stderr.contains("qwen2.5-coder:7b"), "{stderr}");
}

#[test]
fn models_lists_what_the_server_has_with_sizes_and_quantization() {
    let server = fake_ollama(Vec::new());
    let project = Project::with_manifest_extra(&config(&[("fake", &server.url())]));
    let output = project.run_with_env(&["models", "fake"], &[]);
    assert_eq!(code(&output), 0, "{}", explain(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "qwen2.5-coder:14b",
        "14.8B",
        "Q4_K_M",
        "qwen3-coder:480b-cloud",
    ] {
        assert!(stdout.contains(expected), "{expected} missing:\n{stdout}");
    }
}
