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
mod error;
#[cfg(feature = "rocksdb")]
pub mod rocks;
pub mod store;
pub mod tangle;

pub use block::{
    Block, Essence, MAX_BLOCK_BYTES, MAX_PARENTS, PROTOCOL_VERSION, Payload, VerifiedBlock,
};
pub use error::{Error, Result};
#[cfg(feature = "rocksdb")]
pub use rocks::RocksStore;
pub use store::{
    AnchorRecord, BlockMeta, ChainState, Changes, Evidence, Loaded, MemStore, Store, Tip,
};
pub use tangle::{Event, Inserted, Params, Tangle};
