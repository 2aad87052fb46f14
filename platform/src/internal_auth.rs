//! Authentication of agent <-> orchestrator calls with the shared `AXONFLOW_INTERNAL_SERVICE_SECRET`:
//! each request carries a timestamp, a random nonce and an HMAC-SHA256 over
//! `v1\n{METHOD}\n{path and query}\n{timestamp}\n{nonce}\n{hex SHA-256 of the body}`. The receiver
//! checks the MAC (in constant time), that the timestamp is within `REPLAY_WINDOW_SECS` of its
//! clock, and that the nonce was not seen before (nonces are kept in Postgres for the window, so a
//! captured call cannot be replayed to any replica). The secret itself never travels.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::config::Secret;

pub const TIMESTAMP_HEADER: &str = "x-axonflow-timestamp";
pub const NONCE_HEADER: &str = "x-axonflow-nonce";
pub const SIGNATURE_HEADER: &str = "x-axonflow-signature";
/// How far a signed call's timestamp may be from the receiver's clock, either way.
pub const REPLAY_WINDOW_SECS: i64 = 30;

type HmacSha256 = Hmac<Sha256>;

/// Why a signed call was refused. Messages are safe to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InternalAuthError {
    #[error("internal call without timestamp, nonce and signature headers")]
    Missing,
    #[error("internal call with a malformed timestamp, nonce or signature")]
    Malformed,
    #[error("internal call outside the replay window; check the clocks")]
    Stale,
    #[error("internal call with a wrong signature")]
    BadSignature,
    #[error("internal call replayed")]
    Replayed,
}

/// The headers of one signed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub timestamp: String,
    pub nonce: String,
    pub signature: String,
}

/// Signs and verifies internal calls with one shared secret.
#[derive(Clone)]
pub struct InternalAuth {
    /// Keyed once; cloned for each call.
    keyed: HmacSha256,
}

fn canonical(
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    format!(
        "v1\n{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path_and_query,
        timestamp,
        nonce,
        hex::encode(Sha256::digest(body))
    )
}

impl InternalAuth {
    /// HMAC accepts keys of any length, so this fails only in theory.
    pub fn new(secret: &Secret) -> Result<InternalAuth, hmac::digest::InvalidLength> {
        Ok(InternalAuth {
            keyed: <HmacSha256 as Mac>::new_from_slice(secret.expose().as_bytes())?,
        })
    }

    fn mac(&self) -> HmacSha256 {
        self.keyed.clone()
    }

    /// Headers for a call made now.
    pub fn sign(
        &self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        now_unix: i64,
    ) -> Result<SignedHeaders, getrandom::Error> {
        let mut nonce_bytes = [0u8; 16];
        getrandom::getrandom(&mut nonce_bytes)?;
        let nonce = hex::encode(nonce_bytes);
        let timestamp = now_unix.to_string();
        let mut mac = self.mac();
        mac.update(canonical(method, path_and_query, &timestamp, &nonce, body).as_bytes());
        Ok(SignedHeaders {
            signature: format!("v1={}", hex::encode(mac.finalize().into_bytes())),
            timestamp,
            nonce,
        })
    }

    /// Checks the MAC and the timestamp; the caller then claims the nonce (see `db::claim_nonce`).
    /// Returns the nonce and the unix time it was signed at.
    pub fn verify(
        &self,
        method: &str,
        path_and_query: &str,
        headers: Option<(&str, &str, &str)>,
        body: &[u8],
        now_unix: i64,
    ) -> Result<(String, i64), InternalAuthError> {
        let (timestamp, nonce, signature) = headers.ok_or(InternalAuthError::Missing)?;
        let at: i64 = timestamp
            .parse()
            .map_err(|_| InternalAuthError::Malformed)?;
        let nonce_ok =
            (16..=128).contains(&nonce.len()) && nonce.bytes().all(|b| b.is_ascii_hexdigit());
        let mac_bytes = signature
            .strip_prefix("v1=")
            .and_then(|h| hex::decode(h).ok())
            .filter(|_| nonce_ok)
            .ok_or(InternalAuthError::Malformed)?;
        let mut mac = self.mac();
        mac.update(canonical(method, path_and_query, timestamp, nonce, body).as_bytes());
        mac.verify_slice(&mac_bytes)
            .map_err(|_| InternalAuthError::BadSignature)?;
        if (now_unix - at).abs() > REPLAY_WINDOW_SECS {
            return Err(InternalAuthError::Stale);
        }
        Ok((nonce.to_owned(), at))
    }
}

/// What can be checked of a call before its body is read: the three headers present and well
/// formed, and the timestamp inside the window. A caller without the secret is refused here
/// without the receiver buffering its body.
pub fn check_headers<'h>(
    header: impl Fn(&str) -> Option<&'h str>,
    now_unix: i64,
) -> Result<(), InternalAuthError> {
    let (Some(timestamp), Some(nonce), Some(signature)) = (
        header(TIMESTAMP_HEADER),
        header(NONCE_HEADER),
        header(SIGNATURE_HEADER),
    ) else {
        return Err(InternalAuthError::Missing);
    };
    let at: i64 = timestamp
        .parse()
        .map_err(|_| InternalAuthError::Malformed)?;
    let well_formed = (16..=128).contains(&nonce.len())
        && nonce.bytes().all(|b| b.is_ascii_hexdigit())
        && signature
            .strip_prefix("v1=")
            .is_some_and(|mac| mac.len() == 64 && mac.bytes().all(|b| b.is_ascii_hexdigit()));
    if !well_formed {
        return Err(InternalAuthError::Malformed);
    }
    if (now_unix - at).abs() > REPLAY_WINDOW_SECS {
        return Err(InternalAuthError::Stale);
    }
    Ok(())
}

/// Checks one incoming internal call completely: signature, window, and (in Postgres) that its
/// nonce is new. `header` looks up a request header by lowercase name.
pub async fn check_request<'h>(
    auth: &InternalAuth,
    pool: &sqlx::PgPool,
    method: &str,
    path_and_query: &str,
    header: impl Fn(&str) -> Option<&'h str>,
    body: &[u8],
) -> Result<(), InternalAuthError> {
    let headers = match (
        header(TIMESTAMP_HEADER),
        header(NONCE_HEADER),
        header(SIGNATURE_HEADER),
    ) {
        (Some(timestamp), Some(nonce), Some(signature)) => Some((timestamp, nonce, signature)),
        _ => None,
    };
    let now = chrono::Utc::now();
    let (nonce, signed_at) = auth.verify(method, path_and_query, headers, body, now.timestamp())?;
    // Kept well past the last moment any receiver (whatever its clock) would accept the call.
    let keep_from = signed_at.max(now.timestamp());
    let expires_at =
        chrono::DateTime::from_timestamp(keep_from + 2 * REPLAY_WINDOW_SECS + 5, 0).unwrap_or(now);
    match crate::db::claim_nonce(pool, &nonce, expires_at).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(InternalAuthError::Replayed),
        Err(error) => {
            // Without the nonce store a replay cannot be ruled out: refuse.
            tracing::error!(%error, "cannot record an internal call's nonce; call refused");
            Err(InternalAuthError::Replayed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(secret: &str) -> InternalAuth {
        InternalAuth::new(&Secret::new(secret)).expect("any key length")
    }

    #[test]
    fn headers_are_checked_before_the_body_is_read() {
        let now = 1_780_000_000;
        let signed = auth("0123456789abcdef0123456789abcdef")
            .sign("POST", "/internal/v1/proxy", b"{}", now)
            .expect("random");
        let check = |timestamp: &str, nonce: &str, signature: &str, at: i64| {
            let map = [
                (TIMESTAMP_HEADER, timestamp),
                (NONCE_HEADER, nonce),
                (SIGNATURE_HEADER, signature),
            ];
            check_headers(
                |name| {
                    map.iter()
                        .find(|(key, value)| *key == name && !value.is_empty())
                        .map(|(_, value)| *value)
                },
                at,
            )
        };
        let (timestamp, nonce, signature) = (
            signed.timestamp.as_str(),
            signed.nonce.as_str(),
            signed.signature.as_str(),
        );
        assert_eq!(check(timestamp, nonce, signature, now + 5), Ok(()));
        assert_eq!(
            check(timestamp, nonce, signature, now + 31),
            Err(InternalAuthError::Stale)
        );
        assert_eq!(
            check(timestamp, "", signature, now),
            Err(InternalAuthError::Missing)
        );
        for (timestamp, nonce, signature) in [
            ("soon", nonce, signature),
            (timestamp, "short", signature),
            (timestamp, nonce, "v1=zz"),
            (timestamp, nonce, "v2=00"),
        ] {
            assert_eq!(
                check(timestamp, nonce, signature, now),
                Err(InternalAuthError::Malformed),
                "{timestamp} {nonce} {signature}"
            );
        }
    }

    #[test]
    fn signatures_verify_only_for_the_same_call_secret_and_time() {
        let signer = auth("0123456789abcdef0123456789abcdef");
        let now = 1_780_000_000;
        let signed = signer
            .sign("post", "/internal/v1/ping?x=1", b"{}", now)
            .expect("random");
        let headers = Some((
            signed.timestamp.as_str(),
            signed.nonce.as_str(),
            signed.signature.as_str(),
        ));
        let (nonce, signed_at) = signer
            .verify("POST", "/internal/v1/ping?x=1", headers, b"{}", now + 5)
            .expect("valid");
        assert_eq!(nonce, signed.nonce);
        assert_eq!(signed_at, now);

        let check = |auth: &InternalAuth, path: &str, body: &[u8], at: i64| {
            auth.verify("POST", path, headers, body, at).map(|_| ())
        };
        assert_eq!(
            check(
                &auth("another secret of thirty-two chars!"),
                "/internal/v1/ping?x=1",
                b"{}",
                now
            ),
            Err(InternalAuthError::BadSignature)
        );
        assert_eq!(
            check(&signer, "/internal/v1/ping?x=2", b"{}", now),
            Err(InternalAuthError::BadSignature)
        );
        assert_eq!(
            check(&signer, "/internal/v1/ping?x=1", b"{ }", now),
            Err(InternalAuthError::BadSignature)
        );
        assert_eq!(
            check(&signer, "/internal/v1/ping?x=1", b"{}", now + 31),
            Err(InternalAuthError::Stale)
        );
        assert_eq!(
            signer.verify("POST", "/p", None, b"", now),
            Err(InternalAuthError::Missing)
        );
        assert_eq!(
            signer.verify(
                "POST",
                "/p",
                Some(("soon", "00ff00ff00ff00ff", "v1=00")),
                b"",
                now
            ),
            Err(InternalAuthError::Malformed)
        );
    }
}
