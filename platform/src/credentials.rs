//! Client credentials: parsing what a request presents (`Basic base64(id:secret)` or
//! `Bearer id:secret`), generating secrets, and argon2id hashing. Verification is CPU-heavy by
//! design; callers run it off the async worker threads.
//!
//! Parameters: argon2id, version 0x13, 19 MiB of memory, 2 passes, 1 lane, 16-byte random salt,
//! 32-byte output (the OWASP minimum for argon2id). They are stored in each PHC string, so raising
//! them later keeps old hashes verifiable.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;

use crate::config::Secret;

pub const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
pub const ARGON2_PASSES: u32 = 2;
pub const ARGON2_LANES: u32 = 1;

/// Longest `Authorization` header value considered; longer ones are refused unparsed.
const MAX_AUTHORIZATION_BYTES: usize = 4096;

/// What a request's `Authorization` header presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    pub client_id: String,
    pub secret: Secret,
}

/// Why a header presents no usable credentials. The messages are safe to return to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("credentials are required: Authorization: Basic base64(client_id:client_secret)")]
    Missing,
    #[error("the Authorization header is not Basic base64(client_id:client_secret) or Bearer client_id:client_secret")]
    Malformed,
}

/// Letters, digits and `-_.@`, 1 to 128 bytes.
pub fn is_valid_client_id(client_id: &str) -> bool {
    !client_id.is_empty()
        && client_id.len() <= 128
        && client_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
}

/// Splits an `Authorization` header value into client id and secret: Basic `base64(id:secret)` or
/// Bearer `id:secret`. Neither part is checked here.
pub fn split_authorization(value: &[u8]) -> Result<(String, String), CredentialError> {
    if value.len() > MAX_AUTHORIZATION_BYTES {
        return Err(CredentialError::Malformed);
    }
    let value = std::str::from_utf8(value)
        .map_err(|_| CredentialError::Malformed)?
        .trim();
    let (scheme, credentials) = value.split_once(' ').ok_or(CredentialError::Malformed)?;
    let credentials = credentials.trim();
    let pair = if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials)
            .map_err(|_| CredentialError::Malformed)?;
        String::from_utf8(decoded).map_err(|_| CredentialError::Malformed)?
    } else if scheme.eq_ignore_ascii_case("bearer") {
        credentials.to_owned()
    } else {
        return Err(CredentialError::Malformed);
    };
    let (client_id, secret) = pair.split_once(':').ok_or(CredentialError::Malformed)?;
    Ok((client_id.to_owned(), secret.to_owned()))
}

/// Parses an `Authorization` header value for enterprise mode. An empty secret is `Malformed`
/// (community callers send `client_id:`; enterprise mode needs the secret).
pub fn parse_authorization(value: Option<&[u8]>) -> Result<Presented, CredentialError> {
    let (client_id, secret) = split_authorization(value.ok_or(CredentialError::Missing)?)?;
    if !is_valid_client_id(&client_id) || secret.is_empty() {
        return Err(CredentialError::Malformed);
    }
    Ok(Presented {
        client_id,
        secret: Secret::new(secret),
    })
}

fn hasher() -> Argon2<'static> {
    // The constants are valid argon2 parameters; `Params::DEFAULT` is the same shape.
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, Some(32))
        .unwrap_or(Params::DEFAULT);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn random_bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes)?;
    Ok(bytes)
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("no randomness available: {0}")]
    Random(#[from] getrandom::Error),
    #[error("hashing failed: {0}")]
    Hash(String),
}

/// A new client secret: 32 random bytes, URL-safe base64, with a recognisable prefix for secret
/// scanners.
pub fn generate_secret() -> Result<Secret, HashError> {
    let bytes = random_bytes::<32>()?;
    Ok(Secret::new(format!(
        "axfs_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )))
}

/// A new client id, `cli_` and 16 hex digits.
pub fn generate_client_id() -> Result<String, HashError> {
    let bytes = random_bytes::<8>()?;
    Ok(format!("cli_{}", hex::encode(bytes)))
}

/// The argon2id PHC string of `secret`.
pub fn hash_secret(secret: &Secret) -> Result<String, HashError> {
    let salt_bytes = random_bytes::<16>()?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| HashError::Hash(e.to_string()))?;
    hasher()
        .hash_password(secret.expose().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| HashError::Hash(e.to_string()))
}

/// A hash of nothing anyone knows, verified against when the client does not exist so that an
/// unknown client costs the same work as a wrong secret.
pub fn decoy_hash() -> String {
    // Fixed salt: the decoy needs the same cost as a real hash, not secrecy.
    let salt = SaltString::encode_b64(b"axonflow-decoy-s").ok();
    salt.and_then(|salt| {
        hasher()
            .hash_password(b"decoy secret that matches nothing", &salt)
            .ok()
            .map(|hash| hash.to_string())
    })
    .unwrap_or_default()
}

/// Whether `secret` matches the PHC string `phc`. A malformed PHC string matches nothing.
pub fn verify_secret(secret: &Secret, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => hasher()
            .verify_password(secret.expose().as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(header: Option<&str>, expected: Result<(&str, &str), CredentialError>) {
        let parsed = parse_authorization(header.map(str::as_bytes));
        let got = parsed
            .as_ref()
            .map(|p| (p.client_id.as_str(), p.secret.expose()))
            .map_err(|e| *e);
        assert_eq!(got, expected, "{header:?}");
    }

    #[test]
    fn authorization_headers() {
        // base64("acme:s3cret"), base64("acme:"), base64("acme"), base64(":x")
        check(Some("Basic YWNtZTpzM2NyZXQ="), Ok(("acme", "s3cret")));
        check(Some("basic   YWNtZTpzM2NyZXQ= "), Ok(("acme", "s3cret")));
        check(
            Some("Bearer acme:s3cret:with:colons"),
            Ok(("acme", "s3cret:with:colons")),
        );
        check(None, Err(CredentialError::Missing));
        check(Some("Basic YWNtZTo="), Err(CredentialError::Malformed));
        check(Some("Basic YWNtZQ=="), Err(CredentialError::Malformed));
        check(Some("Basic Ong="), Err(CredentialError::Malformed));
        check(Some("Basic !!!"), Err(CredentialError::Malformed));
        check(Some("Bearer sk-proj-abc"), Err(CredentialError::Malformed));
        check(Some("Digest abc"), Err(CredentialError::Malformed));
        check(Some("Basic"), Err(CredentialError::Malformed));
        let huge = format!("Bearer acme:{}", "x".repeat(65_536));
        check(Some(&huge), Err(CredentialError::Malformed));
    }

    #[test]
    fn hashes_verify_only_their_secret() {
        let secret = generate_secret().expect("random");
        assert!(secret.expose().starts_with("axfs_") && secret.expose().len() == 48);
        let phc = hash_secret(&secret).expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_secret(&secret, &phc));
        assert!(!verify_secret(&Secret::new("wrong"), &phc));
        assert!(!verify_secret(&secret, "not a phc string"));
        assert!(!verify_secret(&secret, &decoy_hash()));
        assert!(generate_client_id().expect("random").starts_with("cli_"));
    }
}
