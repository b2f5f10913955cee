//! Typed storage: [`Item`] holds one value, [`Map`] many under ordered keys.
//!
//! Each handle owns a namespace: its name, prefixed by the name's length, so no two distinct names
//! can ever produce the same storage key. Values are borsh; map keys use [`MapKey`], whose encoding
//! keeps the natural order (big-endian integers), so iteration is in key order.

use crate::env::abort;
use crate::{BorshDeserialize, BorshSerialize, sys};
use std::marker::PhantomData;

fn namespace(name: &str) -> Vec<u8> {
    let len =
        u8::try_from(name.len()).unwrap_or_else(|_| abort("storage names are at most 255 bytes"));
    let mut out = Vec::with_capacity(1 + name.len());
    out.push(len);
    out.extend_from_slice(name.as_bytes());
    out
}

fn raw_get(key: &[u8]) -> Option<Vec<u8>> {
    // SAFETY: pointer and length describe `key`.
    let len = unsafe { sys::storage_get(key.as_ptr(), key.len() as u32) };
    (len >= 0).then(|| sys::take_buffer(len as usize))
}

fn raw_set(key: &[u8], value: &[u8]) {
    // SAFETY: pointers and lengths describe `key` and `value`.
    unsafe {
        sys::storage_set(
            key.as_ptr(),
            key.len() as u32,
            value.as_ptr(),
            value.len() as u32,
        )
    }
}

fn raw_remove(key: &[u8]) {
    // SAFETY: pointer and length describe `key`.
    unsafe { sys::storage_remove(key.as_ptr(), key.len() as u32) }
}

/// The first entry after `after` (or the first) whose key starts with `prefix`.
fn raw_next(prefix: &[u8], after: Option<&[u8]>) -> Option<(Vec<u8>, Vec<u8>)> {
    let (after_ptr, after_len) =
        after.map_or((std::ptr::null(), 0), |a| (a.as_ptr(), a.len() as u32));
    // SAFETY: pointers and lengths describe `prefix` and `after`.
    let len = unsafe {
        sys::storage_next(
            prefix.as_ptr(),
            prefix.len() as u32,
            after_ptr,
            after_len,
            u32::from(after.is_some()),
        )
    };
    if len < 0 {
        return None;
    }
    let entry = sys::take_buffer(len as usize);
    let key_len = u32::from_le_bytes(
        entry[..4]
            .try_into()
            .expect("the host writes a 4-byte key length"),
    ) as usize;
    let key = entry[4..4 + key_len].to_vec();
    let value = entry[4 + key_len..].to_vec();
    Some((key, value))
}

fn decode<T: BorshDeserialize>(bytes: &[u8], what: &str) -> T {
    borsh::from_slice(bytes).unwrap_or_else(|e| {
        abort(&format!(
            "stored value of {what} does not decode as {}: {e}",
            std::any::type_name::<T>()
        ))
    })
}

fn encode<T: BorshSerialize + ?Sized>(value: &T) -> Vec<u8> {
    borsh::to_vec(value)
        .unwrap_or_else(|e| abort(&format!("cannot encode a value for storage: {e}")))
}

/// One value in storage.
pub struct Item<T> {
    name: &'static str,
    _value: PhantomData<fn() -> T>,
}

impl<T: BorshSerialize + BorshDeserialize> Item<T> {
    /// A handle on the value stored under `name`.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            _value: PhantomData,
        }
    }

    /// The value, if set.
    pub fn get(&self) -> Option<T> {
        raw_get(&namespace(self.name)).map(|bytes| decode(&bytes, self.name))
    }

    /// Stores `value`.
    pub fn set(&self, value: &T) {
        raw_set(&namespace(self.name), &encode(value));
    }

    /// Removes the value.
    pub fn remove(&self) {
        raw_remove(&namespace(self.name));
    }
}

/// How a map key is stored: an encoding whose byte order is the key's natural order.
pub trait MapKey: Sized {
    /// Appends the encoded key to `out`.
    fn encode_key(&self, out: &mut Vec<u8>);
    /// Decodes a key from the bytes `encode_key` wrote.
    fn decode_key(bytes: &[u8]) -> Option<Self>;
}

macro_rules! int_key {
    ($($t:ty),*) => {$(
        impl MapKey for $t {
            fn encode_key(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_be_bytes());
            }
            fn decode_key(bytes: &[u8]) -> Option<Self> {
                Some(<$t>::from_be_bytes(bytes.try_into().ok()?))
            }
        }
    )*};
}
int_key!(u8, u16, u32, u64, u128);

impl MapKey for String {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
    fn decode_key(bytes: &[u8]) -> Option<Self> {
        String::from_utf8(bytes.to_vec()).ok()
    }
}

impl MapKey for Vec<u8> {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
    fn decode_key(bytes: &[u8]) -> Option<Self> {
        Some(bytes.to_vec())
    }
}

impl<const N: usize> MapKey for [u8; N] {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
    fn decode_key(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok()
    }
}

macro_rules! id_key {
    ($($t:ty),*) => {$(
        impl MapKey for $t {
            fn encode_key(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.0);
            }
            fn decode_key(bytes: &[u8]) -> Option<Self> {
                Some(Self(bytes.try_into().ok()?))
            }
        }
    )*};
}
id_key!(crate::Address, crate::ContractId);

/// Many values under ordered keys.
pub struct Map<K, V> {
    name: &'static str,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K: MapKey, V: BorshSerialize + BorshDeserialize> Map<K, V> {
    /// A handle on the map stored under `name`.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            _types: PhantomData,
        }
    }

    fn key(&self, key: &K) -> Vec<u8> {
        let mut out = namespace(self.name);
        key.encode_key(&mut out);
        out
    }

    /// The value under `key`.
    pub fn get(&self, key: &K) -> Option<V> {
        raw_get(&self.key(key)).map(|bytes| decode(&bytes, self.name))
    }

    /// Whether `key` has a value.
    pub fn contains(&self, key: &K) -> bool {
        raw_get(&self.key(key)).is_some()
    }

    /// Stores `value` under `key`.
    pub fn set(&self, key: &K, value: &V) {
        raw_set(&self.key(key), &encode(value));
    }

    /// Removes `key`.
    pub fn remove(&self, key: &K) {
        raw_remove(&self.key(key));
    }

    /// All entries in key order.
    pub fn iter(&self) -> MapIter<K, V> {
        MapIter {
            prefix: namespace(self.name),
            after: None,
            name: self.name,
            _types: PhantomData,
        }
    }

    /// Entries with keys greater than `after`, in key order (for paging).
    pub fn iter_after(&self, after: &K) -> MapIter<K, V> {
        MapIter {
            prefix: namespace(self.name),
            after: Some(self.key(after)),
            name: self.name,
            _types: PhantomData,
        }
    }
}

/// Iterator over a [`Map`]; each step is one storage read.
pub struct MapIter<K, V> {
    prefix: Vec<u8>,
    after: Option<Vec<u8>>,
    name: &'static str,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K: MapKey, V: BorshDeserialize> Iterator for MapIter<K, V> {
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        let (key, value) = raw_next(&self.prefix, self.after.as_deref())?;
        let decoded = K::decode_key(&key[self.prefix.len()..])
            .unwrap_or_else(|| abort(&format!("a key of map `{}` does not decode", self.name)));
        let value = decode(&value, self.name);
        self.after = Some(key);
        Some((decoded, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded<K: MapKey>(key: &K) -> Vec<u8> {
        let mut out = Vec::new();
        key.encode_key(&mut out);
        out
    }

    #[test]
    fn integer_keys_sort_numerically_and_round_trip() {
        let keys = [0u64, 1, 255, 256, 65_535, 1 << 40, u64::MAX];
        let mut bytes: Vec<Vec<u8>> = keys.iter().map(encoded).collect();
        let sorted = bytes.clone();
        bytes.sort();
        assert_eq!(bytes, sorted);
        for k in keys {
            assert_eq!(u64::decode_key(&encoded(&k)), Some(k));
        }
        assert_eq!(u64::decode_key(&[1, 2, 3]), None);
    }

    #[test]
    fn namespaces_of_different_names_never_prefix_each_other() {
        // "ab" + key "c…" must not collide with "abc": the length prefix separates them.
        let ab = namespace("ab");
        let abc = namespace("abc");
        assert!(!abc.starts_with(&ab) && !ab.starts_with(&abc));
    }
}
