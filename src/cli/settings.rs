//! Flags + config + built-in defaults → one `Settings` value, resolved once.
//!
//! Flags and config are destructured field by field, so a new flag that is not resolved here
//! does not compile.

use super::config::{self, Config};
use super::{
    AcceptArgs, FormatArg, GlobalArgs, ModelsArgs, RunArgs, SandboxArg, ScoringArgs, ValidateArgs,
};
use crate::error::bad_input;
use crate::partition::Partition;
use crate::provider::{ModelSpec, ProviderProfile};
use crate::sandbox::SandboxRequest;
use crate::score::Weights;
use crate::suite::{CaseSettings, Stage};
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
}

/// Settings that override every case's own (flags over config; both over the suites).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaseOverrides {
    pub repairs: Option<u32>,
    pub timeout: Option<Duration>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    pub seed: Option<u64>,
    pub coverage: Option<f64>,
}

impl CaseOverrides {
    pub fn apply(&self, settings: &mut CaseSettings) {
        let CaseOverrides {
            repairs,
            timeout,
            temperature,
            max_tokens,
            seed,
            coverage,
        } = self;
        if let Some(repairs) = repairs {
            settings.repairs = *repairs;
        }
        if let Some(timeout) = timeout {
            settings.timeout = *timeout;
        }
        if let Some(temperature) = temperature {
            settings.temperature = *temperature;
        }
        if let Some(max_tokens) = max_tokens {
            settings.max_tokens = *max_tokens;
        }
        if let Some(seed) = seed {
            settings.seed = Some(*seed);
        }
        if let Some(coverage) = coverage {
            settings.coverage = *coverage;
        }
    }
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
    pub samples: u32,
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
    pub overrides: CaseOverrides,
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

fn parse_duration(text: &str, what: &str) -> anyhow::Result<Duration> {
    let duration = humantime::parse_duration(text).map_err(|error| {
        bad_input(
            anyhow::anyhow!("{what}: `{text}` is not a duration: {error}"),
            Some("write it like `30s` or `2m`".to_owned()),
        )
    })?;
    if duration.is_zero() || duration > crate::suite::MAX_TIMEOUT {
        return Err(bad_input(
            anyhow::anyhow!("{what}: must be longer than zero and at most 24h"),
            None,
        ));
    }
    Ok(duration)
}

/// `STAGE=X`, as `--min-pass-rate` takes it.
fn parse_stage_rate(text: &str) -> anyhow::Result<(Stage, f64)> {
    let invalid = || {
        bad_input(
            anyhow::anyhow!("--min-pass-rate: `{text}` is not STAGE=X"),
            Some("write it like `test=0.8`; stages: format, compile, test, coverage".to_owned()),
        )
    };
    let (stage, rate) = text.split_once('=').ok_or_else(invalid)?;
    let stage = Stage::from_name(stage.trim()).ok_or_else(invalid)?;
    let rate: f64 = rate.trim().parse().map_err(|_| invalid())?;
    let rate = check_fraction(Some(rate), "--min-pass-rate")?.unwrap_or(rate);
    Ok((stage, rate))
}

fn check_non_negative(value: Option<f64>, what: &str) -> anyhow::Result<Option<f64>> {
    match value {
        Some(value) if !value.is_finite() || value < 0.0 => Err(bad_input(
            anyhow::anyhow!("{what}: {value} must be a number of at least 0"),
            None,
        )),
        other => Ok(other),
    }
}

fn check_fraction(value: Option<f64>, what: &str) -> anyhow::Result<Option<f64>> {
    match value {
        Some(value) if !(0.0..=1.0).contains(&value) => Err(bad_input(
            anyhow::anyhow!("{what}: {value} is not between 0 and 1"),
            None,
        )),
        other => Ok(other),
    }
}

impl Settings {
    pub fn for_run(global: &GlobalArgs, args: RunArgs) -> anyhow::Result<Settings> {
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
            samples: config_samples,
            min_score: config_min_score,
            output: config_output,
            repairs: config_repairs,
            temperature: config_temperature,
            max_tokens: config_max_tokens,
            seed: config_seed,
            coverage: config_coverage,
            weights,
            providers,
            sandbox: _,
            suites: _,
            jobs: _,
            format: _,
            timeout: _,
        } = config;
        let model_texts = if models.is_empty() {
            config_models.unwrap_or_default()
        } else {
            models
        };
        if model_texts.is_empty() {
            return Err(bad_input(
                anyhow::anyhow!("no model to benchmark"),
                Some(
                    "pass --model (e.g. `--model reference`) or set `models` in the config"
                        .to_owned(),
                ),
            ));
        }
        for text in &model_texts {
            let model = ModelSpec::parse(text)
                .map_err(|message| bad_input(anyhow::anyhow!("--model: {message}"), None))?;
            // The same model named twice runs once.
            if !settings.models.contains(&model) {
                settings.models.push(model);
            }
        }
        settings.profiles = providers;
        settings.samples = samples.or(config_samples).unwrap_or(1);
        if settings.samples == 0 {
            return Err(bad_input(
                anyhow::anyhow!("--samples: must be at least 1"),
                None,
            ));
        }
        settings.gates = GateSettings {
            min_score: check_fraction(min_score.or(config_min_score), "--min-score")?,
            min_pass_rate: min_pass_rate
                .iter()
                .map(|text| parse_stage_rate(text))
                .collect::<anyhow::Result<_>>()?,
            max_repairs: check_non_negative(max_repairs, "--max-repairs")?,
            max_ttft: match max_ttft {
                Some(text) => Some(parse_duration(&text, "--max-ttft")?),
                None => None,
            },
            min_tps: check_non_negative(min_tps, "--min-tps")?,
            max_invalid,
        };
        settings.outputs = OutputSettings {
            baseline,
            fail_on_regression,
            significance: check_fraction(significance, "--significance")?.unwrap_or(0.05),
            snapshot,
            junit,
            summary,
            verbose,
        };
        settings.cache = !no_cache;
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
        settings.overrides.repairs = repairs.or(config_repairs);
        settings.overrides.temperature = temperature.or(config_temperature);
        if settings
            .overrides
            .temperature
            .is_some_and(|t| !(0.0..=2.0).contains(&t))
        {
            return Err(bad_input(
                anyhow::anyhow!("--temperature: must be between 0 and 2"),
                None,
            ));
        }
        settings.overrides.max_tokens = max_tokens.or(config_max_tokens);
        settings.overrides.seed = seed.or(config_seed);
        settings.overrides.coverage = check_fraction(coverage.or(config_coverage), "--coverage")?;
        settings.weights = weights.unwrap_or_default();
        let weights = settings.weights;
        let all = [
            weights.format,
            weights.compile,
            weights.test,
            weights.coverage,
        ];
        if all.iter().any(|w| !w.is_finite() || *w < 0.0) || all.iter().sum::<f64>() <= 0.0 {
            return Err(bad_input(
                anyhow::anyhow!("weights: each must be a number of at least 0, with a sum above 0"),
                None,
            ));
        }
        Ok(settings)
    }

    pub fn for_validate(global: &GlobalArgs, args: ValidateArgs) -> anyhow::Result<Settings> {
        let ValidateArgs { scoring } = args;
        let (mut settings, _) = Settings::base(global, scoring)?;
        // A reference is scored as given: one sample, no repairs.
        settings.models = vec![ModelSpec::parse("reference").expect("`reference` is a valid spec")];
        settings.overrides.repairs = Some(0);
        Ok(settings)
    }

    /// What every command shares: the workspace, the config, suites, jobs, timeout, format.
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
        let timeout = match timeout.or(config.timeout.clone()) {
            Some(text) => Some(parse_duration(&text, "--timeout")?),
            None => None,
        };
        let jobs = jobs
            .or(config.jobs)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
        if jobs == 0 {
            return Err(bad_input(
                anyhow::anyhow!("--jobs: must be at least 1"),
                None,
            ));
        }
        let format = match format.or(config.format) {
            Some(FormatArg::Json) => OutputFormat::Json,
            Some(FormatArg::Table) | None => OutputFormat::Table,
        };
        let settings = Settings {
            scratch_dir: workspace.target_dir.join("llm-bench"),
            workspace_root: workspace.root,
            suites: suite_paths,
            models: Vec::new(),
            samples: 1,
            jobs,
            gates: GateSettings::default(),
            output: PathBuf::new(),
            outputs: OutputSettings::default(),
            cache: true,
            resume: false,
            partition: None,
            format,
            overrides: CaseOverrides {
                timeout,
                ..CaseOverrides::default()
            },
            weights: Weights::default(),
            progress: !no_progress,
            sandbox: match sandbox.or(config.sandbox) {
                Some(SandboxArg::Auto) | None => SandboxRequest::Auto,
                Some(SandboxArg::Bwrap) => SandboxRequest::Bwrap,
                Some(SandboxArg::Unshare) => SandboxRequest::Unshare,
                Some(SandboxArg::None) => SandboxRequest::None,
            },
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
