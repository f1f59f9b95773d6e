#!/usr/bin/env bash
# Build and run the micro-benchmark portable (default) and with target-cpu=native.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR=../work/crypto_bench
echo "== portable build (what ships)"
RUSTFLAGS="" cargo run --release --quiet
echo "== -C target-cpu=native"
RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR=../work/crypto_bench_native cargo run --release --quiet
