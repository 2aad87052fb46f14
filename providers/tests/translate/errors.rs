//! What every rewriting type refuses, provider error answers, malformed answers, and credentials
//! kept out of every message and `Debug` output.

use axonflow_providers::{build_request, parse_answer, Credentials, ProviderKind, Target};
use serde_json::json;

use crate::common::*;

#[test]
fn refused_by_every_rewriting_type() {
    for kind in REWRITTEN {
        check(kind, json!({"stream": true}), "stream");
        check(kind, json!({"logprobs": true}), "logprobs");
        check(kind, json!({"top_logprobs": 2}), "top_logprobs");
        check(kind, json!({"logit_bias": {"50256": -100}}), "logit_bias");
        check(
            kind,
            json!({"prediction": {"type": "content", "content": "x"}}),
            "prediction",
        );
        check(
            kind,
            json!({"audio": {"voice": "alloy", "format": "mp3"}}),
            "audio",
        );
        check(kind, json!({"modalities": ["text", "audio"]}), "modalities");
        check(
            kind,
            json!({"web_search_options": {}}),
            "web_search_options",
        );
        check(kind, json!({"top_k": 40}), "top_k");
        check(kind, json!({"temperature": "hot"}), "temperature");
        check(kind, json!({"messages": "Hi"}), "messages");
        check(
            kind,
            json!({"messages": [{"role": "critic", "content": "x"}]}),
            "messages[0].role",
        );
        check(
            kind,
            json!({"messages": [{"role": "user", "name": "alice", "content": "x"}]}),
            "messages[0].name",
        );
        check(
            kind,
            json!({"messages": [{"role": "user", "content": [{"type": "video", "video": {}}]}]}),
            "messages[0].content[0].type",
        );
        check(
            kind,
            json!({"messages": [{"role": "assistant", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]}]}),
            "messages[0].content[0].type",
        );
        check(
            kind,
            json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,raw"}}]}]}),
            "messages[0].content[0].image_url.url",
        );
        check(
            kind,
            json!({"tools": [{"type": "custom", "custom": {"name": "x"}}]}),
            "tools[0].type",
        );
        check(
            kind,
            json!({"tool_choice": {"type": "allowed_tools"}}),
            "tool_choice.type",
        );
        check(
            kind,
            json!({"response_format": {"type": "xml"}}),
            "response_format.type",
        );
        check(
            kind,
            json!({"messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}
            ]}),
            "messages[1].tool_calls[0].function.arguments",
        );
        check(
            kind,
            json!({"messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}
            ]}),
            "messages[1].tool_calls[0].function.arguments",
        );
        check(
            kind,
            json!({"messages": [{"role": "tool", "content": "x"}]}),
            "messages[0].tool_call_id",
        );
        check(
            kind,
            json!({"messages": [{"role": "function", "name": "f", "content": "x"}]}),
            "messages[0]",
        );
        // Null values, defaults and OpenAI-service fields change nothing.
        accepts(
            kind,
            json!({
                "n": 1, "logprobs": false, "top_logprobs": 0, "logit_bias": {}, "stream": false,
                "temperature": null, "tools": null, "modalities": ["text"], "parallel_tool_calls": true,
                "service_tier": "auto", "store": true, "metadata": {"a": "b"}, "user": "u",
                "stream_options": null, "response_format": {"type": "text"}
            }),
        );
    }
    for kind in [
        ProviderKind::Anthropic,
        ProviderKind::Bedrock,
        ProviderKind::Ollama,
    ] {
        check(
            kind,
            json!({"messages": [{"role": "user", "content": [{"type": "text", "text": "Hear"}, {"type": "input_audio", "input_audio": {"data": "AA==", "format": "wav"}}]}]}),
            "messages[0].content[1].type",
        );
    }
    for kind in [
        ProviderKind::Anthropic,
        ProviderKind::Gemini,
        ProviderKind::Bedrock,
    ] {
        check(
            kind,
            json!({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yes"}, {"role": "system", "content": "Late"}]}),
            "messages[2].role",
        );
        check(
            kind,
            json!({"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-abc"}}]}]}),
            "messages[0].content[0].file.file_id",
        );
    }
}

#[test]
fn missing_credentials() {
    for kind in ProviderKind::ALL {
        let credentials = credentials(kind);
        let target = Target {
            credentials: None,
            ..target(kind, &credentials)
        };
        let result = build_request(&target, &plain_chat(), now());
        if kind.needs_credentials() {
            let error = result.expect_err("credentials are needed");
            assert_eq!(error.param, None);
            assert!(
                error.message.contains("no credentials"),
                "{}",
                error.message
            );
        } else {
            result.expect("ollama needs none");
        }
    }
}

#[test]
fn credentials_never_show() {
    for kind in ProviderKind::ALL {
        let credentials = credentials(kind);
        let target = target(kind, &credentials);
        let outgoing = build_request(&target, &plain_chat(), now()).expect("translates");
        for shown in [
            format!("{outgoing:?}"),
            format!("{target:?}"),
            format!("{credentials:?}"),
        ] {
            assert!(!shown.contains(API_KEY), "{kind}: {shown}");
            assert!(!shown.contains(AWS_SECRET), "{kind}: {shown}");
            assert!(!shown.contains(AWS_TOKEN), "{kind}: {shown}");
        }
        // A refused request says nothing of the credentials either.
        let error = build_request(&target, &request(json!({"stream": true})), now());
        if let Err(error) = error {
            assert!(!format!("{error:?}").contains(API_KEY));
        }
        // A secret that cannot be a header value is refused without being repeated.
        if kind != ProviderKind::Bedrock {
            let bad = Credentials::new("sk-BAD\nSECRET-LINE".to_owned());
            let error = build_request(
                &Target {
                    credentials: Some(&bad),
                    ..target
                },
                &plain_chat(),
                now(),
            )
            .expect_err("invalid header value");
            assert!(!format!("{error:?}").contains("SECRET-LINE"), "{error:?}");
            assert!(!error.message.contains("SECRET-LINE"));
        }
    }
}

#[test]
fn error_answers() {
    let cases = [
        (
            ProviderKind::OpenAi,
            401,
            json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}).to_string(),
            "authentication_error",
            Some("invalid_api_key"),
            "openai answered 401: Incorrect API key provided",
        ),
        (
            ProviderKind::AzureOpenAi,
            429,
            json!({"error": {"code": "429", "message": "Rate limit reached"}}).to_string(),
            "rate_limit_error",
            Some("429"),
            "azure-openai answered 429: Rate limit reached",
        ),
        (
            ProviderKind::Anthropic,
            529,
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}).to_string(),
            "server_error",
            Some("overloaded_error"),
            "anthropic answered 529: Overloaded",
        ),
        (
            ProviderKind::Anthropic,
            404,
            json!({"type": "error", "error": {"type": "not_found_error", "message": "model: claude-x"}}).to_string(),
            "invalid_request_error",
            Some("not_found_error"),
            "anthropic answered 404: model: claude-x",
        ),
        (
            ProviderKind::Gemini,
            400,
            json!({"error": {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT"}}).to_string(),
            "invalid_request_error",
            Some("INVALID_ARGUMENT"),
            "gemini answered 400: API key not valid.",
        ),
        (
            ProviderKind::Gemini,
            403,
            json!({"error": {"code": 403, "message": "Permission denied", "status": "PERMISSION_DENIED"}}).to_string(),
            "permission_error",
            Some("PERMISSION_DENIED"),
            "gemini answered 403: Permission denied",
        ),
        (
            ProviderKind::Bedrock,
            400,
            json!({"message": "The provided model identifier is invalid."}).to_string(),
            "invalid_request_error",
            None,
            "bedrock answered 400: The provided model identifier is invalid.",
        ),
        (
            ProviderKind::Bedrock,
            403,
            json!({"Message": "User is not authorized", "__type": "com.amazon.coral.service#AccessDeniedException"}).to_string(),
            "permission_error",
            Some("AccessDeniedException"),
            "bedrock answered 403: User is not authorized",
        ),
        (
            ProviderKind::Ollama,
            404,
            json!({"error": "model \"llama9\" not found, try pulling it first"}).to_string(),
            "invalid_request_error",
            None,
            "ollama answered 404: model \"llama9\" not found, try pulling it first",
        ),
        (
            ProviderKind::Ollama,
            502,
            "<html>Bad Gateway</html>".to_owned(),
            "server_error",
            None,
            "ollama answered 502: <html>Bad Gateway</html>",
        ),
        (ProviderKind::Gemini, 418, String::new(), "upstream_error", None, "gemini answered 418: (empty body)"),
    ];
    for (kind, status, body, error_type, code, message) in cases {
        let error =
            parse_answer(kind, model(kind), status, body.as_bytes()).expect_err("an error answer");
        assert_eq!(error.status, status, "{body}");
        assert_eq!(error.error_type, error_type, "{body}");
        assert_eq!(error.code.as_deref(), code, "{body}");
        assert_eq!(error.message, message);
    }
    let long = "x".repeat(2_000);
    let error = parse_answer(ProviderKind::Bedrock, "m", 500, long.as_bytes()).expect_err("error");
    assert_eq!(error.message.len(), "bedrock answered 500: ".len() + 500);
}

#[test]
fn malformed_answers() {
    for kind in ProviderKind::ALL {
        for body in [&b"not json"[..], b"{}", b"[]"] {
            let error = parse_answer(kind, "m", 200, body).expect_err("not an answer");
            assert_eq!(error.status, 502);
            assert_eq!(error.error_type, "upstream_error");
            assert!(
                error.message.starts_with(&format!(
                    "{kind} answered with a body that is not a chat answer"
                )),
                "{}",
                error.message
            );
        }
    }
}
