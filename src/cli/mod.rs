//! The only module that knows clap: flags, and their resolution with the config file and
//! built-in defaults into one `Settings` value.

mod config;
pub mod save;
mod settings;

pub use config::{Config, ProviderProfile};
pub use settings::{
    AcceptSettings, Candidates, GateSettings, GenerateSettings, InitSettings, MergeSettings,
    ModelsSettings, OptimizeSettings, OutputFormat, OutputSettings, Settings,
};

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "cargo-llm-bench",
    bin_name = "cargo llm-bench",
    version,
    about = "Benchmark which LLM writes Rust that actually works",
    long_about = "Benchmark which LLM writes Rust that actually works.\n\nReads YAML suites of prompts with hidden tests, asks each model for code, and puts every answer through format, compile, test and coverage stages in sandboxed scratch cargo projects. Without a subcommand, `run` is assumed.",
    args_conflicts_with_subcommands = true,
    after_help = "Exit codes: 0 success, 1 a gate failed, 2 bad input, 3 a provider could not be used, 101 internal error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run suites × models × samples through the pipeline; write reports and gate on scores.
    #[command(visible_alias = "benchmark")]
    Run(Box<RunArgs>),
    /// Run every case's reference answer through all stages: prove a suite is sound.
    Validate(ValidateArgs),
    /// List the models a provider offers, with parameter size, quantization and context length.
    Models(ModelsArgs),
    /// Compare two reports of one model case by case: what was fixed, what broke, and whether
    /// the change is significant.
    Compare(CompareArgs),
    /// Join the reports of `--partition` shares into the report an unsharded run would write.
    Merge(MergeArgs),
    /// Accept pending snapshots (`.snap.new` → `.snap`), for users without cargo-insta.
    Accept(AcceptArgs),
    /// Find the best model for this machine: run the suites on every candidate, rank them by
    /// measured correctness, speed and size, and recommend one.
    Optimize(Box<OptimizeArgs>),
    /// `optimize` over every model of the local Ollama server.
    OptimizeOllama(Box<OptimizeArgs>),
    /// Write code for a prompt with a model, verified by format, compile and tests with repairs.
    Generate(Box<GenerateArgs>),
    /// Write a commented starter config and a small suite into the current cargo project.
    Init(InitArgs),
}

#[derive(Debug, Args, Default)]
pub struct OptimizeArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Candidates: every model of the local Ollama server of this family or name prefix
    /// (e.g. `qwen2.5-coder`).
    #[arg(long, value_name = "NAME")]
    pub family: Option<String>,
    /// Candidates: every model the provider or profile lists (repeatable).
    #[arg(long, value_name = "PROVIDER")]
    pub profile: Vec<String>,
    /// Recommend the smallest, then fastest, model whose pass rate reaches X (0..=1).
    #[arg(long, value_name = "X")]
    pub target_score: Option<f64>,
    /// Recommend the best model whose generation takes at most this long per case (e.g. 20s).
    #[arg(long, value_name = "DURATION")]
    pub max_seconds_per_case: Option<String>,
    /// Write the recommended model into the project's config as `model = "…"`.
    #[arg(long)]
    pub save: bool,
    /// Write the HTML report here too (one is always written next to the JSON reports).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Args, Default)]
pub struct GenerateArgs {
    /// What to write.
    #[arg(long, value_name = "TEXT", conflicts_with = "prompt_file")]
    pub prompt: Option<String>,
    /// What to write, read from a file.
    #[arg(long, value_name = "FILE")]
    pub prompt_file: Option<PathBuf>,
    /// Rust tests the code must pass (`#[test]` functions, or a `mod tests`).
    #[arg(long, value_name = "FILE")]
    pub tests: Option<PathBuf>,
    /// Where to write the code [default: stdout].
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The model, as PROVIDER:MODEL [config: model, as `optimize --save` writes it].
    #[arg(long, short = 'm', value_name = "SPEC")]
    pub model: Option<String>,
    /// Repair attempts after a failed answer [default: 3].
    #[arg(long, value_name = "N")]
    pub repairs: Option<u32>,
    /// Write the code even when it failed a stage (a warning names the stage).
    #[arg(long)]
    pub force: bool,
    /// Sampling temperature [config: temperature].
    #[arg(long, value_name = "T")]
    pub temperature: Option<String>,
    /// Most tokens per answer [config: max-tokens].
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<String>,
    /// Wall-clock limit per stage: seconds, or 30s, 2m [config: timeout].
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// How generated code is confined [config: sandbox; default: auto].
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub sandbox: Option<SandboxArg>,
}

#[derive(Debug, Args, Default)]
pub struct InitArgs {
    /// Overwrite the starter files if they exist.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Path to the Cargo.toml of the project to benchmark in [default: found from the current directory].
    #[arg(long, global = true, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Never draw progress bars (they are also hidden when stderr is not a terminal).
    #[arg(long, global = true)]
    pub no_progress: bool,
}

/// Flags shared by every command that scores answers.
#[derive(Debug, Args, Default)]
pub struct ScoringArgs {
    /// Suite files or globs (repeatable) [config: suites; default: suites/*.yaml].
    #[arg(long = "suite", short = 's', value_name = "GLOB")]
    pub suites: Vec<String>,
    /// Parallel builds and test processes [config: jobs; default: number of cores].
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
    /// Wall-clock limit per stage, overriding the suites' `timeout`: seconds, or 30s, 2m
    /// [config: timeout].
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Output for machines or people [config: format].
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// How generated code is confined: bubblewrap when it works here, else `unshare` with a
    /// warning (`auto`); `none` only when asked for [config: sandbox; default: auto].
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub sandbox: Option<SandboxArg>,
    /// Leave the scratch workspaces and test folders under target/llm-bench for inspection.
    #[arg(long)]
    pub keep_scratch: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SandboxArg {
    /// bubblewrap when available, else unshare with a warning.
    Auto,
    /// bubblewrap, or fail.
    Bwrap,
    /// Namespaces the kernel allows, no private filesystem view.
    Unshare,
    /// Resource limits only: generated code sees the machine.
    None,
}

#[derive(Debug, Args, Default)]
pub struct RunArgs {
    #[command(flatten)]
    pub scoring: ScoringArgs,
    /// Models as PROVIDER:MODEL, `reference` or `replay:DIR` (repeatable) [config: models].
    #[arg(long = "model", short = 'm', value_name = "SPEC")]
    pub models: Vec<String>,
    /// Answers per case and model, for pass@k, overriding the suites' `samples` [config:
    /// samples; default: 1].
    #[arg(long, value_name = "N")]
    pub samples: Option<String>,
    /// Exit 1 when any model's mean score is below this (0..=1) [config: min-score].
    #[arg(long, value_name = "SCORE")]
    pub min_score: Option<f64>,
    /// Folder for the JSON and CSV reports [config: output; default: logs/benchmarks].
    #[arg(long, short = 'o', value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Repair attempts after a failed answer, overriding the suites' `repairs` [config: repairs].
    #[arg(long, value_name = "N")]
    pub repairs: Option<String>,
    /// Sampling temperature, overriding the suites' [config: temperature].
    #[arg(long, value_name = "T")]
    pub temperature: Option<String>,
    /// Most tokens per answer, overriding the suites' [config: max-tokens].
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<String>,
    /// Sampling seed, overriding the suites' [config: seed].
    #[arg(long, value_name = "N")]
    pub seed: Option<String>,
    /// Line coverage needed to pass the coverage stage (0..=1), overriding the suites' [config: coverage].
    #[arg(long, value_name = "FRACTION")]
    pub coverage: Option<String>,
    /// Exit 1 when a model's pass rate at a stage is below X, e.g. `test=0.8` (repeatable)
    /// [config: min-pass-rate].
    #[arg(long, value_name = "STAGE=X")]
    pub min_pass_rate: Vec<String>,
    /// Exit 1 when a model needs more repairs than this per valid run, on average [config: max-repairs].
    #[arg(long, value_name = "N")]
    pub max_repairs: Option<f64>,
    /// Exit 1 when a model's median time to first token is longer (e.g. 2s) [config: max-ttft].
    #[arg(long, value_name = "DURATION")]
    pub max_ttft: Option<String>,
    /// Exit 1 when a model's median decode speed is below this many tokens per second [config: min-tps].
    #[arg(long, value_name = "TOKENS")]
    pub min_tps: Option<f64>,
    /// Exit 1 when a model has more invalid runs than this [config: max-invalid].
    #[arg(long, value_name = "N")]
    pub max_invalid: Option<usize>,
    /// A report of an earlier run to compare each model with (repeatable: one per model) [config: baseline].
    #[arg(long, value_name = "FILE")]
    pub baseline: Vec<PathBuf>,
    /// Exit 1 when a model is significantly worse than its baseline [config: fail-on-regression].
    #[arg(long)]
    pub fail_on_regression: bool,
    /// Significance level of the regression test [config: significance; default: 0.05].
    #[arg(long, value_name = "ALPHA")]
    pub significance: Option<f64>,
    /// Write one insta snapshot per suite and model under snapshots/; exit 1 when one changed
    /// [config: snapshot].
    #[arg(long)]
    pub snapshot: bool,
    /// Write a JUnit XML file: one test case per suite case and model [config: junit].
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a Markdown summary (for $GITHUB_STEP_SUMMARY) [config: summary].
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Ask the models again instead of reusing cached answers [config: cache = false].
    #[arg(long)]
    pub no_cache: bool,
    /// Go on with the last interrupted run of the same suites, models and settings.
    #[arg(long)]
    pub resume: bool,
    /// Run one deterministic share of the work, e.g. `slice:1/4`; join shares with `merge`.
    #[arg(long, value_name = "slice:M/N")]
    pub partition: Option<String>,
    /// Show more: the top rustc error codes of each model, every failure.
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

#[derive(Debug, Args, Default)]
pub struct CompareArgs {
    /// The earlier report (JSON).
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The later report (JSON).
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// Significance level of the test [default: 0.05].
    #[arg(long, value_name = "ALPHA")]
    pub significance: Option<f64>,
    /// Exit 1 when NEW is significantly worse than OLD.
    #[arg(long)]
    pub fail_on_regression: bool,
    /// Output for machines or people.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
}

#[derive(Debug, Args, Default)]
pub struct MergeArgs {
    /// The shares' JSON reports (every share of every model).
    #[arg(value_name = "REPORT", required = true)]
    pub reports: Vec<PathBuf>,
    /// Folder for the merged JSON and CSV reports [default: logs/benchmarks].
    #[arg(long, short = 'o', value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Output for machines or people.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
}

#[derive(Debug, Args, Default)]
pub struct AcceptArgs {
    /// The snapshot folder [default: snapshots/ at the workspace root].
    #[arg(long, value_name = "DIR")]
    pub snapshots: Option<PathBuf>,
}

#[derive(Debug, Args, Default)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub scoring: ScoringArgs,
}

#[derive(Debug, Args, Default)]
pub struct ModelsArgs {
    /// A built-in provider (`ollama`, `ollama-cloud`, `gemini`, `openai`) or a profile of the
    /// config [default: every profile of the config, else `ollama`].
    #[arg(value_name = "PROVIDER")]
    pub providers: Vec<String>,
    /// Output for machines or people [config: format].
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormatArg {
    /// A table for people.
    Table,
    /// JSON on stdout for machines.
    Json,
}

/// Parses the command line; `cargo llm-bench` passes `llm-bench` as the first argument.
pub fn parse<I: IntoIterator<Item = std::ffi::OsString>>(args: I) -> Result<Cli, clap::Error> {
    let mut args: Vec<std::ffi::OsString> = args.into_iter().collect();
    if args.get(1).is_some_and(|arg| arg == "llm-bench") {
        args.remove(1);
    }
    Cli::try_parse_from(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(line: &str) -> Cli {
        parse(line.split_whitespace().map(Into::into)).unwrap()
    }

    #[test]
    fn cargo_passes_the_subcommand_name_first() {
        let cli = parse_line("cargo-llm-bench llm-bench validate --suite a.yaml");
        assert!(matches!(cli.command, Some(Command::Validate(_))));
    }

    #[test]
    fn run_is_the_default_command() {
        let cli = parse_line("cargo-llm-bench llm-bench --model reference --min-score 0.9");
        assert!(cli.command.is_none());
        assert_eq!(cli.run.models, ["reference"]);
        assert_eq!(cli.run.min_score, Some(0.9));
    }

    #[test]
    fn models_takes_provider_names() {
        let cli = parse_line("cargo-llm-bench llm-bench models ollama local --format json");
        let Some(Command::Models(args)) = cli.command else {
            panic!("not the models command");
        };
        assert_eq!(args.providers, ["ollama", "local"]);
        assert_eq!(args.format, Some(FormatArg::Json));
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
