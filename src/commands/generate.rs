//! `cargo llm-bench generate`: one prompt → code that passed format, compile and the given tests
//! in the sandbox, repaired as `run` repairs, written only when it passed (or with `--force`).
//!
//! The prompt becomes an in-memory suite of one chat case, so the answer goes through exactly
//! the runner, pipeline and sandbox that `run` scores with. The written file is the code with
//! the given tests after it, so `cargo test` in the user's project runs them too.

use super::Outcome;
use crate::cli::GenerateSettings;
use crate::error::ExitKind;
use crate::pipeline::{StageDetail, StageOutcome};
use crate::provider::GenerationEnd;
use crate::runner::{self, Attempt, CaseRun, Contestant, Event, ModelRun, Plan, RunError};
use crate::sandbox::{Sandbox, SandboxOptions};
use crate::score::Weights;
use crate::suite::{Case, CaseSettings, Mode, Stage, Suite};
use anyhow::Context;
use std::path::{Path, PathBuf};

/// The suite and case names of the one conversation, as events and errors show them.
const SUITE_NAME: &str = "generate";
const CASE_ID: &str = "generate";
/// The module the given tests go in when the file gives bare `#[test]` functions; another name
/// is used when the code already declares a module of this name.
const TESTS_MODULE: &str = "tests";
const TESTS_MODULE_FALLBACK: &str = "given_tests";

pub fn generate(settings: &GenerateSettings) -> anyhow::Result<Outcome> {
    let suites = [one_case_suite(settings)];
    let provider = super::connect_model(&settings.model, &settings.profiles)?;
    let contestants = [Contestant {
        model: settings.model.clone(),
        provider,
    }];
    let sandbox = open_sandbox(settings)?;
    let plan = Plan {
        suites: &suites,
        weights: Weights::default(),
        partition: None,
    };
    eprintln!(
        "asking {} (up to {} repair(s); stages {})",
        settings.model,
        suites[0].cases[0].settings.repairs,
        stage_names(&suites[0].cases[0].settings.stages)
    );
    let runs = runner::run(&sandbox, &plan, &contestants, &print_attempt)
        .map_err(|RunError::Scoring(error)| super::scoring_error(error, &suites))?;
    let model_run = runs
        .into_iter()
        .next()
        .context("the runner returned no run for the model")?;
    finish(settings, &model_run, &suites[0].cases[0].tests)
}

/// Prints each scored attempt as one line on stderr; the other events need no words here.
fn print_attempt(event: Event) {
    match event {
        Event::AttemptScored { attempt, .. } => eprintln!("{}", attempt_line(attempt)),
        Event::Retrying { wait, .. } => {
            eprintln!("the provider asked to wait; retrying in {wait:.1?}")
        }
        _ => {}
    }
}

/// The conversation's outcome → the written code, the metrics, the exit code.
fn finish(
    settings: &GenerateSettings,
    model_run: &ModelRun,
    tests: &str,
) -> anyhow::Result<Outcome> {
    let conversation = model_run.cases.first();
    let last = conversation.and_then(CaseRun::last);
    if let Some(conversation) =
        conversation.filter(|conversation| !conversation.attempts.is_empty())
    {
        eprintln!("{}", summary_line(conversation, model_run));
    }
    let provider_failure = conversation
        .and_then(|conversation| conversation.provider_error.as_ref())
        .map(|failure| failure.reason.clone())
        .or_else(|| model_run.stopped.clone());
    if let Some(reason) = provider_failure {
        eprintln!("error: {} failed at the provider: {reason}", settings.model);
        if let Some(last) = last.filter(|last| settings.force && !last.code.trim().is_empty()) {
            write_code(
                settings,
                &with_tests(&last.code, tests),
                Some(failure_name(last)),
            )?;
        } else {
            eprintln!("nothing written");
        }
        return Ok(Outcome(ExitKind::ProviderUnavailable));
    }
    let Some(last) = last else {
        eprintln!("error: {} gave no answer; nothing written", settings.model);
        return Ok(Outcome(ExitKind::ProviderUnavailable));
    };
    if last.passed {
        write_code(settings, &with_tests(&last.code, tests), None)?;
        return Ok(Outcome(ExitKind::Success));
    }
    let stage_name = failure_name(last);
    if let Some(outcome) = last.stages.iter().find(|outcome| !outcome.passed) {
        eprintln!(
            "the {stage_name} stage said:\n{}",
            indent(&outcome.diagnostics)
        );
    }
    if let Some(why) = cut_short(&last.end) {
        eprintln!("the answer was cut short: {why}");
    }
    if settings.force && !last.code.trim().is_empty() {
        write_code(settings, &with_tests(&last.code, tests), Some(stage_name))?;
    } else if settings.force {
        eprintln!("error: the last answer held no code; nothing written");
    } else {
        eprintln!(
            "error: the last answer failed the {stage_name} stage; nothing written (--force writes it anyway)"
        );
    }
    Ok(Outcome(ExitKind::GateFailed))
}

/// The prompt as one chat case: format → compile, and test when tests are given; one sample,
/// no coverage. The given tests are shown to the model, since they are the user's own and say
/// what the code must be called and do.
fn one_case_suite(settings: &GenerateSettings) -> Suite {
    let mut case_settings = CaseSettings::default();
    settings.overrides.apply(&mut case_settings);
    case_settings.mode = Mode::Chat;
    case_settings.samples = 1;
    case_settings.stages = match settings.tests {
        Some(_) => vec![Stage::Format, Stage::Compile, Stage::Test],
        None => vec![Stage::Format, Stage::Compile],
    };
    let tests = settings.tests.clone().unwrap_or_default();
    let prompt = if tests.trim().is_empty() {
        settings.prompt.clone()
    } else {
        format!(
            "{}\n\nThe code must pass these tests, which are added after it (do not repeat them):\n```rust\n{}\n```",
            settings.prompt.trim_end(),
            tests.trim_end()
        )
    };
    Suite {
        name: SUITE_NAME.to_owned(),
        description: None,
        path: PathBuf::from("<generate>"),
        hash: String::new(),
        cases: vec![Case {
            id: CASE_ID.to_owned(),
            prompt,
            reference: String::new(),
            tests,
            tags: Vec::new(),
            settings: case_settings,
        }],
    }
}

fn open_sandbox(settings: &GenerateSettings) -> anyhow::Result<Sandbox> {
    super::open_sandbox(
        &settings.scratch_dir,
        SandboxOptions {
            jobs: settings.jobs,
            request: settings.sandbox,
            keep_scratch: false,
        },
    )
}

/// The code with the given tests after it, so `cargo test` in the user's project runs them:
/// bare `#[test]` functions go in a `#[cfg(test)]` module that sees the code; a file with its
/// own module is appended as written. A module name the code already uses (a model's own
/// `mod tests`) would clash, so then the tests go one module down, where the code is still in
/// reach through `use super::*` (as the sandbox nests hidden tests).
fn with_tests(code: &str, tests: &str) -> String {
    let code = code.trim_end();
    let tests = tests.trim();
    if tests.is_empty() {
        return format!("{code}\n");
    }
    let code_modules = module_names(code);
    let tests_modules = module_names(tests);
    if !tests_modules.is_empty() && !tests_modules.iter().any(|name| code_modules.contains(name)) {
        return format!("{code}\n\n{tests}\n");
    }
    let module = if code_modules.contains(&TESTS_MODULE) {
        TESTS_MODULE_FALLBACK
    } else {
        TESTS_MODULE
    };
    let body: String = tests
        .lines()
        .map(|line| {
            if line.is_empty() {
                "\n".to_owned()
            } else {
                format!("    {line}\n")
            }
        })
        .collect();
    format!("{code}\n\n#[cfg(test)]\nmod {module} {{\n    use super::*;\n\n{body}}}\n")
}

/// The names of the modules a file declares (`mod tests {`, `pub mod x;`), at any depth: a
/// line-level look, enough to tell whether two files would clash.
fn module_names(source: &str) -> Vec<&str> {
    source
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = line
                .strip_prefix("pub(crate) ")
                .or_else(|| line.strip_prefix("pub "))
                .unwrap_or(line);
            let rest = line.strip_prefix("mod ")?.trim_start();
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let after = rest[end..].trim_start();
            (end > 0 && (after.starts_with('{') || after.starts_with(';') || after.is_empty()))
                .then(|| &rest[..end])
        })
        .collect()
}

/// Writes the code to `--out` atomically, or to stdout; `failed` names the stage a forced
/// write failed.
fn write_code(settings: &GenerateSettings, code: &str, failed: Option<&str>) -> anyhow::Result<()> {
    if let Some(stage) = failed {
        eprintln!("warning: --force: writing code that failed the {stage} stage");
    }
    match &settings.out {
        Some(path) => {
            let replaced = path.exists();
            crate::report::write_replacing(path, code.as_bytes())
                .with_context(|| format!("cannot write the code to {}", path.display()))?;
            eprintln!(
                "{} {} ({} lines)",
                if replaced { "replaced" } else { "wrote" },
                shown(path).display(),
                code.lines().count()
            );
        }
        None => {
            print!("{code}");
            eprintln!("wrote the code to stdout");
        }
    }
    Ok(())
}

/// A path relative to the current folder when it is below it.
fn shown(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_owned))
        .unwrap_or_else(|| path.to_owned())
}

/// The first stage the attempt failed; None when it passed every stage it ran, or had no code
/// to run them on.
fn failed_stage(attempt: &Attempt) -> Option<Stage> {
    attempt
        .stages
        .iter()
        .find(|outcome| !outcome.passed)
        .map(|outcome| outcome.stage)
}

/// Why an answer did not finish on its own, and what may help; None when it did.
fn cut_short(end: &GenerationEnd) -> Option<&'static str> {
    match end {
        GenerationEnd::Finished => None,
        GenerationEnd::MaxTokens => {
            Some("it reached the token limit; a larger --max-tokens may help")
        }
        GenerationEnd::PromptTruncated { .. } => {
            Some("the server cut the prompt to its context window; give the model a larger one")
        }
        GenerationEnd::ThinkingExhausted => {
            Some("thinking used every token; a larger --max-tokens may help")
        }
    }
}

/// What a failed attempt failed: its first failing stage, or the extraction of code from the
/// answer when no stage ran.
fn failure_name(attempt: &Attempt) -> &'static str {
    failed_stage(attempt).map_or("extraction", Stage::name)
}

/// `attempt 1: failed compile (E0308) · TTFT 0.41s · 35.2 tok/s · 120 tokens · 3.1s`
fn attempt_line(attempt: &Attempt) -> String {
    let number = attempt.key.attempt + 1;
    let verdict = if attempt.passed {
        "passed".to_owned()
    } else {
        match attempt.stages.iter().find(|outcome| !outcome.passed) {
            Some(outcome) => format!("failed {}", failure_detail(outcome)),
            None if attempt.code.trim().is_empty() => "failed: no code in the answer".to_owned(),
            None => "failed".to_owned(),
        }
    };
    let metrics = &attempt.metrics;
    let mut parts = vec![format!("attempt {number}: {verdict}")];
    if let Some(ttft) = metrics.ttft {
        parts.push(format!("TTFT {:.2}s", ttft.as_secs_f64()));
    }
    if let Some(speed) = metrics.decode_tokens_per_second {
        parts.push(format!("{speed:.1} tok/s"));
    }
    if let Some(tokens) = metrics.completion_tokens {
        parts.push(format!("{tokens} tokens"));
    }
    let scoring: f64 = attempt
        .stages
        .iter()
        .map(|outcome| outcome.elapsed.as_secs_f64())
        .sum();
    parts.push(format!(
        "generated in {:.1}s, checked in {scoring:.1}s",
        metrics.generation_time.as_secs_f64()
    ));
    parts.join(" · ")
}

/// The stage, with rustc's error codes or the failing test count when there are.
fn failure_detail(outcome: &StageOutcome) -> String {
    let stage = outcome.stage.name();
    match &outcome.detail {
        StageDetail::Compile { error_codes, .. } if !error_codes.is_empty() => {
            format!("{stage} ({})", error_codes.join(", "))
        }
        StageDetail::Test { passed, total } if *total > 0 => {
            format!(
                "{stage} ({} of {total} tests failed)",
                total.saturating_sub(*passed)
            )
        }
        _ => stage.to_owned(),
    }
}

/// `2 attempts (1 repair) in 9.3s: passed`
fn summary_line(conversation: &CaseRun, model_run: &ModelRun) -> String {
    let attempts = conversation.attempts.len();
    let repairs = conversation.repairs();
    let verdict = if conversation.passed() {
        "passed every stage".to_owned()
    } else {
        match conversation.last().and_then(failed_stage) {
            Some(stage) => format!("the last answer failed the {} stage", stage.name()),
            None => "no passing answer".to_owned(),
        }
    };
    format!(
        "{attempts} attempt(s) ({repairs} repair(s)) in {:.1}s: {verdict}",
        model_run.elapsed.as_secs_f64()
    )
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("  {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn stage_names(stages: &[Stage]) -> String {
    stages
        .iter()
        .map(|stage| stage.name())
        .collect::<Vec<_>>()
        .join(" → ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_test_functions_are_wrapped_in_a_test_module_that_sees_the_code() {
        let written = with_tests(
            "pub fn add(a: i32, b: i32) -> i32 { a + b }\n",
            "#[test]\nfn adds() {\n    assert_eq!(add(1, 2), 3);\n}\n",
        );
        assert_eq!(
            written,
            "pub fn add(a: i32, b: i32) -> i32 { a + b }\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn adds() {\n        assert_eq!(add(1, 2), 3);\n    }\n}\n"
        );
    }

    #[test]
    fn tests_that_bring_their_own_module_are_appended_as_written() {
        let tests =
            "#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n    fn adds() {}\n}";
        assert_eq!(
            with_tests("pub fn add() {}", tests),
            format!("pub fn add() {{}}\n\n{tests}\n")
        );
    }

    #[test]
    fn wrapped_tests_take_another_name_when_the_code_has_a_tests_module() {
        let written = with_tests(
            "pub fn f() {}\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn own() {}\n}\n",
            "#[test]\nfn given() {}\n",
        );
        assert!(written.contains("mod given_tests {"), "{written}");
        assert_eq!(
            module_names("mod testsuite {}\npub mod a;\n// mod b\n"),
            ["testsuite", "a"]
        );
    }

    #[test]
    fn a_tests_module_whose_name_the_code_uses_goes_one_module_down() {
        let tests = "#[cfg(test)]\nmod tests {\n    use super::*;\n}";
        let written = with_tests("fn f() {}\nmod tests {}\n", tests);
        assert!(
            written.ends_with("mod given_tests {\n    use super::*;\n\n    #[cfg(test)]\n    mod tests {\n        use super::*;\n    }\n}\n"),
            "{written}"
        );
    }

    #[test]
    fn no_tests_leave_the_code_alone() {
        assert_eq!(with_tests("fn f() {}\n\n", ""), "fn f() {}\n");
    }
}
