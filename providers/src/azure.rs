//! Azure OpenAI: OpenAI's body and answer, sent to the deployment named by the target's model with
//! an `api-version` and an `api-key` header.

use http::header::HeaderName;
use serde_json::Value;

use crate::error::{ProviderError, TranslateError};
use crate::kind::ProviderKind;
use crate::openai;
use crate::outgoing::{self, segment};
use crate::translate::{Completion, OutgoingRequest, Target};

/// The `api-version` used when the target names none (the current GA version).
pub(crate) const DEFAULT_API_VERSION: &str = "2024-10-21";

pub(crate) fn build(
    target: &Target<'_>,
    request: &Value,
) -> Result<OutgoingRequest, TranslateError> {
    let key = outgoing::secret(target)?;
    let mut headers = outgoing::json_headers();
    outgoing::secret_header(&mut headers, HeaderName::from_static("api-key"), key)?;
    let version = target.api_version.unwrap_or(DEFAULT_API_VERSION);
    let url = outgoing::url(
        target.endpoint,
        format_args!(
            "/openai/deployments/{}/chat/completions?api-version={}",
            segment(target.model),
            segment(version)
        ),
    );
    outgoing::request(url, headers, &openai::forwarded(request, target.model)?)
}

pub(crate) fn parse(
    model_sent: &str,
    status: u16,
    body: &[u8],
) -> Result<Completion, ProviderError> {
    openai::parse_as(ProviderKind::AzureOpenAi, model_sent, status, body)
}
