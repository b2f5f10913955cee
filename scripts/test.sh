#!/usr/bin/env bash
# Runs every check Weft's CI runs: formatting, clippy, all tests (contracts are built to wasm by
# the tests themselves), and a compile of every benchmark. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

step() { printf '\n==> %s\n' "$*"; }
step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo test"
cargo test --workspace --locked
step "benchmarks and the load generator compile"
# The dev profile reuses the test build; a release build of wasmtime and RocksDB would double the
# cold CI time just to check that the benchmarks compile (clippy has already type-checked them).
# `--workspace` keeps dependency features unified as in the test build, so nothing is rebuilt.
cargo build --workspace --benches --bins --locked
