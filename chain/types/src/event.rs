//! Events that contracts emit.

use crate::ContractId;
use borsh::{BorshDeserialize, BorshSerialize};

/// An event emitted by a contract during a successful call: a topic for filtering and
/// borsh-encoded data. Events of a failed call are discarded with its writes.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Event {
    /// The contract that emitted the event.
    pub contract: ContractId,
    /// A short name for filtering, such as `"transfer"`.
    pub topic: String,
    /// Borsh-encoded payload; its type is the contract's business.
    pub data: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn borsh_round_trip(id in any::<[u8; 32]>(), topic in ".{0,20}", data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let event = Event { contract: ContractId(id), topic, data };
            let bytes = borsh::to_vec(&event).unwrap();
            prop_assert_eq!(borsh::from_slice::<Event>(&bytes).unwrap(), event);
        }
    }
}
