//! `weft-state`: Weft's authenticated state.
//!
//! State is a map from byte keys to byte values, committed after every block into a Jellyfish
//! Merkle Tree (the `jmt` crate) hashed with blake3 and versioned by block height. The root of the
//! tree at a height is that height's [`StateRoot`]; a [`StateProof`] shows that a key has a given
//! value, or no value, under a root, and verifies without RocksDB (build with
//! `default-features = false` for clients).
//!
//! [`StateStore`] keeps the tree in RocksDB next to a plain copy of the latest values, which serves
//! fast reads and prefix iteration (hashed tree keys cannot be iterated in order); the latest
//! values read since the last write are also kept in memory (`latest`). A commit writes tree
//! nodes, versioned values, the latest values, the new version and anything the caller adds
//! (blocks, receipts) in one atomic, synced RocksDB batch, so a crash never leaves them apart.
//!
//! A new node does not replay history: it restores the state at a certified version from
//! chunks a peer serves (`StateStore::snapshot_chunk`), each checked against the trusted root
//! before it is kept (`StateRestore`).
//!
//! Start with [`StateStore::commit`] and [`StateStore::prove`], then [`StateProof::verify`].

#[cfg(feature = "rocksdb")]
mod latest;
mod proof;
#[cfg(feature = "rocksdb")]
mod snapshot;
#[cfg(feature = "rocksdb")]
mod store;
mod version;

pub use proof::{Blake3, ProofError, StateProof, StateRoot};
#[cfg(feature = "rocksdb")]
pub use rocksdb::WriteBatch;
#[cfg(feature = "rocksdb")]
pub use snapshot::{RestoreError, SnapshotChunk, StateRestore};
#[cfg(feature = "rocksdb")]
pub use store::{Entry, Pruned, StateError, StateStore};
pub use version::Version;
