//! Load generator for `bench/load.sh` and `bench/isolation.sh`. Three modes:
//! - `loadgen mock`: a fast mock OpenAI upstream on a loopback port; prints `mock listening on URL`.
//! - `loadgen run --direct URL --agent URL [--concurrency 1,8,32] [--seconds 5]`: sends the same chat
//!   completion to the mock directly and through the agent at each concurrency, and prints p50/p99 and
//!   requests/s of both plus the latency the agent adds.
//! - `loadgen isolation --agent URL [--concurrency 8] [--seconds 5] [--large-workers 2]
//!   [--large-bytes 1000000]`: p50/p99 of small chat completions through the agent alone, then while
//!   `--large-workers` clients keep sending prompts of `--large-bytes` bytes of text.
//! - `loadgen proxy --direct URL --chat URL --proxy URL [--concurrency 1,8] [--seconds 5]`: the same
//!   question to the mock directly, through the agent's OpenAI endpoint, and through Proxy Mode
//!   (agent, then orchestrator, then mock); the hop to the orchestrator is Proxy Mode minus the
//!   OpenAI endpoint.
//! - `loadgen stream --direct URL --agent URL [--concurrency 1,8] [--seconds 5]`: streamed chat
//!   completions (the mock streams `STREAM_EVENTS` content events): time to the first content event
//!   and to the end, direct and through the agent, and what the agent adds to each.
//! - `loadgen hold --agent URL [--streams 1000] [--seconds 10]`: holds that many slow streams open at
//!   once through the agent (the mock sends an event every 100 ms), printing `holding N streams`
//!   once all are open, so the script can read the agent's memory.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Router;
use bytes::Bytes;

const COMPLETION: &str = r#"{"id":"chatcmpl-load","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"4"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":14,"completion_tokens":7,"total_tokens":21}}"#;

const REQUEST: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant for an e-commerce support team. Answer briefly."},{"role":"user","content":"Hi! I ordered a blue jacket last week and it has not arrived yet. Can you tell me what the usual delivery time is, and how I can track the parcel? Thanks a lot."}],"max_tokens":100}"#;

struct Stats {
    n_ok: usize,
    p50: Duration,
    p99: Duration,
    rps: f64,
    n_errors: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The provider key sent with each request; `None`: the agent routes with its stored keys.
const KEY: Option<&str> = Some("sk-load-test");

async fn measure(client: &reqwest::Client, url: &str, concurrency: usize, seconds: f64) -> Stats {
    measure_keyed(client, url, concurrency, seconds, KEY).await
}

async fn measure_keyed(
    client: &reqwest::Client,
    url: &str,
    concurrency: usize,
    seconds: f64,
    key: Option<&'static str>,
) -> Stats {
    measure_body(
        client,
        url,
        concurrency,
        seconds,
        Bytes::from_static(REQUEST.as_bytes()),
        key,
    )
    .await
}

async fn measure_body(
    client: &reqwest::Client,
    url: &str,
    concurrency: usize,
    seconds: f64,
    body: Bytes,
    key: Option<&'static str>,
) -> Stats {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let url = url.to_owned();
        let stop = stop.clone();
        let body = body.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n_errors = 0;
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let mut request = client.post(&url).header("content-type", "application/json");
                if let Some(key) = key {
                    request = request.header("x-provider-key", key);
                }
                let result = request.body(body.clone()).send().await;
                match result {
                    Ok(response) if response.status().is_success() => {
                        if response.bytes().await.is_ok() {
                            latencies.push(sent.elapsed());
                        } else {
                            n_errors += 1;
                        }
                    }
                    _ => n_errors += 1,
                }
            }
            (latencies, n_errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut n_errors = 0;
    for worker in workers {
        if let Ok((latencies, errors)) = worker.await {
            all.extend(latencies);
            n_errors += errors;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    Stats {
        n_ok: all.len(),
        p50: percentile(&all, 50.0),
        p99: percentile(&all, 99.0),
        rps: all.len() as f64 / elapsed,
        n_errors,
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// Content events of a streamed mock answer.
const STREAM_EVENTS: usize = 20;

/// The mock's streamed answer: `STREAM_EVENTS` content events of one word, the finish, usage when
/// asked, `[DONE]`. A model named `slow` sends 100 content events 100 ms apart.
fn stream_answer(request: &serde_json::Value) -> axum::response::Response {
    let slow = request["model"] == "slow";
    let usage = request
        .pointer("/stream_options/include_usage")
        .and_then(serde_json::Value::as_bool)
        == Some(true);
    let chunk = |delta: serde_json::Value, finish: serde_json::Value| {
        let chunk = serde_json::json!({"id": "chatcmpl-load", "object": "chat.completion.chunk",
            "created": 1700000000, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]});
        Bytes::from(format!("data: {chunk}\n\n"))
    };
    let mut events = vec![chunk(
        serde_json::json!({"role": "assistant", "content": ""}),
        serde_json::Value::Null,
    )];
    // A slow stream lasts about ten seconds.
    let n_events = if slow { 100 } else { STREAM_EVENTS };
    for i in 0..n_events {
        events.push(chunk(
            serde_json::json!({"content": format!("word{i} ")}),
            serde_json::Value::Null,
        ));
    }
    events.push(chunk(serde_json::json!({}), serde_json::json!("stop")));
    if usage {
        let usage = serde_json::json!({"id": "chatcmpl-load", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "gpt-4o-mini", "choices": [], "usage": {"prompt_tokens": 14, "completion_tokens": 20, "total_tokens": 34}});
        events.push(Bytes::from(format!("data: {usage}\n\n")));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    let body = futures_util::stream::unfold(events.into_iter(), move |mut events| async move {
        let event = events.next()?;
        if slow {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Some((Ok::<_, std::convert::Infallible>(event), events))
    });
    axum::response::Response::builder()
        .header("content-type", "text/event-stream")
        .body(axum::body::Body::from_stream(body))
        .unwrap_or_default()
}

async fn mock_answer(body: Bytes) -> axum::response::Response {
    use axum::response::IntoResponse;
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(request) if request["stream"] == true => stream_answer(&request),
        _ => ([("content-type", "application/json")], COMPLETION).into_response(),
    }
}

async fn serve_mock() {
    // The body is read whole, as a provider would, before the answer.
    let app = Router::new()
        .route("/v1/chat/completions", post(mock_answer))
        // An OTLP/HTTP trace receiver that accepts and forgets, for the traced bench.
        .route("/v1/traces", post(|_body: Bytes| async { "" }))
        .layer(axum::extract::DefaultBodyLimit::max(16 * 1024 * 1024));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind mock");
    let address = listener.local_addr().expect("address");
    println!("mock listening on http://{address}/v1");
    axum::serve(
        axonflow_platform::http::listener_without_delay(listener),
        app,
    )
    .await
    .expect("mock serves");
}

/// `--seconds` per level (default 5).
fn seconds(args: &[String]) -> f64 {
    arg(args, "--seconds").map_or(5.0, |s| s.parse().expect("--seconds is a number"))
}

/// `--concurrency` as a list of levels, `default` when absent.
fn levels(args: &[String], default: &str) -> Vec<usize> {
    arg(args, "--concurrency")
        .unwrap_or_else(|| default.to_owned())
        .split(',')
        .map(|c| {
            c.trim()
                .parse()
                .expect("--concurrency is a list of numbers")
        })
        .collect()
}

/// One client with enough idle connections for the highest level.
fn load_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client")
}

async fn run(args: &[String]) {
    let direct = arg(args, "--direct").expect("--direct URL of the mock's chat completions");
    let agent = arg(args, "--agent").expect("--agent URL of the agent's chat completions");
    let seconds = seconds(args);
    let levels = levels(args, "1,8,32");
    // `--routed`: no provider key, so the agent routes through the tenant's registered provider.
    let agent_key = if args.iter().any(|a| a == "--routed") {
        None
    } else {
        KEY
    };
    let client = load_client();
    // Warm up connections and caches on both paths.
    measure(&client, &direct, 4, 1.0).await;
    let mut answered = measure_keyed(&client, &agent, 4, 1.0, agent_key).await.n_ok;
    println!(
        "{:>11} | {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9} | {:>10} {:>10} | errors",
        "concurrency",
        "direct50",
        "direct99",
        "direct/s",
        "agent50",
        "agent99",
        "agent/s",
        "added p50",
        "added p99"
    );
    for concurrency in levels {
        let baseline = measure(&client, &direct, concurrency, seconds).await;
        let through = measure_keyed(&client, &agent, concurrency, seconds, agent_key).await;
        answered += through.n_ok;
        println!(
            "{:>11} | {:>7.3}ms {:>7.3}ms {:>9.0} | {:>7.3}ms {:>7.3}ms {:>9.0} | {:>8.3}ms {:>8.3}ms | {}",
            concurrency,
            ms(baseline.p50),
            ms(baseline.p99),
            baseline.rps,
            ms(through.p50),
            ms(through.p99),
            through.rps,
            ms(through.p50) - ms(baseline.p50),
            ms(through.p99) - ms(baseline.p99),
            baseline.n_errors + through.n_errors
        );
    }
    // Every answered call through the agent is one audit row; the load script compares.
    println!("answered by the agent: {answered}");
}

/// A benign prompt of about `n_bytes` bytes of text (support-chat prose, repeated).
fn large_request(n_bytes: usize) -> Bytes {
    const SENTENCE: &str =
        "We upgraded the app to version 2.4.1 on March 3rd and since then the export \
                            of the quarterly report is slow; please summarise the attached notes. ";
    let text: String = SENTENCE.repeat(n_bytes / SENTENCE.len() + 1)[..n_bytes].to_owned();
    let body = serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]});
    Bytes::from(body.to_string())
}

async fn isolation(args: &[String]) {
    let agent = arg(args, "--agent").expect("--agent URL of the agent's chat completions");
    let seconds = seconds(args);
    let concurrency: usize =
        arg(args, "--concurrency").map_or(8, |c| c.parse().expect("--concurrency is a number"));
    let large_workers: usize =
        arg(args, "--large-workers").map_or(2, |c| c.parse().expect("--large-workers is a number"));
    let large_bytes: usize = arg(args, "--large-bytes")
        .map_or(1_000_000, |c| c.parse().expect("--large-bytes is a number"));
    let client = load_client();
    let warm_up = measure(&client, &agent, 4, 1.0).await.n_ok;
    let alone = measure(&client, &agent, concurrency, seconds).await;
    let large = measure_body(
        &client,
        &agent,
        large_workers,
        seconds + 1.0,
        large_request(large_bytes),
        KEY,
    );
    let small = async {
        // The large prompts are under way before the small ones are timed.
        tokio::time::sleep(Duration::from_millis(500)).await;
        measure(&client, &agent, concurrency, seconds).await
    };
    let (large, with_large) = tokio::join!(large, small);
    println!(
        "{:>34} | {:>9} {:>9} {:>9} | {:>9} | errors",
        "small requests", "p50", "p99", "req/s", "large/s"
    );
    for (name, stats, large_rps) in [
        ("alone".to_owned(), &alone, 0.0),
        (
            format!("with {large_workers} x {large_bytes} B prompts"),
            &with_large,
            large.rps,
        ),
    ] {
        println!(
            "{:>34} | {:>7.3}ms {:>7.3}ms {:>9.0} | {:>9.1} | {}",
            name,
            ms(stats.p50),
            ms(stats.p99),
            stats.rps,
            large_rps,
            stats.n_errors + if large_rps > 0.0 { large.n_errors } else { 0 }
        );
    }
    println!(
        "answered by the agent: {}",
        warm_up + alone.n_ok + with_large.n_ok + large.n_ok
    );
}

const PROXY_REQUEST: &str = r#"{"query":"Hi! I ordered a blue jacket last week and it has not arrived yet. Can you tell me what the usual delivery time is?","user_token":"load-user","client_id":"load","request_type":"chat","context":{}}"#;

async fn proxy_hop(args: &[String]) {
    let direct = arg(args, "--direct").expect("--direct URL of the mock's chat completions");
    let chat = arg(args, "--chat").expect("--chat URL of the agent's chat completions");
    let proxy = arg(args, "--proxy").expect("--proxy URL of the agent's /api/request");
    let seconds = seconds(args);
    let levels = levels(args, "1,8");
    let client = load_client();
    let proxy_body = Bytes::from_static(PROXY_REQUEST.as_bytes());
    measure(&client, &direct, 4, 1.0).await;
    let mut answered = measure(&client, &chat, 4, 1.0).await.n_ok;
    answered += measure_body(&client, &proxy, 4, 1.0, proxy_body.clone(), KEY)
        .await
        .n_ok;
    println!(
        "{:>11} | {:>9} {:>9} | {:>9} {:>9} | {:>9} {:>9} {:>8} | {:>9} {:>9} | errors",
        "concurrency",
        "direct50",
        "direct99",
        "openai50",
        "openai99",
        "proxy50",
        "proxy99",
        "proxy/s",
        "hop p50",
        "hop p99"
    );
    for concurrency in levels {
        let baseline = measure(&client, &direct, concurrency, seconds).await;
        let through = measure(&client, &chat, concurrency, seconds).await;
        let proxied = measure_body(
            &client,
            &proxy,
            concurrency,
            seconds,
            proxy_body.clone(),
            KEY,
        )
        .await;
        answered += through.n_ok + proxied.n_ok;
        println!(
            "{:>11} | {:>7.3}ms {:>7.3}ms | {:>7.3}ms {:>7.3}ms | {:>7.3}ms {:>7.3}ms {:>8.0} | {:>7.3}ms {:>7.3}ms | {}",
            concurrency,
            ms(baseline.p50),
            ms(baseline.p99),
            ms(through.p50),
            ms(through.p99),
            ms(proxied.p50),
            ms(proxied.p99),
            proxied.rps,
            ms(proxied.p50) - ms(through.p50),
            ms(proxied.p99) - ms(through.p99),
            baseline.n_errors + through.n_errors + proxied.n_errors
        );
    }
    println!("answered by the agent: {answered}");
}

/// Times of one streamed call: to the first content event and to the end.
struct StreamTimes {
    first: Vec<Duration>,
    total: Vec<Duration>,
    n_errors: usize,
}

/// Streams the same request back to back from `concurrency` workers for `seconds`.
async fn measure_streams(
    client: &reqwest::Client,
    url: &str,
    concurrency: usize,
    seconds: f64,
    model: &'static str,
) -> StreamTimes {
    let stop = Arc::new(AtomicBool::new(false));
    let body = {
        let mut request: serde_json::Value = serde_json::from_str(REQUEST).expect("request");
        request["stream"] = serde_json::Value::Bool(true);
        request["model"] = serde_json::Value::from(model);
        Bytes::from(request.to_string())
    };
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, url, stop, body) =
            (client.clone(), url.to_owned(), stop.clone(), body.clone());
        workers.push(tokio::spawn(async move {
            let mut times = StreamTimes {
                first: Vec::new(),
                total: Vec::new(),
                n_errors: 0,
            };
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-provider-key", "sk-load-test")
                    .body(body.clone())
                    .send()
                    .await;
                let Ok(mut response) = response.map_err(|_| ()).and_then(|r| {
                    if r.status().is_success() {
                        Ok(r)
                    } else {
                        Err(())
                    }
                }) else {
                    times.n_errors += 1;
                    continue;
                };
                let mut first = None;
                let mut seen = Vec::new();
                let mut ok = true;
                loop {
                    match response.chunk().await {
                        Ok(Some(bytes)) => {
                            seen.extend_from_slice(&bytes);
                            // The role chunk's empty content does not count: a word must be there.
                            if first.is_none() && seen.windows(4).any(|w| w == b"word") {
                                first = Some(sent.elapsed());
                            }
                        }
                        Ok(None) => break,
                        Err(_) => {
                            ok = false;
                            break;
                        }
                    }
                }
                match (ok, first) {
                    (true, Some(first)) if seen.ends_with(b"data: [DONE]\n\n") => {
                        times.first.push(first);
                        times.total.push(sent.elapsed());
                    }
                    _ => times.n_errors += 1,
                }
            }
            times
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = StreamTimes {
        first: Vec::new(),
        total: Vec::new(),
        n_errors: 0,
    };
    for worker in workers {
        if let Ok(times) = worker.await {
            all.first.extend(times.first);
            all.total.extend(times.total);
            all.n_errors += times.n_errors;
        }
    }
    all.first.sort_unstable();
    all.total.sort_unstable();
    all
}

async fn streams(args: &[String]) {
    let direct = arg(args, "--direct").expect("--direct URL of the mock's chat completions");
    let agent = arg(args, "--agent").expect("--agent URL of the agent's chat completions");
    let seconds = seconds(args);
    let client = load_client();
    measure_streams(&client, &direct, 2, 1.0, "gpt-4o-mini").await;
    let mut answered = measure_streams(&client, &agent, 2, 1.0, "gpt-4o-mini")
        .await
        .total
        .len();
    println!(
        "{:>11} | {:>10} {:>10} | {:>10} {:>10} | {:>14} {:>14} | {:>15} | errors",
        "concurrency",
        "direct ttfe",
        "agent ttfe",
        "direct end",
        "agent end",
        "added ttfe p50",
        "added ttfe p99",
        "added per event"
    );
    for concurrency in levels(args, "1,8") {
        let base = measure_streams(&client, &direct, concurrency, seconds, "gpt-4o-mini").await;
        let through = measure_streams(&client, &agent, concurrency, seconds, "gpt-4o-mini").await;
        answered += through.total.len();
        let p = |v: &[Duration], q: f64| ms(percentile(v, q));
        // What the agent adds to the whole stream, spread over its events (first one excluded).
        let per_event_us = (p(&through.total, 50.0)
            - p(&through.first, 50.0)
            - (p(&base.total, 50.0) - p(&base.first, 50.0)))
            * 1000.0
            / STREAM_EVENTS as f64;
        println!(
            "{:>11} | {:>8.3}ms {:>8.3}ms | {:>8.3}ms {:>8.3}ms | {:>12.3}ms {:>12.3}ms | {:>13.1}us | {}",
            concurrency,
            p(&base.first, 50.0),
            p(&through.first, 50.0),
            p(&base.total, 50.0),
            p(&through.total, 50.0),
            p(&through.first, 50.0) - p(&base.first, 50.0),
            p(&through.first, 99.0) - p(&base.first, 99.0),
            per_event_us,
            base.n_errors + through.n_errors
        );
    }
    println!("answered by the agent: {answered}");
}

/// Holds `--streams` slow streams open through the agent for `--seconds`.
async fn hold(args: &[String]) {
    let agent = arg(args, "--agent").expect("--agent URL of the agent's chat completions");
    let n_streams: usize =
        arg(args, "--streams").map_or(1000, |n| n.parse().expect("--streams is a number"));
    let seconds = seconds(args);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(n_streams)
        .build()
        .expect("client");
    let mut request: serde_json::Value = serde_json::from_str(REQUEST).expect("request");
    request["stream"] = serde_json::Value::Bool(true);
    request["model"] = serde_json::Value::from("slow");
    let body = Bytes::from(request.to_string());
    let opened = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut streams = Vec::new();
    for _ in 0..n_streams {
        let (client, agent, body, opened) =
            (client.clone(), agent.clone(), body.clone(), opened.clone());
        streams.push(tokio::spawn(async move {
            let Ok(mut response) = client
                .post(&agent)
                .header("content-type", "application/json")
                .header("x-provider-key", "sk-load-test")
                .body(body)
                .send()
                .await
            else {
                return false;
            };
            let first = response.chunk().await;
            opened.fetch_add(1, Ordering::Relaxed);
            if !matches!(first, Ok(Some(_))) {
                return false;
            }
            // Read slowly: one event at a time, as a client rendering tokens would.
            while let Ok(Some(_)) = response.chunk().await {}
            true
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while opened.load(Ordering::Relaxed) < n_streams && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("holding {} streams", opened.load(Ordering::Relaxed));
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let mut completed = 0;
    for stream in streams {
        if let Ok(true) = stream.await {
            completed += 1;
        }
    }
    println!("streams completed: {completed}");
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("mock") => serve_mock().await,
        Some("run") => run(&args).await,
        Some("isolation") => isolation(&args).await,
        Some("proxy") => proxy_hop(&args).await,
        Some("stream") => streams(&args).await,
        Some("hold") => hold(&args).await,
        _ => eprintln!(
            "usage: loadgen mock | loadgen run --direct URL --agent URL [--concurrency 1,8,32] [--seconds 5] \
             | loadgen isolation --agent URL [--concurrency 8] [--seconds 5] [--large-workers 2] [--large-bytes 1000000] \
             | loadgen proxy --direct URL --chat URL --proxy URL [--concurrency 1,8] [--seconds 5] \
             | loadgen stream --direct URL --agent URL [--concurrency 1,8] [--seconds 5] \
             | loadgen hold --agent URL [--streams 1000] [--seconds 10]"
        ),
    }
}
