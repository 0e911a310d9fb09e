//! Commands wire the layers together; the only layer that prints.

pub mod accept;
pub mod compare;
pub mod generate;
pub mod init;
pub mod merge;
pub mod models;
pub mod optimize;
pub mod run;
pub mod validate;

use crate::cli::Settings;
use crate::error::{bad_input, provider_unavailable, ExitKind};
use crate::provider::{self, ModelSpec, Provider, ProviderProfile};
use crate::sandbox::{Sandbox, SandboxOptions, UnresolvedDependencies};
use crate::suite::{self, Overrides, Suite};
use anyhow::Context;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Loads every suite, reporting the problems of all of them before giving up; the layers above
/// the suites (config, flags) are laid over every case here, and only here.
fn load_suites(settings: &Settings, overrides: &Overrides) -> anyhow::Result<Vec<Suite>> {
    let mut suites = Vec::new();
    let mut problems = Vec::new();
    for path in &settings.suites {
        match suite::load(path) {
            Ok(mut loaded) => {
                for case in &mut loaded.cases {
                    overrides.apply(&mut case.settings);
                }
                suites.push(loaded);
            }
            Err(error) => problems.push(error.to_string()),
        }
    }
    if !problems.is_empty() {
        return Err(bad_input(
            anyhow::anyhow!("{}", problems.join("\n")),
            Some(
                "fix the suite files; every problem is listed above with file:line:column"
                    .to_owned(),
            ),
        ));
    }
    let mut names: Vec<&str> = suites.iter().map(|suite| suite.name.as_str()).collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(bad_input(
            anyhow::anyhow!("two suites are named `{}`", pair[0]),
            Some("give each suite a distinct `suite:` name".to_owned()),
        ));
    }
    Ok(suites)
}

/// The most samples any case asks for: what a report's `samples` says, and the largest k of
/// pass@k.
fn most_samples(suites: &[Suite]) -> u32 {
    suites
        .iter()
        .flat_map(|suite| &suite.cases)
        .map(|case| case.settings.samples)
        .max()
        .unwrap_or(1)
}

/// The provider that answers for `model`; one that cannot be built (an unknown provider, a
/// missing replay folder) is the provider's failure, exit 3.
fn connect_model(
    model: &ModelSpec,
    profiles: &BTreeMap<String, ProviderProfile>,
) -> anyhow::Result<Provider> {
    provider::connect(model, profiles).map_err(|error| {
        provider_unavailable(
            anyhow::anyhow!("model {model} cannot be used: {error}"),
            None,
        )
    })
}

/// Every case's reference answer, keyed by (suite, case id), for the `reference` provider.
fn reference_answers(suites: &[Suite]) -> HashMap<(String, String), String> {
    suites
        .iter()
        .flat_map(|suite| {
            suite.cases.iter().map(|case| {
                (
                    (suite.name.clone(), case.id.clone()),
                    case.reference.clone(),
                )
            })
        })
        .collect()
}

fn sandbox(settings: &Settings) -> anyhow::Result<Sandbox> {
    open_sandbox(
        &settings.scratch_dir,
        SandboxOptions {
            jobs: settings.jobs,
            request: settings.sandbox,
            keep_scratch: settings.keep_scratch,
        },
    )
}

/// The sandbox over `scratch_dir`, after saying why it is weaker than asked, if it is.
fn open_sandbox(scratch_dir: &Path, options: SandboxOptions) -> anyhow::Result<Sandbox> {
    let sandbox = Sandbox::open_with(scratch_dir, options)
        .with_context(|| format!("cannot open the scratch folder {}", scratch_dir.display()))?;
    if let Some(warning) = sandbox.warning() {
        eprintln!("warning: {warning}");
    }
    Ok(sandbox)
}

/// A scoring error that is the suites' fault, not any model's: a dependency that cannot be
/// fetched is bad input naming the suite files that ask for it.
fn scoring_error(error: anyhow::Error, suites: &[Suite]) -> anyhow::Error {
    let Some(unresolved) = error.downcast_ref::<UnresolvedDependencies>() else {
        return error;
    };
    let names: Vec<&str> = unresolved
        .dependencies
        .iter()
        .map(|dependency| dependency.split(" = ").next().unwrap_or(dependency))
        .collect();
    let files: Vec<String> = suites
        .iter()
        .filter(|suite| {
            suite.cases.iter().any(|case| {
                case.settings
                    .dependencies
                    .keys()
                    .any(|name| names.contains(&name.as_str()))
            })
        })
        .map(|suite| suite.path.display().to_string())
        .collect();
    bad_input(
        anyhow::anyhow!(
            "the dependencies of {} cannot be fetched from crates.io ({}):\n{}",
            files.join(", "),
            unresolved.dependencies.join(", "),
            unresolved.cargo_says
        ),
        Some(
            "fix the suite's `dependencies`: each must be a crate and version on crates.io"
                .to_owned(),
        ),
    )
}

/// What a finished command tells `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome(pub ExitKind);
