//! The Tangle in RocksDB: one column family per kind of record, one atomic batch per change set.

use crate::error::{Error, Result};
use crate::store::{AnchorRecord, BlockMeta, ChainState, Changes, Evidence, Loaded, Store, Tip};
use borsh::BorshDeserialize;
use rocksdb::{ColumnFamilyDescriptor, DB, IteratorMode, Options, WriteBatch, WriteOptions};
use std::path::Path;
use weft_types::{ChainId, TangleBlockId};

const BLOCKS: &str = "blocks";
const METAS: &str = "metas";
const CHILDREN: &str = "children";
const TIPS: &str = "tips";
const CHAINS: &str = "chains";
const ANCHORS: &str = "anchors";
const HEIGHTS: &str = "anchor_heights";
const EVIDENCE: &str = "evidence";
const PENDING: &str = "pending";
/// Confirmed blocks not yet considered for pruning: confirmation time (big-endian) + block id.
const CONFIRMED: &str = "confirmed";
const FAMILIES: [&str; 10] = [
    BLOCKS, METAS, CHILDREN, TIPS, CHAINS, ANCHORS, HEIGHTS, EVIDENCE, PENDING, CONFIRMED,
];

/// The Tangle's RocksDB store.
pub struct RocksStore {
    db: DB,
    /// Whether each batch is synced to disk before `commit` returns.
    sync: bool,
}

fn storage(e: impl std::fmt::Display) -> Error {
    Error::Storage(e.to_string())
}

fn decode<T: BorshDeserialize>(what: &str, bytes: &[u8]) -> Result<T> {
    borsh::from_slice(bytes).map_err(|e| Error::Storage(format!("corrupt {what} record: {e}")))
}

fn to_vec(value: &impl borsh::BorshSerialize) -> Vec<u8> {
    borsh::to_vec(value).expect("borsh encoding into a Vec cannot fail")
}

/// `[len][chain id bytes][n big-endian]`: keys of one chain sort together, by `n`.
fn chain_key(chain: &ChainId, n: u64) -> Vec<u8> {
    let mut key = chain_prefix(chain);
    key.extend_from_slice(&n.to_be_bytes());
    key
}

fn confirmed_key(at_ms: u64, id: &TangleBlockId) -> Vec<u8> {
    let mut key = at_ms.to_be_bytes().to_vec();
    key.extend_from_slice(&id.0);
    key
}

fn chain_prefix(chain: &ChainId) -> Vec<u8> {
    let bytes = chain.0.as_bytes();
    let mut key = Vec::with_capacity(bytes.len() + 9);
    key.push(bytes.len().min(255) as u8);
    key.extend_from_slice(bytes);
    key
}

impl RocksStore {
    /// Opens (or creates) the store in `path`. With `sync`, every change set is fsynced before it
    /// counts as written.
    pub fn open(path: &Path, sync: bool) -> Result<Self> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_max_log_file_size(1 << 20);
        options.set_keep_log_file_num(2);
        // Rarely written families (chains, evidence) would otherwise keep every log file alive.
        options.set_max_total_wal_size(32 << 20);
        let families = FAMILIES
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
        let db = DB::open_cf_descriptors(&options, path, families)
            .map_err(|e| Error::Storage(format!("cannot open {}: {e}", path.display())))?;
        Ok(Self { db, sync })
    }

    /// A consistent copy of the store in `dir` (which must not exist yet), by hard links where
    /// possible.
    pub fn checkpoint(&self, dir: &Path) -> Result<()> {
        rocksdb::checkpoint::Checkpoint::new(&self.db)
            .and_then(|c| c.create_checkpoint(dir))
            .map_err(|e| {
                Error::Storage(format!("cannot copy the Tangle to {}: {e}", dir.display()))
            })
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("every column family is created on open")
    }

    fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db.get_cf(self.cf(cf), key).map_err(storage)
    }

    fn scan<T: BorshDeserialize>(&self, cf: &str, what: &str) -> Result<Vec<(Vec<u8>, T)>> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(cf), IteratorMode::Start) {
            let (key, value) = item.map_err(storage)?;
            out.push((key.to_vec(), decode(what, &value)?));
        }
        Ok(out)
    }

    /// Anchors of `chain` from index `from`, at most `max`.
    pub fn anchors(&self, chain: &ChainId, from: u64, max: usize) -> Result<Vec<AnchorRecord>> {
        let prefix = chain_prefix(chain);
        let start = chain_key(chain, from);
        let mut out = Vec::new();
        let mode = IteratorMode::From(&start, rocksdb::Direction::Forward);
        for item in self.db.iterator_cf(self.cf(ANCHORS), mode) {
            let (key, value) = item.map_err(storage)?;
            if !key.starts_with(&prefix) || key.len() != prefix.len() + 8 || out.len() >= max {
                break;
            }
            out.push(decode("anchor", &value)?);
        }
        Ok(out)
    }
}

fn id_of(key: &[u8]) -> Result<TangleBlockId> {
    <[u8; 32]>::try_from(key)
        .map(TangleBlockId)
        .map_err(|_| Error::Storage(format!("a Tangle key has {} bytes, not 32", key.len())))
}

impl Store for RocksStore {
    fn block_bytes(&self, id: &TangleBlockId) -> Result<Option<Vec<u8>>> {
        self.get(BLOCKS, &id.0)
    }

    fn meta(&self, id: &TangleBlockId) -> Result<Option<BlockMeta>> {
        self.get(METAS, &id.0)?
            .map(|b| decode("block metadata", &b))
            .transpose()
    }

    fn children(&self, id: &TangleBlockId) -> Result<Vec<TangleBlockId>> {
        let mode = IteratorMode::From(&id.0, rocksdb::Direction::Forward);
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(CHILDREN), mode) {
            let (key, _) = item.map_err(storage)?;
            if key.len() != 64 || key[..32] != id.0 {
                break;
            }
            out.push(id_of(&key[32..])?);
        }
        Ok(out)
    }

    fn anchor(&self, chain: &ChainId, index: u64) -> Result<Option<AnchorRecord>> {
        self.get(ANCHORS, &chain_key(chain, index))?
            .map(|b| decode("anchor", &b))
            .transpose()
    }

    fn anchor_at_height(&self, chain: &ChainId, height: u64) -> Result<Option<u64>> {
        self.get(HEIGHTS, &chain_key(chain, height))?
            .map(|b| decode("anchor height", &b))
            .transpose()
    }

    fn anchor_from_height(&self, chain: &ChainId, height: u64) -> Result<Option<u64>> {
        let prefix = chain_prefix(chain);
        let start = chain_key(chain, height);
        let mode = IteratorMode::From(&start, rocksdb::Direction::Forward);
        match self.db.iterator_cf(self.cf(HEIGHTS), mode).next() {
            Some(item) => {
                let (key, value) = item.map_err(storage)?;
                if key.starts_with(&prefix) && key.len() == prefix.len() + 8 {
                    Ok(Some(decode("anchor height", &value)?))
                } else {
                    Ok(None)
                }
            }
            None => Ok(None),
        }
    }

    fn evidence(&self, chain: &ChainId) -> Result<Vec<Evidence>> {
        let prefix = chain_prefix(chain);
        let mode = IteratorMode::From(&prefix, rocksdb::Direction::Forward);
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(EVIDENCE), mode) {
            let (key, value) = item.map_err(storage)?;
            if !key.starts_with(&prefix) {
                break;
            }
            out.push(decode("evidence", &value)?);
        }
        Ok(out)
    }

    fn load(&self) -> Result<Loaded> {
        let mut loaded = Loaded::default();
        for (key, meta) in self.scan::<BlockMeta>(METAS, "block metadata")? {
            if meta.confirmed_ms.is_none() && !meta.orphaned {
                loaded.live.push((id_of(&key)?, meta));
            }
        }
        for (key, tip) in self.scan::<Tip>(TIPS, "tip")? {
            loaded.tips.push((id_of(&key)?, tip));
        }
        for (_, state) in self.scan::<(ChainId, ChainState)>(CHAINS, "chain")? {
            loaded.chains.push(state);
        }
        for (key, ()) in self.scan::<()>(PENDING, "pending statement")? {
            loaded.pending.push(id_of(&key)?);
        }
        for (_, record) in self.scan::<AnchorRecord>(ANCHORS, "anchor")? {
            if record.confirmed_ms.is_none() {
                loaded.unconfirmed_anchors.push(record);
            }
        }
        Ok(loaded)
    }

    fn commit(&self, changes: Changes) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut batch = WriteBatch::default();
        for (id, bytes) in &changes.blocks {
            batch.put_cf(self.cf(BLOCKS), id.0, bytes);
        }
        for (id, meta) in &changes.metas {
            batch.put_cf(self.cf(METAS), id.0, to_vec(meta));
            if let Some(at) = meta.confirmed_ms {
                batch.put_cf(self.cf(CONFIRMED), confirmed_key(at, id), []);
            }
        }
        for (parent, child) in &changes.children {
            let mut key = parent.0.to_vec();
            key.extend_from_slice(&child.0);
            batch.put_cf(self.cf(CHILDREN), key, []);
        }
        for id in &changes.tips_remove {
            batch.delete_cf(self.cf(TIPS), id.0);
        }
        for (id, tip) in &changes.tips_put {
            batch.put_cf(self.cf(TIPS), id.0, to_vec(tip));
        }
        for (chain, state) in &changes.chains {
            batch.put_cf(
                self.cf(CHAINS),
                chain_prefix(chain),
                to_vec(&(chain, state)),
            );
        }
        for record in &changes.anchors {
            let a = &record.anchor.statement;
            batch.put_cf(
                self.cf(ANCHORS),
                chain_key(&a.chain_id, a.state_index),
                to_vec(record),
            );
            batch.put_cf(
                self.cf(HEIGHTS),
                chain_key(&a.chain_id, a.height),
                to_vec(&a.state_index),
            );
        }
        for e in &changes.evidence {
            let mut key = chain_prefix(&e.chain_id);
            key.extend_from_slice(&e.second.1.0);
            batch.put_cf(self.cf(EVIDENCE), key, to_vec(e));
        }
        for id in &changes.pending_remove {
            batch.delete_cf(self.cf(PENDING), id.0);
        }
        for id in &changes.pending_put {
            batch.put_cf(self.cf(PENDING), id.0, to_vec(&()));
        }
        let mut options = WriteOptions::default();
        options.set_sync(self.sync);
        self.db.write_opt(batch, &options).map_err(storage)
    }

    fn confirmed_before(&self, before_ms: u64, max: usize) -> Result<Vec<(u64, TangleBlockId)>> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(CONFIRMED), IteratorMode::Start) {
            let (key, _) = item.map_err(storage)?;
            let (at, id) = key.split_at(8);
            let at = u64::from_be_bytes(at.try_into().map_err(storage)?);
            if at >= before_ms || out.len() >= max {
                break;
            }
            out.push((at, id_of(id)?));
        }
        Ok(out)
    }

    fn forget(&self, blocks: &[TangleBlockId], considered: &[(u64, TangleBlockId)]) -> Result<()> {
        let mut batch = WriteBatch::default();
        for id in blocks {
            batch.delete_cf(self.cf(BLOCKS), id.0);
            batch.delete_cf(self.cf(METAS), id.0);
            batch.delete_cf(self.cf(TIPS), id.0);
            let mut end = id.0.to_vec();
            end.extend_from_slice(&[0xff; 33]);
            batch.delete_range_cf(self.cf(CHILDREN), id.0.to_vec(), end);
        }
        for (at, id) in considered {
            batch.delete_cf(self.cf(CONFIRMED), confirmed_key(*at, id));
        }
        let mut options = WriteOptions::default();
        options.set_sync(self.sync);
        self.db.write_opt(batch, &options).map_err(storage)
    }
}
