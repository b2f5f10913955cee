#!/usr/bin/env bash
# Starts a local Weft devnet: builds the `weft` binary, builds and checks the example contracts,
# then runs `weft dev`, which prints the RPC URLs and keeps its data in .weft-dev/ (Ctrl-C stops
# it; run again to resume, pass --fresh to start over). Installs what is missing first. Extra
# arguments go to `weft dev` (see `weft dev --help`).
#
# It builds the way scripts/test.sh does, so that whichever runs first compiles RocksDB, wasmtime
# and libp2p once and the other reuses that build: the dev profile, features resolved over every
# workspace member (`--workspace`, only the `weft` binary built), and `--examples`, which makes
# Cargo resolve features with dev-dependencies as the tests do (without it the host copy of
# weft-types, which the SDK macros use, resolves proptest's features differently and RocksDB's C++
# compiles twice). Dependencies are optimized in the dev profile (Cargo.toml), so the node is fast
# enough for a devnet; `cargo build --release -p weft-cli` makes a release binary.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

echo "==> building weft (the first build compiles RocksDB, wasmtime and libp2p and takes a while)"
cargo build --locked --workspace --bin weft --examples
weft="${CARGO_TARGET_DIR:-target}/debug/weft"
echo "==> building the example contracts"
"$weft" build contracts/counter contracts/registry
exec "$weft" dev "$@"
