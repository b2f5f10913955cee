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
step "benchmarks compile"
cargo bench -p weft-benches --locked --no-run
