//! The floor any Rust gateway pays on this stack: `POST /v1/chat/completions` forwarded with
//! reqwest to `UPSTREAM/chat/completions`, the authorization header and body passed on, the status,
//! content type and body passed back. No policy, no audit, no log line: whatever the agent adds on
//! top of this in `bench/side-by-side.sh` is the cost of governing the call.
//!
//!   UPSTREAM=http://127.0.0.1:9000/v1 PORT=9100 bare-forwarder

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

#[derive(Clone)]
struct Forward {
    client: reqwest::Client,
    url: String,
}

async fn chat(State(forward): State<Forward>, headers: HeaderMap, body: Bytes) -> Response {
    let mut request = forward
        .client
        .post(&forward.url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(authorization) = headers.get(header::AUTHORIZATION) {
        request = request.header(header::AUTHORIZATION, authorization);
    }
    let upstream = match request.send().await {
        Ok(upstream) => upstream,
        Err(_) => return StatusCode::BAD_GATEWAY.into_response(),
    };
    let status = upstream.status();
    let content_type = upstream.headers().get(header::CONTENT_TYPE).cloned();
    match upstream.bytes().await {
        Ok(answer) => {
            let mut response = (status, answer).into_response();
            if let Some(content_type) = content_type {
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, content_type);
            }
            response
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let upstream =
        std::env::var("UPSTREAM").map_err(|_| "UPSTREAM (the mock's /v1 URL) is required")?;
    let port: u16 = std::env::var("PORT").map_or(Ok(9100), |port| port.parse())?;
    let forward = Forward {
        client: reqwest::Client::new(),
        url: format!("{}/chat/completions", upstream.trim_end_matches('/')),
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(forward);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "bare forwarder listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}
