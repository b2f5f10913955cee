//! `weft-types`: the data types every part of Weft shares.
//!
//! Ids and hashes are newtypes over 32 bytes ([`Hash32`], [`CodeHash`], [`ContractId`],
//! [`Address`]) that print as `0x`-prefixed hex and encode as raw bytes in borsh. [`abi`] describes a
//! contract's methods (the record format the SDK embeds in every contract's `weft_abi` custom
//! section), and [`Event`] is what a contract emits. Everything that is hashed or signed is borsh.
//!
//! This crate does no I/O and has no heavy dependencies, so contracts (compiled to wasm32) and
//! clients can use it as well as the node. Start with [`ids`], then [`abi`].

pub mod abi;
pub mod anchor;
pub mod block;
pub mod channel;
pub mod did;
pub mod ed25519;
pub mod event;
pub mod holder;
pub mod ids;
pub mod nft;
pub mod policy;
pub mod status;
pub mod token;
pub mod trust;
pub mod tx;

pub use abi::{AbiError, ArgAbi, ContractAbi, MethodAbi, MethodKind};
pub use anchor::{
    Anchor, Committee, CommitteeMember, QuorumCertificate, QuorumError, Registration, Rotation,
    Signed, Statement,
};
pub use block::{Block, BlockHash, BlockHeader, Receipt, ReceiptStatus, list_hash};
#[cfg(feature = "signing")]
pub use ed25519::{
    VerifyingKey, verify_all, verify_all_keyed, verify_batch, verify_batch_keyed, verify_hash,
};
pub use event::Event;
pub use ids::{
    Address, ChainId, CodeHash, ContractId, Hash32, ParseHexError, PublicKey, Signature,
    StatementId, TangleBlockId, domain_hash,
};
#[cfg(feature = "signing")]
pub use tx::Keypair;
pub use tx::{Action, SignatureError, SignedTransaction, Transaction, TxHash};
