//! Tangle blocks: what they hold, how they are identified and signed, and the checks that need no
//! other block.

use crate::error::{Error, Result};
use borsh::{BorshDeserialize, BorshSerialize};
use weft_types::{
    Keypair, PublicKey, Registration, Rotation, Signature, Signed, StatementId, TangleBlockId,
    domain_hash,
};

/// The only protocol version so far.
pub const PROTOCOL_VERSION: u8 = 1;
/// Largest encoded block.
pub const MAX_BLOCK_BYTES: usize = 32 * 1024;
/// Most parents of a block.
pub const MAX_PARENTS: usize = 8;
/// Longest network id and data tag.
pub const MAX_NAME: usize = 64;
/// Domain tag of block ids.
pub const BLOCK_DOMAIN: &str = "weft/tangle/block/v1";
const SIGN_DOMAIN: &str = "weft/tangle/block-signing/v1";
const POW_DOMAIN: &str = "weft/tangle/pow/v1";

/// What a block carries.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Payload {
    /// Nothing: a validator's block that only approves its parents.
    Validation,
    /// Data anyone may post: an audit record, a document hash.
    Data {
        /// A short label, such as `audit` or `doc-hash`.
        tag: String,
        /// The bytes.
        data: Vec<u8>,
    },
    /// A chain's state anchor, signed by its committee.
    Anchor(Signed<weft_types::Anchor>),
    /// A chain's registration with its first committee, signed by that committee.
    Registration(Signed<Registration>),
    /// A handover to a new committee, signed by the old one.
    Rotation(Signed<Rotation>),
}

impl Payload {
    /// The payload's kind, for logs and JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Validation => "validation",
            Payload::Data { .. } => "data",
            Payload::Anchor(_) => "anchor",
            Payload::Registration(_) => "registration",
            Payload::Rotation(_) => "rotation",
        }
    }

    /// The id of the statement it carries, if any.
    pub fn statement_id(&self) -> Option<StatementId> {
        match self {
            Payload::Anchor(s) => Some(s.statement.id()),
            Payload::Registration(s) => {
                Some(weft_types::Statement::Registration(s.statement.clone()).id())
            }
            Payload::Rotation(s) => Some(weft_types::Statement::Rotation(s.statement.clone()).id()),
            _ => None,
        }
    }
}

/// The signed part of a block.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Essence {
    /// [`PROTOCOL_VERSION`].
    pub version: u8,
    /// The Tangle network; blocks of other networks are refused.
    pub network_id: String,
    /// 1 to 8 parents, sorted and unique.
    pub parents: Vec<TangleBlockId>,
    /// Who issued it.
    pub issuer: PublicKey,
    /// When, in milliseconds since the Unix epoch, by the issuer's clock.
    pub issued_at_ms: u64,
    /// What it carries.
    pub payload: Payload,
}

/// A Tangle block.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Block {
    /// What the issuer signed.
    pub essence: Essence,
    /// The proof-of-work nonce (not signed, so work can be done after signing).
    pub nonce: u64,
    /// The issuer's signature of the essence.
    pub signature: Signature,
}

impl Essence {
    /// The digest the issuer signs.
    pub fn signing_digest(&self) -> weft_types::Hash32 {
        let bytes = borsh::to_vec(self).expect("borsh encoding into a Vec cannot fail");
        domain_hash(SIGN_DOMAIN, &[&bytes])
    }
}

/// Leading zero bits of a hash.
fn leading_zeros(bytes: &[u8; 32]) -> u32 {
    let mut zeros = 0;
    for b in bytes {
        if *b == 0 {
            zeros += 8;
        } else {
            return zeros + b.leading_zeros();
        }
    }
    zeros
}

fn pow_bits(digest: &weft_types::Hash32, nonce: u64) -> u32 {
    leading_zeros(&domain_hash(POW_DOMAIN, &[&digest.0, &nonce.to_le_bytes()]).0)
}

impl Block {
    /// Signs `essence` with `key` (which must be its issuer) and finds a nonce with `difficulty`
    /// leading zero bits of proof of work.
    pub fn issue(essence: Essence, key: &Keypair, difficulty: u8) -> Block {
        let digest = essence.signing_digest();
        let signature = key.sign_hash(&digest);
        let nonce = (0u64..)
            .find(|n| pow_bits(&digest, *n) >= u32::from(difficulty))
            .expect("some nonce below 2^64 meets any difficulty up to 255 bits in practice");
        Block {
            essence,
            nonce,
            signature,
        }
    }

    /// The block's id: blake3 over [`BLOCK_DOMAIN`] and its whole encoding.
    pub fn id(&self) -> TangleBlockId {
        TangleBlockId(domain_hash(BLOCK_DOMAIN, &[&self.encode()]).0)
    }

    /// The borsh encoding.
    pub fn encode(&self) -> Vec<u8> {
        borsh::to_vec(self).expect("borsh encoding into a Vec cannot fail")
    }

    /// Decodes a block, refusing more than [`MAX_BLOCK_BYTES`] and trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Block> {
        if bytes.len() > MAX_BLOCK_BYTES {
            return Err(Error::TooLarge {
                size: bytes.len(),
                max: MAX_BLOCK_BYTES,
            });
        }
        borsh::from_slice(bytes).map_err(|e| Error::Malformed(e.to_string()))
    }

    /// The proof of work's leading zero bits.
    pub fn pow(&self) -> u32 {
        pow_bits(&self.essence.signing_digest(), self.nonce)
    }

    /// Every check that needs no other block: version, network, parents, names, size, issuing time
    /// (at most `max_drift_ms` ahead of `now_ms`), signature and proof of work (`difficulty`, for
    /// issuers that are not validators). Returns the block with its id.
    pub fn verify(
        self,
        network_id: &str,
        now_ms: u64,
        max_drift_ms: u64,
        difficulty: Option<u8>,
    ) -> Result<VerifiedBlock> {
        let e = &self.essence;
        if e.version != PROTOCOL_VERSION {
            return Err(Error::Version(e.version));
        }
        if e.network_id != network_id {
            return Err(Error::Network {
                got: e.network_id.clone(),
                expected: network_id.to_string(),
            });
        }
        if e.parents.is_empty() || e.parents.len() > MAX_PARENTS {
            return Err(Error::Parents(format!(
                "a block has 1 to {MAX_PARENTS} parents, this one has {}",
                e.parents.len()
            )));
        }
        if e.parents.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::Parents(
                "parents must be sorted and appear once".into(),
            ));
        }
        if e.issued_at_ms > now_ms.saturating_add(max_drift_ms) {
            return Err(Error::FromTheFuture {
                issued_at_ms: e.issued_at_ms,
                now_ms,
            });
        }
        if let Payload::Data { tag, .. } = &e.payload
            && tag.len() > MAX_NAME
        {
            return Err(Error::Malformed(format!(
                "the data tag has {} bytes; at most {MAX_NAME} are allowed",
                tag.len()
            )));
        }
        let encoded = self.encode();
        if encoded.len() > MAX_BLOCK_BYTES {
            return Err(Error::TooLarge {
                size: encoded.len(),
                max: MAX_BLOCK_BYTES,
            });
        }
        let digest = e.signing_digest();
        weft_types::verify_hash(&e.issuer, &digest, &self.signature)
            .map_err(|_| Error::Signature(e.issuer))?;
        if let Some(difficulty) = difficulty {
            let bits = pow_bits(&digest, self.nonce);
            if bits < u32::from(difficulty) {
                return Err(Error::Pow {
                    bits,
                    needed: difficulty,
                });
            }
        }
        let id = TangleBlockId(domain_hash(BLOCK_DOMAIN, &[&encoded]).0);
        Ok(VerifiedBlock { block: self, id })
    }
}

/// A block that passed [`Block::verify`]; only these enter the Tangle.
#[derive(Debug, Clone)]
pub struct VerifiedBlock {
    pub(crate) block: Block,
    pub(crate) id: TangleBlockId,
}

impl VerifiedBlock {
    /// The block.
    pub fn block(&self) -> &Block {
        &self.block
    }

    /// Its id.
    pub fn id(&self) -> TangleBlockId {
        self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn essence(key: &Keypair, parents: Vec<TangleBlockId>) -> Essence {
        Essence {
            version: PROTOCOL_VERSION,
            network_id: "net".into(),
            parents,
            issuer: key.public_key(),
            issued_at_ms: 1_000,
            payload: Payload::Data {
                tag: "audit".into(),
                data: vec![1, 2, 3],
            },
        }
    }

    #[test]
    fn checks_say_what_is_wrong() {
        let key = Keypair::from_seed([1; 32]);
        let ok = Block::issue(essence(&key, vec![TangleBlockId::GENESIS]), &key, 0);
        assert!(ok.clone().verify("net", 1_000, 0, Some(0)).is_ok());
        assert!(matches!(
            ok.clone().verify("other", 1_000, 0, None),
            Err(Error::Network { .. })
        ));
        assert!(matches!(
            ok.clone().verify("net", 500, 100, None),
            Err(Error::FromTheFuture { .. })
        ));
        let mut forged = ok.clone();
        forged.essence.issued_at_ms = 900;
        assert!(matches!(
            forged.verify("net", 1_000, 0, None),
            Err(Error::Signature(_))
        ));
        let unsorted = Block::issue(
            essence(&key, vec![TangleBlockId([2; 32]), TangleBlockId([1; 32])]),
            &key,
            0,
        );
        assert!(matches!(
            unsorted.verify("net", 1_000, 0, None),
            Err(Error::Parents(_))
        ));
        let none = Block::issue(essence(&key, vec![]), &key, 0);
        assert!(matches!(
            none.verify("net", 1_000, 0, None),
            Err(Error::Parents(_))
        ));
        let mut big = essence(&key, vec![TangleBlockId::GENESIS]);
        big.payload = Payload::Data {
            tag: "x".into(),
            data: vec![0; MAX_BLOCK_BYTES],
        };
        assert!(matches!(
            Block::issue(big, &key, 0).verify("net", 1_000, 0, None),
            Err(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn proof_of_work_is_checked_for_non_validators() {
        let key = Keypair::from_seed([1; 32]);
        let worked = Block::issue(essence(&key, vec![TangleBlockId::GENESIS]), &key, 8);
        assert!(worked.pow() >= 8);
        assert!(worked.clone().verify("net", 1_000, 0, Some(8)).is_ok());
        let mut lazy = worked;
        lazy.nonce = (0..)
            .find(|n| pow_bits(&lazy.essence.signing_digest(), *n) < 8)
            .unwrap();
        assert!(matches!(
            lazy.verify("net", 1_000, 0, Some(8)),
            Err(Error::Pow { needed: 8, .. })
        ));
    }

    proptest! {
        #[test]
        fn blocks_round_trip(seed in any::<[u8; 32]>(), data in proptest::collection::vec(any::<u8>(), 0..256), time in any::<u64>()) {
            let key = Keypair::from_seed(seed);
            let mut e = essence(&key, vec![TangleBlockId::GENESIS, TangleBlockId([9; 32])]);
            e.issued_at_ms = time;
            e.payload = Payload::Data { tag: "t".into(), data };
            let block = Block::issue(e, &key, 0);
            let decoded = Block::decode(&block.encode()).unwrap();
            prop_assert_eq!(decoded.id(), block.id());
            prop_assert_eq!(decoded, block);
        }
    }
}
