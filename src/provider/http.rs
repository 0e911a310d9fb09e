//! The one HTTP client: a server's base URL, its API key, timeouts and the retry loop.
//!
//! Keys live in `SecretString`s, are attached per request only where the key belongs, and are
//! scrubbed from any text a server sends back before it can reach an error message. Redirects
//! are never followed, so a key cannot travel on to another host.

use super::framing::{NdjsonSplitter, SseEvent, SseParser, SseTail};
use super::retry::{classify_status, ErrorBody, Fault, RetryPolicy, Verdict};
use super::{ProviderError, ProviderEvent, Retries};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, Url};
use secrecy::{ExposeSecret, SecretString};
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// An API key and the header that carries it.
#[derive(Debug)]
pub struct ApiKey {
    pub header: HeaderName,
    /// Prefixed to the key in the header (`Bearer `), or empty.
    pub scheme: &'static str,
    pub value: SecretString,
    /// The key is sent only when the request's host is this one (`ollama.com`), or to the
    /// configured base URL's host when `None`.
    pub only_host: Option<&'static str>,
}

/// Timeouts of one profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeouts {
    /// Whole request, stream included.
    pub total: Duration,
    /// No byte at all for this long.
    pub idle: Duration,
}

/// A profile's own limits; a missing concurrency defaults by where the model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileLimits {
    pub concurrency: Option<usize>,
    pub delay: Duration,
}

/// What the user should do when nothing listens at the base URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartHint {
    OllamaServe,
    StartServer,
}

/// One server: where it is, how to authenticate, how patiently to ask.
#[derive(Debug)]
pub struct Endpoint {
    client: reqwest::Client,
    pub base: Url,
    key: Option<ApiKey>,
    pub policy: RetryPolicy,
    pub timeouts: Timeouts,
    start_hint: StartHint,
    pub limits: ProfileLimits,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A generation request the server accepted: when it was sent, when its budget runs out, and
/// the answer whose body is still to stream.
#[derive(Debug)]
pub struct Posted {
    pub sent: Instant,
    pub deadline: Instant,
    pub response: Response,
}

impl Endpoint {
    pub fn new(
        base: Url,
        key: Option<ApiKey>,
        policy: RetryPolicy,
        timeouts: Timeouts,
        start_hint: StartHint,
        limits: ProfileLimits,
    ) -> Result<Endpoint, ProviderError> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("cargo-llm-bench/", env!("CARGO_PKG_VERSION")));
        // A proxy set for the internet must not swallow requests to this machine. Local
        // servers (llama.cpp's among them) may close a connection right after a streamed
        // answer; a fresh connection costs nothing on loopback, while reusing a closed one
        // costs a retry.
        if is_loopback(&base) {
            builder = builder.no_proxy().pool_max_idle_per_host(0);
        }
        let client = builder.build().map_err(|error| ProviderError::Unusable {
            reason: format!("cannot build an HTTP client: {error}"),
            retries: Retries::default(),
        })?;
        Ok(Endpoint {
            client,
            base,
            key,
            policy,
            timeouts,
            start_hint,
            limits,
        })
    }

    pub fn is_local(&self) -> bool {
        is_loopback(&self.base)
    }

    /// `base` + `/path` (the base's own path kept).
    pub fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let joined = format!(
            "{}/{}",
            url.path().trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        url.set_path(&joined);
        url
    }

    /// A request with the key attached where it belongs.
    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let allowed = self.key.as_ref().filter(|key| {
            let host = url.host_str();
            match key.only_host {
                Some(only) => host == Some(only),
                None => host == self.base.host_str(),
            }
        });
        let builder = self.client.request(method, url);
        match allowed {
            Some(key) => {
                let text = format!("{}{}", key.scheme, key.value.expose_secret());
                match HeaderValue::from_str(&text) {
                    Ok(mut value) => {
                        value.set_sensitive(true);
                        builder.header(key.header.clone(), value)
                    }
                    // A key that cannot be a header value is not sent; the server's 401 says so.
                    Err(_) => builder,
                }
            }
            None => builder,
        }
    }

    /// Removes the key from text a server sent back.
    pub fn scrub(&self, text: &str) -> String {
        match &self.key {
            Some(key) if !key.value.expose_secret().is_empty() => {
                text.replace(key.value.expose_secret(), "****")
            }
            _ => text.to_owned(),
        }
    }

    /// POSTs a generation's JSON body, with the request's whole budget counted from now; the
    /// answer's stream is for `read_stream` to read before `deadline`.
    pub async fn post_generation(
        &self,
        url: &Url,
        body: &serde_json::Value,
    ) -> Result<Posted, Fault> {
        let sent = Instant::now();
        let deadline = sent + self.timeouts.total;
        let post = self.request(Method::POST, url.clone()).json(body);
        let response = self.send(post, deadline).await?;
        Ok(Posted {
            sent,
            deadline,
            response,
        })
    }

    /// Sends a request and checks its status; a non-2xx answer becomes a classified fault with
    /// the server's error message.
    pub async fn send(
        &self,
        request: RequestBuilder,
        deadline: Instant,
    ) -> Result<Response, Fault> {
        // Only the request's whole budget bounds the wait for headers: Ollama sends them with
        // the first token, after a prefill that can take minutes on a slow machine.
        let wait = deadline.saturating_duration_since(Instant::now());
        let response = match tokio::time::timeout(wait, request.send()).await {
            Err(_) => {
                return Err(Fault::fail(format!(
                    "the server sent no response within the {} timeout",
                    humantime::format_duration(self.timeouts.total)
                ))
                .timed_out())
            }
            Ok(Err(error)) => return Err(self.transport_fault(&error, false)),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let headers = response.headers().clone();
        let body = match tokio::time::timeout(self.timeouts.idle, response.bytes()).await {
            Ok(Ok(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
            _ => String::new(),
        };
        let verdict = classify_status(status.as_u16(), &headers, &body);
        let summary = self.scrub(&ErrorBody::parse(&body).summary(Some(status.as_u16())));
        Err(Fault {
            verdict,
            reason: summary,
            timed_out: false,
            status: Some(status.as_u16()),
        })
    }

    /// A transport error (no HTTP status): nothing listening is unusable, the rest transient
    /// before the response started and fatal for this request after it.
    pub fn transport_fault(&self, error: &reqwest::Error, streaming: bool) -> Fault {
        let text = self.scrub(&describe(error));
        if is_connection_refused(error) {
            let how = match self.start_hint {
                StartHint::OllamaServe => "start it with `ollama serve`".to_owned(),
                StartHint::StartServer => format!("start the server at {}", self.base),
            };
            return Fault::unusable(format!("nothing is listening at {}: {how}", self.base));
        }
        if streaming {
            return Fault::fail(format!("the stream broke off: {text}"))
                .timed_out_if(error.is_timeout());
        }
        Fault::retry(text).timed_out_if(error.is_timeout())
    }

    /// Runs `attempt` until it succeeds, fails for good or runs out of retries, sleeping per
    /// the policy in between and telling `on_event` about each wait.
    pub async fn with_retry<T, F, Fut>(
        &self,
        on_event: &(dyn Fn(ProviderEvent) + Send + Sync),
        mut attempt: F,
    ) -> Result<(T, Retries), ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Fault>>,
    {
        let mut retries = Retries::default();
        loop {
            let fault = match attempt().await {
                Ok(value) => return Ok((value, retries)),
                Err(fault) => fault,
            };
            match fault.verdict {
                Verdict::Unusable => {
                    return Err(ProviderError::Unusable {
                        reason: fault.reason,
                        retries,
                    })
                }
                Verdict::Fail => {
                    return Err(ProviderError::Failed {
                        reason: fault.reason,
                        timed_out: fault.timed_out,
                        retries,
                    })
                }
                Verdict::Retry { hint, throttled } => {
                    if let Some(hint) = hint.filter(|hint| *hint > self.policy.longest_hint) {
                        return Err(ProviderError::Unusable {
                            reason: format!(
                                "{}; the server asks to wait {}, longer than {} s",
                                fault.reason,
                                humantime::format_duration(round_to_seconds(hint)),
                                self.policy.longest_hint.as_secs()
                            ),
                            retries,
                        });
                    }
                    if retries.count >= self.policy.max_retries {
                        let reason = if retries.count == 0 {
                            fault.reason
                        } else {
                            format!("{} (after {} retries)", fault.reason, retries.count)
                        };
                        return Err(ProviderError::Failed {
                            reason,
                            timed_out: fault.timed_out,
                            retries,
                        });
                    }
                    retries.count += 1;
                    let wait = self.policy.wait(retries.count, hint, throttled);
                    on_event(ProviderEvent::Retrying {
                        retry: retries.count,
                        wait,
                    });
                    tokio::time::sleep(wait).await;
                    retries.waited += wait;
                }
            }
        }
    }

    /// Sends a JSON body and decodes a JSON answer, with retries; for the small endpoints.
    pub async fn json(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, CallFailure> {
        let quiet = |_: ProviderEvent| {};
        let last_status = AtomicU32::new(0);
        let result = self
            .with_retry(&quiet, || async {
                let deadline = Instant::now() + self.timeouts.total;
                let mut request = self.request(method.clone(), url.clone());
                if let Some(body) = body {
                    request = request.json(body);
                }
                let response = self.send(request, deadline).await.inspect_err(|fault| {
                    last_status.store(fault.status.map_or(0, u32::from), Ordering::Relaxed);
                })?;
                last_status.store(0, Ordering::Relaxed);
                let bytes = read_all(response, self.timeouts.idle, deadline, self).await?;
                serde_json::from_slice::<serde_json::Value>(&bytes).map_err(|error| {
                    Fault::fail(format!(
                        "{url} answered with something that is not JSON: {error}"
                    ))
                })
            })
            .await;
        result.map(|(value, _)| value).map_err(|error| CallFailure {
            error,
            status: u16::try_from(last_status.load(Ordering::Relaxed))
                .ok()
                .filter(|&status| status != 0),
        })
    }

    /// Reads a streamed body frame by frame, feeding `decoder`; the body's end, a broken
    /// connection, the idle timeout and the total deadline all end it.
    pub async fn read_stream<D: StreamDecoder>(
        &self,
        mut response: Response,
        framing: Framing,
        decoder: &mut D,
        deadline: Instant,
    ) -> Result<(), Fault> {
        let mut lines = NdjsonSplitter::default();
        let mut events = SseParser::default();
        loop {
            let wait = self
                .timeouts
                .idle
                .min(deadline.saturating_duration_since(Instant::now()));
            let chunk = match tokio::time::timeout(wait, response.chunk()).await {
                Err(_) if Instant::now() >= deadline => {
                    return Err(Fault::fail(format!(
                        "the request took longer than its {} timeout",
                        humantime::format_duration(self.timeouts.total)
                    ))
                    .timed_out())
                }
                Err(_) => {
                    return Err(Fault::fail(format!(
                        "the stream went silent for {}",
                        humantime::format_duration(self.timeouts.idle)
                    ))
                    .timed_out())
                }
                Ok(Err(error)) => return Err(self.transport_fault(&error, true)),
                Ok(Ok(chunk)) => chunk,
            };
            let now = Instant::now();
            match (framing, chunk) {
                (Framing::Ndjson, Some(bytes)) => {
                    for line in lines.push(&bytes) {
                        decoder.line(&line, now)?;
                    }
                }
                (Framing::Sse, Some(bytes)) => {
                    for event in events.push(&bytes) {
                        decoder.event(&event, now)?;
                    }
                }
                (Framing::Ndjson, None) => {
                    if let Some(line) = lines.finish() {
                        decoder.line(&line, now)?;
                    }
                    return Ok(());
                }
                (Framing::Sse, None) => {
                    let SseTail { event, raw } = events.finish();
                    if let Some(event) = event {
                        return decoder.event(&event, now);
                    }
                    let raw: Vec<&str> =
                        raw.lines().filter(|line| !line.starts_with(':')).collect();
                    return decoder.tail(&raw.join("\n"));
                }
            }
        }
    }
}

/// A failed call to a small endpoint, with the HTTP status when the server sent one (so a
/// caller can tell "no such model" from "no such endpoint" from "no server").
#[derive(Debug)]
pub struct CallFailure {
    pub error: ProviderError,
    pub status: Option<u16>,
}

/// How a streamed body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Ndjson,
    Sse,
}

/// A wire format's reader of frames. A frame can end the try with a fault (an error inside the
/// stream).
pub trait StreamDecoder {
    fn line(&mut self, _line: &str, _at: Instant) -> Result<(), Fault> {
        Ok(())
    }
    fn event(&mut self, _event: &SseEvent, _at: Instant) -> Result<(), Fault> {
        Ok(())
    }
    /// The text after the last complete event, when the stream closed.
    fn tail(&mut self, _raw: &str) -> Result<(), Fault> {
        Ok(())
    }
}

async fn read_all(
    mut response: Response,
    idle: Duration,
    deadline: Instant,
    endpoint: &Endpoint,
) -> Result<Vec<u8>, Fault> {
    let mut body = Vec::new();
    loop {
        let wait = idle.min(deadline.saturating_duration_since(Instant::now()));
        match tokio::time::timeout(wait, response.chunk()).await {
            Err(_) => return Err(Fault::fail("the server stopped sending").timed_out()),
            Ok(Err(error)) => return Err(endpoint.transport_fault(&error, true)),
            Ok(Ok(Some(bytes))) => body.extend_from_slice(&bytes),
            Ok(Ok(None)) => return Ok(body),
        }
    }
}

impl Fault {
    fn timed_out_if(self, timed_out: bool) -> Fault {
        if timed_out {
            self.timed_out()
        } else {
            self
        }
    }
}

fn round_to_seconds(duration: Duration) -> Duration {
    Duration::from_secs(duration.as_secs_f64().round() as u64)
}

/// The error and its causes on one line (reqwest's own text is only the outermost layer).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn is_connection_refused(error: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        source = cause.source();
    }
    false
}

/// Whether a URL points at this machine: `localhost`, 127.0.0.0/8, `::1` (or the unspecified
/// address, which connects here too).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => {
            domain.eq_ignore_ascii_case("localhost")
                || domain.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback() || ip.is_unspecified(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback() || ip.is_unspecified(),
        None => false,
    }
}

/// Parses a base URL from a profile or the environment.
pub fn parse_base(text: &str, origin: &str) -> Result<Url, ProviderError> {
    let url = Url::parse(text.trim()).map_err(|error| ProviderError::Unusable {
        reason: format!("{origin} `{text}` is not a URL: {error}"),
        retries: Retries::default(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ProviderError::Unusable {
            reason: format!("{origin} `{text}` is not an http:// or https:// URL"),
            retries: Retries::default(),
        });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::AUTHORIZATION;

    fn endpoint(base: &str, only_host: Option<&'static str>) -> Endpoint {
        Endpoint::new(
            Url::parse(base).unwrap(),
            Some(ApiKey {
                header: AUTHORIZATION,
                scheme: "Bearer ",
                value: SecretString::from("marker-key"),
                only_host,
            }),
            RetryPolicy::default(),
            Timeouts {
                total: Duration::from_secs(1),
                idle: Duration::from_secs(1),
            },
            StartHint::StartServer,
            ProfileLimits {
                concurrency: None,
                delay: Duration::ZERO,
            },
        )
        .unwrap()
    }

    fn authorization(endpoint: &Endpoint, url: &str) -> Option<String> {
        let request = endpoint
            .request(Method::POST, Url::parse(url).unwrap())
            .build()
            .unwrap();
        let value = request.headers().get(AUTHORIZATION)?;
        assert!(value.is_sensitive());
        Some(value.to_str().unwrap().to_owned())
    }

    #[test]
    fn an_ollama_key_goes_to_ollama_com_and_nowhere_else() {
        let cloud = endpoint("https://ollama.com", Some("ollama.com"));
        assert_eq!(
            authorization(&cloud, "https://ollama.com/api/chat").as_deref(),
            Some("Bearer marker-key")
        );
        for elsewhere in [
            "http://127.0.0.1:11434/api/chat",
            "http://localhost:11434/api/chat",
            "https://ollama.com.evil.example/api/chat",
        ] {
            assert_eq!(authorization(&cloud, elsewhere), None, "{elsewhere}");
        }
        let local = endpoint("http://127.0.0.1:11434", Some("ollama.com"));
        assert_eq!(
            authorization(&local, "http://127.0.0.1:11434/api/chat"),
            None
        );
    }

    #[test]
    fn other_keys_go_to_their_base_urls_host_only() {
        let gemini = endpoint("https://generativelanguage.googleapis.com/v1beta", None);
        assert!(authorization(
            &gemini,
            "https://generativelanguage.googleapis.com/v1beta/models"
        )
        .is_some());
        assert_eq!(
            authorization(&gemini, "https://example.com/v1beta/models"),
            None
        );
    }

    #[test]
    fn the_key_is_scrubbed_from_server_text_and_absent_from_debug_output() {
        let cloud = endpoint("https://ollama.com", Some("ollama.com"));
        assert_eq!(cloud.scrub("bad key marker-key!"), "bad key ****!");
        assert!(!format!("{cloud:?}").contains("marker-key"));
    }

    #[test]
    fn urls_join_onto_the_base_path() {
        let openai = endpoint("http://127.0.0.1:8080/v1", None);
        assert_eq!(
            openai.url("chat/completions").as_str(),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
        let ollama = endpoint("http://127.0.0.1:11434/", None);
        assert_eq!(
            ollama.url("/api/chat").as_str(),
            "http://127.0.0.1:11434/api/chat"
        );
    }

    #[test]
    fn loopback_means_localhost_127_slash_8_and_ipv6_one() {
        for local in [
            "http://localhost:11434",
            "http://127.0.0.1:8080/v1",
            "http://127.3.2.1",
            "http://[::1]:11434",
        ] {
            assert!(is_loopback(&Url::parse(local).unwrap()), "{local}");
        }
        for remote in [
            "https://ollama.com",
            "http://10.0.0.1",
            "http://localhost.example.com",
        ] {
            assert!(!is_loopback(&Url::parse(remote).unwrap()), "{remote}");
        }
    }
}
