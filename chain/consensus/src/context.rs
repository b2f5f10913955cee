//! Weft's types for Malachite's Tendermint core: heights, validator addresses, the decided value
//! (a block id), proposals and votes signed with ed25519 over domain-tagged borsh, and the
//! committee (validator set) with round-robin proposer selection.

use arc_malachitebft_core_types as mc;
use borsh::{BorshDeserialize, BorshSerialize};
use mc::{NilOrVal, Round, VoteType};
use std::fmt;
use weft_types::{ChainId, Hash32, PublicKey, domain_hash};

/// Domain tag of proposal signatures.
pub const PROPOSAL_DOMAIN: &str = "weft/consensus/proposal/v1";
/// Domain tag of vote signatures.
pub const VOTE_DOMAIN: &str = "weft/consensus/vote/v1";

/// A block height; the first block is 1.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl mc::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A committee member, named by its ed25519 public key.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct ValidatorAddress(pub [u8; 32]);

impl From<PublicKey> for ValidatorAddress {
    fn from(key: PublicKey) -> Self {
        Self(key.0)
    }
}

impl fmt::Display for ValidatorAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(&self.0[..6]))
    }
}

impl mc::Address for ValidatorAddress {}

/// What consensus decides: the id (hash) of a proposed block. The block itself travels apart and
/// is checked by the host before it tells consensus the value is valid.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
)]
pub struct BlockId(pub Hash32);

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl mc::Value for BlockId {
    type Id = BlockId;

    fn id(&self) -> BlockId {
        *self
    }
}

fn round_i64(round: Round) -> i64 {
    round.as_i64()
}

/// A proposal: the proposer's choice of block for a height and round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// The height.
    pub height: Height,
    /// The round.
    pub round: Round,
    /// The proposed block.
    pub value: BlockId,
    /// The round of the proof of lock, if re-proposing (`Round::Nil` otherwise).
    pub pol_round: Round,
    /// The proposer.
    pub proposer: ValidatorAddress,
}

impl Proposal {
    /// The 32 bytes the proposer signs.
    pub fn sign_bytes(&self, chain: &ChainId) -> Hash32 {
        let body = (
            self.height.0,
            round_i64(self.round),
            self.value,
            round_i64(self.pol_round),
            self.proposer,
        );
        let bytes = borsh::to_vec(&body).expect("borsh encoding into a Vec cannot fail");
        domain_hash(PROPOSAL_DOMAIN, &[chain.0.as_bytes(), &bytes])
    }
}

impl mc::Proposal<WeftContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &BlockId {
        &self.value
    }

    fn take_value(self) -> BlockId {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.proposer
    }
}

/// A prevote or precommit for a block (or for nil).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    /// Prevote or precommit.
    pub vote_type: VoteType,
    /// The height.
    pub height: Height,
    /// The round.
    pub round: Round,
    /// The block voted for, or nil.
    pub value: NilOrVal<BlockId>,
    /// The voter.
    pub validator: ValidatorAddress,
}

impl Vote {
    /// The 32 bytes the voter signs. Prevotes and precommits differ in their first byte.
    pub fn sign_bytes(&self, chain: &ChainId) -> Hash32 {
        let kind: u8 = match self.vote_type {
            VoteType::Prevote => 1,
            VoteType::Precommit => 2,
        };
        let value = match self.value {
            NilOrVal::Nil => None,
            NilOrVal::Val(id) => Some(id),
        };
        let body = (
            kind,
            self.height.0,
            round_i64(self.round),
            value,
            self.validator,
        );
        let bytes = borsh::to_vec(&body).expect("borsh encoding into a Vec cannot fail");
        domain_hash(VOTE_DOMAIN, &[chain.0.as_bytes(), &bytes])
    }
}

impl mc::Vote<WeftContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<BlockId> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<BlockId> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.vote_type
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.validator
    }

    fn extension(&self) -> Option<&mc::SignedExtension<WeftContext>> {
        None
    }

    fn take_extension(&mut self) -> Option<mc::SignedExtension<WeftContext>> {
        None
    }

    // Weft uses no vote extensions; the policy given to the core is `Disabled`.
    fn extend(self, _extension: mc::SignedExtension<WeftContext>) -> Self {
        self
    }
}

/// An ed25519 signature, ordered by its bytes (the core keeps signatures in ordered sets).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(0x{}…)", hex::encode(&self.0[..8]))
    }
}

/// Why bytes are not a signature or a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected} bytes, got {got}")]
pub struct DecodingError {
    expected: usize,
    got: usize,
}

/// ed25519 as the committee's signing scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ed25519;

impl mc::SigningScheme for Ed25519 {
    type DecodingError = DecodingError;
    type Signature = Signature;
    type PublicKey = PublicKey;
    /// The secret seed; signing happens in [`crate::Consensus`], never through the core.
    type PrivateKey = [u8; 32];

    fn decode_signature(bytes: &[u8]) -> Result<Signature, DecodingError> {
        bytes.try_into().map(Signature).map_err(|_| DecodingError {
            expected: 64,
            got: bytes.len(),
        })
    }

    fn encode_signature(signature: &Signature) -> Vec<u8> {
        signature.0.to_vec()
    }

    fn decode_public_key(bytes: &[u8]) -> Result<PublicKey, DecodingError> {
        bytes.try_into().map(PublicKey).map_err(|_| DecodingError {
            expected: 32,
            got: bytes.len(),
        })
    }

    fn encode_public_key(key: &PublicKey) -> Vec<u8> {
        key.0.to_vec()
    }
}

/// A committee member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    /// Its address (its public key's bytes).
    pub address: ValidatorAddress,
    /// Its public key.
    pub public_key: PublicKey,
    /// Its voting power.
    pub power: u64,
}

impl Validator {
    /// A member with `public_key` and `power`.
    pub fn new(public_key: PublicKey, power: u64) -> Self {
        Self {
            address: public_key.into(),
            public_key,
            power,
        }
    }
}

impl mc::Validator<WeftContext> for Validator {
    fn address(&self) -> &ValidatorAddress {
        &self.address
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn voting_power(&self) -> u64 {
        self.power
    }
}

/// The committee, sorted by address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
    total: u64,
}

impl ValidatorSet {
    /// A committee of `validators` (any order; duplicates by address are an error).
    pub fn new(mut validators: Vec<Validator>) -> Result<Self, String> {
        validators.sort_by_key(|v| v.address);
        if let Some(pair) = validators.windows(2).find(|p| p[0].address == p[1].address) {
            return Err(format!("validator {} appears twice", pair[0].address));
        }
        if validators.is_empty() {
            return Err("a committee needs at least one validator".into());
        }
        let total = validators
            .iter()
            .try_fold(0u64, |sum, v| sum.checked_add(v.power))
            .ok_or("total voting power overflows u64")?;
        Ok(Self { validators, total })
    }

    /// The members, by address.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }
}

impl mc::ValidatorSet<WeftContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> u64 {
        self.total
    }

    fn get_by_address(&self, address: &ValidatorAddress) -> Option<&Validator> {
        self.validators
            .binary_search_by_key(address, |v| v.address)
            .ok()
            .map(|i| &self.validators[i])
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// Blocks travel whole, outside the consensus messages, so there are no proposal parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoParts;

impl mc::ProposalPart<WeftContext> for NoParts {
    fn is_first(&self) -> bool {
        true
    }

    fn is_last(&self) -> bool {
        true
    }
}

/// Weft's consensus context: the chain id every signature is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeftContext {
    /// The chain.
    pub chain_id: ChainId,
}

impl mc::Context for WeftContext {
    type Address = ValidatorAddress;
    type Height = Height;
    type ProposalPart = NoParts;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = mc::LinearTimeouts;
    type Value = BlockId;
    type Vote = Vote;
    type Extension = ();
    type SigningScheme = Ed25519;

    /// Round-robin over the committee in address order, shifted by height, so every member
    /// proposes in turn and a silent proposer costs one round.
    fn select_proposer<'a>(
        &self,
        validator_set: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        let n = validator_set.validators.len() as u64;
        let round = u64::from(round.as_u32().unwrap_or(0));
        let index = (height.0.wrapping_add(round) % n) as usize;
        &validator_set.validators[index]
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockId,
        pol_round: Round,
        address: ValidatorAddress,
    ) -> Proposal {
        Proposal {
            height,
            round,
            value,
            pol_round,
            proposer: address,
        }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockId>,
        address: ValidatorAddress,
    ) -> Vote {
        Vote {
            vote_type: VoteType::Prevote,
            height,
            round,
            value: value_id,
            validator: address,
        }
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockId>,
        address: ValidatorAddress,
    ) -> Vote {
        Vote {
            vote_type: VoteType::Precommit,
            height,
            round,
            value: value_id,
            validator: address,
        }
    }
}
