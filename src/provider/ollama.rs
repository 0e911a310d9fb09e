//! Ollama's native API (PROTOCOLS.md §1, §2): a local server, cloud models through it, and
//! ollama.com directly.
//!
//! Chat mode streams `/api/chat`, completion mode streams `/api/generate` with `raw:true`; both
//! are NDJSON ending in a `done:true` line. The context window is always sent (`num_ctx`),
//! sized from the prompt and `max_tokens` and never shrunk during a run, because Ollama
//! reloads the model whenever it changes.

use super::http::{CallFailure, Endpoint, Framing, StreamDecoder};
use super::metrics::{rate_from_nanos, ServerNumbers, Transcript};
use super::retry::{classify_stream_error, ErrorBody, Fault};
use super::wire::{self, count, estimate_prompt, text, Streamed};
use super::{
    Generation, GenerationEnd, ModelInfo, Prepared, ProviderError, ProviderEvent, Request, Retries,
};
use crate::suite::Mode;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The smallest context window asked for: Ollama's own default on small machines, so a short
/// prompt does not make the server reload the model.
const MIN_CONTEXT: u64 = 4096;

#[derive(Debug)]
pub struct OllamaProvider {
    endpoint: Endpoint,
    /// The name as sent: a `-cloud` suffix is dropped when talking to ollama.com directly.
    model: String,
    /// Talking to ollama.com itself rather than a local server.
    direct_cloud: bool,
    /// The model runs on ollama.com (directly, or a `-cloud` model through the local server).
    remote_model: AtomicBool,
    keep_alive: Value,
    think: Option<Value>,
    num_ctx: Option<u32>,
    extra_body: Option<Value>,
    context: tokio::sync::Mutex<ContextState>,
}

#[derive(Debug, Default)]
struct ContextState {
    /// The model's own limit (`/api/show`), or less if the server allocated less (`/api/ps`).
    limit: Option<u64>,
    /// The window the server has the model loaded with, as far as we asked.
    loaded: Option<u64>,
}

/// What `OllamaProvider::new` needs beyond the endpoint.
#[derive(Debug)]
pub struct OllamaSettings {
    pub model: String,
    pub direct_cloud: bool,
    pub keep_alive: Value,
    pub think: Option<Value>,
    pub num_ctx: Option<u32>,
    pub extra_body: Option<Value>,
}

/// Whether a model name asks the local server for a cloud model (`gpt-oss:120b-cloud`,
/// `gpt-oss:cloud`).
pub fn is_cloud_name(model: &str) -> bool {
    model.ends_with("-cloud") || model.ends_with(":cloud")
}

/// The bare name ollama.com itself knows (`gpt-oss:120b-cloud` → `gpt-oss:120b`).
fn bare_cloud_name(model: &str) -> &str {
    model
        .strip_suffix(":cloud")
        .or_else(|| model.strip_suffix("-cloud"))
        .unwrap_or(model)
}

/// `name` with Ollama's default tag, for comparing names (`qwen3` is `qwen3:latest`).
fn with_tag(name: &str) -> String {
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    if last_segment.contains(':') {
        name.to_owned()
    } else {
        format!("{name}:latest")
    }
}

impl OllamaProvider {
    pub fn new(endpoint: Endpoint, settings: OllamaSettings) -> OllamaProvider {
        let OllamaSettings {
            model,
            direct_cloud,
            keep_alive,
            think,
            num_ctx,
            extra_body,
        } = settings;
        let remote = direct_cloud || is_cloud_name(&model);
        let model = if direct_cloud {
            bare_cloud_name(&model).to_owned()
        } else {
            model
        };
        OllamaProvider {
            endpoint,
            model,
            direct_cloud,
            remote_model: AtomicBool::new(remote),
            keep_alive,
            think,
            num_ctx,
            extra_body,
            context: tokio::sync::Mutex::new(ContextState::default()),
        }
    }

    pub(super) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub fn is_local(&self) -> bool {
        self.endpoint.is_local() && !self.remote_model.load(Ordering::Relaxed)
    }

    /// `GET /api/version`.
    pub(super) async fn version(&self) -> Result<String, CallFailure> {
        let value = self
            .endpoint
            .json(Method::GET, self.endpoint.url("/api/version"), None)
            .await?;
        Ok(text(&value, &["version"]).unwrap_or_default().to_owned())
    }

    /// `GET /api/tags`: the models the server has.
    pub async fn list_models(&self) -> Result<Vec<ModelInfo>, ProviderError> {
        let mut models = self.tags().await.map_err(|failure| failure.error)?;
        if !self.direct_cloud {
            for model in models
                .iter_mut()
                .filter(|model| !model.remote && model.context_length.is_none())
            {
                if let Ok(show) = self.show(&model.name).await {
                    model.context_length = show.context_length;
                }
            }
        }
        Ok(models)
    }

    async fn tags(&self) -> Result<Vec<ModelInfo>, CallFailure> {
        let value = self
            .endpoint
            .json(Method::GET, self.endpoint.url("/api/tags"), None)
            .await?;
        let models = wire::at(&value, &["models"])
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        Ok(models.iter().filter_map(model_info).collect())
    }

    /// `POST /api/show`: details of one model.
    async fn show(&self, model: &str) -> Result<Shown, CallFailure> {
        let value = self
            .endpoint
            .json(
                Method::POST,
                self.endpoint.url("/api/show"),
                Some(&json!({"model": model, "verbose": false})),
            )
            .await?;
        let context_length = wire::at(&value, &["model_info"])
            .and_then(Value::as_object)
            .and_then(|info| {
                info.iter()
                    .find(|(key, _)| key.ends_with(".context_length"))
                    .and_then(|(_, value)| value.as_u64())
            })
            .or_else(|| count(&value, &["details", "context_length"]));
        Ok(Shown {
            context_length,
            remote: wire::at(&value, &["remote_host"]).is_some(),
        })
    }

    /// `GET /api/ps`: the context the server actually allocated for our model, if loaded.
    async fn allocated_context(&self) -> Option<u64> {
        count(&self.loaded_entry().await?, &["context_length"])
    }

    /// `GET /api/ps`: the memory our loaded model takes, in bytes (`size`; the share in video
    /// memory is part of it). None when the model is not loaded or the server does not say.
    pub async fn memory_in_use(&self) -> Option<u64> {
        count(&self.loaded_entry().await?, &["size"])
    }

    /// Our model's entry in `GET /api/ps`, when it is loaded.
    async fn loaded_entry(&self) -> Option<Value> {
        let value = self
            .endpoint
            .json(Method::GET, self.endpoint.url("/api/ps"), None)
            .await
            .ok()?;
        let wanted = with_tag(&self.model);
        wire::at(&value, &["models"])?
            .as_array()?
            .iter()
            .find(|entry| {
                [&["name"][..], &["model"][..]]
                    .iter()
                    .any(|path| text(entry, path).map(with_tag).as_deref() == Some(&wanted))
            })
            .cloned()
    }

    /// Checks the model exists (else `Unusable` with `ollama pull` and the names there are),
    /// learns its context length and loads it.
    pub async fn prepare(&self) -> Result<Prepared, ProviderError> {
        if self.direct_cloud {
            match self.tags().await {
                // An empty catalogue checks nothing.
                Ok(models) if !models.is_empty() => {
                    let wanted = with_tag(&self.model);
                    if !models.iter().any(|model| with_tag(&model.name) == wanted) {
                        return Err(self.missing_model(&models));
                    }
                }
                Err(failure)
                    if failure
                        .status
                        .is_none_or(|status| matches!(status, 401 | 403)) =>
                {
                    if let ProviderError::Unusable { .. } = failure.error {
                        return Err(failure.error);
                    }
                }
                Ok(_) | Err(_) => {}
            }
            return Ok(Prepared::default());
        }
        // A cheap first call, so that a server that is not running is reported first; servers
        // without this endpoint (some Ollama-protocol fronts) are fine.
        if let Err(failure) = self.version().await {
            if let Some(error) = unusable_without_status(failure) {
                return Err(error);
            }
        }
        match self.show(&self.model).await {
            Ok(shown) => {
                if shown.remote {
                    self.remote_model.store(true, Ordering::Relaxed);
                }
                self.context.lock().await.limit = shown.context_length;
            }
            Err(failure) if failure.status == Some(404) => {
                // A 404 is either the model or a server without `/api/show`: the list decides,
                // and without a list the first request will tell.
                if let Ok(models) = self.tags().await {
                    let wanted = with_tag(&self.model);
                    if !models.iter().any(|model| with_tag(&model.name) == wanted) {
                        return Err(self.missing_model(&models));
                    }
                }
            }
            Err(failure) => {
                if let Some(error) = unusable_without_status(failure) {
                    return Err(error);
                }
            }
        }
        if self.remote_model.load(Ordering::Relaxed) {
            return Ok(Prepared::default());
        }
        let mut context = self.context.lock().await;
        let window = self.window(&context, MIN_CONTEXT);
        let load_time = self.load(window).await?;
        context.loaded = Some(window);
        // A server may allocate less than asked (a front with a fixed context): that is the
        // window prompts really get.
        if let Some(allocated) = self.allocated_context().await {
            if allocated < window {
                context.limit = Some(allocated);
                context.loaded = Some(allocated);
            }
        }
        Ok(Prepared { load_time })
    }

    fn missing_model(&self, models: &[ModelInfo]) -> ProviderError {
        let names: Vec<&str> = models.iter().map(|model| model.name.as_str()).collect();
        let there = if names.is_empty() {
            "the server has no models".to_owned()
        } else {
            format!("the server has {}", names.join(", "))
        };
        let reason = if self.direct_cloud {
            format!(
                "{} has no model `{}`: {there}",
                self.endpoint.base, self.model
            )
        } else {
            format!(
                "model `{}` is not on the Ollama server at {}: run `ollama pull {}` ({there})",
                self.model, self.endpoint.base, self.model
            )
        };
        ProviderError::Unusable {
            reason,
            retries: Retries::default(),
        }
    }

    /// Loads the model with a context window (an empty chat), timing it. Only failures that
    /// make the model unusable count; a server that cannot load on request still answers.
    async fn load(&self, window: u64) -> Result<Option<Duration>, ProviderError> {
        let started = Instant::now();
        let body = json!({
            "model": self.model,
            "messages": [],
            "stream": false,
            "keep_alive": self.keep_alive,
            "options": {"num_ctx": window},
        });
        match self
            .endpoint
            .json(Method::POST, self.endpoint.url("/api/chat"), Some(&body))
            .await
        {
            Ok(answer) => Ok(Some(
                count(&answer, &["load_duration"])
                    .map(Duration::from_nanos)
                    .unwrap_or_else(|| started.elapsed()),
            )),
            Err(failure) => match failure.error {
                ProviderError::Unusable { .. } => Err(failure.error),
                _ => Ok(None),
            },
        }
    }

    /// The window for `wanted` tokens: the override, or a power of two of at least
    /// `MIN_CONTEXT`, within the model's limit.
    fn window(&self, context: &ContextState, wanted: u64) -> u64 {
        if let Some(fixed) = self.num_ctx {
            return u64::from(fixed);
        }
        let bucket = wanted.max(MIN_CONTEXT).next_power_of_two();
        let window = context.limit.map_or(bucket, |limit| bucket.min(limit));
        // Never smaller than what is loaded: a smaller window reloads the model as well.
        context.loaded.map_or(window, |loaded| window.max(loaded))
    }

    /// The window for this request, loading the model with a larger one first when needed,
    /// so the timed request does not pay for the reload.
    async fn context_for(&self, wanted: u64) -> Result<u64, ProviderError> {
        let mut context = self.context.lock().await;
        let window = self.window(&context, wanted);
        if self.remote_model.load(Ordering::Relaxed) || self.num_ctx.is_some() {
            return Ok(window);
        }
        if context.loaded.is_some_and(|loaded| window > loaded) {
            self.load(window).await?;
        }
        context.loaded = Some(window);
        Ok(window)
    }

    pub async fn generate(
        &self,
        request: &Request,
        on_event: &(dyn Fn(ProviderEvent) + Send + Sync),
    ) -> Result<Generation, ProviderError> {
        let estimate = estimate_prompt(request);
        let max_tokens = u64::from(request.sampling.max_tokens);
        let wanted = estimate.generous + max_tokens;
        let window = self.context_for(wanted).await?;
        let body = self.body(request, window);
        let path = match request.mode {
            Mode::Chat => "/api/chat",
            Mode::Completion => "/api/generate",
        };
        let url = self.endpoint.url(path);
        let truncation = Truncation {
            expected_tokens: estimate.modest,
            window_was_short: window < wanted,
        };
        let (streamed, retries) = self
            .endpoint
            .with_retry(on_event, || async {
                let posted = self.endpoint.post_generation(&url, &body).await?;
                let mut decoder = Decoder {
                    endpoint: &self.endpoint,
                    on_event,
                    transcript: Transcript::new(posted.sent),
                    last: None,
                };
                self.endpoint
                    .read_stream(
                        posted.response,
                        Framing::Ndjson,
                        &mut decoder,
                        posted.deadline,
                    )
                    .await?;
                decoder.finish(truncation)
            })
            .await?;
        Ok(streamed.into_generation(retries))
    }

    fn body(&self, request: &Request, window: u64) -> Value {
        let mut options = json!({
            "num_ctx": window,
            "num_predict": request.sampling.max_tokens,
            "temperature": request.sampling.temperature,
        });
        if let Some(seed) = request.sampling.seed {
            options["seed"] = json!(seed);
        }
        let mut body = match request.mode {
            Mode::Chat => json!({
                "model": self.model,
                "messages": request.messages,
                "stream": true,
                "keep_alive": self.keep_alive,
                "options": options,
            }),
            Mode::Completion => json!({
                "model": self.model,
                "prompt": wire::completion_prompt(request),
                "raw": true,
                "stream": true,
                "keep_alive": self.keep_alive,
                "options": options,
            }),
        };
        if let Some(think) = &self.think {
            body["think"] = think.clone();
        }
        if let Some(extra) = &self.extra_body {
            wire::merge(&mut body, extra);
        }
        body
    }
}

/// The failure of an optional call that still ends the model: no server, or one that refuses
/// us before answering with an HTTP status.
fn unusable_without_status(failure: CallFailure) -> Option<ProviderError> {
    (failure.status.is_none() && matches!(failure.error, ProviderError::Unusable { .. }))
        .then_some(failure.error)
}

struct Shown {
    context_length: Option<u64>,
    remote: bool,
}

fn model_info(entry: &Value) -> Option<ModelInfo> {
    let name = text(entry, &["name"]).or_else(|| text(entry, &["model"]))?;
    let non_empty = |path: &[&str]| {
        text(entry, path)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    };
    Some(ModelInfo {
        name: name.to_owned(),
        family: non_empty(&["details", "family"]),
        parameter_size: non_empty(&["details", "parameter_size"]),
        quantization: non_empty(&["details", "quantization_level"]),
        context_length: count(entry, &["details", "context_length"])
            .or_else(|| count(entry, &["context_length"])),
        size_bytes: count(entry, &["size"]),
        remote: wire::at(entry, &["remote_host"]).is_some() || is_cloud_name(name),
    })
}

/// What tells a cut prompt from a cache hit: Ollama cuts only prompts that do not fit, and we
/// size the window to fit unless a limit stopped us.
#[derive(Debug, Clone, Copy)]
struct Truncation {
    expected_tokens: u64,
    window_was_short: bool,
}

struct Decoder<'a> {
    endpoint: &'a Endpoint,
    on_event: &'a (dyn Fn(ProviderEvent) + Send + Sync),
    transcript: Transcript,
    /// The `done:true` line, once it came.
    last: Option<(Value, Instant)>,
}

impl StreamDecoder for Decoder<'_> {
    fn line(&mut self, line: &str, at: Instant) -> Result<(), Fault> {
        if self.last.is_some() {
            return Ok(());
        }
        let chunk: Value = serde_json::from_str(line).map_err(|_| {
            Fault::fail(format!(
                "the server sent a line that is not JSON: {}",
                self.endpoint.scrub(&super::retry::shorten(line))
            ))
        })?;
        if chunk.get("error").is_some() {
            return Err(Fault {
                verdict: classify_stream_error(&chunk),
                reason: format!(
                    "the server reported an error mid-stream: {}",
                    self.endpoint
                        .scrub(&ErrorBody::from_value(&chunk).summary(None))
                ),
                timed_out: false,
                status: None,
            });
        }
        let thinking =
            text(&chunk, &["message", "thinking"]).or_else(|| text(&chunk, &["thinking"]));
        let content = text(&chunk, &["message", "content"]).or_else(|| text(&chunk, &["response"]));
        self.transcript
            .think(thinking.unwrap_or_default(), at, self.on_event);
        // The `done:true` line can still carry text: it is part of the answer.
        self.transcript
            .answer(content.unwrap_or_default(), at, self.on_event);
        if chunk.get("done").and_then(Value::as_bool) == Some(true) {
            self.last = Some((chunk, at));
        }
        Ok(())
    }
}

impl Decoder<'_> {
    fn finish(self, truncation: Truncation) -> Result<Streamed, Fault> {
        let Some((last, done)) = self.last else {
            return Err(Fault::fail(
                "the stream ended without Ollama's final `done:true` line: the answer is incomplete",
            ));
        };
        let nanos = |key: &str| count(&last, &[key]).filter(|&nanos| nanos > 0);
        // Absent or 0 means the prompt came from the KV cache, not that nothing was read.
        let prompt_tokens = count(&last, &["prompt_eval_count"]).filter(|&tokens| tokens > 0);
        let eval_count = count(&last, &["eval_count"]);
        let server = ServerNumbers {
            prompt_tokens,
            completion_tokens: eval_count,
            decode_rate: rate_from_nanos(eval_count, nanos("eval_duration")),
            prefill_rate: rate_from_nanos(prompt_tokens, nanos("prompt_eval_duration")),
            prompt_time: nanos("prompt_eval_duration").map(Duration::from_nanos),
            load_time: nanos("load_duration").map(Duration::from_nanos),
        };
        let truncated = prompt_tokens.filter(|&sent| {
            truncation.window_was_short && sent.saturating_mul(2) < truncation.expected_tokens
        });
        let end = match (truncated, text(&last, &["done_reason"])) {
            (Some(sent_tokens), _) => GenerationEnd::PromptTruncated {
                sent_tokens,
                expected_tokens: truncation.expected_tokens,
            },
            (None, Some("length")) => self.transcript.budget_end(),
            (None, _) => GenerationEnd::Finished,
        };
        // Ollama streams one token a piece: without `eval_count`, the pieces are the count.
        let client = self.transcript.one_token_a_piece(eval_count);
        Ok(Streamed {
            transcript: self.transcript,
            end,
            server,
            client,
            done,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_names_lose_their_suffix_only_for_ollama_com() {
        assert!(is_cloud_name("gpt-oss:120b-cloud"));
        assert!(is_cloud_name("gpt-oss:cloud"));
        assert!(!is_cloud_name("qwen2.5-coder:7b"));
        assert_eq!(bare_cloud_name("gpt-oss:120b-cloud"), "gpt-oss:120b");
        assert_eq!(bare_cloud_name("gpt-oss:cloud"), "gpt-oss");
    }

    #[test]
    fn a_name_without_a_tag_means_latest() {
        assert_eq!(with_tag("qwen3"), "qwen3:latest");
        assert_eq!(with_tag("library/qwen3:8b"), "library/qwen3:8b");
        assert_eq!(with_tag("host:5000/ns/model"), "host:5000/ns/model:latest");
    }

    #[test]
    fn tags_entries_become_model_infos_with_cloud_stubs_marked_remote() {
        let local: Value = serde_json::from_str(r#"{"name":"qwen2.5-coder:14b","model":"qwen2.5-coder:14b","size":8988124069,"details":{"parent_model":"","format":"gguf","family":"qwen2","families":["qwen2"],"parameter_size":"14.8B","quantization_level":"Q4_K_M"}}"#).unwrap();
        let info = model_info(&local).unwrap();
        assert_eq!(info.parameter_size.as_deref(), Some("14.8B"));
        assert_eq!(info.quantization.as_deref(), Some("Q4_K_M"));
        assert!(!info.remote);
        let stub: Value = serde_json::from_str(r#"{"name":"qwen3-coder:480b-cloud","size":382,"remote_model":"qwen3-coder:480b","remote_host":"https://ollama.com:443"}"#).unwrap();
        assert!(model_info(&stub).unwrap().remote);
    }
}
