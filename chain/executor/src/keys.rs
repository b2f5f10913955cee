//! The layout of Weft's authenticated state: one byte of namespace, then fixed-size ids, so no
//! key of one kind can be a prefix of a key of another.

use weft_types::{Address, CodeHash, ContractId};

/// Contract storage: `s` + contract id + the contract's own key.
pub const STORAGE: u8 = b's';
/// Contract records (the code hash): `c` + contract id.
pub const CONTRACT: u8 = b'c';
/// Code by hash: `k` + code hash.
pub const CODE: u8 = b'k';
/// Next nonce of an account: `n` + address.
pub const NONCE: u8 = b'n';
/// The chain's governance record (committee, system contracts, upgrades made): `g` alone.
pub const GOVERNANCE: u8 = b'g';

/// Length of the part of a storage key before the contract's own key.
pub const STORAGE_HEADER: usize = 33;

fn key(namespace: u8, id: &[u8; 32], rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(33 + rest.len());
    out.push(namespace);
    out.extend_from_slice(id);
    out.extend_from_slice(rest);
    out
}

/// Where `contract` stores `key`.
pub fn storage(contract: &ContractId, key_bytes: &[u8]) -> Vec<u8> {
    key(STORAGE, &contract.0, key_bytes)
}

/// Where a contract's code hash is recorded.
pub fn contract(id: &ContractId) -> Vec<u8> {
    key(CONTRACT, &id.0, &[])
}

/// Where code is stored.
pub fn code(hash: &CodeHash) -> Vec<u8> {
    key(CODE, &hash.0, &[])
}

/// Where an account's next nonce is stored.
pub fn nonce(address: &Address) -> Vec<u8> {
    key(NONCE, &address.0, &[])
}

/// Where the governance record is stored.
pub fn governance() -> Vec<u8> {
    vec![GOVERNANCE]
}
