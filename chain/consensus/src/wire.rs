//! Byte encodings of what consensus sends, logs and stores: signed messages on the wire, entries
//! of the write-ahead log, and the compact commit certificate kept with each block (a signer
//! bitmap over the committee plus the signatures, in committee order).
//!
//! All are borsh. Decoding never panics: bad bytes are an error that says what was wrong.

use crate::WeftContext;
use crate::context::{BlockId, Height, Proposal, Signature, ValidatorAddress, ValidatorSet, Vote};
use crate::driver::Message;
use arc_malachitebft_core_consensus::{Input, ProposedValue, SignedConsensusMsg};
use arc_malachitebft_core_types::{
    CommitCertificate, CommitSignature, NilOrVal, Round, SignedMessage, Timeout, TimeoutKind,
    Validity, ValueOrigin, VoteType,
};
use borsh::{BorshDeserialize, BorshSerialize};

/// Why bytes are not a consensus message, log entry or certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not the borsh encoding of the expected type.
    #[error("not a valid {what}: {reason}")]
    Decode {
        /// What was expected.
        what: &'static str,
        /// Why it does not decode.
        reason: String,
    },
    /// A field out of range.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

fn round_from(r: i64) -> Result<Round, WireError> {
    match r {
        -1 => Ok(Round::Nil),
        r if (0..=i64::from(u32::MAX)).contains(&r) => Ok(Round::new(r as u32)),
        r => Err(WireError::Invalid {
            what: "round",
            reason: format!("{r} is neither -1 (nil) nor a u32"),
        }),
    }
}

/// A signed proposal or vote as sent between members.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum WireMessage {
    /// A signed proposal.
    Proposal {
        /// Height.
        height: u64,
        /// Round.
        round: i64,
        /// The proposed block.
        value: BlockId,
        /// Proof-of-lock round, -1 for none.
        pol_round: i64,
        /// The proposer.
        proposer: ValidatorAddress,
        /// Its signature.
        signature: Signature,
    },
    /// A signed prevote (kind 1) or precommit (kind 2).
    Vote {
        /// 1 prevote, 2 precommit.
        kind: u8,
        /// Height.
        height: u64,
        /// Round.
        round: i64,
        /// The block voted for; `None` is nil.
        value: Option<BlockId>,
        /// The voter.
        validator: ValidatorAddress,
        /// Its signature.
        signature: Signature,
    },
}

impl WireMessage {
    /// The wire form of a message.
    pub fn from_message(message: &Message) -> Self {
        match message {
            SignedConsensusMsg::Proposal(p) => WireMessage::Proposal {
                height: p.message.height.0,
                round: p.message.round.as_i64(),
                value: p.message.value,
                pol_round: p.message.pol_round.as_i64(),
                proposer: p.message.proposer,
                signature: p.signature,
            },
            SignedConsensusMsg::Vote(v) => WireMessage::Vote {
                kind: match v.message.vote_type {
                    VoteType::Prevote => 1,
                    VoteType::Precommit => 2,
                },
                height: v.message.height.0,
                round: v.message.round.as_i64(),
                value: match v.message.value {
                    NilOrVal::Nil => None,
                    NilOrVal::Val(id) => Some(id),
                },
                validator: v.message.validator,
                signature: v.signature,
            },
        }
    }

    /// The message, if every field is in range (signatures are checked by consensus).
    pub fn to_message(&self) -> Result<Message, WireError> {
        Ok(match self {
            WireMessage::Proposal {
                height,
                round,
                value,
                pol_round,
                proposer,
                signature,
            } => SignedConsensusMsg::Proposal(SignedMessage::new(
                Proposal {
                    height: Height(*height),
                    round: round_from(*round)?,
                    value: *value,
                    pol_round: round_from(*pol_round)?,
                    proposer: *proposer,
                },
                *signature,
            )),
            WireMessage::Vote {
                kind,
                height,
                round,
                value,
                validator,
                signature,
            } => SignedConsensusMsg::Vote(SignedMessage::new(
                Vote {
                    vote_type: match kind {
                        1 => VoteType::Prevote,
                        2 => VoteType::Precommit,
                        k => {
                            return Err(WireError::Invalid {
                                what: "vote",
                                reason: format!("kind {k}; expected 1 (prevote) or 2 (precommit)"),
                            });
                        }
                    },
                    height: Height(*height),
                    round: round_from(*round)?,
                    value: value.map_or(NilOrVal::Nil, NilOrVal::Val),
                    validator: *validator,
                },
                *signature,
            )),
        })
    }

    /// The height the message is for.
    pub fn height(&self) -> u64 {
        match self {
            WireMessage::Proposal { height, .. } | WireMessage::Vote { height, .. } => *height,
        }
    }

    /// The round the message is for.
    pub fn round(&self) -> i64 {
        match self {
            WireMessage::Proposal { round, .. } | WireMessage::Vote { round, .. } => *round,
        }
    }

    /// Its sender.
    pub fn sender(&self) -> ValidatorAddress {
        match self {
            WireMessage::Proposal { proposer, .. } => *proposer,
            WireMessage::Vote { validator, .. } => *validator,
        }
    }

    /// Decodes a message.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        borsh::from_slice(bytes).map_err(|e| WireError::Decode {
            what: "consensus message",
            reason: e.to_string(),
        })
    }
}

/// What a member sends another over the consensus direct link.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Frame {
    /// A signed proposal or vote (its own or, in repair, another member's).
    Message(WireMessage),
    /// The commit certificate of the height the receiver is still at (state repair: it usually
    /// holds the block and only lacks the votes).
    Commit(StoredCertificate),
}

impl Frame {
    /// Decodes a frame.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        borsh::from_slice(bytes).map_err(|e| WireError::Decode {
            what: "consensus frame",
            reason: e.to_string(),
        })
    }

    /// Its encoding.
    pub fn encode(&self) -> Vec<u8> {
        borsh::to_vec(self).expect("borsh encoding into a Vec cannot fail")
    }
}

/// A member's consensus state, sent to every other member when it changes and periodically, so
/// that each can send it what it lacks.
#[derive(Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Status {
    /// The height it runs.
    pub height: u64,
    /// Its round.
    pub round: i64,
    /// Whether it holds this round's proposal and the proposed block.
    pub has_proposal: bool,
    /// Bit `i` (byte `i / 8`, bit `i % 8`) is set when it holds member `i`'s prevote of this round.
    pub prevotes: Vec<u8>,
    /// The same for precommits.
    pub precommits: Vec<u8>,
}

impl Status {
    /// Decodes a status of a committee of `members`.
    pub fn decode(bytes: &[u8], members: usize) -> Result<Self, WireError> {
        let status: Status = borsh::from_slice(bytes).map_err(|e| WireError::Decode {
            what: "status",
            reason: e.to_string(),
        })?;
        let want = members.div_ceil(8);
        if status.prevotes.len() != want || status.precommits.len() != want {
            return Err(WireError::Invalid {
                what: "status",
                reason: format!(
                    "vote bitmaps of {} and {} bytes; a committee of {members} needs {want}",
                    status.prevotes.len(),
                    status.precommits.len()
                ),
            });
        }
        round_from(status.round)?;
        Ok(status)
    }

    /// Its encoding.
    pub fn encode(&self) -> Vec<u8> {
        borsh::to_vec(self).expect("borsh encoding into a Vec cannot fail")
    }

    /// Whether bit `i` of `bitmap` is set.
    pub fn has(bitmap: &[u8], i: usize) -> bool {
        bitmap.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
    }

    /// Sets bit `i` of `bitmap`.
    pub fn set(bitmap: &mut [u8], i: usize) {
        if let Some(b) = bitmap.get_mut(i / 8) {
            *b |= 1 << (i % 8);
        }
    }
}

/// One entry of the write-ahead log: an input the core asked to persist.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum WalEntry {
    /// A proposal or vote (received or this member's own).
    Message(WireMessage),
    /// A timeout that elapsed: 0 propose, 1 prevote, 2 precommit, 3 rebroadcast, 4 finalize
    /// height (after `duration_ms`).
    Timeout {
        /// Kind.
        kind: u8,
        /// Round.
        round: i64,
        /// The finalize-height timeout's duration; 0 for the others.
        duration_ms: u64,
    },
    /// A proposed block and whether it was found valid.
    ProposedValue {
        /// Height.
        height: u64,
        /// Round.
        round: i64,
        /// Proof-of-lock round.
        valid_round: i64,
        /// Proposer.
        proposer: ValidatorAddress,
        /// The block.
        value: BlockId,
        /// Whether it is valid.
        valid: bool,
        /// Whether it came from sync rather than consensus.
        sync: bool,
    },
}

impl WalEntry {
    /// The entry for an input, or `None` for inputs Weft does not log (certificates it never
    /// gossips).
    pub fn from_input(input: &Input<WeftContext>) -> Option<Self> {
        Some(match input {
            Input::Vote(v) => WalEntry::Message(WireMessage::from_message(
                &SignedConsensusMsg::Vote(v.clone()),
            )),
            Input::Proposal(p) => WalEntry::Message(WireMessage::from_message(
                &SignedConsensusMsg::Proposal(p.clone()),
            )),
            Input::TimeoutElapsed(t) => {
                let (kind, duration_ms) = match t.kind {
                    TimeoutKind::Propose => (0, 0),
                    TimeoutKind::Prevote => (1, 0),
                    TimeoutKind::Precommit => (2, 0),
                    TimeoutKind::Rebroadcast => (3, 0),
                    TimeoutKind::FinalizeHeight(d) => (4, d.as_millis() as u64),
                };
                WalEntry::Timeout {
                    kind,
                    round: t.round.as_i64(),
                    duration_ms,
                }
            }
            Input::ProposedValue(v, origin) => WalEntry::ProposedValue {
                height: v.height.0,
                round: v.round.as_i64(),
                valid_round: v.valid_round.as_i64(),
                proposer: v.proposer,
                value: v.value,
                valid: v.validity.is_valid(),
                sync: matches!(origin, ValueOrigin::Sync),
            },
            _ => return None,
        })
    }

    /// The input to replay.
    pub fn to_input(&self) -> Result<Input<WeftContext>, WireError> {
        Ok(match self {
            WalEntry::Message(m) => match m.to_message()? {
                SignedConsensusMsg::Vote(v) => Input::Vote(v),
                SignedConsensusMsg::Proposal(p) => Input::Proposal(p),
            },
            WalEntry::Timeout {
                kind,
                round,
                duration_ms,
            } => Input::TimeoutElapsed(Timeout {
                kind: match kind {
                    0 => TimeoutKind::Propose,
                    1 => TimeoutKind::Prevote,
                    2 => TimeoutKind::Precommit,
                    3 => TimeoutKind::Rebroadcast,
                    4 => {
                        TimeoutKind::FinalizeHeight(std::time::Duration::from_millis(*duration_ms))
                    }
                    k => {
                        return Err(WireError::Invalid {
                            what: "timeout",
                            reason: format!("kind {k}; expected 0..=4"),
                        });
                    }
                },
                round: round_from(*round)?,
            }),
            WalEntry::ProposedValue {
                height,
                round,
                valid_round,
                proposer,
                value,
                valid,
                sync,
            } => Input::ProposedValue(
                ProposedValue {
                    height: Height(*height),
                    round: round_from(*round)?,
                    valid_round: round_from(*valid_round)?,
                    proposer: *proposer,
                    value: *value,
                    validity: Validity::from_bool(*valid),
                },
                if *sync {
                    ValueOrigin::Sync
                } else {
                    ValueOrigin::Consensus
                },
            ),
        })
    }
}

/// A commit certificate as stored with its block and served to other nodes and clients: the
/// round, the block, a bitmap of which committee members (in address order) signed, and their
/// precommit signatures in the same order.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct StoredCertificate {
    /// Height.
    pub height: u64,
    /// The round the block was decided in.
    pub round: u32,
    /// The block's hash.
    pub block: BlockId,
    /// Bit `i` (byte `i / 8`, bit `i % 8`) is set when member `i` signed.
    pub signers: Vec<u8>,
    /// The signatures of the set bits, in order.
    pub signatures: Vec<Signature>,
}

impl StoredCertificate {
    /// The compact form of `certificate` over `validators`. Signatures by non-members are
    /// dropped (a certificate from consensus has none).
    pub fn compact(
        certificate: &CommitCertificate<WeftContext>,
        validators: &ValidatorSet,
    ) -> Self {
        let members = validators.validators();
        let mut signers = vec![0u8; members.len().div_ceil(8)];
        let mut by_index = std::collections::BTreeMap::new();
        for s in &certificate.commit_signatures {
            if let Ok(i) = members.binary_search_by_key(&s.address, |v| v.address) {
                by_index.entry(i).or_insert(s.signature);
            }
        }
        for i in by_index.keys() {
            signers[i / 8] |= 1 << (i % 8);
        }
        Self {
            height: certificate.height.0,
            round: certificate.round.as_u32().unwrap_or(0),
            block: certificate.value_id,
            signers,
            signatures: by_index.into_values().collect(),
        }
    }

    /// The committee members who signed, in address order.
    pub fn signer_indices(&self) -> Vec<usize> {
        (0..self.signers.len() * 8)
            .filter(|i| self.signers[i / 8] & (1 << (i % 8)) != 0)
            .collect()
    }

    /// The full certificate over `validators` (check it with [`crate::verify_commit`]).
    pub fn expand(
        &self,
        validators: &ValidatorSet,
    ) -> Result<CommitCertificate<WeftContext>, WireError> {
        let members = validators.validators();
        let indices = self.signer_indices();
        if self.signers.len() != members.len().div_ceil(8) {
            return Err(WireError::Invalid {
                what: "commit certificate",
                reason: format!(
                    "the signer bitmap has {} bytes; a committee of {} needs {}",
                    self.signers.len(),
                    members.len(),
                    members.len().div_ceil(8)
                ),
            });
        }
        if let Some(i) = indices.iter().find(|i| **i >= members.len()) {
            return Err(WireError::Invalid {
                what: "commit certificate",
                reason: format!(
                    "signer bit {i} is set but the committee has {} members",
                    members.len()
                ),
            });
        }
        if indices.len() != self.signatures.len() {
            return Err(WireError::Invalid {
                what: "commit certificate",
                reason: format!(
                    "{} signer bits are set but {} signatures are given",
                    indices.len(),
                    self.signatures.len()
                ),
            });
        }
        Ok(CommitCertificate {
            height: Height(self.height),
            round: Round::new(self.round),
            value_id: self.block,
            commit_signatures: indices
                .iter()
                .zip(&self.signatures)
                .map(|(i, s)| CommitSignature::new(members[*i].address, *s))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn a_status_round_trips_and_wrong_bitmaps_are_refused() {
        let mut status = Status {
            height: 7,
            round: 1,
            has_proposal: true,
            prevotes: vec![0],
            precommits: vec![0],
        };
        Status::set(&mut status.prevotes, 3);
        let back = Status::decode(&status.encode(), 4).unwrap();
        assert_eq!(back, status);
        assert!(Status::has(&back.prevotes, 3) && !Status::has(&back.prevotes, 2));
        let e = Status::decode(&status.encode(), 9).unwrap_err().to_string();
        assert!(e.contains("a committee of 9 needs 2"), "{e}");
        status.round = -7;
        assert!(Status::decode(&status.encode(), 4).is_err());
        assert!(Status::decode(b"junk", 4).is_err());
    }

    #[test]
    fn a_frame_round_trips() {
        let frame = Frame::Commit(StoredCertificate {
            height: 3,
            round: 0,
            block: BlockId(Hash32([5; 32])),
            signers: vec![0b111],
            signatures: vec![Signature([1; 64]); 3],
        });
        assert_eq!(Frame::decode(&frame.encode()).unwrap(), frame);
        let e = Frame::decode(&[9, 9]).unwrap_err().to_string();
        assert!(e.contains("consensus frame"), "{e}");
    }
    use crate::context::Validator;
    use weft_types::{Hash32, Keypair};

    fn committee(n: u8) -> (Vec<Keypair>, ValidatorSet) {
        let keys: Vec<Keypair> = (0..n).map(|i| Keypair::from_seed([i + 1; 32])).collect();
        let set = ValidatorSet::new(
            keys.iter()
                .map(|k| Validator::new(k.public_key(), 1))
                .collect(),
        )
        .unwrap();
        (keys, set)
    }

    #[test]
    fn messages_and_wal_entries_round_trip() {
        let vote = WireMessage::Vote {
            kind: 2,
            height: 7,
            round: 1,
            value: Some(BlockId(Hash32([3; 32]))),
            validator: ValidatorAddress([4; 32]),
            signature: Signature([5; 64]),
        };
        let proposal = WireMessage::Proposal {
            height: 7,
            round: 0,
            value: BlockId(Hash32([3; 32])),
            pol_round: -1,
            proposer: ValidatorAddress([4; 32]),
            signature: Signature([6; 64]),
        };
        for m in [vote, proposal] {
            let bytes = borsh::to_vec(&m).unwrap();
            assert_eq!(WireMessage::decode(&bytes).unwrap(), m);
            assert_eq!(WireMessage::from_message(&m.to_message().unwrap()), m);
            let entry = WalEntry::Message(m);
            assert_eq!(
                WalEntry::from_input(&entry.to_input().unwrap()).unwrap(),
                entry
            );
        }
        for entry in [
            WalEntry::Timeout {
                kind: 1,
                round: 3,
                duration_ms: 0,
            },
            WalEntry::Timeout {
                kind: 4,
                round: 0,
                duration_ms: 250,
            },
            WalEntry::ProposedValue {
                height: 2,
                round: 1,
                valid_round: -1,
                proposer: ValidatorAddress([1; 32]),
                value: BlockId(Hash32([2; 32])),
                valid: true,
                sync: false,
            },
        ] {
            assert_eq!(
                WalEntry::from_input(&entry.to_input().unwrap()).unwrap(),
                entry
            );
        }
    }

    #[test]
    fn bad_bytes_and_ranges_are_errors() {
        assert!(matches!(
            WireMessage::decode(&[9, 9]),
            Err(WireError::Decode { .. })
        ));
        let bad_kind = WireMessage::Vote {
            kind: 7,
            height: 1,
            round: 0,
            value: None,
            validator: ValidatorAddress([0; 32]),
            signature: Signature([0; 64]),
        };
        assert!(
            bad_kind
                .to_message()
                .unwrap_err()
                .to_string()
                .contains("kind 7")
        );
        let bad_round = WireMessage::Proposal {
            height: 1,
            round: -5,
            value: BlockId::default(),
            pol_round: -1,
            proposer: ValidatorAddress([0; 32]),
            signature: Signature([0; 64]),
        };
        assert!(
            bad_round
                .to_message()
                .unwrap_err()
                .to_string()
                .contains("-5")
        );
    }

    #[test]
    fn certificates_compact_to_a_bitmap_and_expand_back() {
        let (keys, set) = committee(10);
        let chain = weft_types::ChainId("c".into());
        let block = BlockId(Hash32([9; 32]));
        let signatures = keys
            .iter()
            .take(7)
            .map(|k| {
                let vote = Vote {
                    vote_type: VoteType::Precommit,
                    height: Height(5),
                    round: Round::new(2),
                    value: NilOrVal::Val(block),
                    validator: k.public_key().into(),
                };
                CommitSignature::new(
                    vote.validator,
                    Signature(k.sign_hash(&vote.sign_bytes(&chain)).0),
                )
            })
            .collect();
        let full = CommitCertificate {
            height: Height(5),
            round: Round::new(2),
            value_id: block,
            commit_signatures: signatures,
        };
        let stored = StoredCertificate::compact(&full, &set);
        assert_eq!(stored.signers.len(), 2);
        assert_eq!(stored.signer_indices().len(), 7);
        let expanded = stored.expand(&set).unwrap();
        crate::verify_commit(&expanded, &set, Default::default(), &chain).unwrap();
        let mut missing = stored.clone();
        missing.signatures.pop();
        assert!(
            missing
                .expand(&set)
                .unwrap_err()
                .to_string()
                .contains("7 signer bits")
        );
        let mut outside = stored.clone();
        outside.signers[1] |= 0x80;
        outside.signatures.push(Signature([0; 64]));
        assert!(
            outside
                .expand(&set)
                .unwrap_err()
                .to_string()
                .contains("bit 15")
        );
    }
}
