//! Weft benchmarks; see benches/ and RESULTS.md.
