//! `cargo llm-bench generate` through the real CLI against a loopback fake of Ollama: the
//! answer is checked, repaired and written only when it passes; the saved model is used when
//! `--model` is absent; hostile answers stay in the sandbox.

#[path = "support/fake_server.rs"]
mod fake_server;
#[path = "support/project.rs"]
mod project;

use fake_server::{fake_ollama, ollama_chat, FakeServer, Reply};
use project::Project;
use serde_json::Value;
use std::process::Output;

const PROMPT: &str = "Write `pub fn add(a: i32, b: i32) -> i32`.";
const RIGHT: &str = "```rust\npub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n```\n";
const WRONG: &str = "```rust\npub fn add(a: i32, b: i32) -> i32 {\n    a - b\n}\n```\n";
const BARE_TESTS: &str = "#[test]\nfn adds() {\n    assert_eq!(add(2, 3), 5);\n}\n";

/// A fake Ollama server that knows one model and answers its chats with `answers` in order
/// (the last one repeats), after the load request.
fn ollama_server(answers: &[&str]) -> FakeServer {
    fake_ollama(
        answers
            .iter()
            .map(|answer| Reply::ndjson(ollama_chat(answer, true, "stop"))),
    )
}

/// The chat requests that asked for an answer (the load request asks for none).
fn answer_requests(server: &FakeServer) -> Vec<Value> {
    server
        .requests_to("/api/chat")
        .iter()
        .map(|request| request.json())
        .filter(|body| {
            body["messages"]
                .as_array()
                .is_some_and(|messages| !messages.is_empty())
        })
        .collect()
}

/// A project whose config names `model` (when given) and a profile per (name, url).
fn project_with(model: Option<&str>, profiles: &[(&str, &str)]) -> Project {
    let mut config = String::from("[package.metadata.llm-bench]\n");
    if let Some(model) = model {
        config.push_str(&format!("model = \"{model}\"\n"));
    }
    for (name, url) in profiles {
        config.push_str(&format!(
            "[package.metadata.llm-bench.providers.{name}]\nkind = \"ollama\"\nbase-url = \"{url}\"\nretry-base = \"50ms\"\nretry-cap = \"200ms\"\n"
        ));
    }
    Project::with_manifest_extra(&config)
}

fn generate(project: &Project, args: &[&str]) -> Output {
    let mut command = vec!["generate"];
    command.extend_from_slice(args);
    project.run(&command)
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
fn a_wrong_answer_is_repaired_and_the_passing_code_is_written_with_the_tests_wrapped() {
    let server = ollama_server(&[WRONG, RIGHT]);
    let project = project_with(None, &[("fake", &server.url())]);
    let tests = project.write("tests.rs", BARE_TESTS);
    let output = generate(
        &project,
        &[
            "--prompt",
            PROMPT,
            "--tests",
            &tests,
            "--out",
            "src/add.rs",
            "-m",
            "fake:qwen2.5-coder:7b",
        ],
    );
    assert_eq!(code(&output), 0, "{}", explain(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("attempt 1: failed test (1 of 1 tests failed)"),
        "{stderr}"
    );
    assert!(stderr.contains("attempt 2: passed"), "{stderr}");
    assert!(stderr.contains("2 attempt(s) (1 repair(s))"), "{stderr}");
    assert!(stderr.contains("tok/s"), "{stderr}");
    assert!(stderr.contains("wrote src/add.rs"), "{stderr}");
    let written = std::fs::read_to_string(project.path().join("src/add.rs")).unwrap();
    assert!(written.starts_with("pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n"));
    assert!(
        written.contains(
            "#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn adds() {"
        ),
        "{written}"
    );
    // The model saw the tests, and the repair request followed its wrong answer.
    let requests = answer_requests(&server);
    assert_eq!(requests.len(), 2, "{requests:#?}");
    let first = requests[0]["messages"].as_array().unwrap();
    assert!(
        first.last().unwrap()["content"]
            .as_str()
            .unwrap()
            .contains("assert_eq!(add(2, 3), 5)"),
        "{first:#?}"
    );
    let repair = requests[1]["messages"].as_array().unwrap();
    assert_eq!(repair.len(), first.len() + 2, "{repair:#?}");
    assert!(repair[repair.len() - 2]["content"]
        .as_str()
        .unwrap()
        .contains("a - b"));
}

#[test]
fn a_model_that_never_passes_exits_1_and_writes_nothing() {
    let server = ollama_server(&[WRONG]);
    let project = project_with(None, &[("fake", &server.url())]);
    let tests = project.write("tests.rs", BARE_TESTS);
    let output = generate(
        &project,
        &[
            "--prompt",
            PROMPT,
            "--tests",
            &tests,
            "--out",
            "src/add.rs",
            "-m",
            "fake:m",
            "--repairs",
            "1",
        ],
    );
    assert_eq!(code(&output), 1, "{}", explain(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the last answer failed the test stage; nothing written"),
        "{stderr}"
    );
    assert!(!project.path().join("src/add.rs").exists());
    assert!(output.stdout.is_empty(), "{}", explain(&output));
}

#[test]
fn force_writes_failing_code_with_a_warning_naming_the_stage() {
    let server = ollama_server(&[WRONG]);
    let project = project_with(None, &[("fake", &server.url())]);
    let tests = project.write("tests.rs", BARE_TESTS);
    let output = generate(
        &project,
        &[
            "--prompt",
            PROMPT,
            "--tests",
            &tests,
            "--out",
            "add.rs",
            "-m",
            "fake:m",
            "--repairs",
            "0",
            "--force",
        ],
    );
    assert_eq!(code(&output), 1, "{}", explain(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("warning: --force: writing code that failed the test stage"),
        "{stderr}"
    );
    let written = std::fs::read_to_string(project.path().join("add.rs")).unwrap();
    assert!(written.contains("a - b"), "{written}");
}

#[test]
fn the_saved_model_is_used_without_model_and_the_flag_wins_over_it() {
    let saved = ollama_server(&[RIGHT]);
    let flagged = ollama_server(&[RIGHT]);
    let project = project_with(
        Some("saved:qwen2.5-coder:7b"),
        &[("saved", &saved.url()), ("flagged", &flagged.url())],
    );
    let output = generate(&project, &["--prompt", PROMPT]);
    assert_eq!(code(&output), 0, "{}", explain(&output));
    assert_eq!(answer_requests(&saved).len(), 1);
    assert!(answer_requests(&flagged).is_empty());
    // Without --out (and without tests) the code goes to stdout, alone.
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n"
    );

    let output = generate(&project, &["--prompt", PROMPT, "-m", "flagged:m"]);
    assert_eq!(code(&output), 0, "{}", explain(&output));
    assert_eq!(answer_requests(&saved).len(), 1);
    assert_eq!(answer_requests(&flagged).len(), 1);
}

#[test]
fn without_a_model_or_with_an_offline_one_generate_says_what_to_do_and_exits_2() {
    let project = project_with(None, &[]);
    let output = generate(&project, &["--prompt", PROMPT]);
    assert_eq!(code(&output), 2, "{}", explain(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no model to generate with"), "{stderr}");
    assert!(stderr.contains("optimize --save"), "{stderr}");

    let output = generate(&project, &["--prompt", PROMPT, "-m", "reference"]);
    assert_eq!(code(&output), 2, "{}", explain(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot generate"));

    let empty = project.write("empty.rs", "\n");
    let output = generate(
        &project,
        &["--prompt", PROMPT, "-m", "ollama:m", "--tests", &empty],
    );
    assert_eq!(code(&output), 2, "{}", explain(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is empty"));

    let project = project_with(Some("not a model"), &[]);
    let output = generate(&project, &["--prompt", PROMPT]);
    assert_eq!(code(&output), 2, "{}", explain(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("model"));
}

#[test]
fn a_prompt_file_and_tests_with_their_own_module_are_taken_as_written() {
    let server = ollama_server(&[RIGHT]);
    let project = project_with(None, &[("fake", &server.url())]);
    let prompt = project.write("prompt.md", PROMPT);
    let tests_module =
        "#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn adds() {\n        assert_eq!(add(2, 3), 5);\n    }\n}\n";
    let tests = project.write("tests.rs", tests_module);
    let output = generate(
        &project,
        &[
            "--prompt-file",
            &prompt,
            "--tests",
            &tests,
            "-o",
            "src/lib.rs",
            "-m",
            "fake:m",
        ],
    );
    assert_eq!(code(&output), 0, "{}", explain(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("replaced src/lib.rs"));
    let written = std::fs::read_to_string(project.path().join("src/lib.rs")).unwrap();
    assert_eq!(
        written,
        format!("pub fn add(a: i32, b: i32) -> i32 {{\n    a + b\n}}\n\n{tests_module}")
    );
    let asked = answer_requests(&server)[0]["messages"].to_string();
    assert!(asked.contains("Write `pub fn add"), "{asked}");
    // The written file is a crate whose own tests pass.
    let cargo_test = std::process::Command::new("cargo")
        .args(["test", "--quiet", "--offline"])
        .current_dir(project.path())
        .output()
        .unwrap();
    assert!(cargo_test.status.success(), "{}", explain(&cargo_test));
}

#[test]
fn a_hostile_answer_sees_no_secret_and_writes_nothing_outside_the_sandbox() {
    let escape =
        std::env::temp_dir().join(format!("llm-bench-generate-escape-{}", std::process::id()));
    let escape = escape.display().to_string();
    let hostile = format!(
        "```rust\npub fn add(a: i32, b: i32) -> i32 {{\n    let _ = std::fs::write(\"{escape}\", \"escaped\");\n    let leaked = std::env::var(\"OPENAI_API_KEY\").is_ok() as i32;\n    a + b + leaked\n}}\n```\n"
    );
    let server = ollama_server(&[&hostile]);
    let project = project_with(None, &[("fake", &server.url())]);
    let tests = project.write("tests.rs", BARE_TESTS);
    let output = project
        .command(&[
            "generate",
            "--prompt",
            PROMPT,
            "--tests",
            &tests,
            "-o",
            "add.rs",
            "-m",
            "fake:m",
            "--repairs",
            "0",
        ])
        .env("OPENAI_API_KEY", "sk-leak-marker-generate")
        .output()
        .unwrap();
    // The key never reached the tests (they pass), and the write outside stayed inside.
    assert_eq!(code(&output), 0, "{}", explain(&output));
    assert!(
        !std::path::Path::new(&escape).exists(),
        "{escape} escaped the sandbox"
    );
}

#[test]
fn a_server_that_is_not_there_exits_3_and_writes_nothing() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let project = project_with(
        Some("gone:m"),
        &[("gone", &format!("http://127.0.0.1:{port}"))],
    );
    let output = generate(&project, &["--prompt", PROMPT, "-o", "add.rs", "--force"]);
    assert_eq!(code(&output), 3, "{}", explain(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("gone:m failed at the provider"), "{stderr}");
    assert!(!project.path().join("add.rs").exists());
}
