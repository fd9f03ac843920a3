#!/usr/bin/env bash
# The main job on a fresh machine: install what pact needs (Debian packages, YoWASP), build it, and run the whole
# flow on the embedded default — the shipped PACT model → W4A4 → accuracy of the float, fake-quant and integer
# models on the mnist5k test split → Verilog → Verilator co-simulation of every test image (must be exact) →
# iCE40 UP5K bitstream for the iCEBreaker → report. Outputs go to out/ (out/report.html, out/report.md).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release
./target/release/pact run -o out "$@"
