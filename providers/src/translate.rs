//! The adapters' common interface: a target (who to call, with what), the outgoing request, and the
//! answer in OpenAI's shape. Dispatches to one module per provider type.

use std::fmt;
use std::time::SystemTime;

use http::HeaderMap;
use serde_json::Value;

use crate::error::{ProviderError, TranslateError};
use crate::kind::ProviderKind;
use crate::{anthropic, azure, bedrock, gemini, ollama, openai};

/// A provider's stored credential, decrypted. `Debug` never shows it.
#[derive(Clone)]
pub struct Credentials(String);

impl Credentials {
    pub fn new(secret: String) -> Credentials {
        Credentials(secret)
    }

    /// The secret itself: only for building a request.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials([redacted])")
    }
}

/// One provider target: where and how to send one call.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub kind: ProviderKind,
    /// Base URL; the type's request path is appended as given (no trailing slash expected).
    pub endpoint: &'a str,
    /// The provider's model name (after `settings.model_map`): Azure's deployment, Bedrock's model id.
    pub model: &'a str,
    /// Azure OpenAI's `api-version`.
    pub api_version: Option<&'a str>,
    /// Bedrock's AWS region (SigV4 signing).
    pub region: Option<&'a str>,
    pub credentials: Option<&'a Credentials>,
}

/// An HTTP `POST` ready to send.
#[derive(Debug)]
pub struct OutgoingRequest {
    pub url: String,
    /// Content type and credentials included.
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Token counts as OpenAI reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
}

/// A provider's successful answer in OpenAI's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// A whole OpenAI `chat.completion` object (`id`, `object`, `created`, `model`, `choices` with
    /// `message` and `finish_reason`, `usage`).
    pub body: Value,
    pub usage: Usage,
    /// The model the provider says answered (else the model sent).
    pub model: String,
}

/// Builds the provider's request from an OpenAI Chat Completions body (`model` in it is replaced by
/// `target.model`). `now` dates signed requests (Bedrock).
pub fn build_request(
    target: &Target<'_>,
    request: &Value,
    now: SystemTime,
) -> Result<OutgoingRequest, TranslateError> {
    match target.kind {
        ProviderKind::OpenAi => openai::build(target, request),
        ProviderKind::AzureOpenAi => azure::build(target, request),
        ProviderKind::Anthropic => anthropic::build(target, request),
        ProviderKind::Gemini => gemini::build(target, request),
        ProviderKind::Bedrock => bedrock::build(target, request, now),
        ProviderKind::Ollama => ollama::build(target, request),
    }
}

/// Reads a provider's answer: a 2xx body becomes a `Completion`; anything else (or a 2xx body that
/// is not an answer) a `ProviderError` with the provider's message kept.
pub fn parse_answer(
    kind: ProviderKind,
    model_sent: &str,
    status: u16,
    body: &[u8],
) -> Result<Completion, ProviderError> {
    match kind {
        ProviderKind::OpenAi => openai::parse(model_sent, status, body),
        ProviderKind::AzureOpenAi => azure::parse(model_sent, status, body),
        ProviderKind::Anthropic => anthropic::parse(model_sent, status, body),
        ProviderKind::Gemini => gemini::parse(model_sent, status, body),
        ProviderKind::Bedrock => bedrock::parse(model_sent, status, body),
        ProviderKind::Ollama => ollama::parse(model_sent, status, body),
    }
}
