//! Timestamps of one streamed answer and the metric formulas of PROTOCOLS.md §0.5 and §7.
//!
//! Server numbers are preferred when present; client numbers are computed from our own
//! `Instant`s otherwise, and every number carries its source. Divisions are guarded: a rate
//! that cannot be measured is `None`, never infinite or zero.

use super::{GenerationEnd, GenerationMetrics, ProviderEvent, Retries, Source};
use std::time::{Duration, Instant};

/// The answer as it streams in, with the moments that matter.
#[derive(Debug)]
pub struct Transcript {
    pub sent: Instant,
    pub first_token: Option<Instant>,
    pub first_answer: Option<Instant>,
    pub last_token: Option<Instant>,
    pub text: String,
    pub thinking: String,
    /// Non-empty pieces received: a token count estimate for servers that stream one token a
    /// piece and do not count (Ollama, OpenAI-compatible; never Gemini).
    pub pieces: u64,
}

impl Transcript {
    pub fn new(sent: Instant) -> Transcript {
        Transcript {
            sent,
            first_token: None,
            first_answer: None,
            last_token: None,
            text: String::new(),
            thinking: String::new(),
            pieces: 0,
        }
    }

    /// Adds answer text; empty pieces (role chunks, keep-alives) are not tokens.
    pub fn answer(&mut self, piece: &str, at: Instant, on_event: &dyn Fn(ProviderEvent)) {
        if piece.is_empty() {
            return;
        }
        self.token(at, on_event);
        self.first_answer.get_or_insert(at);
        self.text.push_str(piece);
    }

    pub fn think(&mut self, piece: &str, at: Instant, on_event: &dyn Fn(ProviderEvent)) {
        if piece.is_empty() {
            return;
        }
        self.token(at, on_event);
        self.thinking.push_str(piece);
    }

    fn token(&mut self, at: Instant, on_event: &dyn Fn(ProviderEvent)) {
        self.pieces += 1;
        if self.first_token.is_none() {
            self.first_token = Some(at);
            on_event(ProviderEvent::FirstToken);
        }
        self.last_token = Some(at);
    }

    /// A budget that ran out: thinking alone used it, or the answer was cut.
    pub fn budget_end(&self) -> GenerationEnd {
        if self.text.trim().is_empty() && !self.thinking.trim().is_empty() {
            GenerationEnd::ThinkingExhausted
        } else {
            GenerationEnd::MaxTokens
        }
    }

    /// Our numbers for a server that streams one token a piece: without the server's count
    /// (`server_tokens`), the pieces are the count, and the decode rate follows whichever is known.
    pub fn one_token_a_piece(&self, server_tokens: Option<u64>) -> ClientNumbers {
        let counted_tokens = server_tokens
            .is_none()
            .then_some(self.pieces)
            .filter(|&pieces| pieces > 0);
        ClientNumbers {
            decode_rate: self.client_decode_rate(server_tokens.or(counted_tokens)),
            counted_tokens,
        }
    }

    /// Tokens per second between the first and the last token on our clock: the first token
    /// marks the start, so `tokens - 1` tokens fill the interval.
    pub fn client_decode_rate(&self, tokens: Option<u64>) -> Option<f64> {
        let tokens = tokens.filter(|&tokens| tokens >= 2)?;
        let span = self.last_token?.checked_duration_since(self.first_token?)?;
        rate((tokens - 1) as f64, span)
    }
}

/// What the server said about this generation; each field as reported, or `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServerNumbers {
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub decode_rate: Option<f64>,
    pub prefill_rate: Option<f64>,
    pub prompt_time: Option<Duration>,
    pub load_time: Option<Duration>,
}

/// What our own clock and counter measured, for what the server did not say.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ClientNumbers {
    pub decode_rate: Option<f64>,
    /// Tokens counted as streamed pieces, when the server gave no count.
    pub counted_tokens: Option<u64>,
}

/// Assembles the metrics: server numbers first, client measurements as the fallback.
pub fn metrics(
    transcript: &Transcript,
    server: ServerNumbers,
    client: ClientNumbers,
    done: Instant,
    retries: Retries,
) -> GenerationMetrics {
    let client_decode_rate = client.decode_rate;
    let since_send =
        |at: Option<Instant>| at.map(|at| at.saturating_duration_since(transcript.sent));
    let (decode_tokens_per_second, decode_source) = match (server.decode_rate, client_decode_rate) {
        (Some(rate), _) => (Some(rate), Source::Server),
        (None, Some(rate)) => (Some(rate), Source::Client),
        (None, None) => (None, Source::None),
    };
    let (completion_tokens, tokens_source) = match (server.completion_tokens, client.counted_tokens)
    {
        (Some(tokens), _) => (Some(tokens), Source::Server),
        (None, Some(tokens)) => (Some(tokens), Source::Client),
        (None, None) if server.prompt_tokens.is_some() => (None, Source::Server),
        (None, None) => (None, Source::None),
    };
    GenerationMetrics {
        ttft: since_send(transcript.first_token),
        ttft_answer: since_send(transcript.first_answer),
        generation_time: done.saturating_duration_since(transcript.sent),
        prompt_tokens: server.prompt_tokens,
        completion_tokens,
        tokens_source,
        decode_tokens_per_second,
        decode_source,
        prefill_tokens_per_second: server.prefill_rate,
        server_prompt_time: server.prompt_time,
        load_time: server.load_time,
        retries: retries.count,
        retry_wait: retries.waited,
    }
}

/// `count / span`, or `None` when either makes the rate meaningless.
pub fn rate(count: f64, span: Duration) -> Option<f64> {
    let seconds = span.as_secs_f64();
    let rate = count / seconds;
    (count > 0.0 && seconds > 0.0 && rate.is_finite()).then_some(rate)
}

/// `count / nanoseconds × 1e9`, Ollama's formula, guarded.
pub fn rate_from_nanos(count: Option<u64>, nanos: Option<u64>) -> Option<f64> {
    rate(count? as f64, Duration::from_nanos(nanos?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_without_a_duration_or_a_count_are_not_measurable() {
        assert_eq!(rate_from_nanos(Some(1), None), None);
        assert_eq!(rate_from_nanos(Some(5), Some(0)), None);
        assert_eq!(rate_from_nanos(Some(0), Some(10)), None);
        assert_eq!(rate_from_nanos(Some(131), Some(1_000_000_000)), Some(131.0));
    }

    #[test]
    fn the_client_rate_needs_two_tokens_at_two_moments() {
        let start = Instant::now();
        let mut transcript = Transcript::new(start);
        let quiet = |_: ProviderEvent| {};
        transcript.answer("a", start + Duration::from_secs(1), &quiet);
        assert_eq!(transcript.client_decode_rate(Some(1)), None);
        assert_eq!(transcript.client_decode_rate(Some(5)), None);
        transcript.answer("b", start + Duration::from_secs(3), &quiet);
        assert_eq!(transcript.client_decode_rate(Some(5)), Some(2.0));
    }

    #[test]
    fn a_budget_spent_on_thinking_alone_is_thinking_exhausted() {
        let start = Instant::now();
        let quiet = |_: ProviderEvent| {};
        let mut transcript = Transcript::new(start);
        transcript.think("hmm", start, &quiet);
        assert_eq!(transcript.budget_end(), GenerationEnd::ThinkingExhausted);
        transcript.answer("fn", start, &quiet);
        assert_eq!(transcript.budget_end(), GenerationEnd::MaxTokens);
    }
}
