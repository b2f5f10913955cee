//! A cache of the latest values read, emptied whenever latest values are written.
//!
//! Admission reads each sender's nonce, and block building and execution read the same few
//! keys again and again between two commits; a RocksDB read walks a memtable skip list of
//! random keys every time. Every write of latest values empties the cache and starts a new
//! epoch. A reader that missed takes the epoch before it reads the database and keeps what it
//! read only if the epoch is unchanged, so a value read before a write is never kept after it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// The cache holds at most this many bytes of keys and values; past it, it starts over.
const MAX_BYTES: usize = 16 << 20;

/// What [`LatestCache::lookup`] found.
pub(crate) enum Lookup {
    /// The latest value (`None`: the key has none).
    Hit(Option<Vec<u8>>),
    /// Not cached: read the database, then [`LatestCache::keep`] with this epoch.
    Miss(u64),
}

#[derive(Default)]
pub(crate) struct LatestCache(Mutex<Inner>);

#[derive(Default)]
struct Inner {
    epoch: u64,
    bytes: usize,
    values: HashMap<Vec<u8>, Option<Vec<u8>>>,
}

impl LatestCache {
    fn inner(&self) -> MutexGuard<'_, Inner> {
        // The map is consistent after any panic: each update is a single insert or clear.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn lookup(&self, key: &[u8]) -> Lookup {
        let inner = self.inner();
        match inner.values.get(key) {
            Some(value) => Lookup::Hit(value.clone()),
            None => Lookup::Miss(inner.epoch),
        }
    }

    /// Keeps `value`, read from the database after a [`Lookup::Miss`] in `epoch`, unless latest
    /// values were written since.
    pub(crate) fn keep(&self, epoch: u64, key: &[u8], value: &Option<Vec<u8>>) {
        let mut inner = self.inner();
        if inner.epoch != epoch {
            return;
        }
        let size = key.len() + value.as_ref().map_or(0, Vec::len);
        if inner.bytes + size > MAX_BYTES {
            inner.values.clear();
            inner.bytes = 0;
        }
        inner.bytes += size;
        if let Some(old) = inner.values.insert(key.to_vec(), value.clone()) {
            inner.bytes -= key.len() + old.map_or(0, |v| v.len());
        }
    }

    /// Forgets everything: call after latest values were written.
    pub(crate) fn invalidate(&self) {
        let mut inner = self.inner();
        inner.epoch += 1;
        inner.values.clear();
        inner.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_read_before_a_write_is_not_kept_after_it() {
        let cache = LatestCache::default();
        let Lookup::Miss(epoch) = cache.lookup(b"k") else {
            panic!("empty cache")
        };
        // A write lands between the reader's lookup and its database read.
        cache.invalidate();
        cache.keep(epoch, b"k", &Some(b"old".to_vec()));
        assert!(matches!(cache.lookup(b"k"), Lookup::Miss(_)));
        let Lookup::Miss(epoch) = cache.lookup(b"k") else {
            panic!("nothing kept")
        };
        cache.keep(epoch, b"k", &Some(b"new".to_vec()));
        assert!(matches!(cache.lookup(b"k"), Lookup::Hit(Some(v)) if v == b"new"));
        cache.keep(epoch, b"absent", &None);
        assert!(matches!(cache.lookup(b"absent"), Lookup::Hit(None)));
        cache.invalidate();
        assert!(matches!(cache.lookup(b"k"), Lookup::Miss(_)));
    }

    #[test]
    fn the_cache_starts_over_past_its_size() {
        let cache = LatestCache::default();
        let big = vec![0u8; MAX_BYTES / 2];
        cache.keep(0, b"a", &Some(big.clone()));
        cache.keep(0, b"b", &Some(big.clone()));
        // Over the bound: `a` and `b` are dropped before `c` goes in.
        cache.keep(0, b"c", &Some(big));
        assert!(matches!(cache.lookup(b"a"), Lookup::Miss(_)));
        assert!(matches!(cache.lookup(b"c"), Lookup::Hit(Some(_))));
        assert!(cache.inner().bytes <= MAX_BYTES);
    }
}
