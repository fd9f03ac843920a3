#!/usr/bin/env bash
# The whole test suite: formatting, lints, then every test of the workspace (release profile: the golden model,
# training and co-simulation tests are compute-bound).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --release -- -D warnings
cargo test --workspace --release
