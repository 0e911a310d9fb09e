//! A fake HTTP/1.1 server on 127.0.0.1 that replays recorded bodies byte for byte.
//!
//! It runs on its own thread with its own tokio runtime, so synchronous tests that start the
//! real binary can use it as well as async tests. Each route answers its requests in order
//! with scripted replies (the last one repeats); a reply can be cut into chunks at chosen
//! byte offsets, with a pause between them, sent with chunked transfer encoding, and broken
//! off before its end. Every request is recorded for assertions.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the helper"
)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The folder of recorded protocol transcripts.
pub fn protocols() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/protocols")
}

/// The bytes of a transcript, such as `ollama/chat-thinking.ndjson`.
pub fn transcript(name: &str) -> Vec<u8> {
    let path = protocols().join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// How a body is cut into network chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Split {
    /// One chunk.
    Whole,
    /// Chunks of this many bytes.
    Every(usize),
    /// Cut at these byte offsets.
    At(Vec<usize>),
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub split: Split,
    /// Pause before each chunk after the first.
    pub pause: Duration,
    /// Pause before the response headers.
    pub delay: Duration,
    /// Chunked transfer encoding (else `Content-Length`).
    pub chunked: bool,
    /// Close the connection after this many body bytes, without finishing the response.
    pub cut_after: Option<usize>,
    /// Close the connection without answering at all.
    pub hang_up: bool,
}

impl Reply {
    /// A 200 streaming `body` with chunked encoding.
    pub fn stream(content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("Content-Type".to_owned(), content_type.to_owned())],
            body: body.into(),
            split: Split::Whole,
            pause: Duration::ZERO,
            delay: Duration::ZERO,
            chunked: true,
            cut_after: None,
            hang_up: false,
        }
    }

    /// Reads the request and closes the connection without a word.
    pub fn hang_up() -> Reply {
        Reply {
            hang_up: true,
            ..Reply::json(200, "")
        }
    }

    pub fn ndjson(body: impl Into<Vec<u8>>) -> Reply {
        Reply::stream("application/x-ndjson", body)
    }

    pub fn sse(body: impl Into<Vec<u8>>) -> Reply {
        Reply::stream("text/event-stream", body)
    }

    /// A JSON answer with `Content-Length`.
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            chunked: false,
            ..Reply::stream("application/json; charset=utf-8", body)
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn split(mut self, split: Split) -> Reply {
        self.split = split;
        self
    }

    pub fn pause(mut self, pause: Duration) -> Reply {
        self.pause = pause;
        self
    }

    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    pub fn cut_after(mut self, bytes: usize) -> Reply {
        self.cut_after = Some(bytes);
        self
    }

    fn pieces(&self) -> Vec<&[u8]> {
        let body = &self.body[..];
        let mut cuts: Vec<usize> = match &self.split {
            Split::Whole => Vec::new(),
            Split::Every(size) => (1..)
                .map(|n| n * (*size).max(1))
                .take_while(|&at| at < body.len())
                .collect(),
            Split::At(offsets) => offsets
                .iter()
                .copied()
                .filter(|&at| at > 0 && at < body.len())
                .collect(),
        };
        cuts.sort_unstable();
        cuts.dedup();
        let mut pieces = Vec::new();
        let mut start = 0;
        for cut in cuts.into_iter().chain([body.len()]) {
            pieces.push(&body[start..cut]);
            start = cut;
        }
        pieces
    }
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Debug, Default)]
struct State {
    /// "METHOD path" (query left out) → the replies still to give.
    routes: HashMap<String, VecDeque<Reply>>,
    recorded: Vec<Recorded>,
}

/// A running fake server; it stops when dropped.
#[derive(Debug)]
pub struct FakeServer {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeServer {
    pub fn start() -> FakeServer {
        let state = Arc::new(Mutex::new(State::default()));
        let (addr_sender, addr_receiver) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = Arc::clone(&state);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the fake server");
            runtime.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind 127.0.0.1");
                addr_sender.send(listener.local_addr().unwrap()).unwrap();
                tokio::select! {
                    _ = stopped => {}
                    _ = accept_forever(listener, shared) => {}
                }
            });
        });
        FakeServer {
            addr: addr_receiver.recv().expect("the fake server's address"),
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds replies for `METHOD path`; they are given in order, and the last one repeats.
    pub fn route(
        &self,
        method: &str,
        path: &str,
        replies: impl IntoIterator<Item = Reply>,
    ) -> &FakeServer {
        self.state
            .lock()
            .unwrap()
            .routes
            .entry(format!("{method} {path}"))
            .or_default()
            .extend(replies);
        self
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().recorded.clone()
    }

    /// The requests to one path (query left out).
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|request| request.target.split('?').next() == Some(path))
            .collect()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_forever(listener: TcpListener, state: Arc<Mutex<State>>) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let _ = serve_connection(socket, state).await;
        });
    }
}

async fn serve_connection(mut socket: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    socket.set_nodelay(true)?;
    let mut buffer = Vec::new();
    loop {
        let Some(request) = read_request(&mut socket, &mut buffer).await? else {
            return Ok(());
        };
        let route = format!(
            "{} {}",
            request.method,
            request.target.split('?').next().unwrap_or("")
        );
        let reply = {
            let mut state = state.lock().unwrap();
            state.recorded.push(request);
            match state.routes.get_mut(&route) {
                Some(replies) if replies.len() > 1 => replies.pop_front(),
                Some(replies) => replies.front().cloned(),
                None => None,
            }
        };
        let reply = reply.unwrap_or_else(|| Reply {
            headers: vec![("Content-Type".to_owned(), "text/plain".to_owned())],
            ..Reply::json(404, "404 page not found")
        });
        if !write_reply(&mut socket, &reply).await? {
            return Ok(());
        }
    }
}

async fn read_request(
    socket: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> std::io::Result<Option<Recorded>> {
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break end;
        }
        let mut chunk = [0u8; 8192];
        let read = socket.read(&mut chunk).await?;
        if read == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let target = request_line.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0);
    let body_start = head_end + 4;
    while buffer.len() < body_start + length {
        let mut chunk = [0u8; 8192];
        let read = socket.read(&mut chunk).await?;
        if read == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let body = String::from_utf8_lossy(&buffer[body_start..body_start + length]).into_owned();
    buffer.drain(..body_start + length);
    Ok(Some(Recorded {
        method,
        target,
        headers,
        body,
    }))
}

/// Writes one reply; `false` when the connection was cut on purpose.
async fn write_reply(socket: &mut TcpStream, reply: &Reply) -> std::io::Result<bool> {
    tokio::time::sleep(reply.delay).await;
    if reply.hang_up {
        socket.shutdown().await?;
        return Ok(false);
    }
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if reply.chunked {
        head.push_str("Transfer-Encoding: chunked\r\n\r\n");
    } else {
        head.push_str(&format!("Content-Length: {}\r\n\r\n", reply.body.len()));
    }
    socket.write_all(head.as_bytes()).await?;
    socket.flush().await?;
    let mut written = 0;
    for (index, piece) in reply.pieces().into_iter().enumerate() {
        if index > 0 {
            tokio::time::sleep(reply.pause).await;
        }
        let piece = match reply.cut_after {
            Some(limit) if written + piece.len() >= limit => {
                let piece = &piece[..limit - written];
                write_piece(socket, piece, reply.chunked).await?;
                socket.shutdown().await?;
                return Ok(false);
            }
            _ => piece,
        };
        write_piece(socket, piece, reply.chunked).await?;
        written += piece.len();
    }
    if reply.chunked {
        socket.write_all(b"0\r\n\r\n").await?;
    }
    socket.flush().await?;
    Ok(true)
}

async fn write_piece(socket: &mut TcpStream, piece: &[u8], chunked: bool) -> std::io::Result<()> {
    if piece.is_empty() {
        return Ok(());
    }
    if chunked {
        socket
            .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
            .await?;
        socket.write_all(piece).await?;
        socket.write_all(b"\r\n").await?;
    } else {
        socket.write_all(piece).await?;
    }
    socket.flush().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// JSON as Ollama's Go server writes it: `<`, `>` and `&` escaped.
pub fn go_json(value: &serde_json::Value) -> String {
    serde_json::to_string(value)
        .unwrap()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// An Ollama `/api/chat` stream of `answer`, a few characters a line, and its final line ending
/// for `done_reason`, with or without the server's durations (the cloud shape has none).
pub fn ollama_chat(answer: &str, with_metrics: bool, done_reason: &str) -> Vec<u8> {
    let pieces: Vec<String> = answer
        .chars()
        .collect::<Vec<_>>()
        .chunks(6)
        .map(|chunk| chunk.iter().collect())
        .collect();
    let mut body = String::new();
    for piece in &pieces {
        let line = serde_json::json!({"model": "m", "created_at": "2026-11-30T10:00:00.1Z",
            "message": {"role": "assistant", "content": piece}, "done": false});
        body.push_str(&go_json(&line));
        body.push('\n');
    }
    let mut last = serde_json::json!({"model": "m", "created_at": "2026-11-30T10:00:01Z",
        "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": done_reason});
    if with_metrics {
        let extra = serde_json::json!({"total_duration": 1_500_000_000_u64, "load_duration": 1_000_000,
            "prompt_eval_count": 40, "prompt_eval_duration": 100_000_000,
            "eval_count": pieces.len(), "eval_duration": 1_000_000_000_u64});
        last.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
    } else {
        last["prompt_eval_count"] = 40.into();
        last["eval_count"] = pieces.len().into();
    }
    body.push_str(&go_json(&last));
    body.push('\n');
    body.into_bytes()
}

/// A fake local Ollama server with the models of `ollama/tags.json` that answers chats with
/// `replies` in order (the last repeats), after the load request of `prepare`.
pub fn fake_ollama(replies: impl IntoIterator<Item = Reply>) -> FakeServer {
    fake_ollama_showing(Reply::json(200, transcript("ollama/show.json")), replies)
}

/// `fake_ollama` whose `/api/show` answers `show`.
pub fn fake_ollama_showing(show: Reply, replies: impl IntoIterator<Item = Reply>) -> FakeServer {
    let server = FakeServer::start();
    server.route(
        "GET",
        "/api/version",
        [Reply::json(200, &b"{\"version\":\"0.16.3\"}"[..])],
    );
    server.route("POST", "/api/show", [show]);
    server.route(
        "GET",
        "/api/tags",
        [Reply::json(200, transcript("ollama/tags.json"))],
    );
    server.route(
        "POST",
        "/api/chat",
        std::iter::once(Reply::ndjson(transcript("ollama/load.json"))).chain(replies),
    );
    server
}
