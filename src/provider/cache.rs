//! Answers kept on disk, so that a request asked once is not asked again.
//!
//! A network provider is wrapped in a `CachedProvider` that looks an answer up, before asking
//! the model, by the hash of everything that shapes it: the server (profile kind and base URL),
//! the model, the prompt (mode and messages, a repair's feedback included), the sampling as sent
//! (temperature, max_tokens, seed), the profile settings that change answers (think, extra-body,
//! num-ctx), and the sample and attempt. The hidden tests are not part of it: re-scoring after a
//! change to a suite's tests reuses every answer, while any change to a prompt asks again.
//!
//! Two places answer before the model: the answers an interrupted run already got (its journal,
//! handed in as `earlier`), then the response cache. Every answer the model gives is written to
//! the cache (even with `--no-cache`, which only skips reading it, so a fresh run refreshes the
//! cache) and handed to the journal. A cache entry is one JSON file written atomically; one that
//! cannot be read or parsed is a miss, never an error.

use super::profile::{ProviderKind, ProviderProfile, Think};
use super::{
    AttemptKey, Generation, GenerationEnd, GenerationMetrics, ModelInfo, ModelSpec, Prepared,
    Provider, ProviderError, ProviderEvent, Request, RequestLimits, Retries, Source,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Bumped whenever the key material or the entry format changes, so old entries become misses.
const CACHE_FORMAT: u32 = 1;

/// The hash of one request as a provider would send it: the cache's key and the journal's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestHash(String);

impl RequestHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What identifies the server and the profile settings that change its answers. Everything else
/// of a profile (timeouts, retries, concurrency, keys) changes how we ask, not what comes back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerIdentity {
    kind: String,
    base_url: String,
    think: Option<String>,
    num_ctx: Option<u32>,
    /// As TOML text, whose keys come out in a stable order.
    extra_body: Option<String>,
}

impl ServerIdentity {
    /// The identity of a network provider built from `profile`; None for `reference` and
    /// `replay`, whose answers are never cached.
    pub fn of(provider: &Provider, profile: &ProviderProfile) -> Option<ServerIdentity> {
        let endpoint = match provider {
            Provider::Reference(_) | Provider::Replay(_) | Provider::Cached(_) => return None,
            Provider::Ollama(provider) => provider.endpoint(),
            Provider::Gemini(provider) => provider.endpoint(),
            Provider::OpenAi(provider) => provider.endpoint(),
        };
        Some(ServerIdentity {
            kind: match profile.kind {
                ProviderKind::Ollama => "ollama",
                ProviderKind::OllamaCloud => "ollama-cloud",
                ProviderKind::Gemini => "gemini",
                ProviderKind::Openai => "openai",
            }
            .to_owned(),
            base_url: endpoint.base.to_string(),
            think: profile.think.as_ref().map(|think| match think {
                Think::Enabled(enabled) => enabled.to_string(),
                Think::Budget(tokens) => format!("budget {tokens}"),
                Think::Level(level) => format!("level {level}"),
            }),
            num_ctx: profile.num_ctx,
            extra_body: profile
                .extra_body
                .as_ref()
                .map(|table| toml::to_string(table).unwrap_or_else(|_| format!("{table:?}"))),
        })
    }
}

/// Everything that shapes an answer, serialized and hashed into the request's key.
#[derive(Serialize)]
struct KeyMaterial<'a> {
    format: u32,
    server: &'a ServerIdentity,
    model: &'a str,
    mode: crate::suite::Mode,
    messages: &'a [super::Message],
    temperature: f64,
    max_tokens: u32,
    seed: Option<u64>,
    sample: u32,
    attempt: u32,
}

/// The key of `request` to `model` on `server`.
pub fn request_hash(server: &ServerIdentity, model: &str, request: &Request) -> RequestHash {
    let material = KeyMaterial {
        format: CACHE_FORMAT,
        server,
        model,
        mode: request.mode,
        messages: &request.messages,
        temperature: request.sampling.temperature,
        max_tokens: request.sampling.max_tokens,
        seed: request.sampling.seed,
        sample: request.key.sample,
        attempt: request.key.attempt,
    };
    // Serializing plain strings and numbers cannot fail; an empty text would still hash.
    let bytes = serde_json::to_vec(&material).unwrap_or_default();
    RequestHash(format!("{:x}", Sha256::digest(&bytes)))
}

/// A generation as stored on disk, its metrics exactly as first measured (durations in
/// nanoseconds, so that a cached answer reports the very numbers of the original).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredGeneration {
    text: String,
    thinking: String,
    end: StoredEnd,
    metrics: StoredMetrics,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
enum StoredEnd {
    Finished,
    MaxTokens,
    PromptTruncated {
        sent_tokens: u64,
        expected_tokens: u64,
    },
    ThinkingExhausted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredMetrics {
    ttft_ns: Option<u64>,
    ttft_answer_ns: Option<u64>,
    generation_time_ns: u64,
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    tokens_source: Source,
    decode_tokens_per_second: Option<f64>,
    decode_source: Source,
    prefill_tokens_per_second: Option<f64>,
    server_prompt_time_ns: Option<u64>,
    load_time_ns: Option<u64>,
    retries: u32,
    retry_wait_ns: u64,
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl From<&Generation> for StoredGeneration {
    fn from(generation: &Generation) -> StoredGeneration {
        let metrics = &generation.metrics;
        StoredGeneration {
            text: generation.text.clone(),
            thinking: generation.thinking.clone(),
            end: match generation.end {
                GenerationEnd::Finished => StoredEnd::Finished,
                GenerationEnd::MaxTokens => StoredEnd::MaxTokens,
                GenerationEnd::PromptTruncated {
                    sent_tokens,
                    expected_tokens,
                } => StoredEnd::PromptTruncated {
                    sent_tokens,
                    expected_tokens,
                },
                GenerationEnd::ThinkingExhausted => StoredEnd::ThinkingExhausted,
            },
            metrics: StoredMetrics {
                ttft_ns: metrics.ttft.map(nanos),
                ttft_answer_ns: metrics.ttft_answer.map(nanos),
                generation_time_ns: nanos(metrics.generation_time),
                prompt_tokens: metrics.prompt_tokens,
                completion_tokens: metrics.completion_tokens,
                tokens_source: metrics.tokens_source,
                decode_tokens_per_second: metrics.decode_tokens_per_second,
                decode_source: metrics.decode_source,
                prefill_tokens_per_second: metrics.prefill_tokens_per_second,
                server_prompt_time_ns: metrics.server_prompt_time.map(nanos),
                load_time_ns: metrics.load_time.map(nanos),
                retries: metrics.retries,
                retry_wait_ns: nanos(metrics.retry_wait),
            },
        }
    }
}

impl From<StoredGeneration> for Generation {
    fn from(stored: StoredGeneration) -> Generation {
        let metrics = stored.metrics;
        Generation {
            text: stored.text,
            thinking: stored.thinking,
            end: match stored.end {
                StoredEnd::Finished => GenerationEnd::Finished,
                StoredEnd::MaxTokens => GenerationEnd::MaxTokens,
                StoredEnd::PromptTruncated {
                    sent_tokens,
                    expected_tokens,
                } => GenerationEnd::PromptTruncated {
                    sent_tokens,
                    expected_tokens,
                },
                StoredEnd::ThinkingExhausted => GenerationEnd::ThinkingExhausted,
            },
            metrics: GenerationMetrics {
                ttft: metrics.ttft_ns.map(Duration::from_nanos),
                ttft_answer: metrics.ttft_answer_ns.map(Duration::from_nanos),
                generation_time: Duration::from_nanos(metrics.generation_time_ns),
                prompt_tokens: metrics.prompt_tokens,
                completion_tokens: metrics.completion_tokens,
                tokens_source: metrics.tokens_source,
                decode_tokens_per_second: metrics.decode_tokens_per_second,
                decode_source: metrics.decode_source,
                prefill_tokens_per_second: metrics.prefill_tokens_per_second,
                server_prompt_time: metrics.server_prompt_time_ns.map(Duration::from_nanos),
                load_time: metrics.load_time_ns.map(Duration::from_nanos),
                retries: metrics.retries,
                retry_wait: Duration::from_nanos(metrics.retry_wait_ns),
            },
        }
    }
}

/// One cache file: the key it was written under (checked on read) and the answer.
#[derive(Serialize, Deserialize)]
struct CacheEntry {
    format: u32,
    key: RequestHash,
    generation: StoredGeneration,
}

/// The response cache: one file per request hash, `<dir>/<first two hex digits>/<hash>.json`.
#[derive(Debug, Clone)]
pub struct ResponseCache {
    dir: PathBuf,
}

impl ResponseCache {
    pub fn new(dir: impl Into<PathBuf>) -> ResponseCache {
        ResponseCache { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &RequestHash) -> PathBuf {
        let shard = key.as_str().get(..2).unwrap_or("00");
        self.dir.join(shard).join(format!("{key}.json"))
    }

    /// The stored answer, or None when there is none or it cannot be read, parsed or trusted.
    pub fn read(&self, key: &RequestHash) -> Option<Generation> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        let entry: CacheEntry = serde_json::from_slice(&bytes).ok()?;
        (entry.format == CACHE_FORMAT && &entry.key == key).then(|| entry.generation.into())
    }

    /// Stores an answer atomically: written to a temporary file beside it, then renamed, so a
    /// reader never sees half an entry.
    pub fn write(&self, key: &RequestHash, generation: &Generation) -> std::io::Result<()> {
        let path = self.path(key);
        let dir = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(dir)?;
        let entry = CacheEntry {
            format: CACHE_FORMAT,
            key: key.clone(),
            generation: generation.into(),
        };
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        serde_json::to_writer(&mut file, &entry)?;
        file.flush()?;
        file.persist(&path).map_err(|error| error.error)?;
        Ok(())
    }
}

/// An answer the model gave (or the cache gave in its place) during this run.
#[derive(Debug)]
pub struct Answered<'a> {
    pub model: &'a ModelSpec,
    pub key: &'a AttemptKey,
    pub hash: &'a RequestHash,
    /// Served from the response cache rather than by the model.
    pub cached: bool,
    pub generation: &'a Generation,
}

/// Hears of every answer as it arrives: the run's journal.
pub trait AnswerLog: Send + Sync + fmt::Debug {
    fn record(&self, answered: &Answered<'_>);
}

/// An answer an interrupted run already got, to be given again without asking.
#[derive(Debug, Clone)]
pub struct EarlierAnswer {
    pub generation: Generation,
    pub cached: bool,
}

/// What every cached provider of a run shares: the cache, the earlier answers, the journal, and
/// what was served from the cache (for the report).
#[derive(Debug)]
pub struct AnswerStore {
    cache: ResponseCache,
    /// False with `--no-cache`: the cache is written but not read.
    read_cache: bool,
    earlier: HashMap<RequestHash, EarlierAnswer>,
    log: Option<Arc<dyn AnswerLog>>,
    served_from_cache: Mutex<HashSet<(ModelSpec, AttemptKey)>>,
    write_failure: Mutex<Option<String>>,
}

impl AnswerStore {
    pub fn new(
        cache: ResponseCache,
        read_cache: bool,
        earlier: HashMap<RequestHash, EarlierAnswer>,
        log: Option<Arc<dyn AnswerLog>>,
    ) -> AnswerStore {
        AnswerStore {
            cache,
            read_cache,
            earlier,
            log,
            served_from_cache: Mutex::new(HashSet::new()),
            write_failure: Mutex::new(None),
        }
    }

    /// Whether this attempt of this model was answered from the cache (in this run, or in the
    /// interrupted run it resumes).
    pub fn was_cached(&self, model: &ModelSpec, key: &AttemptKey) -> bool {
        self.served_from_cache
            .lock()
            .is_ok_and(|served| served.contains(&(model.clone(), key.clone())))
    }

    /// The first failure to write a cache entry, if any: the run goes on without it.
    pub fn write_failure(&self) -> Option<String> {
        self.write_failure
            .lock()
            .ok()
            .and_then(|failure| failure.clone())
    }

    fn mark_cached(&self, model: &ModelSpec, key: &AttemptKey) {
        if let Ok(mut served) = self.served_from_cache.lock() {
            served.insert((model.clone(), key.clone()));
        }
    }

    fn note_write_failure(&self, error: std::io::Error) {
        if let Ok(mut failure) = self.write_failure.lock() {
            failure.get_or_insert_with(|| {
                format!(
                    "cannot write the response cache under {}: {error}",
                    self.cache.dir().display()
                )
            });
        }
    }
}

/// A network provider whose answers are looked up before the model is asked.
#[derive(Debug)]
pub struct CachedProvider {
    inner: Provider,
    model: ModelSpec,
    server: ServerIdentity,
    store: Arc<AnswerStore>,
    /// Why the model could not be prepared, when the run went on hoping every answer is cached
    /// or journaled: the first request that is neither fails with it.
    unprepared: Mutex<Option<String>>,
}

impl CachedProvider {
    /// Wraps a network provider, built for `model` from `profiles` (or the built-in profile of
    /// its name); `reference` and `replay` come back as they are.
    pub fn wrap(
        provider: Provider,
        model: &ModelSpec,
        profiles: &BTreeMap<String, ProviderProfile>,
        store: &Arc<AnswerStore>,
    ) -> Provider {
        let profile = super::profile::resolve(&model.provider, profiles);
        match profile.and_then(|profile| ServerIdentity::of(&provider, &profile)) {
            Some(server) => Provider::Cached(Box::new(CachedProvider {
                inner: provider,
                model: model.clone(),
                server,
                store: Arc::clone(store),
                unprepared: Mutex::new(None),
            })),
            None => provider,
        }
    }

    pub(super) fn repairs(&self) -> bool {
        self.inner.repairs()
    }

    pub(super) fn is_local(&self) -> bool {
        self.inner.is_local()
    }

    pub(super) fn limits(&self) -> RequestLimits {
        self.inner.limits()
    }

    /// Prepares the model; when that fails but answers may come from the cache or the journal
    /// (re-scoring after a suite's tests changed, with the server down or the key gone), the run
    /// goes on and only a request neither holds fails, with the reason prepare gave.
    pub(super) async fn prepare(&self) -> Result<Prepared, ProviderError> {
        match Box::pin(self.inner.prepare()).await {
            Err(ProviderError::Unusable { reason, .. })
                if self.store.read_cache || !self.store.earlier.is_empty() =>
            {
                *self.unprepared.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
                Ok(Prepared::default())
            }
            result => result,
        }
    }

    pub(super) async fn list_models(&self) -> Result<Vec<ModelInfo>, ProviderError> {
        Box::pin(self.inner.list_models()).await
    }

    /// An earlier answer, a cached one, or the model's.
    pub(super) async fn generate(
        &self,
        request: &Request,
        on_event: &(dyn Fn(ProviderEvent) + Send + Sync),
    ) -> Result<Generation, ProviderError> {
        let store = &self.store;
        let hash = request_hash(&self.server, &self.model.model, request);
        if let Some(earlier) = store.earlier.get(&hash) {
            if earlier.cached {
                store.mark_cached(&self.model, &request.key);
            }
            // Already in the journal: not recorded twice.
            return Ok(earlier.generation.clone());
        }
        let cached = if store.read_cache {
            store.cache.read(&hash)
        } else {
            None
        };
        let (generation, from_cache) = match cached {
            Some(generation) => {
                store.mark_cached(&self.model, &request.key);
                (generation, true)
            }
            None => {
                let unprepared = self
                    .unprepared
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                if let Some(reason) = unprepared {
                    return Err(ProviderError::Unusable {
                        reason,
                        retries: Retries::default(),
                    });
                }
                let generation = Box::pin(self.inner.generate(request, on_event)).await?;
                if let Err(error) = store.cache.write(&hash, &generation) {
                    store.note_write_failure(error);
                }
                (generation, false)
            }
        };
        if let Some(log) = &store.log {
            log.record(&Answered {
                model: &self.model,
                key: &request.key,
                hash: &hash,
                cached: from_cache,
                generation: &generation,
            });
        }
        Ok(generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{Message, Role, Sampling};
    use crate::suite::Mode;

    fn server() -> ServerIdentity {
        ServerIdentity {
            kind: "ollama".into(),
            base_url: "http://127.0.0.1:11434/".into(),
            think: None,
            num_ctx: None,
            extra_body: None,
        }
    }

    fn request(prompt: &str) -> Request {
        Request {
            key: AttemptKey {
                suite: "s".into(),
                case: "c".into(),
                sample: 0,
                attempt: 0,
            },
            mode: Mode::Chat,
            messages: vec![Message {
                role: Role::User,
                content: prompt.into(),
            }],
            sampling: Sampling {
                temperature: 0.0,
                max_tokens: 64,
                seed: None,
            },
        }
    }

    fn generation() -> Generation {
        Generation {
            text: "```rust\nfn main() {}\n```".into(),
            thinking: "hmm".into(),
            end: GenerationEnd::PromptTruncated {
                sent_tokens: 3,
                expected_tokens: 9,
            },
            metrics: GenerationMetrics {
                ttft: Some(Duration::from_nanos(123_456_789)),
                decode_tokens_per_second: Some(41.5),
                decode_source: Source::Server,
                retries: 2,
                ..GenerationMetrics::offline(Duration::from_millis(1500))
            },
        }
    }

    #[test]
    fn every_part_of_a_request_that_shapes_the_answer_changes_its_key() {
        let base = request_hash(&server(), "m", &request("p"));
        assert_eq!(base, request_hash(&server(), "m", &request("p")));
        let mut other = request("p");
        other.sampling.temperature = 0.5;
        assert_ne!(base, request_hash(&server(), "m", &other));
        let mut other = request("p");
        other.key.sample = 1;
        assert_ne!(base, request_hash(&server(), "m", &other));
        let mut other = request("p");
        other.key.attempt = 1;
        assert_ne!(base, request_hash(&server(), "m", &other));
        let mut other = request("p");
        other.sampling.seed = Some(7);
        assert_ne!(base, request_hash(&server(), "m", &other));
        assert_ne!(base, request_hash(&server(), "m", &request("q")));
        assert_ne!(base, request_hash(&server(), "n", &request("p")));
        let thinking = ServerIdentity {
            think: Some("true".into()),
            ..server()
        };
        assert_ne!(base, request_hash(&thinking, "m", &request("p")));
        let elsewhere = ServerIdentity {
            base_url: "http://127.0.0.1:8080/".into(),
            ..server()
        };
        assert_ne!(base, request_hash(&elsewhere, "m", &request("p")));
    }

    #[test]
    fn the_case_name_is_not_part_of_the_key_but_the_prompt_is() {
        let mut renamed = request("p");
        renamed.key.case = "renamed".into();
        assert_eq!(
            request_hash(&server(), "m", &request("p")),
            request_hash(&server(), "m", &renamed)
        );
    }

    #[test]
    fn a_stored_answer_comes_back_with_its_original_metrics() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ResponseCache::new(dir.path());
        let key = request_hash(&server(), "m", &request("p"));
        assert!(cache.read(&key).is_none());
        cache.write(&key, &generation()).unwrap();
        let read = cache.read(&key).unwrap();
        assert_eq!(read.text, generation().text);
        assert_eq!(read.end, generation().end);
        assert_eq!(read.metrics, generation().metrics);
    }

    #[test]
    fn a_corrupt_or_misfiled_entry_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ResponseCache::new(dir.path());
        let key = request_hash(&server(), "m", &request("p"));
        cache.write(&key, &generation()).unwrap();
        let path = cache.path(&key);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        assert!(cache.read(&key).is_none());

        // An entry copied under another key is not trusted either.
        let other = request_hash(&server(), "m", &request("q"));
        std::fs::create_dir_all(cache.path(&other).parent().unwrap()).unwrap();
        std::fs::write(cache.path(&other), text).unwrap();
        assert!(cache.read(&other).is_none());
    }
}
