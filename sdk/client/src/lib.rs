//! `weft-client`: talk to a Weft node from Rust.
//!
//! - [`Signer`] holds an ed25519 key, the chain id and the next nonce, and builds signed deploys
//!   and calls; [`keyfile`] reads and writes key files.
//! - [`Client`] speaks the node's JSON-RPC API over HTTP or WebSocket: send (and wait until
//!   committed), receipts, blocks, read-only calls with JSON or borsh arguments, subscriptions to
//!   blocks and events.
//! - [`verify_state`] checks a value the node served (`weft_getState`) against a state root, with
//!   the JMT proof; no RocksDB needed.
//! - [`binary`] is the bulk path: many signed transactions in one HTTP request, borsh both ways
//!   ([`binary::BinarySender`]).
//! - [`credentials`]: verifying credentials and presentations from proven state
//!   ([`credentials::CredentialVerifier`]), issuing and keeping status lists
//!   ([`credentials::Issuer`]).
//! - [`channels`]: audit-trail channels (transactions, proven reads, decryption, `Manager`);
//!   [`policy`]: device access policies (`set`, `decide`).
//! - [`token`]: fungible tokens (transactions, signed permits, views, proven balances);
//!   [`nft`]: non-fungible items (transactions, views and listings, proven items).
//! - [`codec`] turns JSON into borsh through a contract's ABI and back; [`json`] has the API's JSON
//!   shapes, shared with the node.
//!
//! ```no_run
//! # async fn run() -> weft_client::Result<()> {
//! use weft_client::{Client, Signer, Keypair, json::WaitUntil};
//! let client = Client::connect("ws://127.0.0.1:8545").await?;
//! let info = client.chain_info().await?;
//! let key = Keypair::from_seed([7; 32]);
//! let account = client.account(&key.public_key().address()).await?;
//! let mut signer = Signer::new(key, &info.chain_id, account.next_nonce);
//! let wasm = std::fs::read("counter.wasm").expect("the contract");
//! let receipt = client.send_and_wait(&signer.deploy(wasm, borsh::to_vec(&(0u64,)).unwrap())).await?;
//! let counter = receipt.contract.expect("deployed");
//! let tx = signer.call(counter, "increment", borsh::to_vec(&(1u64,)).unwrap());
//! client.send(&tx, WaitUntil::Committed).await?;
//! let now = client.call_json(&counter, "get", serde_json::json!([])).await?;
//! println!("count = {}", now.value.unwrap_or_default());
//! # Ok(()) }
//! ```

pub mod binary;
pub mod channels;
#[cfg(feature = "transport")]
mod client;
pub mod codec;
pub mod credentials;
pub mod did;
mod error;
pub mod genesis;
pub mod json;
pub mod keyfile;
pub mod nft;
pub mod policy;
mod signer;
pub mod token;
mod verify;

#[cfg(feature = "transport")]
pub use client::Client;
pub use error::{Error, Result};
pub use signer::{DEFAULT_GAS_LIMIT, Signer};
pub use verify::{
    LightClientError, VerifyError, storage_key, verify_anchor, verify_anchored_state, verify_state,
};
pub use weft_types::{Keypair, PublicKey};
