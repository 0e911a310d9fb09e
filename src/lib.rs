//! `cargo llm-bench`: which LLM writes Rust that actually works.
//!
//! See ARCHITECTURE.md for how the modules fit together.

pub mod cli;
pub mod commands;
pub mod compare;
pub mod error;
pub mod gate;
pub mod journal;
pub mod optimize;
pub mod partition;
pub mod pipeline;
pub mod provider;
pub mod report;
pub mod runner;
pub mod sandbox;
pub mod score;
pub mod suite;
pub mod summary;
pub mod ui;

use std::process::ExitCode;

/// The whole program: parse, dispatch, render errors, pick the exit code.
pub fn main() -> ExitCode {
    let cli = match cli::parse(std::env::args_os()) {
        Ok(cli) => cli,
        // clap prints help and version to stdout (exit 0) and usage errors to stderr (exit 2).
        Err(error) => error.exit(),
    };
    if let Err(error) = sandbox::watch_interrupts() {
        eprintln!("warning: cannot watch for Ctrl-C ({error}); an interrupted run may leave processes behind");
    }
    let result = match cli.command {
        Some(cli::Command::Validate(args)) => cli::Settings::for_validate(&cli.global, args)
            .and_then(|settings| commands::validate::validate(&settings)),
        Some(cli::Command::Models(args)) => cli::ModelsSettings::resolve(&cli.global, args)
            .and_then(|settings| commands::models::models(&settings)),
        Some(cli::Command::Run(args)) => cli::Settings::for_run(&cli.global, *args)
            .and_then(|settings| commands::run::run(&settings)),
        Some(cli::Command::Merge(args)) => cli::MergeSettings::resolve(&cli.global, args)
            .and_then(|settings| commands::merge::merge(&settings)),
        Some(cli::Command::Accept(args)) => cli::AcceptSettings::resolve(&cli.global, args)
            .and_then(|settings| commands::accept::accept(&settings)),
        Some(cli::Command::Compare(args)) => commands::compare::compare(&args),
        Some(cli::Command::Init(args)) => cli::InitSettings::resolve(&cli.global, args)
            .and_then(|settings| commands::init::init(&settings.workspace_root, settings.force)),
        Some(cli::Command::Optimize(args)) => {
            cli::OptimizeSettings::resolve(&cli.global, *args, false)
                .and_then(|settings| commands::optimize::optimize(&settings))
        }
        Some(cli::Command::OptimizeOllama(args)) => {
            cli::OptimizeSettings::resolve(&cli.global, *args, true)
                .and_then(|settings| commands::optimize::optimize(&settings))
        }
        Some(cli::Command::Generate(args)) => cli::GenerateSettings::resolve(&cli.global, *args)
            .and_then(|settings| commands::generate::generate(&settings)),
        None => cli::Settings::for_run(&cli.global, cli.run)
            .and_then(|settings| commands::run::run(&settings)),
    };
    // However the run unwound, an interrupted run ends as the signal says (130, 143).
    if let Some(interrupted) = sandbox::interruption() {
        eprintln!("error: {interrupted}");
        return ExitCode::from(interrupted.exit_code());
    }
    let kind = match result {
        Ok(commands::Outcome(kind)) => kind,
        Err(error) => {
            let (kind, text) = error::render(&error);
            eprint!("{text}");
            kind
        }
    };
    ExitCode::from(kind as u8)
}
