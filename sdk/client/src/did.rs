//! DID resolution with proofs, and its verification without trusting the node.
//!
//! A node answers `did_resolve` with the W3C DID Resolution result and a [`DidProof`]: the height
//! and state root the result was read at, the committee's anchor of that height, and JMT proofs of
//! the identity contract's storage entries it rests on (the DID's record, the version returned,
//! and the next version when the returned one is not the latest; for `versionTime`, every version
//! the bisection probed).
//! [`verify_resolution`] repeats the resolution from the proven entries alone: committee → anchor
//! → state root → proofs → records → document, and says which step failed. A [`DidVerifier`]
//! does the same for many resolutions, remembering the anchors it checked and refusing old state.
//!
//! Documents are checked with the identity contract's own rules before they are sent, and a
//! `did:key` resolves without any node:
//!
//! ```
//! use weft_types::did::{
//!     AUTHENTICATION, CAPABILITY_INVOCATION, Document, KeyFormat, KeyType, VerificationMethod,
//! };
//!
//! let document = Document {
//!     methods: vec![VerificationMethod {
//!         fragment: "key-1".into(),
//!         key_type: KeyType::Ed25519,
//!         format: KeyFormat::Multikey,
//!         public_key: [7; 32],
//!         relationships: AUTHENTICATION | CAPABILITY_INVOCATION,
//!     }],
//!     ..Document::default()
//! };
//! document.check()?;
//! // Without a capabilityInvocation key or a controller, nobody could ever update it:
//! let mut locked = document.clone();
//! locked.methods[0].relationships = AUTHENTICATION;
//! assert!(locked.check().unwrap_err().to_string().contains("nobody could update it"));
//!
//! let did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";
//! let result = weft_client::did::resolve_did_key(did);
//! let doc = result.did_document.expect("a did:key always resolves");
//! assert_eq!(doc.verification_method[0].id, format!("{did}#{}", &did[8..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Resolving a `did:weft` with verification needs a node: see [`crate::Client::resolve_did_verified`].

use serde::{Deserialize, Serialize};
pub use weft_did::{DidDocument, ResolutionResult, resolve_did_key};
use weft_types::did::{self as model, Did, DidRecord, DidVersion};
use weft_types::{Committee, ContractId, Hash32};

use crate::json::{AnchorJson, StateResult, hex_id};
use crate::verify::{LightClientError, VerifyError, verify_anchor, verify_state};

/// Resolution options (`versionId` or `versionTime`, not both).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResolveOptions {
    /// A version number, as a decimal string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// An RFC 3339 datetime: the version in effect then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_time: Option<String>,
    /// The representation asked for (`application/did-resolution`, the default, or
    /// `application/did+ld+json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<String>,
}

/// What a resolution rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DidProof {
    /// The height read.
    pub height: u64,
    /// Its state root.
    #[serde(with = "hex_id")]
    pub state_root: Hash32,
    /// The identity contract.
    #[serde(with = "hex_id")]
    pub contract: ContractId,
    /// The committee's anchor of `height` (absent on a chain without anchoring).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<AnchorJson>,
    /// The proven storage entries: the record, then the versions.
    pub entries: Vec<StateResult>,
}

/// `did_resolve`'s answer: the DID Resolution result and, for `did:weft`, its proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DidResolution {
    /// The W3C DID Resolution result.
    #[serde(flatten)]
    pub result: ResolutionResult,
    /// What it rests on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<DidProof>,
}

/// Which step of verifying a resolution failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DidVerifyError {
    /// The DID is not a `did:weft` DID of the chain.
    #[error("step 0 (DID): {0}")]
    Did(String),
    /// The answer carries no proof.
    #[error("step 0 (proof): the answer carries no proof; ask a Weft node's did_resolve")]
    NoProof,
    /// The node could not resolve (and so proves nothing).
    #[error("step 0 (proof): the node answered without a proof: {0}")]
    Unproven(String),
    /// The proof is not for the identity contract.
    #[error(
        "step 0 (proof): the proof is for contract {got}, not the identity contract {expected}"
    )]
    WrongContract {
        /// The identity contract's id.
        expected: ContractId,
        /// The proof's.
        got: ContractId,
    },
    /// The committee or the anchor failed.
    #[error("{0}")]
    Anchor(#[from] LightClientError),
    /// The answer rests on a height far below one already seen: old state.
    #[error(
        "step 3 (freshness): the answer rests on height {height}, but height {seen} was seen before; the node serves old state"
    )]
    Stale {
        /// The answer's anchored height.
        height: u64,
        /// The highest height seen.
        seen: u64,
    },
    /// An entry the resolution needs is missing from the proof.
    #[error("step 4 (proof): the proof has no entry for {0}")]
    MissingEntry(String),
    /// An entry's proof failed.
    #[error("step 4 (proof): {what}: {error}")]
    Entry {
        /// Which entry.
        what: String,
        /// Why.
        error: VerifyError,
    },
    /// A proven value does not decode as the contract's record.
    #[error("step 5 (records): {0}")]
    Records(String),
    /// The served result differs from the one the proven state gives.
    #[error(
        "step 6 (document): the served resolution result differs from the one the proven state gives"
    )]
    Mismatch {
        /// The result computed from the proven state.
        proven: Box<ResolutionResult>,
    },
}

/// Verifies `answer` for `did` (resolved with `options`) against `committee` of chain `chain`,
/// and returns the result computed from the proven state: the document, its metadata, or the
/// proven `notFound`.
pub fn verify_resolution(
    answer: &DidResolution,
    did: &str,
    options: &ResolveOptions,
    chain: &str,
    committee: &Committee,
) -> Result<ResolutionResult, DidVerifyError> {
    verify_with(answer, did, options, chain, committee, None)
}

/// Verifies resolutions against one committee, remembering the anchors whose signatures it has
/// checked (many resolutions rest on the same anchor, and its signatures are most of the cost)
/// and the highest anchored height it has seen.
///
/// **Freshness.** Any anchor the committee ever signed verifies, so a node could answer with the
/// state of long ago (before a key was rotated or the DID deactivated). A verifier refuses an
/// answer anchored more than `max_lag` heights below the highest it has seen, and below a floor
/// the caller sets from a source it trusts ([`DidVerifier::require_height`], for example the
/// latest anchor read from another node or the Tangle).
#[derive(Debug)]
pub struct DidVerifier {
    chain: String,
    committee: Committee,
    anchors: std::sync::Mutex<std::collections::VecDeque<weft_types::StatementId>>,
    highest: std::sync::atomic::AtomicU64,
    max_lag: u64,
}

/// Heights an answer may trail the highest one a [`DidVerifier`] has seen (nodes of one committee
/// anchor within a block or two of each other).
pub const DEFAULT_MAX_LAG: u64 = 16;

/// How many verified anchors a [`DidVerifier`] remembers.
const REMEMBERED_ANCHORS: usize = 64;

impl DidVerifier {
    /// A verifier for `chain` governed by `committee` (from the chain's genesis file).
    pub fn new(chain: impl Into<String>, committee: Committee) -> Self {
        Self {
            chain: chain.into(),
            committee,
            anchors: Default::default(),
            highest: Default::default(),
            max_lag: DEFAULT_MAX_LAG,
        }
    }

    /// Allows answers to trail the highest height seen by `max_lag` heights.
    pub fn with_max_lag(mut self, max_lag: u64) -> Self {
        self.max_lag = max_lag;
        self
    }

    /// Refuses answers anchored more than `max_lag` below `height` from now on.
    pub fn require_height(&self, height: u64) {
        self.highest
            .fetch_max(height, std::sync::atomic::Ordering::Relaxed);
    }

    /// The highest anchored height seen.
    pub fn highest(&self) -> u64 {
        self.highest.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// [`verify_resolution`], skipping the signature check of an anchor verified before.
    pub fn verify(
        &self,
        answer: &DidResolution,
        did: &str,
        options: &ResolveOptions,
    ) -> Result<ResolutionResult, DidVerifyError> {
        verify_with(
            answer,
            did,
            options,
            &self.chain,
            &self.committee,
            Some(self),
        )
    }

    fn knows(&self, id: &weft_types::StatementId) -> bool {
        self.anchors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(id)
    }

    fn remember(&self, id: weft_types::StatementId) {
        let mut anchors = self.anchors.lock().unwrap_or_else(|e| e.into_inner());
        if anchors.len() == REMEMBERED_ANCHORS {
            anchors.pop_front();
        }
        anchors.push_back(id);
    }
}

fn verify_with(
    answer: &DidResolution,
    did: &str,
    options: &ResolveOptions,
    chain: &str,
    committee: &Committee,
    cache: Option<&DidVerifier>,
) -> Result<ResolutionResult, DidVerifyError> {
    let parsed: Did = did
        .parse()
        .map_err(|e: model::DidParseError| DidVerifyError::Did(e.to_string()))?;
    if parsed.chain != chain {
        return Err(DidVerifyError::Did(format!(
            "{did} belongs to chain `{}`, not `{chain}`",
            parsed.chain
        )));
    }
    let proof = match (&answer.proof, &answer.result.did_resolution_metadata.error) {
        (Some(proof), _) => proof,
        (None, Some(problem)) => {
            return Err(DidVerifyError::Unproven(format!(
                "{}: {}",
                problem.title,
                problem.detail.as_deref().unwrap_or(&problem.kind)
            )));
        }
        (None, None) => return Err(DidVerifyError::NoProof),
    };
    let identity = ContractId::system("identity");
    if proof.contract != identity {
        return Err(DidVerifyError::WrongContract {
            expected: identity,
            got: proof.contract,
        });
    }
    // Steps 1 to 3: the anchor is the committee's, for this height and root.
    let anchor_json = proof
        .anchor
        .as_ref()
        .ok_or(LightClientError::NoAnchor(proof.height))?;
    // An anchor's id commits to all of its fields, so one already verified needs no second
    // signature check; its chain and epoch were checked then too.
    let anchor = match anchor_json.signed() {
        Ok(signed) if cache.is_some_and(|c| c.knows(&signed.statement.id())) => signed.statement,
        _ => {
            let anchor = verify_anchor(anchor_json, chain, committee)?;
            if let Some(c) = cache {
                c.remember(anchor.id());
            }
            anchor
        }
    };
    if anchor.height != proof.height {
        return Err(LightClientError::WrongHeight {
            answer: proof.height,
            anchor: anchor.height,
        }
        .into());
    }
    if anchor.state_root != proof.state_root {
        return Err(LightClientError::WrongRoot {
            anchored: anchor.state_root,
            got: proof.state_root,
        }
        .into());
    }
    if let Some(c) = cache {
        let seen = c
            .highest
            .fetch_max(anchor.height, std::sync::atomic::Ordering::Relaxed);
        if anchor.height.saturating_add(c.max_lag) < seen {
            return Err(DidVerifyError::Stale {
                height: anchor.height,
                seen,
            });
        }
    }
    let root = anchor.state_root;
    let id = parsed.id;
    // Step 4: each entry the resolution needs, proven against the anchored root.
    let entry = |what: String, key: Vec<u8>| -> Result<Option<Vec<u8>>, DidVerifyError> {
        let expected = crate::verify::storage_key(&identity, &key);
        let found = proof
            .entries
            .iter()
            .find(|e| e.key == expected)
            .ok_or_else(|| DidVerifyError::MissingEntry(what.clone()))?;
        if found.height != proof.height {
            return Err(DidVerifyError::Entry {
                what,
                error: VerifyError::Malformed(format!(
                    "the entry is for height {}, the proof for {}",
                    found.height, proof.height
                )),
            });
        }
        verify_state(found, &identity, &key, &root)
            .map_err(|error| DidVerifyError::Entry { what, error })
    };
    let decode_version = |n: u32| -> Result<DidVersion, DidVerifyError> {
        let bytes = entry(format!("version {n}"), model::storage::version_key(&id, n))?
            .ok_or_else(|| DidVerifyError::Records(format!("version {n} is proven absent")))?;
        borsh::from_slice(&bytes).map_err(|e| DidVerifyError::Records(format!("version {n}: {e}")))
    };
    let record = entry("the DID's record".into(), model::storage::record_key(&id))?
        .map(|bytes| {
            borsh::from_slice::<DidRecord>(&bytes)
                .map_err(|e| DidVerifyError::Records(format!("the record: {e}")))
        })
        .transpose()?;
    let query = weft_did::Query::parse(
        options.version_id.as_deref(),
        options.version_time.as_deref(),
    )
    .map_err(DidVerifyError::Records)?;
    let proven = weft_did::resolve_records(&parsed, record, query, decode_version)?;
    if !same_outcome(&proven, &answer.result) {
        return Err(DidVerifyError::Mismatch {
            proven: Box::new(proven),
        });
    }
    Ok(proven)
}

/// Two results agree when they carry the same document and metadata, and fail (if at all) for
/// the same reason; error details are free text and not compared.
fn same_outcome(a: &ResolutionResult, b: &ResolutionResult) -> bool {
    a.did_document == b.did_document
        && a.did_document_metadata == b.did_document_metadata
        && a.error_kind() == b.error_kind()
}

/// Why a verified resolution failed: the request, or the verification (with its step).
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The request to the node failed.
    #[error(transparent)]
    Request(#[from] crate::Error),
    /// The answer does not verify.
    #[error(transparent)]
    Verify(#[from] DidVerifyError),
}

/// Transactions of the identity contract, built and signed by a [`crate::Signer`] (the sender's
/// key signs; for a direct update it must be a capabilityInvocation key of the DID, for a proposal
/// or an approval one of the controller's). Send them with `Client::send_and_wait`; the receipt's
/// return data is the borsh result (the new DID's id, the new version, …).
pub mod tx {
    use crate::Signer;
    use weft_types::did::{DidId, Document, Op, proposal_hash};
    use weft_types::{ContractId, SignedTransaction};

    fn identity() -> ContractId {
        ContractId::system("identity")
    }

    fn encode<T: borsh::BorshSerialize>(args: &T) -> Vec<u8> {
        borsh::to_vec(args).expect("borsh encoding into a Vec cannot fail")
    }

    /// `create(document)`: a DID created by the sender; its id is
    /// `DidId::derive(sender, created_by(sender))`.
    pub fn create(signer: &mut Signer, document: &Document) -> SignedTransaction {
        signer.call(identity(), "create", encode(&(document,)))
    }

    /// `update(did, version, ops)`: `version` is the DID's current version.
    pub fn update(signer: &mut Signer, did: &DidId, version: u32, ops: &[Op]) -> SignedTransaction {
        signer.call(identity(), "update", encode(&(did, version, ops)))
    }

    /// `propose(did, controller, version, ops)`, as a controller of `did`.
    pub fn propose(
        signer: &mut Signer,
        did: &DidId,
        controller: &DidId,
        version: u32,
        ops: &[Op],
    ) -> SignedTransaction {
        signer.call(
            identity(),
            "propose",
            encode(&(did, controller, version, ops)),
        )
    }

    /// `approve(did, controller, proposal, content)`: approves proposal `proposal`, which was made
    /// for `version` with `ops` (what the approver read; the contract refuses other content).
    pub fn approve(
        signer: &mut Signer,
        did: &DidId,
        controller: &DidId,
        proposal: u32,
        version: u32,
        ops: &[Op],
    ) -> SignedTransaction {
        let content = proposal_hash(version, ops);
        signer.call(
            identity(),
            "approve",
            encode(&(did, controller, proposal, content)),
        )
    }
}
