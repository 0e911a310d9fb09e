//! Models behind one trait: a request goes in, an answer streams out, metrics come back.
//!
//! The only module that will know HTTP; for now the two offline providers live here:
//! `reference` (each case's reference answer) and `replay:DIR` (recorded answers).

mod reference;
mod replay;

pub use reference::ReferenceProvider;
pub use replay::ReplayProvider;

use crate::suite::{Case, Mode};
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// `PROVIDER:MODEL`, split at the first colon (`ollama:qwen2.5-coder:7b`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ModelSpec {
    pub provider: String,
    pub model: String,
}

impl ModelSpec {
    /// Parses a model spec; the two offline providers need no model name.
    pub fn parse(spec: &str) -> Result<ModelSpec, String> {
        let spec = spec.trim();
        match spec.split_once(':') {
            Some((provider, model)) if !provider.is_empty() && !model.is_empty() => Ok(ModelSpec {
                provider: provider.to_owned(),
                model: model.to_owned(),
            }),
            None if spec == "reference" => Ok(ModelSpec {
                provider: "reference".to_owned(),
                model: "reference".to_owned(),
            }),
            _ => Err(format!("`{spec}` is not a model: write PROVIDER:MODEL, such as `ollama:qwen2.5-coder:7b`, `replay:DIR` or `reference`")),
        }
    }
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.provider == "reference" {
            f.write_str("reference")
        } else {
            write!(f, "{}:{}", self.provider, self.model)
        }
    }
}

/// One chat or completion message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

/// What a model is asked: the conversation so far (a repair adds the failed answer and its
/// diagnostics), plus the sampling settings of the case.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub suite: &'a str,
    pub case: &'a Case,
    pub sample: u32,
    /// 0 for the first answer, n for the n-th repair.
    pub attempt: u32,
    pub mode: Mode,
    pub messages: Vec<Message>,
    pub temperature: f64,
    pub max_tokens: u32,
    pub seed: Option<u64>,
}

/// Where a timing came from: the server's own clock is better when it reports one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimingSource {
    Server,
    Client,
    /// An offline provider: nothing was generated, so there is nothing to time.
    None,
}

/// Speed and size of one generation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenerationMetrics {
    pub ttft: Option<Duration>,
    pub generation_time: Duration,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub tokens_per_second: Option<f64>,
    pub timing_source: TimingSource,
}

impl GenerationMetrics {
    pub fn offline(generation_time: Duration) -> GenerationMetrics {
        GenerationMetrics {
            ttft: None,
            generation_time,
            prompt_tokens: None,
            completion_tokens: None,
            tokens_per_second: None,
            timing_source: TimingSource::None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Generation {
    pub text: String,
    pub metrics: GenerationMetrics,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider cannot be used at all (unreachable, auth, model missing): the run stops.
    #[error("{0}")]
    Unavailable(String),
    /// This one request failed; the case is recorded as a provider error and the run goes on.
    #[error("{0}")]
    Request(String),
    /// The provider has no further answer for this conversation (a replay without a recorded
    /// repair); the attempts so far stand.
    #[error("no further answer")]
    Exhausted,
}

/// A model that writes code. Implementations stream tokens to `on_token` as they arrive.
pub trait Provider: Send + Sync {
    /// Whether a repair request can get a different answer; `reference` cannot.
    fn repairs(&self) -> bool {
        true
    }

    fn generate(
        &self,
        request: &Request,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<Generation, ProviderError>;
}

/// Builds the provider for a model spec.
pub fn connect(spec: &ModelSpec) -> Result<Box<dyn Provider>, ProviderError> {
    match spec.provider.as_str() {
        "reference" => Ok(Box::new(ReferenceProvider)),
        "replay" => Ok(Box::new(ReplayProvider::open(std::path::Path::new(
            &spec.model,
        ))?)),
        other => Err(ProviderError::Unavailable(format!(
            "provider `{other}` is not available in this version: use `reference` or `replay:DIR`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_spec_splits_at_the_first_colon() {
        let spec = ModelSpec::parse("ollama:qwen2.5-coder:7b").unwrap();
        assert_eq!(
            (spec.provider.as_str(), spec.model.as_str()),
            ("ollama", "qwen2.5-coder:7b")
        );
    }

    #[test]
    fn reference_needs_no_model_name() {
        let spec = ModelSpec::parse("reference").unwrap();
        assert_eq!(spec.to_string(), "reference");
        assert_eq!(spec.model, "reference");
    }

    #[test]
    fn a_spec_without_a_model_is_rejected() {
        assert!(ModelSpec::parse("ollama").is_err());
        assert!(ModelSpec::parse(":x").is_err());
    }
}
