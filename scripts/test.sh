#!/usr/bin/env bash
# The whole test suite: formatting, lints, then every test of the workspace (release profile: the golden model,
# training and co-simulation tests are compute-bound). setup.sh installs every tool the tests use, so
# PACT_REQUIRE_TOOLS=1 makes a test whose tool is missing fail instead of skipping (pact_sim::require).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --release -- -D warnings
PACT_REQUIRE_TOOLS=1 cargo test --workspace --release
