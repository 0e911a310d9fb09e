//! The response cache and `--resume`, through the real CLI against a loopback fake Ollama that
//! counts what it is asked: a killed run resumes to the report an uninterrupted run writes,
//! without asking any finished attempt again; re-scoring reuses answers; `--no-cache` and a
//! corrupt entry ask again.

#[path = "support/fake_server.rs"]
mod fake_server;
#[path = "support/project.rs"]
mod project;

use fake_server::{fake_ollama, ollama_chat, FakeServer, Reply};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use project::Project;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// Answers every case of `SUITE` correctly: it defines both `add` and `sign`.
const GOOD_ANSWER: &str = "```rust\npub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\npub fn sign(x: i64) -> &'static str {\n    if x < 0 {\n        \"negative\"\n    } else if x == 0 {\n        \"zero\"\n    } else {\n        \"positive\"\n    }\n}\n```\n";

const ADD_TESTS: &str = "      #[cfg(test)]\n      mod tests {\n          use super::*;\n          #[test]\n          fn adds() { assert_eq!(add(2, 3), 5); }\n      }\n";

/// Four cases, each with a prompt of its own, all answered by `GOOD_ANSWER`.
fn suite(add_tests: &str) -> String {
    let mut text = String::from(
        "suite: resume\ndefaults:\n  repairs: 0\n  timeout: 20s\n  max_tokens: 256\n  stages: [format, compile, test]\ncases:\n",
    );
    for (id, prompt) in [
        ("add", "Write `pub fn add(a: i32, b: i32) -> i32`."),
        ("sign", "Write `pub fn sign(x: i64) -> &'static str`."),
        (
            "add_again",
            "Once more: write `pub fn add(a: i32, b: i32) -> i32`.",
        ),
        (
            "sign_again",
            "Once more: write `pub fn sign(x: i64) -> &'static str`.",
        ),
    ] {
        let tests = if id.starts_with("add") {
            add_tests.to_owned()
        } else {
            "      #[cfg(test)]\n      mod tests {\n          use super::*;\n          #[test]\n          fn signs() { assert_eq!(sign(-4), \"negative\"); }\n      }\n".to_owned()
        };
        let reference = if id.starts_with("add") {
            "pub fn add(a: i32, b: i32) -> i32 { a.wrapping_add(b) }"
        } else {
            "pub fn sign(x: i64) -> &'static str { if x < 0 { \"negative\" } else if x == 0 { \"zero\" } else { \"positive\" } }"
        };
        text.push_str(&format!(
            "  - id: {id}\n    prompt: \"{prompt}\"\n    reference: |\n      {reference}\n    tests: |\n{tests}"
        ));
    }
    text
}

/// A fake Ollama that loads the model, then answers every chat with `GOOD_ANSWER` after
/// `delay`, so that a run can be killed while it goes on.
fn ollama_server(delay: Duration) -> FakeServer {
    fake_ollama([Reply::ndjson(ollama_chat(GOOD_ANSWER, true, "stop")).delay(delay)])
}

/// A project whose profile `fake` points at `server`, with the suite written as `suite.yaml`.
fn project_for(server: &FakeServer, suite_text: &str) -> Project {
    let project = Project::with_manifest_extra(&format!(
        "[package.metadata.llm-bench.providers.fake]\nkind = \"ollama\"\nbase-url = \"{}\"\nnum-ctx = 4096\nretry-base = \"50ms\"\nretry-cap = \"200ms\"\n",
        server.url()
    ));
    project.write("suite.yaml", suite_text);
    project
}

const RUN: [&str; 6] = [
    "run",
    "--suite",
    "suite.yaml",
    "--no-progress",
    "-m",
    "fake:qwen2.5-coder:7b",
];

fn run(project: &Project, extra: &[&str]) -> Output {
    let mut args = RUN.to_vec();
    args.extend_from_slice(extra);
    project.run(&args)
}

fn explain(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The prompts the model was asked, in order (the warm-up load asks nothing).
fn asked(server: &FakeServer) -> Vec<String> {
    server
        .requests_to("/api/chat")
        .iter()
        .filter_map(|request| {
            let body = request.json();
            let messages = body["messages"].as_array()?;
            Some(messages.last()?["content"].as_str()?.to_owned())
        })
        .collect()
}

fn case_of_prompt(prompt: &str) -> &'static str {
    match (prompt.starts_with("Once more"), prompt.contains("add")) {
        (false, true) => "add",
        (false, false) => "sign",
        (true, true) => "add_again",
        (true, false) => "sign_again",
    }
}

fn journal_dir(project: &Project) -> PathBuf {
    project.path().join("target/llm-bench/journal")
}

/// The case ids of the answers written in the project's journals (complete lines only).
fn journaled_cases(project: &Project) -> Vec<String> {
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(journal_dir(project))
        .into_iter()
        .flatten()
    {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        for line in text.split_inclusive('\n').skip(1) {
            if let Ok(entry) = serde_json::from_str::<Value>(line) {
                cases.push(entry["case"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
    cases
}

/// The newest JSON report of the project.
fn last_report(project: &Project) -> Value {
    let reports: Vec<PathBuf> = project
        .reports()
        .into_iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    let newest = reports
        .iter()
        .max_by_key(|path| std::fs::metadata(path).unwrap().modified().unwrap())
        .expect("a JSON report");
    serde_json::from_str(&std::fs::read_to_string(newest).unwrap()).unwrap()
}

/// A report without what differs between two runs of the same answers: when it was written,
/// and every timing and speed.
fn without_timings(report: &Value) -> Value {
    fn is_timing(key: &str) -> bool {
        key == "created"
            || key == "metrics"
            || key.ends_with("_ms")
            || key.contains("per_second")
            || key.contains("ttft")
            || key.contains("tps")
            || key.contains("elapsed")
            || key.contains("duration")
            || key.contains("load_time")
            || key.contains("throughput")
    }
    match report {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, _)| !is_timing(key))
                .map(|(key, value)| (key.clone(), without_timings(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_timings).collect()),
        other => other.clone(),
    }
}

fn count_by_case(prompts: &[String]) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for prompt in prompts {
        *counts.entry(case_of_prompt(prompt)).or_default() += 1;
    }
    counts
}

/// Starts a run, kills it with `signal` once two answers are journaled, resumes it, and checks
/// the resumed report against an uninterrupted run's and the requests the server saw.
fn kill_halfway_and_resume(signal: Signal) {
    let server = ollama_server(Duration::from_millis(600));
    let project = project_for(&server, &suite(ADD_TESTS));
    let mut child = project
        .command(&RUN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while journaled_cases(&project).len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no answer journaled"
        );
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();
    let killed = child.wait_with_output().unwrap();
    let expected_code = if signal == Signal::SIGKILL {
        None
    } else {
        Some(143)
    };
    assert_eq!(
        killed.status.code(),
        expected_code,
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );
    let journaled = journaled_cases(&project);
    assert!(
        journaled.len() >= 2 && journaled.len() < 4,
        "killed halfway: {journaled:?}"
    );
    let asked_before = asked(&server);

    let resumed = run(&project, &["--resume"]);
    assert_eq!(resumed.status.code(), Some(0), "{}", explain(&resumed));
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(stderr.contains("resuming the run journaled in"), "{stderr}");

    // What was journaled was never asked again; everything else was asked exactly once.
    let asked_after = asked(&server)[asked_before.len()..].to_vec();
    let expected: BTreeMap<&str, usize> = ["add", "sign", "add_again", "sign_again"]
        .into_iter()
        .filter(|case| !journaled.iter().any(|journaled| journaled == case))
        .map(|case| (case, 1))
        .collect();
    assert_eq!(count_by_case(&asked_after), expected, "asked on resume");
    let first_run = count_by_case(&asked_before);
    for case in &journaled {
        assert_eq!(first_run.get(case.as_str()), Some(&1), "{first_run:?}");
    }
    // A finished run leaves no journal behind.
    assert!(
        journaled_cases(&project).is_empty(),
        "the finished run's journal was kept"
    );

    let uninterrupted_server = ollama_server(Duration::ZERO);
    let uninterrupted = project_for(&uninterrupted_server, &suite(ADD_TESTS));
    let output = run(&uninterrupted, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    let resumed_report = last_report(&project);
    assert_eq!(resumed_report["complete"], true);
    assert_eq!(resumed_report["summary"]["passed"], 4, "{resumed_report:#}");
    assert_eq!(
        without_timings(&resumed_report),
        without_timings(&last_report(&uninterrupted))
    );
}

#[test]
fn a_run_killed_with_sigkill_resumes_to_the_same_report_asking_each_attempt_once() {
    kill_halfway_and_resume(Signal::SIGKILL);
}

#[test]
fn a_run_stopped_with_sigterm_resumes_to_the_same_report_asking_each_attempt_once() {
    kill_halfway_and_resume(Signal::SIGTERM);
}

fn cached_flags(report: &Value) -> Vec<bool> {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|case| case["attempts"].as_array().unwrap())
        .map(|attempt| attempt["cached"].as_bool().unwrap())
        .collect()
}

fn cache_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(cache_files(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn rescoring_from_the_cache_needs_no_server_and_a_request_the_cache_lacks_names_why() {
    let server = ollama_server(Duration::ZERO);
    let project = project_for(&server, &suite(ADD_TESTS));
    let first = run(&project, &[]);
    assert_eq!(first.status.code(), Some(0), "{}", explain(&first));
    drop(server);

    // The server is gone: a changed hidden test is scored from the cache alone.
    let failing = ADD_TESTS.replace("add(2, 3), 5", "add(2, 3), 6");
    project.write("suite.yaml", suite(&failing));
    let rescored = run(&project, &[]);
    assert_eq!(rescored.status.code(), Some(0), "{}", explain(&rescored));
    let report = last_report(&project);
    assert_eq!(cached_flags(&report), vec![true; 4]);
    assert_eq!(report["summary"]["passed"], 2, "{report:#}");

    // A changed prompt needs the model: the run stops it with the reason prepare met.
    project.write(
        "suite.yaml",
        suite(ADD_TESTS).replace("Once more: write `pub fn add", "Again: write `pub fn add"),
    );
    let reworded = run(&project, &[]);
    assert_eq!(reworded.status.code(), Some(3), "{}", explain(&reworded));
    let stderr = String::from_utf8_lossy(&reworded.stderr);
    assert!(stderr.contains("stopped"), "{stderr}");
}

#[test]
fn rescoring_after_a_hidden_test_changes_asks_nothing_while_no_cache_and_a_new_prompt_ask_again() {
    let server = ollama_server(Duration::ZERO);
    let project = project_for(&server, &suite(ADD_TESTS));
    let first = run(&project, &["--resume"]);
    assert_eq!(first.status.code(), Some(0), "{}", explain(&first));
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        stderr.contains("--resume found no unfinished run"),
        "{stderr}"
    );
    assert_eq!(asked(&server).len(), 4);
    let first_report = last_report(&project);
    assert_eq!(cached_flags(&first_report), vec![false; 4]);

    // A hidden test that the answer now fails: scored again, asked nothing.
    let failing = ADD_TESTS.replace("add(2, 3), 5", "add(2, 3), 6");
    project.write("suite.yaml", suite(&failing));
    let rescored = run(&project, &[]);
    assert_eq!(asked(&server).len(), 4, "{}", explain(&rescored));
    let report = last_report(&project);
    assert_eq!(report["summary"]["passed"], 2, "{report:#}");
    assert_eq!(cached_flags(&report), vec![true; 4]);
    // The cached answer keeps the metrics it was first measured with.
    let rate = |report: &Value| {
        report["cases"][0]["attempts"][0]["metrics"]["decode_tokens_per_second"].clone()
    };
    assert!(rate(&first_report).as_f64().is_some_and(|rate| rate > 0.0));
    assert_eq!(rate(&report), rate(&first_report));

    let fresh = run(&project, &["--no-cache"]);
    assert_eq!(asked(&server).len(), 8, "{}", explain(&fresh));
    assert_eq!(cached_flags(&last_report(&project)), vec![false; 4]);

    // A changed prompt is a new request.
    project.write(
        "suite.yaml",
        suite(ADD_TESTS).replace("Once more: write `pub fn add", "Again: write `pub fn add"),
    );
    let reworded = run(&project, &[]);
    assert_eq!(reworded.status.code(), Some(0), "{}", explain(&reworded));
    assert_eq!(asked(&server).len(), 9);
}

#[test]
fn a_corrupt_cache_entry_is_a_miss_and_asked_again() {
    let server = ollama_server(Duration::ZERO);
    let project = project_for(&server, &suite(ADD_TESTS));
    let first = run(&project, &[]);
    assert_eq!(first.status.code(), Some(0), "{}", explain(&first));
    let entries = cache_files(&project.path().join("target/llm-bench/cache"));
    assert_eq!(entries.len(), 4, "{entries:?}");
    std::fs::write(&entries[0], "{\"format\": 1, \"key\": \"trunc").unwrap();
    std::fs::write(&entries[1], "").unwrap();

    let second = run(&project, &[]);
    assert_eq!(second.status.code(), Some(0), "{}", explain(&second));
    assert_eq!(asked(&server).len(), 6);
    let flags = cached_flags(&last_report(&project));
    assert_eq!(
        flags.iter().filter(|cached| **cached).count(),
        2,
        "{flags:?}"
    );
}
