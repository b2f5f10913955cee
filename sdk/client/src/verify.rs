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

/// Which step of light-client verification failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LightClientError {
    /// The answer carries no anchor for its height.
    #[error(
        "the answer carries no anchor: height {0} is not anchored (yet); ask for an anchored height"
    )]
    NoAnchor(u64),
    /// The anchor is about another chain.
    #[error("step 1 (chain): the anchor is for chain `{got}`, not `{expected}`")]
    WrongChain {
        /// The chain expected.
        expected: String,
        /// The anchor's chain.
        got: String,
    },
    /// The anchor is signed by another epoch's committee than the one given.
    #[error(
        "step 1 (epoch): the anchor is signed in epoch {got}; the committee given is epoch {expected}"
    )]
    WrongEpoch {
        /// The committee's epoch.
        expected: u64,
        /// The anchor's.
        got: u64,
    },
    /// The anchor's certificate does not verify against the committee.
    #[error("step 2 (signatures): {0}")]
    Signatures(#[from] weft_types::QuorumError),
    /// The anchor does not decode.
    #[error("step 2 (signatures): the anchor is malformed: {0}")]
    MalformedAnchor(String),
    /// The answer is about another height than its anchor.
    #[error(
        "step 3 (root): the answer is for height {answer} but its anchor is for height {anchor}"
    )]
    WrongHeight {
        /// The answer's height.
        answer: u64,
        /// The anchor's.
        anchor: u64,
    },
    /// The answer's root is not the anchored root.
    #[error("step 3 (root): the answer's state root {got} is not the anchored root {anchored}")]
    WrongRoot {
        /// The anchored root.
        anchored: Hash32,
        /// The answer's root.
        got: Hash32,
    },
    /// The value or proof does not check against the anchored root.
    #[error("step 4 (proof): {0}")]
    Proof(#[from] VerifyError),
}

/// Verifies an anchor against a committee the caller trusts (for example from the chain's genesis
/// file): the chain, the epoch, and signatures of more than two thirds of the power.
pub fn verify_anchor(
    anchor: &crate::json::AnchorJson,
    chain: &str,
    committee: &weft_types::Committee,
) -> Result<weft_types::Anchor, LightClientError> {
    if anchor.chain_id != chain {
        return Err(LightClientError::WrongChain {
            expected: chain.to_string(),
            got: anchor.chain_id.clone(),
        });
    }
    if anchor.epoch != committee.epoch {
        return Err(LightClientError::WrongEpoch {
            expected: committee.epoch,
            got: anchor.epoch,
        });
    }
    let signed = anchor.signed().map_err(LightClientError::MalformedAnchor)?;
    committee.verify(&signed.statement.id(), &signed.certificate)?;
    Ok(signed.statement)
}

/// Verifies a `weft_getState` answer without trusting the node: the anchor's signatures against
/// `committee`, then the answer's root against the anchored root, then the JMT proof of
/// `contract`'s storage `key` (inclusion or exclusion). Returns the proven value.
pub fn verify_anchored_state(
    answer: &StateResult,
    chain: &str,
    committee: &weft_types::Committee,
    contract: &ContractId,
    key: &[u8],
) -> Result<Option<Vec<u8>>, LightClientError> {
    let anchor_json = answer
        .anchor
        .as_ref()
        .ok_or(LightClientError::NoAnchor(answer.height))?;
    let anchor = verify_anchor(anchor_json, chain, committee)?;
    if anchor.height != answer.height {
        return Err(LightClientError::WrongHeight {
            answer: answer.height,
            anchor: anchor.height,
        });
    }
    if anchor.state_root != answer.state_root {
        return Err(LightClientError::WrongRoot {
            anchored: anchor.state_root,
            got: answer.state_root,
        });
    }
    Ok(verify_state(answer, contract, key, &anchor.state_root)?)
}
