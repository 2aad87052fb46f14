//! What every adapter's outgoing request shares: the URL under the target's endpoint, the JSON
//! content type, credential headers marked sensitive, and the serialized body.

use std::fmt;

use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::HeaderMap;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;

use crate::error::TranslateError;
use crate::translate::{OutgoingRequest, Target};

/// Everything but RFC 3986's unreserved characters is encoded in a path segment or query value,
/// so a Bedrock ARN (`:` and `/`) or an Azure deployment name stays one segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A value percent-encoded for use as one path segment or one query value.
pub(crate) fn segment(value: &str) -> impl fmt::Display + '_ {
    utf8_percent_encode(value, SEGMENT)
}

/// The target's endpoint (one trailing `/` removed) followed by the type's request path.
pub(crate) fn url(endpoint: &str, path: fmt::Arguments<'_>) -> String {
    let base = endpoint.strip_suffix('/').unwrap_or(endpoint);
    format!("{base}{path}")
}

/// The stored secret, or an error naming the provider type when none is stored.
pub(crate) fn secret<'t>(target: &Target<'t>) -> Result<&'t str, TranslateError> {
    target
        .credentials
        .map(|credentials| credentials.expose())
        .ok_or_else(|| TranslateError {
            param: None,
            message: format!(
                "no credentials are stored for this {} provider",
                target.kind
            ),
        })
}

/// Headers every request carries: `content-type: application/json`.
pub(crate) fn json_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers
}

/// Adds a header holding a secret, marked sensitive so that `Debug` does not show it. A value that
/// is not a valid header value is refused without repeating it.
pub(crate) fn secret_header(
    headers: &mut HeaderMap,
    name: HeaderName,
    value: &str,
) -> Result<(), TranslateError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| TranslateError {
        param: None,
        message: format!(
            "the stored credentials cannot be sent in the {name} header (invalid characters)"
        ),
    })?;
    value.set_sensitive(true);
    headers.insert(name, value);
    Ok(())
}

/// The finished request with its body serialized.
pub(crate) fn request(
    url: String,
    headers: HeaderMap,
    body: &impl Serialize,
) -> Result<OutgoingRequest, TranslateError> {
    Ok(OutgoingRequest {
        url,
        headers,
        body: to_json(body)?,
    })
}

/// A wire struct as JSON bytes. Only a map with non-string keys could fail, which the wire structs
/// never hold.
pub(crate) fn to_json(body: &impl Serialize) -> Result<Vec<u8>, TranslateError> {
    serde_json::to_vec(body).map_err(|error| TranslateError {
        param: None,
        message: format!("the request could not be serialized: {error}"),
    })
}
