//! weft-tidy
