//! Translation cost per provider type: `build_request` of a ~2 KB OpenAI request (system prompt,
//! a few turns, one tool, a tool round trip) and `parse_answer` of a typical answer with usage.
//! Run with `cargo bench -p axonflow-providers`.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use axonflow_providers::{build_request, parse_answer, Credentials, ProviderKind, Target};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};

fn request() -> Value {
    let paragraph =
        "The quarterly report covers revenue, churn and hiring across the three regions. ";
    json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": format!("You are a careful analyst. Answer briefly and cite figures. {}", paragraph.repeat(4))},
            {"role": "user", "content": format!("Summarise this: {}", paragraph.repeat(6))},
            {"role": "assistant", "content": "Revenue grew 12%, churn fell to 3%, hiring was flat."},
            {"role": "user", "content": "What is the weather in Paris, for the offsite?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\",\"unit\":\"C\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\":21,\"sky\":\"clear\"}"},
            {"role": "assistant", "content": "It is 21°C and clear in Paris."},
            {"role": "user", "content": format!("Good. Now draft the offsite invitation. {}", paragraph.repeat(2))}
        ],
        "tools": [{"type": "function", "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name"},
                    "unit": {"type": "string", "enum": ["C", "F"]}
                },
                "required": ["city"]
            }
        }}],
        "max_tokens": 512,
        "temperature": 0.3,
        "stop": ["END"]
    })
}

fn answer(kind: ProviderKind) -> Value {
    let text =
        "Dear team, you are invited to the offsite in Paris on the 12th. Expect clear skies. ";
    match kind {
        ProviderKind::OpenAi | ProviderKind::AzureOpenAi => json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1_714_564_800, "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text.repeat(4), "refusal": null}, "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 512, "completion_tokens": 90, "total_tokens": 602}
        }),
        ProviderKind::Anthropic => json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": text.repeat(4)}],
            "stop_reason": "end_turn", "usage": {"input_tokens": 512, "output_tokens": 90}
        }),
        ProviderKind::Gemini => json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": text.repeat(4)}]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 512, "candidatesTokenCount": 90, "totalTokenCount": 602},
            "modelVersion": "gemini-2.5-flash", "responseId": "r1"
        }),
        ProviderKind::Bedrock => json!({
            "output": {"message": {"role": "assistant", "content": [{"text": text.repeat(4)}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 512, "outputTokens": 90, "totalTokens": 602},
            "metrics": {"latencyMs": 900}
        }),
        ProviderKind::Ollama => json!({
            "model": "llama3.2", "created_at": "2024-05-01T12:00:00Z",
            "message": {"role": "assistant", "content": text.repeat(4)},
            "done": true, "done_reason": "stop", "prompt_eval_count": 512, "eval_count": 90
        }),
    }
}

fn translate(c: &mut Criterion) {
    let request = request();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_564_800);
    for kind in ProviderKind::ALL {
        let secret = match kind {
            ProviderKind::Bedrock => "AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            _ => "sk-bench",
        };
        let credentials = Credentials::new(secret.to_owned());
        let endpoint = kind
            .default_endpoint(Some("us-east-1"))
            .unwrap_or_else(|| "https://example.openai.azure.com".to_owned());
        let target = Target {
            kind,
            endpoint: &endpoint,
            model: "bench-model",
            api_version: None,
            region: Some("us-east-1"),
            credentials: Some(&credentials),
        };
        c.bench_function(&format!("build_request/{kind}"), |b| {
            b.iter(|| build_request(black_box(&target), black_box(&request), now))
        });
        let body = answer(kind).to_string().into_bytes();
        c.bench_function(&format!("parse_answer/{kind}"), |b| {
            b.iter(|| parse_answer(kind, "bench-model", 200, black_box(&body)))
        });
    }
}

criterion_group!(benches, translate);
criterion_main!(benches);
