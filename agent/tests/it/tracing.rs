//! Trace export end to end: an OTLP/HTTP receiver on a loopback port decodes what the agent and
//! the orchestrator export, and the spans are checked: SERVER spans per deciding request with the
//! AxonFlow attributes, `traceparent` continued, the provider CLIENT span with the GenAI
//! attributes and its `traceparent` sent on, the agent -> orchestrator hop in one trace, and no
//! prompt, answer or key anywhere in the exported bytes. A receiver that is down costs nothing but
//! the dropped spans, counted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::json;

use crate::common::{
    client, fresh_database, metrics_text, Agent, MockUpstream, Reply, PROVIDER_KEY,
};
use crate::enterprise::SERVICE_SECRET;

/// An OTLP/HTTP trace receiver keeping every request body it got.
struct Receiver {
    url: String,
    bodies: Arc<Mutex<Vec<Bytes>>>,
}

async fn receiver() -> Receiver {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let kept = kept.clone();
            async move {
                kept.lock().expect("lock").push(body);
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver { url, bodies }
}

/// A span with its service.
struct Seen {
    service: String,
    span: Span,
}

fn spans(receiver: &Receiver) -> Vec<Seen> {
    let mut out = Vec::new();
    for body in receiver.bodies.lock().expect("lock").iter() {
        let request = ExportTraceServiceRequest::decode(body.as_ref()).expect("OTLP protobuf");
        for resource in request.resource_spans {
            let service = resource
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
                .and_then(|a| a.value.as_ref())
                .and_then(|v| match &v.value {
                    Some(AnyValue::StringValue(s)) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for scope in resource.scope_spans {
                for span in scope.spans {
                    out.push(Seen {
                        service: service.clone(),
                        span,
                    });
                }
            }
        }
    }
    out
}

fn attribute(span: &Span, key: &str) -> Option<AnyValue> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref())
        .and_then(|v| v.value.clone())
}

fn text(span: &Span, key: &str) -> Option<String> {
    match attribute(span, key) {
        Some(AnyValue::StringValue(s)) => Some(s),
        _ => None,
    }
}

/// Waits until `done` holds for the exported spans.
async fn wait_for(receiver: &Receiver, done: impl Fn(&[Seen]) -> bool) -> Vec<Seen> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = spans(receiver);
        if done(&seen) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "spans never arrived: {:?}",
            seen.iter()
                .map(|s| format!(
                    "{}:{}:{}:{}",
                    s.service,
                    s.span.name,
                    s.span.kind,
                    s.span
                        .trace_id
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<String>()
                ))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn deciding_requests_are_traced_without_any_text() {
    let receiver = receiver().await;
    let upstream = MockUpstream::start(Reply::completion()).await;
    let database_url = fresh_database().await;
    let base = upstream.base_url();
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let mut orchestrator_env = vec![
        ("AXONFLOW_INTERNAL_SERVICE_SECRET", SERVICE_SECRET),
        ("OPENAI_BASE_URL", base.as_str()),
        ("OPENAI_API_KEY", "sk-server-side-trace-key"),
    ];
    orchestrator_env.extend_from_slice(&otel);
    let orchestrator = Agent::start_orchestrator(&database_url, &orchestrator_env);
    let mut agent_env = vec![
        ("AXONFLOW_INTERNAL_SERVICE_SECRET", SERVICE_SECRET),
        ("ORCHESTRATOR_URL", orchestrator.base_url.as_str()),
        ("OPENAI_BASE_URL", base.as_str()),
    ];
    agent_env.extend_from_slice(&otel);
    let agent = Agent::start(&database_url, &agent_env);
    let secret_prompt = "The launch code is PINEAPPLE-4471";
    let parent_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = client()
        .post(agent.url("/v1/chat/completions"))
        .header("x-provider-key", PROVIDER_KEY)
        .header("traceparent", format!("00-{parent_trace}-00f067aa0ba902b7-01"))
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": secret_prompt}]}))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    let decision_id = response.headers()["x-axonflow-decision-id"]
        .to_str()
        .expect("id")
        .to_owned();
    assert_eq!(response.headers()["x-axonflow-trace-id"], parent_trace);
    // Without a traceparent: the trace id answered is the exported trace's.
    let response = client()
        .post(agent.url("/v1/chat/completions"))
        .header("x-provider-key", PROVIDER_KEY)
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "My SSN is 123-45-6789"}]}))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 400);
    let own_trace = response.headers()["x-axonflow-trace-id"]
        .to_str()
        .expect("trace id")
        .to_owned();
    // Proxy Mode: agent -> orchestrator -> provider in one trace.
    let proxied = client()
        .post(agent.url("/api/request"))
        .json(&json!({"query": secret_prompt, "user_token": "u", "client_id": "c", "request_type": "chat"}))
        .send()
        .await
        .expect("answers");
    assert_eq!(proxied.status(), 200);
    let proxied: serde_json::Value = proxied.json().await.expect("json");
    let proxy_trace = proxied["metadata"]["trace_id"].as_str().map(str::to_owned);

    // The agent exports its CLIENT hop once the orchestrator has answered it, in its own batch:
    // wait for that parent too, not only for the orchestrator's SERVER span.
    let seen = wait_for(&receiver, |seen| {
        let orchestrator_parent = seen
            .iter()
            .find(|s| {
                s.service == "axonflow-orchestrator" && s.span.name == "POST /internal/v1/proxy"
            })
            .map(|s| s.span.parent_span_id.clone());
        orchestrator_parent.is_some_and(|parent| seen.iter().any(|s| s.span.span_id == parent))
            && seen
                .iter()
                .filter(|s| s.span.name == "POST /v1/chat/completions")
                .count()
                >= 2
    })
    .await;
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let by_id: HashMap<String, &Span> = seen
        .iter()
        .map(|s| (hex(&s.span.span_id), &s.span))
        .collect();
    let server = seen
        .iter()
        .map(|s| &s.span)
        .find(|s| s.name == "POST /v1/chat/completions" && hex(&s.trace_id) == parent_trace)
        .expect("the server span continues the caller's trace");
    assert_eq!(server.kind, 2, "SERVER");
    assert_eq!(hex(&server.parent_span_id), "00f067aa0ba902b7");
    assert_eq!(text(server, "http.request.method").as_deref(), Some("POST"));
    assert_eq!(
        text(server, "http.route").as_deref(),
        Some("/v1/chat/completions")
    );
    assert_eq!(
        text(server, "axonflow.decision_id").as_deref(),
        Some(decision_id.as_str())
    );
    assert_eq!(text(server, "axonflow.verdict").as_deref(), Some("allow"));
    assert_eq!(
        text(server, "axonflow.tenant_id").as_deref(),
        Some("default")
    );
    assert_eq!(text(server, "axonflow.mode").as_deref(), Some("openai"));
    assert!(
        matches!(attribute(server, "axonflow.cost_usd"), Some(AnyValue::DoubleValue(c)) if c > 0.0)
    );
    assert!(matches!(
        attribute(server, "axonflow.policies"),
        Some(AnyValue::ArrayValue(_))
    ));
    assert!(matches!(
        attribute(server, "http.response.status_code"),
        Some(AnyValue::IntValue(200))
    ));
    // Its children: policy evaluation, the provider call, the audit write.
    let children: Vec<&Span> = seen
        .iter()
        .map(|s| &s.span)
        .filter(|s| s.trace_id == server.trace_id && s.span_id != server.span_id)
        .collect();
    for name in [
        "axonflow.policy.evaluate",
        "axonflow.audit.write",
        "chat gpt-4o-mini",
    ] {
        assert!(
            children.iter().any(|s| s.name == name),
            "no {name} span under the request"
        );
    }
    let provider = children
        .iter()
        .find(|s| s.name == "chat gpt-4o-mini")
        .expect("provider span");
    assert_eq!(provider.kind, 3, "CLIENT");
    assert_eq!(
        text(provider, "gen_ai.operation.name").as_deref(),
        Some("chat")
    );
    assert_eq!(
        text(provider, "gen_ai.provider.name").as_deref(),
        Some("openai")
    );
    assert_eq!(
        text(provider, "gen_ai.request.model").as_deref(),
        Some("gpt-4o-mini")
    );
    assert_eq!(
        text(provider, "gen_ai.response.model").as_deref(),
        Some("gpt-4o-mini-2024-07-18")
    );
    assert!(matches!(
        attribute(provider, "gen_ai.usage.input_tokens"),
        Some(AnyValue::IntValue(14))
    ));
    assert!(matches!(
        attribute(provider, "gen_ai.usage.output_tokens"),
        Some(AnyValue::IntValue(7))
    ));
    // The provider got a traceparent whose parent is that CLIENT span.
    let sent = upstream.received();
    let traceparent = sent[0].headers["traceparent"]
        .to_str()
        .expect("traceparent");
    assert!(
        traceparent.contains(&hex(&provider.span_id)),
        "{traceparent}"
    );
    assert!(traceparent.contains(parent_trace));
    // The denied call's span carries its verdict, in the trace id it answered.
    let denied = seen
        .iter()
        .map(|s| &s.span)
        .find(|s| hex(&s.trace_id) == own_trace && s.kind == 2)
        .expect("the denied request's span is in the trace it answered");
    assert_eq!(text(denied, "axonflow.verdict").as_deref(), Some("deny"));
    let policies = format!("{:?}", attribute(denied, "axonflow.policies"));
    assert!(policies.contains("sys_pii_ssn"), "{policies}");
    // Proxy Mode: the orchestrator's SERVER span is a child of the agent's CLIENT hop.
    let orchestrator_server = seen
        .iter()
        .find(|s| s.service == "axonflow-orchestrator" && s.span.name == "POST /internal/v1/proxy")
        .map(|s| &s.span)
        .expect("orchestrator span");
    assert_eq!(orchestrator_server.kind, 2, "SERVER");
    let hop = by_id
        .get(&hex(&orchestrator_server.parent_span_id))
        .expect("the orchestrator's parent was exported by the agent");
    assert_eq!(hop.kind, 3, "CLIENT");
    let proxy_trace = proxy_trace.expect("Proxy Mode answers its trace id in metadata");
    assert_eq!(hex(&orchestrator_server.trace_id), proxy_trace);
    assert!(seen.iter().all(|s| !s.service.is_empty()));
    // No text of any request or answer, and no key, in what was exported.
    let everything: Vec<u8> = receiver
        .bodies
        .lock()
        .expect("lock")
        .iter()
        .flat_map(|b| b.to_vec())
        .collect();
    let everything = String::from_utf8_lossy(&everything);
    for secret in [
        "PINEAPPLE",
        "123-45-6789",
        PROVIDER_KEY,
        "sk-server-side-trace-key",
        "\"4\"",
    ] {
        assert!(!everything.contains(secret), "{secret} was exported");
    }
}

#[tokio::test]
async fn a_collector_that_is_down_costs_only_dropped_spans() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let upstream = MockUpstream::start(Reply::completion()).await;
    let base = upstream.base_url();
    let endpoint = format!("http://127.0.0.1:{closed}");
    let agent = Agent::start(
        &fresh_database().await,
        &[
            ("OPENAI_BASE_URL", base.as_str()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ],
    );
    for _ in 0..5 {
        let status = client()
            .post(agent.url("/v1/chat/completions"))
            .header("x-provider-key", PROVIDER_KEY)
            .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .expect("answers")
            .status();
        assert_eq!(status, 200);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = metrics_text(&agent).await;
        let dropped = metrics
            .lines()
            .find(|l| l.starts_with("axonflow_otel_spans_dropped_total "))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .expect("the counter is exposed");
        if dropped >= 5.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "dropped spans not counted: {dropped}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
