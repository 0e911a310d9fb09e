//! The provider clients against fake servers on 127.0.0.1 replaying the transcripts in
//! `fixtures/protocols/`, built byte for byte from PROTOCOLS.md (§8 and §10).

mod support;

use cargo_llm_bench::provider::{
    connect_provider_with_env, connect_with_env, AttemptKey, Generation, GenerationEnd, Message,
    ModelSpec, Provider, ProviderError, ProviderEvent, ProviderKind, ProviderProfile, Request,
    Role, Sampling, Source, Think,
};
use cargo_llm_bench::suite::Mode;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::fake_server::{transcript, FakeServer, Reply, Split};

const MARKER_KEY: &str = "MARKER-KEY-5f0c2b7e-never-print-me";

/// A profile for the fake server: fast retries, short timeouts.
fn profile(kind: ProviderKind, server: &FakeServer) -> ProviderProfile {
    ProviderProfile {
        kind,
        base_url: Some(server.url()),
        retry_base: Some("5ms".to_owned()),
        retry_cap: Some("40ms".to_owned()),
        timeout: Some("20s".to_owned()),
        idle_timeout: Some("5s".to_owned()),
        ..ProviderProfile::default()
    }
}

fn connect_profile(profile: ProviderProfile, model: &str, env: &[(&str, &str)]) -> Provider {
    let profiles = BTreeMap::from([("fake".to_owned(), profile)]);
    let spec = ModelSpec {
        provider: "fake".to_owned(),
        model: model.to_owned(),
    };
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    connect_with_env(&spec, &profiles, &move |name| {
        env.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    })
    .unwrap()
}

fn connect(kind: ProviderKind, server: &FakeServer, model: &str) -> Provider {
    connect_profile(
        profile(kind, server),
        model,
        &[
            ("GEMINI_API_KEY", MARKER_KEY),
            ("OLLAMA_API_KEY", MARKER_KEY),
            ("OPENAI_API_KEY", MARKER_KEY),
        ],
    )
}

fn request(mode: Mode, prompt: &str) -> Request {
    Request {
        key: AttemptKey {
            suite: "suite".to_owned(),
            case: "fib".to_owned(),
            sample: 0,
            attempt: 0,
        },
        mode,
        messages: vec![
            Message {
                role: Role::System,
                content: "You are an expert Rust programmer.".to_owned(),
            },
            Message {
                role: Role::User,
                content: prompt.to_owned(),
            },
        ],
        sampling: Sampling {
            temperature: 0.0,
            max_tokens: 512,
            seed: Some(42),
        },
    }
}

fn chat() -> Request {
    request(Mode::Chat, "Implement fn fib(n: u64) -> u64 iteratively.")
}

/// Generates once, returning the result and every event the provider emitted.
async fn generate(
    provider: &Provider,
    request: &Request,
) -> (Result<Generation, ProviderError>, Vec<ProviderEvent>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let on_event = move |event: ProviderEvent| sink.lock().unwrap().push(event);
    let result = provider.generate(request, &on_event).await;
    let events = events.lock().unwrap().clone();
    (result, events)
}

/// Starts a generation that will wait before a retry, and returns the wait it announced
/// without sitting through it.
async fn announced_wait(provider: &Provider, request: &Request) -> Duration {
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    let on_event = move |event: ProviderEvent| {
        let _ = sender.send(event);
    };
    tokio::select! {
        outcome = provider.generate(request, &on_event) => {
            panic!("the request ended without waiting: {outcome:?}")
        }
        event = receiver.recv() => match event {
            Some(ProviderEvent::Retrying { retry: 1, wait }) => wait,
            other => panic!("expected the first retry's announcement, got {other:?}"),
        },
    }
}

fn failed_reason(result: Result<Generation, ProviderError>) -> (String, bool) {
    match result {
        Err(ProviderError::Failed {
            reason, timed_out, ..
        }) => (reason, timed_out),
        other => panic!("expected a failed request, got {other:?}"),
    }
}

fn unusable_reason(result: Result<impl std::fmt::Debug, ProviderError>) -> String {
    match result {
        Err(ProviderError::Unusable { reason, .. }) => reason,
        other => panic!("expected an unusable model, got {other:?}"),
    }
}

fn approx(actual: Option<f64>, expected: f64) {
    let actual = actual.expect("a number");
    assert!(
        (actual - expected).abs() < expected * 1e-6,
        "{actual} is not {expected}"
    );
}

fn offset_inside(haystack: &[u8], needle: &str, plus: usize) -> usize {
    let needle = needle.as_bytes();
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
        .expect("needle in fixture")
        + plus
}

// ---------------------------------------------------------------- Ollama

#[tokio::test]
async fn ollama_chat_keeps_thinking_apart_and_takes_the_servers_numbers() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/api/chat",
        [Reply::ndjson(transcript("ollama/chat-thinking.ndjson")).split(Split::Every(7))],
    );
    let provider = connect(ProviderKind::Ollama, &server, "qwen3:8b");
    let (result, events) = generate(&provider, &chat()).await;
    let generation = result.unwrap();
    assert_eq!(generation.thinking, "The user wants an iterative fib.");
    assert_eq!(generation.text, "```rust\nfn fib(n: u64) -> u64 {");
    assert_eq!(generation.end, GenerationEnd::Finished);
    let metrics = &generation.metrics;
    assert_eq!(metrics.prompt_tokens, Some(48));
    assert_eq!(metrics.completion_tokens, Some(131));
    assert_eq!(metrics.tokens_source, Source::Server);
    assert_eq!(metrics.decode_source, Source::Server);
    approx(metrics.decode_tokens_per_second, 131.0 / 2.811305123);
    approx(metrics.prefill_tokens_per_second, 48.0 / 0.098422);
    assert_eq!(
        metrics.server_prompt_time,
        Some(Duration::from_nanos(98_422_000))
    );
    assert_eq!(metrics.load_time, Some(Duration::from_nanos(61_533_207)));
    assert!(metrics.ttft.unwrap() <= metrics.ttft_answer.unwrap());
    assert_eq!(metrics.retries, 0);
    assert_eq!(events, [ProviderEvent::FirstToken]);

    let sent = server.requests_to("/api/chat")[0].json();
    assert_eq!(sent["model"], "qwen3:8b");
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["keep_alive"], "30m");
    assert_eq!(sent["messages"][0]["role"], "system");
    assert_eq!(sent["options"]["num_ctx"], 4096);
    assert_eq!(sent["options"]["num_predict"], 512);
    assert_eq!(sent["options"]["temperature"], 0.0);
    assert_eq!(sent["options"]["seed"], 42);
    assert!(
        sent.get("think").is_none(),
        "think is sent only when configured"
    );
}

#[tokio::test]
async fn every_chunk_boundary_in_a_line_or_inside_a_character_gives_the_same_answer() {
    let body = transcript("ollama/chat-rust-escapes.ndjson");
    let inside_o_acute = offset_inside(&body, "ó", 1);
    let inside_escape = offset_inside(&body, "\\u003c", 3);
    let splits = [
        Split::At(vec![inside_o_acute]),
        Split::At(vec![inside_escape]),
        Split::At(vec![offset_inside(&body, "\n", 0)]),
        Split::Every(1),
        Split::Every(3),
        Split::Whole,
    ];
    let server = FakeServer::start();
    server.route(
        "POST",
        "/api/chat",
        splits
            .iter()
            .map(|split| Reply::ndjson(body.clone()).split(split.clone())),
    );
    let provider = connect(ProviderKind::Ollama, &server, "qwen2.5-coder:7b");
    for split in &splits {
        let (result, _) = generate(&provider, &chat()).await;
        let text = result.unwrap().text;
        assert_eq!(
            text,
            "```rust\n// Łódź\nfn first(v: &[Vec<u8>]) -> Option<&Vec<u8>> { v.first() }\n```\n",
            "{split:?}"
        );
    }
}

#[tokio::test]
async fn completion_mode_streams_raw_generate_and_keeps_the_text_of_the_done_line() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/api/generate",
        [Reply::ndjson(transcript(
            "ollama/generate-done-with-text.ndjson",
        ))],
    );
    let provider = connect(ProviderKind::Ollama, &server, "gemma4");
    let (result, _) = generate(&provider, &request(Mode::Completion, "fn add(")).await;
    let generation = result.unwrap();
    assert_eq!(generation.text, "That's!");
    assert_eq!(generation.end, GenerationEnd::Finished);
    let sent = server.requests_to("/api/generate")[0].json();
    assert_eq!(sent["raw"], true);
    assert_eq!(sent["prompt"], "fn add(");
    assert!(sent.get("messages").is_none());
}

#[tokio::test]
async fn generate_thinking_arrives_beside_an_empty_response() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/api/generate",
        [Reply::ndjson(transcript("ollama/generate-thinking.ndjson"))],
    );
    let provider = connect(ProviderKind::Ollama, &server, "gpt-oss:120b");
    let (result, _) = generate(&provider, &request(Mode::Completion, "fn")).await;
    let generation = result.unwrap();
    assert_eq!(generation.thinking, "The user");
    assert_eq!(generation.text, "fn main() {}");
}

#[tokio::test]
async fn a_cloud_final_line_without_durations_keeps_its_counts_and_uses_client_timing() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/api/generate",
        [Reply::ndjson(transcript("ollama/generate-thinking.ndjson"))
            .split(Split::Every(120))
            .pause(Duration::from_millis(40))],
    );
    server.route(
        "POST",
        "/api/chat",
        [Reply::ndjson(transcript("ollama/cloud-chat.ndjson"))],
    );
    let provider = connect(ProviderKind::Ollama, &server, "gpt-oss:120b-cloud");
    let (result, _) = generate(&provider, &request(Mode::Completion, "fn")).await;
    let metrics = result.unwrap().metrics;
    assert_eq!(metrics.completion_tokens, Some(5));
    assert_eq!(metrics.decode_source, Source::Client);
    assert!(metrics.decode_tokens_per_second.unwrap() > 0.0);
    assert_eq!(metrics.load_time, None);
    assert_eq!(metrics.prefill_tokens_per_second, None);

    let (result, _) = generate(&provider, &chat()).await;
    let generation = result.unwrap();
    assert_eq!(generation.text, "4");
    assert_eq!(generation.metrics.prompt_tokens, Some(17));
    assert_eq!(generation.metrics.completion_tokens, Some(2));
    // One visible token: there is no interval to measure a rate over.
    assert_eq!(generation.metrics.decode_tokens_per_second, None);
}

#[tokio::test]
async fn a_mid_stream_error_fails_the_request_and_its_partial_text_is_dropped() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/api/generate",
        [Reply::ndjson(transcript("ollama/mid-stream-error.ndjson"))],
    );
    let provider = connect(ProviderKind::Ollama, &server, "gemma4");
    let (result, _) = generate(&provider, &request(Mode::Completion, "fn")).await;
    let (reason, timed_out) = failed_reason(result);
    assert!(
        reason.contains("an error was encountered while running the model"),
        "{reason}"
    );
    assert!(!timed_out);
    assert_eq!(server.requests_to("/api/generate").len(), 1);
}

#[tokio::test]
async fn a_stream_without_done_true_is_incomplete_not_an_answer() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/api/chat",
        [
            Reply::ndjson(transcript("ollama/no-done.ndjson")),
            Reply::ndjson(transcript("ollama/chat-thinking.ndjson")).cut_after(300),
        ],
    );
    let provider = connect(ProviderKind::Ollama, &server, "qwen2.5-coder:7b");
    for _ in 0..2 {
        let (result, _) = generate(&provider, &chat()).await;
        let (reason, _) = failed_reason(result);
        assert!(
            reason.contains("incomplete") || reason.contains("broke off"),
            "{reason}"
        );
    }
}

#[tokio::test]
async fn an_unknown_model_is_unusable_with_ollama_pull_and_the_models_there_are() {
    let server = FakeServer::start();
    server
        .route(
            "GET",
            "/api/version",
            [Reply::json(200, transcript("ollama/version.json"))],
        )
        .route(
            "POST",
            "/api/show",
            [Reply::json(
                404,
                transcript("ollama/404-model-not-found.json"),
            )],
        )
        .route(
            "GET",
            "/api/tags",
            [Reply::json(200, transcript("ollama/tags.json"))],
        );
    let provider = connect(ProviderKind::Ollama, &server, "llama9");
    let reason = unusable_reason(provider.prepare().await);
    assert!(reason.contains("ollama pull llama9"), "{reason}");
    assert!(
        reason.contains("qwen2.5-coder:14b, qwen2.5-coder:7b"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_404_on_generate_makes_the_model_unusable() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/api/chat",
        [Reply::json(404, transcript("ollama/404-try-pulling.json"))],
    );
    let provider = connect(ProviderKind::Ollama, &server, "llama9");
    let reason = unusable_reason(generate(&provider, &chat()).await.0);
    assert!(
        reason.contains("not found, try pulling it first"),
        "{reason}"
    );
}

#[tokio::test]
async fn prepare_checks_the_model_and_loads_it_with_the_first_window() {
    let server = FakeServer::start();
    server
        .route(
            "GET",
            "/api/version",
            [Reply::json(200, transcript("ollama/version.json"))],
        )
        .route(
            "POST",
            "/api/show",
            [Reply::json(200, transcript("ollama/show.json"))],
        )
        .route(
            "POST",
            "/api/chat",
            [
                Reply::json(200, transcript("ollama/load.json")).delay(Duration::from_millis(30)),
                Reply::ndjson(transcript("ollama/chat-thinking.ndjson")),
            ],
        )
        .route(
            "GET",
            "/api/ps",
            [Reply::json(200, transcript("ollama/ps.json"))],
        );
    let provider = connect(ProviderKind::Ollama, &server, "qwen2.5-coder:7b");
    assert!(provider.is_local());
    assert_eq!(provider.limits().concurrency, 1);
    let prepared = provider.prepare().await.unwrap();
    assert!(prepared.load_time.unwrap() >= Duration::from_millis(30));
    let load = server.requests_to("/api/chat")[0].json();
    assert_eq!(load["messages"], json!([]));
    assert_eq!(load["options"]["num_ctx"], 4096);
    assert_eq!(load["keep_alive"], "30m");
    // The timed request uses the window the model was loaded with: no reload.
    generate(&provider, &chat()).await.0.unwrap();
    let chats = server.requests_to("/api/chat");
    assert_eq!(chats.len(), 2);
    assert_eq!(chats[1].json()["options"]["num_ctx"], 4096);
}

#[tokio::test]
async fn a_prompt_larger_than_the_loaded_window_reloads_before_the_timed_request() {
    let server = FakeServer::start();
    server
        .route(
            "POST",
            "/api/show",
            [Reply::json(200, transcript("ollama/show.json"))],
        )
        .route(
            "POST",
            "/api/chat",
            [
                Reply::json(200, transcript("ollama/load.json")),
                Reply::json(200, transcript("ollama/load.json")),
                Reply::ndjson(transcript("ollama/chat-thinking.ndjson")),
            ],
        );
    let provider = connect(ProviderKind::Ollama, &server, "qwen2.5-coder:7b");
    provider.prepare().await.unwrap();
    let long = request(Mode::Chat, &"let x = 1;\n".repeat(1500));
    generate(&provider, &long).await.0.unwrap();
    let chats = server.requests_to("/api/chat");
    assert_eq!(chats.len(), 3);
    assert_eq!(chats[1].json()["messages"], json!([]));
    assert_eq!(chats[1].json()["options"]["num_ctx"], 8192);
    assert_eq!(chats[2].json()["options"]["num_ctx"], 8192);
}

#[tokio::test]
async fn a_prompt_cut_to_a_short_window_is_a_truncated_prompt_not_a_model_failure() {
    let server = FakeServer::start();
    server
        .route(
            "POST",
            "/api/show",
            [Reply::json(
                200,
                transcript("ollama/show-small-context.json"),
            )],
        )
        .route(
            "POST",
            "/api/chat",
            [
                Reply::json(200, transcript("ollama/load.json")),
                Reply::ndjson(transcript("ollama/truncated-prompt.ndjson")),
            ],
        );
    let provider = connect(ProviderKind::Ollama, &server, "qwen2.5-coder:0.5b");
    provider.prepare().await.unwrap();
    let long = request(Mode::Chat, &"x".repeat(10_000));
    let generation = generate(&provider, &long).await.0.unwrap();
    assert_eq!(
        generation.end,
        GenerationEnd::PromptTruncated {
            sent_tokens: 12,
            expected_tokens: 2508
        }
    );
    assert!(!generation.end.is_valid());
    assert_eq!(
        server.requests_to("/api/chat")[1].json()["options"]["num_ctx"],
        2048
    );
}

#[tokio::test]
async fn a_kv_cache_hit_without_a_prompt_count_is_not_a_truncation() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/api/chat",
        [Reply::ndjson(transcript("ollama/kv-cache-hit.ndjson"))],
    );
    let provider = connect(ProviderKind::Ollama, &server, "qwen2.5-coder:7b");
    let generation = generate(&provider, &request(Mode::Chat, &"x".repeat(10_000)))
        .await
        .0
        .unwrap();
    assert_eq!(generation.end, GenerationEnd::Finished);
    assert_eq!(generation.metrics.prompt_tokens, None);
}

#[tokio::test]
async fn an_empty_answer_with_eval_count_one_has_no_rate_rather_than_an_infinite_one() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/api/chat",
        [Reply::ndjson(transcript("ollama/empty-answer.ndjson"))],
    );
    let provider = connect(ProviderKind::Ollama, &server, "qwen2.5-coder:7b");
    let generation = generate(&provider, &chat()).await.0.unwrap();
    assert_eq!(generation.text, "");
    assert_eq!(generation.end, GenerationEnd::Finished);
    assert_eq!(generation.metrics.completion_tokens, Some(1));
    assert_eq!(generation.metrics.decode_tokens_per_second, None);
    assert_eq!(generation.metrics.ttft, None);
}

#[tokio::test]
async fn a_budget_spent_thinking_is_thinking_exhausted() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/api/chat",
        [Reply::ndjson(transcript("ollama/length.ndjson"))],
    );
    let provider = connect(ProviderKind::Ollama, &server, "qwen3:8b");
    let generation = generate(&provider, &chat()).await.0.unwrap();
    assert_eq!(generation.end, GenerationEnd::ThinkingExhausted);
}

#[tokio::test]
async fn a_busy_server_is_retried_and_the_retry_is_counted() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/api/chat",
        [
            Reply::json(503, transcript("ollama/503-server-busy.json")),
            Reply::json(503, transcript("ollama/503-cloud-overloaded.json")),
            // A `:cloud` model through a long-running local daemon: 502 without a body.
            Reply::json(502, ""),
            Reply::ndjson(transcript("ollama/chat-thinking.ndjson")),
        ],
    );
    let provider = connect(ProviderKind::Ollama, &server, "qwen3:8b");
    let (result, events) = generate(&provider, &chat()).await;
    let metrics = result.unwrap().metrics;
    assert_eq!(metrics.retries, 3);
    let announced: Duration = events
        .iter()
        .filter_map(|event| match event {
            ProviderEvent::Retrying { wait, .. } => Some(*wait),
            ProviderEvent::FirstToken => None,
        })
        .sum();
    assert_eq!(metrics.retry_wait, announced);
    assert_eq!(server.requests_to("/api/chat").len(), 4);
}

#[tokio::test]
async fn usage_limits_are_never_retried() {
    for fixture in [
        "ollama/429-weekly-usage-limit.json",
        "ollama/429-session-usage-limit.json",
    ] {
        let server = FakeServer::start();
        server.route("POST", "/api/chat", [Reply::json(429, transcript(fixture))]);
        let provider = connect(ProviderKind::Ollama, &server, "gpt-oss:120b-cloud");
        let reason = unusable_reason(generate(&provider, &chat()).await.0);
        assert!(reason.contains("usage limit"), "{reason}");
        assert_eq!(server.requests_to("/api/chat").len(), 1, "{fixture}");
    }
}

#[tokio::test]
async fn the_concurrent_request_slot_timeout_is_retried_as_a_status_or_a_stream_line() {
    let server = FakeServer::start();
    let slot = transcript("ollama/concurrent-request-slot.json");
    let mut line = slot.clone();
    line.push(b'\n');
    server.route(
        "POST",
        "/api/chat",
        [
            Reply::json(500, slot),
            Reply::ndjson(line),
            Reply::ndjson(transcript("ollama/cloud-chat.ndjson")),
        ],
    );
    let provider = connect(ProviderKind::OllamaCloud, &server, "deepseek-v4-pro");
    let generation = generate(&provider, &chat()).await.0.unwrap();
    assert_eq!(generation.metrics.retries, 2);
    assert_eq!(generation.text, "4");
}

#[tokio::test]
async fn a_bad_request_fails_once_without_retries() {
    for fixture in [
        "ollama/400-context-limit.json",
        "ollama/400-thinking-unsupported.json",
    ] {
        let server = FakeServer::start();
        server.route("POST", "/api/chat", [Reply::json(400, transcript(fixture))]);
        let provider = connect(ProviderKind::Ollama, &server, "llama3.2");
        let (reason, _) = failed_reason(generate(&provider, &chat()).await.0);
        assert!(reason.starts_with("HTTP 400"), "{reason}");
        assert_eq!(server.requests_to("/api/chat").len(), 1);
    }
}

#[tokio::test]
async fn a_cloud_sign_in_failure_is_unusable() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/api/chat",
        [Reply::json(401, transcript("ollama/401-unauthorized.json"))],
    );
    let provider = connect(ProviderKind::Ollama, &server, "gpt-oss:120b-cloud");
    let reason = unusable_reason(generate(&provider, &chat()).await.0);
    assert!(reason.contains("HTTP 401"), "{reason}");
}

#[tokio::test]
async fn nothing_listening_names_the_url_and_how_to_start_the_server() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let ollama = connect_profile(
        ProviderProfile {
            kind: ProviderKind::Ollama,
            base_url: Some(url.clone()),
            ..ProviderProfile::default()
        },
        "qwen3",
        &[],
    );
    let reason = unusable_reason(ollama.prepare().await);
    assert!(reason.contains(&url), "{reason}");
    assert!(reason.contains("ollama serve"), "{reason}");
    let openai = connect_profile(
        ProviderProfile {
            kind: ProviderKind::Openai,
            base_url: Some(format!("{url}/v1")),
            ..ProviderProfile::default()
        },
        "qwen",
        &[],
    );
    let reason = unusable_reason(generate(&openai, &chat()).await.0);
    assert!(
        reason.contains(&format!("start the server at {url}/v1")),
        "{reason}"
    );
}

#[tokio::test]
async fn a_silent_stream_times_out_as_an_invalid_attempt() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/api/chat",
        [Reply::ndjson(transcript("ollama/chat-thinking.ndjson"))
            .split(Split::Every(200))
            .pause(Duration::from_millis(800))],
    );
    let provider = connect_profile(
        ProviderProfile {
            idle_timeout: Some("200ms".to_owned()),
            ..profile(ProviderKind::Ollama, &server)
        },
        "qwen3:8b",
        &[],
    );
    let (reason, timed_out) = failed_reason(generate(&provider, &chat()).await.0);
    assert!(timed_out, "{reason}");
    assert!(reason.contains("silent"), "{reason}");
}

#[tokio::test]
async fn the_request_timeout_covers_the_whole_stream() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/api/chat",
        [Reply::ndjson(transcript("ollama/chat-thinking.ndjson"))
            .split(Split::Every(100))
            .pause(Duration::from_millis(150))],
    );
    let provider = connect_profile(
        ProviderProfile {
            timeout: Some("400ms".to_owned()),
            ..profile(ProviderKind::Ollama, &server)
        },
        "qwen3:8b",
        &[],
    );
    let (reason, timed_out) = failed_reason(generate(&provider, &chat()).await.0);
    assert!(timed_out, "{reason}");
    assert!(reason.contains("timeout"), "{reason}");
}

#[tokio::test]
async fn a_server_that_splits_escapes_omits_metrics_and_rate_limits_the_first_request() {
    let body = transcript("ollama/chat-rust-escapes-no-metrics.ndjson");
    let server = FakeServer::start();
    server.route(
        "POST",
        "/api/chat",
        [
            Reply::json(429, r#"{"error":"rate limit exceeded, slow down"}"#),
            Reply::ndjson(body)
                .split(Split::Every(5))
                .pause(Duration::from_millis(2)),
        ],
    );
    let provider = connect(ProviderKind::Ollama, &server, "qwen2.5-coder:7b");
    let (result, events) = generate(&provider, &chat()).await;
    let generation = result.unwrap();
    assert_eq!(
        generation.text,
        "```rust\n// Łódź\nfn first(v: &[Vec<u8>]) -> Option<&Vec<u8>> { v.first() }\n```\n"
    );
    assert_eq!(generation.end, GenerationEnd::Finished);
    assert_eq!(generation.metrics.retries, 1);
    assert!(matches!(
        events.first(),
        Some(ProviderEvent::Retrying { retry: 1, .. })
    ));
    // No server numbers: counts and rates come from our clock, and say so.
    assert_eq!(generation.metrics.completion_tokens, Some(2));
    assert_eq!(generation.metrics.tokens_source, Source::Client);
    assert_eq!(generation.metrics.decode_source, Source::Client);
    assert_eq!(generation.metrics.prompt_tokens, None);
}

#[tokio::test]
async fn profile_thinking_and_extra_body_reach_the_request() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/api/chat",
        [Reply::ndjson(transcript("ollama/chat-thinking.ndjson"))],
    );
    let mut extra = toml::Table::new();
    extra.insert(
        "options".to_owned(),
        toml::Value::Table(toml::Table::from_iter([(
            "top_k".to_owned(),
            toml::Value::Integer(20),
        )])),
    );
    let provider = connect_profile(
        ProviderProfile {
            think: Some(Think::Level("high".to_owned())),
            extra_body: Some(extra),
            num_ctx: Some(16384),
            keep_alive: Some(cargo_llm_bench::provider::KeepAlive::Seconds(-1)),
            ..profile(ProviderKind::Ollama, &server)
        },
        "qwen3:8b",
        &[],
    );
    generate(&provider, &chat()).await.0.unwrap();
    let sent = server.requests_to("/api/chat")[0].json();
    assert_eq!(sent["think"], "high");
    assert_eq!(sent["keep_alive"], -1);
    assert_eq!(sent["options"]["top_k"], 20);
    assert_eq!(sent["options"]["num_ctx"], 16384);
}

#[tokio::test]
async fn ollama_models_are_listed_with_sizes_and_context_lengths() {
    let server = FakeServer::start();
    server
        .route(
            "GET",
            "/api/tags",
            [Reply::json(200, transcript("ollama/tags.json"))],
        )
        .route(
            "POST",
            "/api/show",
            [Reply::json(200, transcript("ollama/show.json"))],
        );
    let profiles = BTreeMap::from([("fake".to_owned(), profile(ProviderKind::Ollama, &server))]);
    let provider = connect_provider_with_env("fake", &profiles, &|_| None).unwrap();
    let models = provider.list_models().await.unwrap();
    assert_eq!(models.len(), 3);
    assert_eq!(models[0].name, "qwen2.5-coder:14b");
    assert_eq!(models[0].parameter_size.as_deref(), Some("14.8B"));
    assert_eq!(models[0].quantization.as_deref(), Some("Q4_K_M"));
    assert_eq!(models[0].family.as_deref(), Some("qwen2"));
    assert_eq!(models[0].size_bytes, Some(8988124069));
    assert_eq!(models[0].context_length, Some(32768));
    assert!(models[2].remote);
    assert_eq!(models[2].context_length, None, "cloud stubs are not asked");
}

// ---------------------------------------------------------------- Ollama Cloud

#[tokio::test]
async fn ollama_cloud_pointed_at_this_machine_never_gets_the_key() {
    let server = FakeServer::start();
    server
        .route(
            "GET",
            "/api/tags",
            [Reply::json(200, transcript("ollama/cloud-tags.json"))],
        )
        .route(
            "POST",
            "/api/chat",
            [Reply::ndjson(transcript("ollama/cloud-chat.ndjson"))],
        );
    let provider = connect(ProviderKind::OllamaCloud, &server, "gpt-oss:120b-cloud");
    assert!(
        !provider.is_local(),
        "cloud models do not compete with our builds"
    );
    assert_eq!(provider.limits().concurrency, 4);
    provider.prepare().await.unwrap();
    generate(&provider, &chat()).await.0.unwrap();
    let chat = &server.requests_to("/api/chat")[0];
    assert_eq!(
        chat.json()["model"],
        "gpt-oss:120b",
        "ollama.com takes bare names"
    );
    for request in server.requests() {
        assert_eq!(request.header("authorization"), None);
        assert!(!format!("{request:?}").contains(MARKER_KEY));
    }
}

#[tokio::test]
async fn an_unknown_ollama_cloud_model_names_the_cloud_models() {
    let server = FakeServer::start();
    server.route(
        "GET",
        "/api/tags",
        [Reply::json(200, transcript("ollama/cloud-tags.json"))],
    );
    let provider = connect(ProviderKind::OllamaCloud, &server, "qwen3-coder:480b");
    let reason = unusable_reason(provider.prepare().await);
    assert!(reason.contains("gpt-oss:120b, qwen3.5:397b"), "{reason}");
}

// ---------------------------------------------------------------- Gemini

#[tokio::test]
async fn gemini_streams_with_lf_or_crlf_and_reads_cumulative_usage() {
    for fixture in ["gemini/stream.sse", "gemini/stream-crlf.sse"] {
        let server = FakeServer::start();
        server.route(
            "POST",
            "/models/gemini-2.5-flash:streamGenerateContent",
            [Reply::sse(transcript(fixture))
                .split(Split::Every(13))
                .pause(Duration::from_millis(1))],
        );
        let provider = connect(ProviderKind::Gemini, &server, "gemini-2.5-flash");
        let generation = generate(&provider, &chat()).await.0.unwrap();
        assert!(generation
            .text
            .starts_with("The capital of Poland is **Warsaw"));
        assert!(
            generation.text.ends_with("Warsaw Uprising in."),
            "{fixture}"
        );
        assert_eq!(generation.end, GenerationEnd::Finished);
        let metrics = &generation.metrics;
        assert_eq!(metrics.prompt_tokens, Some(15));
        assert_eq!(metrics.completion_tokens, Some(771 + 914));
        assert_eq!(metrics.decode_source, Source::Client);
        assert!(metrics.decode_tokens_per_second.unwrap() > 0.0);

        let request = &server.requests()[0];
        assert_eq!(
            request.target,
            "/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        assert_eq!(request.header("x-goog-api-key"), Some(MARKER_KEY));
        let sent = request.json();
        assert_eq!(
            sent["systemInstruction"]["parts"][0]["text"],
            "You are an expert Rust programmer."
        );
        assert_eq!(sent["contents"][0]["role"], "user");
        assert_eq!(sent["generationConfig"]["maxOutputTokens"], 512);
        assert_eq!(sent["generationConfig"]["seed"], 42);
        assert!(sent["generationConfig"].get("thinkingConfig").is_none());
    }
}

#[tokio::test]
async fn gemini_thought_parts_stay_apart_and_empty_signature_parts_add_nothing() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/models/gemini-2.5-flash:streamGenerateContent",
        [Reply::sse(transcript("gemini/thoughts.sse"))],
    );
    let provider = connect_profile(
        ProviderProfile {
            think: Some(Think::Budget(1024)),
            ..profile(ProviderKind::Gemini, &server)
        },
        "gemini-2.5-flash",
        &[("GEMINI_API_KEY", MARKER_KEY)],
    );
    let generation = generate(&provider, &chat()).await.0.unwrap();
    assert_eq!(
        generation.thinking,
        "**Planning the iteration**\n\nI need a loop ..."
    );
    assert_eq!(generation.text, "fn fib(n: u64) -> u64 { 0 }");
    assert_eq!(generation.metrics.completion_tokens, Some(52 + 412));
    assert_eq!(generation.metrics.prompt_tokens, Some(31));
    let sent = server.requests()[0].json();
    assert_eq!(
        sent["generationConfig"]["thinkingConfig"],
        json!({"thinkingBudget": 1024, "includeThoughts": true})
    );
}

#[tokio::test]
async fn a_gemini_last_event_may_carry_only_the_finish_reason_and_usage() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/models/gemini-2.5-flash:streamGenerateContent",
        [Reply::sse(transcript("gemini/finish-without-parts.sse"))],
    );
    let provider = connect(ProviderKind::Gemini, &server, "gemini-2.5-flash");
    let generation = generate(&provider, &chat()).await.0.unwrap();
    assert_eq!(generation.text, "fn main() {}");
    assert_eq!(generation.metrics.completion_tokens, Some(5));
}

#[tokio::test]
async fn a_gemini_budget_spent_on_thoughts_is_thinking_exhausted() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/models/gemini-2.5-flash:streamGenerateContent",
        [Reply::sse(transcript("gemini/max-tokens-thinking.sse"))],
    );
    let provider = connect(ProviderKind::Gemini, &server, "gemini-2.5-flash");
    let generation = generate(&provider, &chat()).await.0.unwrap();
    assert_eq!(generation.end, GenerationEnd::ThinkingExhausted);
    assert_eq!(generation.metrics.completion_tokens, Some(1024));
}

#[tokio::test]
async fn a_gemini_stream_without_finish_reason_or_with_only_prompt_feedback_fails() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/models/gemini-2.5-flash:streamGenerateContent",
        [
            Reply::sse(transcript("gemini/no-finish-reason.sse")),
            Reply::sse(transcript("gemini/prompt-feedback-only.sse")),
        ],
    );
    let provider = connect(ProviderKind::Gemini, &server, "gemini-2.5-flash");
    let (reason, _) = failed_reason(generate(&provider, &chat()).await.0);
    assert!(reason.contains("without a `finishReason`"), "{reason}");
    let (reason, _) = failed_reason(generate(&provider, &chat()).await.0);
    assert!(reason.contains("blocked the prompt (SAFETY)"), "{reason}");
}

#[tokio::test]
async fn gemini_errors_after_the_200_are_retried_as_events_or_as_a_raw_tail() {
    for fixture in [
        "gemini/mid-stream-error.sse",
        "gemini/mid-stream-resource-exhausted.sse",
        "gemini/raw-error-tail.sse",
    ] {
        let server = FakeServer::start();
        server.route(
            "POST",
            "/models/gemini-2.5-flash:streamGenerateContent",
            [
                Reply::sse(transcript(fixture)),
                Reply::sse(transcript("gemini/stream.sse")),
            ],
        );
        let provider = connect(ProviderKind::Gemini, &server, "gemini-2.5-flash");
        let generation = generate(&provider, &chat()).await.0.unwrap();
        assert_eq!(generation.metrics.retries, 1, "{fixture}");
        // The partial text of the failed try is not part of the answer.
        assert_eq!(generation.text.matches("The capital of Poland").count(), 1);
    }
    let server = FakeServer::start();
    server.route(
        "POST",
        "/models/gemini-2.5-flash:streamGenerateContent",
        [Reply::sse(transcript("gemini/raw-error-tail.sse"))],
    );
    let provider = connect_profile(
        ProviderProfile {
            max_retries: Some(0),
            ..profile(ProviderKind::Gemini, &server)
        },
        "gemini-2.5-flash",
        &[("GEMINI_API_KEY", MARKER_KEY)],
    );
    let (reason, _) = failed_reason(generate(&provider, &chat()).await.0);
    assert!(reason.contains("UNAVAILABLE"), "{reason}");
}

#[tokio::test]
async fn gemini_retry_info_sets_the_wait() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/models/gemini-2.5-flash:streamGenerateContent",
        [Reply::json(429, transcript("gemini/429-retry-info.json"))],
    );
    let provider = connect(ProviderKind::Gemini, &server, "gemini-2.5-flash");
    let wait = announced_wait(&provider, &chat()).await;
    assert!(
        wait >= Duration::from_secs(26) && wait <= Duration::from_millis(28_600),
        "{wait:?}"
    );
}

#[tokio::test]
async fn gemini_429_without_retry_info_and_503_back_off_and_succeed() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/models/gemini-2.5-flash:streamGenerateContent",
        [
            Reply::json(429, transcript("gemini/429-no-retry-info.json")),
            Reply::json(503, transcript("gemini/503-unavailable.json")),
            Reply::sse(transcript("gemini/stream.sse")),
        ],
    );
    let provider = connect(ProviderKind::Gemini, &server, "gemini-2.5-flash");
    let generation = generate(&provider, &chat()).await.0.unwrap();
    assert_eq!(generation.metrics.retries, 2);
}

#[tokio::test]
async fn gemini_per_day_quota_and_limit_zero_are_not_retried() {
    for fixture in ["gemini/429-per-day.json", "gemini/429-limit-zero.json"] {
        let server = FakeServer::start();
        server.route(
            "POST",
            "/models/gemini-2.5-pro:streamGenerateContent",
            [Reply::json(429, transcript(fixture))],
        );
        let provider = connect(ProviderKind::Gemini, &server, "gemini-2.5-pro");
        let reason = unusable_reason(generate(&provider, &chat()).await.0);
        assert!(reason.contains("RESOURCE_EXHAUSTED"), "{reason}");
        assert_eq!(server.requests().len(), 1, "{fixture}");
    }
}

#[tokio::test]
async fn an_unknown_gemini_model_names_the_models_that_generate() {
    let server = FakeServer::start();
    server
        .route(
            "GET",
            "/models/gemini-9-flash",
            [Reply::json(404, transcript("gemini/404-not-found.json"))],
        )
        .route(
            "GET",
            "/models",
            [Reply::json(200, transcript("gemini/models.json"))],
        )
        .route(
            "GET",
            "/models/gemini-2.5-flash",
            [Reply::json(200, transcript("gemini/model.json"))],
        );
    connect(ProviderKind::Gemini, &server, "gemini-2.5-flash")
        .prepare()
        .await
        .unwrap();
    let provider = connect(ProviderKind::Gemini, &server, "gemini-9-flash");
    let reason = unusable_reason(provider.prepare().await);
    assert!(reason.contains("it has gemini-2.5-flash"), "{reason}");
    assert!(!reason.contains("embedding"), "{reason}");
    let models = provider.list_models().await.unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0].context_length, Some(1048576));
}

// ---------------------------------------------------------------- OpenAI-compatible

fn openai_profile(server: &FakeServer) -> ProviderProfile {
    ProviderProfile {
        base_url: Some(format!("{}/v1", server.url())),
        api_key_env: Some("LOCAL_KEY".to_owned()),
        ..profile(ProviderKind::Openai, server)
    }
}

fn openai(server: &FakeServer, model: &str) -> Provider {
    connect_profile(openai_profile(server), model, &[("LOCAL_KEY", MARKER_KEY)])
}

#[tokio::test]
async fn llama_cpp_timings_are_the_servers_speed_numbers() {
    for fixture in ["openai/llama-cpp-chat.sse", "openai/llama-cpp-usage.sse"] {
        let server = FakeServer::start();
        server.route(
            "POST",
            "/v1/chat/completions",
            [Reply::sse(transcript(fixture)).split(Split::Every(17))],
        );
        let provider = openai(&server, "gpt-oss");
        let (result, events) = generate(&provider, &chat()).await;
        let generation = result.unwrap();
        assert!(generation.text == "Hi!" || generation.text == "fn main() {}");
        let metrics = &generation.metrics;
        approx(metrics.decode_tokens_per_second, 167.0865467074863);
        assert_eq!(metrics.decode_source, Source::Server);
        approx(metrics.prefill_tokens_per_second, 2471.5558017641797);
        assert_eq!(metrics.prompt_tokens, Some(58 + 89));
        assert_eq!(metrics.completion_tokens, Some(2188));
        assert_eq!(
            metrics.server_prompt_time,
            Some(Duration::from_secs_f64(0.023467))
        );
        assert_eq!(events, [ProviderEvent::FirstToken], "{fixture}");

        let request = &server.requests()[0];
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {MARKER_KEY}").as_str())
        );
        let sent = request.json();
        assert_eq!(sent["stream"], true);
        assert_eq!(sent["stream_options"]["include_usage"], true);
        assert_eq!(sent["max_tokens"], 512);
        assert_eq!(sent["seed"], 42);
        assert_eq!(
            sent["messages"][1]["content"],
            "Implement fn fib(n: u64) -> u64 iteratively."
        );
    }
}

#[tokio::test]
async fn the_role_chunk_with_null_content_is_not_the_first_token() {
    let body = transcript("openai/llama-cpp-chat.sse");
    let after_role_chunk = offset_inside(&body, "\n\n", 2);
    let server = FakeServer::start();
    server.route(
        "POST",
        "/v1/chat/completions",
        [Reply::sse(body)
            .split(Split::At(vec![after_role_chunk]))
            .pause(Duration::from_millis(150))],
    );
    let provider = openai(&server, "gpt-oss");
    let metrics = generate(&provider, &chat()).await.0.unwrap().metrics;
    assert!(metrics.ttft.unwrap() >= Duration::from_millis(150));
}

#[tokio::test]
async fn usage_counts_without_timings_give_a_client_rate_and_length_is_max_tokens() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/v1/chat/completions",
        [Reply::sse(transcript("openai/usage-only.sse"))
            .split(Split::Every(150))
            .pause(Duration::from_millis(30))],
    );
    let provider = openai(&server, "gpt-4o-mini");
    let generation = generate(&provider, &chat()).await.0.unwrap();
    assert_eq!(generation.text, "fn main() {}");
    assert_eq!(generation.end, GenerationEnd::MaxTokens);
    assert_eq!(generation.metrics.completion_tokens, Some(4));
    assert_eq!(generation.metrics.tokens_source, Source::Server);
    assert_eq!(generation.metrics.decode_source, Source::Client);
    assert!(generation.metrics.decode_tokens_per_second.unwrap() > 0.0);
}

#[tokio::test]
async fn reasoning_content_and_reasoning_are_both_thinking() {
    for fixture in ["openai/reasoning-content.sse", "openai/reasoning.sse"] {
        let server = FakeServer::start();
        server.route(
            "POST",
            "/v1/chat/completions",
            [Reply::sse(transcript(fixture))],
        );
        let provider = openai(&server, "qwen3");
        let generation = generate(&provider, &chat()).await.0.unwrap();
        assert_eq!(generation.thinking, "Thinking.", "{fixture}");
        assert_eq!(generation.text, "fn main() {}", "{fixture}");
        assert!(generation.metrics.ttft.unwrap() <= generation.metrics.ttft_answer.unwrap());
    }
}

#[tokio::test]
async fn completion_mode_uses_completions_with_the_raw_prompt() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/v1/completions",
        [Reply::sse(transcript("openai/completions.sse"))],
    );
    let provider = openai(&server, "gemma3-270m");
    let generation = generate(
        &provider,
        &request(Mode::Completion, "fn add(a: i32, b: i32) -> i32"),
    )
    .await
    .0
    .unwrap();
    assert_eq!(generation.text, " {\n    a + b\n}\n");
    approx(generation.metrics.decode_tokens_per_second, 50.0);
    let sent = server.requests()[0].json();
    assert_eq!(sent["prompt"], "fn add(a: i32, b: i32) -> i32");
    assert!(sent.get("messages").is_none());
}

#[tokio::test]
async fn openai_errors_inside_the_stream_fail_the_request_in_every_shape() {
    for (fixture, message) in [
        (
            "openai/mid-stream-error.sse",
            "the model crashed while decoding",
        ),
        ("openai/legacy-error-field.sse", "slot unavailable"),
        ("openai/vllm-flat-error.sse", "the engine died"),
        ("openai/no-done.sse", "without `data: [DONE]`"),
    ] {
        let server = FakeServer::start();
        server.route(
            "POST",
            "/v1/chat/completions",
            [Reply::sse(transcript(fixture))],
        );
        let provider = connect_profile(
            ProviderProfile {
                max_retries: Some(0),
                ..openai_profile(&server)
            },
            "qwen",
            &[("LOCAL_KEY", MARKER_KEY)],
        );
        let (reason, _) = failed_reason(generate(&provider, &chat()).await.0);
        assert!(reason.contains(message), "{fixture}: {reason}");
    }
}

#[tokio::test]
async fn a_mid_stream_server_error_is_retried_from_scratch() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/v1/chat/completions",
        [
            Reply::sse(transcript("openai/mid-stream-error.sse")),
            Reply::sse(transcript("openai/reasoning.sse")),
        ],
    );
    let provider = openai(&server, "qwen");
    let generation = generate(&provider, &chat()).await.0.unwrap();
    assert_eq!(generation.text, "fn main() {}");
    assert_eq!(generation.metrics.retries, 1);
}

#[tokio::test]
async fn retry_after_seconds_is_honoured() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/v1/chat/completions",
        [Reply::json(429, transcript("openai/429-rate-limit.json")).header("Retry-After", "7")],
    );
    let wait = announced_wait(&openai(&server, "qwen"), &chat()).await;
    assert!(
        wait >= Duration::from_secs(7) && wait <= Duration::from_millis(7_700),
        "{wait:?}"
    );
}

#[tokio::test]
async fn retry_after_as_a_past_http_date_retries_at_once() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/v1/chat/completions",
        [
            Reply::json(429, transcript("openai/429-rate-limit.json"))
                .header("Retry-After", "Wed, 21 Oct 2026 07:28:00 GMT"),
            Reply::sse(transcript("openai/reasoning.sse")),
        ],
    );
    let generation = generate(&openai(&server, "qwen"), &chat()).await.0.unwrap();
    assert_eq!(generation.metrics.retries, 1);
    assert_eq!(generation.metrics.retry_wait, Duration::ZERO);
}

#[tokio::test]
async fn a_429_then_success_shows_one_retry_and_its_wait_in_the_metrics() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/v1/chat/completions",
        [
            Reply::json(429, transcript("openai/429-rate-limit.json"))
                .header("retry-after-ms", "1500")
                .header("Retry-After", "7"),
            Reply::sse(transcript("openai/llama-cpp-chat.sse")),
        ],
    );
    let (result, events) = generate(&openai(&server, "gpt-oss"), &chat()).await;
    let metrics = result.unwrap().metrics;
    assert_eq!(metrics.retries, 1);
    assert!(
        metrics.retry_wait >= Duration::from_millis(1500)
            && metrics.retry_wait <= Duration::from_millis(1650),
        "{:?}",
        metrics.retry_wait
    );
    assert_eq!(
        events[0],
        ProviderEvent::Retrying {
            retry: 1,
            wait: metrics.retry_wait
        }
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_wait_longer_than_the_budget_makes_the_model_unusable_at_once() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/v1/chat/completions",
        [
            Reply::json(429, transcript("openai/429-rate-limit.json"))
                .header("Retry-After", "3600"),
        ],
    );
    let reason = unusable_reason(generate(&openai(&server, "qwen"), &chat()).await.0);
    assert!(reason.contains("1h"), "{reason}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn spent_quota_and_credits_are_not_retried() {
    for (status, fixture) in [
        (429, "openai/429-insufficient-quota.json"),
        (402, "openai/402-openrouter.json"),
    ] {
        let server = FakeServer::start();
        server.route(
            "POST",
            "/v1/chat/completions",
            [Reply::json(status, transcript(fixture))],
        );
        unusable_reason(generate(&openai(&server, "qwen"), &chat()).await.0);
        assert_eq!(server.requests().len(), 1, "{fixture}");
    }
}

#[tokio::test]
async fn a_402_with_retry_after_is_an_in_flight_budget_and_is_retried() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/v1/chat/completions",
        [
            Reply::json(402, transcript("openai/402-openrouter.json")).header("Retry-After", "0"),
            Reply::sse(transcript("openai/reasoning.sse")),
        ],
    );
    let generation = generate(&openai(&server, "qwen"), &chat()).await.0.unwrap();
    assert_eq!(generation.metrics.retries, 1);
}

#[tokio::test]
async fn a_prompt_over_the_context_fails_and_a_loading_server_is_waited_for() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/v1/chat/completions",
        [Reply::json(
            400,
            transcript("openai/400-exceed-context.json"),
        )],
    );
    let (reason, _) = failed_reason(generate(&openai(&server, "qwen"), &chat()).await.0);
    assert!(reason.contains("exceed_context_size_error"), "{reason}");
    assert_eq!(server.requests().len(), 1);

    let server = FakeServer::start();
    server.route(
        "POST",
        "/v1/chat/completions",
        [
            Reply::json(503, transcript("openai/503-loading.json")),
            Reply::sse(transcript("openai/reasoning.sse")),
        ],
    );
    assert_eq!(
        generate(&openai(&server, "qwen"), &chat())
            .await
            .0
            .unwrap()
            .metrics
            .retries,
        1
    );
}

#[tokio::test]
async fn an_openai_model_missing_from_the_list_is_unusable_and_names_the_list() {
    let server = FakeServer::start();
    server
        .route(
            "GET",
            "/v1/models",
            [Reply::json(200, transcript("openai/models.json"))],
        )
        .route(
            "POST",
            "/v1/completions",
            [Reply::json(200, r#"{"choices":[{"text":"x"}]}"#)],
        );
    let reason = unusable_reason(openai(&server, "qwen2.5-coder-7b").prepare().await);
    assert!(reason.contains("it has qwen2.5-coder-0.5b"), "{reason}");
    let provider = openai(&server, "qwen2.5-coder-0.5b");
    provider.prepare().await.unwrap();
    // A server on this machine is warmed up with one tiny request.
    assert_eq!(server.requests_to("/v1/completions").len(), 1);
    let models = provider.list_models().await.unwrap();
    assert_eq!(models[0].context_length, Some(32768));
    assert_eq!(models[0].size_bytes, Some(491400032));
}

// ---------------------------------------------------------------- Secrets

#[tokio::test]
async fn the_openai_key_never_goes_to_a_server_a_profile_points_elsewhere() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/v1/chat/completions",
        [Reply::sse(transcript("openai/reasoning.sse"))],
    );
    let provider = connect_profile(
        ProviderProfile {
            api_key_env: None,
            ..openai_profile(&server)
        },
        "qwen",
        &[("OPENAI_API_KEY", MARKER_KEY)],
    );
    generate(&provider, &chat()).await.0.unwrap();
    assert_eq!(server.requests()[0].header("authorization"), None);
}

#[tokio::test]
async fn marker_keys_never_appear_in_debug_output_or_error_messages() {
    let server = FakeServer::start();
    let echo = format!(
        r#"{{"error":{{"code":401,"message":"API key {MARKER_KEY} not valid","status":"UNAUTHENTICATED"}}}}"#
    );
    // The key is never sent to this machine, so this server cannot echo it.
    let echo_line = "{\"error\":\"unauthorized\"}\n";
    server
        .route(
            "POST",
            "/models/gemini-2.5-flash:streamGenerateContent",
            [Reply::json(401, echo.clone())],
        )
        .route(
            "POST",
            "/v1/chat/completions",
            [Reply::json(401, echo.clone())],
        )
        .route("POST", "/api/chat", [Reply::ndjson(echo_line)]);
    let env = [
        ("GEMINI_API_KEY", MARKER_KEY),
        ("LOCAL_KEY", MARKER_KEY),
        ("OLLAMA_API_KEY", MARKER_KEY),
    ];
    let providers = [
        connect_profile(
            profile(ProviderKind::Gemini, &server),
            "gemini-2.5-flash",
            &env,
        ),
        connect_profile(openai_profile(&server), "qwen", &env),
        connect_profile(
            profile(ProviderKind::OllamaCloud, &server),
            "gpt-oss:120b",
            &env,
        ),
    ];
    for provider in &providers {
        let debug = format!("{provider:?}");
        assert!(!debug.contains(MARKER_KEY), "{debug}");
        let error = generate(provider, &chat()).await.0.unwrap_err();
        let text = format!("{error} {error:?}");
        assert!(!text.contains(MARKER_KEY), "{text}");
        assert!(
            text.contains("****") || text.contains("unauthorized"),
            "{text}"
        );
    }
    // Keys are really sent where they belong, so the scrubbing above is not vacuous.
    assert_eq!(
        server.requests_to("/v1/chat/completions")[0].header("authorization"),
        Some(format!("Bearer {MARKER_KEY}").as_str())
    );
}

#[tokio::test]
async fn a_minimal_ollama_front_with_only_chat_still_prepares_and_answers() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/api/chat",
        [
            Reply::json(429, r#"{"error":"rate limit exceeded, slow down"}"#),
            Reply::ndjson(transcript("ollama/chat-rust-escapes-no-metrics.ndjson"))
                .split(Split::Every(5)),
        ],
    );
    let provider = connect(ProviderKind::Ollama, &server, "qwen2.5-coder:7b");
    provider.prepare().await.unwrap();
    let generation = generate(&provider, &chat()).await.0.unwrap();
    assert!(generation.text.contains("Vec<u8>"));
    assert_eq!(generation.end, GenerationEnd::Finished);
}

#[tokio::test]
async fn a_slow_prefill_before_the_headers_is_not_an_idle_stream() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/api/chat",
        [Reply::ndjson(transcript("ollama/chat-thinking.ndjson"))
            .delay(Duration::from_millis(500))],
    );
    let provider = connect_profile(
        ProviderProfile {
            idle_timeout: Some("200ms".to_owned()),
            ..profile(ProviderKind::Ollama, &server)
        },
        "qwen3:8b",
        &[],
    );
    let generation = generate(&provider, &chat()).await.0.unwrap();
    assert!(generation.metrics.ttft.unwrap() >= Duration::from_millis(500));
    assert_eq!(generation.metrics.retries, 0);
}

#[tokio::test]
async fn a_server_that_allocates_less_context_than_asked_caps_the_window() {
    let allocated = String::from_utf8(transcript("ollama/ps.json"))
        .unwrap()
        .replace("\"context_length\":4096", "\"context_length\":2048");
    let server = FakeServer::start();
    server
        .route(
            "POST",
            "/api/show",
            [Reply::json(200, transcript("ollama/show.json"))],
        )
        .route("GET", "/api/ps", [Reply::json(200, allocated)])
        .route(
            "POST",
            "/api/chat",
            [
                Reply::json(200, transcript("ollama/load.json")),
                Reply::ndjson(transcript("ollama/truncated-prompt.ndjson")),
            ],
        );
    let provider = connect(ProviderKind::Ollama, &server, "qwen2.5-coder:7b");
    provider.prepare().await.unwrap();
    let generation = generate(&provider, &request(Mode::Chat, &"x".repeat(10_000)))
        .await
        .0
        .unwrap();
    assert!(matches!(
        generation.end,
        GenerationEnd::PromptTruncated { .. }
    ));
    let chats = server.requests_to("/api/chat");
    assert_eq!(
        chats.len(),
        2,
        "no reload to a window the server will not give"
    );
    assert_eq!(chats[1].json()["options"]["num_ctx"], 2048);
}

#[tokio::test]
async fn a_connection_closed_before_the_headers_is_retried() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/v1/chat/completions",
        [
            Reply::hang_up(),
            Reply::sse(transcript("openai/reasoning.sse")),
        ],
    );
    let generation = generate(&openai(&server, "qwen"), &chat()).await.0.unwrap();
    assert_eq!(generation.metrics.retries, 1);
    assert_eq!(generation.text, "fn main() {}");
}

#[tokio::test]
async fn an_sse_event_named_error_is_an_error() {
    let server = FakeServer::start();
    server.route(
        "POST",
        "/v1/chat/completions",
        [Reply::sse(
            "event: error\ndata: {\"message\":\"upstream failed\",\"code\":400}\n\n",
        )],
    );
    let (reason, _) = failed_reason(generate(&openai(&server, "qwen"), &chat()).await.0);
    assert!(reason.contains("upstream failed"), "{reason}");
}
