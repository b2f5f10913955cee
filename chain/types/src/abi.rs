//! A contract's ABI: its methods, their arguments and results.
//!
//! The SDK's entry-point macros write one record per method into the wasm custom section
//! [`ABI_SECTION`]; the linker concatenates them. A record is a little-endian `u32` length followed
//! by the borsh encoding of a [`MethodAbi`]. Nodes read the section at deploy, keep the ABI with the
//! code, and clients use it to turn JSON arguments into borsh.

use borsh::{BorshDeserialize, BorshSerialize};

/// Name of the wasm custom section that carries the ABI records.
pub const ABI_SECTION: &str = "weft_abi";

/// Prefix of the wasm export that implements a method: method `increment` is exported as
/// `weft:increment`. Only these exports can be called.
pub const EXPORT_PREFIX: &str = "weft:";

/// Longest method name accepted.
pub const MAX_METHOD_NAME: usize = 64;

/// What a method may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub enum MethodKind {
    /// Runs once, at deploy; may write storage.
    Init,
    /// A transaction entry point; may write storage and emit events.
    Call,
    /// Read-only; may be queried without a transaction. Writes fail.
    View,
}

impl MethodKind {
    /// The lowercase name used in messages and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            MethodKind::Init => "init",
            MethodKind::Call => "call",
            MethodKind::View => "view",
        }
    }
}

/// One argument of a method.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ArgAbi {
    /// The parameter name as written in the contract.
    pub name: String,
    /// The Rust type as written in the contract, without spaces (`u64`, `Vec<u8>`, `String`).
    pub ty: String,
}

/// One method of a contract. Arguments travel as the borsh encoding of the tuple of arguments in
/// order; the result as the borsh encoding of the return type (nothing for `()`).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct MethodAbi {
    /// The method name.
    pub name: String,
    /// Init, call or view.
    pub kind: MethodKind,
    /// Arguments in order.
    pub args: Vec<ArgAbi>,
    /// The success type (the `T` of a `Result<T, E>`), or `None` for `()`.
    pub returns: Option<String>,
}

impl MethodAbi {
    /// Encodes this method as one record of the custom section.
    pub fn to_record(&self) -> Vec<u8> {
        let body = borsh::to_vec(self).expect("borsh encoding into a Vec cannot fail");
        let mut out = Vec::with_capacity(4 + body.len());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }
}

/// Why an ABI section is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AbiError {
    /// The section bytes do not parse as records.
    #[error("the `weft_abi` custom section is malformed at byte {offset}: {reason}")]
    Malformed {
        /// Byte offset of the bad record.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
    /// Two records name the same method.
    #[error("the ABI lists method `{0}` twice")]
    Duplicate(String),
    /// More than one init method.
    #[error("the ABI has more than one init method (`{0}` and `{1}`); a contract has at most one")]
    SeveralInits(String, String),
    /// A method name is empty, too long or has characters other than `[A-Za-z0-9_]`.
    #[error(
        "method name {0:?} is invalid: use 1 to {MAX_METHOD_NAME} characters from [A-Za-z0-9_], not starting with a digit"
    )]
    BadName(String),
}

/// All methods of a contract, sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ContractAbi {
    /// Methods sorted by name, unique.
    pub methods: Vec<MethodAbi>,
}

/// Whether `name` is an acceptable method name.
pub fn valid_method_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && name.len() <= MAX_METHOD_NAME
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl ContractAbi {
    /// Parses the concatenated records of a `weft_abi` custom section (or of several sections,
    /// concatenated in any order).
    pub fn from_section(mut bytes: &[u8]) -> Result<Self, AbiError> {
        let total = bytes.len();
        let mut methods = Vec::new();
        while !bytes.is_empty() {
            let offset = total - bytes.len();
            let malformed = |reason: &str| AbiError::Malformed {
                offset,
                reason: reason.into(),
            };
            if bytes.len() < 4 {
                return Err(malformed("truncated record length"));
            }
            let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
            let body = bytes
                .get(4..4 + len)
                .ok_or_else(|| malformed("record longer than the section"))?;
            let method: MethodAbi =
                borsh::from_slice(body).map_err(|e| malformed(&e.to_string()))?;
            methods.push(method);
            bytes = &bytes[4 + len..];
        }
        Self::new(methods)
    }

    /// Builds an ABI from methods, checking names, uniqueness and the single init.
    pub fn new(mut methods: Vec<MethodAbi>) -> Result<Self, AbiError> {
        methods.sort_by(|a, b| a.name.cmp(&b.name));
        for pair in methods.windows(2) {
            if pair[0].name == pair[1].name {
                return Err(AbiError::Duplicate(pair[0].name.clone()));
            }
        }
        let mut init: Option<&str> = None;
        for method in &methods {
            if !valid_method_name(&method.name) {
                return Err(AbiError::BadName(method.name.clone()));
            }
            if method.kind == MethodKind::Init {
                if let Some(first) = init {
                    return Err(AbiError::SeveralInits(first.into(), method.name.clone()));
                }
                init = Some(&method.name);
            }
        }
        Ok(Self { methods })
    }

    /// The method called `name`.
    pub fn method(&self, name: &str) -> Option<&MethodAbi> {
        self.methods
            .binary_search_by(|m| m.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.methods[i])
    }

    /// The init method, if the contract has one.
    pub fn init(&self) -> Option<&MethodAbi> {
        self.methods.iter().find(|m| m.kind == MethodKind::Init)
    }

    /// Method names, comma-separated, for error messages (the first 20, then how many more).
    pub fn method_list(&self) -> String {
        const SHOWN: usize = 20;
        let names: Vec<&str> = self
            .methods
            .iter()
            .take(SHOWN)
            .map(|m| m.name.as_str())
            .collect();
        let mut list = names.join(", ");
        if self.methods.len() > SHOWN {
            list += &format!(" and {} more", self.methods.len() - SHOWN);
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn method(name: &str, kind: MethodKind) -> MethodAbi {
        MethodAbi {
            name: name.into(),
            kind,
            args: vec![ArgAbi {
                name: "by".into(),
                ty: "u64".into(),
            }],
            returns: Some("u64".into()),
        }
    }

    #[test]
    fn records_round_trip_in_any_order() {
        let mut section = method("b", MethodKind::Call).to_record();
        section.extend(method("a", MethodKind::View).to_record());
        let abi = ContractAbi::from_section(&section).unwrap();
        assert_eq!(abi.methods[0].name, "a");
        assert_eq!(abi.method("b").unwrap().kind, MethodKind::Call);
        assert!(abi.method("c").is_none());
    }

    #[test]
    fn rejects_bad_sections() {
        let mut section = method("a", MethodKind::Call).to_record();
        section.extend(method("a", MethodKind::View).to_record());
        assert_eq!(
            ContractAbi::from_section(&section),
            Err(AbiError::Duplicate("a".into()))
        );
        let record = method("a", MethodKind::Call).to_record();
        assert!(matches!(
            ContractAbi::from_section(&record[..record.len() - 1]),
            Err(AbiError::Malformed { offset: 0, .. })
        ));
        let mut two_inits = method("a", MethodKind::Init).to_record();
        two_inits.extend(method("b", MethodKind::Init).to_record());
        assert!(matches!(
            ContractAbi::from_section(&two_inits),
            Err(AbiError::SeveralInits(..))
        ));
        assert!(matches!(
            ContractAbi::new(vec![method("9x", MethodKind::Call)]),
            Err(AbiError::BadName(_))
        ));
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn method() -> impl Strategy<Value = MethodAbi> {
        (
            "[a-z_][a-z0-9_]{0,20}",
            prop_oneof![Just(MethodKind::Call), Just(MethodKind::View)],
            proptest::collection::vec(("[a-z]{1,8}", "[A-Za-z0-9<>,]{1,12}"), 0..4),
            proptest::option::of("[A-Za-z0-9<>]{1,12}"),
        )
            .prop_map(|(name, kind, args, returns)| MethodAbi {
                name,
                kind,
                args: args
                    .into_iter()
                    .map(|(name, ty)| ArgAbi { name, ty })
                    .collect(),
                returns,
            })
    }

    proptest! {
        #[test]
        fn records_round_trip(methods in proptest::collection::btree_map("[a-z]{1,8}", method(), 0..6)) {
            let methods: Vec<MethodAbi> = methods.into_iter().map(|(name, m)| MethodAbi { name, ..m }).collect();
            let section: Vec<u8> = methods.iter().flat_map(MethodAbi::to_record).collect();
            let abi = ContractAbi::from_section(&section).unwrap();
            prop_assert_eq!(&abi, &ContractAbi::new(methods).unwrap());
            let encoded = borsh::to_vec(&abi).unwrap();
            prop_assert_eq!(borsh::from_slice::<ContractAbi>(&encoded).unwrap(), abi);
        }

        #[test]
        fn truncated_sections_never_panic(method in method(), cut in 0usize..64) {
            let record = method.to_record();
            let cut = cut.min(record.len());
            let _ = ContractAbi::from_section(&record[..cut]);
        }
    }
}
