//! Hostile answers through the real CLI: each is contained, fails with the reason it was
//! stopped, and leaves no secret, no host file's content and no process behind.

#[path = "support/project.rs"]
mod project;

use project::Project;
use serde_json::Value;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Values of the provider keys in the tool's environment for the run; none may leak.
const SECRETS: &[(&str, &str)] = &[
    ("OPENAI_API_KEY", "sk-leak-marker-openai-5d1c"),
    ("GEMINI_API_KEY", "leak-marker-gemini-77a0"),
    ("OLLAMA_API_KEY", "leak-marker-ollama-c3e9"),
];

/// A host file the answers try to read at compile time and at run time.
const HOST_SECRET_FILE: &str = "/var/tmp/llm-bench-host-secret.txt";
const HOST_SECRET: &str = "host-file-marker-9f2b41";

/// Files the `write-outside` answer tries to create.
const ESCAPES: &[&str] = &[
    "/var/tmp/llm-bench-escaped.txt",
    "/tmp/llm-bench-escaped.txt",
    "/var/tmp/llm-bench-escaped-relative.txt",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The recorded answers, copied so the network answer can be told the listener's port.
fn replay_with_port(dir: &Path, port: u16) -> PathBuf {
    let source = fixtures().join("replay/hostile-sandbox");
    let target = dir.join("replay/hostile-sandbox");
    for entry in std::fs::read_dir(&source).unwrap() {
        let case = entry.unwrap().path();
        let name = case.file_name().unwrap();
        std::fs::create_dir_all(target.join(name)).unwrap();
        let answer = std::fs::read_to_string(case.join("0-0.md")).unwrap();
        std::fs::write(
            target.join(name).join("0-0.md"),
            answer.replace("LISTENER_PORT", &port.to_string()),
        )
        .unwrap();
    }
    dir.join("replay")
}

fn last_stage(report: &Value, id: &str) -> (String, bool, String) {
    let case = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|case| case["case"] == id)
        .unwrap_or_else(|| panic!("no case {id}"));
    let stage = case["attempts"][0]["stages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap();
    (
        stage["stage"].as_str().unwrap().to_owned(),
        stage["passed"].as_bool().unwrap(),
        stage["diagnostics"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Every file under `dir` that holds `needle`, binary files included.
fn files_holding(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_symlink() {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else if std::fs::read(&path)
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
            {
                found.push(path);
            }
        }
    }
    found
}

fn processes_matching(pattern: &str) -> String {
    let output = Command::new("pgrep")
        .args(["-a", "-f", pattern])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn hostile_answers_are_contained_and_fail_with_the_reason_they_were_stopped() {
    let project = Project::new();
    for escape in ESCAPES {
        let _ = std::fs::remove_file(escape);
    }
    std::fs::write(HOST_SECRET_FILE, HOST_SECRET).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let replay = replay_with_port(project.path(), listener.local_addr().unwrap().port());
    let suite = fixtures().join("suites/hostile-sandbox.yaml");
    let started = std::time::Instant::now();
    let output = project.run_with_env(
        &[
            "--suite",
            &suite.display().to_string(),
            "--model",
            &format!("replay:{}", replay.display()),
            "--format",
            "json",
            "--no-progress",
            "--jobs",
            "2",
        ],
        SECRETS,
    );
    eprintln!("the hostile suite took {:?}", started.elapsed());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|error| panic!("{error}\nstdout: {stdout}\nstderr: {stderr}"));
    let report = &report[0];

    let expectations: &[(&str, &str, &str)] = &[
        ("fork-storm", "test", "process limit"),
        ("infinite-loop", "test", "timeout"),
        ("sleep-forever", "test", "timeout"),
        ("allocate-8-gib", "test", "memory limit"),
        ("write-10-gib", "test", "file size limit"),
        ("print-200-mb", "test", "output limit"),
        ("connect-to-listener", "test", "network denied"),
        ("setsid-orphan", "test", "timeout"),
        ("include-host-file", "compile", "couldn't read"),
        (
            "compile-error-passwd",
            "compile",
            "couldn't read `/etc/passwd`",
        ),
        (
            "shadow-assert-macro",
            "test",
            "assertion `left == right` failed",
        ),
        (
            "shadow-assert-import",
            "test",
            "assertion `left == right` failed",
        ),
        ("forge-report", "test", "FAILED"),
        ("print-environment", "test", "FAILED"),
        ("read-home", "test", "FAILED"),
        ("write-outside", "test", "FAILED"),
    ];
    for (id, stage, reason) in expectations {
        let (last, passed, diagnostics) = last_stage(report, id);
        assert!(!passed, "{id} must fail: {diagnostics}");
        assert_eq!(&last, stage, "{id}: {diagnostics}");
        assert!(
            diagnostics.contains(reason),
            "{id} must say `{reason}`: {diagnostics}"
        );
    }

    match listener.accept() {
        Err(error) if error.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the listener on 127.0.0.1 was reached: {other:?}"),
    }
    for escape in ESCAPES {
        assert!(!Path::new(escape).exists(), "an answer wrote {escape}");
    }
    let mut leaks: Vec<String> = SECRETS
        .iter()
        .map(|(_, value)| *value)
        .chain([HOST_SECRET, "root:x:0:0"])
        .flat_map(|needle| {
            let mut found = files_holding(project.path(), needle);
            if stdout.contains(needle) || stderr.contains(needle) {
                found.push(PathBuf::from("<the tool's output>"));
            }
            found
                .into_iter()
                .map(move |path| format!("{needle} in {}", path.display()))
        })
        .collect();
    leaks.sort();
    assert!(leaks.is_empty(), "leaked: {leaks:#?}");
    for pattern in ["sleep 987654", "sleep 613.5"] {
        let left = processes_matching(pattern);
        assert!(left.is_empty(), "left running: {left}");
    }
    let _ = std::fs::remove_file(HOST_SECRET_FILE);
}
