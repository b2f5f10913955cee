//! [`Signer`]: an Ed25519 key and its verification method, the only way this crate signs.

use crate::error::Error;
use ed25519_dalek::Signer as _;

/// An Ed25519 key and the DID URL of its verification method: the only way this crate signs.
#[derive(Clone)]
pub struct Signer {
    key: ed25519_dalek::SigningKey,
    method: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// `key`, known to verifiers as verification method `method` (`did:…#fragment`).
    pub fn new(key: ed25519_dalek::SigningKey, method: impl Into<String>) -> Result<Self, Error> {
        let method = method.into();
        match method.split_once('#') {
            Some((did, fragment)) if did.starts_with("did:") && !fragment.is_empty() => {}
            _ => {
                return Err(Error::Invalid(format!(
                    "verification method {method:?} is not a DID URL with a fragment (did:…#key-1)"
                )));
            }
        }
        Ok(Self { key, method })
    }

    /// `key` as a `did:key` (its method is `did:key:z6Mk…#z6Mk…`).
    pub fn did_key(key: ed25519_dalek::SigningKey) -> Self {
        let multikey = weft_did::multikey(
            weft_types::did::KeyType::Ed25519,
            &key.verifying_key().to_bytes(),
        );
        Self {
            method: format!("did:key:{multikey}#{multikey}"),
            key,
        }
    }

    /// The verification method's DID URL.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The DID the key belongs to.
    pub fn did(&self) -> &str {
        self.method.split('#').next().unwrap_or_default()
    }

    /// The public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}
