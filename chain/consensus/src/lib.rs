//! `weft-consensus`: the committee's BFT consensus.
//!
//! Weft runs Tendermint through Malachite's formally specified, I/O-free core
//! (`arc-malachitebft-core-consensus`). [`context`] gives it Weft's types: heights, validators
//! named by ed25519 public keys, the decided value (a block id), and proposals and votes signed
//! over domain-tagged borsh bound to the chain id.

pub mod context;
pub mod driver;
pub mod wal;
pub mod wire;

pub use context::{
    BlockId, Ed25519, Height, NoParts, Proposal, Signature, Validator, ValidatorAddress,
    ValidatorSet, Vote, WeftContext,
};
pub use driver::{Action, Consensus, ConsensusError, Message, SignedRecord, verify_commit};
pub use wal::{Recovered, Wal, WalRecord};
pub use wire::{Frame, Status, StoredCertificate, WalEntry, WireError, WireMessage};
