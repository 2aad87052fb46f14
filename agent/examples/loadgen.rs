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

async fn serve_mock() {
    // The body is read whole, as a provider would, before the answer.
    let app = Router::new()
        .route(
            "/v1/chat/completions",
            post(|_body: Bytes| async { ([("content-type", "application/json")], COMPLETION) }),
        )
        .layer(axum::extract::DefaultBodyLimit::max(16 * 1024 * 1024));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind mock");
    let address = listener.local_addr().expect("address");
    println!("mock listening on http://{address}/v1");
    axum::serve(listener, app).await.expect("mock serves");
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

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("mock") => serve_mock().await,
        Some("run") => run(&args).await,
        Some("isolation") => isolation(&args).await,
        Some("proxy") => proxy_hop(&args).await,
        _ => eprintln!(
            "usage: loadgen mock | loadgen run --direct URL --agent URL [--concurrency 1,8,32] [--seconds 5] \
             | loadgen isolation --agent URL [--concurrency 8] [--seconds 5] [--large-workers 2] [--large-bytes 1000000] \
             | loadgen proxy --direct URL --chat URL --proxy URL [--concurrency 1,8] [--seconds 5]"
        ),
    }
}
