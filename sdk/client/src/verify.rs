//! Checking values a node served against a state root.

use weft_state::{ProofError, StateProof};
use weft_types::{ContractId, Hash32};

use crate::json::StateResult;

/// Why a served value cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The proof bytes do not decode.
    #[error("the proof is malformed: {0}")]
    Malformed(String),
    /// The answer is about another key than the one asked for.
    #[error("the answer is for state key 0x{got}, not 0x{asked}")]
    WrongKey {
        /// The key asked for.
        asked: String,
        /// The key answered.
        got: String,
    },
    /// The value in the answer is not the value the proof proves.
    #[error("the value served differs from the value in the proof")]
    ValueMismatch,
    /// The answer's root is not the trusted root.
    #[error("the answer is against root {got}, not the trusted root {trusted}")]
    WrongRoot {
        /// The trusted root.
        trusted: Hash32,
        /// The root in the answer.
        got: Hash32,
    },
    /// The proof does not verify.
    #[error(transparent)]
    Proof(#[from] ProofError),
}

/// The state key of `contract`'s storage `key` (the node's layout: `s` + contract id + key).
pub fn storage_key(contract: &ContractId, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(33 + key.len());
    out.push(b's');
    out.extend_from_slice(&contract.0);
    out.extend_from_slice(key);
    out
}

/// Verifies a `weft_getState` answer for `contract`'s storage `key` against `trusted_root`, and
/// returns the proven value (`None`: the key is proven absent).
pub fn verify_state(
    answer: &StateResult,
    contract: &ContractId,
    key: &[u8],
    trusted_root: &Hash32,
) -> Result<Option<Vec<u8>>, VerifyError> {
    let expected_key = storage_key(contract, key);
    if answer.key != expected_key {
        return Err(VerifyError::WrongKey {
            asked: hex::encode(&expected_key),
            got: hex::encode(&answer.key),
        });
    }
    if &answer.state_root != trusted_root {
        return Err(VerifyError::WrongRoot {
            trusted: *trusted_root,
            got: answer.state_root,
        });
    }
    let proof: StateProof =
        borsh::from_slice(&answer.proof).map_err(|e| VerifyError::Malformed(e.to_string()))?;
    let proven = proof
        .verify_key(trusted_root, &expected_key)
        .map_err(|e| match e {
            ProofError::WrongKey { proved, requested } => VerifyError::WrongKey {
                asked: requested,
                got: proved,
            },
            other => VerifyError::Proof(other),
        })?;
    if proven != answer.value.as_deref() {
        return Err(VerifyError::ValueMismatch);
    }
    Ok(proven.map(<[u8]>::to_vec))
}
