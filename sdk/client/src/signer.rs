//! [`Signer`]: builds and signs transactions for one account.

use weft_types::{Action, ChainId, ContractId, Keypair, SignedTransaction, Transaction};

/// Gas asked for when the caller does not say: a deploy of a large contract fits.
pub const DEFAULT_GAS_LIMIT: u64 = 500_000_000;

/// An account's key, the chain it signs for and its next nonce. Every transaction it builds takes
/// the next nonce, so send them in the order they were built.
#[derive(Debug)]
pub struct Signer {
    key: Keypair,
    chain_id: ChainId,
    next_nonce: u64,
    gas_limit: u64,
}

impl Signer {
    /// A signer for `chain_id` whose next transaction has nonce `next_nonce` (from
    /// `weft_getAccount`).
    pub fn new(key: Keypair, chain_id: &str, next_nonce: u64) -> Self {
        Self {
            key,
            chain_id: ChainId(chain_id.to_string()),
            next_nonce,
            gas_limit: DEFAULT_GAS_LIMIT,
        }
    }

    /// Sets the gas limit of the transactions built from now on.
    pub fn with_gas_limit(mut self, gas_limit: u64) -> Self {
        self.gas_limit = gas_limit;
        self
    }

    /// The key.
    pub fn key(&self) -> &Keypair {
        &self.key
    }

    /// The nonce the next transaction gets.
    pub fn next_nonce(&self) -> u64 {
        self.next_nonce
    }

    /// Resets the next nonce (after a rejected transaction, say).
    pub fn set_next_nonce(&mut self, nonce: u64) {
        self.next_nonce = nonce;
    }

    /// Signs `action` with the next nonce.
    pub fn sign(&mut self, action: Action) -> SignedTransaction {
        let tx = Transaction {
            chain_id: self.chain_id.clone(),
            sender: self.key.public_key(),
            nonce: self.next_nonce,
            gas_limit: self.gas_limit,
            action,
        };
        self.next_nonce += 1;
        self.key.sign(tx)
    }

    /// A deploy of `code` with borsh `init_args`. The new contract's id is
    /// [`Signer::contract_id`] of this transaction's nonce.
    pub fn deploy(&mut self, code: Vec<u8>, init_args: Vec<u8>) -> SignedTransaction {
        self.sign(Action::Deploy { code, init_args })
    }

    /// A call of `method` on `contract` with borsh `args`.
    pub fn call(&mut self, contract: ContractId, method: &str, args: Vec<u8>) -> SignedTransaction {
        self.sign(Action::Call {
            contract,
            method: method.to_string(),
            args,
        })
    }

    /// The id of the contract a deploy from this account with `nonce` creates.
    pub fn contract_id(&self, nonce: u64) -> ContractId {
        ContractId::derive(&self.key.public_key().address(), nonce)
    }
}
