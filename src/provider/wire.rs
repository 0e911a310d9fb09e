//! What the wire formats share: lenient JSON field access, the extra-body merge, prompt size
//! estimates and the finished answer of one try.
//!
//! Responses are read as `serde_json::Value` and picked apart field by field, so a missing or
//! oddly typed field costs only itself, never the whole chunk (PROTOCOLS.md §0.1).

use super::metrics::{ClientNumbers, ServerNumbers, Transcript};
use super::{GenerationEnd, Message, Request};
use crate::suite::Mode;
use serde_json::Value;
use std::time::Instant;

/// The string at a path of object keys, if it is one.
pub fn text<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(value, path)?.as_str()
}

/// The non-negative integer at a path; integral floats count too (some fronts send `12.0`).
pub fn count(value: &Value, path: &[&str]) -> Option<u64> {
    let value = at(value, path)?;
    value.as_u64().or_else(|| {
        let float = value.as_f64()?;
        (float >= 0.0 && float.fract() == 0.0 && float < u64::MAX as f64).then_some(float as u64)
    })
}

pub fn number(value: &Value, path: &[&str]) -> Option<f64> {
    at(value, path)?
        .as_f64()
        .filter(|number| number.is_finite())
}

pub fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(value, |value, key| value.get(key))
        .filter(|value| !value.is_null())
}

/// Merges `extra` into `body`, objects key by key, anything else replaced.
pub fn merge(body: &mut Value, extra: &Value) {
    match (body, extra) {
        (Value::Object(body), Value::Object(extra)) => {
            for (key, value) in extra {
                match body.get_mut(key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        body.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (body, extra) => *body = extra.clone(),
    }
}

/// The raw prompt of a completion-mode request: the last user message.
pub fn completion_prompt(request: &Request) -> &str {
    request
        .messages
        .iter()
        .rev()
        .find(|message| message.role == super::Role::User)
        .map_or("", |message| message.content.as_str())
}

/// The messages a request actually sends.
pub fn sent_text_chars(request: &Request) -> usize {
    match request.mode {
        Mode::Chat => request
            .messages
            .iter()
            .map(|Message { content, .. }| content.chars().count())
            .sum(),
        Mode::Completion => completion_prompt(request).chars().count(),
    }
}

/// Prompt size in tokens, estimated without a tokenizer. `generous` (3 characters a token,
/// plus room for the chat template) sizes a context window; `modest` (4 characters a token,
/// no template) is the least a server should report having read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromptEstimate {
    pub generous: u64,
    pub modest: u64,
}

pub fn estimate_prompt(request: &Request) -> PromptEstimate {
    let chars = sent_text_chars(request) as u64;
    let template = match request.mode {
        Mode::Chat => 16 * request.messages.len() as u64 + 64,
        Mode::Completion => 8,
    };
    PromptEstimate {
        generous: chars.div_ceil(3) + template,
        modest: chars / 4,
    }
}

/// The outcome of one successful try, before retries are known.
#[derive(Debug)]
pub struct Streamed {
    pub transcript: Transcript,
    pub end: GenerationEnd,
    pub server: ServerNumbers,
    pub client: ClientNumbers,
    pub done: Instant,
}

impl Streamed {
    /// The generation, now that the retries it took are known.
    pub fn into_generation(self, retries: super::Retries) -> super::Generation {
        let metrics = super::metrics::metrics(
            &self.transcript,
            self.server,
            self.client,
            self.done,
            retries,
        );
        super::Generation {
            text: self.transcript.text,
            thinking: self.transcript.thinking,
            end: self.end,
            metrics,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_field_of_the_wrong_type_costs_only_itself() {
        let chunk =
            json!({"eval_count": "12", "prompt_eval_count": 48.0, "message": {"content": null}});
        assert_eq!(count(&chunk, &["eval_count"]), None);
        assert_eq!(count(&chunk, &["prompt_eval_count"]), Some(48));
        assert_eq!(text(&chunk, &["message", "content"]), None);
    }

    #[test]
    fn extra_body_merges_into_nested_objects() {
        let mut body = json!({"options": {"num_ctx": 4096}, "stream": true});
        merge(
            &mut body,
            &json!({"options": {"top_k": 20}, "stream": false}),
        );
        assert_eq!(
            body,
            json!({"options": {"num_ctx": 4096, "top_k": 20}, "stream": false})
        );
    }
}
