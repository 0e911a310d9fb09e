//! The only module that knows clap: flags, and their resolution with the config file and
//! built-in defaults into one `Settings` value.

mod config;
mod settings;

pub use config::{Config, ProviderProfile};
pub use settings::{CaseOverrides, ModelsSettings, OutputFormat, Settings};

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
    Run(RunArgs),
    /// Run every case's reference answer through all stages: prove a suite is sound.
    Validate(ValidateArgs),
    /// List the models a provider offers, with parameter size, quantization and context length.
    Models(ModelsArgs),
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
    /// Wall-clock limit per stage, overriding the suites' `timeout` (e.g. 30s, 2m) [config: timeout].
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
    /// Answers per case and model, for pass@k [config: samples; default: 1].
    #[arg(long, value_name = "N")]
    pub samples: Option<u32>,
    /// Exit 1 when any model's mean score is below this (0..=1) [config: min-score].
    #[arg(long, value_name = "SCORE")]
    pub min_score: Option<f64>,
    /// Folder for the JSON and CSV reports [config: output; default: logs/benchmarks].
    #[arg(long, short = 'o', value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Repair attempts after a failed answer, overriding the suites' `repairs` [config: repairs].
    #[arg(long, value_name = "N")]
    pub repairs: Option<u32>,
    /// Sampling temperature, overriding the suites' [config: temperature].
    #[arg(long, value_name = "T")]
    pub temperature: Option<f64>,
    /// Most tokens per answer, overriding the suites' [config: max-tokens].
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<u32>,
    /// Sampling seed, overriding the suites' [config: seed].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Line coverage needed to pass the coverage stage (0..=1), overriding the suites' [config: coverage].
    #[arg(long, value_name = "FRACTION")]
    pub coverage: Option<f64>,
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
