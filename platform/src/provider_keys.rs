//! Provider keys at rest: sealed with AES-256-GCM under a key-encryption key (KEK), with the KEK's
//! id stored beside them so the KEK can be rotated (`AXONFLOW_PROVIDER_KEY_ENCRYPTION_KEY_PREVIOUS`
//! opens keys sealed under former KEKs; they are re-sealed under the current one at start). The
//! associated data binds a sealed key to its tenant and provider name: a sealed value copied to
//! another row does not open. Plaintext keys exist only in memory, in `Credentials`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::db::SealedKey;
use axonflow_providers::Credentials;

const NONCE_BYTES: usize = 12;

/// One key-encryption key with its id.
struct Kek {
    id: String,
    cipher: Aes256Gcm,
}

/// The current KEK and the former ones still accepted for opening.
pub struct KeyRing {
    current: Kek,
    previous: Vec<Kek>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "KeyRing(current {}, {} previous)",
            self.current.id,
            self.previous.len()
        )
    }
}

/// Why a KEK is not usable (the message never contains the value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KekError {
    #[error("is not standard base64")]
    NotBase64,
    #[error("decodes to {0} bytes; exactly 32 are needed (openssl rand -base64 32)")]
    WrongLength(usize),
}

/// A sealed key that does not open with any KEK of the ring.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("sealed under key-encryption key {0}, which is not configured")]
    UnknownKek(String),
    #[error("does not open under key-encryption key {0} (wrong key or altered data)")]
    Corrupt(String),
}

fn parse_kek(text: &str) -> Result<Kek, KekError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| KekError::NotBase64)?;
    if bytes.len() != 32 {
        return Err(KekError::WrongLength(bytes.len()));
    }
    let digest = Sha256::new()
        .chain_update(b"axonflow provider KEK id\0")
        .chain_update(&bytes)
        .finalize();
    let cipher =
        Aes256Gcm::new_from_slice(&bytes).map_err(|_| KekError::WrongLength(bytes.len()))?;
    Ok(Kek {
        id: format!("kek-{}", hex::encode(&digest[..8])),
        cipher,
    })
}

fn associated_data(tenant_id: &str, name: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(tenant_id.len() + name.len() + 24);
    aad.extend_from_slice(b"axonflow provider key\0");
    aad.extend_from_slice(tenant_id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(name.as_bytes());
    aad
}

impl KeyRing {
    /// The ring from the current KEK and the former ones (comma-separated), as configured.
    pub fn parse(current: &str, previous: Option<&str>) -> Result<KeyRing, KekError> {
        let current = parse_kek(current)?;
        let previous = previous
            .unwrap_or("")
            .split(',')
            .filter(|part| !part.trim().is_empty())
            .map(parse_kek)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(KeyRing { current, previous })
    }

    /// The id of the KEK new keys are sealed with.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Seals `secret` for the provider `name` of `tenant_id` under the current KEK.
    pub fn seal(&self, tenant_id: &str, name: &str, secret: &str) -> SealedKey {
        let mut nonce = [0u8; NONCE_BYTES];
        // The OS random source failing is not recoverable; an all-zero nonce is never used.
        if getrandom::getrandom(&mut nonce).is_err() {
            nonce = fallback_nonce();
        }
        let aad = associated_data(tenant_id, name);
        let mut sealed = nonce.to_vec();
        // Encryption with a valid key and nonce cannot fail for inputs this small.
        if let Ok(ciphertext) = self.current.cipher.encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: secret.as_bytes(),
                aad: &aad,
            },
        ) {
            sealed.extend_from_slice(&ciphertext);
        }
        SealedKey {
            key_id: self.current.id.clone(),
            sealed,
        }
    }

    /// Opens a sealed key of the provider `name` of `tenant_id`.
    pub fn open(
        &self,
        tenant_id: &str,
        name: &str,
        key: &SealedKey,
    ) -> Result<Credentials, OpenError> {
        let kek = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|kek| kek.id == key.key_id)
            .ok_or_else(|| OpenError::UnknownKek(key.key_id.clone()))?;
        let corrupt = || OpenError::Corrupt(key.key_id.clone());
        if key.sealed.len() <= NONCE_BYTES {
            return Err(corrupt());
        }
        let (nonce, ciphertext) = key.sealed.split_at(NONCE_BYTES);
        let aad = associated_data(tenant_id, name);
        let plain = kek
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| corrupt())?;
        String::from_utf8(plain)
            .map(Credentials::new)
            .map_err(|_| corrupt())
    }

    /// Whether a key sealed under `key_id` should be re-sealed under the current KEK.
    pub fn is_stale(&self, key: &SealedKey) -> bool {
        key.key_id != self.current.id
    }
}

/// A nonce from the clock and a process counter, used only if the OS random source fails.
fn fallback_nonce() -> [u8; NONCE_BYTES] {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(1);
    let mut nonce = [0u8; NONCE_BYTES];
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nonce[..8].copy_from_slice(&nanos.to_le_bytes());
    nonce[8..].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    nonce
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEK_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const KEK_B: &str = "HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=";

    #[test]
    fn sealed_keys_open_only_for_their_provider_and_hide_the_secret() {
        let ring = KeyRing::parse(KEK_A, None).expect("valid KEK");
        let sealed = ring.seal("tenant-a", "main", "sk-secret-value-123");
        assert!(
            !sealed.sealed.windows(6).any(|w| w == b"secret"),
            "plaintext in the sealed bytes"
        );
        let opened = ring.open("tenant-a", "main", &sealed).expect("opens");
        assert_eq!(opened.expose(), "sk-secret-value-123");
        assert!(ring.open("tenant-b", "main", &sealed).is_err());
        assert!(ring.open("tenant-a", "other", &sealed).is_err());
        let again = ring.seal("tenant-a", "main", "sk-secret-value-123");
        assert_ne!(again.sealed, sealed.sealed, "nonces repeat");
        let mut altered = sealed.clone();
        if let Some(last) = altered.sealed.last_mut() {
            *last ^= 1;
        }
        assert!(matches!(
            ring.open("tenant-a", "main", &altered),
            Err(OpenError::Corrupt(_))
        ));
    }

    #[test]
    fn rotation_opens_former_keys_and_a_wrong_kek_does_not() {
        let old = KeyRing::parse(KEK_A, None).expect("valid");
        let sealed = old.seal("t", "p", "secret");
        let rotated = KeyRing::parse(KEK_B, Some(KEK_A)).expect("valid");
        assert!(rotated.is_stale(&sealed));
        assert_eq!(
            rotated.open("t", "p", &sealed).expect("opens").expose(),
            "secret"
        );
        let wrong = KeyRing::parse(KEK_B, None).expect("valid");
        assert!(matches!(
            wrong.open("t", "p", &sealed),
            Err(OpenError::UnknownKek(_))
        ));
        assert!(!format!("{rotated:?}").contains(KEK_A));
    }

    #[test]
    fn malformed_keks_are_refused() {
        assert_eq!(
            KeyRing::parse("not base64!", None).err(),
            Some(KekError::NotBase64)
        );
        assert_eq!(
            KeyRing::parse("AAEC", None).err(),
            Some(KekError::WrongLength(3))
        );
        assert_eq!(
            KeyRing::parse("", None).err(),
            Some(KekError::WrongLength(0))
        );
        assert!(KeyRing::parse(KEK_A, Some("AAEC")).is_err());
    }
}
