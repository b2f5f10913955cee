//! [`Version`]: how state is versioned, by block height.

/// A state version: the height of the block whose writes it includes.
pub type Version = u64;
