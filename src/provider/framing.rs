//! Byte-level framing of streamed bodies: NDJSON lines (Ollama) and server-sent events (Gemini,
//! OpenAI-compatible servers).
//!
//! Bytes are split into complete lines before any UTF-8 decoding, so a network chunk that ends
//! inside a JSON line or inside a multibyte character loses nothing. The SSE parser is our own
//! rather than `eventsource-stream` because that crate drops the non-standard `error:` field
//! older llama.cpp servers send, and because a Gemini error can arrive as a raw JSON tail that
//! never forms an event: we need those bytes back at the end of the stream.

/// Splits a byte stream into lines at `\n` (a trailing `\r` is dropped; blank lines are skipped).
#[derive(Debug, Default)]
pub struct NdjsonSplitter {
    pending: Vec<u8>,
}

impl NdjsonSplitter {
    /// Feeds a chunk and returns the lines it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(chunk);
        let mut lines = Vec::new();
        while let Some(newline) = self.pending.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=newline).collect();
            if let Some(text) = decode_line(&line[..line.len() - 1]) {
                lines.push(text);
            }
        }
        lines
    }

    /// The last line, when the stream ended without a newline after it.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.pending);
        decode_line(&rest)
    }
}

fn decode_line(bytes: &[u8]) -> Option<String> {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// One server-sent event: its `data` lines joined with `\n`, and the `error` field that some
/// llama.cpp builds send instead of `data`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
    pub error: Option<String>,
}

/// What was left when the stream closed: an event that never got its blank line (kept, to be
/// lenient with servers that close right after the last `data:` line), and the raw text
/// received since the last complete event (where Gemini puts a raw JSON error).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SseTail {
    pub event: Option<SseEvent>,
    pub raw: String,
}

/// An SSE parser per the WHATWG rules: LF, CRLF and CR line ends, `:` comments, `data:` with
/// an optional space, multi-line data, an event dispatched at a blank line.
#[derive(Debug, Default)]
pub struct SseParser {
    pending: Vec<u8>,
    /// Raw bytes of the lines since the last dispatched event.
    since_event: Vec<u8>,
    current: SseEvent,
    /// Whether the event being built has a `data` or `error` field (only those dispatch).
    has_fields: bool,
    data_seen: bool,
}

impl SseParser {
    /// Feeds a chunk and returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(end) = self
            .pending
            .iter()
            .position(|&byte| byte == b'\n' || byte == b'\r')
        {
            // A CR at the very end may be the first half of a CRLF: wait for the next byte.
            if self.pending[end] == b'\r' && end + 1 == self.pending.len() {
                break;
            }
            let terminator =
                if self.pending[end] == b'\r' && self.pending.get(end + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
            let line: Vec<u8> = self.pending.drain(..end + terminator).collect();
            self.since_event.extend_from_slice(&line);
            if let Some(event) = self.line(&line[..end]) {
                events.push(event);
            }
        }
        events
    }

    /// Ends the stream: a last line without its line end still counts, and whatever did not
    /// form a complete event is handed back.
    pub fn finish(&mut self) -> SseTail {
        let rest = std::mem::take(&mut self.pending);
        self.since_event.extend_from_slice(&rest);
        // A trailing CR ends a line (it was held back in case an LF followed); a line without
        // any end still counts as one.
        let dispatched = if rest.is_empty() {
            None
        } else {
            self.line(rest.strip_suffix(b"\r").unwrap_or(&rest))
        };
        let event = dispatched.or_else(|| self.has_fields.then(|| self.take_event()));
        let raw = String::from_utf8_lossy(&std::mem::take(&mut self.since_event)).into_owned();
        SseTail { event, raw }
    }

    fn line(&mut self, line: &[u8]) -> Option<SseEvent> {
        if line.is_empty() {
            self.since_event.clear();
            return self.has_fields.then(|| self.take_event());
        }
        if line.starts_with(b":") {
            return None;
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (text.as_ref(), ""),
        };
        match field {
            "data" => {
                if self.data_seen {
                    self.current.data.push('\n');
                }
                self.current.data.push_str(value);
                self.mark_data();
            }
            "event" => {
                self.current.event = Some(value.to_owned());
            }
            "error" => {
                self.current.error = Some(value.to_owned());
                self.has_fields = true;
            }
            // `id`, `retry` and unknown fields carry nothing we use.
            _ => {}
        }
        None
    }

    fn mark_data(&mut self) {
        self.has_fields = true;
        self.data_seen = true;
    }

    fn take_event(&mut self) -> SseEvent {
        self.has_fields = false;
        self.data_seen = false;
        std::mem::take(&mut self.current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_everywhere<T>(bytes: &[u8], mut run: impl FnMut(&[&[u8]]) -> T) -> Vec<T> {
        (0..=bytes.len())
            .map(|cut| run(&[&bytes[..cut], &bytes[cut..]]))
            .collect()
    }

    #[test]
    fn ndjson_lines_survive_a_cut_anywhere_including_inside_a_utf8_character() {
        let body = "{\"a\":\"Łódź\"}\n{\"b\":1}\r\n\n".as_bytes();
        for lines in split_everywhere(body, |chunks| {
            let mut splitter = NdjsonSplitter::default();
            let mut lines: Vec<String> = chunks.iter().flat_map(|c| splitter.push(c)).collect();
            lines.extend(splitter.finish());
            lines
        }) {
            assert_eq!(lines, ["{\"a\":\"Łódź\"}", "{\"b\":1}"]);
        }
    }

    #[test]
    fn an_ndjson_last_line_without_newline_is_returned_at_the_end() {
        let mut splitter = NdjsonSplitter::default();
        assert!(splitter.push(b"{\"done\":true}").is_empty());
        assert_eq!(splitter.finish().as_deref(), Some("{\"done\":true}"));
    }

    /// Every event, the one completed by the end of the stream included, and the raw tail.
    fn events_of(chunks: &[&[u8]]) -> (Vec<SseEvent>, SseTail) {
        let mut parser = SseParser::default();
        let mut events: Vec<SseEvent> = chunks.iter().flat_map(|c| parser.push(c)).collect();
        let mut tail = parser.finish();
        events.extend(tail.event.take());
        (events, tail)
    }

    #[test]
    fn sse_events_split_the_same_with_lf_crlf_and_cr_line_ends_at_any_cut() {
        for newline in ["\n", "\r\n", "\r"] {
            let body = format!(": ping{newline}data: Łódź{newline}data:two{newline}{newline}event: x{newline}data: [DONE]{newline}{newline}");
            for (events, tail) in split_everywhere(body.as_bytes(), events_of) {
                assert_eq!(events.len(), 2, "{newline:?}");
                assert_eq!(events[0].data, "Łódź\ntwo");
                assert_eq!(events[1].data, "[DONE]");
                assert_eq!(events[1].event.as_deref(), Some("x"));
                assert_eq!(tail, SseTail::default());
            }
        }
    }

    #[test]
    fn the_legacy_llama_cpp_error_field_is_an_event() {
        let (events, _) = events_of(&[b"error: {\"code\":500}\n\n"]);
        assert_eq!(events[0].error.as_deref(), Some("{\"code\":500}"));
    }

    #[test]
    fn a_raw_json_tail_after_the_last_event_is_handed_back() {
        let (events, tail) = events_of(&[b"data: {}\n\n{\n  \"error\": {\"code\": 503}\n}\n"]);
        assert_eq!(events.len(), 1);
        assert_eq!(tail.raw, "{\n  \"error\": {\"code\": 503}\n}\n");
    }

    #[test]
    fn an_event_missing_its_blank_line_at_the_end_is_kept() {
        let (events, _) = events_of(&[b"data: {\"x\":1}"]);
        assert_eq!(events[0].data, "{\"x\":1}");
    }
}
