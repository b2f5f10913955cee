//! State sync: serving the state at a version as chunks in the tree's key-hash order, and
//! rebuilding a store from such chunks, each verified against the trusted state root before
//! anything of it is kept.
//!
//! A chunk is a run of entries (key, value) in increasing key hash with a range proof: the right
//! siblings of the path to its last leaf. With the chunks before it, that proves the chunk holds
//! exactly the tree's leaves in its range, under the root (`jmt`'s restore does the checking).
//! A refused chunk (wrong entries, a gap, a forged proof) leaves nothing behind: the receiver
//! [`StateRestore::reset`]s to the last leaf written and asks another peer from there.

use crate::proof::{Blake3, key_hash};
use crate::store::{
    KEYS, LATEST, META, OLDEST_KEY, RIGHTMOST, StateError, StateStore, VERSION_KEY, corrupt,
    rightmost_leaf,
};
use crate::version::Version;
use borsh::{BorshDeserialize, BorshSerialize};
use jmt::proof::SparseMerkleRangeProof;
use jmt::restore::{JellyfishMerkleRestore, StateSnapshotReceiver};
use jmt::storage::{Node, NodeBatch, TreeWriter};
use jmt::{JellyfishMerkleIterator, JellyfishMerkleTree, KeyHash, RootHash};
use rocksdb::WriteBatch;
use std::sync::Arc;
use weft_types::Hash32;

/// A run of the state at a version, in key-hash order, with its range proof.
#[derive(BorshSerialize, BorshDeserialize)]
pub struct SnapshotChunk {
    /// The version.
    pub version: Version,
    /// Entries (key, value) in increasing key hash.
    pub entries: Vec<(Vec<u8>, Vec<u8>)>,
    /// The range proof of the chunk's last leaf.
    pub proof: SparseMerkleRangeProof<Blake3>,
    /// Whether this chunk ends the state.
    pub last: bool,
}

impl std::fmt::Debug for SnapshotChunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotChunk")
            .field("version", &self.version)
            .field("entries", &self.entries.len())
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

/// Why a chunk was refused or a restore failed.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The chunk does not prove what it claims under the trusted root.
    #[error("snapshot chunk refused: {0}")]
    BadChunk(String),
    /// The store failed.
    #[error(transparent)]
    State(#[from] StateError),
}

impl StateStore {
    /// Up to `max` entries of the state at `version` whose key hash follows `after` (from the
    /// start without it), with their range proof. `version` must be kept (not pruned).
    pub fn snapshot_chunk(
        self: &Arc<Self>,
        version: Version,
        after: Option<[u8; 32]>,
        max: usize,
    ) -> Result<SnapshotChunk, StateError> {
        self.root(version)?;
        let tree_error = |e: anyhow::Error| StateError::Tree(e.to_string());
        let start = match after {
            // The iterator starts at the first key at or after `start`.
            Some(after) => match next_hash(after) {
                Some(next) => KeyHash(next),
                None => {
                    return Err(StateError::Tree("no key hash follows 0xff…ff".into()));
                }
            },
            None => KeyHash([0; 32]),
        };
        let iter =
            JellyfishMerkleIterator::new(self.clone(), version, start).map_err(tree_error)?;
        let mut entries = Vec::new();
        let mut last_hash = None;
        let mut last = true;
        for item in iter {
            let (hash, value) = item.map_err(tree_error)?;
            if entries.len() == max.max(1) {
                last = false;
                break;
            }
            let key = self
                .db()
                .get_cf(self.cf(KEYS), hash.0)?
                .ok_or_else(|| corrupt("key index", format!("no key for hash {}", hex(&hash.0))))?;
            entries.push((key, value));
            last_hash = Some(hash);
        }
        let Some(last_hash) = last_hash else {
            return Err(StateError::Tree(format!(
                "no state entry follows the requested key at version {version}"
            )));
        };
        let proof = JellyfishMerkleTree::<_, Blake3>::new(self.as_ref())
            .get_range_proof(last_hash, version)
            .map_err(tree_error)?;
        Ok(SnapshotChunk {
            version,
            entries,
            proof,
            last,
        })
    }
}

/// Rebuilds an empty store at one version from chunks, checking each against the trusted root.
pub struct StateRestore {
    store: Arc<StateStore>,
    version: Version,
    root: Hash32,
    restore: Option<JellyfishMerkleRestore<Blake3>>,
    /// The key hash the next chunk must start after (`None`: from the start).
    next_after: Option<[u8; 32]>,
    /// Entries restored so far.
    entries: u64,
}

impl std::fmt::Debug for StateRestore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateRestore")
            .field("version", &self.version)
            .field("root", &self.root)
            .field("next_after", &self.next_after.map(|h| hex(&h)))
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

impl StateRestore {
    /// Starts restoring `version` with trusted root `root` into `store`, which must hold no
    /// committed state. What an earlier, unfinished restore left is deleted first: a restore
    /// starts from nothing in each process.
    pub fn new(store: Arc<StateStore>, version: Version, root: Hash32) -> Result<Self, StateError> {
        if let Some(latest) = store.version()? {
            return Err(StateError::Corrupt(format!(
                "a restore needs an empty store; this one holds versions up to {latest}"
            )));
        }
        clear(&store)?;
        let mut restore = Self {
            store,
            version,
            root,
            restore: None,
            next_after: None,
            entries: 0,
        };
        restore.reset()?;
        Ok(restore)
    }

    /// The key hash the next chunk must start after (`None`: the first chunk).
    pub fn next_after(&self) -> Option<[u8; 32]> {
        self.next_after
    }

    /// The version restored.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Entries restored so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Starts again from the rightmost leaf written (after a refused chunk, or a crash).
    pub fn reset(&mut self) -> Result<(), StateError> {
        let restore =
            JellyfishMerkleRestore::new(self.store.clone(), self.version, RootHash(self.root.0))
                .map_err(|e| StateError::Tree(e.to_string()))?;
        self.restore = Some(restore);
        self.next_after = rightmost_leaf(&self.store)
            .map_err(|e| StateError::Tree(e.to_string()))?
            .map(|(_, leaf)| leaf.key_hash().0);
        Ok(())
    }

    /// Checks `chunk` against the trusted root and keeps it. A refused chunk leaves the restore
    /// where it was: ask another peer for the chunk after [`StateRestore::next_after`].
    pub fn add_chunk(&mut self, chunk: SnapshotChunk) -> Result<(), RestoreError> {
        if chunk.version != self.version {
            return Err(RestoreError::BadChunk(format!(
                "it is of version {}, not {}",
                chunk.version, self.version
            )));
        }
        if chunk.entries.is_empty() {
            return Err(RestoreError::BadChunk("it is empty".into()));
        }
        let mut hashed = Vec::with_capacity(chunk.entries.len());
        let mut previous = self.next_after;
        for (key, value) in &chunk.entries {
            let hash = key_hash(key);
            if previous.is_some_and(|p| hash.0 <= p) {
                return Err(RestoreError::BadChunk(
                    "its keys are not in increasing hash order after the last one kept".into(),
                ));
            }
            previous = Some(hash.0);
            hashed.push((hash, value.clone()));
        }
        let restore = self
            .restore
            .as_mut()
            .expect("a restore is always set between calls");
        if let Err(e) = restore.add_chunk(hashed, chunk.proof) {
            // Its partial nodes took the chunk in before the proof failed: rebuild them from what
            // was written.
            self.reset()?;
            return Err(RestoreError::BadChunk(e.to_string()));
        }
        // Proven: keep the plain copies too.
        let mut batch = WriteBatch::default();
        for (key, value) in &chunk.entries {
            batch.put_cf(self.store.cf(LATEST), key, value);
            batch.put_cf(self.store.cf(KEYS), key_hash(key).0, key);
        }
        self.store.write_unsynced(batch)?;
        self.next_after = previous;
        self.entries += chunk.entries.len() as u64;
        Ok(())
    }

    /// Finishes after the last chunk: the tree's root must be the trusted one. The store then
    /// holds `version` as its only (and oldest) version; `extra` adds the caller's data (the
    /// block at that height) to the same atomic batch. A wrong root (a chunk claimed to be the
    /// last too early) clears what was restored, so a new restore can start.
    pub fn finish(mut self, extra: impl FnOnce(&mut WriteBatch)) -> Result<(), RestoreError> {
        let restore = self
            .restore
            .take()
            .expect("a restore is always set between calls");
        restore
            .finish()
            .map_err(|e| RestoreError::BadChunk(e.to_string()))?;
        let store = &self.store;
        let root = JellyfishMerkleTree::<_, Blake3>::new(store.as_ref())
            .get_root_hash(self.version)
            .map_err(|e| RestoreError::BadChunk(e.to_string()))?;
        if root.0 != self.root.0 {
            // Only a chunk that wrongly claimed to be the last gets here.
            clear(store)?;
            return Err(RestoreError::BadChunk(format!(
                "the restored tree's root is {}, not the trusted {}; the chunks ended early",
                Hash32(root.0),
                self.root
            )));
        }
        let mut batch = WriteBatch::default();
        batch.put_cf(store.cf(META), VERSION_KEY, self.version.to_le_bytes());
        batch.put_cf(store.cf(META), OLDEST_KEY, self.version.to_le_bytes());
        batch.delete_cf(store.cf(META), RIGHTMOST);
        extra(&mut batch);
        store.write(batch)?;
        Ok(())
    }
}

/// Deletes everything an unfinished restore wrote (a store without a committed version).
fn clear(store: &StateStore) -> Result<(), StateError> {
    use crate::store::{NODES, STALE, VALUES};
    let mut batch = WriteBatch::default();
    let mut any = false;
    for family in [NODES, VALUES, LATEST, KEYS, STALE] {
        for item in store
            .db()
            .iterator_cf(store.cf(family), rocksdb::IteratorMode::Start)
        {
            let (key, _) = item?;
            batch.delete_cf(store.cf(family), key);
            any = true;
        }
    }
    if any || rightmost_leaf(store).ok().flatten().is_some() {
        batch.delete_cf(store.cf(META), RIGHTMOST);
        batch.delete_cf(store.cf(META), OLDEST_KEY);
        store.write(batch)?;
    }
    Ok(())
}

/// The key hash right after `hash`, if any.
fn next_hash(hash: [u8; 32]) -> Option<[u8; 32]> {
    let mut next = hash;
    for byte in next.iter_mut().rev() {
        if *byte == 0xff {
            *byte = 0;
        } else {
            *byte += 1;
            return Some(next);
        }
    }
    None
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl TreeWriter for StateStore {
    /// Only a restore writes through this: nodes, versioned values, and the rightmost leaf so
    /// far, in one batch.
    fn write_node_batch(&self, node_batch: &NodeBatch) -> anyhow::Result<()> {
        let mut batch = WriteBatch::default();
        let mut rightmost = rightmost_leaf(self)?;
        for (node_key, node) in node_batch.nodes() {
            if let Node::Leaf(leaf) = node
                && rightmost
                    .as_ref()
                    .is_none_or(|(_, r)| leaf.key_hash() > r.key_hash())
            {
                rightmost = Some((node_key.clone(), leaf.clone()));
            }
            batch.put_cf(
                self.cf(crate::store::NODES),
                borsh::to_vec(node_key)?,
                borsh::to_vec(node)?,
            );
        }
        for ((version, hash), value) in node_batch.values() {
            batch.put_cf(
                self.cf(crate::store::VALUES),
                crate::store::value_key(hash, *version),
                borsh::to_vec(value)?,
            );
        }
        if let Some(rightmost) = rightmost {
            batch.put_cf(self.cf(META), RIGHTMOST, borsh::to_vec(&rightmost)?);
        }
        self.write(batch)?;
        Ok(())
    }
}
