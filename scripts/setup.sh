# Sourced by the other scripts: makes sure the toolchain pieces Weft needs are present.
# Debian 12 with stable Rust from rustup is assumed; everything else is installed here.

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found; install stable Rust with rustup (https://rustup.rs) and retry" >&2
    exit 1
fi
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    echo "==> installing the wasm32-unknown-unknown target (contracts are compiled to it)"
    rustup target add wasm32-unknown-unknown
fi
for component in rustfmt clippy; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^${component}"; then
        echo "==> installing rustup component ${component}"
        rustup component add "${component}"
    fi
done
# RocksDB's Rust bindings are generated with bindgen, which needs libclang (and clang for the C++).
if ! ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 || ! command -v clang >/dev/null 2>&1; then
    echo "==> installing clang and libclang-dev (needed to build RocksDB's bindings)"
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang libclang-dev >/dev/null
fi
