//! Ids and hashes: 32-byte newtypes, hex in human formats, raw bytes in borsh.

use borsh::{BorshDeserialize, BorshSerialize};
use std::fmt;
use std::str::FromStr;

/// Why a hex string is not a valid 32-byte id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseHexError {
    /// The string did not start with `0x`.
    #[error("expected a 0x-prefixed hex string, got {0:?}")]
    MissingPrefix(String),
    /// The string had the wrong number of hex digits.
    #[error("expected 64 hex digits (32 bytes) after 0x, got {0}")]
    WrongLength(usize),
    /// A character was not a hex digit.
    #[error("invalid hex digit in {0:?}")]
    InvalidDigit(String),
}

fn parse_hex32(s: &str) -> Result<[u8; 32], ParseHexError> {
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| ParseHexError::MissingPrefix(s.to_string()))?;
    if digits.len() != 64 {
        return Err(ParseHexError::WrongLength(digits.len()));
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(digits, &mut out)
        .map_err(|_| ParseHexError::InvalidDigit(s.to_string()))?;
    Ok(out)
}

macro_rules! id32 {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize,
            BorshDeserialize,
        )]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// `0x`-prefixed lowercase hex.
            pub fn to_hex(&self) -> String {
                format!("0x{}", hex::encode(self.0))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl FromStr for $name {
            type Err = ParseHexError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_hex32(s).map(Self)
            }
        }

        impl From<[u8; 32]> for $name {
            fn from(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }
        }
    };
}

id32!(
    /// A blake3 digest.
    Hash32
);
id32!(
    /// The blake3 hash of a contract's wasm code; code is stored once under it.
    CodeHash
);
id32!(
    /// The id of a deployed contract instance.
    ContractId
);
id32!(
    /// Who calls a contract: an account (its ed25519 public key) or another contract (its id).
    Address
);

id32!(
    /// The id of a Tangle block: blake3 of its domain-tagged encoding.
    TangleBlockId
);
id32!(
    /// The id of a committee statement (an anchor, a chain registration or a committee rotation):
    /// what the committee signs.
    StatementId
);

/// Which chain a transaction is for, such as `"weft-devnet"`. Part of every signed transaction, so
/// a transaction cannot be replayed on another chain.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct ChainId(pub String);

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainId({:?})", self.0)
    }
}

/// An ed25519 public key: the sender of a transaction. As an [`Address`], it is the key's bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// The address of this key.
    pub fn address(&self) -> Address {
        Address(self.0)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(0x{})", hex::encode(self.0))
    }
}

/// An ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(0x{})", hex::encode(self.0))
    }
}

/// The hash of a block header; the block's id.
pub type BlockHash = Hash32;

/// Hashes `parts` with blake3 under a domain tag, so that bytes hashed for one purpose can never
/// collide with bytes hashed for another. Each part is length-prefixed.
pub fn domain_hash(domain: &str, parts: &[&[u8]]) -> Hash32 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&(domain.len() as u64).to_le_bytes());
    hasher.update(domain.as_bytes());
    for part in parts {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    Hash32(*hasher.finalize().as_bytes())
}

impl TangleBlockId {
    /// The Tangle's genesis: the parent of the first blocks. It is always solid and confirmed.
    pub const GENESIS: Self = Self([0; 32]);
}

impl CodeHash {
    /// The hash under which `code` is stored.
    pub fn of(code: &[u8]) -> Self {
        Self(*blake3::hash(code).as_bytes())
    }
}

impl ContractId {
    /// Derives a contract id from the deployer and a value unique to that deployer (for example
    /// the deploying transaction's nonce), so ids never depend on the code and never collide.
    pub fn derive(deployer: &Address, unique: u64) -> Self {
        Self(domain_hash("weft/contract-id/v1", &[&deployer.0, &unique.to_le_bytes()]).0)
    }
}

impl ContractId {
    /// The well-known id of the system contract `name` (`identity`, …): the same on every chain,
    /// so a client can compute it instead of trusting a node for it.
    pub fn system(name: &str) -> Self {
        Self(domain_hash("weft/system-contract/v1", &[name.as_bytes()]).0)
    }
}

impl From<ContractId> for Address {
    fn from(id: ContractId) -> Self {
        Self(id.0)
    }
}

impl From<Hash32> for CodeHash {
    fn from(h: Hash32) -> Self {
        Self(h.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn hex_and_borsh_round_trip(bytes in any::<[u8; 32]>()) {
            let id = ContractId(bytes);
            prop_assert_eq!(id.to_hex().parse::<ContractId>().unwrap(), id);
            let encoded = borsh::to_vec(&id).unwrap();
            prop_assert_eq!(encoded.len(), 32);
            prop_assert_eq!(borsh::from_slice::<ContractId>(&encoded).unwrap(), id);
        }
    }

    #[test]
    fn parse_errors_say_what_is_wrong() {
        assert_eq!(
            "abcd".parse::<Hash32>().unwrap_err().to_string(),
            "expected a 0x-prefixed hex string, got \"abcd\""
        );
        assert_eq!(
            "0xab".parse::<Hash32>().unwrap_err().to_string(),
            "expected 64 hex digits (32 bytes) after 0x, got 2"
        );
    }

    #[test]
    fn contract_ids_differ_by_deployer_and_nonce() {
        let a = Address([1; 32]);
        let b = Address([2; 32]);
        assert_ne!(ContractId::derive(&a, 0), ContractId::derive(&a, 1));
        assert_ne!(ContractId::derive(&a, 0), ContractId::derive(&b, 0));
    }
}
