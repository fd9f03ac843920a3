#!/usr/bin/env bash
# Installs the system packages pact uses (Debian): the Fashion-MNIST data set, and the open hardware tools.
# Idempotent; needs root (or sudo).
set -euo pipefail
pkgs=(dataset-fashion-mnist verilator iverilog yosys nextpnr-ice40 fpga-icestorm)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "setup: system packages present: ${pkgs[*]}"
