//! A chain's trust anchor: the committee named in its genesis file. A light client (a DID
//! resolver, a credential verifier) trusts nothing else.

use serde::Deserialize;
use weft_types::{Committee, CommitteeMember, PublicKey};

#[derive(Deserialize)]
struct Validator {
    public_key: String,
    power: u64,
}

#[derive(Deserialize)]
struct Genesis {
    chain_id: String,
    validators: Vec<Validator>,
}

/// The chain id and genesis committee of a genesis file's TOML text.
pub fn committee_of_genesis(text: &str) -> Result<(String, Committee), String> {
    let genesis: Genesis =
        toml::from_str(text).map_err(|e| format!("not a Weft genesis file: {e}"))?;
    let members = genesis
        .validators
        .iter()
        .map(|v| {
            let bytes = hex::decode(v.public_key.trim_start_matches("0x"))
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| {
                    format!("validator key {:?} is not 32 bytes of hex", v.public_key)
                })?;
            Ok(CommitteeMember {
                public_key: PublicKey(bytes),
                power: v.power,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let committee = Committee::new(0, members).map_err(|e| e.to_string())?;
    Ok((genesis.chain_id, committee))
}
