//! The genesis file: the chain id and the committee (public keys, network addresses, voting
//! power). Every member of a committee runs with the same file.
//!
//! ```toml
//! chain_id = "weft-devnet"
//!
//! [[validators]]
//! name = "node-0"
//! public_key = "5f1c…"              # 32 bytes, hex: the member's ed25519 key
//! address = "/ip4/10.0.0.1/tcp/30300"
//! power = 1
//!
//! [blocks]                          # optional; this is the default
//! heartbeat_ms = 600000             # an empty block after this long without one (0: never)
//!
//! [anchoring]                       # optional; these are the defaults
//! every_blocks = 1                  # anchor every block that changed the state…
//! interval_ms = 0                   # …or when this much block time passed (0: off)
//!
//! [tangle]                          # optional; the Tangle network the members embed
//! network = "weft-devnet-tangle"    # default: "<chain_id>-tangle"
//! pow_difficulty = 0                # proof-of-work bits for issuers that are not members
//! ```
//!
//! Anchoring and Tangle parameters are here, not in each node's config, because every member
//! must agree on them: which blocks are anchored decides what the committee signs, and the proof
//! of work decides which Tangle blocks are valid.

use serde::{Deserialize, Serialize};
use std::path::Path;
use weft_consensus::{Validator, ValidatorSet};
use weft_types::{Hash32, PublicKey, domain_hash};

/// One committee member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisValidator {
    /// A name for logs and `weft_chainInfo`.
    pub name: String,
    /// Its ed25519 public key, 64 hex digits.
    pub public_key: String,
    /// Where it listens for peers (a multiaddr).
    pub address: String,
    /// Its voting power.
    #[serde(default = "one")]
    pub power: u64,
}

fn one() -> u64 {
    1
}

/// `[blocks]`: when the committee makes blocks. Blocks are made only when transactions wait, and
/// an empty "heartbeat" block when the last block is `heartbeat_ms` old, so an idle chain costs
/// next to nothing and still shows it is alive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlocksGenesis {
    /// An empty block once the last block is this old (milliseconds of block time; 0: never).
    pub heartbeat_ms: u64,
}

impl Default for BlocksGenesis {
    fn default() -> Self {
        Self {
            heartbeat_ms: 600_000,
        }
    }
}

/// `[anchoring]`: which committed blocks the committee anchors on the Tangle. A block is anchored
/// when `every_blocks` blocks passed since the last anchored one, or (with `interval_ms` > 0) when
/// its block time is that much later than the last anchored block's, and only if its state root
/// differs from the last anchored one (an empty block changes nothing worth anchoring). All of
/// this depends only on the chain, so every member signs the same anchors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnchoringConfig {
    /// Anchor after this many blocks (1: every block).
    pub every_blocks: u64,
    /// Also anchor when this much block time passed (0: off).
    pub interval_ms: u64,
}

impl Default for AnchoringConfig {
    fn default() -> Self {
        Self {
            every_blocks: 1,
            interval_ms: 0,
        }
    }
}

/// `[tangle]`: the Tangle network the committee's nodes embed. Its validators are the members.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TangleGenesis {
    /// The network id (default `<chain_id>-tangle`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Proof-of-work bits required from issuers that are not validators (0 on a devnet).
    pub pow_difficulty: u8,
}

/// The genesis file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// The chain id.
    pub chain_id: String,
    /// The committee.
    pub validators: Vec<GenesisValidator>,
    /// Block pacing.
    #[serde(default)]
    pub blocks: BlocksGenesis,
    /// Anchoring cadence.
    #[serde(default)]
    pub anchoring: AnchoringConfig,
    /// The Tangle network.
    #[serde(default)]
    pub tangle: TangleGenesis,
    /// `[system_contracts]`: the code hash of each system contract installed at block 1, by
    /// name. A node whose binary carries other code refuses to start rather than compute another
    /// block 1 (ADR 0007). Absent in older files: the binary's code is installed unchecked.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub system_contracts: std::collections::BTreeMap<String, String>,
}

/// The `[system_contracts]` table of this binary's system contracts.
pub fn system_contract_hashes() -> std::collections::BTreeMap<String, String> {
    weft_system::ALL
        .iter()
        .map(|c| (c.name.to_string(), c.code_hash().to_hex()))
        .collect()
}

/// Why a genesis file is not usable.
#[derive(Debug, thiserror::Error)]
#[error("genesis file {path}: {reason}")]
pub struct GenesisError {
    path: String,
    reason: String,
}

impl Genesis {
    /// Reads and checks a genesis file.
    pub fn load(path: &Path) -> Result<Self, GenesisError> {
        let error = |reason: String| GenesisError {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        let genesis: Self = toml::from_str(&text).map_err(|e| error(e.to_string()))?;
        genesis.check().map_err(error)?;
        Ok(genesis)
    }

    /// Checks every field: keys are ed25519 points, addresses are multiaddrs, no member twice.
    pub fn check(&self) -> Result<(), String> {
        if self.chain_id.is_empty() || self.chain_id.len() > weft_types::tx::MAX_CHAIN_ID {
            return Err(format!(
                "chain_id must be 1 to {} bytes",
                weft_types::tx::MAX_CHAIN_ID
            ));
        }
        weft_types::did::check_chain_name(&self.chain_id).map_err(|e| format!("chain_id: {e}"))?;
        if self.validators.is_empty() {
            return Err("the committee is empty; list at least one [[validators]] entry".into());
        }
        for v in &self.validators {
            parse_key(&v.public_key)
                .map_err(|e| format!("validator `{}`: public_key {e}", v.name))?;
            v.address.parse::<weft_p2p::Multiaddr>().map_err(|e| {
                format!(
                    "validator `{}`: address `{}` is not a multiaddr ({e}); expected e.g. /ip4/10.0.0.1/tcp/30300",
                    v.name, v.address
                )
            })?;
            if v.power == 0 {
                return Err(format!("validator `{}`: power must be at least 1", v.name));
            }
        }
        if self.anchoring.every_blocks == 0 {
            return Err("anchoring.every_blocks must be at least 1".into());
        }
        if self.validators.len() > weft_types::anchor::MAX_COMMITTEE {
            return Err(format!(
                "a committee has at most {} members; this one has {}",
                weft_types::anchor::MAX_COMMITTEE,
                self.validators.len()
            ));
        }
        if self.tangle.pow_difficulty > 32 {
            return Err(format!(
                "tangle.pow_difficulty is {}; more than 32 bits cannot be met in reasonable time",
                self.tangle.pow_difficulty
            ));
        }
        for (name, hash) in &self.system_contracts {
            let Some(contract) = weft_system::by_name(name) else {
                return Err(format!(
                    "system_contracts.{name}: this binary has no system contract of that name (it has {})",
                    weft_system::ALL
                        .iter()
                        .map(|c| c.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            };
            if *hash != contract.code_hash().to_hex() {
                return Err(format!(
                    "system_contracts.{name} is {hash}, but this binary installs code {} at genesis: it was built from another Weft version than the one that created this chain; run the version the chain was created with",
                    contract.code_hash()
                ));
            }
        }
        self.validator_set().map(|_| ())
    }

    /// The committee as consensus sees it.
    pub fn validator_set(&self) -> Result<ValidatorSet, String> {
        let validators = self
            .validators
            .iter()
            .map(|v| Ok(Validator::new(parse_key(&v.public_key)?, v.power)))
            .collect::<Result<Vec<_>, String>>()?;
        ValidatorSet::new(validators)
    }

    /// The committee as the node's servers show it: members in genesis order, and the keys in
    /// the order of a commit certificate's signer bitmap.
    pub fn info(&self) -> Result<weft_api::CommitteeInfo, String> {
        let members = self
            .validators
            .iter()
            .map(|v| {
                Ok(weft_api::CommitteeMemberInfo {
                    name: v.name.clone(),
                    public_key: parse_key(&v.public_key)?,
                    address: v.address.clone(),
                    power: v.power,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let signing_order = self
            .validator_set()?
            .validators()
            .iter()
            .map(|v| v.public_key)
            .collect();
        Ok(weft_api::CommitteeInfo {
            members,
            signing_order,
        })
    }

    /// The committee as the Tangle and light clients see it (epoch 0).
    pub fn committee(&self) -> Result<weft_types::Committee, String> {
        let members = self
            .validators
            .iter()
            .map(|v| {
                Ok(weft_types::CommitteeMember {
                    public_key: parse_key(&v.public_key)?,
                    power: v.power,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        weft_types::Committee::new(0, members).map_err(|e| e.to_string())
    }

    /// The Tangle network id.
    pub fn tangle_network(&self) -> String {
        self.tangle
            .network
            .clone()
            .unwrap_or_else(|| format!("{}-tangle", self.chain_id))
    }

    /// The member with `key`, if any.
    pub fn member(&self, key: &PublicKey) -> Option<&GenesisValidator> {
        self.validators
            .iter()
            .find(|v| parse_key(&v.public_key).ok() == Some(*key))
    }

    /// A hash of the chain id and the committee, to tell genesis files apart.
    pub fn hash(&self) -> Hash32 {
        let mut members: Vec<(PublicKey, u64)> = self
            .validators
            .iter()
            .filter_map(|v| parse_key(&v.public_key).ok().map(|k| (k, v.power)))
            .collect();
        members.sort();
        let bytes = borsh::to_vec(&(self.chain_id.as_str(), members))
            .expect("borsh encoding into a Vec cannot fail");
        domain_hash("weft/genesis/v1", &[&bytes])
    }

    /// The file's text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("genesis serializes")
    }
}

/// A 32-byte ed25519 public key from hex (with or without `0x`).
pub fn parse_key(text: &str) -> Result<PublicKey, String> {
    let bytes = hex::decode(text.trim_start_matches("0x"))
        .map_err(|e| format!("`{text}` is not hex: {e}"))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("has {} bytes; expected 32", b.len()))?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        .map_err(|_| format!("`{text}` is not an ed25519 public key"))?;
    Ok(PublicKey(bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn member(i: u8) -> GenesisValidator {
        let key = weft_types::Keypair::from_seed([i; 32]).public_key();
        GenesisValidator {
            name: format!("node-{i}"),
            public_key: hex::encode(key.0),
            address: format!("/ip4/127.0.0.1/tcp/{}", 30300 + u16::from(i)),
            power: 1,
        }
    }

    #[test]
    fn round_trips_and_rejects_bad_members() {
        let genesis = Genesis {
            chain_id: "weft-test".into(),
            validators: (1..=4).map(member).collect(),
            blocks: Default::default(),
            anchoring: Default::default(),
            tangle: Default::default(),
            system_contracts: system_contract_hashes(),
        };
        let again: Genesis = toml::from_str(&genesis.to_toml()).unwrap();
        assert_eq!(again, genesis);
        again.check().unwrap();
        assert_eq!(again.validator_set().unwrap().validators().len(), 4);

        let mut twice = genesis.clone();
        twice.validators.push(member(1));
        assert!(twice.check().unwrap_err().contains("appears twice"));
        let mut bad_key = genesis.clone();
        bad_key.validators[0].public_key = "abcd".into();
        let err = bad_key.check().unwrap_err();
        assert!(err.contains("node-1") && err.contains("2 bytes"), "{err}");
        let mut bad_addr = genesis.clone();
        bad_addr.validators[2].address = "10.0.0.1:30300".into();
        assert!(bad_addr.check().unwrap_err().contains("not a multiaddr"));
        let mut other_code = genesis.clone();
        other_code
            .system_contracts
            .insert("identity".into(), format!("0x{}", "00".repeat(32)));
        assert!(
            other_code
                .check()
                .unwrap_err()
                .contains("another Weft version")
        );
        let mut zero = genesis;
        zero.validators[3].power = 0;
        assert!(zero.check().unwrap_err().contains("power"));
    }
}
