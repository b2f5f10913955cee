//! State roots and proofs, verifiable anywhere.

use borsh::{BorshDeserialize, BorshSerialize};
use jmt::proof::SparseMerkleProof;
use jmt::{KeyHash, RootHash, SimpleHasher};
use weft_types::Hash32;

/// The tree's hasher: blake3.
#[derive(Clone)]
pub struct Blake3(blake3::Hasher);

impl SimpleHasher for Blake3 {
    fn new() -> Self {
        Self(blake3::Hasher::new())
    }

    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finalize(self) -> [u8; 32] {
        *self.0.finalize().as_bytes()
    }
}

/// The root of the state tree at some version.
pub type StateRoot = Hash32;

pub(crate) fn key_hash(key: &[u8]) -> KeyHash {
    KeyHash::with::<Blake3>(key)
}

/// Proof that `key` has `value` (or, with `None`, no value) in the state whose root is `root`.
#[derive(BorshSerialize, BorshDeserialize)]
pub struct StateProof {
    /// The key.
    pub key: Vec<u8>,
    /// Its value, or `None` for a proof of absence.
    pub value: Option<Vec<u8>>,
    /// The Merkle path from the key's leaf (or the empty slot) to the root.
    pub proof: SparseMerkleProof<Blake3>,
}

impl std::fmt::Debug for StateProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateProof")
            .field("key", &hex(&self.key))
            .field("value", &self.value.as_deref().map(hex))
            .finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The proof is for another key.
    #[error("the proof is for key 0x{proved}, not for the requested key 0x{requested}")]
    WrongKey {
        /// Key in the proof.
        proved: String,
        /// Key asked about.
        requested: String,
    },
    /// The proof does not lead to the trusted root, or its value does not match.
    #[error("the proof does not match state root {root}: {reason}")]
    Mismatch {
        /// The trusted root.
        root: StateRoot,
        /// What did not match.
        reason: String,
    },
}

impl StateProof {
    /// Checks that the proof shows `self.value` under `self.key` for the trusted `root`.
    pub fn verify(&self, root: &StateRoot) -> Result<(), ProofError> {
        self.proof
            .verify(RootHash(root.0), key_hash(&self.key), self.value.as_deref())
            .map_err(|e| ProofError::Mismatch {
                root: *root,
                reason: e.to_string(),
            })
    }

    /// Checks that the proof is about `key` and holds for `root`; returns the proven value.
    pub fn verify_key(&self, root: &StateRoot, key: &[u8]) -> Result<Option<&[u8]>, ProofError> {
        if self.key != key {
            return Err(ProofError::WrongKey {
                proved: hex(&self.key),
                requested: hex(key),
            });
        }
        self.verify(root)?;
        Ok(self.value.as_deref())
    }
}
