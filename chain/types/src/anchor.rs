//! What a committee signs for the Tangle: anchors of its chain's state, the chain's registration
//! and committee rotations.
//!
//! A [`Statement`] has an id ([`StatementId`], blake3 over a domain tag per kind and the borsh
//! encoding) and is signed by the members of a [`Committee`]. A [`QuorumCertificate`] carries the
//! signatures as a bitmap over the committee's members (in key order) plus the signatures in that
//! order; [`Committee::verify`] accepts it only when members holding more than two thirds of the
//! power signed. This is all a light client needs: given the committee, an anchor's certificate
//! proves the anchored state root.

use crate::ids::BlockHash;
use crate::ids::domain_hash;
use crate::{ChainId, Hash32, PublicKey, Signature, StatementId};
use borsh::{BorshDeserialize, BorshSerialize};

/// Domain tag of anchor ids.
pub const ANCHOR_DOMAIN: &str = "weft/anchor/v1";
/// Domain tag of chain registration ids.
pub const REGISTRATION_DOMAIN: &str = "weft/chain-registration/v1";
/// Domain tag of committee rotation ids.
pub const ROTATION_DOMAIN: &str = "weft/committee-rotation/v1";
/// Most members of a committee (the certificate bitmap and the Tangle's approval bitmap fit in a
/// `u64`).
pub const MAX_COMMITTEE: usize = 64;

/// One member of a committee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CommitteeMember {
    /// Its ed25519 key.
    pub public_key: PublicKey,
    /// Its voting power.
    pub power: u64,
}

/// A chain's committee in one epoch: members sorted by key, unique, with positive power.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Committee {
    /// The epoch: 0 at registration, then one more per rotation.
    pub epoch: u64,
    /// The members, sorted by public key.
    pub members: Vec<CommitteeMember>,
}

impl Committee {
    /// A committee of `members` (any order) in `epoch`.
    pub fn new(epoch: u64, mut members: Vec<CommitteeMember>) -> Result<Self, QuorumError> {
        members.sort_by_key(|m| m.public_key);
        let committee = Self { epoch, members };
        committee.check()?;
        Ok(committee)
    }

    /// Checks the shape: 1..=64 members, sorted, unique, positive power without overflow.
    pub fn check(&self) -> Result<(), QuorumError> {
        if self.members.is_empty() || self.members.len() > MAX_COMMITTEE {
            return Err(QuorumError::BadCommittee(format!(
                "a committee has 1 to {MAX_COMMITTEE} members, this one has {}",
                self.members.len()
            )));
        }
        if self
            .members
            .windows(2)
            .any(|w| w[0].public_key >= w[1].public_key)
        {
            return Err(QuorumError::BadCommittee(
                "members must be sorted by public key and appear once".into(),
            ));
        }
        if self.members.iter().any(|m| m.power == 0) {
            return Err(QuorumError::BadCommittee(
                "every member needs a voting power above 0".into(),
            ));
        }
        self.members
            .iter()
            .try_fold(0u64, |sum, m| sum.checked_add(m.power))
            .ok_or_else(|| QuorumError::BadCommittee("total voting power overflows u64".into()))?;
        Ok(())
    }

    /// The sum of the members' power.
    pub fn total_power(&self) -> u64 {
        self.members.iter().map(|m| m.power).sum()
    }

    /// The least power that is more than two thirds of the total.
    pub fn quorum(&self) -> u64 {
        quorum_of(self.total_power())
    }

    /// The position of `key` among the members.
    pub fn index_of(&self, key: &PublicKey) -> Option<usize> {
        self.members
            .binary_search_by_key(key, |m| m.public_key)
            .ok()
    }
}

/// The least power that is more than two thirds of `total`.
pub fn quorum_of(total: u64) -> u64 {
    (u128::from(total) * 2 / 3 + 1) as u64
}

/// A commitment to a chain's state after one block, signed by the chain's committee.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Anchor {
    /// The chain.
    pub chain_id: ChainId,
    /// The anchor's position in the chain's anchor sequence: 1 for the first, then one more each.
    pub state_index: u64,
    /// The height of the anchored block.
    pub height: u64,
    /// The anchored block's hash.
    pub block_hash: BlockHash,
    /// The state root after that block.
    pub state_root: Hash32,
    /// The id of the previous anchor (zero for the first).
    pub prev_anchor: StatementId,
    /// The epoch of the committee that signs it.
    pub epoch: u64,
}

/// A chain's entry on the Tangle: its first committee (epoch 0), signed by that committee.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Registration {
    /// The chain.
    pub chain_id: ChainId,
    /// Its first committee.
    pub committee: Committee,
}

/// A handover to a new committee, signed by the old committee's quorum.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Rotation {
    /// The chain.
    pub chain_id: ChainId,
    /// The new committee; its epoch is the old one's plus 1.
    pub committee: Committee,
}

/// Something a committee signs.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Statement {
    /// A state anchor.
    Anchor(Anchor),
    /// A chain registration.
    Registration(Registration),
    /// A committee rotation.
    Rotation(Rotation),
}

impl Statement {
    /// The statement's id: what members sign.
    pub fn id(&self) -> StatementId {
        let (domain, bytes) = match self {
            Statement::Anchor(a) => (ANCHOR_DOMAIN, borsh::to_vec(a)),
            Statement::Registration(r) => (REGISTRATION_DOMAIN, borsh::to_vec(r)),
            Statement::Rotation(r) => (ROTATION_DOMAIN, borsh::to_vec(r)),
        };
        let bytes = bytes.expect("borsh encoding into a Vec cannot fail");
        StatementId(domain_hash(domain, &[&bytes]).0)
    }

    /// The chain it is about.
    pub fn chain_id(&self) -> &ChainId {
        match self {
            Statement::Anchor(a) => &a.chain_id,
            Statement::Registration(r) => &r.chain_id,
            Statement::Rotation(r) => &r.chain_id,
        }
    }
}

impl Anchor {
    /// The anchor's id.
    pub fn id(&self) -> StatementId {
        Statement::Anchor(self.clone()).id()
    }
}

/// Signatures of a committee's members over one statement id.
#[derive(Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
pub struct QuorumCertificate {
    /// Bit `i` (byte `i / 8`, bit `i % 8`) is set when member `i` signed.
    pub signers: Vec<u8>,
    /// The signatures, in member order.
    pub signatures: Vec<Signature>,
}

impl QuorumCertificate {
    /// The members (by index) whose signatures it holds.
    pub fn signer_indices(&self) -> Vec<usize> {
        (0..self.signers.len() * 8)
            .filter(|i| self.signers[i / 8] & (1 << (i % 8)) != 0)
            .collect()
    }

    /// A certificate from `(member index, signature)` pairs in any order; duplicates keep the first.
    pub fn from_signatures(
        members: usize,
        mut signatures: Vec<(usize, Signature)>,
    ) -> QuorumCertificate {
        signatures.sort_by_key(|(i, _)| *i);
        signatures.dedup_by_key(|(i, _)| *i);
        let mut signers = vec![0u8; members.div_ceil(8)];
        let mut out = Vec::with_capacity(signatures.len());
        for (i, signature) in signatures {
            if i < members {
                signers[i / 8] |= 1 << (i % 8);
                out.push(signature);
            }
        }
        QuorumCertificate {
            signers,
            signatures: out,
        }
    }
}

/// A statement with its committee's certificate.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Signed<T> {
    /// What was signed.
    pub statement: T,
    /// Who signed it.
    pub certificate: QuorumCertificate,
}

/// Why a committee's certificate is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuorumError {
    /// The committee itself is malformed.
    #[error("malformed committee: {0}")]
    BadCommittee(String),
    /// The bitmap does not fit the committee.
    #[error(
        "the signer bitmap has {got} bytes; a committee of {members} members needs {expected}, with no bits past the last member"
    )]
    BadBitmap {
        /// Bytes in the bitmap.
        got: usize,
        /// Bytes expected.
        expected: usize,
        /// Members in the committee.
        members: usize,
    },
    /// The bitmap and the signature list disagree.
    #[error("the bitmap names {named} signers but {given} signatures are attached")]
    CountMismatch {
        /// Signers named by the bitmap.
        named: usize,
        /// Signatures attached.
        given: usize,
    },
    /// A signature does not verify under the member's key: it was made by another committee,
    /// or over another statement.
    #[error(
        "the signature of member {index} ({key:?}) does not verify: it is from a different committee or over a different statement"
    )]
    BadSignature {
        /// The member's index.
        index: usize,
        /// The member's key.
        key: PublicKey,
    },
    /// Valid signatures, but not enough power.
    #[error(
        "too few signatures: members with power {signed} of {total} signed; more than two thirds ({needed}) is needed"
    )]
    TooFewSignatures {
        /// Power that signed.
        signed: u64,
        /// Total power.
        total: u64,
        /// Power needed.
        needed: u64,
    },
}

#[cfg(feature = "signing")]
impl Committee {
    /// Checks that `certificate` holds valid signatures over `id` by members with more than two
    /// thirds of the power. Returns the power that signed.
    pub fn verify(
        &self,
        id: &StatementId,
        certificate: &QuorumCertificate,
    ) -> Result<u64, QuorumError> {
        self.check()?;
        let members = self.members.len();
        let expected = members.div_ceil(8);
        let spare_bits = certificate
            .signers
            .last()
            .is_some_and(|last| !members.is_multiple_of(8) && last >> (members % 8) != 0);
        if certificate.signers.len() != expected || spare_bits {
            return Err(QuorumError::BadBitmap {
                got: certificate.signers.len(),
                expected,
                members,
            });
        }
        let indices = certificate.signer_indices();
        if indices.len() != certificate.signatures.len() {
            return Err(QuorumError::CountMismatch {
                named: indices.len(),
                given: certificate.signatures.len(),
            });
        }
        let digest = Hash32(id.0);
        let mut signed = 0u64;
        for (index, signature) in indices.into_iter().zip(&certificate.signatures) {
            let member = &self.members[index];
            crate::verify_hash(&member.public_key, &digest, signature).map_err(|_| {
                QuorumError::BadSignature {
                    index,
                    key: member.public_key,
                }
            })?;
            signed += member.power;
        }
        let (total, needed) = (self.total_power(), self.quorum());
        if signed < needed {
            return Err(QuorumError::TooFewSignatures {
                signed,
                total,
                needed,
            });
        }
        Ok(signed)
    }

    /// Signs `id` as member `key`: the `(index, signature)` pair for [`QuorumCertificate::from_signatures`].
    pub fn sign(&self, key: &crate::Keypair, id: &StatementId) -> Option<(usize, Signature)> {
        let index = self.index_of(&key.public_key())?;
        Some((index, key.sign_hash(&Hash32(id.0))))
    }
}

#[cfg(all(test, feature = "signing"))]
mod tests {
    use super::*;
    use crate::Keypair;
    use proptest::prelude::*;

    fn committee(seeds: &[u8]) -> (Committee, Vec<Keypair>) {
        let keys: Vec<Keypair> = seeds.iter().map(|s| Keypair::from_seed([*s; 32])).collect();
        let members = keys
            .iter()
            .map(|k| CommitteeMember {
                public_key: k.public_key(),
                power: 1,
            })
            .collect();
        (Committee::new(0, members).expect("distinct keys"), keys)
    }

    fn anchor() -> Anchor {
        Anchor {
            chain_id: ChainId("weft-devnet".into()),
            state_index: 7,
            height: 7,
            block_hash: Hash32([1; 32]),
            state_root: Hash32([2; 32]),
            prev_anchor: StatementId([3; 32]),
            epoch: 0,
        }
    }

    fn certify(c: &Committee, keys: &[Keypair], id: &StatementId) -> QuorumCertificate {
        let sigs = keys.iter().filter_map(|k| c.sign(k, id)).collect();
        QuorumCertificate::from_signatures(c.members.len(), sigs)
    }

    #[test]
    fn a_quorum_verifies_and_fewer_do_not() {
        let (c, keys) = committee(&[1, 2, 3, 4]);
        let id = anchor().id();
        assert_eq!(c.verify(&id, &certify(&c, &keys, &id)), Ok(4));
        assert_eq!(c.verify(&id, &certify(&c, &keys[..3], &id)), Ok(3));
        assert_eq!(
            c.verify(&id, &certify(&c, &keys[..2], &id)),
            Err(QuorumError::TooFewSignatures {
                signed: 2,
                total: 4,
                needed: 3
            })
        );
    }

    #[test]
    fn foreign_and_misplaced_signatures_are_refused() {
        let (c, keys) = committee(&[1, 2, 3, 4]);
        let (other, other_keys) = committee(&[5, 6, 7, 8]);
        let id = anchor().id();
        let foreign = certify(&other, &other_keys, &id);
        assert!(matches!(
            c.verify(&id, &foreign),
            Err(QuorumError::BadSignature { index: 0, .. })
        ));
        let mut other_anchor = anchor();
        other_anchor.state_index = 8;
        let good = certify(&c, &keys, &id);
        assert!(matches!(
            c.verify(&other_anchor.id(), &good),
            Err(QuorumError::BadSignature { .. })
        ));
        let mut missing = good.clone();
        missing.signatures.pop();
        assert_eq!(
            c.verify(&id, &missing),
            Err(QuorumError::CountMismatch { named: 4, given: 3 })
        );
        let mut spare = good;
        spare.signers[0] |= 0x80;
        assert!(matches!(
            c.verify(&id, &spare),
            Err(QuorumError::BadBitmap { .. })
        ));
    }

    #[test]
    fn statement_ids_differ_by_kind() {
        let (c, _) = committee(&[1]);
        let reg = Statement::Registration(Registration {
            chain_id: ChainId("a".into()),
            committee: c.clone(),
        });
        let rot = Statement::Rotation(Rotation {
            chain_id: ChainId("a".into()),
            committee: c,
        });
        assert_ne!(reg.id(), rot.id());
    }

    proptest! {
        #[test]
        fn signed_anchors_round_trip(index in any::<u64>(), root in any::<[u8; 32]>()) {
            let (c, keys) = committee(&[1, 2, 3]);
            let mut a = anchor();
            a.state_index = index;
            a.state_root = Hash32(root);
            let certificate = certify(&c, &keys, &a.id());
            let signed = Signed { statement: Statement::Anchor(a), certificate };
            let bytes = borsh::to_vec(&signed).unwrap();
            prop_assert_eq!(borsh::from_slice::<Signed<Statement>>(&bytes).unwrap(), signed);
        }
    }
}
