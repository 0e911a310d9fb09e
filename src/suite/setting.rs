//! The case settings a suite, the config and the flags all set: one declaration per setting,
//! with the one check of its type and range that every layer goes through.
//!
//! A setting written as one scalar (a number, a string, a duration) is declared once in
//! [`CASE_SETTINGS`]. The structured ones (`stages`, `dependencies`, `limits`) exist only in
//! suites and are checked where the YAML tree is walked, because their problems point inside
//! the value.

use super::{CaseSettings, Mode, Stage};
use std::time::Duration;

/// Longer timeouts are surely typos, and would overflow deadline arithmetic.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// A value as written, before it is checked: YAML, TOML and flag text all come down to this.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'a> {
    Int(i64),
    Float(f64),
    Str(&'a str),
    Bool(bool),
    /// Anything else, by the name of its kind (`a list`, `a mapping`, `null`).
    Other(&'static str),
}

impl<'a> Scalar<'a> {
    /// A flag's text: a number when it reads as one, so `--timeout 5` means what `timeout: 5`
    /// means in a suite.
    pub fn from_flag(text: &'a str) -> Scalar<'a> {
        let trimmed = text.trim();
        if let Ok(integer) = trimmed.parse::<i64>() {
            Scalar::Int(integer)
        } else if let Some(number) = trimmed
            .parse::<f64>()
            .ok()
            .filter(|_| trimmed.starts_with(|c: char| c.is_ascii_digit() || "+-.".contains(c)))
        {
            Scalar::Float(number)
        } else {
            Scalar::Str(text)
        }
    }

    /// The kind of value, for messages such as "expected an integer, found a string".
    pub fn kind(&self) -> &'static str {
        match self {
            Scalar::Int(_) => "an integer",
            Scalar::Float(_) => "a number",
            Scalar::Str(_) => "a string",
            Scalar::Bool(_) => "a boolean",
            Scalar::Other(kind) => kind,
        }
    }
}

/// What is wrong with a value, and how to write it instead.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    pub fn plain(message: impl Into<String>) -> Problem {
        Problem {
            message: message.into(),
            hint: None,
        }
    }

    pub fn hinted(message: impl Into<String>, hint: impl Into<String>) -> Problem {
        Problem {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// One case setting, as every layer may write it.
#[derive(Debug)]
pub struct CaseSetting {
    /// The key in suites (`max_tokens`); the config writes it in kebab-case (`max-tokens`),
    /// and so does its flag (`--max-tokens`).
    pub key: &'static str,
    /// Whether the config and the flags may set it for every case, over the suites.
    pub overridable: bool,
    /// Checks a value and stores it.
    set: fn(&mut CaseSettings, Scalar) -> Result<(), Problem>,
    /// Copies the stored value across: how a layer above the suites is applied to a case.
    copy: fn(&CaseSettings, &mut CaseSettings),
}

impl CaseSetting {
    /// The key as the config and the flags write it.
    pub fn config_key(&self) -> String {
        self.key.replace('_', "-")
    }

    pub fn set(&self, settings: &mut CaseSettings, value: Scalar) -> Result<(), Problem> {
        (self.set)(settings, value)
    }
}

/// Declares a case setting: its key, the `CaseSettings` field it fills, whether the config and
/// flags may override it, and how a written value becomes the field's value.
macro_rules! case_setting {
    ($key:literal => $field:ident, overridable: $overridable:expr, |$value:ident| $check:expr) => {
        CaseSetting {
            key: $key,
            overridable: $overridable,
            set: |settings, $value| {
                settings.$field = $check?;
                Ok(())
            },
            copy: |from, to| to.$field = from.$field.clone(),
        }
    };
}

/// Every scalar case setting. A new one is one entry here and one field in `CaseSettings`.
pub const CASE_SETTINGS: &[CaseSetting] = &[
    case_setting!("mode" => mode, overridable: false, |value| mode(value)),
    case_setting!("system" => system, overridable: false, |value| system(value)),
    case_setting!("temperature" => temperature, overridable: true, |value| number(value, 0.0, 2.0)),
    case_setting!("max_tokens" => max_tokens, overridable: true, |value| integer(value, 1, 1_000_000)),
    case_setting!("seed" => seed, overridable: true, |value| integer(value, 0, i64::MAX).map(Some)),
    case_setting!("repairs" => repairs, overridable: true, |value| integer(value, 0, 20)),
    case_setting!("samples" => samples, overridable: true, |value| integer(value, 1, 10_000)),
    case_setting!("timeout" => timeout, overridable: true, |value| duration(value)),
    case_setting!("coverage" => coverage, overridable: true, |value| fraction(value)),
];

/// The scalar setting a suite key names.
pub fn case_setting(key: &str) -> Option<&'static CaseSetting> {
    CASE_SETTINGS.iter().find(|setting| setting.key == key)
}

/// The overridable setting a config key or flag names (`max-tokens`).
pub fn overridable_setting(config_key: &str) -> Option<&'static CaseSetting> {
    CASE_SETTINGS
        .iter()
        .find(|setting| setting.overridable && setting.config_key() == config_key)
}

/// Case settings a layer above the suites (the config, the flags) sets for every case.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// The values, checked; only the fields of `set` are meant.
    values: CaseSettings,
    set: Vec<&'static CaseSetting>,
}

impl Overrides {
    /// Checks a value for a setting and keeps it; a later value for the same setting wins.
    pub fn set(&mut self, setting: &'static CaseSetting, value: Scalar) -> Result<(), Problem> {
        setting.set(&mut self.values, value)?;
        if !self.set.iter().any(|known| std::ptr::eq(*known, setting)) {
            self.set.push(setting);
        }
        Ok(())
    }

    /// Writes every setting of this layer into a case's settings.
    pub fn apply(&self, settings: &mut CaseSettings) {
        for setting in &self.set {
            (setting.copy)(&self.values, settings);
        }
    }
}

/// An integer within `min..=max`, as the field's type.
pub fn integer<T: TryFrom<i64>>(value: Scalar, min: i64, max: i64) -> Result<T, Problem> {
    match value {
        Scalar::Int(integer) if (min..=max).contains(&integer) => T::try_from(integer)
            .map_err(|_| Problem::plain(format!("{integer} is out of range {min}..={max}"))),
        Scalar::Int(integer) => Err(Problem::plain(format!(
            "{integer} is out of range {min}..={max}"
        ))),
        other => Err(Problem::plain(format!(
            "expected an integer, found {}",
            other.kind()
        ))),
    }
}

/// A number (an integer will do) within `min..=max`.
pub fn number(value: Scalar, min: f64, max: f64) -> Result<f64, Problem> {
    let number = match value {
        Scalar::Int(integer) => integer as f64,
        Scalar::Float(number) => number,
        other => {
            return Err(Problem::plain(format!(
                "expected a number, found {}",
                other.kind()
            )))
        }
    };
    if !(min..=max).contains(&number) {
        return Err(Problem::plain(format!(
            "{number} is out of range {min}..={max}"
        )));
    }
    Ok(number)
}

/// A share between 0 and 1, such as a coverage bar or a pass rate.
pub fn fraction(value: Scalar) -> Result<f64, Problem> {
    number(value, 0.0, 1.0)
}

/// The level of a significance test: strictly between 0 and 1 (0 would never call a change
/// significant, 1 always would).
pub fn significance(value: Scalar) -> Result<f64, Problem> {
    match fraction(value)? {
        alpha if alpha > 0.0 && alpha < 1.0 => Ok(alpha),
        alpha => Err(Problem {
            message: format!("{alpha} is not strictly between 0 and 1"),
            hint: Some("a usual level is 0.05".to_owned()),
        }),
    }
}

/// A number of at least 0 (a bar on an average or a speed).
pub fn non_negative(value: Scalar) -> Result<f64, Problem> {
    match number(value, f64::MIN, f64::MAX)? {
        number if number >= 0.0 => Ok(number),
        number => Err(Problem::plain(format!("{number} must be at least 0"))),
    }
}

/// A number of seconds, or text such as `30s`, `2m`, `1m 30s`; above zero and at most 24h.
pub fn duration(value: Scalar) -> Result<Duration, Problem> {
    let duration = match value {
        Scalar::Int(seconds) if seconds > 0 => Duration::from_secs(seconds.unsigned_abs()),
        Scalar::Float(seconds) if seconds > 0.0 => {
            Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)
        }
        Scalar::Int(_) | Scalar::Float(_) => Duration::ZERO,
        Scalar::Str(text) => match text.trim().parse::<f64>() {
            // Seconds written as a string (`"5"`), as a flag's text always is.
            Ok(seconds) if seconds.is_finite() && seconds > 0.0 => {
                Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)
            }
            _ => humantime::parse_duration(text).map_err(|error| {
                Problem::hinted(
                    format!("`{text}` is not a duration: {error}"),
                    "write it like `30s`, `2m`, `1m 30s` or a number of seconds",
                )
            })?,
        },
        other => {
            return Err(Problem::plain(format!(
                "expected a duration such as `30s`, found {}",
                other.kind()
            )))
        }
    };
    if duration.is_zero() || duration > MAX_TIMEOUT {
        return Err(Problem::plain("must be longer than zero and at most 24h"));
    }
    Ok(duration)
}

/// A stage name, with a "did you mean" for a typo.
pub fn stage(name: &str) -> Result<Stage, Problem> {
    Stage::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = Stage::ALL.iter().map(|stage| stage.name()).collect();
        let hint = did_you_mean(name, &known)
            .map(|known| format!("did you mean `{known}`?"))
            .unwrap_or_else(|| format!("known stages: {}", known.join(", ")));
        Problem::hinted(format!("unknown stage `{name}`"), hint)
    })
}

fn string<'a>(value: Scalar<'a>) -> Result<&'a str, Problem> {
    match value {
        Scalar::Str(text) => Ok(text),
        other => Err(Problem::plain(format!(
            "expected a string, found {}",
            other.kind()
        ))),
    }
}

fn mode(value: Scalar) -> Result<Mode, Problem> {
    match string(value)? {
        "chat" => Ok(Mode::Chat),
        "completion" => Ok(Mode::Completion),
        other => Err(Problem::hinted(
            format!("unknown mode `{other}`"),
            "use `chat` or `completion`",
        )),
    }
}

/// An empty system prompt means none at all.
fn system(value: Scalar) -> Result<Option<String>, Problem> {
    let text = string(value)?;
    Ok((!text.trim().is_empty()).then(|| text.to_owned()))
}

/// The closest known key, if it is close enough to be a typo.
pub fn did_you_mean<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|candidate| (strsim::jaro_winkler(unknown, candidate), *candidate))
        .filter(|(similarity, _)| *similarity > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_of_seconds_is_a_timeout_whether_written_as_a_number_or_as_flag_text() {
        let expected = Ok(Duration::from_secs(5));
        assert_eq!(duration(Scalar::Int(5)), expected);
        assert_eq!(duration(Scalar::from_flag("5")), expected);
        assert_eq!(duration(Scalar::Str("5")), expected);
        assert_eq!(duration(Scalar::Str("5s")), expected);
        assert_eq!(duration(Scalar::Float(0.5)), Ok(Duration::from_millis(500)));
    }

    #[test]
    fn zero_negative_and_absurd_timeouts_are_rejected() {
        for value in [
            Scalar::Int(0),
            Scalar::Int(-3),
            Scalar::Str("0s"),
            Scalar::Str("10000000000000000000s"),
            Scalar::Float(f64::INFINITY),
        ] {
            assert!(duration(value).is_err(), "{value:?}");
        }
    }

    #[test]
    fn a_significance_level_is_strictly_between_zero_and_one() {
        assert_eq!(significance(Scalar::Float(0.01)).unwrap(), 0.01);
        for alpha in [0.0, 1.0, 1.5, -0.1] {
            assert!(significance(Scalar::Float(alpha)).is_err(), "{alpha}");
        }
    }

    #[test]
    fn flag_text_that_is_not_a_number_stays_text() {
        assert_eq!(Scalar::from_flag("hot"), Scalar::Str("hot"));
        assert_eq!(Scalar::from_flag("inf"), Scalar::Str("inf"));
        assert_eq!(Scalar::from_flag("0.5"), Scalar::Float(0.5));
    }

    #[test]
    fn every_overridable_setting_is_found_by_its_kebab_case_key() {
        for setting in CASE_SETTINGS.iter().filter(|setting| setting.overridable) {
            let found = overridable_setting(&setting.config_key()).map(|found| found.key);
            assert_eq!(found, Some(setting.key));
        }
        assert!(overridable_setting("mode").is_none());
    }

    #[test]
    fn a_later_layer_wins_and_only_the_settings_it_sets_are_applied() {
        let timeout = overridable_setting("timeout").unwrap();
        let repairs = overridable_setting("repairs").unwrap();
        let mut layers = Overrides::default();
        layers.set(timeout, Scalar::Int(5)).unwrap();
        layers.set(repairs, Scalar::Int(1)).unwrap();
        // The flags come after the config.
        layers.set(repairs, Scalar::from_flag("0")).unwrap();
        let mut settings = CaseSettings {
            temperature: 1.5,
            ..CaseSettings::default()
        };
        layers.apply(&mut settings);
        assert_eq!(settings.timeout, Duration::from_secs(5));
        assert_eq!(settings.repairs, 0);
        assert_eq!(settings.temperature, 1.5);
    }

    #[test]
    fn a_rejected_value_leaves_the_layer_unchanged() {
        let coverage = overridable_setting("coverage").unwrap();
        let mut layer = Overrides::default();
        let problem = layer.set(coverage, Scalar::Float(1.5)).unwrap_err();
        assert_eq!(problem.message, "1.5 is out of range 0..=1");
        let mut settings = CaseSettings::default();
        layer.apply(&mut settings);
        assert_eq!(settings, CaseSettings::default());
    }
}
