#!/usr/bin/env bash
# Starts a local Weft devnet: builds the `weft` binary (release) and the example contracts, then
# runs `weft dev`, which prints the RPC URL and keeps its data in .weft-dev/ (Ctrl-C stops it;
# run again to resume, pass --fresh to start over). Installs what is missing first. Extra
# arguments go to `weft dev` (see `weft dev --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

echo "==> building weft (release; the first build compiles RocksDB and wasmtime and takes a while)"
cargo build --release --locked -p weft-node --bin weft
echo "==> building the example contracts"
cargo run --release --locked -q -p weft-testkit --bin weft-build-contract -- contracts/counter contracts/registry
exec target/release/weft dev "$@"
