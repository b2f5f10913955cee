//! `weft-channels`: reading audit-trail channels by cryptography, and checking them.
//!
//! The channel contract enforces who may write; who may read is enforced here, with keys only in
//! their owners' hands (`weft_types::channel` explains the key epochs):
//! - [`EpochSecret`]: a key epoch's X25519 secret, made by the channel's author (or an admin).
//!   Writers [`seal`] payloads to its public key; the secret is [`wrap`]ped to each authorized
//!   reader's `keyAgreement` key and posted on chain; a reader [`unwrap`]s it with its own secret
//!   and [`open`]s the entries of that epoch.
//! - Sealing and wrapping are the same construction: an ephemeral X25519 key agreement, HKDF-SHA256
//!   over the shared secret bound to both public keys and the context (channel, epoch, reader),
//!   and XChaCha20-Poly1305 with a random nonce, the context as associated data. A sealed payload
//!   or a wrapped key moved to another channel, epoch or reader does not open.
//! - [`validate`] recomputes a channel's hash chain from its entries up to the proven head and
//!   names the first entry where it breaks; [`compare`] checks a copy (an export, a backup)
//!   against the proven entries and names the first one altered, moved, missing or added.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use rand_core::{OsRng, RngCore};
use sha2::Sha256;
use weft_types::Hash32;
use weft_types::channel::{Entry, WRAPPED_KEY_BYTES};
use weft_types::did::DidId;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

/// Why a payload or a key does not open, or a chain does not validate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelCryptoError {
    /// The bytes are not a sealed payload or a wrapped key.
    #[error("{0}")]
    Malformed(String),
    /// Authentication failed: another key, another context, or tampered bytes.
    #[error("cannot decrypt: {0}")]
    Decrypt(String),
}

/// A key epoch's X25519 secret. It never leaves its holders: the author keeps it, readers get
/// it wrapped to their own keys.
pub struct EpochSecret(StaticSecret);

impl EpochSecret {
    /// A new random secret.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(bytes.as_mut());
        Self(StaticSecret::from(*bytes))
    }

    /// The secret from its bytes (as unwrapped, or kept by the author).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(StaticSecret::from(bytes))
    }

    /// Its bytes, to keep it.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key writers seal to (posted on chain as the epoch key).
    pub fn public(&self) -> [u8; 32] {
        PublicKey::from(&self.0).to_bytes()
    }
}

/// A reader's (or any DID's) X25519 `keyAgreement` secret.
pub struct AgreementSecret(StaticSecret);

impl AgreementSecret {
    /// A new random key.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(bytes.as_mut());
        Self(StaticSecret::from(*bytes))
    }

    /// The key from its secret bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(StaticSecret::from(bytes))
    }

    /// Its secret bytes, to keep it in a key file.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key, for the DID document's `keyAgreement`.
    pub fn public(&self) -> [u8; 32] {
        PublicKey::from(&self.0).to_bytes()
    }
}

const EPHEMERAL: usize = 32;
const NONCE: usize = 24;
const TAG: usize = 16;

fn context(label: &str, channel: &Hash32, epoch: u32, reader: Option<&DidId>) -> Vec<u8> {
    let mut out = Vec::with_capacity(label.len() + 72);
    out.extend_from_slice(label.as_bytes());
    out.extend_from_slice(&channel.0);
    out.extend_from_slice(&epoch.to_be_bytes());
    if let Some(r) = reader {
        out.extend_from_slice(&r.0);
    }
    out
}

/// Encrypts `plaintext` to `recipient` (an X25519 public key) under `info`.
fn box_to(recipient: &[u8; 32], plaintext: &[u8], info: &[u8]) -> Vec<u8> {
    let mut ephemeral_bytes = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(ephemeral_bytes.as_mut());
    let ephemeral = StaticSecret::from(*ephemeral_bytes);
    let ephemeral_public = PublicKey::from(&ephemeral).to_bytes();
    let shared = ephemeral.diffie_hellman(&PublicKey::from(*recipient));
    let key = derive(shared.as_bytes(), &ephemeral_public, recipient, info);
    let mut nonce = [0u8; NONCE];
    OsRng.fill_bytes(&mut nonce);
    let ciphertext = XChaCha20Poly1305::new(key.as_ref().into())
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: info,
            },
        )
        .expect("XChaCha20-Poly1305 encrypts any message that fits in memory");
    let mut out = Vec::with_capacity(EPHEMERAL + NONCE + ciphertext.len());
    out.extend_from_slice(&ephemeral_public);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out
}

/// Decrypts what [`box_to`] made for `secret`'s public key under `info`.
fn open_box(
    secret: &StaticSecret,
    boxed: &[u8],
    info: &[u8],
) -> Result<Vec<u8>, ChannelCryptoError> {
    if boxed.len() < EPHEMERAL + NONCE + TAG {
        return Err(ChannelCryptoError::Malformed(format!(
            "{} bytes are too few for a sealed message (at least {})",
            boxed.len(),
            EPHEMERAL + NONCE + TAG
        )));
    }
    let ephemeral: [u8; 32] = boxed[..EPHEMERAL].try_into().unwrap_or_default();
    let nonce = &boxed[EPHEMERAL..EPHEMERAL + NONCE];
    let recipient = PublicKey::from(secret).to_bytes();
    let shared = secret.diffie_hellman(&PublicKey::from(ephemeral));
    let key = derive(shared.as_bytes(), &ephemeral, &recipient, info);
    XChaCha20Poly1305::new(key.as_ref().into())
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: &boxed[EPHEMERAL + NONCE..],
                aad: info,
            },
        )
        .map_err(|_| {
            ChannelCryptoError::Decrypt(
                "not sealed to this key for this channel and epoch, or altered".into(),
            )
        })
}

fn derive(
    shared: &[u8],
    ephemeral: &[u8; 32],
    recipient: &[u8; 32],
    info: &[u8],
) -> Zeroizing<[u8; 32]> {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(ephemeral);
    salt[32..].copy_from_slice(recipient);
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(&salt), shared)
        .expand(info, key.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    key
}

/// Seals `payload` for key epoch `epoch` of `channel`, whose public key is `epoch_key`.
pub fn seal(channel: &Hash32, epoch: u32, epoch_key: &[u8; 32], payload: &[u8]) -> Vec<u8> {
    box_to(
        epoch_key,
        payload,
        &context("weft/channel/seal/v1", channel, epoch, None),
    )
}

/// Opens a payload sealed for key epoch `epoch` of `channel` with that epoch's secret.
pub fn open(
    channel: &Hash32,
    epoch: u32,
    secret: &EpochSecret,
    sealed: &[u8],
) -> Result<Vec<u8>, ChannelCryptoError> {
    open_box(
        &secret.0,
        sealed,
        &context("weft/channel/seal/v1", channel, epoch, None),
    )
}

/// Wraps epoch `epoch`'s secret of `channel` for `reader`, whose `keyAgreement` key is
/// `reader_key`: [`WRAPPED_KEY_BYTES`] bytes to post on chain.
pub fn wrap(
    channel: &Hash32,
    epoch: u32,
    secret: &EpochSecret,
    reader: &DidId,
    reader_key: &[u8; 32],
) -> Vec<u8> {
    let bytes = Zeroizing::new(secret.to_bytes());
    let wrapped = box_to(
        reader_key,
        bytes.as_ref(),
        &context("weft/channel/wrap/v1", channel, epoch, Some(reader)),
    );
    debug_assert_eq!(wrapped.len(), WRAPPED_KEY_BYTES);
    wrapped
}

/// Unwraps an epoch secret wrapped for `reader` with the reader's own `keyAgreement` secret.
pub fn unwrap(
    channel: &Hash32,
    epoch: u32,
    reader: &DidId,
    reader_secret: &AgreementSecret,
    wrapped: &[u8],
) -> Result<EpochSecret, ChannelCryptoError> {
    let bytes = Zeroizing::new(open_box(
        &reader_secret.0,
        wrapped,
        &context("weft/channel/wrap/v1", channel, epoch, Some(reader)),
    )?);
    let secret: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
        ChannelCryptoError::Malformed(format!("an epoch secret has 32 bytes, not {}", bytes.len()))
    })?;
    Ok(EpochSecret::from_bytes(secret))
}

/// Where a channel's entries stop matching their hash chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {index}: {reason}")]
pub struct Mismatch {
    /// The first entry (by position in what was checked) that does not match.
    pub index: u64,
    /// Why.
    pub reason: String,
}

/// Checks that `entries` are a channel's entries from the first, in order, each linked to the
/// one before by hash, the last one's hash being `head` (the channel record's, read with a state
/// proof). Names the first entry that does not match.
pub fn validate(entries: &[Entry], head: &Hash32) -> Result<(), Mismatch> {
    let mut prev = Hash32::default();
    for (position, entry) in entries.iter().enumerate() {
        let position = position as u64;
        if entry.index != position {
            return Err(Mismatch {
                index: position,
                reason: format!(
                    "says it is entry {} (entries missing, reordered or inserted)",
                    entry.index
                ),
            });
        }
        if entry.prev != prev {
            return Err(Mismatch {
                index: position,
                reason: format!(
                    "links to {}, but the entry before hashes to {prev} (an entry before it was altered, removed or moved)",
                    entry.prev
                ),
            });
        }
        prev = entry.hash();
    }
    if &prev != head {
        let index = entries.len().saturating_sub(1) as u64;
        return Err(Mismatch {
            index,
            reason: format!(
                "the chain ends at {prev}, but the channel's proven head is {head} (the last entry was altered, or entries are missing at the end)"
            ),
        });
    }
    Ok(())
}

/// Compares a copy of a channel's entries (an export, a backup) with the entries read with
/// proofs ([`validate`] them first), and names the first entry of the copy that differs:
/// altered, moved, missing or added.
pub fn compare(copy: &[Entry], proven: &[Entry]) -> Result<(), Mismatch> {
    for (position, entry) in copy.iter().enumerate() {
        let index = position as u64;
        match proven.get(position) {
            Some(original) if original == entry => {}
            Some(_) => {
                let reason = match proven.iter().position(|p| p == entry) {
                    Some(at) => format!("is entry {at} of the channel, moved here"),
                    None => "differs from the proven entry at this position (altered)".into(),
                };
                return Err(Mismatch { index, reason });
            }
            None => {
                return Err(Mismatch {
                    index,
                    reason: format!("is not in the channel, which has {} entries", proven.len()),
                });
            }
        }
    }
    if copy.len() < proven.len() {
        return Err(Mismatch {
            index: copy.len() as u64,
            reason: format!(
                "is missing: the copy ends after {} of the channel's {} entries",
                copy.len(),
                proven.len()
            ),
        });
    }
    Ok(())
}
