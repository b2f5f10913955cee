//! The client's error type.

/// What went wrong talking to a node or handling keys and proofs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The node could not be reached.
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The node answered with a JSON-RPC error.
    #[error("{method} failed with error {code}: {message}")]
    Rpc {
        /// The method called.
        method: String,
        /// The JSON-RPC error code (see `docs/json-rpc.md`).
        code: i32,
        /// The node's message.
        message: String,
        /// Structured details, if any.
        data: Option<serde_json::Value>,
    },
    /// The request did not get an answer (network, timeout, closed connection).
    #[error("{method}: {reason}")]
    Transport {
        /// The method called.
        method: String,
        /// Why.
        reason: String,
    },
    /// The node's answer was not what the API promises.
    #[error("{method}: unexpected answer: {reason}")]
    Protocol {
        /// The method called.
        method: String,
        /// Why.
        reason: String,
    },
    /// A value could not be encoded.
    #[error("cannot encode the request: {0}")]
    Encode(String),
    /// A key file could not be read or written.
    #[error("{0}")]
    Key(String),
    /// A transaction was refused or failed (the contract's message).
    #[error("{0}")]
    Rejected(String),
    /// A proof did not verify.
    #[error(transparent)]
    Verify(#[from] crate::VerifyError),
}

/// The client's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The JSON-RPC error code, when the node answered with an error.
    pub fn code(&self) -> Option<i32> {
        match self {
            Error::Rpc { code, .. } => Some(*code),
            _ => None,
        }
    }

    #[cfg(feature = "transport")]
    pub(crate) fn from_rpc(method: &str, e: jsonrpsee_core::client::Error) -> Self {
        use jsonrpsee_core::client::Error as E;
        match e {
            E::Call(obj) => Error::Rpc {
                method: method.into(),
                code: obj.code(),
                message: obj.message().to_string(),
                data: obj.data().and_then(|d| serde_json::from_str(d.get()).ok()),
            },
            E::ParseError(e) => Error::Protocol {
                method: method.into(),
                reason: e.to_string(),
            },
            other => Error::Transport {
                method: method.into(),
                reason: other.to_string(),
            },
        }
    }
}
