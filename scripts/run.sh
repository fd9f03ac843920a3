#!/usr/bin/env bash
# The main job on a fresh machine: install what pact needs, build it, and run the flow on the embedded default
# (the shipped PACT model on the mnist5k test split): quantize to W4A4, inspect, and evaluate the float,
# fake-quant and integer golden models. Outputs go to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release
mkdir -p out
./target/release/pact quantize models/mnist5k-cnn-w4a4.json --wbits 4 --abits 4 -o out/default-w4a4.pqm
./target/release/pact eval out/default-w4a4.pqm --data mnist5k --predictions out/default-w4a4-predictions.csv
