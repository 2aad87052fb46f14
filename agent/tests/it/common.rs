//! Test harness: fresh databases, a recording mock upstream, and the agent process.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use sqlx::{Connection, Executor, PgConnection, PgPool};

/// The provider key used by tests; asserted never to reach the database or a log.
pub const PROVIDER_KEY: &str = "sk-test-PROVIDERKEY-7f3a9c2e5b1d";

pub fn admin_database_url() -> String {
    std::env::var("DATABASE_URL")
        .expect("DATABASE_URL must point at a Postgres server (./install/test.sh sets it)")
}

/// `url` with its database name replaced.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let slash = base.rfind('/').expect("database URL has a path");
    let mut out = format!("{}/{}", &base[..slash], database);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Creates an empty database and returns its URL.
pub async fn fresh_database() -> String {
    let admin = admin_database_url();
    let name = format!("axonflow_it_{}", uuid::Uuid::new_v4().simple());
    let mut connection = PgConnection::connect(&admin)
        .await
        .expect("connect to the admin database");
    connection
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create test database");
    with_database(&admin, &name)
}

/// What the mock upstream answers.
#[derive(Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    pub fn completion() -> Reply {
        Reply {
            status: StatusCode::OK,
            body: r#"{"id":"chatcmpl-test","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"4"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":14,"completion_tokens":7,"total_tokens":21}}"#.to_owned(),
            delay: Duration::ZERO,
        }
    }

    pub fn status(status: StatusCode, body: &str) -> Reply {
        Reply {
            status,
            body: body.to_owned(),
            delay: Duration::ZERO,
        }
    }
}

/// One request the mock upstream received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Clone)]
struct MockState {
    reply: Reply,
    received: Arc<Mutex<Vec<Received>>>,
}

/// A mock OpenAI upstream on a loopback port, recording every request.
pub struct MockUpstream {
    pub address: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    _server: tokio::task::JoinHandle<()>,
}

/// Largest body the mock takes; longer ones get 413, as a provider would answer.
const MOCK_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// What OpenAI's API reference requires of `POST /v1/chat/completions`: a bearer key, a JSON object
/// body with a non-empty `model` string and a non-empty `messages` array of objects with a string
/// `role`. `Err` holds the status and error body OpenAI answers.
fn validate_chat_request(headers: &HeaderMap, body: &[u8]) -> Result<(), (StatusCode, String)> {
    let openai_error = |status: StatusCode, message: &str, code: &str| {
        let body = serde_json::json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}});
        (status, body.to_string())
    };
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|key| !key.is_empty());
    if bearer.is_none() {
        return Err(openai_error(
            StatusCode::UNAUTHORIZED,
            "You didn't provide an API key.",
            "invalid_api_key",
        ));
    }
    let json: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
        openai_error(
            StatusCode::BAD_REQUEST,
            "We could not parse the JSON body of your request.",
            "invalid_json",
        )
    })?;
    let model_ok = json["model"].as_str().is_some_and(|m| !m.is_empty());
    let messages_ok = json["messages"].as_array().is_some_and(|messages| {
        !messages.is_empty() && messages.iter().all(|m| m["role"].is_string())
    });
    if !model_ok || !messages_ok {
        return Err(openai_error(
            StatusCode::BAD_REQUEST,
            "model and messages are required.",
            "invalid_request",
        ));
    }
    Ok(())
}

async fn mock_handler(
    State(state): State<MockState>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let valid = validate_chat_request(&headers, &body);
    state.received.lock().expect("lock").push(Received {
        path: uri.path().to_owned(),
        headers,
        body,
    });
    if let Err((status, error)) = valid {
        return (status, [("content-type", "application/json")], error).into_response();
    }
    if !state.reply.delay.is_zero() {
        tokio::time::sleep(state.reply.delay).await;
    }
    (
        state.reply.status,
        [
            ("content-type", "application/json"),
            ("x-request-id", "req_mock_1"),
        ],
        state.reply.body,
    )
        .into_response()
}

impl MockUpstream {
    pub async fn start(reply: Reply) -> MockUpstream {
        let received = Arc::new(Mutex::new(Vec::new()));
        let state = MockState {
            reply,
            received: received.clone(),
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(mock_handler))
            .layer(axum::extract::DefaultBodyLimit::max(MOCK_BODY_LIMIT))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind mock upstream");
        let address = listener.local_addr().expect("mock address");
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("mock upstream serves");
        });
        MockUpstream {
            address,
            received,
            _server: server,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }
}

/// A running agent process; killed on drop.
pub struct Agent {
    child: Child,
    pub base_url: String,
    pub database_url: String,
    pub log_path: PathBuf,
}

fn log_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("agent-logs");
    std::fs::create_dir_all(&dir).expect("create log dir");
    dir
}

impl Agent {
    /// Starts the agent on `database_url` with the given extra environment and waits until it listens.
    pub fn start(database_url: &str, env: &[(&str, &str)]) -> Agent {
        Agent::start_binary(
            std::path::Path::new(env!("CARGO_BIN_EXE_axonflow-agent")),
            "agent",
            database_url,
            env,
        )
    }

    /// The orchestrator binary (built beside the agent by `cargo build --workspace --bins`).
    pub fn start_orchestrator(database_url: &str, env: &[(&str, &str)]) -> Agent {
        let binary = std::path::Path::new(env!("CARGO_BIN_EXE_axonflow-agent"))
            .with_file_name("axonflow-orchestrator");
        assert!(
            binary.exists(),
            "{} is missing: run cargo build --workspace --bins first (./install/test.sh does)",
            binary.display()
        );
        Agent::start_binary(&binary, "orchestrator", database_url, env)
    }

    /// Starts `binary` on `database_url` with the given extra environment and waits until it
    /// listens.
    pub fn start_binary(
        binary: &std::path::Path,
        name: &str,
        database_url: &str,
        env: &[(&str, &str)],
    ) -> Agent {
        let log_path = log_dir().join(format!("{name}-{}.log", uuid::Uuid::new_v4().simple()));
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", database_url)
            .env("PORT", "0")
            .env("AXONFLOW_BIND_ADDRESS", "127.0.0.1")
            .env(
                "RUST_LOG",
                "debug,sqlx=warn,hyper=info,reqwest=info,h2=info",
            )
            .env(
                "AUDIT_FALLBACK_PATH",
                log_path.with_extension("fallback.jsonl"),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("spawn axonflow-agent");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (address_tx, address_rx) = std::sync::mpsc::channel::<String>();
        let log = Arc::new(Mutex::new(
            std::fs::File::create(&log_path).expect("create log file"),
        ));
        let stdout_log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some((_, address)) = line.split_once("listening on ") {
                    let _ = address_tx.send(address.trim().to_owned());
                }
                let _ = writeln!(stdout_log.lock().expect("lock"), "{line}");
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = writeln!(log.lock().expect("lock"), "{line}");
            }
        });
        let base_url = match address_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!("{name} did not start listening within 30 s; log:\n{log}");
            }
        };
        Agent {
            child,
            base_url,
            database_url: database_url.to_owned(),
            log_path,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub async fn pool(&self) -> PgPool {
        PgPool::connect(&self.database_url)
            .await
            .expect("connect to the agent's database")
    }

    /// The log so far. Ordinary lines reach standard output on the writer's next tick (20 ms):
    /// waited for, so that a line just logged is read too.
    pub fn log(&self) -> String {
        std::thread::sleep(Duration::from_millis(60));
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Stops the agent with SIGTERM so that it finishes in-flight work.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A mock upstream plus an agent pointed at it, on a fresh database.
pub async fn agent_with_upstream(reply: Reply, env: &[(&str, &str)]) -> (Agent, MockUpstream) {
    let upstream = MockUpstream::start(reply).await;
    let database_url = fresh_database().await;
    let base = upstream.base_url();
    let mut all_env = vec![("OPENAI_BASE_URL", base.as_str())];
    all_env.extend_from_slice(env);
    (Agent::start(&database_url, &all_env), upstream)
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// One unlabelled sample of the agent's `/metrics`; `None` when the agent does not answer or has
/// no such metric.
pub async fn metric(agent: &Agent, name: &str) -> Option<u64> {
    let text = client()
        .get(agent.url("/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines().find_map(|line| {
        line.strip_prefix(name)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// The agent's `/metrics` text.
pub async fn metrics_text(agent: &Agent) -> String {
    client()
        .get(agent.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

pub fn chat_body(content: &str) -> String {
    serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], "max_tokens": 100})
        .to_string()
}

/// Sends `body` (when given) as JSON and returns the status and the JSON answer (`Null` for an
/// empty body).
pub async fn call(
    agent: &Agent,
    method: reqwest::Method,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (StatusCode, serde_json::Value) {
    let mut request = client().request(method, agent.url(path));
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("agent answers");
    let status = response.status();
    let text = response.text().await.expect("body");
    let json = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path} answered non-JSON: {text}"))
    };
    (status, json)
}

pub async fn post_json(
    agent: &Agent,
    path: &str,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    call(agent, reqwest::Method::POST, path, Some(&body)).await
}

pub async fn get_json(agent: &Agent, path: &str) -> (StatusCode, serde_json::Value) {
    call(agent, reqwest::Method::GET, path, None).await
}

/// An AxonFlow-shaped error with this code.
#[track_caller]
pub fn assert_api_error(
    status: StatusCode,
    body: &serde_json::Value,
    expected: StatusCode,
    code: &str,
) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// RFC 3339 time `delay` from now.
pub fn rfc3339_in(delay: Duration) -> String {
    (chrono::Utc::now() + chrono::TimeDelta::from_std(delay).expect("small delay")).to_rfc3339()
}

impl Agent {
    /// SIGKILL: no shutdown work at all.
    pub fn kill_now(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits (up to `limit`) for the exit; returns whether it exited by itself.
    pub fn terminate_and_wait(&mut self, limit: Duration) -> bool {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

/// A private PostgreSQL cluster (provisioned by `install/lib.sh`) that a test may stop and start.
pub struct Cluster {
    dir: PathBuf,
    pub port: u16,
}

fn lib_sh(script: &str, args: &[&str]) -> std::process::Output {
    let lib = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../install/lib.sh");
    Command::new("bash")
        .arg("-c")
        .arg(format!("set -e; source {}; {script}", lib.display()))
        .arg("lib.sh")
        .args(args)
        .output()
        .expect("bash runs")
}

impl Cluster {
    pub fn start() -> Cluster {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("pg-{}", uuid::Uuid::new_v4().simple()));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let cluster = Cluster { dir, port };
        cluster.up();
        cluster
    }

    pub fn url(&self) -> String {
        format!("postgres://axonflow@127.0.0.1:{}/axonflow", self.port)
    }

    /// A new, empty database in this cluster, named after `prefix`: its URL.
    pub async fn fresh_database(&self, prefix: &str) -> String {
        let pool = PgPool::connect(&self.url()).await.expect("cluster");
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .expect("create database");
        pool.close().await;
        format!("postgres://axonflow@127.0.0.1:{}/{name}", self.port)
    }

    pub fn up(&self) {
        let port = self.port.to_string();
        let dir = self.dir.display().to_string();
        let output = lib_sh(
            "pg_cluster_start \"$1\" \"$2\" fsync=off synchronous_commit=off",
            &[&dir, &port],
        );
        assert!(
            output.status.success(),
            "cluster start: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    pub fn down(&self) {
        let dir = self.dir.display().to_string();
        let output = lib_sh("pg_cluster_stop \"$1\"", &[&dir]);
        assert!(
            output.status.success(),
            "cluster stop: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let dir = self.dir.display().to_string();
        let _ = lib_sh("pg_cluster_stop \"$1\"", &[&dir]);
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_dir_all(self.dir.with_extension("run"));
    }
}

/// The audit row of a decision (waiting up to 5 s: some rows are written when a stream ends), as
/// JSON: verdict, provider, model, status, tokens, cost and metadata.
pub async fn audit_row(agent: &Agent, decision_id: &str) -> serde_json::Value {
    let pool = agent.pool().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let row: Option<serde_json::Value> = sqlx::query_scalar(
            "SELECT json_build_object('verdict', verdict, 'provider', provider, 'model', model, \
             'http_status', http_status, 'prompt_tokens', prompt_tokens, \
             'completion_tokens', completion_tokens, 'total_tokens', total_tokens, \
             'estimated_cost_usd', estimated_cost_usd::float8, 'metadata', metadata) \
             FROM llm_call_audits WHERE id = $1::uuid",
        )
        .bind(decision_id)
        .fetch_optional(&pool)
        .await
        .expect("query audit");
        if let Some(row) = row {
            return row;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no audit row for {decision_id}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
