//! Models behind one type: a request goes in, an answer streams out, metrics come back.
//!
//! The only module that knows HTTP. A provider is told only what the model is asked (the
//! messages, the mode and the sampling settings) and the attempt's key; the hidden tests and the
//! reference never cross into this module. The two offline providers, `reference` and
//! `replay:DIR`, get what they answer by that key; the network ones speak Ollama's native API
//! (local and cloud), Gemini's and the OpenAI-compatible one, each a thin client of our own.

mod cache;
mod connect;
mod framing;
mod gemini;
mod http;
mod metrics;
mod ollama;
mod openai;
mod profile;
mod reference;
mod replay;
mod retry;
mod wire;

pub use cache::{
    AnswerLog, AnswerStore, Answered, CachedProvider, EarlierAnswer, RequestHash, ResponseCache,
    StoredGeneration,
};
pub use connect::{
    connect, connect_provider, connect_provider_with_env, connect_with_env, Environment,
};
pub use gemini::GeminiProvider;
pub use ollama::OllamaProvider;
pub use openai::OpenAiProvider;
pub use profile::{KeepAlive, ProviderKind, ProviderProfile, Think};
pub use reference::ReferenceProvider;
pub use replay::ReplayProvider;

use crate::suite::Mode;
use serde::{Deserialize, Serialize};
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

/// Which answer of which conversation: suite, case id, sample, attempt (0 for the first answer,
/// n for the n-th repair). The runner keys everything by it, and the offline providers find
/// their answer by it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttemptKey {
    pub suite: String,
    pub case: String,
    pub sample: u32,
    pub attempt: u32,
}

impl fmt::Display for AttemptKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} sample {} attempt {}",
            self.suite, self.case, self.sample, self.attempt
        )
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

/// Sampling settings of one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    pub temperature: f64,
    pub max_tokens: u32,
    pub seed: Option<u64>,
}

/// What a model is asked: the conversation so far (a repair adds the failed answer and its
/// diagnostics), the mode, and the sampling settings. In completion mode the last user message
/// is the raw prompt.
#[derive(Debug, Clone)]
pub struct Request {
    pub key: AttemptKey,
    pub mode: Mode,
    pub messages: Vec<Message>,
    pub sampling: Sampling,
}

/// Where a number came from: the server's own clock or counter is better when it reports one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Server,
    Client,
    /// An offline provider: nothing was generated, so there is nothing to measure.
    None,
}

/// Why generation ended. Everything but `Finished` makes the attempt invalid: the run, not the
/// model, is to blame (a budget too small, a context window too short).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GenerationEnd {
    /// The model stopped by itself.
    Finished,
    /// The answer hit `max_tokens`.
    MaxTokens,
    /// The prompt was cut to fit the context window (Ollama's silent truncation).
    PromptTruncated {
        sent_tokens: u64,
        expected_tokens: u64,
    },
    /// Thinking used the whole budget and no answer came.
    ThinkingExhausted,
}

impl GenerationEnd {
    pub fn is_valid(&self) -> bool {
        matches!(self, GenerationEnd::Finished)
    }
}

/// Speed and size of one generation. Every number is optional: servers leave fields out.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationMetrics {
    /// Request sent → first token, thinking included.
    pub ttft: Option<Duration>,
    /// Request sent → first token of the answer itself (after any thinking).
    pub ttft_answer: Option<Duration>,
    /// Request sent → end of the stream, on our clock.
    pub generation_time: Duration,
    pub prompt_tokens: Option<u64>,
    /// Every generated token, thinking included.
    pub completion_tokens: Option<u64>,
    pub tokens_source: Source,
    pub decode_tokens_per_second: Option<f64>,
    pub decode_source: Source,
    pub prefill_tokens_per_second: Option<f64>,
    /// The server's prompt-processing time (Ollama `prompt_eval_duration`, llama.cpp
    /// `timings.prompt_ms`), reported beside the client's TTFT, never instead of it.
    pub server_prompt_time: Option<Duration>,
    /// Model load time the server reported for this request (should be ~0 after warm-up).
    pub load_time: Option<Duration>,
    /// Requests retried before this answer, and the time spent waiting between them.
    pub retries: u32,
    pub retry_wait: Duration,
}

impl GenerationMetrics {
    pub fn offline(generation_time: Duration) -> GenerationMetrics {
        GenerationMetrics {
            ttft: None,
            ttft_answer: None,
            generation_time,
            prompt_tokens: None,
            completion_tokens: None,
            tokens_source: Source::None,
            decode_tokens_per_second: None,
            decode_source: Source::None,
            prefill_tokens_per_second: None,
            server_prompt_time: None,
            load_time: None,
            retries: 0,
            retry_wait: Duration::ZERO,
        }
    }
}

/// A finished generation: the answer text (thinking kept apart), why it ended, and its metrics.
#[derive(Debug, Clone)]
pub struct Generation {
    pub text: String,
    pub thinking: String,
    pub end: GenerationEnd,
    pub metrics: GenerationMetrics,
}

/// Retries spent on a request that failed anyway.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retries {
    pub count: u32,
    pub waited: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The model cannot be used for the rest of the run (unreachable, auth, model missing,
    /// quota exhausted): its remaining work stops, the other models go on.
    #[error("{reason}")]
    Unusable { reason: String, retries: Retries },
    /// This one request failed after its retries (a timeout, a mid-stream error, an incomplete
    /// stream); the attempt is invalid and the run goes on.
    #[error("{reason}")]
    Failed {
        reason: String,
        timed_out: bool,
        retries: Retries,
    },
    /// The provider has no further answer for this conversation (a replay without a recorded
    /// repair); the attempts so far stand.
    #[error("no further answer")]
    Exhausted,
}

/// What happens during a request that is worth showing while it runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProviderEvent {
    /// The request is waiting this long before retry number `retry`.
    Retrying { retry: u32, wait: Duration },
    /// The first token arrived.
    FirstToken,
}

/// How hard a provider may be pushed: shared by every model of one profile (one server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Least time between two requests' starts.
    pub delay: Duration,
}

impl Default for RequestLimits {
    fn default() -> RequestLimits {
        RequestLimits {
            concurrency: 1,
            delay: Duration::ZERO,
        }
    }
}

/// What `prepare` learned: the model exists and is loaded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prepared {
    /// How long loading the model took, when the server said or we could time it.
    pub load_time: Option<Duration>,
}

/// One model a provider offers, with what the provider says about it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub family: Option<String>,
    /// As the provider writes it (`7.6B`).
    pub parameter_size: Option<String>,
    pub quantization: Option<String>,
    pub context_length: Option<u64>,
    pub size_bytes: Option<u64>,
    /// Served by a remote host on the provider's behalf (Ollama's `-cloud` models).
    pub remote: bool,
}

/// A model that writes code, with the provider that serves it.
#[derive(Debug)]
pub enum Provider {
    Reference(ReferenceProvider),
    Replay(ReplayProvider),
    /// Ollama's native API: a local server (cloud models through it too) or ollama.com.
    Ollama(OllamaProvider),
    Gemini(GeminiProvider),
    /// An OpenAI-compatible server: llama.cpp, vLLM, LM Studio, OpenRouter, OpenAI.
    OpenAi(OpenAiProvider),
    /// A network provider whose answers are looked up in the run's journal and the response
    /// cache before the model is asked.
    Cached(Box<CachedProvider>),
}

impl Provider {
    /// Whether a repair request can get a different answer; `reference` cannot.
    pub fn repairs(&self) -> bool {
        match self {
            Provider::Cached(provider) => provider.repairs(),
            provider => !matches!(provider, Provider::Reference(_)),
        }
    }

    /// Whether the model runs on this machine (a loopback URL, and not a cloud model the local
    /// Ollama forwards), so that our own builds would slow it down and must not overlap its
    /// generation.
    pub fn is_local(&self) -> bool {
        match self {
            Provider::Reference(_) | Provider::Replay(_) => false,
            Provider::Ollama(provider) => provider.is_local(),
            Provider::Gemini(provider) => provider.endpoint().is_local(),
            Provider::OpenAi(provider) => provider.endpoint().is_local(),
            Provider::Cached(provider) => provider.is_local(),
        }
    }

    /// The profile's concurrency and spacing of requests: by default one request at a time to a
    /// server on this machine (so speeds are measured alone), four to a remote one.
    pub fn limits(&self) -> RequestLimits {
        let endpoint = match self {
            // Offline answers cost nothing; any number may be in flight.
            Provider::Reference(_) | Provider::Replay(_) => {
                return RequestLimits {
                    concurrency: 64,
                    delay: Duration::ZERO,
                }
            }
            Provider::Ollama(provider) => provider.endpoint(),
            Provider::Gemini(provider) => provider.endpoint(),
            Provider::OpenAi(provider) => provider.endpoint(),
            Provider::Cached(provider) => return provider.limits(),
        };
        let default_concurrency = if self.is_local() { 1 } else { 4 };
        RequestLimits {
            concurrency: endpoint.limits.concurrency.unwrap_or(default_concurrency),
            delay: endpoint.limits.delay,
        }
    }

    /// Checks that the model exists and loads it, so that no request's timing pays for the
    /// load. An unknown model is `Unusable`, with a hint naming the models that do exist.
    pub async fn prepare(&self) -> Result<Prepared, ProviderError> {
        match self {
            Provider::Reference(_) | Provider::Replay(_) => Ok(Prepared::default()),
            Provider::Ollama(provider) => provider.prepare().await,
            Provider::Gemini(provider) => provider.prepare().await,
            Provider::OpenAi(provider) => provider.prepare().await,
            Provider::Cached(provider) => provider.prepare().await,
        }
    }

    /// Asks the model once. `on_event` hears about retries and the first token.
    pub async fn generate(
        &self,
        request: &Request,
        on_event: &(dyn Fn(ProviderEvent) + Send + Sync),
    ) -> Result<Generation, ProviderError> {
        match self {
            Provider::Reference(provider) => provider.generate(request),
            Provider::Replay(provider) => provider.generate(request),
            Provider::Ollama(provider) => provider.generate(request, on_event).await,
            Provider::Gemini(provider) => provider.generate(request, on_event).await,
            Provider::OpenAi(provider) => provider.generate(request, on_event).await,
            Provider::Cached(provider) => provider.generate(request, on_event).await,
        }
    }

    /// The memory the loaded model takes, where the provider tells it (Ollama's `/api/ps`).
    pub async fn memory_in_use(&self) -> Option<u64> {
        match self {
            Provider::Ollama(provider) => provider.memory_in_use().await,
            _ => None,
        }
    }

    /// The models the provider offers, with what it says about them.
    pub async fn list_models(&self) -> Result<Vec<ModelInfo>, ProviderError> {
        match self {
            Provider::Reference(_) | Provider::Replay(_) => Err(ProviderError::Unusable {
                reason: "offline providers have no models to list".to_owned(),
                retries: Retries::default(),
            }),
            Provider::Ollama(provider) => provider.list_models().await,
            Provider::Gemini(provider) => provider.list_models().await,
            Provider::OpenAi(provider) => provider.list_models().await,
            Provider::Cached(provider) => provider.list_models().await,
        }
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
    fn providers_and_their_requests_can_cross_threads() {
        fn send_sync<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: T) {}
        let provider = connect(
            &ModelSpec::parse("ollama:qwen3").unwrap(),
            &std::collections::BTreeMap::new(),
        )
        .unwrap();
        send_sync(&provider);
        let request = Request {
            key: AttemptKey {
                suite: "s".into(),
                case: "c".into(),
                sample: 0,
                attempt: 0,
            },
            mode: Mode::Chat,
            messages: Vec::new(),
            sampling: Sampling {
                temperature: 0.0,
                max_tokens: 8,
                seed: None,
            },
        };
        let quiet = |_: ProviderEvent| {};
        send(provider.generate(&request, &quiet));
        send(provider.prepare());
        send(provider.list_models());
    }

    #[test]
    fn a_spec_without_a_model_is_rejected() {
        assert!(ModelSpec::parse("ollama").is_err());
        assert!(ModelSpec::parse(":x").is_err());
    }
}
