//! OpenAI-compatible servers (PROTOCOLS.md §4): llama.cpp, vLLM, LM Studio, OpenRouter, OpenAI.
//!
//! `/chat/completions` in chat mode, `/completions` in completion mode, both SSE ending in
//! `data: [DONE]` (required: without it the answer is incomplete). Reasoning arrives as
//! `reasoning_content` or `reasoning` and is kept apart; llama.cpp's `timings` give the server's
//! own speed numbers.

use super::framing::SseEvent;
use super::http::{CallFailure, Endpoint, Framing, StreamDecoder};
use super::metrics::{ServerNumbers, Transcript};
use super::retry::{classify_stream_error, ErrorBody, Fault};
use super::wire::{self, count, number, text, Streamed};
use super::{
    Generation, GenerationEnd, ModelInfo, Prepared, ProviderError, ProviderEvent, Request, Retries,
};
use crate::suite::Mode;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct OpenAiProvider {
    endpoint: Endpoint,
    model: String,
    reasoning_effort: Option<String>,
    extra_body: Option<Value>,
}

impl OpenAiProvider {
    pub fn new(
        endpoint: Endpoint,
        model: &str,
        reasoning_effort: Option<String>,
        extra_body: Option<Value>,
    ) -> OpenAiProvider {
        OpenAiProvider {
            endpoint,
            model: model.to_owned(),
            reasoning_effort,
            extra_body,
        }
    }

    pub(super) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// `GET /models`.
    pub async fn list_models(&self) -> Result<Vec<ModelInfo>, ProviderError> {
        self.models().await.map_err(|failure| failure.error)
    }

    async fn models(&self) -> Result<Vec<ModelInfo>, CallFailure> {
        let value = self
            .endpoint
            .json(Method::GET, self.endpoint.url("models"), None)
            .await?;
        Ok(wire::at(&value, &["data"])
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|entry| {
                Some(ModelInfo {
                    name: text(entry, &["id"])?.to_owned(),
                    // llama.cpp describes its model in `meta`.
                    context_length: count(entry, &["meta", "n_ctx"])
                        .or_else(|| count(entry, &["meta", "n_ctx_train"]))
                        .or_else(|| count(entry, &["context_length"])),
                    size_bytes: count(entry, &["meta", "size"]),
                    // llama.cpp counts the parameters; written as Ollama writes sizes (`1.5B`).
                    parameter_size: count(entry, &["meta", "n_params"])
                        .map(|parameters| crate::optimize::format_parameters(parameters as f64)),
                    ..ModelInfo::default()
                })
            })
            .collect())
    }

    /// Checks the model is listed (when the server lists models at all), then, for a server on
    /// this machine, sends one tiny request so the first timed one does not pay for warm-up.
    pub async fn prepare(&self) -> Result<Prepared, ProviderError> {
        match self.models().await {
            Ok(models) if !models.is_empty() && !models.iter().any(|m| m.name == self.model) => {
                let names: Vec<&str> = models.iter().map(|model| model.name.as_str()).collect();
                return Err(ProviderError::Unusable {
                    reason: format!(
                        "the server at {} has no model `{}`: it has {}",
                        self.endpoint.base,
                        self.model,
                        names.join(", ")
                    ),
                    retries: Retries::default(),
                });
            }
            // No server, or no access: nothing else will work either. A server without a model
            // list (404) may still generate.
            Err(CallFailure {
                error: error @ ProviderError::Unusable { .. },
                status: None | Some(401..=403),
            }) => return Err(error),
            _ => {}
        }
        if self.endpoint.is_local() {
            let body =
                json!({"model": self.model, "prompt": "fn", "max_tokens": 1, "stream": false});
            // Best effort: a server without `/completions` still answers chat requests.
            if let Err(failure) = self
                .endpoint
                .json(Method::POST, self.endpoint.url("completions"), Some(&body))
                .await
            {
                if failure.status.is_none() {
                    if let ProviderError::Unusable { .. } = failure.error {
                        return Err(failure.error);
                    }
                }
            }
        }
        Ok(Prepared::default())
    }

    fn body(&self, request: &Request) -> Value {
        let mut body = match request.mode {
            Mode::Chat => json!({"model": self.model, "messages": request.messages}),
            Mode::Completion => {
                json!({"model": self.model, "prompt": wire::completion_prompt(request)})
            }
        };
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
        body["temperature"] = json!(request.sampling.temperature);
        body["max_tokens"] = json!(request.sampling.max_tokens);
        if let Some(seed) = request.sampling.seed {
            body["seed"] = json!(seed);
        }
        if let Some(effort) = &self.reasoning_effort {
            body["reasoning_effort"] = json!(effort);
        }
        if let Some(extra) = &self.extra_body {
            wire::merge(&mut body, extra);
        }
        body
    }

    pub async fn generate(
        &self,
        request: &Request,
        on_event: &(dyn Fn(ProviderEvent) + Send + Sync),
    ) -> Result<Generation, ProviderError> {
        let body = self.body(request);
        let url = self.endpoint.url(match request.mode {
            Mode::Chat => "chat/completions",
            Mode::Completion => "completions",
        });
        let (streamed, retries) = self
            .endpoint
            .with_retry(on_event, || async {
                let posted = self.endpoint.post_generation(&url, &body).await?;
                let mut decoder = Decoder {
                    endpoint: &self.endpoint,
                    on_event,
                    transcript: Transcript::new(posted.sent),
                    finish_reason: None,
                    usage: None,
                    timings: None,
                    done: None,
                };
                self.endpoint
                    .read_stream(posted.response, Framing::Sse, &mut decoder, posted.deadline)
                    .await?;
                decoder.finish()
            })
            .await?;
        Ok(streamed.into_generation(retries))
    }
}

struct Decoder<'a> {
    endpoint: &'a Endpoint,
    on_event: &'a (dyn Fn(ProviderEvent) + Send + Sync),
    transcript: Transcript,
    finish_reason: Option<String>,
    usage: Option<Value>,
    timings: Option<Value>,
    /// When `data: [DONE]` came.
    done: Option<Instant>,
}

impl Decoder<'_> {
    fn error(&self, error: &Value) -> Fault {
        Fault {
            verdict: classify_stream_error(error),
            reason: format!(
                "the server reported an error mid-stream: {}",
                self.endpoint
                    .scrub(&ErrorBody::from_value(error).summary(None))
            ),
            timed_out: false,
            status: None,
        }
    }

    fn finish(self) -> Result<Streamed, Fault> {
        let Some(done) = self.done else {
            return Err(Fault::fail(
                "the stream ended without `data: [DONE]`: the answer is incomplete",
            ));
        };
        let end = match self.finish_reason.as_deref() {
            Some("length") => self.transcript.budget_end(),
            _ => GenerationEnd::Finished,
        };
        let usage = self.usage.as_ref();
        let timings = self.timings.as_ref();
        let from_usage = |key: &str| usage.and_then(|usage| count(usage, &[key]));
        let from_timings = |key: &str| timings.and_then(|timings| count(timings, &[key]));
        let timing = |key: &str| {
            timings
                .and_then(|timings| number(timings, &[key]))
                .filter(|value| *value > 0.0)
        };
        // llama.cpp counts processed and cached prompt tokens apart.
        let prompt_tokens = match (from_timings("prompt_n"), from_timings("cache_n")) {
            (Some(processed), cached) => Some(processed + cached.unwrap_or(0)),
            (None, _) => from_usage("prompt_tokens"),
        };
        let completion_tokens =
            from_timings("predicted_n").or_else(|| from_usage("completion_tokens"));
        let server = ServerNumbers {
            prompt_tokens,
            completion_tokens,
            decode_rate: timing("predicted_per_second"),
            prefill_rate: timing("prompt_per_second"),
            prompt_time: timing("prompt_ms").map(|ms| Duration::from_secs_f64(ms / 1000.0)),
            load_time: None,
        };
        // Most servers stream one token a delta: without a count, the deltas are the estimate.
        let client = self.transcript.one_token_a_piece(completion_tokens);
        Ok(Streamed {
            transcript: self.transcript,
            end,
            server,
            client,
            done,
        })
    }
}

impl StreamDecoder for Decoder<'_> {
    fn event(&mut self, event: &SseEvent, at: Instant) -> Result<(), Fault> {
        if self.done.is_some() {
            return Ok(());
        }
        // Older llama.cpp builds send `error: {...}` instead of a data line.
        if let Some(error) = &event.error {
            let value = serde_json::from_str(error).unwrap_or_else(|_| json!({"message": error}));
            return Err(self.error(&value));
        }
        let data = event.data.trim();
        if data.is_empty() {
            return Ok(());
        }
        if data == "[DONE]" {
            self.done = Some(at);
            return Ok(());
        }
        let chunk: Value = serde_json::from_str(data).map_err(|_| {
            Fault::fail(format!(
                "the server sent an event that is not JSON: {}",
                self.endpoint.scrub(&super::retry::shorten(data))
            ))
        })?;
        if chunk.get("error").is_some()
            || text(&chunk, &["object"]) == Some("error")
            || event.event.as_deref() == Some("error")
        {
            return Err(self.error(&chunk));
        }
        if let Some(choice) = wire::at(&chunk, &["choices"])
            .and_then(Value::as_array)
            .and_then(|choices| choices.first())
        {
            let reasoning = text(choice, &["delta", "reasoning_content"])
                .or_else(|| text(choice, &["delta", "reasoning"]));
            let content = text(choice, &["delta", "content"]).or_else(|| text(choice, &["text"]));
            self.transcript
                .think(reasoning.unwrap_or_default(), at, self.on_event);
            self.transcript
                .answer(content.unwrap_or_default(), at, self.on_event);
            match text(choice, &["finish_reason"]) {
                Some("error") => {
                    return Err(Fault::fail("the server ended the answer with an error"))
                }
                Some(reason) => self.finish_reason = Some(reason.to_owned()),
                None => {}
            }
        }
        if let Some(usage) = wire::at(&chunk, &["usage"]).filter(|usage| usage.is_object()) {
            self.usage = Some(usage.clone());
        }
        if let Some(timings) = wire::at(&chunk, &["timings"]).filter(|timings| timings.is_object())
        {
            self.timings = Some(timings.clone());
        }
        Ok(())
    }

    fn tail(&mut self, raw: &str) -> Result<(), Fault> {
        match serde_json::from_str::<Value>(raw.trim()) {
            Ok(value) if value.get("error").is_some() => Err(self.error(&value)),
            _ => Ok(()),
        }
    }
}
