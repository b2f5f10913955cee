//! [`ContractError`], a contract's failure, and [`Result`], what contract methods return.

/// A contract's failure: a message that ends up in the receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractError(pub String);

impl ContractError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl std::fmt::Display for ContractError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ContractError {
    fn from(message: &str) -> Self {
        Self(message.into())
    }
}

impl From<String> for ContractError {
    fn from(message: String) -> Self {
        Self(message)
    }
}

/// A refused DID Document or change, with its message.
impl From<weft_types::did::DocumentError> for ContractError {
    fn from(e: weft_types::did::DocumentError) -> Self {
        Self(e.0)
    }
}

/// A refused status list or change, with its message.
impl From<weft_types::status::StatusError> for ContractError {
    fn from(e: weft_types::status::StatusError) -> Self {
        Self(e.0)
    }
}

/// A refused accreditation, with its message.
impl From<weft_types::trust::TrustError> for ContractError {
    fn from(e: weft_types::trust::TrustError) -> Self {
        Self(e.0)
    }
}

/// A refused channel request, with its message.
impl From<weft_types::channel::ChannelError> for ContractError {
    fn from(e: weft_types::channel::ChannelError) -> Self {
        Self(e.0)
    }
}

/// A refused policy, with its message.
impl From<weft_types::policy::PolicyError> for ContractError {
    fn from(e: weft_types::policy::PolicyError) -> Self {
        Self(e.0)
    }
}

/// A refused token or NFT request, with its message.
impl From<weft_types::token::AssetError> for ContractError {
    fn from(e: weft_types::token::AssetError) -> Self {
        Self(e.0)
    }
}

/// Result of contract methods.
pub type Result<T, E = ContractError> = std::result::Result<T, E>;
