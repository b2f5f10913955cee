//! Runs the story in `story.rs` against a running chain; see `README.md`.
//!
//! `cargo run -p weft-examples --bin energy-market -- [--rpc URL] [--genesis FILE]`

weft_examples::example_main!(weft_examples::energy_market::run);
