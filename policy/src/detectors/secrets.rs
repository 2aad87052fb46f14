//! Validators of credentials: the token formats are specific enough that the candidate regexes do most
//! of the work; these reject the obvious look-alikes.

use super::Candidate;

/// A token must not continue into more token characters (the regex stopped inside a longer word).
pub(crate) fn standalone_token(candidate: &Candidate<'_>) -> bool {
    !candidate
        .after(1)
        .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && !candidate
            .before(1)
            .ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
}

/// AWS secret keys are 40 characters of base64 with both letters and digits.
pub(crate) fn aws_secret_assignment(candidate: &Candidate<'_>) -> bool {
    let value = candidate
        .as_str()
        .rsplit(['=', ':', '"', '\'', ' '])
        .find(|s| s.len() >= 40)
        .unwrap_or("");
    value.bytes().any(|b| b.is_ascii_digit()) && value.bytes().any(|b| b.is_ascii_alphabetic())
}

/// A JWT's first two parts are base64url JSON objects: `eyJ` is how `{"` encodes.
pub(crate) fn jwt(candidate: &Candidate<'_>) -> bool {
    candidate.as_str().split('.').count() == 3
}
