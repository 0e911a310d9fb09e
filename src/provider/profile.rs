//! Provider profiles: the `[providers.NAME]` tables of the config, and the built-in ones.
//!
//! A profile names a wire format (`kind`) and the settings of one server. `local:MODEL` uses
//! the profile `local`; `ollama:MODEL`, `ollama-cloud:MODEL`, `gemini:MODEL` and `openai:MODEL`
//! use the built-in profiles of the same name unless the config defines a profile by that name.

use serde::Deserialize;
use std::collections::BTreeMap;

/// One server and how to talk to it. Every key is optional except `kind`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ProviderProfile {
    /// The wire format: `ollama`, `ollama-cloud`, `gemini` or `openai`.
    pub kind: ProviderKind,
    /// Where the server is. Defaults: `OLLAMA_HOST` or `http://localhost:11434` (ollama),
    /// `https://ollama.com` (ollama-cloud), `https://generativelanguage.googleapis.com/v1beta`
    /// (gemini), `OPENAI_BASE_URL` or `https://api.openai.com/v1` (openai). An Ollama URL may
    /// end in `/api` or not.
    pub base_url: Option<String>,
    /// The environment variable holding the API key. Defaults: `OLLAMA_API_KEY` (sent only to
    /// ollama.com), `GEMINI_API_KEY`, `OPENAI_API_KEY` (optional for the built-in `openai`; a
    /// profile of kind openai sends a key only when it names this variable). Keys are never
    /// written in the config itself.
    pub api_key_env: Option<String>,
    /// Least time between the starts of two requests, in milliseconds (default 0).
    pub delay_ms: Option<u64>,
    /// How often one request is retried after a transient failure (default 5).
    pub max_retries: Option<u32>,
    /// Requests in flight at once (default 1 for a server on this machine, 4 for a remote one).
    pub concurrency: Option<u32>,
    /// Longest time one request may take, stream included, such as `"10m"` (default 10 minutes).
    pub timeout: Option<String>,
    /// Longest silence (no byte at all) before a request is given up, such as `"2m"` (default 2
    /// minutes).
    pub idle_timeout: Option<String>,
    /// First backoff step between retries without a server hint, such as `"1s"` (default 1 s;
    /// a 429 without a hint starts five times higher).
    pub retry_base: Option<String>,
    /// Longest backoff step between retries, such as `"60s"` (default 60 s).
    pub retry_cap: Option<String>,
    /// Ollama only: how long the server keeps the model loaded after a request, as Ollama
    /// writes it (`"30m"`, or seconds; default `"30m"`), so the run never reloads it.
    pub keep_alive: Option<KeepAlive>,
    /// Thinking, sent only when set. Ollama: `true`, `false` or a level (`"low"`, `"medium"`,
    /// `"high"`, `"max"`). Gemini: `true` (thought summaries on), `false` (budget 0), a level
    /// (Gemini 3 `thinkingLevel`) or a token budget. OpenAI-compatible: a level becomes
    /// `reasoning_effort`, `false` becomes `"none"`.
    pub think: Option<Think>,
    /// Ollama only: the context window to ask for. By default it is sized from each prompt and
    /// `max_tokens`, capped by the model's own context length.
    pub num_ctx: Option<u32>,
    /// A table merged into every generation request's JSON body (server-specific switches such
    /// as `chat_template_kwargs` or `cache_prompt`).
    pub extra_body: Option<toml::Table>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    #[default]
    Ollama,
    OllamaCloud,
    Gemini,
    Openai,
}

/// Ollama's `keep_alive`: a duration text or a number of seconds (negative keeps it forever).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum KeepAlive {
    Seconds(i64),
    Text(String),
}

/// A thinking setting, as the profile writes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Think {
    Enabled(bool),
    Budget(u32),
    Level(String),
}

/// The names that work without a profile.
pub const BUILT_IN: [&str; 4] = ["ollama", "ollama-cloud", "gemini", "openai"];

/// The profile a model's provider name stands for: the config's table of that name, which may
/// redefine a built-in one, else the built-in profile.
pub fn resolve(
    name: &str,
    profiles: &BTreeMap<String, ProviderProfile>,
) -> Option<ProviderProfile> {
    profiles.get(name).cloned().or_else(|| built_in(name))
}

/// The built-in profile of that name.
pub fn built_in(name: &str) -> Option<ProviderProfile> {
    let kind = match name {
        "ollama" => ProviderKind::Ollama,
        "ollama-cloud" => ProviderKind::OllamaCloud,
        "gemini" => ProviderKind::Gemini,
        "openai" => ProviderKind::Openai,
        _ => return None,
    };
    Some(ProviderProfile {
        kind,
        ..ProviderProfile::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_key_parses_in_kebab_case() {
        let profile: ProviderProfile = toml::from_str(
            r#"
            kind = "ollama-cloud"
            base-url = "http://127.0.0.1:9"
            api-key-env = "MY_KEY"
            delay-ms = 5
            max-retries = 2
            concurrency = 3
            timeout = "1m"
            idle-timeout = "10s"
            retry-base = "10ms"
            retry-cap = "1s"
            keep-alive = -1
            think = "high"
            num-ctx = 8192
            extra-body = { cache_prompt = false }
            "#,
        )
        .unwrap();
        assert_eq!(profile.kind, ProviderKind::OllamaCloud);
        assert_eq!(profile.keep_alive, Some(KeepAlive::Seconds(-1)));
        assert_eq!(profile.think, Some(Think::Level("high".into())));
        assert_eq!(profile.num_ctx, Some(8192));
    }

    #[test]
    fn thinking_can_be_a_switch_a_budget_or_a_level() {
        let parse = |text: &str| toml::from_str::<ProviderProfile>(text).unwrap().think;
        assert_eq!(
            parse("kind = \"gemini\"\nthink = false"),
            Some(Think::Enabled(false))
        );
        assert_eq!(
            parse("kind = \"gemini\"\nthink = 1024"),
            Some(Think::Budget(1024))
        );
    }

    #[test]
    fn an_unknown_profile_key_is_rejected() {
        assert!(toml::from_str::<ProviderProfile>("kind = \"ollama\"\nbase-ur = \"x\"").is_err());
    }
}
