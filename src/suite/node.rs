//! A YAML document as a tree of located nodes, so validation can report every problem at once.
//!
//! serde stops at the first error; reading into this generic tree first and validating it by hand
//! lets us collect every unknown key, duplicate key and wrong type with its line and column.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// Where a node starts in its file (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub line: u64,
    pub column: u64,
}

/// One YAML node with the position where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub position: Position,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in document order; duplicates are kept so validation can report them.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// A short name of the YAML type, for messages such as "expected a string, found a list".
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(deserializer)?;
        Ok(Node {
            position: Position {
                line: spanned.referenced.line(),
                column: spanned.referenced.column(),
            },
            value: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<Node, Node>()? {
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

/// The lines of YAML text as YAML counts them: `\r\n`, `\r` and `\n` all end a line, while
/// `str::lines` does not split at a lone `\r` (and so would count positions differently).
pub fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            Some(end) => {
                let ending = if current[end..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&current[end + ending..]);
                Some(&current[..end])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// A YAML syntax error: where it is, what the parser said, and what usually fixes it.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub position: Position,
    pub message: String,
    pub hint: Option<String>,
}

/// How much YAML a suite may hold. The crate's defaults (250,000 nodes) would reject a suite of
/// some 20,000 cases; suites are written by people, not attackers, so the counts are raised
/// while the alias limits that stop "billion laughs" documents stay as they are.
fn budget() -> serde_saphyr::Budget {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_events = 20_000_000;
    budget.max_nodes = 10_000_000;
    budget.max_total_scalar_bytes = 1024 * 1024 * 1024;
    budget
}

/// Parses YAML text into a located tree; a syntax error comes back with its position.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
        budget: Some(budget()),
        // Our own renderer names the real file and prints the position once.
        with_snippet: false,
    };
    serde_saphyr::from_str_with_options::<Node>(text, options)
        .map_err(|error| syntax_error(text, &error))
}

fn syntax_error(text: &str, error: &serde_saphyr::Error) -> SyntaxError {
    use serde_saphyr::MessageFormatter;
    let mut position = error
        .location()
        .map(|location| Position {
            line: location.line().max(1),
            column: location.column().max(1),
        })
        .unwrap_or(Position { line: 1, column: 1 });
    // The message without the crate's own "line X column Y" and snippet; control characters
    // are escaped because the message may quote the document.
    let message: String = serde_saphyr::DefaultMessageFormatter
        .format_message(error.without_snippet())
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_debug().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    let mut hint = None;
    if message.contains("found a tab") || message.contains("tabs") {
        // The parser reports the scalar before the tab; the tab itself is what to fix.
        if let Some(tab) = first_tab_in_indentation(text, position.line) {
            position = tab;
        }
        hint = Some("YAML indents with spaces; replace the tab with spaces".to_owned());
    } else if message.contains("mapping values are not allowed")
        && value_holds_colon(text, position)
    {
        hint = Some(
            "this value holds `: `, which YAML reads as the start of another key; \
             quote the whole value (\"...\") or write it as a block: `key: |` and the text \
             indented on the lines below"
                .to_owned(),
        );
    } else if message.contains("trailing content after") && message.contains("quoted scalar") {
        // A quoted value may span lines, so a missing closing quote shows up only where the
        // next quote "closes" it; the opening quote is what to look at.
        let quote = if message.contains("double") {
            '"'
        } else {
            '\''
        };
        if let Some(opened) = unclosed_quote_before(text, position.line, quote) {
            hint = Some(format!(
                "the quoted value opened at {}:{} runs on to here; is its closing quote missing?",
                opened.line, opened.column
            ));
        }
    } else if message.contains("unexpected character") {
        // The parser points at the start of the scalar; the character itself is what to fix.
        if let Some(found) = first_unprintable(text, position.line) {
            position = found;
        }
        hint = Some(
            "YAML allows no control characters in the file itself; write them as escapes \
             in a double-quoted string, such as \"\\u0007\""
                .to_owned(),
        );
    } else if message.contains("illegal placement of ':'") {
        // Inside `[...]` or `{...}` a new line does not end the value, so a missing closing
        // bracket shows up only at the next key's colon.
        if let Some(opened) = unclosed_bracket_before(text, position.line) {
            hint = Some(format!(
                "the `{}` opened at {}:{} is not closed, so the lines after it belong to it",
                opened.1, opened.0.line, opened.0.column
            ));
        }
    }
    SyntaxError {
        position,
        message,
        hint,
    }
}

/// The last `[` or `{` left open on the nearest line above `line` that leaves one open.
fn unclosed_bracket_before(text: &str, line: u64) -> Option<(Position, char)> {
    let above = usize::try_from(line.saturating_sub(1)).ok()?;
    let above: Vec<&str> = lines(text).take(above).collect();
    above.iter().enumerate().rev().find_map(|(index, content)| {
        let mut open = Vec::new();
        for (column, c) in content.chars().enumerate() {
            match c {
                '[' | '{' => open.push((column, c)),
                ']' | '}' => {
                    open.pop();
                }
                _ => {}
            }
        }
        open.last().map(|&(column, c)| {
            (
                Position {
                    line: index as u64 + 1,
                    column: column as u64 + 1,
                },
                c,
            )
        })
    })
}

/// The nearest line above `line` with an odd number of `quote` characters, and the column of
/// its last one: where a quoted value was most likely left open.
fn unclosed_quote_before(text: &str, line: u64, quote: char) -> Option<Position> {
    let above = usize::try_from(line.saturating_sub(1)).ok()?;
    let above: Vec<&str> = lines(text).take(above).collect();
    above.iter().enumerate().rev().find_map(|(index, content)| {
        let quotes: Vec<usize> = content
            .chars()
            .enumerate()
            .filter(|(_, c)| *c == quote)
            .map(|(column, _)| column)
            .collect();
        let last = *quotes.last()?;
        (quotes.len() % 2 == 1).then_some(Position {
            line: index as u64 + 1,
            column: last as u64 + 1,
        })
    })
}

/// The first tab in a line's leading whitespace, at or after `from_line`.
fn first_tab_in_indentation(text: &str, from_line: u64) -> Option<Position> {
    lines(text)
        .enumerate()
        .skip(usize::try_from(from_line.saturating_sub(1)).ok()?)
        .find_map(|(index, line)| {
            let indentation = line.len() - line.trim_start_matches([' ', '\t']).len();
            let column = line[..indentation].find('\t')?;
            Some(Position {
                line: index as u64 + 1,
                column: column as u64 + 1,
            })
        })
}

/// The first character YAML does not allow in a stream (control characters other than tab and
/// line ends, C1 controls other than NEL, U+FFFE and U+FFFF), at or after `from_line`.
fn first_unprintable(text: &str, from_line: u64) -> Option<Position> {
    let unprintable = |c: char| {
        (c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{85}'))
            || matches!(c, '\u{FFFE}' | '\u{FFFF}')
    };
    lines(text)
        .enumerate()
        .skip(usize::try_from(from_line.saturating_sub(1)).ok()?)
        .find_map(|(index, line)| {
            let column = line.chars().position(unprintable)?;
            Some(Position {
                line: index as u64 + 1,
                column: column as u64 + 1,
            })
        })
}

/// Whether the error points into the value of a `key: value` line, after the key's colon: the
/// plain value then holds a second `: `.
fn value_holds_colon(text: &str, position: Position) -> bool {
    let Some(line) = usize::try_from(position.line.saturating_sub(1))
        .ok()
        .and_then(|index| lines(text).nth(index))
    else {
        return false;
    };
    let before: String = line
        .chars()
        .take(usize::try_from(position.column.saturating_sub(1)).unwrap_or(usize::MAX))
        .collect();
    let content = before.trim_start().trim_start_matches("- ");
    content
        .find(": ")
        .is_some_and(|first_colon| first_colon + 2 < content.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_know_where_they_start() {
        let node = parse("a: 1\nb:\n  - x\n  - 2.5\n").unwrap();
        let Value::Map(entries) = node.value else {
            panic!("expected a map")
        };
        assert_eq!(entries[1].0.position, Position { line: 2, column: 1 });
        let Value::Seq(items) = &entries[1].1.value else {
            panic!("expected a list")
        };
        assert_eq!(items[1].position, Position { line: 4, column: 5 });
        assert_eq!(items[1].value, Value::Float(2.5));
    }

    #[test]
    fn duplicate_keys_are_kept_for_validation() {
        let node = parse("a: 1\na: 2\n").unwrap();
        let Value::Map(entries) = node.value else {
            panic!("expected a map")
        };
        assert_eq!(entries.len(), 2);
    }

    #[test]
    fn a_lone_carriage_return_ends_a_line_as_it_does_for_the_parser() {
        // Found by fuzzing: positions counted `\r` as a line break, excerpts did not.
        let text = "a: 1\rb: x: y\r";
        let error = parse(text).unwrap_err();
        assert_eq!(error.position.line, 2);
        assert_eq!(lines(text).nth(1), Some("b: x: y"));
        assert_eq!(lines("a\r\nb\nc").collect::<Vec<_>>(), ["a", "b", "c"]);
        // A `\r` at the very end still ends its line (found by fuzzing, too).
        assert_eq!(lines("a\r").collect::<Vec<_>>(), ["a", ""]);
        let error = parse("%erareference: : 1 couBBBBBBBBBBBDBB#BB!str\r").unwrap_err();
        assert_eq!(error.position.line, 2);
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let error = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(error.position.line >= 1);
    }
}
