//! The Gemini API (PROTOCOLS.md §3): `models/{model}:streamGenerateContent?alt=sse`.
//!
//! Every event carries cumulative `usageMetadata`; the stream has no end marker, so an answer
//! is complete only when a candidate carried a `finishReason`. An error can come as an event or
//! as a raw JSON tail after the last event.

use super::framing::SseEvent;
use super::http::{Endpoint, Framing, StreamDecoder};
use super::metrics::{rate, ClientNumbers, ServerNumbers, Transcript};
use super::retry::{classify_stream_error, ErrorBody, Fault};
use super::wire::{self, count, text, Streamed};
use super::{
    Generation, GenerationEnd, ModelInfo, Prepared, ProviderError, ProviderEvent, Request, Retries,
    Role,
};
use crate::suite::Mode;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Instant;

#[derive(Debug)]
pub struct GeminiProvider {
    endpoint: Endpoint,
    /// Without the `models/` prefix.
    model: String,
    thinking_config: Option<Value>,
    extra_body: Option<Value>,
}

impl GeminiProvider {
    pub fn new(
        endpoint: Endpoint,
        model: &str,
        thinking_config: Option<Value>,
        extra_body: Option<Value>,
    ) -> GeminiProvider {
        GeminiProvider {
            endpoint,
            model: model.strip_prefix("models/").unwrap_or(model).to_owned(),
            thinking_config,
            extra_body,
        }
    }

    pub(super) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// `GET models`, every page, keeping the models that generate content.
    pub async fn list_models(&self) -> Result<Vec<ModelInfo>, ProviderError> {
        let mut models = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut url = self.endpoint.url("models");
            url.query_pairs_mut().append_pair("pageSize", "1000");
            if let Some(token) = &page_token {
                url.query_pairs_mut().append_pair("pageToken", token);
            }
            let value = self
                .endpoint
                .json(Method::GET, url, None)
                .await
                .map_err(|failure| failure.error)?;
            for model in wire::at(&value, &["models"])
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let generates = wire::at(model, &["supportedGenerationMethods"])
                    .and_then(Value::as_array)
                    .is_none_or(|methods| {
                        methods
                            .iter()
                            .any(|method| method.as_str() == Some("generateContent"))
                    });
                if let Some(name) = text(model, &["name"]).filter(|_| generates) {
                    models.push(ModelInfo {
                        name: name.strip_prefix("models/").unwrap_or(name).to_owned(),
                        context_length: count(model, &["inputTokenLimit"]),
                        ..ModelInfo::default()
                    });
                }
            }
            page_token = text(&value, &["nextPageToken"])
                .filter(|token| !token.is_empty())
                .map(str::to_owned);
            if page_token.is_none() {
                return Ok(models);
            }
        }
    }

    /// Checks the model exists (`GET models/{model}`); a 404 names the models there are.
    pub async fn prepare(&self) -> Result<Prepared, ProviderError> {
        let url = self.endpoint.url(&format!("models/{}", self.model));
        match self.endpoint.json(Method::GET, url, None).await {
            Ok(_) => Ok(Prepared::default()),
            Err(failure) if failure.status == Some(404) => {
                let names = self
                    .list_models()
                    .await
                    .map(|models| {
                        models
                            .into_iter()
                            .map(|model| model.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                Err(ProviderError::Unusable {
                    reason: format!(
                        "Gemini has no model `{}`{}",
                        self.model,
                        if names.is_empty() {
                            String::new()
                        } else {
                            format!(": it has {names}")
                        }
                    ),
                    retries: Retries::default(),
                })
            }
            Err(failure) => Err(failure.error),
        }
    }

    fn body(&self, request: &Request) -> Value {
        let system: Vec<&str> = request
            .messages
            .iter()
            .filter(|message| message.role == Role::System)
            .map(|message| message.content.as_str())
            .collect();
        let contents: Vec<Value> = match request.mode {
            Mode::Chat => request
                .messages
                .iter()
                .filter(|message| message.role != Role::System)
                .map(|message| {
                    let role = if message.role == Role::Assistant {
                        "model"
                    } else {
                        "user"
                    };
                    json!({"role": role, "parts": [{"text": message.content}]})
                })
                .collect(),
            // Gemini has no raw completion: the prompt goes as the one user turn.
            Mode::Completion => {
                vec![json!({"role": "user", "parts": [{"text": wire::completion_prompt(request)}]})]
            }
        };
        let mut generation_config = json!({
            "temperature": request.sampling.temperature,
            "maxOutputTokens": request.sampling.max_tokens,
            "candidateCount": 1,
        });
        if let Some(seed) = request.sampling.seed {
            generation_config["seed"] = json!(seed);
        }
        if let Some(thinking) = &self.thinking_config {
            generation_config["thinkingConfig"] = thinking.clone();
        }
        let mut body = json!({"contents": contents, "generationConfig": generation_config});
        if request.mode == Mode::Chat && !system.is_empty() {
            body["systemInstruction"] = json!({"parts": [{"text": system.join("\n\n")}]});
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
        let mut url = self
            .endpoint
            .url(&format!("models/{}:streamGenerateContent", self.model));
        url.set_query(Some("alt=sse"));
        let (streamed, retries) = self
            .endpoint
            .with_retry(on_event, || async {
                let posted = self.endpoint.post_generation(&url, &body).await?;
                let mut decoder = Decoder {
                    endpoint: &self.endpoint,
                    on_event,
                    transcript: Transcript::new(posted.sent),
                    finish_reason: None,
                    block_reason: None,
                    usage: Usage::default(),
                    last_event: None,
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

/// The cumulative counts: the last chunk that had them, and the first chunk's answer count and
/// time, for a rate that the first chunk's tokens do not inflate.
#[derive(Debug, Default)]
struct Usage {
    prompt: Option<u64>,
    candidates: Option<u64>,
    thoughts: Option<u64>,
    first_candidates: Option<(u64, Instant)>,
    last_candidates: Option<(u64, Instant)>,
}

struct Decoder<'a> {
    endpoint: &'a Endpoint,
    on_event: &'a (dyn Fn(ProviderEvent) + Send + Sync),
    transcript: Transcript,
    finish_reason: Option<String>,
    block_reason: Option<String>,
    usage: Usage,
    last_event: Option<Instant>,
}

impl Decoder<'_> {
    fn error(&self, chunk: &Value) -> Fault {
        Fault {
            verdict: classify_stream_error(chunk),
            reason: format!(
                "Gemini reported an error mid-stream: {}",
                self.endpoint
                    .scrub(&ErrorBody::from_value(chunk).summary(None))
            ),
            timed_out: false,
            status: None,
        }
    }

    fn finish(self) -> Result<Streamed, Fault> {
        let Some(reason) = self.finish_reason.as_deref() else {
            return Err(Fault::fail(match &self.block_reason {
                Some(block) => format!("Gemini blocked the prompt ({block})"),
                None => {
                    "the stream ended without a `finishReason`: the answer is incomplete".to_owned()
                }
            }));
        };
        // Thoughts are counted but not streamed unless asked for: the count tells.
        let thought = self.usage.thoughts.is_some_and(|thoughts| thoughts > 0);
        let end = match reason {
            "MAX_TOKENS" if thought && self.transcript.text.trim().is_empty() => {
                GenerationEnd::ThinkingExhausted
            }
            "MAX_TOKENS" => self.transcript.budget_end(),
            _ => GenerationEnd::Finished,
        };
        let usage = &self.usage;
        let completion = match (usage.candidates, usage.thoughts) {
            (None, None) => None,
            (candidates, thoughts) => Some(candidates.unwrap_or(0) + thoughts.unwrap_or(0)),
        };
        let client_decode_rate = match (usage.first_candidates, usage.last_candidates) {
            (Some((first, first_at)), Some((last, last_at))) if last > first => rate(
                (last - first) as f64,
                last_at.saturating_duration_since(first_at),
            ),
            _ => None,
        };
        let done = self.last_event.unwrap_or_else(Instant::now);
        Ok(Streamed {
            server: ServerNumbers {
                prompt_tokens: usage.prompt,
                completion_tokens: completion,
                ..ServerNumbers::default()
            },
            transcript: self.transcript,
            end,
            client: ClientNumbers {
                decode_rate: client_decode_rate,
                counted_tokens: None,
            },
            done,
        })
    }
}

impl StreamDecoder for Decoder<'_> {
    fn event(&mut self, event: &SseEvent, at: Instant) -> Result<(), Fault> {
        self.last_event = Some(at);
        if event.data.trim().is_empty() {
            return Ok(());
        }
        let chunk: Value = serde_json::from_str(&event.data).map_err(|_| {
            Fault::fail(format!(
                "Gemini sent an event that is not JSON: {}",
                self.endpoint.scrub(&super::retry::shorten(&event.data))
            ))
        })?;
        if chunk.get("error").is_some() {
            return Err(self.error(&chunk));
        }
        if let Some(candidate) = wire::at(&chunk, &["candidates"])
            .and_then(Value::as_array)
            .and_then(|candidates| candidates.first())
        {
            for part in wire::at(candidate, &["content", "parts"])
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let piece = text(part, &["text"]).unwrap_or_default();
                if part.get("thought").and_then(Value::as_bool) == Some(true) {
                    self.transcript.think(piece, at, self.on_event);
                } else {
                    self.transcript.answer(piece, at, self.on_event);
                }
            }
            if let Some(reason) = text(candidate, &["finishReason"]) {
                self.finish_reason = Some(reason.to_owned());
            }
        }
        if let Some(block) = text(&chunk, &["promptFeedback", "blockReason"]) {
            self.block_reason = Some(block.to_owned());
        }
        if let Some(usage) = wire::at(&chunk, &["usageMetadata"]) {
            let prompt = count(usage, &["promptTokenCount"]);
            let candidates = count(usage, &["candidatesTokenCount"]);
            let thoughts = count(usage, &["thoughtsTokenCount"]);
            self.usage.prompt = prompt.or(self.usage.prompt);
            self.usage.thoughts = thoughts.or(self.usage.thoughts);
            if let Some(candidates) = candidates {
                self.usage.candidates = Some(candidates);
                self.usage.first_candidates.get_or_insert((candidates, at));
                self.usage.last_candidates = Some((candidates, at));
            }
        }
        Ok(())
    }

    fn tail(&mut self, raw: &str) -> Result<(), Fault> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(());
        }
        let tail: Value = match serde_json::from_str(raw) {
            Ok(Value::Array(mut items)) if items.len() == 1 => items.remove(0),
            Ok(value) => value,
            // Stray bytes that are not an error; completeness rests on `finishReason`.
            Err(_) => return Ok(()),
        };
        if tail.get("error").is_some() {
            return Err(self.error(&tail));
        }
        Ok(())
    }
}
