//! OpenAI Chat Completions: the request is forwarded as received with `model` replaced, and the
//! answer kept as received (usage read from it). Azure OpenAI shares both halves.

use http::header::AUTHORIZATION;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::answer;
use crate::error::{ProviderError, TranslateError};
use crate::kind::ProviderKind;
use crate::outgoing;
use crate::translate::{Completion, OutgoingRequest, Target};

pub(crate) fn build(
    target: &Target<'_>,
    request: &Value,
) -> Result<OutgoingRequest, TranslateError> {
    let key = outgoing::secret(target)?;
    let mut headers = outgoing::json_headers();
    outgoing::secret_header(&mut headers, AUTHORIZATION, &format!("Bearer {key}"))?;
    let url = outgoing::url(target.endpoint, format_args!("/chat/completions"));
    outgoing::request(url, headers, &forwarded(request, target.model)?)
}

pub(crate) fn parse(
    model_sent: &str,
    status: u16,
    body: &[u8],
) -> Result<Completion, ProviderError> {
    parse_as(ProviderKind::OpenAi, model_sent, status, body)
}

/// The client's body with `model` set to `model`, every other field unchanged and in order.
pub(crate) fn forwarded<'a>(
    request: &'a Value,
    model: &'a str,
) -> Result<Forwarded<'a>, TranslateError> {
    let fields = request.as_object().ok_or_else(|| TranslateError {
        param: None,
        message: "the request body must be a JSON object".to_owned(),
    })?;
    Ok(Forwarded { fields, model })
}

/// Serializes the client's body with `model` replaced, without copying it.
pub(crate) struct Forwarded<'a> {
    fields: &'a Map<String, Value>,
    model: &'a str,
}

impl Serialize for Forwarded<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let has_model = self.fields.contains_key("model");
        let mut map =
            serializer.serialize_map(Some(self.fields.len() + usize::from(!has_model)))?;
        if !has_model {
            map.serialize_entry("model", self.model)?;
        }
        for (key, value) in self.fields {
            if key == "model" {
                map.serialize_entry(key, self.model)?;
            } else {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

/// The `usage` of an OpenAI-shaped answer.
#[derive(Deserialize)]
struct AnswerUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    total_tokens: Option<u64>,
}

/// Reads an OpenAI-shaped answer: a JSON object with a `choices` array, kept as received.
pub(crate) fn parse_as(
    kind: ProviderKind,
    model_sent: &str,
    status: u16,
    body: &[u8],
) -> Result<Completion, ProviderError> {
    let body: Value = answer::read(kind, status, body)?;
    if !body.get("choices").is_some_and(Value::is_array) {
        return Err(answer::malformed(kind, &"no choices array"));
    }
    let usage = match body.get("usage").filter(|usage| !usage.is_null()) {
        Some(usage) => {
            let usage =
                AnswerUsage::deserialize(usage).map_err(|error| answer::malformed(kind, &error))?;
            answer::usage(
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.total_tokens,
            )
        }
        None => answer::usage(0, 0, None),
    };
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(model_sent)
        .to_owned();
    Ok(Completion { body, usage, model })
}
