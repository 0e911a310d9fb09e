//! Checks a located YAML tree against suite format v1, collecting every problem.

use super::node::{self, Node, Value};
use super::setting::{self, did_you_mean, Scalar, CASE_SETTINGS};
use super::{Case, CaseSettings, Diagnostic, Stage, TestLimits};
use std::collections::{BTreeMap, HashSet};

const TOP_KEYS: &[&str] = &["suite", "description", "edition", "defaults", "cases"];
/// Settings only a suite writes, checked here because their problems point inside the value;
/// the scalar ones are declared in `setting::CASE_SETTINGS`.
const STRUCTURED_SETTING_KEYS: &[&str] = &["stages", "dependencies", "limits"];
const LIMIT_KEYS: &[&str] = &["memory", "processes", "file-size", "output"];
const CASE_ONLY_KEYS: &[&str] = &["id", "prompt", "reference", "tests", "tags"];
const EDITIONS: &[&str] = &["2015", "2018", "2021", "2024"];

/// Every key `defaults:` and a case may set.
fn setting_keys() -> Vec<&'static str> {
    CASE_SETTINGS
        .iter()
        .map(|setting| setting.key)
        .chain(STRUCTURED_SETTING_KEYS.iter().copied())
        .collect()
}

/// A YAML value as every layer's checks take it.
fn scalar(node: &Node) -> Scalar<'_> {
    match &node.value {
        Value::Int(integer) => Scalar::Int(*integer),
        Value::Float(number) => Scalar::Float(*number),
        Value::Str(text) => Scalar::Str(text),
        Value::Bool(flag) => Scalar::Bool(*flag),
        other => Scalar::Other(other.kind()),
    }
}

#[derive(Debug)]
pub(super) struct Validated {
    pub name: String,
    pub description: Option<String>,
    pub cases: Vec<Case>,
}

/// Collects diagnostics while walking the tree.
#[derive(Default, Debug)]
struct Checker {
    diagnostics: Vec<Diagnostic>,
}

impl Checker {
    fn report(&mut self, node: &Node, key: &str, message: impl Into<String>) {
        self.report_with_hint(node, key, message, None);
    }

    fn report_with_hint(
        &mut self,
        node: &Node,
        key: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.diagnostics.push(Diagnostic {
            line: node.position.line,
            column: node.position.column,
            key: key.to_owned(),
            message: message.into(),
            hint,
            source_line: None,
        });
    }

    /// The entries of a mapping node, reporting duplicate and unknown keys.
    fn entries<'a>(
        &mut self,
        node: &'a Node,
        path: &str,
        allowed: &[&str],
    ) -> Option<Vec<(&'a str, &'a Node)>> {
        let Value::Map(raw_entries) = &node.value else {
            self.report(
                node,
                path,
                format!("expected a mapping, found {}", node.value.kind()),
            );
            return None;
        };
        let mut seen = HashSet::new();
        let mut entries = Vec::new();
        for (key_node, value) in raw_entries {
            let Value::Str(key) = &key_node.value else {
                self.report(key_node, path, "keys must be strings");
                continue;
            };
            let full_key = join(path, key);
            if !seen.insert(key.as_str()) {
                self.report(key_node, &full_key, "duplicate key");
                continue;
            }
            if !allowed.contains(&key.as_str()) {
                let hint = did_you_mean(key, allowed)
                    .map(|known| format!("did you mean `{known}`?"))
                    .or_else(|| Some(format!("known keys: {}", allowed.join(", "))));
                self.report_with_hint(key_node, &full_key, "unknown key", hint);
                continue;
            }
            entries.push((key.as_str(), value));
        }
        Some(entries)
    }

    fn string(&mut self, node: &Node, key: &str) -> Option<String> {
        match &node.value {
            Value::Str(text) => Some(text.clone()),
            other => {
                self.report(
                    node,
                    key,
                    format!("expected a string, found {}", other.kind()),
                );
                None
            }
        }
    }

    fn non_empty_string(&mut self, node: &Node, key: &str) -> Option<String> {
        let text = self.string(node, key)?;
        if text.trim().is_empty() {
            self.report(node, key, "must not be empty");
            return None;
        }
        Some(text)
    }

    fn integer(&mut self, node: &Node, key: &str, min: i64, max: i64) -> Option<i64> {
        match node.value {
            Value::Int(value) if (min..=max).contains(&value) => Some(value),
            Value::Int(value) => {
                self.report(node, key, format!("{value} is out of range {min}..={max}"));
                None
            }
            ref other => {
                self.report(
                    node,
                    key,
                    format!("expected an integer, found {}", other.kind()),
                );
                None
            }
        }
    }

    fn string_list<'a>(&mut self, node: &'a Node, key: &str) -> Option<Vec<(String, &'a Node)>> {
        let Value::Seq(items) = &node.value else {
            self.report(
                node,
                key,
                format!("expected a list, found {}", node.value.kind()),
            );
            return None;
        };
        let mut strings = Vec::new();
        for (index, item) in items.iter().enumerate() {
            if let Some(text) = self.string(item, &format!("{key}[{index}]")) {
                strings.push((text, item));
            }
        }
        Some(strings)
    }

    /// Applies one settings key to `settings`, reporting a value that does not fit it.
    fn setting(&mut self, settings: &mut CaseSettings, name: &str, node: &Node, key: &str) {
        if let Some(setting) = setting::case_setting(name) {
            if let Err(problem) = setting.set(settings, scalar(node)) {
                self.report_with_hint(node, key, problem.message, problem.hint);
            }
            return;
        }
        match name {
            "stages" => {
                if let Some(stages) = self.stages(node, key) {
                    settings.stages = stages;
                }
            }
            "dependencies" => {
                if let Some(dependencies) = self.dependencies(node, key) {
                    settings.dependencies = dependencies;
                }
            }
            "limits" => self.limits(&mut settings.limits, node, key),
            _ => unreachable!("entries() only returns setting keys"),
        }
    }

    /// Applies the keys of a `limits:` mapping; keys left out keep the value they had.
    fn limits(&mut self, limits: &mut TestLimits, node: &Node, key: &str) {
        let Some(entries) = self.entries(node, key, LIMIT_KEYS) else {
            return;
        };
        for (name, value) in entries {
            let entry_key = join(key, name);
            match name {
                "processes" => {
                    if let Some(count) = self.integer(value, &entry_key, 1, 100_000) {
                        limits.processes = count as u32;
                    }
                }
                "memory" => {
                    if let Some(bytes) = self.size(value, &entry_key, 64 << 20) {
                        limits.memory_bytes = bytes;
                    }
                }
                "file-size" => {
                    if let Some(bytes) = self.size(value, &entry_key, 1 << 10) {
                        limits.file_bytes = bytes;
                    }
                }
                "output" => {
                    if let Some(bytes) = self.size(value, &entry_key, 1 << 10) {
                        limits.output_bytes = bytes;
                    }
                }
                _ => unreachable!("entries() only returns allowed keys"),
            }
        }
    }

    /// A size in bytes: an integer, or a number with a unit (`512MiB`, `2GiB`, `1GB`), at
    /// least `min` and at most 1 TiB.
    fn size(&mut self, node: &Node, key: &str, min: u64) -> Option<u64> {
        const MAX: u64 = 1 << 40;
        let bytes = match &node.value {
            Value::Int(value) => u64::try_from(*value).ok(),
            Value::Str(text) => parse_size(text),
            other => {
                self.report(
                    node,
                    key,
                    format!("expected a size, found {}", other.kind()),
                );
                return None;
            }
        };
        match bytes {
            Some(bytes) if (min..=MAX).contains(&bytes) => Some(bytes),
            Some(bytes) => {
                self.report(
                    node,
                    key,
                    format!("{bytes} bytes is out of range {min}..={MAX}"),
                );
                None
            }
            None => {
                self.report_with_hint(
                    node,
                    key,
                    "not a size",
                    Some("write it like `512MiB`, `2GiB` or a number of bytes".to_owned()),
                );
                None
            }
        }
    }

    fn stages(&mut self, node: &Node, key: &str) -> Option<Vec<Stage>> {
        let names = self.string_list(node, key)?;
        let mut stages = Vec::new();
        for (name, item) in names {
            match setting::stage(&name) {
                Ok(stage) if stages.contains(&stage) => {
                    self.report(item, key, format!("`{name}` is listed twice"))
                }
                Ok(stage) => stages.push(stage),
                Err(problem) => self.report_with_hint(item, key, problem.message, problem.hint),
            }
        }
        if stages.is_empty() {
            self.report(node, key, "needs at least one stage");
            return None;
        }
        if stages.contains(&Stage::Coverage) && !stages.contains(&Stage::Test) {
            self.report(
                node,
                key,
                "the coverage stage needs the test stage: coverage is measured by the tests",
            );
            return None;
        }
        stages.sort();
        Some(stages)
    }

    fn dependencies(&mut self, node: &Node, key: &str) -> Option<BTreeMap<String, String>> {
        let Value::Map(raw_entries) = &node.value else {
            self.report(
                node,
                key,
                format!(
                    "expected a mapping of crate name to version, found {}",
                    node.value.kind()
                ),
            );
            return None;
        };
        let mut dependencies = BTreeMap::new();
        for (name_node, version_node) in raw_entries {
            let Some(name) = self.string(name_node, key) else {
                continue;
            };
            let entry_key = join(key, &name);
            let valid_name = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid_name {
                self.report(name_node, &entry_key, "is not a valid crate name");
                continue;
            }
            if dependencies.contains_key(&name) {
                self.report(name_node, &entry_key, "duplicate key");
                continue;
            }
            let version = match &version_node.value {
                Value::Str(version) => version.clone(),
                Value::Int(major) => major.to_string(),
                Value::Float(version) => version.to_string(),
                other => {
                    self.report(
                        version_node,
                        &entry_key,
                        format!(
                            "expected a version requirement such as \"1\", found {}",
                            other.kind()
                        ),
                    );
                    continue;
                }
            };
            // Only crates.io version requirements (`1`, `^1.2`, `>=1.2, <2`): nothing that
            // could break out of the quoted string in the generated Cargo.toml.
            let allowed = |c: char| c.is_ascii_alphanumeric() || " .,*^~<>=+-".contains(c);
            if version.trim().is_empty() || !version.chars().all(allowed) {
                self.report(
                    version_node,
                    &entry_key,
                    format!("`{version}` is not a version requirement"),
                );
                continue;
            }
            dependencies.insert(name, version);
        }
        Some(dependencies)
    }
}

pub(super) fn validate(text: &str, file_stem: &str) -> Result<Validated, Vec<Diagnostic>> {
    let root = node::parse(text).map_err(|error| {
        let source_line = usize::try_from(error.position.line - 1)
            .ok()
            .and_then(|index| node::lines(text).nth(index))
            .map(str::to_owned);
        vec![Diagnostic {
            line: error.position.line,
            column: error.position.column,
            key: String::new(),
            message: format!("YAML syntax error: {}", error.message),
            hint: error.hint,
            source_line,
        }]
    })?;
    let mut checker = Checker::default();
    if root.value == Value::Null {
        checker.report_with_hint(
            &Node {
                position: node::Position { line: 1, column: 1 },
                value: Value::Null,
            },
            "",
            "the suite is empty",
            Some("a suite is a mapping with a `cases:` list; see docs/formats.md".to_owned()),
        );
        return Err(checker.diagnostics);
    }
    let Some(entries) = checker.entries(&root, "", TOP_KEYS) else {
        return Err(checker.diagnostics);
    };

    let mut name = file_stem.to_owned();
    let mut description = None;
    let mut defaults = CaseSettings::default();
    let mut cases_node = None;
    // Defaults must be known before cases are resolved, whatever order the keys come in.
    for (key, value) in &entries {
        match *key {
            "suite" => {
                if let Some(text) = checker.non_empty_string(value, key) {
                    if is_file_safe(&text) {
                        name = text;
                    } else {
                        checker.report_with_hint(
                            value,
                            key,
                            format!("`{text}` is not a valid suite name"),
                            Some("use letters, digits, `-`, `_` and `.`".to_owned()),
                        );
                    }
                }
            }
            "description" => description = checker.string(value, key),
            "edition" => {
                let edition = match &value.value {
                    Value::Int(year) => Some(year.to_string()),
                    _ => checker.string(value, key),
                };
                match edition {
                    Some(edition) if EDITIONS.contains(&edition.as_str()) => {
                        defaults.edition = edition
                    }
                    Some(edition) => checker.report_with_hint(
                        value,
                        key,
                        format!("unknown edition `{edition}`"),
                        Some(format!("use one of {}", EDITIONS.join(", "))),
                    ),
                    None => {}
                }
            }
            "defaults" => {
                if let Some(default_entries) = checker.entries(value, "defaults", &setting_keys()) {
                    for (setting, node) in default_entries {
                        checker.setting(&mut defaults, setting, node, &join("defaults", setting));
                    }
                }
            }
            "cases" => cases_node = Some(*value),
            _ => unreachable!("entries() only returns allowed keys"),
        }
    }

    let mut cases = Vec::new();
    match cases_node {
        None => checker.report(&root, "cases", "missing: a suite needs a list of cases"),
        Some(node) => match &node.value {
            Value::Seq(items) if items.is_empty() => {
                checker.report(node, "cases", "must list at least one case")
            }
            Value::Seq(items) => {
                let mut ids: HashSet<String> = HashSet::new();
                for (index, item) in items.iter().enumerate() {
                    if let Some((id, id_node)) = case_id(item) {
                        if !ids.insert(id.to_owned()) {
                            checker.report(
                                id_node,
                                &format!("cases[{index}].id"),
                                format!("duplicate case id `{id}`"),
                            );
                        }
                    }
                    cases.extend(case(&mut checker, item, index, &defaults));
                }
            }
            other => checker.report(
                node,
                "cases",
                format!("expected a list, found {}", other.kind()),
            ),
        },
    }

    if checker.diagnostics.is_empty() {
        Ok(Validated {
            name,
            description,
            cases,
        })
    } else {
        checker.diagnostics.sort_by_key(|d| (d.line, d.column));
        Err(checker.diagnostics)
    }
}

fn case(checker: &mut Checker, node: &Node, index: usize, defaults: &CaseSettings) -> Option<Case> {
    let path = format!("cases[{index}]");
    let allowed: Vec<&str> = CASE_ONLY_KEYS
        .iter()
        .copied()
        .chain(setting_keys())
        .collect();
    let entries = checker.entries(node, &path, &allowed)?;
    let errors_before = checker.diagnostics.len();
    let mut settings = defaults.clone();
    let (mut id, mut prompt, mut reference, mut tests, mut tags) =
        (None, None, None, None, Vec::new());
    for (key, value) in &entries {
        let full_key = join(&path, key);
        match *key {
            "id" => {
                id = checker.non_empty_string(value, &full_key);
                if let Some(text) = &id {
                    if !is_file_safe(text) {
                        checker.report_with_hint(
                            value,
                            &full_key,
                            format!("`{text}` is not a valid case id"),
                            Some("use letters, digits, `-`, `_` and `.`".to_owned()),
                        );
                    }
                }
            }
            "prompt" => prompt = checker.non_empty_string(value, &full_key),
            "reference" => reference = checker.non_empty_string(value, &full_key),
            "tests" => {
                tests = checker.non_empty_string(value, &full_key);
                if tests
                    .as_deref()
                    .is_some_and(|text| !text.contains("#[test]"))
                {
                    checker.report(value, &full_key, "defines no `#[test]` function");
                }
            }
            "tags" => {
                tags = checker
                    .string_list(value, &full_key)
                    .map(|items| items.into_iter().map(|(tag, _)| tag).collect())
                    .unwrap_or_default();
            }
            setting => {
                checker.setting(&mut settings, setting, value, &full_key);
            }
        }
    }
    let name = id
        .as_deref()
        .map(|id| format!("{path} ({id})"))
        .unwrap_or(path.clone());
    for (field, present) in [
        ("id", id.is_some()),
        ("prompt", prompt.is_some()),
        ("reference", reference.is_some()),
        ("tests", tests.is_some()),
    ] {
        let already_reported = entries.iter().any(|(key, _)| *key == field);
        if !present && !already_reported {
            checker.report(node, &join(&path, field), format!("missing in {name}"));
        }
    }
    if checker.diagnostics.len() > errors_before {
        return None;
    }
    Some(Case {
        id: id?,
        prompt: prompt?,
        reference: reference?,
        tests: tests?,
        tags,
        settings,
    })
}

/// Names become folder names (replay recordings), so they hold no separators and are not
/// `.` or `..`.
fn is_file_safe(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && name.chars().any(|c| c != '.')
}

/// The case's `id` string and its node, looked up without validating the rest of the case.
fn case_id(node: &Node) -> Option<(&str, &Node)> {
    let Value::Map(entries) = &node.value else {
        return None;
    };
    entries
        .iter()
        .find_map(|(key, value)| match (&key.value, &value.value) {
            (Value::Str(key), Value::Str(id)) if key == "id" => Some((id.as_str(), value)),
            _ => None,
        })
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// `512MiB`, `2 GiB`, `1GB`, `4096` → bytes.
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return None,
    };
    number.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const MINIMAL: &str =
        "cases:\n  - id: one\n    prompt: p\n    reference: r\n    tests: \"#[test] fn t() {}\"\n";

    #[test]
    fn a_minimal_suite_gets_built_in_defaults_and_the_file_stem_as_name() {
        let validated = validate(MINIMAL, "stem").unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(validated.name, "stem");
        assert_eq!(validated.cases[0].settings, CaseSettings::default());
    }

    #[test]
    fn cases_override_defaults_which_override_built_ins() {
        let text = format!("defaults:\n  repairs: 5\n  timeout: 1m\n{MINIMAL}    repairs: 1\n");
        let validated = validate(&text, "s").unwrap_or_else(|d| panic!("{d:?}"));
        let settings = &validated.cases[0].settings;
        assert_eq!(settings.repairs, 1);
        assert_eq!(settings.timeout, Duration::from_secs(60));
    }

    #[test]
    fn samples_are_set_in_defaults_and_per_case_and_must_be_at_least_one() {
        let text = format!("defaults:\n  samples: 5\n{MINIMAL}");
        let validated = validate(&text, "s").unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(validated.cases[0].settings.samples, 5);
        let text = format!("{MINIMAL}    samples: 0\n");
        let diagnostics = validate(&text, "s").unwrap_err();
        assert_eq!(diagnostics[0].key, "cases[0].samples");
        assert_eq!(diagnostics[0].message, "0 is out of range 1..=10000");
    }

    #[test]
    fn a_misspelled_key_suggests_the_right_one() {
        let text = format!("{MINIMAL}    promt: x\n");
        let diagnostics = validate(&text, "s").unwrap_err();
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].key, "cases[0].promt");
        assert_eq!(
            diagnostics[0].hint.as_deref(),
            Some("did you mean `prompt`?")
        );
        assert_eq!((diagnostics[0].line, diagnostics[0].column), (6, 5));
    }

    #[test]
    fn every_problem_is_reported_not_only_the_first() {
        let text = "defaults:\n  timeout: soon\n  stages: [format, compile, tset]\ncases:\n  - id: a\n    prompt: \"\"\n    reference: r\n    tests: \"#[test] fn t() {}\"\n  - id: a\n    prompt: p\n    reference: r\n    tests: \"#[test] fn t() {}\"\n";
        let diagnostics = validate(text, "s").unwrap_err();
        let keys: Vec<&str> = diagnostics.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "defaults.timeout",
                "defaults.stages",
                "cases[0].prompt",
                "cases[1].id"
            ]
        );
    }

    #[test]
    fn version_ranges_pass_and_manifest_injection_does_not() {
        let ok = format!("defaults:\n  dependencies: {{ regex: \">=1.2, <2\" }}\n{MINIMAL}");
        assert!(validate(&ok, "s").is_ok());
        let bad = format!(
            "defaults:\n  dependencies: {{ regex: \"1\\\"\\npath = \\\"/etc\" }}\n{MINIMAL}"
        );
        assert_eq!(
            validate(&bad, "s").unwrap_err()[0].key,
            "defaults.dependencies.regex"
        );
    }

    #[test]
    fn names_that_would_escape_a_folder_are_rejected() {
        let text = MINIMAL.replace("id: one", "id: \"..\"");
        assert_eq!(validate(&text, "s").unwrap_err()[0].key, "cases[0].id");
        let text = format!("suite: ../up\n{MINIMAL}");
        assert_eq!(validate(&text, "s").unwrap_err()[0].key, "suite");
    }

    #[test]
    fn absurd_timeouts_are_rejected_not_overflowed() {
        let text = format!("defaults:\n  timeout: 10000000000000000000s\n{MINIMAL}");
        assert_eq!(validate(&text, "s").unwrap_err()[0].key, "defaults.timeout");
    }

    #[test]
    fn coverage_without_tests_is_rejected() {
        let text = format!("defaults:\n  stages: [format, coverage]\n{MINIMAL}");
        let diagnostics = validate(&text, "s").unwrap_err();
        assert_eq!(diagnostics[0].key, "defaults.stages");
    }

    #[test]
    fn positions_after_lone_carriage_returns_stay_inside_the_file() {
        // Fuzzing regressions: YAML ends a line at a lone `\r`, so positions count them.
        let diagnostics = validate("\r\r\r\r\r\r\r\r\r\r+\r\r\r\r\r\ra", "s").unwrap_err();
        assert_eq!((diagnostics[0].line, diagnostics[0].column), (11, 1));
        let diagnostics = validate("[formct, comjbt>\r\t\t,\tzf=\tprc\rage]s\n", "s").unwrap_err();
        assert!(diagnostics[0].line <= 3, "{diagnostics:?}");
        assert!(diagnostics[0].source_line.is_some(), "{diagnostics:?}");
    }

    mod properties {
        //! Any text a suite author may write comes through parsing unchanged.

        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            /// JSON is YAML, so a suite written as JSON with arbitrary strings must come back
            /// with exactly those strings: colons, quotes, `#`, tabs, control characters and
            /// all of Unicode.
            #[test]
            fn any_prompt_and_code_survive_parsing(
                prompt in "\\PC*[^\\s\\p{C}]\\PC*",
                reference in "\\PC*[^\\s\\p{C}]\\PC*",
                control in "[\\x00-\\x1f]{0,3}",
            ) {
                let prompt = format!("{control}{prompt}");
                let tests = format!("#[test] fn t() {{}} // {reference}");
                let suite = serde_json::json!({
                    "cases": [{ "id": "a", "prompt": prompt, "reference": reference, "tests": tests }]
                });
                let validated = validate(&suite.to_string(), "s").map_err(|d| {
                    TestCaseError::fail(format!("{d:?}"))
                })?;
                prop_assert_eq!(&validated.cases[0].prompt, &prompt);
                prop_assert_eq!(&validated.cases[0].reference, &reference);
                prop_assert_eq!(&validated.cases[0].tests, &tests);
            }
        }
    }

    #[test]
    fn limits_set_in_defaults_are_overridden_key_by_key_in_a_case() {
        let text = "defaults:\n  limits: {memory: 4GiB, output: 2MiB}\ncases:\n  - id: a\n    prompt: p\n    reference: r\n    tests: \"#[test] fn t() {}\"\n    limits:\n      processes: 8\n";
        let validated = validate(text, "s").unwrap();
        let limits = validated.cases[0].settings.limits;
        assert_eq!(
            (limits.memory_bytes, limits.output_bytes, limits.processes),
            (4 << 30, 2 << 20, 8)
        );
        assert_eq!(limits.file_bytes, TestLimits::default().file_bytes);
    }

    #[test]
    fn a_limit_that_is_not_a_size_is_reported_at_its_key() {
        let text =
            format!("defaults:\n  limits:\n    memory: lots\n    file-sise: 1MiB\n{MINIMAL}");
        let keys: Vec<String> = validate(&text, "s")
            .unwrap_err()
            .into_iter()
            .map(|diagnostic| diagnostic.key)
            .collect();
        assert_eq!(
            keys,
            ["defaults.limits.memory", "defaults.limits.file-sise"]
        );
    }
}
