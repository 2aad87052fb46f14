//! What can go wrong turning a request into a provider's, and a provider's answer into OpenAI's.

/// The request cannot be expressed in the provider's format: the client gets a 400 naming the
/// parameter, nothing is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TranslateError {
    /// The request parameter at fault, as a path (`messages[2].content[0].type`), when there is one.
    pub param: Option<String>,
    pub message: String,
}

impl TranslateError {
    pub fn new(param: impl Into<String>, message: impl Into<String>) -> TranslateError {
        TranslateError {
            param: Some(param.into()),
            message: message.into(),
        }
    }
}

/// The provider refused the call, or answered something that is not an answer. Carries what an
/// OpenAI-shaped error needs, with the provider's own message kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    /// The HTTP status the provider answered (for a malformed 2xx answer: 502).
    pub status: u16,
    /// OpenAI's error `type` for it (`invalid_request_error`, `authentication_error`,
    /// `rate_limit_error`, `server_error`, ...).
    pub error_type: String,
    /// OpenAI-style `code` when the provider gave one or it can be derived.
    pub code: Option<String>,
    /// The provider's message, prefixed with the provider type.
    pub message: String,
}
