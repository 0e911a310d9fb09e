//! Which failures are worth another try, and how long to wait before it (PROTOCOLS.md §5).
//!
//! Written by hand because the decision needs the status, the headers and the error body
//! together (Gemini's `RetryInfo` and per-day quotas, Ollama's usage-limit text), which no retry
//! middleware sees.

use reqwest::header::HeaderMap;
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// How a profile retries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    /// First backoff step without a server hint.
    pub base: Duration,
    /// Longest backoff step.
    pub cap: Duration,
    /// A server asking for a longer wait than this makes the model unusable for the run.
    pub longest_hint: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_retries: 5,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            longest_hint: Duration::from_secs(120),
        }
    }
}

/// A 429 without a hint backs off this many times harder than other transient failures.
const THROTTLED_FACTOR: u32 = 5;

impl RetryPolicy {
    /// The wait before retry number `retry` (from 1): the server's hint plus up to 10 %, or
    /// AWS full jitter, `random(0, min(cap, base · 2^(retry-1)))`.
    pub fn wait(&self, retry: u32, hint: Option<Duration>, throttled: bool) -> Duration {
        if let Some(hint) = hint {
            return hint.mul_f64(1.0 + fastrand::f64() * 0.1);
        }
        let base = if throttled {
            self.base * THROTTLED_FACTOR
        } else {
            self.base
        };
        let ceiling = base
            .checked_mul(1u32 << retry.saturating_sub(1).min(20))
            .map_or(self.cap, |step| step.min(self.cap));
        ceiling.mul_f64(fastrand::f64())
    }
}

/// What one failed try means for the request.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Transient: try again, after the server's hint when it gave one.
    Retry {
        hint: Option<Duration>,
        throttled: bool,
    },
    /// The model cannot be used for the rest of the run (auth, missing model, exhausted quota,
    /// server not running).
    Unusable,
    /// This request failed; the next one may not.
    Fail,
}

/// A failed try: what it means, and what to tell the user (never a secret).
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub verdict: Verdict,
    pub reason: String,
    pub timed_out: bool,
    /// The HTTP status of an error response.
    pub status: Option<u16>,
}

impl Fault {
    pub fn fail(reason: impl Into<String>) -> Fault {
        Fault {
            verdict: Verdict::Fail,
            reason: reason.into(),
            timed_out: false,
            status: None,
        }
    }

    pub fn unusable(reason: impl Into<String>) -> Fault {
        Fault {
            verdict: Verdict::Unusable,
            reason: reason.into(),
            timed_out: false,
            status: None,
        }
    }

    pub fn retry(reason: impl Into<String>) -> Fault {
        Fault {
            verdict: Verdict::Retry {
                hint: None,
                throttled: false,
            },
            reason: reason.into(),
            timed_out: false,
            status: None,
        }
    }

    pub fn timed_out(mut self) -> Fault {
        self.timed_out = true;
        self
    }
}

/// Classifies an HTTP error response by its status, headers and body.
pub fn classify_status(status: u16, headers: &HeaderMap, body: &str) -> Verdict {
    let error = ErrorBody::parse(body);
    if error.is_slot_timeout() {
        return Verdict::Retry {
            hint: header_hint(headers),
            throttled: true,
        };
    }
    if error.is_quota_exhausted() {
        return Verdict::Unusable;
    }
    let hint = header_hint(headers).or(error.retry_delay);
    match header_text(headers, "x-should-retry")
        .map(|text| text.to_ascii_lowercase())
        .as_deref()
    {
        Some("true") => {
            return Verdict::Retry {
                hint,
                throttled: status == 429,
            }
        }
        Some("false") => return Verdict::Fail,
        _ => {}
    }
    match status {
        408 | 425 | 500 | 502 | 503 | 504 => Verdict::Retry {
            hint,
            throttled: false,
        },
        429 => Verdict::Retry {
            hint,
            throttled: true,
        },
        // OpenRouter's in-flight budget says when to come back; a 402 without that is spent
        // credit.
        402 if hint.is_some() => Verdict::Retry {
            hint,
            throttled: true,
        },
        401..=404 => Verdict::Unusable,
        _ => Verdict::Fail,
    }
}

/// Classifies an error that arrived inside a 200 stream: by its code when it has one, by its
/// text otherwise.
pub fn classify_stream_error(error: &Value) -> Verdict {
    let body = ErrorBody::from_value(error);
    if body.is_slot_timeout() {
        return Verdict::Retry {
            hint: None,
            throttled: true,
        };
    }
    if body.is_quota_exhausted() {
        return Verdict::Unusable;
    }
    let status = body.code.or_else(|| {
        Some(match body.status.as_deref()? {
            "UNAVAILABLE" => 503,
            "RESOURCE_EXHAUSTED" => 429,
            "DEADLINE_EXCEEDED" => 504,
            "INTERNAL" => 500,
            _ => return None,
        })
    });
    match status {
        Some(408 | 429 | 500 | 502 | 503 | 504) => Verdict::Retry {
            hint: body.retry_delay,
            throttled: status == Some(429),
        },
        _ => Verdict::Fail,
    }
}

/// The useful parts of any of the error shapes in PROTOCOLS.md: Ollama `{"error":"text"}`,
/// Google `{"error":{code,message,status,details}}`, OpenAI `{"error":{message,type,code}}`,
/// vLLM's flat `{"object":"error",...}`.
#[derive(Debug, Default, PartialEq)]
pub struct ErrorBody {
    pub message: Option<String>,
    pub code: Option<u16>,
    pub status: Option<String>,
    pub kind: Option<String>,
    quota_ids: Vec<String>,
    retry_delay: Option<Duration>,
}

impl ErrorBody {
    pub fn parse(body: &str) -> ErrorBody {
        match serde_json::from_str::<Value>(body.trim()) {
            // The non-SSE Gemini stream wraps its error in a one-element array.
            Ok(Value::Array(items)) if items.len() == 1 => ErrorBody::from_value(&items[0]),
            Ok(value) => ErrorBody::from_value(&value),
            Err(_) => ErrorBody {
                message: Some(body.trim().to_owned()).filter(|text| !text.is_empty()),
                ..ErrorBody::default()
            },
        }
    }

    pub fn from_value(value: &Value) -> ErrorBody {
        let inner = match value.get("error") {
            Some(Value::String(text)) => {
                return ErrorBody {
                    message: Some(text.clone()),
                    ..ErrorBody::default()
                }
            }
            Some(inner @ Value::Object(_)) => inner,
            _ => value,
        };
        let text = |key: &str| inner.get(key).and_then(Value::as_str).map(str::to_owned);
        let code_text = text("code");
        let mut body = ErrorBody {
            message: text("message").or_else(|| inner.as_str().map(str::to_owned)),
            code: inner
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|code| u16::try_from(code).ok()),
            status: text("status"),
            kind: text("type").or(code_text),
            ..ErrorBody::default()
        };
        for detail in inner
            .get("details")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(delay) = detail.get("retryDelay").and_then(Value::as_str) {
                body.retry_delay = parse_proto_duration(delay);
            }
            for violation in detail
                .get("violations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(id) = violation.get("quotaId").and_then(Value::as_str) {
                    body.quota_ids.push(id.to_owned());
                }
            }
        }
        body
    }

    fn text(&self) -> String {
        self.message.as_deref().unwrap_or_default().to_lowercase()
    }

    fn is_slot_timeout(&self) -> bool {
        self.text().contains("concurrent request slot")
    }

    /// Quota that will not come back within the run: Gemini per-day quotas or `limit: 0`,
    /// Ollama Cloud usage limits, OpenAI `insufficient_quota`.
    fn is_quota_exhausted(&self) -> bool {
        let text = self.text();
        self.quota_ids.iter().any(|id| id.contains("PerDay"))
            || text.contains("limit: 0")
            || text.contains("usage limit")
            || self.kind.as_deref() == Some("insufficient_quota")
    }

    /// A one-line summary for error messages.
    pub fn summary(&self, status: Option<u16>) -> String {
        let mut parts = Vec::new();
        if let Some(status) = status.or(self.code) {
            parts.push(format!("HTTP {status}"));
        }
        if let Some(label) = self.status.as_ref().or(self.kind.as_ref()) {
            parts.push(label.clone());
        }
        let head = parts.join(" ");
        match &self.message {
            Some(message) if head.is_empty() => shorten(message),
            Some(message) => format!("{head}: {}", shorten(message)),
            None if head.is_empty() => "an error without a message".to_owned(),
            None => head,
        }
    }
}

/// Long server texts (HTML error pages) are cut for messages.
pub fn shorten(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// `retry-after-ms` (float milliseconds) first, then `Retry-After` as seconds or an HTTP date.
pub fn header_hint(headers: &HeaderMap) -> Option<Duration> {
    if let Some(millis) = header_text(headers, "retry-after-ms")
        .and_then(|text| text.parse::<f64>().ok())
        .filter(|millis| millis.is_finite() && *millis >= 0.0)
    {
        return Some(Duration::from_secs_f64(millis / 1000.0));
    }
    parse_retry_after(&header_text(headers, "retry-after")?, SystemTime::now())
}

/// RFC 9110 `Retry-After`: delay seconds (decimals accepted) or an IMF-fixdate; a date in the
/// past means now.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A proto `Duration` in JSON form: `"26s"`, `"0.5s"`.
pub fn parse_proto_duration(text: &str) -> Option<Duration> {
    let seconds: f64 = text.trim().strip_suffix('s')?.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    Some(headers.get(name)?.to_str().ok()?.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn retry_after_is_read_as_seconds_decimal_seconds_or_an_http_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2026 07:27:50 GMT").unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn an_http_date_header_is_read_as_sent() {
        let hint = header_hint(&headers(&[(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT",
        )]));
        assert_eq!(hint, Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_ms_wins_over_retry_after() {
        let hint = header_hint(&headers(&[
            ("retry-after", "7"),
            ("retry-after-ms", "1500"),
        ]));
        assert_eq!(hint, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn gemini_retry_delays_are_decimal_seconds() {
        assert_eq!(parse_proto_duration("26s"), Some(Duration::from_secs(26)));
        assert_eq!(
            parse_proto_duration("0.5s"),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse_proto_duration("26"), None);
    }

    #[test]
    fn transient_statuses_are_retried_and_client_errors_are_not() {
        for status in [408, 425, 500, 502, 503, 504] {
            assert!(matches!(
                classify_status(status, &HeaderMap::new(), ""),
                Verdict::Retry {
                    throttled: false,
                    ..
                }
            ));
        }
        for status in [401, 402, 403, 404] {
            assert_eq!(
                classify_status(status, &HeaderMap::new(), ""),
                Verdict::Unusable
            );
        }
        for status in [400, 422, 501] {
            assert_eq!(
                classify_status(status, &HeaderMap::new(), ""),
                Verdict::Fail
            );
        }
    }

    #[test]
    fn a_429_without_a_hint_is_throttled_and_one_with_a_hint_uses_it() {
        assert_eq!(
            classify_status(429, &HeaderMap::new(), "{}"),
            Verdict::Retry {
                hint: None,
                throttled: true
            }
        );
        assert_eq!(
            classify_status(429, &headers(&[("retry-after", "7")]), "{}"),
            Verdict::Retry {
                hint: Some(Duration::from_secs(7)),
                throttled: true
            }
        );
    }

    #[test]
    fn quota_exhaustion_is_never_retried() {
        let weekly = r#"{"error":"you've reached your weekly usage limit, please wait or upgrade to continue"}"#;
        let openai = r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
        let per_day = r#"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"26s"}]}}"#;
        let limit_zero = r#"{"error":{"code":429,"message":"* Quota exceeded for metric: x, limit: 0, model: gemini-3.1-pro\nPlease retry in 5.2s.","status":"RESOURCE_EXHAUSTED"}}"#;
        for body in [weekly, openai, per_day, limit_zero] {
            assert_eq!(
                classify_status(429, &HeaderMap::new(), body),
                Verdict::Unusable,
                "{body}"
            );
        }
    }

    #[test]
    fn the_ollama_cloud_slot_timeout_is_retried_whatever_its_status() {
        let body = r#"{"error":"timed out waiting for a concurrent request slot"}"#;
        assert!(matches!(
            classify_status(500, &HeaderMap::new(), body),
            Verdict::Retry { .. }
        ));
        assert!(matches!(
            classify_stream_error(&serde_json::from_str(body).unwrap()),
            Verdict::Retry { .. }
        ));
    }

    #[test]
    fn gemini_retry_info_is_the_hint_of_a_per_minute_429() {
        let body = "{\n  \"error\": {\n    \"code\": 429,\n    \"status\": \"RESOURCE_EXHAUSTED\",\n    \"details\": [\n      {\"@type\": \"type.googleapis.com/google.rpc.QuotaFailure\", \"violations\": [{\"quotaId\": \"GenerateContentInputTokensPerModelPerMinute-FreeTier\"}]},\n      {\"@type\": \"type.googleapis.com/google.rpc.RetryInfo\", \"retryDelay\": \"26s\"}\n    ]\n  }\n}\n";
        assert_eq!(
            classify_status(429, &HeaderMap::new(), body),
            Verdict::Retry {
                hint: Some(Duration::from_secs(26)),
                throttled: true
            }
        );
    }

    #[test]
    fn full_jitter_stays_under_the_doubling_ceiling_and_the_cap() {
        let policy = RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(350),
            ..RetryPolicy::default()
        };
        for _ in 0..200 {
            assert!(policy.wait(1, None, false) <= Duration::from_millis(100));
            assert!(policy.wait(2, None, false) <= Duration::from_millis(200));
            assert!(policy.wait(9, None, false) <= Duration::from_millis(350));
            assert!(policy.wait(1, None, true) <= Duration::from_millis(350));
            let hinted = policy.wait(1, Some(Duration::from_secs(7)), false);
            assert!(hinted >= Duration::from_secs(7) && hinted <= Duration::from_millis(7700));
        }
    }

    #[test]
    fn error_summaries_name_status_and_message() {
        let body = ErrorBody::parse(r#"{"error":"model 'llama9' not found"}"#);
        assert_eq!(
            body.summary(Some(404)),
            "HTTP 404: model 'llama9' not found"
        );
        let flat = ErrorBody::parse(
            r#"{"object":"error","message":"bad","type":"BadRequestError","param":null,"code":400}"#,
        );
        assert_eq!(flat.summary(None), "HTTP 400 BadRequestError: bad");
    }
}
