//! Flags + config + built-in defaults → one `Settings` value, resolved once.
//!
//! Flags and config are destructured field by field, so a new flag that is not resolved here
//! does not compile. Every value goes through the same check whether it comes from a flag or
//! the config; case settings go through the suites' own (`suite::setting`).

use super::config::{self, Config};
use super::{
    AcceptArgs, FormatArg, GenerateArgs, GlobalArgs, InitArgs, MergeArgs, ModelsArgs, OptimizeArgs,
    RunArgs, SandboxArg, ScoringArgs, ValidateArgs,
};
use crate::error::bad_input;
use crate::partition::Partition;
use crate::provider::{ModelSpec, ProviderProfile};
use crate::sandbox::SandboxRequest;
use crate::score::Weights;
use crate::suite::setting::{self, Problem, Scalar};
use crate::suite::{Overrides, Stage};
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
}

/// Bars every model must clear, or the run exits 1 naming the model and the gate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GateSettings {
    /// Mean score over valid runs.
    pub min_score: Option<f64>,
    /// Pass rate at a stage, over valid runs whose case has the stage.
    pub min_pass_rate: Vec<(Stage, f64)>,
    /// Repairs per valid run, on average.
    pub max_repairs: Option<f64>,
    /// Median time to first token.
    pub max_ttft: Option<Duration>,
    /// Median decode speed, tokens per second.
    pub min_tps: Option<f64>,
    /// Invalid runs, counted.
    pub max_invalid: Option<usize>,
}

/// What `run` writes besides the reports, and what it compares against.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutputSettings {
    /// Reports of earlier runs, one per model, to compare with.
    pub baseline: Vec<PathBuf>,
    pub fail_on_regression: bool,
    /// Significance level of the regression test.
    pub significance: f64,
    /// Write insta snapshots under `snapshots/` and fail when one changed.
    pub snapshot: bool,
    pub junit: Option<PathBuf>,
    /// Markdown summary for `$GITHUB_STEP_SUMMARY`.
    pub summary: Option<PathBuf>,
    /// Show the top rustc error codes and every failure.
    pub verbose: bool,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub workspace_root: PathBuf,
    /// `target/llm-bench` of the workspace: scratch crates, builds and test runs.
    pub scratch_dir: PathBuf,
    pub suites: Vec<PathBuf>,
    pub models: Vec<ModelSpec>,
    pub jobs: usize,
    pub gates: GateSettings,
    pub output: PathBuf,
    pub outputs: OutputSettings,
    /// Reuse answers cached on disk (`--no-cache` turns it off).
    pub cache: bool,
    /// Go on with the last interrupted run of the same work.
    pub resume: bool,
    /// Run only this share of the work.
    pub partition: Option<Partition>,
    pub format: OutputFormat,
    /// Case settings the config and the flags set for every case (`samples` among them), laid
    /// over each case's own when suites load.
    pub overrides: Overrides,
    pub weights: Weights,
    pub progress: bool,
    pub sandbox: SandboxRequest,
    pub keep_scratch: bool,
    /// The config's `[providers.NAME]` tables.
    pub profiles: BTreeMap<String, ProviderProfile>,
}

/// What `models` needs: which providers to ask, their profiles, and the output format.
#[derive(Debug, Clone)]
pub struct ModelsSettings {
    pub providers: Vec<String>,
    pub profiles: BTreeMap<String, ProviderProfile>,
    pub format: OutputFormat,
}

impl ModelsSettings {
    pub fn resolve(global: &GlobalArgs, args: ModelsArgs) -> anyhow::Result<ModelsSettings> {
        let ModelsArgs { providers, format } = args;
        let GlobalArgs {
            manifest_path,
            no_progress: _,
        } = global;
        let workspace = find_workspace(manifest_path.as_deref())?;
        let config = config::load(&workspace.root, &workspace.manifests)?;
        let providers = if !providers.is_empty() {
            providers
        } else if !config.providers.is_empty() {
            config.providers.keys().cloned().collect()
        } else {
            vec!["ollama".to_owned()]
        };
        let format = match format.or(config.format) {
            Some(FormatArg::Json) => OutputFormat::Json,
            Some(FormatArg::Table) | None => OutputFormat::Table,
        };
        Ok(ModelsSettings {
            providers,
            profiles: config.providers,
            format,
        })
    }
}

/// What `merge` needs: the shares' reports, where the merged ones go, and the output format.
#[derive(Debug, Clone)]
pub struct MergeSettings {
    pub reports: Vec<PathBuf>,
    pub output: PathBuf,
    pub format: OutputFormat,
}

impl MergeSettings {
    pub fn resolve(global: &GlobalArgs, args: MergeArgs) -> anyhow::Result<MergeSettings> {
        let MergeArgs {
            reports,
            output,
            format,
        } = args;
        let GlobalArgs {
            manifest_path,
            no_progress: _,
        } = global;
        let workspace = find_workspace(manifest_path.as_deref())?;
        let config = config::load(&workspace.root, &workspace.manifests)?;
        // The same folder `run` writes to, so merged reports sit where unsharded ones would.
        let output = match output {
            Some(dir) => dir,
            None => workspace.root.join(
                config
                    .output
                    .unwrap_or_else(|| PathBuf::from("logs/benchmarks")),
            ),
        };
        let format = match format.or(config.format) {
            Some(FormatArg::Json) => OutputFormat::Json,
            Some(FormatArg::Table) | None => OutputFormat::Table,
        };
        Ok(MergeSettings {
            reports,
            output,
            format,
        })
    }
}

/// What `init` needs: where the project is, and whether to overwrite.
#[derive(Debug, Clone)]
pub struct InitSettings {
    pub workspace_root: PathBuf,
    pub force: bool,
}

impl InitSettings {
    pub fn resolve(global: &GlobalArgs, args: InitArgs) -> anyhow::Result<InitSettings> {
        let InitArgs { force } = args;
        let GlobalArgs {
            manifest_path,
            no_progress: _,
        } = global;
        Ok(InitSettings {
            workspace_root: find_workspace(manifest_path.as_deref())?.root,
            force,
        })
    }
}

/// What `accept` needs: the folder of the snapshots.
#[derive(Debug, Clone)]
pub struct AcceptSettings {
    pub snapshots: PathBuf,
}

impl AcceptSettings {
    pub fn resolve(global: &GlobalArgs, args: AcceptArgs) -> anyhow::Result<AcceptSettings> {
        let AcceptArgs { snapshots } = args;
        let GlobalArgs {
            manifest_path,
            no_progress: _,
        } = global;
        let snapshots = match snapshots {
            Some(dir) => dir,
            None => find_workspace(manifest_path.as_deref())?
                .root
                .join(crate::report::snapshot::SNAPSHOT_DIR),
        };
        Ok(AcceptSettings { snapshots })
    }
}

/// Where `optimize` finds its candidates, besides the run's `--model` list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Candidates {
    /// Every model of the local Ollama server whose family or name starts with this.
    pub family: Option<String>,
    /// Every model each of these providers or profiles lists.
    pub profiles: Vec<String>,
}

/// What `optimize` needs: a run's settings for every candidate, where candidates come from,
/// the policy that picks one, and where the recommendation and the HTML report go.
#[derive(Debug, Clone)]
pub struct OptimizeSettings {
    /// `models` holds the `--model` candidates (or the config's, when nothing else names any).
    pub run: Settings,
    pub candidates: Candidates,
    pub policy: crate::optimize::Policy,
    /// Where `--save` writes `model = "…"`; None without `--save`.
    pub save: Option<super::save::ConfigPlace>,
    pub html: Option<PathBuf>,
}

impl OptimizeSettings {
    /// `optimize`: every flag of `run`, resolved as `run` resolves it, plus the candidates and
    /// the policy. `ollama_models` (for `optimize-ollama`) adds the profile `ollama`.
    pub fn resolve(
        global: &GlobalArgs,
        args: OptimizeArgs,
        ollama_models: bool,
    ) -> anyhow::Result<OptimizeSettings> {
        let OptimizeArgs {
            run,
            family,
            mut profile,
            target_score,
            max_seconds_per_case,
            save,
            html,
        } = args;
        if ollama_models && !profile.iter().any(|name| name == "ollama") {
            profile.push("ollama".to_owned());
        }
        let candidates = Candidates {
            family,
            profiles: profile,
        };
        let model_source = if candidates.family.is_none() && candidates.profiles.is_empty() {
            ModelSource::FlagsOrConfig
        } else {
            ModelSource::FlagsOnly
        };
        // No candidate at all is found out by `optimize` once the listings are in.
        let settings = Settings::resolve_run(global, run, model_source)?;
        let policy = match (target_score, max_seconds_per_case) {
            (Some(_), Some(_)) => {
                return Err(bad_input(
                    anyhow::anyhow!("--target-score and --max-seconds-per-case are two policies"),
                    Some("pass one of them".to_owned()),
                ))
            }
            (Some(score), None) => crate::optimize::Policy::TargetScore(
                checked_number(Some(score), "target-score", setting::fraction)?.unwrap_or(score),
            ),
            (None, Some(text)) => crate::optimize::Policy::MaxSecondsPerCase(
                setting::duration(Scalar::from_flag(&text))
                    .map_err(|problem| bad_flag("max-seconds-per-case", problem))?
                    .as_secs_f64(),
            ),
            (None, None) => crate::optimize::Policy::BestScore,
        };
        let save = if save {
            let workspace = find_workspace(global.manifest_path.as_deref())?;
            Some(super::save::config_place(
                &workspace.root,
                &workspace.manifests,
            )?)
        } else {
            None
        };
        Ok(OptimizeSettings {
            run: settings,
            candidates,
            policy,
            save,
            html,
        })
    }
}

/// What `generate` needs: the model, what to ask, the tests the code must pass, where the code
/// goes, and the case settings its one conversation is held to.
#[derive(Debug, Clone)]
pub struct GenerateSettings {
    pub workspace_root: PathBuf,
    /// `target/llm-bench` of the workspace: the scratch crates the answers are built in.
    pub scratch_dir: PathBuf,
    pub model: ModelSpec,
    pub profiles: BTreeMap<String, ProviderProfile>,
    /// What to write, as given (`--prompt`) or read (`--prompt-file`).
    pub prompt: String,
    /// The Rust tests the code must pass, as read from `--tests`; None runs no test stage.
    pub tests: Option<String>,
    /// None writes the code to stdout.
    pub out: Option<PathBuf>,
    /// Write the code even when it failed a stage.
    pub force: bool,
    /// The config's case settings, then the flags' (`repairs`, `temperature`, `max-tokens`,
    /// `timeout`); `generate` itself sets the mode, stages and samples.
    pub overrides: Overrides,
    pub jobs: usize,
    pub sandbox: SandboxRequest,
}

/// Repairs `generate` allows when neither the flag nor the config says.
const GENERATE_REPAIRS: u32 = 3;

impl GenerateSettings {
    pub fn resolve(global: &GlobalArgs, args: GenerateArgs) -> anyhow::Result<GenerateSettings> {
        let GenerateArgs {
            prompt,
            prompt_file,
            tests,
            out,
            model,
            repairs,
            force,
            temperature,
            max_tokens,
            timeout,
            sandbox,
        } = args;
        let GlobalArgs {
            manifest_path,
            // `generate` prints each attempt as a line; it draws no bars.
            no_progress: _,
        } = global;
        let workspace = find_workspace(manifest_path.as_deref())?;
        let config = config::load(&workspace.root, &workspace.manifests)?;
        let model = match model {
            Some(text) => ModelSpec::parse(&text)
                .map_err(|message| bad_input(anyhow::anyhow!("--model: {message}"), None))?,
            None => config.model.clone().ok_or_else(|| {
                bad_input(
                    anyhow::anyhow!("no model to generate with"),
                    Some(
                        "pass --model PROVIDER:MODEL, or run `cargo llm-bench optimize --save` to save the best model of this machine as `model` in the config"
                            .to_owned(),
                    ),
                )
            })?,
        };
        if matches!(model.provider.as_str(), "reference" | "replay")
            && !config.providers.contains_key(&model.provider)
        {
            return Err(bad_input(
                anyhow::anyhow!(
                    "`{model}` cannot generate: it only answers the cases of a suite it already knows"
                ),
                Some("pass --model with a model that writes code, such as `ollama:qwen2.5-coder:7b`".to_owned()),
            ));
        }
        let prompt = match (prompt, prompt_file) {
            (Some(text), _) => text,
            (None, Some(path)) => read_input(&path, "prompt-file")?,
            (None, None) => {
                return Err(bad_input(
                    anyhow::anyhow!("nothing to generate"),
                    Some("pass --prompt TEXT or --prompt-file FILE".to_owned()),
                ))
            }
        };
        if prompt.trim().is_empty() {
            return Err(bad_input(
                anyhow::anyhow!("the prompt is empty"),
                Some("say what the code should do with --prompt or --prompt-file".to_owned()),
            ));
        }
        let tests = match tests {
            Some(path) => {
                let tests = read_input(&path, "tests")?;
                if tests.trim().is_empty() {
                    return Err(bad_input(
                        anyhow::anyhow!("--tests: {} is empty", path.display()),
                        Some("give it the `#[test]` functions the code must pass, or leave --tests out".to_owned()),
                    ));
                }
                Some(tests)
            }
            None => None,
        };
        if let Some(out) = &out {
            if out.is_dir() {
                return Err(bad_input(
                    anyhow::anyhow!("--out: {} is a folder", out.display()),
                    Some("pass the path of the Rust file to write".to_owned()),
                ));
            }
        }
        let mut overrides = config.case_settings.clone();
        set_case_flags(
            &mut overrides,
            &[
                ("repairs", Some(GENERATE_REPAIRS.to_string())),
                ("repairs", repairs.map(|repairs| repairs.to_string())),
                ("temperature", temperature),
                ("max-tokens", max_tokens),
                ("timeout", timeout),
            ],
        )?;
        let jobs = config
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
        Ok(GenerateSettings {
            scratch_dir: workspace.target_dir.join("llm-bench"),
            workspace_root: workspace.root,
            model,
            profiles: config.providers,
            prompt,
            tests,
            out,
            force,
            overrides,
            jobs,
            sandbox: sandbox_request(sandbox.or(config.sandbox)),
        })
    }
}

/// A file a flag names, read as text; a file that cannot be read is bad input naming the flag.
fn read_input(path: &Path, flag: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).map_err(|error| {
        bad_input(
            anyhow::anyhow!("--{flag}: cannot read {}: {error}", path.display()),
            None,
        )
    })
}

/// The cargo workspace the tool runs in.
#[derive(Debug, Clone)]
struct Workspace {
    root: PathBuf,
    target_dir: PathBuf,
    manifests: Vec<PathBuf>,
}

fn find_workspace(manifest_path: Option<&Path>) -> anyhow::Result<Workspace> {
    let mut command = cargo_metadata::MetadataCommand::new();
    command.no_deps();
    if let Some(path) = manifest_path {
        command.manifest_path(path);
    }
    match command.exec() {
        Ok(metadata) => {
            let root = PathBuf::from(metadata.workspace_root.as_std_path());
            let mut manifests: Vec<PathBuf> = Vec::new();
            // The package in the current directory first, then the workspace root.
            let cwd = std::env::current_dir()?;
            if let Some(package) = metadata.packages.iter().find(|p| {
                p.manifest_path
                    .parent()
                    .is_some_and(|dir| dir.as_std_path() == cwd)
            }) {
                manifests.push(package.manifest_path.clone().into());
            }
            manifests.push(root.join("Cargo.toml"));
            Ok(Workspace {
                target_dir: metadata.target_directory.into(),
                root,
                manifests,
            })
        }
        Err(error) => {
            let cwd = std::env::current_dir()?;
            let has_manifest = manifest_path.is_some()
                || cwd.ancestors().any(|dir| dir.join("Cargo.toml").is_file());
            if has_manifest {
                return Err(bad_input(
                    anyhow::anyhow!("cannot read the cargo project: {error}"),
                    Some("fix Cargo.toml, or run outside a cargo project".to_owned()),
                ));
            }
            // Outside any cargo project the current directory stands in for one.
            Ok(Workspace {
                target_dir: cwd.join("target"),
                root: cwd,
                manifests: Vec::new(),
            })
        }
    }
}

/// A flag's value that failed its check, naming the flag.
fn bad_flag(flag: &str, problem: Problem) -> anyhow::Error {
    bad_input(
        anyhow::anyhow!("--{flag}: {}", problem.message),
        problem.hint,
    )
}

/// Sets the case settings given as flags over `overrides`; flags are text, checked exactly as
/// the same key in a suite or the config is.
fn set_case_flags(
    overrides: &mut Overrides,
    flags: &[(&str, Option<String>)],
) -> anyhow::Result<()> {
    for (flag, text) in flags {
        let Some(text) = text else { continue };
        let setting = setting::overridable_setting(flag).ok_or_else(|| {
            anyhow::anyhow!("--{flag} is not a case setting that flags may override")
        })?;
        overrides
            .set(setting, Scalar::from_flag(text))
            .map_err(|problem| bad_flag(flag, problem))?;
    }
    Ok(())
}

/// `STAGE=X`, as `--min-pass-rate` takes it.
fn parse_stage_rate(text: &str) -> Result<(Stage, f64), Problem> {
    let (stage, rate) = text.split_once('=').ok_or_else(|| {
        Problem::hinted(
            format!("`{text}` is not STAGE=X"),
            "write it like `test=0.8`; stages: format, compile, test, coverage",
        )
    })?;
    let stage = setting::stage(stage.trim())?;
    let rate = setting::fraction(Scalar::from_flag(rate))?;
    Ok((stage, rate))
}

/// A number flag through the check its config twin goes through.
fn checked_number(
    value: Option<f64>,
    flag: &str,
    check: fn(Scalar) -> Result<f64, Problem>,
) -> anyhow::Result<Option<f64>> {
    value
        .map(|value| check(Scalar::Float(value)).map_err(|problem| bad_flag(flag, problem)))
        .transpose()
}

/// Which models a resolved run starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ModelSource {
    /// `--model`, else the config's `models`.
    FlagsOrConfig,
    /// `--model` only: `optimize` adds candidates from providers' listings.
    FlagsOnly,
}

impl Settings {
    pub fn for_run(global: &GlobalArgs, args: RunArgs) -> anyhow::Result<Settings> {
        let settings = Settings::resolve_run(global, args, ModelSource::FlagsOrConfig)?;
        if settings.models.is_empty() {
            return Err(bad_input(
                anyhow::anyhow!("no model to benchmark"),
                Some(
                    "pass --model (e.g. `--model reference`), or set `models` (or the `model` `optimize --save` writes) in the config"
                        .to_owned(),
                ),
            ));
        }
        Ok(settings)
    }

    fn resolve_run(
        global: &GlobalArgs,
        args: RunArgs,
        model_source: ModelSource,
    ) -> anyhow::Result<Settings> {
        let RunArgs {
            scoring,
            models,
            samples,
            min_score,
            output,
            repairs,
            temperature,
            max_tokens,
            seed,
            coverage,
            min_pass_rate,
            max_repairs,
            max_ttft,
            min_tps,
            max_invalid,
            baseline,
            fail_on_regression,
            significance,
            snapshot,
            junit,
            summary,
            no_cache,
            resume,
            partition,
            verbose,
        } = args;
        let (mut settings, config) = Settings::base(global, scoring)?;
        let Config {
            models: config_models,
            // The model `optimize --save` chose: what `run` benchmarks when nothing else is named.
            model: config_model,
            min_score: config_min_score,
            output: config_output,
            providers,
            min_pass_rate: config_min_pass_rate,
            max_repairs: config_max_repairs,
            max_ttft: config_max_ttft,
            min_tps: config_min_tps,
            max_invalid: config_max_invalid,
            baseline: config_baseline,
            fail_on_regression: config_fail_on_regression,
            significance: config_significance,
            snapshot: config_snapshot,
            junit: config_junit,
            summary: config_summary,
            cache: config_cache,
            // Resolved by `base`, for every command that scores.
            case_settings: _,
            weights: _,
            sandbox: _,
            suites: _,
            jobs: _,
            format: _,
        } = config;
        let model_texts = if models.is_empty() && model_source == ModelSource::FlagsOrConfig {
            config_models.unwrap_or_default()
        } else {
            models
        };
        for text in &model_texts {
            let model = ModelSpec::parse(text)
                .map_err(|message| bad_input(anyhow::anyhow!("--model: {message}"), None))?;
            // The same model named twice runs once.
            if !settings.models.contains(&model) {
                settings.models.push(model);
            }
        }
        if settings.models.is_empty() && model_source == ModelSource::FlagsOrConfig {
            settings.models.extend(config_model);
        }
        settings.profiles = providers;
        set_case_flags(
            &mut settings.overrides,
            &[
                ("samples", samples),
                ("repairs", repairs),
                ("temperature", temperature),
                ("max-tokens", max_tokens),
                ("seed", seed),
                ("coverage", coverage),
            ],
        )?;
        // A stage's bar from a flag replaces the config's bar for that stage.
        let mut pass_rates = config_min_pass_rate;
        for text in &min_pass_rate {
            let (stage, rate) =
                parse_stage_rate(text).map_err(|problem| bad_flag("min-pass-rate", problem))?;
            pass_rates.retain(|(known, _)| *known != stage);
            pass_rates.push((stage, rate));
        }
        settings.gates = GateSettings {
            min_score: checked_number(min_score, "min-score", setting::fraction)?
                .or(config_min_score),
            min_pass_rate: pass_rates,
            max_repairs: checked_number(max_repairs, "max-repairs", setting::non_negative)?
                .or(config_max_repairs),
            max_ttft: match max_ttft {
                Some(text) => Some(
                    setting::duration(Scalar::from_flag(&text))
                        .map_err(|problem| bad_flag("max-ttft", problem))?,
                ),
                None => config_max_ttft,
            },
            min_tps: checked_number(min_tps, "min-tps", setting::non_negative)?.or(config_min_tps),
            max_invalid: max_invalid.or(config_max_invalid),
        };
        settings.outputs = OutputSettings {
            baseline: if baseline.is_empty() {
                config_baseline
            } else {
                baseline
            },
            fail_on_regression: fail_on_regression || config_fail_on_regression == Some(true),
            significance: checked_number(significance, "significance", setting::significance)?
                .or(config_significance)
                .unwrap_or(crate::compare::DEFAULT_SIGNIFICANCE),
            snapshot: snapshot || config_snapshot == Some(true),
            junit: junit.or(config_junit),
            summary: summary.or(config_summary),
            verbose,
        };
        settings.cache = !no_cache && config_cache != Some(false);
        settings.resume = resume;
        settings.partition =
            match partition {
                Some(text) => Some(text.parse().map_err(|message| {
                    bad_input(anyhow::anyhow!("--partition: {message}"), None)
                })?),
                None => None,
            };
        settings.output = match output {
            Some(dir) => dir,
            None => settings
                .workspace_root
                .join(config_output.unwrap_or_else(|| PathBuf::from("logs/benchmarks"))),
        };
        Ok(settings)
    }

    /// `validate` scores each reference exactly as `run --model reference` would: the same
    /// config and flags, one sample and no repairs (a reference is scored as given).
    pub fn for_validate(global: &GlobalArgs, args: ValidateArgs) -> anyhow::Result<Settings> {
        let ValidateArgs { scoring } = args;
        let (mut settings, _) = Settings::base(global, scoring)?;
        settings.models = vec![ModelSpec::parse("reference")
            .map_err(|message| anyhow::anyhow!("the reference model: {message}"))?];
        set_case_flags(
            &mut settings.overrides,
            &[
                ("repairs", Some("0".to_owned())),
                ("samples", Some("1".to_owned())),
            ],
        )?;
        Ok(settings)
    }

    /// What every command that scores shares: the workspace, the config, suites, jobs, the
    /// case settings of the config and `--timeout`, weights, format.
    fn base(global: &GlobalArgs, scoring: ScoringArgs) -> anyhow::Result<(Settings, Config)> {
        let GlobalArgs {
            manifest_path,
            no_progress,
        } = global;
        let ScoringArgs {
            suites,
            jobs,
            timeout,
            format,
            sandbox,
            keep_scratch,
        } = scoring;
        let workspace = find_workspace(manifest_path.as_deref())?;
        let config = config::load(&workspace.root, &workspace.manifests)?;
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        let (patterns, base_dir) = if !suites.is_empty() {
            (suites, cwd.clone())
        } else if let Some(patterns) = config.suites.clone() {
            (patterns, workspace.root.clone())
        } else {
            (vec!["suites/*.yaml".to_owned()], workspace.root.clone())
        };
        let suite_paths = expand_suites(&patterns, &base_dir, &cwd)?;
        let mut overrides = config.case_settings.clone();
        set_case_flags(&mut overrides, &[("timeout", timeout)])?;
        let jobs = match jobs {
            Some(jobs) => config::jobs(Scalar::Int(i64::try_from(jobs).unwrap_or(i64::MAX)))
                .map_err(|problem| bad_flag("jobs", problem))?,
            None => config
                .jobs
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)),
        };
        let format = match format.or(config.format) {
            Some(FormatArg::Json) => OutputFormat::Json,
            Some(FormatArg::Table) | None => OutputFormat::Table,
        };
        let settings = Settings {
            scratch_dir: workspace.target_dir.join("llm-bench"),
            workspace_root: workspace.root,
            suites: suite_paths,
            models: Vec::new(),
            jobs,
            gates: GateSettings::default(),
            output: PathBuf::new(),
            outputs: OutputSettings::default(),
            cache: true,
            resume: false,
            partition: None,
            format,
            overrides,
            weights: config.weights.unwrap_or_default(),
            progress: !no_progress,
            sandbox: sandbox_request(sandbox.or(config.sandbox)),
            keep_scratch,
            profiles: BTreeMap::new(),
        };
        Ok((settings, config))
    }
}

/// Expands suite globs; a pattern that matches nothing is an error, not an empty run.
fn expand_suites(patterns: &[String], base_dir: &Path, cwd: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for pattern in patterns {
        let full = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            base_dir.join(pattern)
        };
        let matches: Vec<PathBuf> = glob::glob(&full.to_string_lossy())
            .map_err(|error| {
                bad_input(
                    anyhow::anyhow!("--suite: `{pattern}` is not a valid glob: {error}"),
                    None,
                )
            })?
            .filter_map(Result::ok)
            .filter(|path| path.is_file())
            .collect();
        if matches.is_empty() {
            return Err(bad_input(
                anyhow::anyhow!(
                    "no suite file matches `{pattern}` (looked in {})",
                    base_dir.display()
                ),
                Some("pass --suite PATH to a YAML suite, or set `suites` in the config".to_owned()),
            ));
        }
        for path in matches {
            // Shown relative to where the user stands, as they wrote it.
            let shown = path.strip_prefix(cwd).map(Path::to_owned).unwrap_or(path);
            if !paths.contains(&shown) {
                paths.push(shown);
            }
        }
    }
    Ok(paths)
}

/// The sandbox asked for by flag or config; `auto` when neither says.
fn sandbox_request(level: Option<SandboxArg>) -> SandboxRequest {
    match level {
        Some(SandboxArg::Auto) | None => SandboxRequest::Auto,
        Some(SandboxArg::Bwrap) => SandboxRequest::Bwrap,
        Some(SandboxArg::Unshare) => SandboxRequest::Unshare,
        Some(SandboxArg::None) => SandboxRequest::None,
    }
}
