//! A key-value registry: names owned by accounts, each with a value, listed in order.
//!
//! Shows maps with iteration and paging, ownership checks, events, and signature checks with the
//! host's ed25519 verification (`register_signed` lets a relayer register a name on behalf of a key
//! holder who signed the request).

use weft_sdk::prelude::*;

/// One registered name.
#[derive(BorshSerialize, BorshDeserialize, Debug, Clone, PartialEq, Eq)]
#[borsh(crate = "weft_sdk::borsh")]
pub struct Entry {
    /// Who may change or release the name.
    pub owner: Address,
    /// The value, opaque to the registry.
    pub value: Vec<u8>,
    /// Block height of the last change.
    pub updated_at: u64,
}

const ENTRIES: Map<String, Entry> = Map::new("entries");
const COUNT: Item<u64> = Item::new("count");
const MAX_NAME: usize = 64;
const MAX_VALUE: usize = 4096;

fn check(name: &str, value: &[u8]) -> Result<()> {
    require!(
        !name.is_empty() && name.len() <= MAX_NAME,
        "names have 1 to {MAX_NAME} bytes, not {}",
        name.len()
    );
    require!(
        value.len() <= MAX_VALUE,
        "values have at most {MAX_VALUE} bytes, not {}",
        value.len()
    );
    Ok(())
}

fn insert(name: String, owner: Address, value: Vec<u8>) -> Result<()> {
    check(&name, &value)?;
    require!(
        !ENTRIES.contains(&name),
        "name {name:?} is already registered"
    );
    ENTRIES.set(
        &name,
        &Entry {
            owner,
            value,
            updated_at: block_height(),
        },
    );
    COUNT.set(&(COUNT.get().unwrap_or(0) + 1));
    emit("registered", &(name, owner));
    Ok(())
}

/// Registers `name` for the caller.
#[call]
pub fn register(name: String, value: Vec<u8>) -> Result<()> {
    insert(name, caller(), value)
}

/// Registers `name` for the holder of `public_key`, who signed `blake3(name || value)`.
#[call]
pub fn register_signed(
    name: String,
    value: Vec<u8>,
    public_key: [u8; 32],
    signature: Vec<u8>,
) -> Result<()> {
    let signature: [u8; 64] = signature
        .try_into()
        .map_err(|_| "signatures have 64 bytes")?;
    let mut message = name.as_bytes().to_vec();
    message.extend_from_slice(&value);
    let digest = blake3(&message);
    require!(
        ed25519_verify(&public_key, &signature, &digest),
        "the signature does not match name, value and key"
    );
    insert(name, Address(public_key), value)
}

/// Replaces the value of a name the caller owns.
#[call]
pub fn update(name: String, value: Vec<u8>) -> Result<()> {
    check(&name, &value)?;
    let mut entry = ENTRIES
        .get(&name)
        .ok_or_else(|| format!("name {name:?} is not registered"))?;
    require!(
        entry.owner == caller(),
        "only the owner of {name:?} may update it"
    );
    entry.value = value;
    entry.updated_at = block_height();
    ENTRIES.set(&name, &entry);
    emit("updated", &name);
    Ok(())
}

/// Gives a name the caller owns to `new_owner`.
#[call]
pub fn transfer(name: String, new_owner: Address) -> Result<()> {
    let mut entry = ENTRIES
        .get(&name)
        .ok_or_else(|| format!("name {name:?} is not registered"))?;
    require!(
        entry.owner == caller(),
        "only the owner of {name:?} may transfer it"
    );
    entry.owner = new_owner;
    ENTRIES.set(&name, &entry);
    emit("transferred", &(name, new_owner));
    Ok(())
}

/// Releases a name the caller owns.
#[call]
pub fn release(name: String) -> Result<()> {
    let entry = ENTRIES
        .get(&name)
        .ok_or_else(|| format!("name {name:?} is not registered"))?;
    require!(
        entry.owner == caller(),
        "only the owner of {name:?} may release it"
    );
    ENTRIES.remove(&name);
    COUNT.set(&(COUNT.get().unwrap_or(1) - 1));
    emit("released", &name);
    Ok(())
}

/// The entry for `name`.
#[view]
pub fn get(name: String) -> Option<Entry> {
    ENTRIES.get(&name)
}

/// Up to `limit` (at most 100) entries in name order, after `after` when given.
#[view]
pub fn list(after: Option<String>, limit: u32) -> Vec<(String, Entry)> {
    let limit = limit.min(100) as usize;
    match after {
        Some(after) => ENTRIES.iter_after(&after).take(limit).collect(),
        None => ENTRIES.iter().take(limit).collect(),
    }
}

/// How many names are registered.
#[view]
pub fn count() -> u64 {
    COUNT.get().unwrap_or(0)
}
