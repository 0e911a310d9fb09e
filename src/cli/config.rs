//! The configuration file: `llm-bench.toml` at the workspace root, or the `llm-bench` table of
//! `[package.metadata]` or `[workspace.metadata]` in Cargo.toml (first found wins).
//!
//! The file is walked with its spans, as suites are, so every problem comes back at once with
//! file:line:column, its key and a "did you mean" for a typo. Values go through the same checks
//! as the flags they are twins of, and case settings through the suites' own.

use super::{FormatArg, SandboxArg};
use crate::provider::ModelSpec;
pub use crate::provider::ProviderProfile;
use crate::score::Weights;
use crate::suite::setting::{self, did_you_mean, Problem, Scalar};
use crate::suite::{Diagnostic, Overrides, Stage};
use clap::ValueEnum;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml_edit::{Item, TableLike, Value};

/// Every key the config may hold; case settings come on top (see `setting::CASE_SETTINGS`).
const KEYS: &[&str] = &[
    "suites",
    "models",
    "model",
    "jobs",
    "output",
    "format",
    "sandbox",
    "weights",
    "providers",
    "min-score",
    "min-pass-rate",
    "max-repairs",
    "max-ttft",
    "min-tps",
    "max-invalid",
    "baseline",
    "fail-on-regression",
    "significance",
    "snapshot",
    "junit",
    "summary",
    "cache",
];
const WEIGHT_KEYS: &[&str] = &["format", "compile", "test", "coverage"];

/// A checked config: each value is what its flag would give.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub suites: Option<Vec<String>>,
    pub models: Option<Vec<String>>,
    /// The model `generate` uses without `--model`, as `optimize --save` writes it.
    pub model: Option<ModelSpec>,
    pub jobs: Option<usize>,
    pub output: Option<PathBuf>,
    pub format: Option<FormatArg>,
    pub sandbox: Option<SandboxArg>,
    /// Case settings for every case (`repairs`, `timeout`, `samples`, …), over the suites'.
    pub case_settings: Overrides,
    pub weights: Option<Weights>,
    pub min_score: Option<f64>,
    pub min_pass_rate: Vec<(Stage, f64)>,
    pub max_repairs: Option<f64>,
    pub max_ttft: Option<Duration>,
    pub min_tps: Option<f64>,
    pub max_invalid: Option<usize>,
    pub baseline: Vec<PathBuf>,
    pub fail_on_regression: Option<bool>,
    pub significance: Option<f64>,
    pub snapshot: Option<bool>,
    pub junit: Option<PathBuf>,
    pub summary: Option<PathBuf>,
    pub cache: Option<bool>,
    /// Named provider profiles: `local:qwen2.5-coder-1.5b` uses the profile `local`.
    pub providers: BTreeMap<String, ProviderProfile>,
}

/// A config file with problems, each located.
#[derive(Debug, thiserror::Error)]
#[error("{}", crate::suite::render_diagnostics("config", path, diagnostics))]
pub struct ConfigError {
    pub path: PathBuf,
    pub diagnostics: Vec<Diagnostic>,
}

/// Finds and checks the config; a malformed one is an error listing every problem.
pub fn load(workspace_root: &Path, manifests: &[PathBuf]) -> anyhow::Result<Config> {
    let file = workspace_root.join("llm-bench.toml");
    if file.is_file() {
        let text = std::fs::read_to_string(&file)?;
        return Ok(read(&file, &text, &[])
            .map_err(bad_config)?
            .unwrap_or_default());
    }
    for manifest_path in manifests {
        let Ok(text) = std::fs::read_to_string(manifest_path) else {
            continue;
        };
        for holder in ["package", "workspace"] {
            let table_path = [holder, "metadata", "llm-bench"];
            if let Some(config) = read(manifest_path, &text, &table_path).map_err(bad_config)? {
                return Ok(config);
            }
        }
    }
    Ok(Config::default())
}

fn bad_config(error: ConfigError) -> anyhow::Error {
    crate::error::bad_input(
        anyhow::Error::new(error),
        Some("fix the config; every key is in the README's Configuration section".to_owned()),
    )
}

/// Checks the config held at `table_path` of the TOML text (the whole file when empty); None
/// when there is no such table.
pub fn read(path: &Path, text: &str, table_path: &[&str]) -> Result<Option<Config>, ConfigError> {
    let mut checker = Checker {
        text,
        diagnostics: Vec::new(),
    };
    let config = match toml_edit::ImDocument::parse(text) {
        Ok(document) => {
            let mut item = Some(document.as_item());
            for key in table_path {
                item = item.and_then(|item| item.get(key));
            }
            item.map(|item| checker.config(item))
        }
        Err(error) => {
            // toml_edit's message spans lines ("invalid array\nexpected `]`"); one line reads
            // better after the location.
            let message: Vec<&str> = error.message().lines().map(str::trim).collect();
            checker.report_with_source(error.span(), "", message.join(": "));
            None
        }
    };
    if checker.diagnostics.is_empty() {
        Ok(config)
    } else {
        checker.diagnostics.sort_by_key(|d| (d.line, d.column));
        Err(ConfigError {
            path: path.to_owned(),
            diagnostics: checker.diagnostics,
        })
    }
}

/// A key of a table, with its dotted path for messages.
struct Entry<'i> {
    name: &'i str,
    key: String,
    item: &'i Item,
}

/// Collects problems while walking the config.
struct Checker<'t> {
    text: &'t str,
    diagnostics: Vec<Diagnostic>,
}

impl Checker<'_> {
    /// Line and column (in characters) of a byte offset.
    fn position(&self, span: Option<Range<usize>>) -> (u64, u64) {
        let offset = span.map_or(0, |span| span.start).min(self.text.len());
        let before = self.text.get(..offset).unwrap_or_default();
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        (
            before.matches('\n').count() as u64 + 1,
            before[line_start..].chars().count() as u64 + 1,
        )
    }

    fn report(&mut self, span: Option<Range<usize>>, key: &str, problem: Problem) {
        let (line, column) = self.position(span);
        self.diagnostics.push(Diagnostic {
            line,
            column,
            key: key.to_owned(),
            message: problem.message,
            hint: problem.hint,
            source_line: None,
        });
    }

    /// A syntax error: the line is shown too, since the position is all there is to go on.
    fn report_with_source(&mut self, span: Option<Range<usize>>, key: &str, message: String) {
        let (line, column) = self.position(span);
        let source_line = self
            .text
            .lines()
            .nth(usize::try_from(line - 1).unwrap_or(usize::MAX))
            .map(str::to_owned);
        self.diagnostics.push(Diagnostic {
            line,
            column,
            key: key.to_owned(),
            message,
            hint: None,
            source_line,
        });
    }

    /// The value of a checked key, or the problem reported at the value.
    fn checked<T>(&mut self, item: &Item, key: &str, value: Result<T, Problem>) -> Option<T> {
        value
            .map_err(|problem| self.report(item.span(), key, problem))
            .ok()
    }

    fn table<'i>(&mut self, item: &'i Item, key: &str) -> Option<&'i dyn TableLike> {
        let table = item.as_table_like();
        if table.is_none() {
            let found = kind(item);
            self.report(
                item.span(),
                key,
                Problem::plain(format!("expected a table, found {found}")),
            );
        }
        table
    }

    /// The entries of a table, reporting unknown keys with the known key they were likely
    /// meant to be; `known: None` takes any key (names chosen by the user, such as profiles).
    fn entries<'i>(
        &mut self,
        table: &'i dyn TableLike,
        path: &str,
        known: Option<&[&str]>,
    ) -> Vec<Entry<'i>> {
        let mut entries = Vec::new();
        for (name, item) in table.iter() {
            let key = join(path, name);
            let Some(known) = known.filter(|known| !known.contains(&name)) else {
                entries.push(Entry { name, key, item });
                continue;
            };
            let span = table
                .get_key_value(name)
                .and_then(|(key, _)| key.span())
                .or_else(|| item.span());
            let hint = did_you_mean(name, known)
                .map(|known| format!("did you mean `{known}`?"))
                .unwrap_or_else(|| format!("known keys: {}", known.join(", ")));
            self.report(span, &key, Problem::hinted("unknown key", hint));
        }
        entries
    }

    fn config(&mut self, item: &Item) -> Config {
        let mut config = Config::default();
        let Some(table) = self.table(item, "") else {
            return config;
        };
        let case_keys: Vec<String> = setting::CASE_SETTINGS
            .iter()
            .filter(|setting| setting.overridable)
            .map(|setting| setting.config_key())
            .collect();
        let known: Vec<&str> = KEYS
            .iter()
            .copied()
            .chain(case_keys.iter().map(String::as_str))
            .collect();
        for Entry { name, key, item } in self.entries(table, "", Some(&known)) {
            let value = scalar(item);
            match name {
                "suites" => config.suites = self.strings(item, &key),
                "models" => config.models = self.strings(item, &key),
                "model" => config.model = self.checked(item, &key, model(value)),
                "jobs" => config.jobs = self.checked(item, &key, jobs(value)),
                "output" => config.output = self.checked(item, &key, path(value)),
                "format" => config.format = self.checked(item, &key, choice(value)),
                "sandbox" => config.sandbox = self.checked(item, &key, choice(value)),
                "weights" => config.weights = self.weights(item, &key),
                "providers" => config.providers = self.providers(item, &key),
                "min-score" => {
                    config.min_score = self.checked(item, &key, setting::fraction(value))
                }
                "min-pass-rate" => config.min_pass_rate = self.pass_rates(item, &key),
                "max-repairs" => {
                    config.max_repairs = self.checked(item, &key, setting::non_negative(value))
                }
                "max-ttft" => config.max_ttft = self.checked(item, &key, setting::duration(value)),
                "min-tps" => {
                    config.min_tps = self.checked(item, &key, setting::non_negative(value))
                }
                "max-invalid" => {
                    config.max_invalid =
                        self.checked(item, &key, setting::integer(value, 0, i64::MAX))
                }
                "baseline" => {
                    config.baseline = match item.as_array() {
                        Some(_) => self
                            .strings(item, &key)
                            .unwrap_or_default()
                            .into_iter()
                            .map(PathBuf::from)
                            .collect(),
                        None => self.checked(item, &key, path(value)).into_iter().collect(),
                    }
                }
                "fail-on-regression" => {
                    config.fail_on_regression = self.checked(item, &key, boolean(value))
                }
                "significance" => {
                    config.significance = self.checked(item, &key, setting::significance(value))
                }
                "snapshot" => config.snapshot = self.checked(item, &key, boolean(value)),
                "junit" => config.junit = self.checked(item, &key, path(value)),
                "summary" => config.summary = self.checked(item, &key, path(value)),
                "cache" => config.cache = self.checked(item, &key, boolean(value)),
                case_key => {
                    if let Some(setting) = setting::overridable_setting(case_key) {
                        let set = config.case_settings.set(setting, value);
                        self.checked(item, &key, set);
                    }
                }
            }
        }
        config
    }

    fn strings(&mut self, item: &Item, key: &str) -> Option<Vec<String>> {
        let Some(array) = item.as_array() else {
            let found = kind(item);
            self.report(
                item.span(),
                key,
                Problem::plain(format!("expected a list of strings, found {found}")),
            );
            return None;
        };
        let mut strings = Vec::new();
        for (index, value) in array.iter().enumerate() {
            match value.as_str() {
                Some(text) => strings.push(text.to_owned()),
                None => self.report(
                    value.span(),
                    &format!("{key}[{index}]"),
                    Problem::plain(format!("expected a string, found {}", value_kind(value))),
                ),
            }
        }
        Some(strings)
    }

    /// `[weights]`: each stage's weight at least 0, their sum above 0.
    fn weights(&mut self, item: &Item, key: &str) -> Option<Weights> {
        let table = self.table(item, key)?;
        let mut weights = Weights::default();
        let errors_before = self.diagnostics.len();
        for entry in self.entries(table, key, Some(WEIGHT_KEYS)) {
            let checked = setting::non_negative(scalar(entry.item));
            let Some(weight) = self.checked(entry.item, &entry.key, checked) else {
                continue;
            };
            match entry.name {
                "format" => weights.format = weight,
                "compile" => weights.compile = weight,
                "test" => weights.test = weight,
                "coverage" => weights.coverage = weight,
                _ => unreachable!("entries() only returns weight keys"),
            }
        }
        if self.diagnostics.len() > errors_before {
            return None;
        }
        self.checked(item, key, checked_weights(weights))
    }

    /// `min-pass-rate = { test = 0.8 }`: a bar per stage.
    fn pass_rates(&mut self, item: &Item, key: &str) -> Vec<(Stage, f64)> {
        let Some(table) = self.table(item, key) else {
            return Vec::new();
        };
        let stages: Vec<&str> = Stage::ALL.iter().map(|stage| stage.name()).collect();
        let mut rates = Vec::new();
        for entry in self.entries(table, key, Some(&stages)) {
            let checked = setting::fraction(scalar(entry.item));
            if let (Some(stage), Some(rate)) = (
                Stage::from_name(entry.name),
                self.checked(entry.item, &entry.key, checked),
            ) {
                rates.push((stage, rate));
            }
        }
        rates
    }

    /// `[providers.NAME]` tables, each read by the provider's own serde definition; a problem
    /// in one does not hide the others'.
    fn providers(&mut self, item: &Item, key: &str) -> BTreeMap<String, ProviderProfile> {
        let Some(table) = self.table(item, key) else {
            return BTreeMap::new();
        };
        let mut profiles = BTreeMap::new();
        for Entry {
            name,
            key: profile_key,
            item: profile,
        } in self.entries(table, key, None)
        {
            let span = profile
                .span()
                .or_else(|| table.get_key_value(name).and_then(|(key, _)| key.span()));
            let value = profile.clone().into_value();
            let parsed = match value {
                Ok(value) => {
                    serde::Deserialize::deserialize(serde::de::IntoDeserializer::<
                        toml_edit::de::Error,
                    >::into_deserializer(value))
                    .map_err(|error| (error.span(), error.message().to_owned()))
                }
                Err(_) => Err((None, "expected a table".to_owned())),
            };
            match parsed {
                Ok(parsed) => {
                    profiles.insert(name.to_owned(), parsed);
                }
                Err((error_span, message)) => self.report(
                    error_span.or(span.clone()),
                    &profile_key,
                    Problem::plain(message),
                ),
            }
        }
        profiles
    }
}

/// A TOML value as the checks shared with flags and suites take it.
fn scalar(item: &Item) -> Scalar<'_> {
    match item.as_value() {
        Some(Value::Integer(integer)) => Scalar::Int(*integer.value()),
        Some(Value::Float(number)) => Scalar::Float(*number.value()),
        Some(Value::String(text)) => Scalar::Str(text.value()),
        Some(Value::Boolean(flag)) => Scalar::Bool(*flag.value()),
        _ => Scalar::Other(kind(item)),
    }
}

fn kind(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Value(value) => value_kind(value),
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
    }
}

fn value_kind(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "a list",
        Value::InlineTable(_) => "a table",
    }
}

/// One of a flag's possible values, spelled as on the command line.
fn choice<T: ValueEnum>(value: Scalar) -> Result<T, Problem> {
    let names: Vec<String> = T::value_variants()
        .iter()
        .filter_map(|variant| variant.to_possible_value())
        .map(|possible| possible.get_name().to_owned())
        .collect();
    let Scalar::Str(text) = value else {
        return Err(Problem::plain(format!(
            "expected one of {}",
            names.join(", ")
        )));
    };
    T::from_str(text, false).map_err(|_| {
        let known: Vec<&str> = names.iter().map(String::as_str).collect();
        let hint = did_you_mean(text, &known)
            .map(|known| format!("did you mean `{known}`?"))
            .unwrap_or_else(|| format!("use one of {}", names.join(", ")));
        Problem::hinted(format!("unknown value `{text}`"), hint)
    })
}

/// Parallel builds and test processes: at least one.
pub(super) fn jobs(value: Scalar) -> Result<usize, Problem> {
    match value {
        Scalar::Int(jobs) if jobs < 1 => Err(Problem::plain("must be at least 1")),
        other => setting::integer(other, 1, i64::MAX),
    }
}

/// Weights each at least 0 (checked per key), with a sum above 0.
fn checked_weights(weights: Weights) -> Result<Weights, Problem> {
    let all = [
        weights.format,
        weights.compile,
        weights.test,
        weights.coverage,
    ];
    if all
        .iter()
        .any(|weight| !weight.is_finite() || *weight < 0.0)
        || all.iter().sum::<f64>() <= 0.0
    {
        return Err(Problem::plain(
            "each weight must be a number of at least 0, with a sum above 0",
        ));
    }
    Ok(weights)
}

/// `PROVIDER:MODEL`, checked as `--model` is.
fn model(value: Scalar) -> Result<ModelSpec, Problem> {
    match value {
        Scalar::Str(text) => ModelSpec::parse(text).map_err(Problem::plain),
        other => Err(Problem::plain(format!(
            "expected a model as a string (PROVIDER:MODEL), found {}",
            other.kind()
        ))),
    }
}

fn path(value: Scalar) -> Result<PathBuf, Problem> {
    match value {
        Scalar::Str(text) if !text.trim().is_empty() => Ok(PathBuf::from(text)),
        Scalar::Str(_) => Err(Problem::plain("must not be empty")),
        other => Err(Problem::plain(format!(
            "expected a path as a string, found {}",
            other.kind()
        ))),
    }
}

fn boolean(value: Scalar) -> Result<bool, Problem> {
    match value {
        Scalar::Bool(flag) => Ok(flag),
        other => Err(Problem::plain(format!(
            "expected true or false, found {}",
            other.kind()
        ))),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ProviderKind;
    use crate::suite::CaseSettings;

    fn problems(text: &str) -> Vec<String> {
        read(Path::new("llm-bench.toml"), text, &[])
            .unwrap_err()
            .diagnostics
            .into_iter()
            .map(|d| {
                format!(
                    "{}:{}: {}: {}{}",
                    d.line,
                    d.column,
                    d.key,
                    d.message,
                    d.hint.map(|hint| format!(" ({hint})")).unwrap_or_default()
                )
            })
            .collect()
    }

    #[test]
    fn package_metadata_is_read_from_cargo_toml() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        std::fs::write(&manifest, "[package]\nname = \"x\"\n[package.metadata.llm-bench]\nmodels = [\"reference\"]\nmin-score = 0.5\n[package.metadata.llm-bench.providers.local]\nkind = \"openai\"\nbase-url = \"http://127.0.0.1:8080/v1\"\n").unwrap();
        let loaded = load(dir.path(), &[manifest]).unwrap();
        assert_eq!(loaded.min_score, Some(0.5));
        assert_eq!(loaded.providers["local"].kind, ProviderKind::Openai);
    }

    #[test]
    fn an_unknown_key_names_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("llm-bench.toml"),
            "models = []\nmin-scroe = 1\n",
        )
        .unwrap();
        let error = format!("{:#}", load(dir.path(), &[]).unwrap_err());
        assert!(error.contains("llm-bench.toml:2:1: min-scroe"), "{error}");
        assert!(error.contains("did you mean `min-score`?"), "{error}");
    }

    #[test]
    fn every_problem_comes_at_once_with_its_position_and_key() {
        let text = "repairs = \"two\"\ntimout = 5\ncoverage = 1.5\n\n[weights]\ntset = 0.5\n\n[providers.local]\nkind = \"openia\"\n";
        assert_eq!(
            problems(text),
            [
                "1:11: repairs: expected an integer, found a string",
                "2:1: timout: unknown key (did you mean `timeout`?)",
                "3:12: coverage: 1.5 is out of range 0..=1",
                "6:1: weights.tset: unknown key (did you mean `test`?)",
                "9:8: providers.local: unknown variant `openia`, expected one of `ollama`, `ollama-cloud`, `gemini`, `openai`",
            ]
        );
    }

    #[test]
    fn a_timeout_is_a_number_of_seconds_or_a_duration_text() {
        for text in ["timeout = 5", "timeout = \"5s\"", "timeout = \"5\""] {
            let config = read(Path::new("c.toml"), text, &[]).unwrap().unwrap();
            let mut settings = CaseSettings::default();
            config.case_settings.apply(&mut settings);
            assert_eq!(settings.timeout, Duration::from_secs(5), "{text}");
        }
    }

    #[test]
    fn gate_and_output_keys_become_their_flags_values() {
        let text = "min-pass-rate = { test = 0.8, compile = 1 }\nmax-repairs = 1.5\nmax-ttft = \"2s\"\nmin-tps = 10\nmax-invalid = 0\nbaseline = \"old.json\"\nfail-on-regression = true\nsignificance = 0.01\nsnapshot = true\njunit = \"junit.xml\"\nsummary = \"summary.md\"\ncache = false\nsamples = 5\n";
        let config = read(Path::new("c.toml"), text, &[]).unwrap().unwrap();
        assert_eq!(
            config.min_pass_rate,
            [(Stage::Test, 0.8), (Stage::Compile, 1.0)]
        );
        assert_eq!(config.max_repairs, Some(1.5));
        assert_eq!(config.max_ttft, Some(Duration::from_secs(2)));
        assert_eq!(config.min_tps, Some(10.0));
        assert_eq!(config.max_invalid, Some(0));
        assert_eq!(config.baseline, [PathBuf::from("old.json")]);
        assert_eq!(config.fail_on_regression, Some(true));
        assert_eq!(config.significance, Some(0.01));
        assert_eq!(config.snapshot, Some(true));
        assert_eq!(config.junit, Some(PathBuf::from("junit.xml")));
        assert_eq!(config.summary, Some(PathBuf::from("summary.md")));
        assert_eq!(config.cache, Some(false));
        let mut settings = CaseSettings::default();
        config.case_settings.apply(&mut settings);
        assert_eq!(settings.samples, 5);
    }

    #[test]
    fn the_saved_model_is_read_as_a_model_spec_and_a_malformed_one_is_located() {
        let config = read(
            Path::new("c.toml"),
            "model = \"qwen:qwen2.5-coder-1.5b\"\n",
            &[],
        )
        .unwrap()
        .unwrap();
        let model = config.model.unwrap();
        assert_eq!(
            (model.provider.as_str(), model.model.as_str()),
            ("qwen", "qwen2.5-coder-1.5b")
        );
        let spec_problems = problems("model = \"qwen\"\n");
        assert_eq!(spec_problems.len(), 1, "{spec_problems:?}");
        assert!(
            spec_problems[0].starts_with("1:9: model: `qwen` is not a model"),
            "{spec_problems:?}"
        );
        assert_eq!(
            problems("model = 7\n"),
            ["1:9: model: expected a model as a string (PROVIDER:MODEL), found an integer"]
        );
    }

    #[test]
    fn an_unknown_stage_in_min_pass_rate_suggests_the_right_one() {
        assert_eq!(
            problems("min-pass-rate = { tset = 0.8 }\n"),
            ["1:19: min-pass-rate.tset: unknown key (did you mean `test`?)"]
        );
    }

    #[test]
    fn a_toml_syntax_error_is_located_and_shows_its_line() {
        let error = read(Path::new("c.toml"), "models = [\"a\"\njobs = 2\n", &[]).unwrap_err();
        assert_eq!(error.diagnostics.len(), 1);
        assert_eq!(error.diagnostics[0].line, 2);
        assert!(error.diagnostics[0].source_line.is_some());
    }

    #[test]
    fn the_readmes_example_config_is_a_valid_config() {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("```toml\n# llm-bench.toml")
            .expect("the README shows an example config");
        let block = &readme[start + "```toml\n".len()..];
        let block = &block[..block.find("```").expect("the block ends")];
        let config = read(Path::new("README.md"), block, &[])
            .unwrap_or_else(|error| panic!("{error}"))
            .unwrap();
        assert!(config.providers.contains_key("local"));
        assert_eq!(config.min_pass_rate, [(Stage::Test, 0.8)]);
    }

    #[test]
    fn weights_that_sum_to_zero_are_rejected_at_the_table() {
        let text = "[weights]\nformat = 0\ncompile = 0\ntest = 0\ncoverage = 0\n";
        let problems = problems(text);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("1:1: weights: "), "{problems:?}");
    }
}
