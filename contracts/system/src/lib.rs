//! The system contracts every Weft chain starts with.
//!
//! Their code is part of the protocol: every member of a committee must install the same bytes at
//! genesis, whatever compiler it was built with. So the wasm is committed next to this crate
//! (`identity.wasm`, `status.wasm`, `trust.wasm`, `channel.wasm`, `policy.wasm`,
//! `token.wasm`, `nft.wasm`) and compiled into the `weft` binary, and a test rebuilds each contract from
//! its crate in `contracts/` and checks that the bytes are the same (`tests/reproducible.rs`; run
//! it with `WEFT_UPDATE_SYSTEM_CONTRACTS=1` to write new bytes after changing a contract).
//!
//! Each system contract lives at a well-known id, [`ContractId::system`] of its name, and its init
//! method takes the chain id. Only a quorum of the committee can replace its code later (ADR 0007).

use weft_types::{CodeHash, ContractId};

/// One system contract.
#[derive(Debug, Clone, Copy)]
pub struct SystemContract {
    /// Its name (`identity`, …), from which its id derives.
    pub name: &'static str,
    /// Its crate, relative to the workspace root.
    pub source: &'static str,
    /// The wasm installed at genesis.
    pub code: &'static [u8],
}

impl SystemContract {
    /// Its well-known id.
    pub fn id(&self) -> ContractId {
        ContractId::system(self.name)
    }

    /// The hash of its genesis code.
    pub fn code_hash(&self) -> CodeHash {
        CodeHash::of(self.code)
    }

    /// The borsh arguments of its init method on chain `chain_id`.
    pub fn init_args(&self, chain_id: &str) -> Vec<u8> {
        borsh::to_vec(&(chain_id.to_string(),)).expect("borsh encoding into a Vec cannot fail")
    }
}

/// The `did:weft` registry (`contracts/identity`).
pub const IDENTITY: SystemContract = SystemContract {
    name: "identity",
    source: "contracts/identity",
    code: include_bytes!("../identity.wasm"),
};

/// Credential status lists (`contracts/status`).
pub const STATUS: SystemContract = SystemContract {
    name: "status",
    source: "contracts/status",
    code: include_bytes!("../status.wasm"),
};

/// The trust registry (`contracts/trust`).
pub const TRUST: SystemContract = SystemContract {
    name: "trust",
    source: "contracts/trust",
    code: include_bytes!("../trust.wasm"),
};

/// Audit-trail channels (`contracts/channel`).
pub const CHANNEL: SystemContract = SystemContract {
    name: "channel",
    source: "contracts/channel",
    code: include_bytes!("../channel.wasm"),
};

/// Device access policies (`contracts/policy`).
pub const POLICY: SystemContract = SystemContract {
    name: "policy",
    source: "contracts/policy",
    code: include_bytes!("../policy.wasm"),
};

/// Fungible tokens (`contracts/token`).
pub const TOKEN: SystemContract = SystemContract {
    name: "token",
    source: "contracts/token",
    code: include_bytes!("../token.wasm"),
};

/// Non-fungible items (`contracts/nft`).
pub const NFT: SystemContract = SystemContract {
    name: "nft",
    source: "contracts/nft",
    code: include_bytes!("../nft.wasm"),
};

/// Every system contract, in the order they are installed.
pub const ALL: &[SystemContract] = &[IDENTITY, STATUS, TRUST, CHANNEL, POLICY, TOKEN, NFT];

/// The system contract called `name`.
pub fn by_name(name: &str) -> Option<&'static SystemContract> {
    ALL.iter().find(|c| c.name == name)
}

/// The system contract at `id`.
pub fn by_id(id: &ContractId) -> Option<&'static SystemContract> {
    ALL.iter().find(|c| &c.id() == id)
}
