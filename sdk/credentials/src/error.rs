//! [`Error`]: why a document cannot be issued, presented or verified at all.

/// Why a document cannot be issued, presented or verified at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input is not well formed (HTTP 400).
    #[error("{0}")]
    Malformed(String),
    /// The input is well formed but not a valid credential or presentation (HTTP 422).
    #[error("{0}")]
    Invalid(String),
    /// A format, algorithm or context this implementation does not support (HTTP 422).
    #[error("{0}")]
    Unsupported(String),
}
