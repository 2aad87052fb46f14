//! A mock of six LLM providers' HTTP APIs, for the integration tests (Rust, Python and Node) that
//! check the gateway sends each provider a correct request.
//!
//! Run `mock_providers [--port N]` (port 0, the default, picks a free one). It binds 127.0.0.1 and
//! prints one line, `mock providers listening on http://127.0.0.1:PORT`, that tests parse.
//!
//! Provider routes; each checks the request against the provider's public API reference, answers
//! a valid one as that provider does, and answers an invalid one with that provider's error shape:
//! - OpenAI: `POST /v1/chat/completions` (any path ending in `/chat/completions` outside
//!   `/openai/deployments/`).
//! - Azure OpenAI: `POST /openai/deployments/{deployment}/chat/completions?api-version=...`.
//! - Anthropic: `POST /v1/messages`.
//! - Gemini: `POST /v1beta/models/{model}:generateContent`.
//! - Bedrock Converse: `POST /model/{modelId}/converse`, SigV4-signed with the test credentials
//!   `AKIDMOCKEXAMPLE` / `mock/secret/key/EXAMPLE` (optional session token `mock-session-token`).
//! - Ollama: `POST /api/chat` with `"stream": false`.
//!
//! The OpenAI and Azure OpenAI answers say `Hello from openai` (or `Hello from azure-openai`) with
//! usage 11 + 5 = 16 tokens. When the request has `tools` and no message of role `tool`, they call
//! the first tool instead: tool call `call_mock1` with the arguments `{"city": "Paris"}` and
//! `finish_reason` `tool_calls`.
//!
//! Streaming (OpenAI and Azure OpenAI): a valid request with `"stream": true` gets `200`,
//! `content-type: text/event-stream` and Server-Sent Events, each `data: <json>\n\n` written and
//! flushed as its own body chunk. Every JSON chunk is `{"id": "chatcmpl-mock", "object":
//! "chat.completion.chunk", "created": 1700000000, "model": <the model of the non-streamed answer>,
//! "choices": [{"index": 0, "delta": ..., "logprobs": null, "finish_reason": ...}]}`; in order:
//! 1. `delta: {"role": "assistant", "content": ""}`, `finish_reason: null`;
//! 2. one chunk per piece of the text, split into pieces of at most 4 bytes (`Hell`, `o fr`,
//!    `om o`, `pena`, `i`), each `delta: {"content": <piece>}`, `finish_reason: null`;
//! 3. `delta: {}`, `finish_reason: "stop"`;
//! 4. only when the request has `stream_options.include_usage: true`: `{"id", "object", "created",
//!    "model", "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 5,
//!    "total_tokens": 16}}`;
//! 5. `data: [DONE]`.
//!
//! A streamed tool call (tools and no `tool` message) replaces 1-3 with:
//! `delta: {"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": "call_mock1",
//! "type": "function", "function": {"name": <first tool's name>, "arguments": ""}}]}`, then one
//! chunk per piece (at most 4 bytes) of `{"city": "Paris"}` with `delta: {"tool_calls": [{"index":
//! 0, "function": {"arguments": <piece>}}]}`, then `delta: {}` with `finish_reason: "tool_calls"`.
//!
//! Control API for tests:
//! - `POST /_script` `{"path_contains": "...", "replies": [{"status", "body", "headers",
//!   "delay_ms", "close", "stream"}]}` queues replies that the next requests whose path contains
//!   the substring get instead of the normal answer (status 0: the normal answer after `delay_ms`;
//!   `close: true`: the connection is dropped without an answer).
//!   A reply with `"stream": {"chunks": ["<raw text>", ...], "delay_ms": N, "then": "end" |
//!   "close" | "stall"}` writes each chunk exactly as given (no framing added) as its own flushed
//!   body chunk, waiting `delay_ms` (default 0) between chunks. A chunk is a string (its UTF-8
//!   bytes) or `{"base64": "..."}` (any bytes, such as half of a multi-byte character). Then
//!   `end` (the default) finishes the body, `close` drops the connection without finishing the
//!   chunked body, and `stall` sends nothing more for 120 s and then drops the connection. The
//!   status is 200 and the content type `text/event-stream` unless the reply gives `status` or
//!   `headers`; the reply's own `delay_ms` delays the response head. `stream` excludes `body` and
//!   `close`.
//! - `POST /_reset` clears the queues and the recorded requests.
//! - `GET /_received` lists every provider request received, in arrival order.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::io::{self, Write};
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use axum::body::{Body, Bytes};
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use axum::Router;
use base64::Engine as _;
use http_body::{Body as HttpBody, Frame};
use serde_json::{json, Map, Value};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The largest request body the mock reads.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The Bedrock test credentials that the mock accepts.
const AWS_ACCESS_KEY_ID: &str = "AKIDMOCKEXAMPLE";
const AWS_SECRET_ACCESS_KEY: &str = "mock/secret/key/EXAMPLE";
const AWS_SESSION_TOKEN: &str = "mock-session-token";
/// The SigV4 signing name of the Bedrock runtime.
const BEDROCK_SERVICE: &str = "bedrock";
/// How far `x-amz-date` may be from the mock's clock, as AWS allows.
const SIGV4_MAX_SKEW: Duration = Duration::from_secs(15 * 60);

#[tokio::main]
async fn main() -> ExitCode {
    let port = match parse_port(std::env::args().skip(1)) {
        Ok(port) => port,
        Err(message) => {
            eprintln!("{message}\nusage: mock_providers [--port N]");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("mock providers: cannot bind 127.0.0.1:{port}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(err) => {
            eprintln!("mock providers: cannot read the bound address: {err}");
            return ExitCode::FAILURE;
        }
    };

    let app = Router::new()
        .fallback(handle)
        .with_state(Arc::new(Mock::new()));

    let mut stdout = io::stdout().lock();
    let announced =
        writeln!(stdout, "mock providers listening on http://{addr}").and_then(|()| stdout.flush());
    drop(stdout);
    if let Err(err) = announced {
        eprintln!("mock providers: cannot write to stdout: {err}");
        return ExitCode::FAILURE;
    }

    let served = axum::serve(
        KillableListener(listener),
        app.into_make_service_with_connect_info::<Conn>(),
    )
    .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mock providers: server error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Reads `--port N` or `--port=N` from the command line.
fn parse_port(mut args: impl Iterator<Item = String>) -> Result<u16, String> {
    let mut port = 0;
    while let Some(arg) = args.next() {
        let value = if arg == "--port" {
            args.next().ok_or("--port needs a value")?
        } else if let Some(value) = arg.strip_prefix("--port=") {
            value.to_owned()
        } else {
            return Err(format!("unknown argument {arg:?}"));
        };
        port = value
            .parse()
            .map_err(|_| format!("--port {value:?} is not a port number"))?;
    }
    Ok(port)
}

// ---------------------------------------------------------------------------------------------
// Connections that a scripted reply can drop.
// ---------------------------------------------------------------------------------------------

/// A TCP listener whose connections each carry a kill switch, so that a handler can drop the
/// connection it serves without answering.
struct KillableListener(TcpListener);

/// The kill switch of one connection, handed to handlers as connect info.
#[derive(Clone, Debug)]
struct Conn {
    kill: Arc<AtomicBool>,
}

impl Conn {
    fn new() -> Self {
        Self {
            kill: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// A TCP stream that fails every read and write once its kill switch is set; the server then
/// closes the connection without writing the response.
struct KillableStream {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
}

impl KillableStream {
    fn check(&self) -> io::Result<()> {
        if self.kill.load(Ordering::SeqCst) {
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "a scripted reply closed the connection",
            ))
        } else {
            Ok(())
        }
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Err(err) = this.check() {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Err(err) = this.check() {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Err(err) = this.check() {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = Conn;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((inner, _peer)) => {
                    // Streamed chunks go out as soon as they are flushed, one by one.
                    if let Err(err) = inner.set_nodelay(true) {
                        eprintln!("mock providers: cannot set TCP_NODELAY: {err}");
                    }
                    let conn = Conn::new();
                    let stream = KillableStream {
                        inner,
                        kill: Arc::clone(&conn.kill),
                    };
                    return (stream, conn);
                }
                Err(err) => {
                    // Accept errors (such as too many open files) pass; wait a little and retry.
                    eprintln!("mock providers: accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        // The address type is the kill switch; the socket address itself is printed at start.
        self.0.local_addr().map(|_| Conn::new())
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

// ---------------------------------------------------------------------------------------------
// Streamed bodies.
// ---------------------------------------------------------------------------------------------

/// A response body that hands the server one chunk at a time and is pending once after each, so
/// that the server writes and flushes every chunk on its own before it sees the next.
struct StreamBody {
    chunks: VecDeque<Bytes>,
    delay: Duration,
    then: StreamEnd,
    /// The wait in progress: the delay between two chunks, or the stall.
    wait: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Set when a chunk has just been handed out and the server has not flushed it yet.
    flush: bool,
    /// Set once the stall has been waited out.
    stalled: bool,
}

impl StreamBody {
    fn new(script: StreamScript) -> Self {
        Self {
            chunks: script.chunks.into(),
            delay: script.delay,
            then: script.then,
            wait: None,
            flush: false,
            stalled: false,
        }
    }
}

impl HttpBody for StreamBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            if this.flush {
                // Pending with an immediate wake-up: the server flushes what it holds, then polls
                // again.
                this.flush = false;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if let Some(wait) = this.wait.as_mut() {
                if wait.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.wait = None;
            }
            if let Some(chunk) = this.chunks.pop_front() {
                if !this.chunks.is_empty() && !this.delay.is_zero() {
                    this.wait = Some(Box::pin(tokio::time::sleep(this.delay)));
                }
                this.flush = true;
                return Poll::Ready(Some(Ok(Frame::data(chunk))));
            }
            match this.then {
                StreamEnd::End => return Poll::Ready(None),
                StreamEnd::Stall if !this.stalled => {
                    this.stalled = true;
                    this.wait = Some(Box::pin(tokio::time::sleep(STALL)));
                }
                // A body error makes the server drop the connection without the chunked body's
                // last chunk.
                StreamEnd::Close | StreamEnd::Stall => {
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "a scripted stream broke off",
                    ))))
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shared state: scripted replies and recorded requests.
// ---------------------------------------------------------------------------------------------

struct Mock {
    started: Instant,
    next_seq: AtomicU64,
    shared: Mutex<Shared>,
}

#[derive(Default)]
struct Shared {
    scripts: Vec<Script>,
    received: Vec<Received>,
}

/// A queue of replies for the requests whose path contains `path_contains`.
struct Script {
    path_contains: String,
    replies: VecDeque<Reply>,
}

/// One scripted reply. Status 0 means the normal answer, after the delay (unless `stream` is set).
#[derive(Clone)]
struct Reply {
    status: u16,
    body: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    delay: Duration,
    close: bool,
    stream: Option<StreamScript>,
}

/// A scripted streamed body: raw chunks written one by one, then how the body finishes.
#[derive(Clone, Debug, PartialEq)]
struct StreamScript {
    chunks: Vec<Bytes>,
    delay: Duration,
    then: StreamEnd,
}

/// How a streamed body finishes after its last chunk.
#[derive(Clone, Copy, Debug, PartialEq)]
enum StreamEnd {
    /// The body ends normally (the chunked body's last chunk is written).
    End,
    /// The connection is dropped without finishing the body.
    Close,
    /// Nothing is sent for `STALL`, then the connection is dropped.
    Stall,
}

/// How long a stalled stream sends nothing before its connection is dropped.
const STALL: Duration = Duration::from_secs(120);

/// One recorded provider request.
struct Received {
    seq: u64,
    method: String,
    path: String,
    query: String,
    headers: Map<String, Value>,
    body: String,
    at_ms: u64,
    rejected: Option<u16>,
}

impl Mock {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            next_seq: AtomicU64::new(0),
            shared: Mutex::new(Shared::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the next reply of the first non-empty queue whose substring the path contains.
    fn take_reply(&self, path: &str) -> Option<Reply> {
        self.lock()
            .scripts
            .iter_mut()
            .find(|script| !script.replies.is_empty() && path.contains(&script.path_contains))
            .and_then(|script| script.replies.pop_front())
    }

    fn add_script(&self, path_contains: String, replies: Vec<Reply>) {
        let mut shared = self.lock();
        match shared
            .scripts
            .iter_mut()
            .find(|script| script.path_contains == path_contains)
        {
            Some(script) => script.replies.extend(replies),
            None => shared.scripts.push(Script {
                path_contains,
                replies: replies.into(),
            }),
        }
    }

    fn record(&self, arrival: &Arrival, req: &Incoming, rejected: Option<u16>) {
        let mut headers = Map::new();
        for (name, value) in &req.headers {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match headers.get_mut(name.as_str()) {
                Some(Value::String(joined)) => {
                    joined.push_str(", ");
                    joined.push_str(&value);
                }
                _ => {
                    headers.insert(name.as_str().to_owned(), Value::String(value));
                }
            }
        }
        let received = Received {
            seq: arrival.seq,
            method: req.method.to_string(),
            path: req.path.clone(),
            query: req.query.clone().unwrap_or_default(),
            headers,
            body: String::from_utf8_lossy(&req.body).into_owned(),
            at_ms: u64::try_from(arrival.at.duration_since(self.started).as_millis())
                .unwrap_or(u64::MAX),
            rejected,
        };
        let mut shared = self.lock();
        // Requests are recorded once answered; keep the list in arrival order.
        let at = shared
            .received
            .partition_point(|other| other.seq < received.seq);
        shared.received.insert(at, received);
    }

    fn received_json(&self) -> Value {
        let shared = self.lock();
        Value::Array(
            shared
                .received
                .iter()
                .map(|r| {
                    json!({
                        "method": r.method,
                        "path": r.path,
                        "query": r.query,
                        "headers": r.headers,
                        "body": r.body,
                        "at_ms": r.at_ms,
                        "rejected": r.rejected,
                    })
                })
                .collect(),
        )
    }

    fn reset(&self) {
        let mut shared = self.lock();
        shared.scripts.clear();
        shared.received.clear();
    }
}

/// When a request arrived, for ordering and `at_ms`.
struct Arrival {
    seq: u64,
    at: Instant,
}

/// A request as received: the raw path and query, the headers and the whole body.
struct Incoming {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
}

impl Incoming {
    /// The header's value, if present, valid text and not blank.
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .filter(|value| !value.trim().is_empty())
    }

    /// The decoded value of a query parameter.
    fn query_param(&self, name: &str) -> Option<String> {
        self.query.as_deref()?.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key, true) == name).then(|| percent_decode(value, true))
        })
    }

    /// The body as a JSON object, or the parser's complaint.
    fn json_object(&self) -> Result<Map<String, Value>, String> {
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(object)) => Ok(object),
            Ok(other) => Err(format!(
                "the body is {}, not an object",
                json_type_name(&other)
            )),
            Err(err) => Err(err.to_string()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Routing and the request pipeline.
// ---------------------------------------------------------------------------------------------

enum Route {
    Script,
    Reset,
    Received,
    Provider(Provider),
    NotFound,
}

enum Provider {
    OpenAi,
    Azure { deployment: String },
    Anthropic,
    Gemini { model: String },
    Bedrock { model_id: String },
    Ollama,
}

impl Provider {
    /// The provider type, as the gateway's configuration names it.
    fn kind(&self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Azure { .. } => "azure-openai",
            Provider::Anthropic => "anthropic",
            Provider::Gemini { .. } => "gemini",
            Provider::Bedrock { .. } => "bedrock",
            Provider::Ollama => "ollama",
        }
    }
}

fn route(method: &Method, path: &str) -> Route {
    match (method, path) {
        (&Method::POST, "/_script") => return Route::Script,
        (&Method::POST, "/_reset") => return Route::Reset,
        (&Method::GET, "/_received") => return Route::Received,
        _ => {}
    }
    if method != Method::POST {
        return Route::NotFound;
    }
    provider_route(path).map_or(Route::NotFound, Route::Provider)
}

fn provider_route(path: &str) -> Option<Provider> {
    if let Some(rest) = path.strip_prefix("/openai/deployments/") {
        let deployment = rest.strip_suffix("/chat/completions")?;
        return (!deployment.is_empty() && !deployment.contains('/')).then(|| Provider::Azure {
            deployment: percent_decode(deployment, false),
        });
    }
    if path.ends_with("/chat/completions") {
        return Some(Provider::OpenAi);
    }
    if path == "/v1/messages" {
        return Some(Provider::Anthropic);
    }
    if let Some(rest) = path.strip_prefix("/v1beta/models/") {
        let (model, tail) = rest.split_once(":generateContent")?;
        return (tail.is_empty() && !model.is_empty() && !model.contains('/')).then(|| {
            Provider::Gemini {
                model: percent_decode(model, false),
            }
        });
    }
    if let Some(rest) = path.strip_prefix("/model/") {
        let model_id = rest.strip_suffix("/converse")?;
        return (!model_id.is_empty() && !model_id.contains('/')).then(|| Provider::Bedrock {
            model_id: percent_decode(model_id, false),
        });
    }
    (path == "/api/chat").then_some(Provider::Ollama)
}

async fn handle(State(mock): State<Arc<Mock>>, req: Request) -> Response {
    let arrival = Arrival {
        seq: mock.next_seq.fetch_add(1, Ordering::SeqCst),
        at: Instant::now(),
    };
    let conn = req
        .extensions()
        .get::<ConnectInfo<Conn>>()
        .map(|info| info.0.clone());
    let (parts, body) = req.into_parts();
    let route = route(&parts.method, parts.uri.path());
    let body_result = axum::body::to_bytes(body, MAX_BODY_BYTES).await;
    let incoming = Incoming {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body: body_result.as_ref().cloned().unwrap_or_default(),
    };

    match route {
        Route::Script => return script(&mock, &incoming),
        Route::Reset => {
            mock.reset();
            return json_response(StatusCode::OK, &json!({"reset": true}), &[]);
        }
        Route::Received => return json_response(StatusCode::OK, &mock.received_json(), &[]),
        Route::Provider(_) | Route::NotFound => {}
    }

    if body_result.is_err() {
        mock.record(&arrival, &incoming, Some(413));
        return json_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &json!({"error": "mock: request body over 8 MiB"}),
            &[],
        );
    }

    let scripted = mock.take_reply(&incoming.path);
    if let Some(reply) = scripted
        .as_ref()
        .filter(|r| r.close || r.status != 0 || r.stream.is_some())
    {
        mock.record(&arrival, &incoming, None);
        tokio::time::sleep(reply.delay).await;
        if reply.close {
            if let Some(conn) = conn {
                conn.kill.store(true, Ordering::SeqCst);
            }
            // The connection is already failing; this answer is never written.
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        return scripted_response(reply);
    }

    let outcome = match &route {
        Route::Provider(provider) => answer(provider, &incoming, SystemTime::now()),
        _ => Err(not_found(&incoming)),
    };
    mock.record(
        &arrival,
        &incoming,
        outcome.as_ref().err().map(|err| err.status.as_u16()),
    );
    if let Some(reply) = scripted {
        tokio::time::sleep(reply.delay).await;
    }
    match outcome {
        Ok(Answer::Json(body)) => json_response(StatusCode::OK, &body, &[]),
        Ok(Answer::Events(events)) => {
            let script = StreamScript {
                chunks: events.into_iter().map(Bytes::from).collect(),
                delay: Duration::ZERO,
                then: StreamEnd::End,
            };
            stream_response(StatusCode::OK, script, &[])
        }
        Err(err) => err.into_response(),
    }
}

/// A provider's answer to a valid request: one JSON body, or Server-Sent Events streamed one
/// event per body chunk.
#[derive(Debug)]
enum Answer {
    Json(Value),
    Events(Vec<String>),
}

/// Validates a provider request and builds the provider's answer.
fn answer(provider: &Provider, req: &Incoming, now: SystemTime) -> Result<Answer, ApiError> {
    let text = format!("Hello from {}", provider.kind());
    let json = match provider {
        Provider::OpenAi => {
            let ask = validate_openai(req)?;
            let model = ask.model.clone().unwrap_or_default();
            return Ok(openai_reply(&model, &text, &ask));
        }
        Provider::Azure { deployment } => {
            let ask = validate_azure(req)?;
            return Ok(openai_reply(deployment, &text, &ask));
        }
        Provider::Anthropic => {
            let valid = validate_anthropic(req)?;
            anthropic_answer(&valid, &text)
        }
        Provider::Gemini { model } => {
            let call = validate_gemini(req)?;
            gemini_answer(model, call.as_deref(), &text)
        }
        Provider::Bedrock { model_id } => {
            let call = validate_bedrock(req, model_id, now)?;
            bedrock_answer(call.as_deref(), &text)
        }
        Provider::Ollama => {
            let model = validate_ollama(req)?;
            ollama_answer(&model, &text)
        }
    };
    Ok(Answer::Json(json))
}

/// What a valid request asks of the answer: the model and, when the answer should call a tool,
/// that tool's name.
struct Valid {
    model: String,
    call_tool: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Control API.
// ---------------------------------------------------------------------------------------------

fn script(mock: &Mock, req: &Incoming) -> Response {
    match parse_script(req) {
        Ok((path_contains, replies)) => {
            let queued = replies.len();
            mock.add_script(path_contains.clone(), replies);
            json_response(
                StatusCode::OK,
                &json!({"path_contains": path_contains, "queued": queued}),
                &[],
            )
        }
        Err(message) => json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": format!("mock: bad script: {message}")}),
            &[],
        ),
    }
}

fn parse_script(req: &Incoming) -> Result<(String, Vec<Reply>), String> {
    let body = req.json_object()?;
    let path_contains = body
        .get("path_contains")
        .and_then(Value::as_str)
        .ok_or("path_contains must be a string")?
        .to_owned();
    let replies = body
        .get("replies")
        .and_then(Value::as_array)
        .ok_or("replies must be an array")?;
    let replies = replies
        .iter()
        .enumerate()
        .map(|(i, reply)| parse_reply(reply).map_err(|message| format!("replies[{i}]: {message}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((path_contains, replies))
}

fn parse_reply(reply: &Value) -> Result<Reply, String> {
    let reply = reply.as_object().ok_or("a reply must be an object")?;
    let status = match reply.get("status") {
        None => 0,
        Some(status) => status
            .as_u64()
            .and_then(|status| u16::try_from(status).ok())
            .filter(|&status| status == 0 || StatusCode::from_u16(status).is_ok())
            .ok_or("status must be 0 or an HTTP status code")?,
    };
    let body = match reply.get("body") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(body)) => body.clone(),
        // A JSON value given as is stands for its text.
        Some(other) => other.to_string(),
    };
    let mut headers = Vec::new();
    if let Some(given) = reply.get("headers") {
        let given = given.as_object().ok_or("headers must be an object")?;
        for (name, value) in given {
            let value = value
                .as_str()
                .ok_or_else(|| format!("header {name} must be a string"))?;
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("{name:?} is not a header name"))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| format!("{value:?} is not a header value"))?;
            headers.push((name, value));
        }
    }
    let delay_ms = match reply.get("delay_ms") {
        None => 0,
        Some(delay) => delay.as_u64().ok_or("delay_ms must be a whole number")?,
    };
    let close = match reply.get("close") {
        None => false,
        Some(close) => close.as_bool().ok_or("close must be true or false")?,
    };
    let stream = match reply.get("stream") {
        None | Some(Value::Null) => None,
        Some(stream) => Some(parse_stream(stream).map_err(|message| format!("stream: {message}"))?),
    };
    if stream.is_some() && close {
        return Err("stream and close exclude each other".to_owned());
    }
    if stream.is_some() && reply.get("body").is_some_and(|body| !body.is_null()) {
        return Err("stream and body exclude each other".to_owned());
    }
    Ok(Reply {
        status,
        body,
        headers,
        delay: Duration::from_millis(delay_ms),
        close,
        stream,
    })
}

fn parse_stream(stream: &Value) -> Result<StreamScript, String> {
    let stream = stream.as_object().ok_or("it must be an object")?;
    if let Some(unknown) = stream
        .keys()
        .find(|key| !["chunks", "delay_ms", "then"].contains(&key.as_str()))
    {
        return Err(format!("unknown field {unknown:?}"));
    }
    let chunks = stream
        .get("chunks")
        .and_then(Value::as_array)
        .ok_or("chunks must be an array")?
        .iter()
        .enumerate()
        .map(|(i, chunk)| parse_chunk(chunk).map_err(|message| format!("chunks[{i}]: {message}")))
        .collect::<Result<Vec<_>, _>>()?;
    let delay_ms = match stream.get("delay_ms") {
        None => 0,
        Some(delay) => delay.as_u64().ok_or("delay_ms must be a whole number")?,
    };
    let then = match stream.get("then").map(Value::as_str) {
        None | Some(Some("end")) => StreamEnd::End,
        Some(Some("close")) => StreamEnd::Close,
        Some(Some("stall")) => StreamEnd::Stall,
        Some(_) => return Err(r#"then must be "end", "close" or "stall""#.to_owned()),
    };
    Ok(StreamScript {
        chunks,
        delay: Duration::from_millis(delay_ms),
        then,
    })
}

/// One raw chunk: a string stands for its UTF-8 bytes, `{"base64": "..."}` for any bytes (such as
/// half of a multi-byte character).
fn parse_chunk(chunk: &Value) -> Result<Bytes, String> {
    match chunk {
        Value::String(text) => Ok(Bytes::copy_from_slice(text.as_bytes())),
        Value::Object(object) if object.len() == 1 => {
            let encoded = object
                .get("base64")
                .and_then(Value::as_str)
                .ok_or(r#"a chunk object must be {"base64": "..."}"#)?;
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map(Bytes::from)
                .map_err(|err| format!("bad base64: {err}"))
        }
        _ => Err(r#"a chunk must be a string or {"base64": "..."}"#.to_owned()),
    }
}

fn scripted_response(reply: &Reply) -> Response {
    if let Some(stream) = &reply.stream {
        let status = match reply.status {
            0 => StatusCode::OK,
            status => StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        };
        return stream_response(status, stream.clone(), &reply.headers);
    }
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, reply.body.clone()).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in &reply.headers {
        headers.insert(name.clone(), value.clone());
    }
    response
}

// ---------------------------------------------------------------------------------------------
// Shared helpers.
// ---------------------------------------------------------------------------------------------

/// A provider's error answer: its status, its body and, for AWS, its `x-amzn-ErrorType`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    body: Value,
    aws_error_type: Option<&'static str>,
}

impl ApiError {
    fn new(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            body,
            aws_error_type: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let headers: &[(&str, &str)] = match self.aws_error_type {
            Some(kind) => &[("x-amzn-errortype", kind)],
            None => &[],
        };
        json_response(self.status, &self.body, headers)
    }
}

fn not_found(req: &Incoming) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        json!({"error": format!("mock: no route for {} {}", req.method, req.path)}),
    )
}

/// A `text/event-stream` answer that writes and flushes the script's chunks one by one; the given
/// headers come last and may replace the content type.
fn stream_response(
    status: StatusCode,
    script: StreamScript,
    headers: &[(HeaderName, HeaderValue)],
) -> Response {
    let mut response = Response::new(Body::new(StreamBody::new(script)));
    *response.status_mut() = status;
    let map = response.headers_mut();
    map.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    map.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    for (name, value) in headers {
        map.insert(name.clone(), value.clone());
    }
    response
}

fn json_response(status: StatusCode, body: &Value, headers: &[(&str, &str)]) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let map = response.headers_mut();
    map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.insert(name, value);
        }
    }
    response
}

/// Decodes `%XX` escapes (and `+` as a space in query strings); bad escapes stay as they are.
fn percent_decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| {
            bytes
                .get(at)
                .and_then(|&b| char::from(b).to_digit(16))
                .and_then(|d| u8::try_from(d).ok())
        };
        match bytes[i] {
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The JSON type of a value, as error messages name it.
fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string field that is present and not empty.
fn non_empty_str<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    object
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

// ---------------------------------------------------------------------------------------------
// OpenAI and Azure OpenAI.
// ---------------------------------------------------------------------------------------------

const OPENAI_ROLES: [&str; 6] = [
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

fn openai_error(status: StatusCode, message: impl Into<String>, code: Option<&str>) -> ApiError {
    ApiError::new(
        status,
        json!({"error": {
            "message": message.into(),
            "type": "invalid_request_error",
            "param": null,
            "code": code,
        }}),
    )
}

/// What a valid Chat Completions request asks of the answer.
#[derive(Debug, Default, PartialEq)]
struct ChatAsk {
    /// The request's model, when it has one (Azure OpenAI takes it from the deployment).
    model: Option<String>,
    /// The first tool's name, when the answer should call it: the request has tools and no
    /// message of role `tool`.
    call_tool: Option<String>,
    /// `"stream": true`.
    stream: bool,
    /// `"stream_options": {"include_usage": true}`.
    include_usage: bool,
}

/// Checks an OpenAI request and returns what it asks.
fn validate_openai(req: &Incoming) -> Result<ChatAsk, ApiError> {
    let has_key = req
        .header("authorization")
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|key| !key.trim().is_empty());
    if !has_key {
        return Err(openai_error(
            StatusCode::UNAUTHORIZED,
            "You didn't provide an API key. You need to provide your API key in an Authorization \
             header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            None,
        ));
    }
    validate_chat_body(req, true)
}

/// Checks an Azure OpenAI request (the deployment names the model).
fn validate_azure(req: &Incoming) -> Result<ChatAsk, ApiError> {
    let azure_error = |status: StatusCode, message: &str| {
        ApiError::new(
            status,
            json!({"error": {"code": status.as_u16().to_string(), "message": message}}),
        )
    };
    if req
        .query_param("api-version")
        .is_none_or(|version| version.is_empty())
    {
        return Err(azure_error(StatusCode::NOT_FOUND, "Resource not found"));
    }
    if req.headers.contains_key("authorization") {
        return Err(azure_error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized. Access token is missing, invalid, audience is incorrect \
             (https://cognitiveservices.azure.com), or have expired.",
        ));
    }
    if req.header("api-key").is_none() {
        return Err(azure_error(
            StatusCode::UNAUTHORIZED,
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to \
             provide a valid key for an active subscription and use a correct regional API \
             endpoint for your resource.",
        ));
    }
    validate_chat_body(req, false)
}

/// Checks a Chat Completions body and returns what it asks.
fn validate_chat_body(req: &Incoming, model_required: bool) -> Result<ChatAsk, ApiError> {
    let bad =
        |message: String, code: Option<&str>| openai_error(StatusCode::BAD_REQUEST, message, code);
    let body = req.json_object().map_err(|_| {
        bad(
            "We could not parse the JSON body of your request. (HINT: This likely means you \
             aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, \
             but what was sent was not valid JSON.)"
                .to_owned(),
            None,
        )
    })?;

    let model = match body.get("model") {
        None | Some(Value::Null) if !model_required => None,
        None | Some(Value::Null) => {
            return Err(bad("you must provide a model parameter".to_owned(), None))
        }
        Some(Value::String(model)) if model.is_empty() => {
            return Err(bad("you must provide a model parameter".to_owned(), None))
        }
        Some(Value::String(model)) => Some(model.clone()),
        Some(other) => {
            return Err(bad(
                format!(
                    "Invalid type for 'model': expected a string, but got {} instead.",
                    json_type_name(other)
                ),
                Some("invalid_type"),
            ))
        }
    };

    let messages = match body.get("messages") {
        None => {
            return Err(bad(
                "Missing required parameter: 'messages'.".to_owned(),
                Some("missing_required_parameter"),
            ))
        }
        Some(Value::Array(messages)) => messages,
        Some(other) => {
            return Err(bad(
                format!(
                "Invalid type for 'messages': expected an array of objects, but got {} instead.",
                json_type_name(other)
            ),
                Some("invalid_type"),
            ))
        }
    };
    if messages.is_empty() {
        return Err(bad(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got \
             an empty array instead."
                .to_owned(),
            Some("empty_array"),
        ));
    }
    for (i, message) in messages.iter().enumerate() {
        let Some(message) = message.as_object() else {
            return Err(bad(
                format!(
                    "Invalid type for 'messages[{i}]': expected an object, but got {} instead.",
                    json_type_name(message)
                ),
                Some("invalid_type"),
            ));
        };
        match message.get("role") {
            None => {
                return Err(bad(
                    format!("Missing required parameter: 'messages[{i}].role'."),
                    Some("missing_required_parameter"),
                ))
            }
            Some(Value::String(role)) if OPENAI_ROLES.contains(&role.as_str()) => {}
            Some(Value::String(role)) => {
                return Err(bad(
                    format!(
                        "Invalid value: '{role}'. Supported values are: 'system', 'assistant', \
                         'user', 'function', 'tool', and 'developer'."
                    ),
                    Some("invalid_value"),
                ))
            }
            Some(other) => {
                return Err(bad(
                    format!(
                        "Invalid type for 'messages[{i}].role': expected a string, but got {} \
                         instead.",
                        json_type_name(other)
                    ),
                    Some("invalid_type"),
                ))
            }
        }
    }
    let has_tool_message = messages
        .iter()
        .any(|message| message.get("role").and_then(Value::as_str) == Some("tool"));

    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(stream)) => *stream,
        Some(other) => {
            return Err(bad(
                format!(
                    "Invalid type for 'stream': expected a boolean, but got {} instead.",
                    json_type_name(other)
                ),
                Some("invalid_type"),
            ))
        }
    };
    let include_usage = match body.get("stream_options") {
        None | Some(Value::Null) => false,
        Some(_) if !stream => {
            return Err(bad(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled."
                    .to_owned(),
                None,
            ))
        }
        Some(Value::Object(options)) => match options.get("include_usage") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(include)) => *include,
            Some(other) => {
                return Err(bad(
                    format!(
                        "Invalid type for 'stream_options.include_usage': expected a boolean, \
                         but got {} instead.",
                        json_type_name(other)
                    ),
                    Some("invalid_type"),
                ))
            }
        },
        Some(other) => {
            return Err(bad(
                format!(
                    "Invalid type for 'stream_options': expected an object, but got {} instead.",
                    json_type_name(other)
                ),
                Some("invalid_type"),
            ))
        }
    };
    let first_tool = match body.get("tools") {
        None | Some(Value::Null) => None,
        Some(tools) => validate_openai_tools(tools)?,
    };

    Ok(ChatAsk {
        model,
        call_tool: first_tool.filter(|_| !has_tool_message),
        stream,
        include_usage,
    })
}

/// Checks `tools` and returns the first tool's name.
fn validate_openai_tools(tools: &Value) -> Result<Option<String>, ApiError> {
    let bad =
        |message: String, code: &str| openai_error(StatusCode::BAD_REQUEST, message, Some(code));
    let tools = tools.as_array().ok_or_else(|| {
        bad(
            format!(
                "Invalid type for 'tools': expected an array of objects, but got {} instead.",
                json_type_name(tools)
            ),
            "invalid_type",
        )
    })?;
    if tools.is_empty() {
        return Err(bad(
            "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an \
             empty array instead."
                .to_owned(),
            "empty_array",
        ));
    }
    let mut first = None;
    for (k, tool) in tools.iter().enumerate() {
        let tool = tool.as_object().ok_or_else(|| {
            bad(
                format!(
                    "Invalid type for 'tools[{k}]': expected an object, but got {} instead.",
                    json_type_name(tool)
                ),
                "invalid_type",
            )
        })?;
        let kind = match tool.get("type").and_then(Value::as_str) {
            Some(kind @ ("function" | "custom")) => kind,
            Some(other) => {
                return Err(bad(
                    format!(
                        "Invalid value: '{other}'. Supported values are: 'function' and 'custom'."
                    ),
                    "invalid_value",
                ))
            }
            None => {
                return Err(bad(
                    format!("Missing required parameter: 'tools[{k}].type'."),
                    "missing_required_parameter",
                ))
            }
        };
        let spec = tool.get(kind).and_then(Value::as_object).ok_or_else(|| {
            bad(
                format!("Missing required parameter: 'tools[{k}].{kind}'."),
                "missing_required_parameter",
            )
        })?;
        let name = non_empty_str(spec, "name").ok_or_else(|| {
            bad(
                format!("Missing required parameter: 'tools[{k}].{kind}.name'."),
                "missing_required_parameter",
            )
        })?;
        first.get_or_insert_with(|| name.to_owned());
    }
    Ok(first)
}

/// The arguments of the mock's tool calls, as the model writes them.
const TOOL_ARGUMENTS: &str = r#"{"city": "Paris"}"#;

/// The id of the mock's OpenAI tool calls.
const TOOL_CALL_ID: &str = "call_mock1";

/// The largest piece of text or tool arguments in one streamed chunk, in bytes.
const STREAM_PIECE_BYTES: usize = 4;

/// The answer to a valid Chat Completions request: streamed when it asks for a stream.
fn openai_reply(model: &str, text: &str, ask: &ChatAsk) -> Answer {
    if ask.stream {
        Answer::Events(openai_stream_events(model, text, ask))
    } else {
        Answer::Json(openai_answer(model, text, ask.call_tool.as_deref()))
    }
}

fn openai_answer(model: &str, text: &str, call_tool: Option<&str>) -> Value {
    let (message, finish_reason) = match call_tool {
        Some(name) => (
            json!({
                "role": "assistant",
                "content": null,
                "tool_calls": [{
                    "id": TOOL_CALL_ID,
                    "type": "function",
                    "function": {"name": name, "arguments": TOOL_ARGUMENTS},
                }],
                "refusal": null,
            }),
            "tool_calls",
        ),
        None => (
            json!({"role": "assistant", "content": text, "refusal": null}),
            "stop",
        ),
    };
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason,
        }],
        "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
    })
}

/// The Server-Sent Events of a streamed answer, each a whole `data: ...\n\n` event; the header
/// comment of this file lists them.
fn openai_stream_events(model: &str, text: &str, ask: &ChatAsk) -> Vec<String> {
    let chunk = |delta: Value, finish_reason: Option<&str>| {
        json!({
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": model,
            "choices": [{
                "index": 0,
                "delta": delta,
                "logprobs": null,
                "finish_reason": finish_reason,
            }],
        })
    };
    let mut chunks = Vec::new();
    let finish_reason = match &ask.call_tool {
        Some(name) => {
            chunks.push(chunk(
                json!({
                    "role": "assistant",
                    "content": null,
                    "tool_calls": [{
                        "index": 0,
                        "id": TOOL_CALL_ID,
                        "type": "function",
                        "function": {"name": name, "arguments": ""},
                    }],
                }),
                None,
            ));
            for piece in pieces(TOOL_ARGUMENTS, STREAM_PIECE_BYTES) {
                chunks.push(chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
                    None,
                ));
            }
            "tool_calls"
        }
        None => {
            chunks.push(chunk(json!({"role": "assistant", "content": ""}), None));
            for piece in pieces(text, STREAM_PIECE_BYTES) {
                chunks.push(chunk(json!({"content": piece}), None));
            }
            "stop"
        }
    };
    chunks.push(chunk(json!({}), Some(finish_reason)));
    if ask.include_usage {
        chunks.push(json!({
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": model,
            "choices": [],
            "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
        }));
    }
    let mut events: Vec<String> = chunks
        .iter()
        .map(|chunk| format!("data: {chunk}\n\n"))
        .collect();
    events.push("data: [DONE]\n\n".to_owned());
    events
}

/// Splits text into pieces of at most `max` bytes, never inside a character.
fn pieces(text: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for (at, ch) in text.char_indices() {
        if at + ch.len_utf8() - start > max && at > start {
            pieces.push(&text[start..at]);
            start = at;
        }
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

// ---------------------------------------------------------------------------------------------
// Anthropic Messages.
// ---------------------------------------------------------------------------------------------

const ANTHROPIC_BLOCK_TYPES: [&str; 5] = ["text", "image", "document", "tool_use", "tool_result"];

fn anthropic_error(status: StatusCode, kind: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(
        status,
        json!({"type": "error", "error": {"type": kind, "message": message.into()}}),
    )
}

fn anthropic_invalid(message: impl Into<String>) -> ApiError {
    anthropic_error(StatusCode::BAD_REQUEST, "invalid_request_error", message)
}

fn validate_anthropic(req: &Incoming) -> Result<Valid, ApiError> {
    if req.header("x-api-key").is_none() {
        return Err(anthropic_error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid x-api-key",
        ));
    }
    if req.header("anthropic-version").is_none() {
        return Err(anthropic_invalid("anthropic-version: header is required"));
    }
    let body = req.json_object().map_err(|err| {
        anthropic_invalid(format!(
            "There was an error parsing the body of your request: {err}"
        ))
    })?;

    let model = match body.get("model") {
        None => return Err(anthropic_invalid("model: Field required")),
        Some(Value::String(model)) if !model.is_empty() => model.clone(),
        Some(Value::String(_)) => {
            return Err(anthropic_invalid(
                "model: String should have at least 1 character",
            ))
        }
        Some(_) => return Err(anthropic_invalid("model: Input should be a valid string")),
    };
    match body.get("max_tokens") {
        None => return Err(anthropic_invalid("max_tokens: Field required")),
        Some(value) => match value.as_i64() {
            Some(n) if n >= 1 => {}
            Some(_) => {
                return Err(anthropic_invalid(
                    "max_tokens: Input should be greater than or equal to 1",
                ))
            }
            None => {
                return Err(anthropic_invalid(
                    "max_tokens: Input should be a valid integer",
                ))
            }
        },
    }

    if let Some(system) = body.get("system") {
        validate_anthropic_system(system)?;
    }
    let first_tool = match body.get("tools") {
        None => None,
        Some(tools) => validate_anthropic_tools(tools)?,
    };

    let messages = match body.get("messages") {
        None => return Err(anthropic_invalid("messages: Field required")),
        Some(Value::Array(messages)) => messages,
        Some(_) => return Err(anthropic_invalid("messages: Input should be a valid list")),
    };
    if messages.is_empty() {
        return Err(anthropic_invalid(
            "messages: at least one message is required",
        ));
    }
    let mut tool_use_ids = HashSet::new();
    let mut last_has_tool_result = false;
    for (i, message) in messages.iter().enumerate() {
        let is_last = i + 1 == messages.len();
        last_has_tool_result = validate_anthropic_message(i, message, is_last, &mut tool_use_ids)?;
    }

    Ok(Valid {
        model,
        call_tool: first_tool.filter(|_| !last_has_tool_result),
    })
}

fn validate_anthropic_system(system: &Value) -> Result<(), ApiError> {
    let blocks = match system {
        Value::String(_) => return Ok(()),
        Value::Array(blocks) => blocks,
        _ => return Err(anthropic_invalid("system: Input should be a valid list")),
    };
    for (k, block) in blocks.iter().enumerate() {
        let block = block.as_object().ok_or_else(|| {
            anthropic_invalid(format!("system.{k}: Input should be a valid dictionary"))
        })?;
        if block.get("type").and_then(Value::as_str) != Some("text") {
            return Err(anthropic_invalid(format!(
                "system.{k}.type: Input should be 'text'"
            )));
        }
        if !block.get("text").is_some_and(Value::is_string) {
            return Err(anthropic_invalid(format!(
                "system.{k}.text: Field required"
            )));
        }
    }
    Ok(())
}

/// Checks `tools` and returns the first tool's name.
fn validate_anthropic_tools(tools: &Value) -> Result<Option<String>, ApiError> {
    let tools = tools
        .as_array()
        .ok_or_else(|| anthropic_invalid("tools: Input should be a valid list"))?;
    for (k, tool) in tools.iter().enumerate() {
        let tool = tool.as_object().ok_or_else(|| {
            anthropic_invalid(format!("tools.{k}: Input should be a valid dictionary"))
        })?;
        if non_empty_str(tool, "name").is_none() {
            return Err(anthropic_invalid(format!(
                "tools.{k}.custom.name: Field required"
            )));
        }
        if tool.get("description").is_some_and(|d| !d.is_string()) {
            return Err(anthropic_invalid(format!(
                "tools.{k}.custom.description: Input should be a valid string"
            )));
        }
        let schema = match tool.get("input_schema") {
            None => {
                return Err(anthropic_invalid(format!(
                    "tools.{k}.custom.input_schema: Field required"
                )))
            }
            Some(Value::Object(schema)) => schema,
            Some(_) => {
                return Err(anthropic_invalid(format!(
                    "tools.{k}.custom.input_schema: Input should be a valid dictionary"
                )))
            }
        };
        if schema.get("type").and_then(Value::as_str) != Some("object") {
            return Err(anthropic_invalid(format!(
                "tools.{k}.custom.input_schema.type: Input should be 'object'"
            )));
        }
    }
    Ok(tools
        .first()
        .and_then(|tool| tool.get("name"))
        .and_then(Value::as_str)
        .map(str::to_owned))
}

/// Checks message `i` and returns whether it holds a `tool_result` block. The ids of the
/// `tool_use` blocks of assistant messages are added to `tool_use_ids` for later messages.
fn validate_anthropic_message(
    i: usize,
    message: &Value,
    is_last: bool,
    tool_use_ids: &mut HashSet<String>,
) -> Result<bool, ApiError> {
    let message = message.as_object().ok_or_else(|| {
        anthropic_invalid(format!("messages.{i}: Input should be a valid dictionary"))
    })?;
    let role = match message.get("role").and_then(Value::as_str) {
        Some(role @ ("user" | "assistant")) => role,
        Some("system") => {
            return Err(anthropic_invalid(
                "messages: Unexpected role \"system\". The Messages API accepts a top-level \
                 `system` parameter, not \"system\" as an input message role.",
            ))
        }
        Some(_) => {
            return Err(anthropic_invalid(format!(
                "messages.{i}.role: Input should be 'user' or 'assistant'"
            )))
        }
        None => {
            return Err(anthropic_invalid(format!(
                "messages.{i}.role: Field required"
            )))
        }
    };
    let empty_content = || {
        anthropic_invalid(format!(
            "messages.{i}: all messages must have non-empty content except for the optional \
             final assistant message"
        ))
    };
    let final_assistant = is_last && role == "assistant";
    let blocks = match message.get("content") {
        None => {
            return Err(anthropic_invalid(format!(
                "messages.{i}.content: Field required"
            )))
        }
        Some(Value::String(text)) => {
            if text.is_empty() && !final_assistant {
                return Err(empty_content());
            }
            return Ok(false);
        }
        Some(Value::Array(blocks)) => blocks,
        Some(_) => {
            return Err(anthropic_invalid(format!(
                "messages.{i}.content: Input should be a valid list"
            )))
        }
    };
    if blocks.is_empty() && !final_assistant {
        return Err(empty_content());
    }

    let mut has_tool_result = false;
    let mut new_tool_use_ids = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let at = format!("messages.{i}.content.{j}");
        let block = block.as_object().ok_or_else(|| {
            anthropic_invalid(format!("{at}: Input should be a valid dictionary"))
        })?;
        let kind = block
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let need = |field: &str| anthropic_invalid(format!("{at}.{kind}.{field}: Field required"));
        match kind {
            "text" => match block.get("text") {
                Some(Value::String(text)) if text.is_empty() => {
                    return Err(anthropic_invalid(
                        "messages: text content blocks must be non-empty",
                    ))
                }
                Some(Value::String(_)) => {}
                _ => return Err(need("text")),
            },
            "image" | "document" => {
                if !block.get("source").is_some_and(Value::is_object) {
                    return Err(need("source"));
                }
            }
            "tool_use" => {
                let id = non_empty_str(block, "id").ok_or_else(|| need("id"))?;
                non_empty_str(block, "name").ok_or_else(|| need("name"))?;
                if !block.get("input").is_some_and(Value::is_object) {
                    return Err(anthropic_invalid(format!(
                        "{at}.tool_use.input: Input should be a valid dictionary"
                    )));
                }
                new_tool_use_ids.push(id.to_owned());
            }
            "tool_result" => {
                let id = non_empty_str(block, "tool_use_id").ok_or_else(|| need("tool_use_id"))?;
                if !tool_use_ids.contains(id) {
                    return Err(anthropic_invalid(format!(
                        "{at}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each \
                         `tool_result` block must have a corresponding `tool_use` block in the \
                         previous message."
                    )));
                }
                match block.get("content") {
                    None | Some(Value::String(_) | Value::Array(_)) => {}
                    Some(_) => {
                        return Err(anthropic_invalid(format!(
                            "{at}.tool_result.content: Input should be a valid list"
                        )))
                    }
                }
                has_tool_result = true;
            }
            other => {
                return Err(anthropic_invalid(format!(
                    "{at}: Input tag '{other}' found using 'type' does not match any of the \
                     expected tags: {}",
                    ANTHROPIC_BLOCK_TYPES
                        .iter()
                        .map(|t| format!("'{t}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        }
    }
    if role == "assistant" {
        tool_use_ids.extend(new_tool_use_ids);
    }
    Ok(has_tool_result)
}

fn anthropic_answer(valid: &Valid, text: &str) -> Value {
    match &valid.call_tool {
        Some(tool) => json!({
            "id": "msg_mock",
            "type": "message",
            "role": "assistant",
            "model": valid.model,
            "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_mock1", "name": tool, "input": {"city": "Paris"}},
            ],
            "stop_reason": "tool_use",
            "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": 6},
        }),
        None => json!({
            "id": "msg_mock",
            "type": "message",
            "role": "assistant",
            "model": valid.model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": null,
            "usage": {
                "input_tokens": 12,
                "output_tokens": 6,
                "cache_read_input_tokens": 0,
                "cache_creation_input_tokens": 0,
            },
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Gemini generateContent.
// ---------------------------------------------------------------------------------------------

/// The fields of a `GenerateContentRequest`, in the two spellings that protobuf JSON accepts.
const GEMINI_REQUEST_FIELDS: [&str; 14] = [
    "model",
    "contents",
    "systemInstruction",
    "system_instruction",
    "tools",
    "toolConfig",
    "tool_config",
    "generationConfig",
    "generation_config",
    "safetySettings",
    "safety_settings",
    "cachedContent",
    "cached_content",
    "labels",
];

/// The members of a part's `data` oneof, each as (camelCase, snake_case).
const GEMINI_PART_DATA: [(&str, &str); 7] = [
    ("text", "text"),
    ("inlineData", "inline_data"),
    ("fileData", "file_data"),
    ("functionCall", "function_call"),
    ("functionResponse", "function_response"),
    ("executableCode", "executable_code"),
    ("codeExecutionResult", "code_execution_result"),
];

/// The other fields a part may have.
const GEMINI_PART_METADATA: [&str; 5] = [
    "thought",
    "thoughtSignature",
    "thought_signature",
    "videoMetadata",
    "video_metadata",
];

fn gemini_error(status: StatusCode, message: impl Into<String>, status_name: &str) -> ApiError {
    ApiError::new(
        status,
        json!({"error": {
            "code": status.as_u16(),
            "message": message.into(),
            "status": status_name,
        }}),
    )
}

fn gemini_invalid(message: impl Into<String>) -> ApiError {
    gemini_error(StatusCode::BAD_REQUEST, message, "INVALID_ARGUMENT")
}

fn gemini_unknown_field(name: &str, at: &str) -> ApiError {
    let location = if at.is_empty() {
        String::new()
    } else {
        format!(" at '{at}'")
    };
    gemini_invalid(format!(
        "Invalid JSON payload received. Unknown name \"{name}\"{location}: Cannot find field."
    ))
}

/// A field in either of its protobuf JSON spellings.
fn either<'a>(object: &'a Map<String, Value>, camel: &str, snake: &str) -> Option<&'a Value> {
    object.get(camel).or_else(|| object.get(snake))
}

/// Checks a Gemini request and returns the function the answer should call, if any.
fn validate_gemini(req: &Incoming) -> Result<Option<String>, ApiError> {
    if req.header("x-goog-api-key").is_none() {
        return Err(gemini_error(
            StatusCode::FORBIDDEN,
            "Method doesn't allow unregistered callers (callers without established identity). \
             Please use API Key or other form of API consumer identity to call this API.",
            "PERMISSION_DENIED",
        ));
    }
    let body = req
        .json_object()
        .map_err(|err| gemini_invalid(format!("Invalid JSON payload received. {err}")))?;
    if let Some(unknown) = body
        .keys()
        .find(|key| !GEMINI_REQUEST_FIELDS.contains(&key.as_str()))
    {
        return Err(gemini_unknown_field(unknown, ""));
    }

    let contents = body
        .get("contents")
        .and_then(Value::as_array)
        .filter(|contents| !contents.is_empty())
        .ok_or_else(|| {
            gemini_invalid("* GenerateContentRequest.contents: contents is not specified\n")
        })?;
    let mut last_has_function_response = false;
    for (i, content) in contents.iter().enumerate() {
        let at = format!("contents[{i}]");
        let content = content.as_object().ok_or_else(|| {
            gemini_invalid(format!("Invalid value at '{at}', expected an object"))
        })?;
        if let Some(unknown) = content
            .keys()
            .find(|key| !["role", "parts"].contains(&key.as_str()))
        {
            return Err(gemini_unknown_field(unknown, &at));
        }
        match content.get("role").and_then(Value::as_str) {
            Some("user" | "model") => {}
            _ => return Err(gemini_invalid("Please use a valid role: user, model.")),
        }
        last_has_function_response = validate_gemini_parts(content.get("parts"), &at)?;
    }

    if let Some(system) = either(&body, "systemInstruction", "system_instruction") {
        let at = "system_instruction";
        let system = system.as_object().ok_or_else(|| {
            gemini_invalid(format!("Invalid value at '{at}', expected an object"))
        })?;
        if let Some(unknown) = system
            .keys()
            .find(|key| !["role", "parts"].contains(&key.as_str()))
        {
            return Err(gemini_unknown_field(unknown, at));
        }
        validate_gemini_parts(system.get("parts"), at)?;
    }
    for (camel, snake) in [
        ("toolConfig", "tool_config"),
        ("generationConfig", "generation_config"),
    ] {
        if either(&body, camel, snake).is_some_and(|value| !value.is_object()) {
            return Err(gemini_invalid(format!(
                "Invalid value at '{snake}', expected an object"
            )));
        }
    }
    let first_function = match body.get("tools") {
        None => None,
        Some(tools) => validate_gemini_tools(tools)?,
    };
    Ok(first_function.filter(|_| !last_has_function_response))
}

/// Checks a content's parts and returns whether one is a `functionResponse`.
fn validate_gemini_parts(parts: Option<&Value>, at: &str) -> Result<bool, ApiError> {
    let parts = parts
        .and_then(Value::as_array)
        .filter(|parts| !parts.is_empty())
        .ok_or_else(|| {
            gemini_invalid(format!(
                "* GenerateContentRequest.{at}.parts: contents.parts must not be empty.\n"
            ))
        })?;
    let mut has_function_response = false;
    for (j, part) in parts.iter().enumerate() {
        let at = format!("{at}.parts[{j}]");
        let part = part.as_object().ok_or_else(|| {
            gemini_invalid(format!("Invalid value at '{at}', expected an object"))
        })?;
        let mut data = None;
        for key in part.keys() {
            let member = GEMINI_PART_DATA
                .iter()
                .find(|(camel, snake)| key == camel || key == snake);
            match member {
                Some(&(camel, _)) => {
                    if data.is_some() {
                        return Err(gemini_invalid(format!(
                            "Invalid JSON payload received. Oneof field 'data' is already set. \
                             Cannot set '{key}'"
                        )));
                    }
                    data = Some(camel);
                }
                None if GEMINI_PART_METADATA.contains(&key.as_str()) => {}
                None => return Err(gemini_unknown_field(key, &at)),
            }
        }
        let Some(kind) = data else {
            return Err(gemini_invalid(format!(
                "* GenerateContentRequest.{at}.data: required oneof field 'data' must have one \
                 initialized field\n"
            )));
        };
        let value = part
            .get(kind)
            .or_else(|| {
                GEMINI_PART_DATA
                    .iter()
                    .find(|(camel, _)| *camel == kind)
                    .and_then(|(_, snake)| part.get(*snake))
            })
            .unwrap_or(&Value::Null);
        let missing = |field: &str| {
            gemini_invalid(format!(
                "* GenerateContentRequest.{at}.{kind}.{field}: required field is not set\n"
            ))
        };
        match kind {
            "text" if !value.is_string() => {
                return Err(gemini_invalid(format!(
                    "Invalid value at '{at}.text' ({}), expected a string",
                    json_type_name(value)
                )));
            }
            "inlineData" => {
                let blob = value.as_object().ok_or_else(|| missing("data"))?;
                either(blob, "mimeType", "mime_type")
                    .and_then(Value::as_str)
                    .filter(|m| !m.is_empty())
                    .ok_or_else(|| missing("mime_type"))?;
                non_empty_str(blob, "data").ok_or_else(|| missing("data"))?;
            }
            "fileData" => {
                let file = value.as_object().ok_or_else(|| missing("file_uri"))?;
                either(file, "fileUri", "file_uri")
                    .and_then(Value::as_str)
                    .filter(|uri| !uri.is_empty())
                    .ok_or_else(|| missing("file_uri"))?;
            }
            "functionCall" => {
                let call = value.as_object().ok_or_else(|| missing("name"))?;
                non_empty_str(call, "name").ok_or_else(|| missing("name"))?;
                if call.get("args").is_some_and(|args| !args.is_object()) {
                    return Err(gemini_invalid(format!(
                        "Invalid value at '{at}.function_call.args', expected an object"
                    )));
                }
            }
            "functionResponse" => {
                let response = value.as_object().ok_or_else(|| missing("name"))?;
                non_empty_str(response, "name").ok_or_else(|| missing("name"))?;
                if !response.get("response").is_some_and(Value::is_object) {
                    return Err(missing("response"));
                }
                has_function_response = true;
            }
            _ => {}
        }
    }
    Ok(has_function_response)
}

/// Checks `tools` and returns the first declared function's name.
fn validate_gemini_tools(tools: &Value) -> Result<Option<String>, ApiError> {
    let tools = tools
        .as_array()
        .ok_or_else(|| gemini_invalid("Invalid value at 'tools', expected a list"))?;
    let mut first = None;
    for (k, tool) in tools.iter().enumerate() {
        let tool = tool.as_object().ok_or_else(|| {
            gemini_invalid(format!("Invalid value at 'tools[{k}]', expected an object"))
        })?;
        let Some(declarations) = either(tool, "functionDeclarations", "function_declarations")
        else {
            continue;
        };
        let declarations = declarations.as_array().ok_or_else(|| {
            gemini_invalid(format!(
                "Invalid value at 'tools[{k}].function_declarations', expected a list"
            ))
        })?;
        for (d, declaration) in declarations.iter().enumerate() {
            let at = format!("tools[{k}].function_declarations[{d}]");
            let declaration = declaration.as_object().ok_or_else(|| {
                gemini_invalid(format!("Invalid value at '{at}', expected an object"))
            })?;
            let name = non_empty_str(declaration, "name").ok_or_else(|| {
                gemini_invalid(format!(
                    "* GenerateContentRequest.{at}.name: [FIELD_INVALID] Invalid function name. \
                     Must start with a letter or an underscore."
                ))
            })?;
            if declaration
                .get("description")
                .is_some_and(|d| !d.is_string())
            {
                return Err(gemini_invalid(format!(
                    "Invalid value at '{at}.description', expected a string"
                )));
            }
            let parameters = either(declaration, "parameters", "parameters");
            let json_schema = either(
                declaration,
                "parametersJsonSchema",
                "parameters_json_schema",
            );
            for (field, value) in [
                ("parameters", parameters),
                ("parameters_json_schema", json_schema),
            ] {
                if value.is_some_and(|schema| !schema.is_object()) {
                    return Err(gemini_invalid(format!(
                        "Invalid value at '{at}.{field}', expected an object"
                    )));
                }
            }
            if parameters.is_some() && json_schema.is_some() {
                return Err(gemini_invalid(format!(
                    "* GenerateContentRequest.{at}: parameters and parameters_json_schema cannot \
                     both be set\n"
                )));
            }
            first.get_or_insert_with(|| name.to_owned());
        }
    }
    Ok(first)
}

fn gemini_answer(model: &str, call: Option<&str>, text: &str) -> Value {
    let part = match call {
        Some(name) => json!({"functionCall": {"name": name, "args": {"city": "Paris"}}}),
        None => json!({"text": text}),
    };
    json!({
        "candidates": [{
            "content": {"role": "model", "parts": [part]},
            "finishReason": "STOP",
            "index": 0,
        }],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
        "modelVersion": model,
        "responseId": "mock-1",
    })
}

// ---------------------------------------------------------------------------------------------
// Bedrock Converse.
// ---------------------------------------------------------------------------------------------

const BEDROCK_BLOCK_KINDS: [&str; 5] = ["text", "image", "document", "toolUse", "toolResult"];

fn aws_error(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        body: json!({"message": message.into()}),
        aws_error_type: Some(kind),
    }
}

fn bedrock_invalid(message: impl Into<String>) -> ApiError {
    aws_error(StatusCode::BAD_REQUEST, "ValidationException", message)
}

fn signature_mismatch() -> ApiError {
    aws_error(
        StatusCode::FORBIDDEN,
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided. Check \
         your AWS Secret Access Key and signing method. Consult the service documentation for \
         details.",
    )
}

/// Checks the request's SigV4 signature against the test credentials, as of `now`.
fn verify_sigv4(req: &Incoming, now: SystemTime) -> Result<(), ApiError> {
    let incomplete = |message: &str| {
        aws_error(
            StatusCode::FORBIDDEN,
            "IncompleteSignatureException",
            message,
        )
    };
    let Some(authorization) = req.header("authorization") else {
        return Err(aws_error(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ));
    };
    let fields = authorization
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| {
            incomplete("Authorization header must use the AWS4-HMAC-SHA256 algorithm.")
        })?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for field in fields.split(',') {
        match field.trim().split_once('=') {
            Some(("Credential", value)) => credential = Some(value),
            Some(("SignedHeaders", value)) => signed_headers = Some(value),
            Some(("Signature", value)) => signature = Some(value),
            _ => {}
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(incomplete(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' \
             parameters.",
        ));
    };

    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, scope_date, region, service, "aws4_request"] = scope[..] else {
        return Err(incomplete(
            "Credential should be scoped to a valid region, service and aws4_request terminator.",
        ));
    };
    if access_key_id != AWS_ACCESS_KEY_ID {
        return Err(aws_error(
            StatusCode::FORBIDDEN,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ));
    }
    if service != BEDROCK_SERVICE {
        return Err(aws_error(
            StatusCode::FORBIDDEN,
            "InvalidSignatureException",
            format!("Credential should be scoped to correct service: '{BEDROCK_SERVICE}'."),
        ));
    }

    let amz_date = req.header("x-amz-date").ok_or_else(|| {
        incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    })?;
    let signed_at = chrono::NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| {
            incomplete("X-Amz-Date must be in the ISO-8601 basic format YYYYMMDD'T'HHMMSS'Z'.")
        })?
        .and_utc();
    if signed_at.format("%Y%m%d").to_string() != scope_date {
        return Err(aws_error(
            StatusCode::FORBIDDEN,
            "InvalidSignatureException",
            format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
                 from HTTP: '{scope_date}' != '{}'",
                signed_at.format("%Y%m%d")
            ),
        ));
    }
    let signed_time = SystemTime::from(signed_at);
    let skew = now
        .duration_since(signed_time)
        .or_else(|_| signed_time.duration_since(now))
        .unwrap_or_default();
    if skew > SIGV4_MAX_SKEW {
        return Err(aws_error(
            StatusCode::FORBIDDEN,
            "InvalidSignatureException",
            format!(
                "Signature expired or not yet current: {amz_date} is more than 15 minutes from \
                 the server's time."
            ),
        ));
    }

    let session_token = match req.headers.get("x-amz-security-token") {
        None => None,
        Some(token) if token.as_bytes() == AWS_SESSION_TOKEN.as_bytes() => {
            Some(AWS_SESSION_TOKEN.to_owned())
        }
        Some(_) => {
            return Err(aws_error(
                StatusCode::FORBIDDEN,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ))
        }
    };

    // Sign the same request again with the known secret: the method, the URL as received, the
    // headers the client signed (with the values received) and the body.
    let host = req.header("host").ok_or_else(signature_mismatch)?;
    let url = match &req.query {
        Some(query) => format!("http://{host}{}?{query}", req.path),
        None => format!("http://{host}{}", req.path),
    };
    let mut headers = Vec::new();
    for name in signed_headers.split(';') {
        let values: Vec<&str> = req
            .headers
            .get_all(name)
            .iter()
            .map(|value| value.to_str())
            .collect::<Result<_, _>>()
            .map_err(|_| signature_mismatch())?;
        if values.is_empty() {
            return Err(signature_mismatch());
        }
        headers.push((name, values.join(",")));
    }

    let identity: Identity = Credentials::new(
        AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY,
        session_token,
        None,
        "mock",
    )
    .into();
    let mut settings = SigningSettings::default();
    // The client's SignedHeaders list decides which headers count, so exclude none of them.
    settings.excluded_headers = None;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(BEDROCK_SERVICE)
        .time(signed_time)
        .settings(settings)
        .build()
        .map_err(|_| signature_mismatch())?
        .into();
    let signable = SignableRequest::new(
        req.method.as_str(),
        url,
        headers.iter().map(|(name, value)| (*name, value.as_str())),
        SignableBody::Bytes(&req.body),
    )
    .map_err(|_| signature_mismatch())?;
    let (_instructions, expected) = sign(signable, &params)
        .map_err(|_| signature_mismatch())?
        .into_parts();
    if expected == signature {
        Ok(())
    } else {
        Err(signature_mismatch())
    }
}

/// Checks a Converse request and returns the tool the answer should call, if any.
fn validate_bedrock(
    req: &Incoming,
    model_id: &str,
    now: SystemTime,
) -> Result<Option<String>, ApiError> {
    verify_sigv4(req, now)?;
    let valid_id = model_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".:/_-".contains(c));
    if !valid_id {
        return Err(bedrock_invalid("The provided model identifier is invalid."));
    }
    let body = req.json_object().map_err(|err| {
        aws_error(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            format!("Malformed request body: {err}"),
        )
    })?;

    let messages = match body.get("messages") {
        None | Some(Value::Null) => {
            return Err(bedrock_invalid(
                "1 validation error detected: Value null at 'messages' failed to satisfy \
                 constraint: Member must not be null",
            ))
        }
        Some(Value::Array(messages)) if !messages.is_empty() => messages,
        Some(_) => {
            return Err(bedrock_invalid(
                "A conversation must start with a user message. Try again with a conversation \
                 that starts with a user message.",
            ))
        }
    };
    let mut tool_use_ids = HashSet::new();
    let mut last_has_tool_result = false;
    let mut previous_role = None;
    for (i, message) in messages.iter().enumerate() {
        let (role, has_tool_result) = validate_bedrock_message(i, message, &mut tool_use_ids)?;
        if previous_role.is_none() && role != "user" {
            return Err(bedrock_invalid(
                "A conversation must start with a user message. Try again with a conversation \
                 that starts with a user message.",
            ));
        }
        if previous_role == Some(role) {
            return Err(bedrock_invalid(
                "A conversation must alternate between user and assistant roles. Make sure the \
                 conversation alternates between user and assistant roles and try again.",
            ));
        }
        previous_role = Some(role);
        last_has_tool_result = has_tool_result;
    }

    if let Some(system) = body.get("system") {
        let blocks = system
            .as_array()
            .ok_or_else(|| bedrock_invalid("system must be a list of SystemContentBlock"))?;
        for (k, block) in blocks.iter().enumerate() {
            let block = block.as_object();
            let valid = block.is_some_and(|b| {
                b.get("text").is_some_and(Value::is_string)
                    || b.contains_key("cachePoint")
                    || b.contains_key("guardContent")
            });
            if !valid {
                return Err(bedrock_invalid(format!(
                    "system.{k} must be a SystemContentBlock with a text field"
                )));
            }
        }
    }
    if let Some(config) = body.get("inferenceConfig") {
        validate_bedrock_inference_config(config)?;
    }
    let first_tool = match body.get("toolConfig") {
        None => None,
        Some(config) => validate_bedrock_tool_config(config)?,
    };
    Ok(first_tool.filter(|_| !last_has_tool_result))
}

/// Checks message `i` and returns its role and whether it holds a `toolResult` block.
fn validate_bedrock_message(
    i: usize,
    message: &Value,
    tool_use_ids: &mut HashSet<String>,
) -> Result<(&'static str, bool), ApiError> {
    let member = i + 1;
    let message = message
        .as_object()
        .ok_or_else(|| bedrock_invalid(format!("messages.{member} must be a Message object")))?;
    let role = match message.get("role").and_then(Value::as_str) {
        Some("user") => "user",
        Some("assistant") => "assistant",
        other => {
            let shown = other.map_or_else(|| "null".to_owned(), |r| format!("'{r}'"));
            return Err(bedrock_invalid(format!(
                "1 validation error detected: Value {shown} at 'messages.{member}.member.role' \
                 failed to satisfy constraint: Member must satisfy enum value set: \
                 [user, assistant]"
            )));
        }
    };
    let blocks = message
        .get("content")
        .and_then(Value::as_array)
        .filter(|blocks| !blocks.is_empty())
        .ok_or_else(|| {
            bedrock_invalid(format!(
                "1 validation error detected: Value at 'messages.{member}.member.content' failed \
                 to satisfy constraint: Member must have length greater than or equal to 1"
            ))
        })?;

    let mut has_tool_result = false;
    let mut new_tool_use_ids = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let at = format!("messages.{i}.content.{j}");
        let one_of = || {
            bedrock_invalid(format!(
                "The ContentBlock object at {at} must set exactly one of: {}.",
                BEDROCK_BLOCK_KINDS.join(", ")
            ))
        };
        let block = block.as_object().ok_or_else(one_of)?;
        let [(kind, value)] = block.iter().collect::<Vec<_>>()[..] else {
            return Err(one_of());
        };
        let field = |name: &str| value.get(name);
        let missing = |name: &str| {
            bedrock_invalid(format!(
                "The {kind} field at {at} is missing its required member {name}."
            ))
        };
        match kind.as_str() {
            "text" => match value.as_str() {
                Some(text) if !text.trim().is_empty() => {}
                _ => {
                    return Err(bedrock_invalid(format!(
                        "The text field in the ContentBlock object at {at} is blank. Add text to \
                         the text field, and try again."
                    )))
                }
            },
            "image" => {
                field("format")
                    .and_then(Value::as_str)
                    .ok_or_else(|| missing("format"))?;
                field("source")
                    .filter(|s| s.is_object())
                    .ok_or_else(|| missing("source"))?;
            }
            "document" => {
                field("format")
                    .and_then(Value::as_str)
                    .ok_or_else(|| missing("format"))?;
                field("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| missing("name"))?;
                field("source")
                    .filter(|s| s.is_object())
                    .ok_or_else(|| missing("source"))?;
            }
            "toolUse" => {
                let id = field("toolUseId")
                    .and_then(Value::as_str)
                    .filter(|id| !id.is_empty())
                    .ok_or_else(|| missing("toolUseId"))?;
                field("name")
                    .and_then(Value::as_str)
                    .filter(|name| !name.is_empty())
                    .ok_or_else(|| missing("name"))?;
                field("input").ok_or_else(|| missing("input"))?;
                new_tool_use_ids.push(id.to_owned());
            }
            "toolResult" => {
                let id = field("toolUseId")
                    .and_then(Value::as_str)
                    .filter(|id| !id.is_empty())
                    .ok_or_else(|| missing("toolUseId"))?;
                field("content")
                    .filter(|c| c.is_array())
                    .ok_or_else(|| missing("content"))?;
                if !tool_use_ids.contains(id) {
                    return Err(bedrock_invalid(format!(
                        "The toolResult block at {at} has toolUseId {id}, which matches no toolUse \
                         block of an earlier assistant message."
                    )));
                }
                has_tool_result = true;
            }
            _ => return Err(one_of()),
        }
    }
    if role == "assistant" {
        tool_use_ids.extend(new_tool_use_ids);
    }
    Ok((role, has_tool_result))
}

fn validate_bedrock_inference_config(config: &Value) -> Result<(), ApiError> {
    let config = config
        .as_object()
        .ok_or_else(|| bedrock_invalid("inferenceConfig must be an object"))?;
    if let Some(max_tokens) = config.get("maxTokens") {
        if max_tokens.as_i64().is_none_or(|n| n < 1) {
            return Err(bedrock_invalid(
                "1 validation error detected: Value at 'inferenceConfig.maxTokens' failed to \
                 satisfy constraint: Member must have value greater than or equal to 1",
            ));
        }
    }
    for name in ["temperature", "topP"] {
        if config.get(name).is_some_and(|value| !value.is_number()) {
            return Err(bedrock_invalid(format!(
                "inferenceConfig.{name} must be a number"
            )));
        }
    }
    if let Some(stops) = config.get("stopSequences") {
        let all_strings = stops
            .as_array()
            .is_some_and(|stops| stops.iter().all(Value::is_string));
        if !all_strings {
            return Err(bedrock_invalid(
                "inferenceConfig.stopSequences must be a list of strings",
            ));
        }
    }
    Ok(())
}

/// Checks `toolConfig` and returns the first tool's name.
fn validate_bedrock_tool_config(config: &Value) -> Result<Option<String>, ApiError> {
    let config = config
        .as_object()
        .ok_or_else(|| bedrock_invalid("toolConfig must be an object"))?;
    let tools = config
        .get("tools")
        .and_then(Value::as_array)
        .filter(|tools| !tools.is_empty())
        .ok_or_else(|| {
            bedrock_invalid(
                "1 validation error detected: Value at 'toolConfig.tools' failed to satisfy \
                 constraint: Member must have length greater than or equal to 1",
            )
        })?;
    let mut first = None;
    for (k, tool) in tools.iter().enumerate() {
        let tool = tool.as_object().ok_or_else(|| {
            bedrock_invalid(format!("toolConfig.tools.{k} must be a Tool object"))
        })?;
        if tool.contains_key("cachePoint") {
            continue;
        }
        let spec = tool
            .get("toolSpec")
            .and_then(Value::as_object)
            .ok_or_else(|| bedrock_invalid(format!("toolConfig.tools.{k} must have a toolSpec")))?;
        let name = non_empty_str(spec, "name").ok_or_else(|| {
            bedrock_invalid(format!("toolConfig.tools.{k}.toolSpec.name must be set"))
        })?;
        let has_schema = spec
            .get("inputSchema")
            .and_then(|schema| schema.get("json"))
            .is_some_and(Value::is_object);
        if !has_schema {
            return Err(bedrock_invalid(format!(
                "toolConfig.tools.{k}.toolSpec.inputSchema must have a json object"
            )));
        }
        first.get_or_insert_with(|| name.to_owned());
    }
    if let Some(choice) = config.get("toolChoice") {
        let choice = choice.as_object().filter(|choice| choice.len() == 1);
        let valid = choice.is_some_and(|choice| {
            choice.contains_key("auto")
                || choice.contains_key("any")
                || choice
                    .get("tool")
                    .and_then(|tool| tool.get("name"))
                    .is_some_and(Value::is_string)
        });
        if !valid {
            return Err(bedrock_invalid(
                "toolConfig.toolChoice must set exactly one of auto, any or tool (with a name)",
            ));
        }
    }
    Ok(first)
}

fn bedrock_answer(call: Option<&str>, text: &str) -> Value {
    let (block, stop_reason) = match call {
        Some(name) => (
            json!({"toolUse": {
                "toolUseId": "tooluse_mock1",
                "name": name,
                "input": {"city": "Paris"},
            }}),
            "tool_use",
        ),
        None => (json!({"text": text}), "end_turn"),
    };
    json!({
        "output": {"message": {"role": "assistant", "content": [block]}},
        "stopReason": stop_reason,
        "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
        "metrics": {"latencyMs": 12},
    })
}

// ---------------------------------------------------------------------------------------------
// Ollama chat.
// ---------------------------------------------------------------------------------------------

const OLLAMA_ROLES: [&str; 4] = ["system", "user", "assistant", "tool"];

fn ollama_error(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, json!({"error": message.into()}))
}

/// Checks an Ollama chat request and returns its model.
fn validate_ollama(req: &Incoming) -> Result<String, ApiError> {
    let body = req.json_object().map_err(ollama_error)?;
    let model = non_empty_str(&body, "model").ok_or_else(|| ollama_error("model is required"))?;
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .filter(|messages| !messages.is_empty())
        .ok_or_else(|| ollama_error("messages is required"))?;
    for (i, message) in messages.iter().enumerate() {
        let message = message.as_object().ok_or_else(|| {
            ollama_error(format!(
                "json: cannot unmarshal {} into Go struct field ChatRequest.messages of type \
                 api.Message",
                go_type_name(message)
            ))
        })?;
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !OLLAMA_ROLES.contains(&role) {
            return Err(ollama_error(format!(
                "messages[{i}]: invalid role {role:?}, expected system, user, assistant or tool"
            )));
        }
        let may_omit_content = role == "assistant" && message.contains_key("tool_calls");
        match message.get("content") {
            Some(Value::String(_)) => {}
            None if may_omit_content => {}
            other => {
                return Err(ollama_error(format!(
                    "json: cannot unmarshal {} into Go struct field Message.messages.content of \
                     type string",
                    other.map_or("nothing", go_type_name)
                )))
            }
        }
        if let Some(images) = message.get("images") {
            let all_strings = images
                .as_array()
                .is_some_and(|images| images.iter().all(Value::is_string));
            if !all_strings {
                return Err(ollama_error(
                    "json: cannot unmarshal images into Go struct field Message.messages.images \
                     of type []api.ImageData (base64 strings)",
                ));
            }
        }
    }
    if body.get("stream") != Some(&Value::Bool(false)) {
        return Err(ollama_error(
            "mock: streaming not supported, send stream:false",
        ));
    }
    Ok(model.to_owned())
}

/// The JSON type of a value, as Go's JSON decoder names it in Ollama's errors.
fn go_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn ollama_answer(model: &str, text: &str) -> Value {
    json!({
        "model": model,
        "created_at": "2024-07-22T20:33:28.123Z",
        "message": {"role": "assistant", "content": text},
        "done": true,
        "done_reason": "stop",
        "total_duration": 1_000_000,
        "prompt_eval_count": 10,
        "eval_count": 5,
    })
}

// ---------------------------------------------------------------------------------------------
// Tests.
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "127.0.0.1:4010";
    const URL: &str =
        "http://127.0.0.1:4010/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse";
    const BODY: &[u8] = br#"{"messages":[{"role":"user","content":[{"text":"Hi"}]}]}"#;

    /// Signs a Converse request the way a client does (aws-sigv4 over the URL with the
    /// percent-encoded model id, `content-type` and the body), then adds the `host` header
    /// the HTTP client sends.
    fn client_request(secret: &str, token: Option<&str>, body: &[u8], now: SystemTime) -> Incoming {
        let identity: Identity = Credentials::new(
            AWS_ACCESS_KEY_ID,
            secret,
            token.map(str::to_owned),
            None,
            "test",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("bedrock")
            .time(now)
            .settings(SigningSettings::default())
            .build()
            .expect("the signing parameters are complete")
            .into();
        let signable = SignableRequest::new(
            "POST",
            URL,
            [("content-type", "application/json")].into_iter(),
            SignableBody::Bytes(body),
        )
        .expect("the request is signable");
        let (instructions, _signature) = sign(signable, &params)
            .expect("signing succeeds")
            .into_parts();
        let mut request = http::Request::builder()
            .method("POST")
            .uri(URL)
            .header("content-type", "application/json")
            .body(())
            .expect("the request is valid");
        instructions.apply_to_request_http1x(&mut request);
        request
            .headers_mut()
            .insert("host", HeaderValue::from_static(HOST));
        Incoming {
            method: Method::POST,
            path: request.uri().path().to_owned(),
            query: request.uri().query().map(str::to_owned),
            headers: request.headers().clone(),
            body: Bytes::copy_from_slice(body),
        }
    }

    fn status_of(result: Result<(), ApiError>) -> Option<u16> {
        result.err().map(|err| err.status.as_u16())
    }

    #[test]
    fn sigv4_accepts_a_client_signature() {
        let now = SystemTime::now();
        let req = client_request(AWS_SECRET_ACCESS_KEY, None, BODY, now);
        assert_eq!(
            req.path,
            "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"
        );
        verify_sigv4(&req, now).expect("the client's signature verifies");
    }

    #[test]
    fn sigv4_accepts_a_session_token() {
        let now = SystemTime::now();
        let req = client_request(AWS_SECRET_ACCESS_KEY, Some(AWS_SESSION_TOKEN), BODY, now);
        verify_sigv4(&req, now).expect("the client's signature with a token verifies");
        let wrong = client_request(AWS_SECRET_ACCESS_KEY, Some("other-token"), BODY, now);
        assert_eq!(status_of(verify_sigv4(&wrong, now)), Some(403));
    }

    #[test]
    fn sigv4_rejects_a_changed_body() {
        let now = SystemTime::now();
        let mut req = client_request(AWS_SECRET_ACCESS_KEY, None, BODY, now);
        req.body =
            Bytes::from_static(br#"{"messages":[{"role":"user","content":[{"text":"Ho"}]}]}"#);
        let err = verify_sigv4(&req, now).expect_err("a changed body fails");
        assert_eq!(err.status, StatusCode::FORBIDDEN);
        assert_eq!(err.aws_error_type, Some("InvalidSignatureException"));
    }

    #[test]
    fn sigv4_rejects_another_secret() {
        let now = SystemTime::now();
        let req = client_request("another/secret/key", None, BODY, now);
        let err = verify_sigv4(&req, now).expect_err("another secret fails");
        assert_eq!(err.aws_error_type, Some("InvalidSignatureException"));
    }

    #[test]
    fn sigv4_rejects_a_changed_path_and_an_old_signature() {
        let now = SystemTime::now();
        let mut req = client_request(AWS_SECRET_ACCESS_KEY, None, BODY, now);
        req.path = "/model/anthropic.claude-3-5-haiku-20241022-v1:0/converse".to_owned();
        assert_eq!(status_of(verify_sigv4(&req, now)), Some(403));
        let old = client_request(
            AWS_SECRET_ACCESS_KEY,
            None,
            BODY,
            now - Duration::from_secs(3600),
        );
        assert_eq!(status_of(verify_sigv4(&old, now)), Some(403));
    }

    #[test]
    fn bedrock_model_ids_are_decoded() {
        let Some(Provider::Bedrock { model_id }) =
            provider_route("/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse")
        else {
            panic!("the Converse path routes to Bedrock");
        };
        assert_eq!(model_id, "anthropic.claude-3-5-haiku-20241022-v1:0");
    }

    #[test]
    fn a_signed_converse_request_gets_an_answer() {
        let now = SystemTime::now();
        let req = client_request(AWS_SECRET_ACCESS_KEY, None, BODY, now);
        let provider = provider_route(&req.path).expect("the path routes");
        let Answer::Json(body) = answer(&provider, &req, now).expect("the request is valid") else {
            panic!("a Converse answer is one JSON body");
        };
        assert_eq!(
            body["output"]["message"]["content"][0]["text"],
            "Hello from bedrock"
        );
    }

    #[test]
    fn routes_match_the_providers() {
        let kind = |path: &str| provider_route(path).map(|p| p.kind());
        assert_eq!(kind("/v1/chat/completions"), Some("openai"));
        assert_eq!(kind("/proxy/v1/chat/completions"), Some("openai"));
        assert_eq!(
            kind("/openai/deployments/gpt4o/chat/completions"),
            Some("azure-openai")
        );
        assert_eq!(kind("/v1/messages"), Some("anthropic"));
        assert_eq!(
            kind("/v1beta/models/gemini-2.0-flash:generateContent"),
            Some("gemini")
        );
        assert_eq!(
            kind("/v1beta/models/gemini-2.0-flash:streamGenerateContent"),
            None
        );
        assert_eq!(kind("/api/chat"), Some("ollama"));
        assert_eq!(kind("/v1/other"), None);
    }

    /// An OpenAI request with the given body and a bearer key.
    fn openai_request(body: &Value) -> Incoming {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer sk-test"));
        Incoming {
            method: Method::POST,
            path: "/v1/chat/completions".to_owned(),
            query: None,
            headers,
            body: Bytes::from(body.to_string()),
        }
    }

    /// The JSON payloads of the events, checking that each is one `data: ` line and a blank
    /// line; `[DONE]` must come last and is left out.
    fn payloads(events: &[String]) -> Vec<Value> {
        let (done, rest) = events.split_last().expect("at least one event");
        assert_eq!(done, "data: [DONE]\n\n");
        rest.iter()
            .map(|event| {
                let data = event
                    .strip_prefix("data: ")
                    .and_then(|event| event.strip_suffix("\n\n"))
                    .unwrap_or_else(|| panic!("not one data line: {event:?}"));
                assert!(!data.contains('\n'), "one line: {data:?}");
                serde_json::from_str(data).expect("JSON")
            })
            .collect()
    }

    fn streamed(body: &Value) -> Vec<Value> {
        let req = openai_request(body);
        match answer(&Provider::OpenAi, &req, SystemTime::now()).expect("valid") {
            Answer::Events(events) => payloads(&events),
            Answer::Json(json) => panic!("not streamed: {json}"),
        }
    }

    fn user(text: &str) -> Value {
        json!([{"role": "user", "content": text}])
    }

    #[test]
    fn pieces_have_at_most_four_bytes_and_whole_characters() {
        assert_eq!(
            pieces("Hello from openai", 4),
            ["Hell", "o fr", "om o", "pena", "i"]
        );
        assert_eq!(pieces("Héllo", 4), ["Hél", "lo"]);
        assert_eq!(pieces("a😀b", 4), ["a", "😀", "b"]);
        assert!(pieces("", 4).is_empty());
    }

    #[test]
    fn a_streamed_answer_is_role_text_pieces_stop_and_done() {
        let chunks = streamed(&json!({"model": "gpt-4o-mini", "stream": true,
                                      "messages": user("hi")}));
        for chunk in &chunks {
            assert_eq!(chunk["id"], "chatcmpl-mock");
            assert_eq!(chunk["object"], "chat.completion.chunk");
            assert_eq!(chunk["created"], 1_700_000_000);
            assert_eq!(chunk["model"], "gpt-4o-mini");
            assert_eq!(chunk["choices"][0]["index"], 0);
            assert!(chunk["choices"][0]["logprobs"].is_null());
            assert!(chunk.get("usage").is_none());
        }
        assert_eq!(
            chunks[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );
        let (last, middle) = chunks[1..].split_last().expect("more chunks");
        let mut text = String::new();
        for chunk in middle {
            let piece = chunk["choices"][0]["delta"]["content"]
                .as_str()
                .expect("a content delta");
            assert!(!piece.is_empty() && piece.len() <= 4, "{piece:?}");
            assert!(chunk["choices"][0]["finish_reason"].is_null());
            text.push_str(piece);
        }
        assert_eq!(text, "Hello from openai");
        assert_eq!(middle.len(), 5);
        assert_eq!(last["choices"][0]["delta"], json!({}));
        assert_eq!(last["choices"][0]["finish_reason"], "stop");
    }

    #[test]
    fn usage_comes_last_only_when_asked() {
        let chunks = streamed(&json!({"model": "gpt-4o-mini", "stream": true,
                                      "stream_options": {"include_usage": true},
                                      "messages": user("hi")}));
        let (usage, rest) = chunks.split_last().expect("chunks");
        assert_eq!(
            *usage,
            json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk",
                   "created": 1_700_000_000, "model": "gpt-4o-mini", "choices": [],
                   "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}})
        );
        assert_eq!(
            rest.last().expect("stop")["choices"][0]["finish_reason"],
            "stop"
        );
        assert!(rest.iter().all(|chunk| chunk.get("usage").is_none()));
        let without = streamed(&json!({"model": "m", "stream": true,
                                       "stream_options": {"include_usage": false},
                                       "messages": user("hi")}));
        assert_eq!(without.len(), rest.len());
    }

    #[test]
    fn a_streamed_tool_call_spells_the_arguments_in_pieces() {
        let tools = json!([{"type": "function", "function": {"name": "get_weather",
                            "parameters": {"type": "object"}}}]);
        let chunks = streamed(
            &json!({"model": "gpt-4o-mini", "stream": true, "tools": tools,
                                      "messages": user("Weather in Paris?")}),
        );
        assert_eq!(
            chunks[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0,
                   "id": "call_mock1", "type": "function",
                   "function": {"name": "get_weather", "arguments": ""}}]})
        );
        let (last, middle) = chunks[1..].split_last().expect("more chunks");
        let mut arguments = String::new();
        for chunk in middle {
            let delta = &chunk["choices"][0]["delta"];
            assert_eq!(delta["tool_calls"][0]["index"], 0);
            assert_eq!(delta.as_object().map(Map::len), Some(1), "{delta}");
            let piece = delta["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .expect("an arguments delta");
            assert!(piece.len() <= 4, "{piece:?}");
            arguments.push_str(piece);
        }
        assert_eq!(arguments, r#"{"city": "Paris"}"#);
        assert_eq!(last["choices"][0]["finish_reason"], "tool_calls");

        // After the tool's result the answer is text again.
        let follow_up = streamed(&json!({"model": "m", "stream": true, "tools": tools,
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_mock1",
                 "type": "function", "function": {"name": "get_weather",
                 "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_mock1", "content": "21"}]}));
        assert_eq!(
            follow_up.last().expect("stop")["choices"][0]["finish_reason"],
            "stop"
        );
    }

    #[test]
    fn an_unstreamed_tool_call_matches_the_streamed_one() {
        let req = openai_request(&json!({"model": "m", "messages": user("Weather?"),
            "tools": [{"type": "function", "function": {"name": "get_weather"}}]}));
        let Answer::Json(body) = answer(&Provider::OpenAi, &req, SystemTime::now()).expect("valid")
        else {
            panic!("not streamed");
        };
        let choice = &body["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["tool_calls"][0]["id"], "call_mock1");
        assert_eq!(
            choice["message"]["tool_calls"][0]["function"]["arguments"],
            r#"{"city": "Paris"}"#
        );
    }

    #[test]
    fn azure_streams_with_its_deployment_as_the_model() {
        let mut req = openai_request(&json!({"stream": true, "messages": user("hi")}));
        req.path = "/openai/deployments/dep-1/chat/completions".to_owned();
        req.query = Some("api-version=2024-10-21".to_owned());
        req.headers.remove("authorization");
        req.headers
            .insert("api-key", HeaderValue::from_static("azure-key"));
        let provider = provider_route(&req.path).expect("routes");
        let Answer::Events(events) = answer(&provider, &req, SystemTime::now()).expect("valid")
        else {
            panic!("streamed");
        };
        let chunks = payloads(&events);
        let text: String = chunks
            .iter()
            .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(text, "Hello from azure-openai");
        assert!(chunks.iter().all(|chunk| chunk["model"] == "dep-1"));
    }

    #[test]
    fn stream_fields_are_checked() {
        let status = |body: Value| {
            answer(&Provider::OpenAi, &openai_request(&body), SystemTime::now())
                .err()
                .map(|err| err.status.as_u16())
        };
        assert_eq!(
            status(json!({"model": "m", "stream": "yes", "messages": user("hi")})),
            Some(400)
        );
        assert_eq!(
            status(
                json!({"model": "m", "stream_options": {"include_usage": true},
                          "messages": user("hi")})
            ),
            Some(400)
        );
        assert_eq!(
            status(
                json!({"model": "m", "stream": true, "stream_options": {"include_usage": 1},
                          "messages": user("hi")})
            ),
            Some(400)
        );
        assert_eq!(
            status(json!({"model": "m", "tools": [{"type": "function"}], "messages": user("hi")})),
            Some(400)
        );
        assert_eq!(
            status(json!({"model": "m", "stream": false, "messages": user("hi")})),
            None
        );
    }

    fn reply_of(reply: Value) -> Result<Reply, String> {
        parse_reply(&reply)
    }

    #[test]
    fn stream_scripts_parse() {
        let reply = reply_of(
            json!({"stream": {"chunks": ["data: a", "\n\n"], "delay_ms": 5,
                                               "then": "close"}}),
        )
        .expect("valid");
        assert_eq!(
            reply.stream,
            Some(StreamScript {
                chunks: vec![Bytes::from("data: a"), Bytes::from("\n\n")],
                delay: Duration::from_millis(5),
                then: StreamEnd::Close,
            })
        );
        let split = reply_of(json!({"stream": {"chunks": ["data: H", {"base64": "w6k="}]}}))
            .expect("valid");
        assert_eq!(
            split.stream.map(|s| s.chunks),
            Some(vec![
                Bytes::from("data: H"),
                Bytes::from_static(&[0xc3, 0xa9])
            ])
        );
        let plain = reply_of(json!({"stream": {"chunks": []}})).expect("valid");
        assert_eq!(plain.stream.map(|s| s.then), Some(StreamEnd::End));
        for bad in [
            json!({"stream": {"chunks": "data: x"}}),
            json!({"stream": {"chunks": [1]}}),
            json!({"stream": {"chunks": [{"base64": "%%"}]}}),
            json!({"stream": {"chunks": [{"hex": "c3"}]}}),
            json!({"stream": {"chunks": [], "then": "later"}}),
            json!({"stream": {"chunks": [], "delay": 5}}),
            json!({"stream": {"chunks": []}, "close": true}),
            json!({"stream": {"chunks": []}, "body": "x"}),
        ] {
            assert!(reply_of(bad.clone()).is_err(), "{bad}");
        }
    }

    /// Polls a body to its end: the data chunks in order, and whether it ended with an error.
    async fn drain(mut body: StreamBody) -> (Vec<Bytes>, bool) {
        let mut chunks = Vec::new();
        loop {
            let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
            match frame {
                None => return (chunks, false),
                Some(Err(_)) => return (chunks, true),
                Some(Ok(frame)) => chunks.push(frame.into_data().expect("a data frame")),
            }
        }
    }

    fn script_of(chunks: &[&'static str], delay_ms: u64, then: StreamEnd) -> StreamScript {
        StreamScript {
            chunks: chunks
                .iter()
                .map(|c| Bytes::from_static(c.as_bytes()))
                .collect(),
            delay: Duration::from_millis(delay_ms),
            then,
        }
    }

    #[tokio::test]
    async fn a_stream_body_hands_out_each_chunk_and_then_ends_or_breaks() {
        let started = Instant::now();
        let (chunks, failed) = drain(StreamBody::new(script_of(
            &["data: {\"a\"", ":1}\r\n\r\n", ": keep-alive\n\n"],
            20,
            StreamEnd::End,
        )))
        .await;
        assert_eq!(chunks, ["data: {\"a\"", ":1}\r\n\r\n", ": keep-alive\n\n"]);
        assert!(!failed);
        assert!(started.elapsed() >= Duration::from_millis(40), "two delays");

        let (chunks, failed) = drain(StreamBody::new(script_of(
            &["data: x\n\n"],
            0,
            StreamEnd::Close,
        )))
        .await;
        assert_eq!(chunks, ["data: x\n\n"]);
        assert!(failed);
    }

    #[tokio::test]
    async fn a_stalled_stream_sends_nothing_more() {
        let mut body = StreamBody::new(script_of(&["data: x\n\n"], 0, StreamEnd::Stall));
        let first = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        assert!(matches!(first, Some(Ok(_))));
        let next = tokio::time::timeout(
            Duration::from_millis(100),
            std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)),
        )
        .await;
        assert!(next.is_err(), "nothing within 100 ms");
    }

    #[test]
    fn the_body_is_pending_once_after_each_chunk() {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut body = StreamBody::new(script_of(&["a", "b"], 0, StreamEnd::End));
        let mut poll = || Pin::new(&mut body).poll_frame(&mut cx);
        assert!(matches!(poll(), Poll::Ready(Some(Ok(_)))));
        assert!(poll().is_pending());
        assert!(matches!(poll(), Poll::Ready(Some(Ok(_)))));
        assert!(poll().is_pending());
        assert!(matches!(poll(), Poll::Ready(None)));
    }
}
