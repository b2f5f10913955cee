//! `weft-tangle`: the small Tangle every Weft node embeds, where committees anchor their chains'
//! state so anyone can check it.
//!
//! - [`Block`] (in [`block`]): parents, issuer, issuing time, a [`Payload`] (validation, data,
//!   anchor, chain registration, committee rotation), nonce and signature. [`Block::verify`] does
//!   every check that needs no other block and yields a [`VerifiedBlock`].
//! - [`Tangle`] (in [`tangle`]): the state machine. It takes verified blocks in any order,
//!   solidifies them once their parents are known, keeps the tip pool, confirms blocks by the
//!   approval weight of the Tangle validators, and applies committee statements (registrations,
//!   anchors, rotations) with every anchor rule. It does no I/O of its own: it reads and writes
//!   through a [`Store`], and the caller supplies the clock and the randomness.
//! - [`Store`] has two implementations: [`MemStore`] for tests and [`RocksStore`] (column families,
//!   one atomic batch per insert) for nodes.
//!
//! Start with [`Tangle::insert`].

pub mod block;
#[cfg(feature = "rocksdb")]
pub mod rocks;
pub mod store;
pub mod tangle;

pub use block::{
    Block, Essence, MAX_BLOCK_BYTES, MAX_PARENTS, PROTOCOL_VERSION, Payload, VerifiedBlock,
};
#[cfg(feature = "rocksdb")]
pub use rocks::RocksStore;
pub use store::{
    AnchorRecord, BlockMeta, ChainState, Changes, Evidence, Loaded, MemStore, Store, Tip,
};
pub use tangle::{Event, Inserted, Params, Tangle};

use weft_types::{PublicKey, QuorumError, TangleBlockId};

/// Why a block or a request is refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not a block.
    #[error("malformed block: {0}")]
    Malformed(String),
    /// The block is over the size cap.
    #[error("the block has {size} bytes; at most {max} are allowed")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The cap.
        max: usize,
    },
    /// Unknown protocol version.
    #[error("protocol version {0} is not supported; this node speaks version 1")]
    Version(u8),
    /// Another Tangle network.
    #[error("the block is for Tangle network `{got}`, this node is on `{expected}`")]
    Network {
        /// The block's network.
        got: String,
        /// Ours.
        expected: String,
    },
    /// Bad parent list.
    #[error("bad parents: {0}")]
    Parents(String),
    /// Issued too far ahead of this node's clock.
    #[error(
        "the block is issued at {issued_at_ms} ms, too far ahead of this node's clock ({now_ms} ms)"
    )]
    FromTheFuture {
        /// Its issuing time.
        issued_at_ms: u64,
        /// Ours.
        now_ms: u64,
    },
    /// The signature does not verify.
    #[error("the block's signature does not verify under its issuer key {0:?}")]
    Signature(PublicKey),
    /// Not enough proof of work.
    #[error(
        "the block has {bits} bits of proof of work; issuers that are not validators need {needed}"
    )]
    Pow {
        /// Bits it has.
        bits: u32,
        /// Bits needed.
        needed: u8,
    },
    /// A committee statement with a certificate that does not verify.
    #[error("the {kind} of chain `{chain}` is not signed by its committee: {error}")]
    Statement {
        /// `anchor`, `registration` or `rotation`.
        kind: &'static str,
        /// The chain.
        chain: String,
        /// What is wrong with the certificate.
        error: QuorumError,
    },
    /// The block is unknown.
    #[error("unknown block {0}")]
    UnknownBlock(TangleBlockId),
    /// Storage failed.
    #[error("Tangle storage: {0}")]
    Storage(String),
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
