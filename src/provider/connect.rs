//! From a model spec and the config's profiles to a ready client: base URL, API key from the
//! environment, timeouts, retry policy and the wire format's own settings.

use super::gemini::GeminiProvider;
use super::http::{self, ApiKey, Endpoint, StartHint, Timeouts};
use super::ollama::{OllamaProvider, OllamaSettings};
use super::openai::OpenAiProvider;
use super::profile::{self, KeepAlive, ProviderKind, ProviderProfile, Think};
use super::retry::RetryPolicy;
use super::{ModelSpec, Provider, ProviderError, ReplayProvider, Retries};
use reqwest::header::{HeaderName, AUTHORIZATION};
use reqwest::Url;
use secrecy::SecretString;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Reads an environment variable; `connect` passes the process environment.
pub type Environment<'a> = &'a dyn Fn(&str) -> Option<String>;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
const OLLAMA_PORT: u16 = 11434;
const OLLAMA_COM: &str = "ollama.com";

fn unusable(reason: String) -> ProviderError {
    ProviderError::Unusable {
        reason,
        retries: Retries::default(),
    }
}

/// Builds the provider for a model spec: `replay:DIR`, a built-in provider (`ollama`,
/// `ollama-cloud`, `gemini`, `openai`) or a profile of the config. `reference` is built by whoever
/// holds the suites (`Provider::Reference`), since only they have the answers.
pub fn connect(
    spec: &ModelSpec,
    profiles: &BTreeMap<String, ProviderProfile>,
) -> Result<Provider, ProviderError> {
    connect_with_env(spec, profiles, &|name| std::env::var(name).ok())
}

/// `connect`, with the environment to read API keys and default URLs from.
pub fn connect_with_env(
    spec: &ModelSpec,
    profiles: &BTreeMap<String, ProviderProfile>,
    env: Environment<'_>,
) -> Result<Provider, ProviderError> {
    if spec.provider == "replay" && !profiles.contains_key("replay") {
        return Ok(Provider::Replay(ReplayProvider::open(Path::new(
            &spec.model,
        ))?));
    }
    let Some(profile) = profile::resolve(&spec.provider, profiles) else {
        let mut known: Vec<String> = profile::BUILT_IN
            .iter()
            .map(|name| name.to_string())
            .collect();
        known.extend(["replay:DIR".to_owned(), "reference".to_owned()]);
        known.extend(profiles.keys().cloned());
        return Err(unusable(format!(
            "unknown provider `{}`: use {} (profiles come from the config's [providers] tables)",
            spec.provider,
            known.join(", ")
        )));
    };
    build(&spec.provider, &spec.model, &profile, env)
}

/// A provider without a model, to list the models it offers (`cargo llm-bench models NAME`).
pub fn connect_provider(
    name: &str,
    profiles: &BTreeMap<String, ProviderProfile>,
) -> Result<Provider, ProviderError> {
    connect_provider_with_env(name, profiles, &|name| std::env::var(name).ok())
}

/// `connect_provider`, with the environment to read API keys and default URLs from.
pub fn connect_provider_with_env(
    name: &str,
    profiles: &BTreeMap<String, ProviderProfile>,
    env: Environment<'_>,
) -> Result<Provider, ProviderError> {
    if matches!(name, "replay" | "reference") && !profiles.contains_key(name) {
        return Err(unusable(format!("`{name}` has no models to list")));
    }
    connect_with_env(
        &ModelSpec {
            provider: name.to_owned(),
            model: String::new(),
        },
        profiles,
        env,
    )
}

fn build(
    name: &str,
    model: &str,
    profile: &ProviderProfile,
    env: Environment<'_>,
) -> Result<Provider, ProviderError> {
    let ProviderProfile {
        kind,
        base_url,
        api_key_env,
        delay_ms,
        max_retries,
        concurrency,
        timeout,
        idle_timeout,
        retry_base,
        retry_cap,
        keep_alive,
        think,
        num_ctx,
        extra_body,
    } = profile;
    let duration = |key: &str, text: &Option<String>, default: Duration| {
        match text {
        None => Ok(default),
        Some(text) => humantime::parse_duration(text.trim()).map_err(|error| {
            unusable(format!(
                "provider `{name}`: {key} `{text}` is not a duration ({error}); write it like `30s` or `10m`"
            ))
        }),
    }
    };
    let defaults = RetryPolicy::default();
    let policy = RetryPolicy {
        max_retries: max_retries.unwrap_or(defaults.max_retries),
        base: duration("retry-base", retry_base, defaults.base)?,
        cap: duration("retry-cap", retry_cap, defaults.cap)?,
        longest_hint: defaults.longest_hint,
    };
    let timeouts = Timeouts {
        total: duration("timeout", timeout, DEFAULT_TIMEOUT)?,
        idle: duration("idle-timeout", idle_timeout, DEFAULT_IDLE_TIMEOUT)?,
    };
    let limits = http::ProfileLimits {
        concurrency: concurrency.map(|count| count.max(1) as usize),
        delay: Duration::from_millis(delay_ms.unwrap_or(0)),
    };
    let extra_body = extra_body
        .as_ref()
        .map(|table| {
            serde_json::to_value(table).map_err(|error| {
                unusable(format!(
                    "provider `{name}`: extra-body cannot be JSON: {error}"
                ))
            })
        })
        .transpose()?;
    let key = |env_name: &str, required: bool| -> Result<Option<SecretString>, ProviderError> {
        match env(env_name).filter(|value| !value.trim().is_empty()) {
            Some(value) => Ok(Some(SecretString::from(value.trim().to_owned()))),
            None if required => Err(unusable(format!(
                "provider `{name}` needs an API key: set the environment variable {env_name}"
            ))),
            None => Ok(None),
        }
    };
    match kind {
        ProviderKind::Ollama | ProviderKind::OllamaCloud => {
            let direct_cloud = *kind == ProviderKind::OllamaCloud;
            let base = match base_url {
                Some(text) => ollama_base(text, "base-url")?,
                None if direct_cloud => ollama_base("https://ollama.com", "default")?,
                None => match env("OLLAMA_HOST").filter(|host| !host.trim().is_empty()) {
                    Some(host) => ollama_base(&host, "OLLAMA_HOST")?,
                    None => ollama_base("http://localhost:11434", "default")?,
                },
            };
            // The key goes to ollama.com only, never to a local server or any other host.
            let to_ollama_com = base.host_str() == Some(OLLAMA_COM);
            let env_name = api_key_env.as_deref().unwrap_or("OLLAMA_API_KEY");
            let api_key = if to_ollama_com {
                key(env_name, direct_cloud)?.map(|value| ApiKey {
                    header: AUTHORIZATION,
                    scheme: "Bearer ",
                    value,
                    only_host: Some(OLLAMA_COM),
                })
            } else {
                None
            };
            let think = match think {
                None => None,
                Some(Think::Enabled(on)) => Some(json!(on)),
                Some(Think::Level(level)) => Some(json!(level)),
                Some(Think::Budget(budget)) => {
                    return Err(unusable(format!(
                        "provider `{name}`: think = {budget} is a token budget, which Ollama does not take; write true, false or a level such as \"high\""
                    )))
                }
            };
            let keep_alive = match keep_alive {
                Some(KeepAlive::Seconds(seconds)) => json!(seconds),
                Some(KeepAlive::Text(text)) => json!(text),
                None => json!("30m"),
            };
            let endpoint = Endpoint::new(
                base,
                api_key,
                policy,
                timeouts,
                if direct_cloud {
                    StartHint::StartServer
                } else {
                    StartHint::OllamaServe
                },
                limits,
            )?;
            Ok(Provider::Ollama(OllamaProvider::new(
                endpoint,
                OllamaSettings {
                    model: model.to_owned(),
                    direct_cloud,
                    keep_alive,
                    think,
                    num_ctx: *num_ctx,
                    extra_body,
                },
            )))
        }
        ProviderKind::Gemini => {
            let base = http::parse_base(
                base_url
                    .as_deref()
                    .unwrap_or("https://generativelanguage.googleapis.com/v1beta"),
                "base-url",
            )?;
            let env_name = api_key_env.as_deref().unwrap_or("GEMINI_API_KEY");
            let api_key = key(env_name, true)?.map(|value| ApiKey {
                header: HeaderName::from_static("x-goog-api-key"),
                scheme: "",
                value,
                only_host: None,
            });
            let thinking_config = match think {
                None => None,
                Some(Think::Enabled(false)) => Some(json!({"thinkingBudget": 0})),
                Some(Think::Enabled(true)) => Some(json!({"includeThoughts": true})),
                Some(Think::Budget(budget)) => {
                    Some(json!({"thinkingBudget": budget, "includeThoughts": true}))
                }
                Some(Think::Level(level)) => Some(
                    json!({"thinkingLevel": level.to_ascii_uppercase(), "includeThoughts": true}),
                ),
            };
            let endpoint = Endpoint::new(
                base,
                api_key,
                policy,
                timeouts,
                StartHint::StartServer,
                limits,
            )?;
            Ok(Provider::Gemini(GeminiProvider::new(
                endpoint,
                model,
                thinking_config,
                extra_body,
            )))
        }
        ProviderKind::Openai => {
            let configured_base = base_url.clone();
            let base_text = configured_base
                .clone()
                .or_else(|| env("OPENAI_BASE_URL").filter(|url| !url.trim().is_empty()))
                .unwrap_or_else(|| "https://api.openai.com/v1".to_owned());
            let base = http::parse_base(&base_text, "base-url")?;
            // A named key is required; `OPENAI_API_KEY` goes only to OpenAI's own default URL
            // (or `OPENAI_BASE_URL`), never to a server a profile points elsewhere.
            let secret = match (api_key_env, configured_base) {
                (Some(env_name), _) => key(env_name, true)?,
                (None, None) => key("OPENAI_API_KEY", false)?,
                (None, Some(_)) => None,
            };
            let api_key = secret.map(|value| ApiKey {
                header: AUTHORIZATION,
                scheme: "Bearer ",
                value,
                only_host: None,
            });
            let reasoning_effort = match think {
                None => None,
                Some(Think::Level(level)) => Some(level.clone()),
                Some(Think::Enabled(false)) => Some("none".to_owned()),
                Some(other) => {
                    return Err(unusable(format!(
                        "provider `{name}`: think = {other:?} means nothing to an OpenAI-compatible server; write a level (\"low\", \"medium\", \"high\"), false, or use extra-body"
                    )))
                }
            };
            let endpoint = Endpoint::new(
                base,
                api_key,
                policy,
                timeouts,
                StartHint::StartServer,
                limits,
            )?;
            Ok(Provider::OpenAi(OpenAiProvider::new(
                endpoint,
                model,
                reasoning_effort,
                extra_body,
            )))
        }
    }
}

/// An Ollama server URL as `OLLAMA_HOST` or a profile writes it: `host`, `host:port`, a full
/// URL, with or without a trailing `/api`. Plain HTTP without a port means port 11434, as in
/// Ollama's own client.
fn ollama_base(text: &str, origin: &str) -> Result<Url, ProviderError> {
    let text = text.trim().trim_end_matches('/');
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else if text == OLLAMA_COM || text.starts_with("ollama.com:") {
        format!("https://{text}")
    } else {
        format!("http://{text}")
    };
    let mut url = http::parse_base(&with_scheme, origin)?;
    if url.scheme() == "http" && url.port().is_none() && !text.contains("://") {
        // `set_port` fails only for URLs without a host, which `parse_base` already refused.
        let _ = url.set_port(Some(OLLAMA_PORT));
    }
    let path = url.path().trim_end_matches('/');
    let path = path.strip_suffix("/api").unwrap_or(path).to_owned();
    url.set_path(&path);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ollama_host_is_read_the_way_ollama_reads_it() {
        let base = |text: &str| ollama_base(text, "test").unwrap().to_string();
        assert_eq!(base("0.0.0.0"), "http://0.0.0.0:11434/");
        assert_eq!(base("127.0.0.1:9999"), "http://127.0.0.1:9999/");
        assert_eq!(
            base("http://localhost:11434/api/"),
            "http://localhost:11434/"
        );
        assert_eq!(base("ollama.com"), "https://ollama.com/");
        assert_eq!(base("https://ollama.com/api"), "https://ollama.com/");
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn an_unknown_provider_names_the_known_ones() {
        let spec = ModelSpec::parse("olama:qwen3").unwrap();
        let error = connect_with_env(&spec, &BTreeMap::new(), &no_env).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("unknown provider `olama`"), "{text}");
        assert!(
            text.contains("ollama, ollama-cloud, gemini, openai"),
            "{text}"
        );
    }

    #[test]
    fn gemini_without_its_key_is_unusable_and_says_which_variable() {
        let spec = ModelSpec::parse("gemini:gemini-2.5-flash").unwrap();
        let error = connect_with_env(&spec, &BTreeMap::new(), &no_env).unwrap_err();
        assert!(error.to_string().contains("GEMINI_API_KEY"), "{error}");
    }

    #[test]
    fn ollama_cloud_direct_needs_its_key_but_a_local_profile_of_that_kind_does_not() {
        let spec = ModelSpec::parse("ollama-cloud:gpt-oss:120b").unwrap();
        assert!(connect_with_env(&spec, &BTreeMap::new(), &no_env).is_err());
        let profiles = BTreeMap::from([(
            "ollama-cloud".to_owned(),
            ProviderProfile {
                kind: ProviderKind::OllamaCloud,
                base_url: Some("http://127.0.0.1:9".to_owned()),
                ..ProviderProfile::default()
            },
        )]);
        assert!(connect_with_env(&spec, &profiles, &no_env).is_ok());
    }

    #[test]
    fn a_bad_duration_names_the_profile_and_key() {
        let profiles = BTreeMap::from([(
            "local".to_owned(),
            ProviderProfile {
                kind: ProviderKind::Openai,
                base_url: Some("http://127.0.0.1:8080/v1".to_owned()),
                timeout: Some("soon".to_owned()),
                ..ProviderProfile::default()
            },
        )]);
        let spec = ModelSpec::parse("local:qwen").unwrap();
        let error = connect_with_env(&spec, &profiles, &no_env).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("provider `local`: timeout `soon`"),
            "{error}"
        );
    }
}
