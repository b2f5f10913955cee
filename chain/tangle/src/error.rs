//! [`Error`], why a block or a request is refused, and [`Result`] with it.

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
