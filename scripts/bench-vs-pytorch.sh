#!/usr/bin/env bash
# pact against PyTorch on this CPU, side by side in one run: the same models, recipe, data and thread count.
#
#   scripts/bench-vs-pytorch.sh [--smoke] [--threads N] [--runs R]
#
# Training: `pact train` of the mlp and cnn presets (W4A4 first/last 8, PACT + DoReFa, Adam, batch 64, mnist5k)
# against scripts/bench_pytorch.py's copy of the same recipe; samples/s of the best epoch on each side.
# Inference: `pact bench` (the golden integer model, MAC/s) against PyTorch f32 inference of the same shapes.
# Prints the ratios pact ÷ PyTorch (> 1: pact is faster). --smoke: a short run (a few hundred samples, one epoch)
# to check that everything works, not for figures. PyTorch comes from the venv ~/.cache/pact/torch-venv
# (PACT_TORCH_VENV), created with `pip install torch numpy` from PyPI when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

threads=2
runs=1
smoke=0
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) smoke=1 ;;
        --threads) threads="$2"; shift ;;
        --runs) runs="$2"; shift ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

venv="${PACT_TORCH_VENV:-$HOME/.cache/pact/torch-venv}"
if ! "$venv/bin/python" -c 'import torch, numpy' 2>/dev/null; then
    echo "installing PyTorch into $venv (PyPI) ..." >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet torch numpy
fi
py="$venv/bin/python"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet --bin pact
pact="$CARGO_TARGET_DIR/release/pact"

if [ "$smoke" = 1 ]; then
    epochs=1; limit=(--limit 640); plimit=(--limit 640); images=200
else
    epochs=3; limit=(); plimit=(); images=4000
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export RAYON_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads"

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "threads $threads, torch $("$py" -c 'import torch; print(torch.__version__)'), $("$pact" --version 2>/dev/null || echo pact)"
for run in $(seq 1 "$runs"); do
    cut -d' ' -f1-3 /proc/loadavg >"$out/load"
    for arch in mlp cnn; do
        "$pact" -q train --arch "$arch" --epochs "$epochs" "${limit[@]}" --log "$out/$arch.jsonl" \
            -o "$out/$arch.json" >/dev/null
        "$py" scripts/bench_pytorch.py train --arch "$arch" --epochs "$epochs" "${plimit[@]}" \
            --threads "$threads" --data data/mnist_5k.csv.gz >"$out/$arch.torch.json"
        "$py" scripts/bench_pytorch.py infer --arch "$arch" --images "$images" --threads "$threads" \
            >"$out/$arch.torch-infer.json"
    done
    "$pact" -q bench --images "$images" >"$out/bench.txt"
    "$py" - "$out" "$run" <<'EOF'
import json, sys, os
d, run = sys.argv[1], sys.argv[2]
rows = []
for arch in ["mlp", "cnn"]:
    pact = max(json.loads(l)["samples_per_sec"] for l in open(os.path.join(d, arch + ".jsonl")))
    torch = json.load(open(os.path.join(d, arch + ".torch.json")))["samples_per_sec"]
    rows.append((f"train {arch} (samples/s)", pact, torch))
bench = open(os.path.join(d, "bench.txt")).read().splitlines()
for arch in ["mlp", "cnn"]:
    line = next(l for l in bench if l.startswith(arch + " "))
    golden = float(line.split()[-3])
    torch = json.load(open(os.path.join(d, arch + ".torch-infer.json")))["mac_per_sec"]
    rows.append((f"infer {arch} (MAC/s)", golden, torch))
print(f"run {run} (load average before the run: {open(os.path.join(d, 'load')).read().strip()})")
print(f"{'':<24} {'pact':>12} {'PyTorch':>12} {'pact/PyTorch':>13}")
for name, p, t in rows:
    print(f"{name:<24} {p:>12.4g} {t:>12.4g} {p / t:>12.2f}x")
EOF
done
