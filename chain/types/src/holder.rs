//! Who holds an asset: an account (an Ed25519 key) or a `did:weft` DID.
//!
//! The token and NFT contracts keep balances and items by [`Holder`]. An account speaks for
//! itself as a transaction's sender or by its signature; a DID speaks through the keys under its
//! `capabilityInvocation` relationship, so a DID's assets survive key rotation and a holder can
//! be a person, an organisation or a device with an identity rather than one key.

use crate::did::{Did, DidId};
use crate::ids::Address;
use borsh::{BorshDeserialize, BorshSerialize};

/// An account or a DID of this chain that holds assets.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub enum Holder {
    /// An account: the Ed25519 public key that signs its transactions.
    Account(Address),
    /// A `did:weft` DID of this chain, acting through its capabilityInvocation keys.
    Did(DidId),
}

/// The length of [`Holder::key`].
pub const HOLDER_KEY: usize = 33;

impl Holder {
    /// Its storage key: a tag byte (0 account, 1 DID) and the 32 bytes.
    pub fn key(&self) -> [u8; HOLDER_KEY] {
        let mut out = [0u8; HOLDER_KEY];
        let (tag, bytes) = match self {
            Holder::Account(a) => (0, &a.0),
            Holder::Did(d) => (1, &d.0),
        };
        out[0] = tag;
        out[1..].copy_from_slice(bytes);
        out
    }

    /// The holder a [`Holder::key`] names.
    pub fn from_key(key: &[u8]) -> Option<Self> {
        let bytes: [u8; 32] = key.get(1..HOLDER_KEY)?.try_into().ok()?;
        match key.first()? {
            0 => Some(Holder::Account(Address(bytes))),
            1 => Some(Holder::Did(DidId(bytes))),
            _ => None,
        }
    }

    /// How people write it on chain `chain`: `0x…` for an account, the DID otherwise.
    pub fn to_text(&self, chain: &str) -> String {
        match self {
            Holder::Account(a) => a.to_hex(),
            Holder::Did(d) => Did::new(chain, *d).to_string(),
        }
    }

    /// Reads `0x…` (an account) or a `did:weft` DID of chain `chain`.
    pub fn parse(text: &str, chain: &str) -> Result<Self, String> {
        if text.starts_with("did:") {
            let did: Did = text.parse().map_err(|e| format!("{text:?}: {e}"))?;
            if did.chain != chain {
                return Err(format!(
                    "{text} is a DID of chain {:?}; holders on this chain are DIDs of {chain:?}",
                    did.chain
                ));
            }
            return Ok(Holder::Did(did.id));
        }
        text.parse::<Address>().map(Holder::Account).map_err(|e| {
            format!("{text:?} is neither an account (0x and 64 hex digits) nor a did:weft DID: {e}")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_round_trip_through_keys_and_text() {
        for h in [
            Holder::Account(Address([7; 32])),
            Holder::Did(DidId([9; 32])),
        ] {
            assert_eq!(Holder::from_key(&h.key()), Some(h));
            assert_eq!(Holder::parse(&h.to_text("weft-test"), "weft-test"), Ok(h));
        }
        assert!(Holder::from_key(&[2; 33]).is_none());
        let did = Holder::Did(DidId([9; 32])).to_text("other");
        assert!(
            Holder::parse(&did, "weft-test")
                .unwrap_err()
                .contains("chain")
        );
        assert!(
            Holder::parse("alice", "weft-test")
                .unwrap_err()
                .contains("neither")
        );
    }
}
