//! The state store: the tree and the latest values in RocksDB.

use crate::latest::{LatestCache, Lookup};
use crate::proof::{Blake3, StateProof, StateRoot, key_hash};
use crate::version::Version;
use jmt::storage::{LeafNode, NibblePath, Node, NodeKey, TreeReader};
use jmt::{JellyfishMerkleTree, KeyHash, OwnedValue};
use rocksdb::{
    ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, ReadOptions, WriteBatch,
    WriteOptions,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{RwLock, RwLockReadGuard};
use weft_types::Hash32;

pub(crate) const NODES: &str = "state_nodes";
pub(crate) const VALUES: &str = "state_values";
pub(crate) const LATEST: &str = "state_latest";
pub(crate) const META: &str = "state_meta";
/// Each key by its hash (`key hash → key`), for serving snapshots in the tree's order.
pub(crate) const KEYS: &str = "state_keys";
/// Set once every latest key has its `KEYS` entry.
const KEYS_DONE: &[u8] = b"keys_indexed";
/// Tree nodes no longer needed from a version on: `stale_since` (8 bytes, big-endian) + node key.
pub(crate) const STALE: &str = "state_stale";
pub(crate) const VERSION_KEY: &[u8] = b"version";
/// The oldest version still readable after pruning.
pub(crate) const OLDEST_KEY: &[u8] = b"oldest";
/// The most RocksDB write-ahead log kept before the families holding it are flushed.
const MAX_TOTAL_WAL_BYTES: u64 = 64 << 20;
/// How many stale nodes one pruning batch deletes.
const PRUNE_BATCH: usize = 10_000;

/// A key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// A failure of the state store.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// RocksDB failed.
    #[error("state database error: {0}")]
    Db(#[from] rocksdb::Error),
    /// The tree failed (a missing node means the database is damaged).
    #[error("state tree error: {0}")]
    Tree(String),
    /// Stored bytes do not decode.
    #[error("state database is damaged: {0}")]
    Corrupt(String),
    /// A commit out of order.
    #[error(
        "cannot commit version {attempted}: the latest committed version is {latest:?}; commit versions in increasing order"
    )]
    OutOfOrder {
        /// The version attempted.
        attempted: Version,
        /// The latest one.
        latest: Option<Version>,
    },
    /// A version that was never committed.
    #[error("no state at version {asked}; committed versions go up to {latest:?}")]
    UnknownVersion {
        /// The version asked for.
        asked: Version,
        /// The latest one.
        latest: Option<Version>,
    },
    /// A version older than the history this node keeps.
    #[error(
        "the state at version {asked} was pruned; this node keeps versions from {oldest} on (`storage.state_history` in its config)"
    )]
    Pruned {
        /// The version asked for.
        asked: Version,
        /// The oldest version kept.
        oldest: Version,
    },
}

/// What one [`StateStore::prune`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Tree nodes deleted.
    pub nodes: u64,
    /// Superseded values deleted.
    pub values: u64,
    /// The oldest version readable now.
    pub oldest: Version,
}

type Result<T, E = StateError> = std::result::Result<T, E>;

/// Authenticated state over RocksDB. Open it once per data directory and share it.
pub struct StateStore {
    db: DB,
    /// Writers hold it exclusively while a batch lands; readers that need several reads from one
    /// version hold it shared ([`StateStore::read_section`]).
    gate: RwLock<()>,
    /// Latest values read since the last write.
    latest: LatestCache,
}

pub(crate) fn value_key(key_hash: &KeyHash, version: Version) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..32].copy_from_slice(&key_hash.0);
    out[32..].copy_from_slice(&version.to_be_bytes());
    out
}

/// Where a restore records the rightmost leaf it wrote, to resume after a refused chunk.
pub(crate) const RIGHTMOST: &[u8] = b"restore_rightmost";

/// The rightmost leaf a restore wrote.
pub(crate) fn rightmost_leaf(store: &StateStore) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
    match store.db.get_cf(store.cf(META), RIGHTMOST)? {
        None => Ok(None),
        Some(bytes) => Ok(Some(borsh::from_slice(&bytes)?)),
    }
}

/// The stale index's key: the version a node is stale from, then the node's key.
fn stale_key(stale_since: Version, node_key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + node_key.len());
    out.extend_from_slice(&stale_since.to_be_bytes());
    out.extend_from_slice(node_key);
    out
}

/// The key of the tree's root node at `version` (the node at the empty nibble path).
fn root_node_key(version: Version) -> NodeKey {
    let empty: NibblePath = std::iter::empty().collect();
    NodeKey::new(version, empty)
}

pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StateError {
    StateError::Corrupt(format!("{what}: {e}"))
}

impl StateStore {
    /// Opens (or creates) the store in `path`, with the caller's own column families next to the
    /// state's, so the caller can commit its data in the same atomic batch.
    pub fn open(path: &Path, extra_column_families: &[&str]) -> Result<Self> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        // RocksDB's own info log is the one file that grows on an idle node: keep it small.
        options.set_max_log_file_size(1 << 20);
        options.set_keep_log_file_num(2);
        // A write-ahead log file is kept until every column family with data in it is flushed;
        // rarely written families (the version, the executor's bookkeeping) would keep them all.
        // Past this size RocksDB flushes those families, so the log stays bounded.
        options.set_max_total_wal_size(MAX_TOTAL_WAL_BYTES);
        let cfs = [NODES, VALUES, LATEST, META, STALE, KEYS]
            .iter()
            .chain(extra_column_families)
            .map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
        let db = DB::open_cf_descriptors(&options, path, cfs)?;
        let store = Self {
            db,
            gate: RwLock::new(()),
            latest: LatestCache::default(),
        };
        store.index_keys()?;
        Ok(store)
    }

    /// Gives every latest key its `KEYS` entry, once (stores written before the index existed).
    fn index_keys(&self) -> Result<()> {
        if self.db.get_cf(self.cf(META), KEYS_DONE)?.is_some() {
            return Ok(());
        }
        let mut batch = WriteBatch::default();
        for item in self.db.iterator_cf(self.cf(LATEST), IteratorMode::Start) {
            let (key, _) = item?;
            batch.put_cf(self.cf(KEYS), key_hash(&key).0, &key);
        }
        batch.put_cf(self.cf(META), KEYS_DONE, []);
        self.db.write(batch)?;
        Ok(())
    }

    /// While the returned guard lives, no batch is written: several reads of the latest state
    /// (a read-only contract call, say) all see one version.
    pub fn read_section(&self) -> RwLockReadGuard<'_, ()> {
        self.gate.read().unwrap_or_else(|e| e.into_inner())
    }

    /// A consistent copy of the whole database (the caller's column families included) in `dir`,
    /// which must not exist yet: hard links where `dir` is on the same file system, so it is
    /// cheap and does not stop commits.
    pub fn checkpoint(&self, dir: &Path) -> Result<()> {
        rocksdb::checkpoint::Checkpoint::new(&self.db)?.create_checkpoint(dir)?;
        Ok(())
    }

    /// The database, for the caller's own column families.
    pub fn db(&self) -> &DB {
        &self.db
    }

    pub(crate) fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        // The store opened every one of its column families.
        self.db
            .cf_handle(name)
            .expect("column family opened with the store")
    }

    /// The latest committed version, if any.
    pub fn version(&self) -> Result<Option<Version>> {
        match self.db.get_cf(self.cf(META), VERSION_KEY)? {
            None => Ok(None),
            Some(bytes) => {
                let bytes: [u8; 8] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|e| corrupt("stored version", e))?;
                Ok(Some(u64::from_le_bytes(bytes)))
            }
        }
    }

    /// The oldest version still readable (0 until something is pruned).
    pub fn oldest(&self) -> Result<Version> {
        match self.db.get_cf(self.cf(META), OLDEST_KEY)? {
            None => Ok(0),
            Some(bytes) => {
                let bytes: [u8; 8] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|e| corrupt("oldest version", e))?;
                Ok(u64::from_le_bytes(bytes))
            }
        }
    }

    fn check_version(&self, version: Version) -> Result<()> {
        let latest = self.version()?;
        if latest.is_none_or(|l| version > l) {
            return Err(StateError::UnknownVersion {
                asked: version,
                latest,
            });
        }
        let oldest = self.oldest()?;
        if version < oldest {
            return Err(StateError::Pruned {
                asked: version,
                oldest,
            });
        }
        Ok(())
    }

    /// Deletes what only versions before `keep_from` need: tree nodes gone stale by then and
    /// values superseded by then. Versions from `keep_from` on stay readable and provable; older
    /// ones answer [`StateError::Pruned`]. Works in batches, never blocking commits for long, and
    /// is safe to interrupt (what is left is deleted next time).
    pub fn prune(&self, keep_from: Version) -> Result<Pruned> {
        let keep_from = keep_from.min(self.version()?.unwrap_or(0));
        let mut out = Pruned {
            oldest: self.oldest()?,
            ..Pruned::default()
        };
        if keep_from <= out.oldest {
            return Ok(out);
        }
        // Readers are told first, so nobody reads a version while its nodes go.
        self.db
            .put_cf(self.cf(META), OLDEST_KEY, keep_from.to_le_bytes())?;
        out.oldest = keep_from;
        let end = (keep_from + 1).to_be_bytes();
        loop {
            let mut batch = WriteBatch::default();
            let mut leaves = Vec::new();
            let mut n = 0;
            let mut options = ReadOptions::default();
            options.set_iterate_upper_bound(end.to_vec());
            for item in self
                .db
                .iterator_cf_opt(self.cf(STALE), options, IteratorMode::Start)
            {
                let (key, _) = item?;
                let node_key = &key[8..];
                if let Some(bytes) = self.db.get_cf(self.cf(NODES), node_key)?
                    && let Ok(Node::Leaf(leaf)) = borsh::from_slice::<Node>(&bytes)
                {
                    leaves.push(leaf.key_hash());
                }
                batch.delete_cf(self.cf(NODES), node_key);
                batch.delete_cf(self.cf(STALE), &key);
                n += 1;
                if n == PRUNE_BATCH {
                    break;
                }
            }
            for key_hash in leaves {
                out.values += self.prune_values(&key_hash, keep_from, &mut batch)?;
            }
            out.nodes += n as u64;
            let _writing = self.gate.write().unwrap_or_else(|e| e.into_inner());
            self.db.write(batch)?;
            if n < PRUNE_BATCH {
                return Ok(out);
            }
        }
    }

    /// Deletes the values of `key_hash` that a later value at or before `keep_from` supersedes.
    fn prune_values(
        &self,
        key_hash: &KeyHash,
        keep_from: Version,
        batch: &mut WriteBatch,
    ) -> Result<u64> {
        let mut options = ReadOptions::default();
        options.set_iterate_upper_bound(value_key(key_hash, keep_from.saturating_add(1)).to_vec());
        let start = value_key(key_hash, 0);
        let mut versions = Vec::new();
        for item in self.db.iterator_cf_opt(
            self.cf(VALUES),
            options,
            IteratorMode::From(&start, Direction::Forward),
        ) {
            let (key, _) = item?;
            if !key.starts_with(&key_hash.0) {
                break;
            }
            versions.push(key.to_vec());
        }
        // The newest one at or before `keep_from` is what `keep_from` reads: keep it.
        versions.pop();
        for key in &versions {
            batch.delete_cf(self.cf(VALUES), key);
        }
        Ok(versions.len() as u64)
    }

    /// The state root at `version`.
    pub fn root(&self, version: Version) -> Result<StateRoot> {
        self.check_version(version)?;
        let tree = JellyfishMerkleTree::<_, Blake3>::new(self);
        let root = tree
            .get_root_hash(version)
            .map_err(|e| StateError::Tree(e.to_string()))?;
        Ok(Hash32(root.0))
    }

    /// The latest value of `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let epoch = match self.latest.lookup(key) {
            Lookup::Hit(value) => return Ok(value),
            Lookup::Miss(epoch) => epoch,
        };
        let value = self.db.get_cf(self.cf(LATEST), key)?;
        self.latest.keep(epoch, key, &value);
        Ok(value)
    }

    /// The value of `key` at `version`.
    pub fn get_at(&self, key: &[u8], version: Version) -> Result<Option<Vec<u8>>> {
        self.check_version(version)?;
        self.get_value_option(version, key_hash(key))
            .map_err(|e| StateError::Tree(e.to_string()))
    }

    /// The first latest entry whose key starts with `prefix` and is greater than `after` (or the
    /// first with that prefix), in key order.
    pub fn next(&self, prefix: &[u8], after: Option<&[u8]>) -> Result<Option<Entry>> {
        let start = after.filter(|a| *a >= prefix).unwrap_or(prefix);
        let mut iter = self.db.iterator_cf(
            self.cf(LATEST),
            IteratorMode::From(start, Direction::Forward),
        );
        while let Some(item) = iter.next().transpose()? {
            let (key, value) = item;
            if !key.starts_with(prefix) {
                return Ok(None);
            }
            if after.is_some_and(|a| *key <= *a) {
                continue;
            }
            return Ok(Some((key.to_vec(), value.to_vec())));
        }
        Ok(None)
    }

    /// A proof of the value (or absence) of `key` at `version`.
    pub fn prove(&self, key: &[u8], version: Version) -> Result<StateProof> {
        self.check_version(version)?;
        let tree = JellyfishMerkleTree::<_, Blake3>::new(self);
        let (value, proof) = tree
            .get_with_proof(key_hash(key), version)
            .map_err(|e| StateError::Tree(e.to_string()))?;
        Ok(StateProof {
            key: key.to_vec(),
            value,
            proof,
        })
    }

    /// Commits `writes` (`None` deletes) as `version`, which must be greater than the latest, and
    /// returns the new root. `extra` may add the caller's data to the same atomic batch. The batch
    /// is synced to disk before this returns.
    pub fn commit(
        &self,
        version: Version,
        writes: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
        extra: impl FnOnce(&mut WriteBatch),
    ) -> Result<StateRoot> {
        let (root, mut batch) = self.stage(version, writes)?;
        extra(&mut batch);
        self.write(batch)?;
        Ok(root)
    }

    /// Computes the root `writes` would give as `version` and the batch that commits them,
    /// without writing anything: for callers whose own data depends on the root (a block header).
    /// Pass the batch, with the caller's additions, to [`StateStore::write`]. Stage and write one
    /// version at a time.
    pub fn stage(
        &self,
        version: Version,
        writes: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    ) -> Result<(StateRoot, WriteBatch)> {
        let latest = self.version()?;
        if latest.is_some_and(|l| version <= l) {
            return Err(StateError::OutOfOrder {
                attempted: version,
                latest,
            });
        }
        let tree = JellyfishMerkleTree::<_, Blake3>::new(self);
        let value_set = writes.iter().map(|(k, v)| (key_hash(k), v.clone()));
        let (root, update) = tree
            .put_value_set(value_set, version)
            .map_err(|e| StateError::Tree(e.to_string()))?;
        let mut batch = WriteBatch::default();
        // A version without writes (or a first version into an empty tree) gets no root node from
        // the tree; give it one, the previous root or the empty tree, so every committed version
        // has a root and proofs.
        let root_key = root_node_key(version);
        if !update.node_batch.nodes().contains_key(&root_key) {
            let previous = match latest {
                Some(l) => self
                    .get_node_option(&root_node_key(l))
                    .map_err(|e| StateError::Tree(e.to_string()))?
                    .ok_or_else(|| StateError::Corrupt(format!("no root node at version {l}")))?,
                None => Node::Null,
            };
            let key = borsh::to_vec(&root_key).map_err(|e| corrupt("node key", e))?;
            let node = borsh::to_vec(&previous).map_err(|e| corrupt("node", e))?;
            batch.put_cf(self.cf(NODES), key, node);
            // The previous version's root copy is not needed from this version on.
            if let Some(l) = latest {
                let previous_key =
                    borsh::to_vec(&root_node_key(l)).map_err(|e| corrupt("node key", e))?;
                batch.put_cf(self.cf(STALE), stale_key(version, &previous_key), []);
            }
        }
        for stale in &update.stale_node_index_batch {
            let node_key = borsh::to_vec(&stale.node_key).map_err(|e| corrupt("node key", e))?;
            batch.put_cf(
                self.cf(STALE),
                stale_key(stale.stale_since_version, &node_key),
                [],
            );
        }
        for (node_key, node) in update.node_batch.nodes() {
            let key = borsh::to_vec(node_key).map_err(|e| corrupt("node key", e))?;
            let node = borsh::to_vec(node).map_err(|e| corrupt("node", e))?;
            batch.put_cf(self.cf(NODES), key, node);
        }
        for ((value_version, hash), value) in update.node_batch.values() {
            let value = borsh::to_vec(value).map_err(|e| corrupt("value", e))?;
            batch.put_cf(self.cf(VALUES), value_key(hash, *value_version), value);
        }
        let mut hashed = Vec::with_capacity(writes.len());
        for (key, value) in writes {
            match value {
                Some(v) => {
                    batch.put_cf(self.cf(LATEST), key, v);
                    hashed.push((key_hash(key).0, key));
                }
                None => batch.delete_cf(self.cf(LATEST), key),
            }
        }
        // In key order, which RocksDB's memtable inserts faster than random order.
        hashed.sort_unstable_by_key(|(hash, _)| *hash);
        for (hash, key) in hashed {
            batch.put_cf(self.cf(KEYS), hash, key);
        }
        batch.put_cf(self.cf(META), VERSION_KEY, version.to_le_bytes());
        Ok((Hash32(root.0), batch))
    }

    /// Writes a staged batch atomically and syncs it to disk.
    pub fn write(&self, batch: WriteBatch) -> Result<()> {
        self.land(batch, true)
    }

    /// Writes a batch atomically without syncing it (a restore's chunks: its last batch syncs).
    pub(crate) fn write_unsynced(&self, batch: WriteBatch) -> Result<()> {
        self.land(batch, false)
    }

    /// Every write of latest values goes through here: behind the gate, and it empties the
    /// cache of values read before it.
    fn land(&self, batch: WriteBatch, sync: bool) -> Result<()> {
        let mut options = WriteOptions::default();
        options.set_sync(sync);
        // A poisoned gate only means a reader panicked; the lock protects no data of its own.
        let _writing = self.gate.write().unwrap_or_else(|e| e.into_inner());
        let written = self.db.write_opt(batch, &options);
        self.latest.invalidate();
        written?;
        Ok(())
    }
}

impl TreeReader for StateStore {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        let key = borsh::to_vec(node_key)?;
        match self.db.get_cf(self.cf(NODES), key)? {
            None => Ok(None),
            Some(bytes) => Ok(Some(borsh::from_slice(&bytes)?)),
        }
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        let mut options = ReadOptions::default();
        options.set_iterate_lower_bound(value_key(&key_hash, 0).to_vec());
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(VALUES), options);
        iter.seek_for_prev(value_key(&key_hash, max_version));
        if !iter.valid() {
            iter.status()?;
            return Ok(None);
        }
        match (iter.key(), iter.value()) {
            (Some(key), Some(value)) if key.starts_with(&key_hash.0) => {
                Ok(borsh::from_slice(value)?)
            }
            _ => Ok(None),
        }
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        // Only a restore from snapshot chunks asks, and it records its rightmost leaf as it
        // writes (`crate::snapshot`).
        rightmost_leaf(self)
    }
}
