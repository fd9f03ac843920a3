#!/usr/bin/env python3
"""PyTorch side of scripts/bench-vs-pytorch.sh: the same models, recipe, data and thread count as pact's side.

  bench_pytorch.py train --arch mlp|cnn --epochs E --threads T --data data/mnist_5k.csv.gz [--limit N]
  bench_pytorch.py infer --arch mlp|cnn --images N --threads T

Training mirrors `pact train` (train/src): the `mlp` preset Flatten → Dense(256) → BN → PACT → Dense(128) → BN →
PACT → Dense(10), the `cnn` preset Conv3×3(16) → BN → PACT → MaxPool2 → Conv3×3(32) → BN → PACT → MaxPool2 →
Dense(10); DoReFa weights (first/last layer 8 bits, inner 4), PACT activations (4 bits, 8 for the one feeding the
last layer) with the straight-through estimator and a learned α (lr 100×), a learned logit temperature τ, Adam
lr 1e-3 with L2 1e-4 and a cosine schedule, batch 64, on the 4000 training images of mnist5k (the same split
size as pact: the 5000 rows shuffled, 1000 held out). Inference: plain f32 models of the `pact bench` shapes
(784-256-128-10 and 16c3-32c3-10 with pools) under torch.no_grad() in batches of 1000.

Prints one JSON object per run on stdout.
"""
import argparse
import gzip
import json
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class RoundSTE(torch.autograd.Function):
    """floor(x + 1/2) forward (round half up, as pact), identity backward."""

    @staticmethod
    def forward(ctx, x):
        return torch.floor(x + 0.5)

    @staticmethod
    def backward(ctx, g):
        return g


def dorefa(w, bits):
    t = torch.tanh(w)
    y = t / t.abs().max()
    levels = 2**bits - 1
    f = y * 0.5 + 0.5
    return RoundSTE.apply(f * levels) * (2.0 / levels) - 1.0


class Pact(nn.Module):
    def __init__(self, bits, alpha=10.0):
        super().__init__()
        self.bits = bits
        self.alpha = nn.Parameter(torch.tensor(alpha))

    def forward(self, x):
        # clip(x, 0, α) = relu(x) − relu(x − α): gradient to α where x ≥ α
        y = F.relu(x) - F.relu(x - self.alpha)
        levels = 2**self.bits - 1
        return RoundSTE.apply(y * (levels / self.alpha)) * (self.alpha / levels)


class QLinear(nn.Linear):
    def __init__(self, i, o, bits, bias):
        super().__init__(i, o, bias=bias)
        self.bits = bits

    def forward(self, x):
        return F.linear(x, dorefa(self.weight, self.bits), self.bias)


class QConv(nn.Conv2d):
    def __init__(self, i, o, bits):
        super().__init__(i, o, 3, padding=1, bias=False)
        self.bits = bits

    def forward(self, x):
        return F.conv2d(x, dorefa(self.weight, self.bits), None, 1, 1)


def train_model(arch):
    if arch == "mlp":
        body = nn.Sequential(
            nn.Flatten(),
            QLinear(784, 256, 8, False), nn.BatchNorm1d(256), Pact(4),
            QLinear(256, 128, 4, False), nn.BatchNorm1d(128), Pact(8),
            QLinear(128, 10, 8, True),
        )
        fan_in = 128
    else:
        body = nn.Sequential(
            QConv(1, 16, 8), nn.BatchNorm2d(16), Pact(4), nn.MaxPool2d(2),
            QConv(16, 32, 4), nn.BatchNorm2d(32), Pact(8), nn.MaxPool2d(2),
            nn.Flatten(), QLinear(32 * 49, 10, 8, True),
        )
        fan_in = 32 * 49
    return body, nn.Parameter(torch.tensor(1.0 / math.sqrt(fan_in)))


def load_csv(path):
    with gzip.open(path, "rt") as f:
        a = np.loadtxt(f, delimiter=",", dtype=np.float32)
    return a[:, :-1], a[:, -1].astype(np.int64)


def cmd_train(a):
    torch.manual_seed(1)
    x, y = load_csv(a.data)
    rng = np.random.default_rng(1)
    perm = rng.permutation(len(x))
    x, y = x[perm], y[perm]
    n_train = len(x) - len(x) // 5
    if a.limit:
        n_train = min(n_train, a.limit)
    x = torch.from_numpy(x[:n_train] / 255.0).reshape(-1, 1, 28, 28).contiguous()
    y = torch.from_numpy(y[:n_train])
    body, tau = train_model(a.arch)
    alphas = [p for n, p in body.named_parameters() if n.endswith("alpha")]
    weights = [p for n, p in body.named_parameters() if not n.endswith("alpha")]
    lr = 1e-3
    opt = torch.optim.Adam(
        [
            {"params": weights, "weight_decay": 1e-4, "lr": lr},
            {"params": alphas, "weight_decay": 1e-4, "lr": 100 * lr},
            {"params": [tau], "weight_decay": 0.0, "lr": lr},
        ]
    )
    base = [g["lr"] for g in opt.param_groups]
    batches = math.ceil(n_train / a.batch)
    total = batches * a.epochs
    step = 0
    epochs = []
    body.train()
    for _ in range(a.epochs):
        order = torch.randperm(n_train)
        t0 = time.perf_counter()
        seen = 0
        for b in range(batches):
            idx = order[b * a.batch:(b + 1) * a.batch]
            if len(idx) < 2:
                continue
            xb, yb = x[idx], y[idx]
            logits = body(xb)
            loss = F.cross_entropy(logits * tau, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            k = 0.5 * (1 + math.cos(math.pi * step / total))
            for g, l0 in zip(opt.param_groups, base):
                g["lr"] = l0 * k
            opt.step()
            with torch.no_grad():
                for p in alphas:
                    p.clamp_(min=1e-3)
            step += 1
            seen += len(idx)
            _ = (logits.argmax(1) == yb).sum().item() + loss.item()
        dt = time.perf_counter() - t0
        epochs.append(seen / dt)
    print(json.dumps({"what": "train", "arch": a.arch, "threads": torch.get_num_threads(),
                      "samples_per_sec": max(epochs), "epochs": epochs}))


def infer_model(arch):
    if arch == "mlp":
        m = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.Hardtanh(0, 2), nn.Linear(256, 128),
                          nn.Hardtanh(0, 2), nn.Linear(128, 10))
        macs = 784 * 256 + 256 * 128 + 128 * 10
    else:
        m = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.Hardtanh(0, 2), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1), nn.Hardtanh(0, 2), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(32 * 49, 10, bias=False))
        macs = 28 * 28 * 16 * 9 + 14 * 14 * 32 * 16 * 9 + 32 * 49 * 10
    return m.eval(), macs


def cmd_infer(a):
    torch.manual_seed(1)
    m, macs = infer_model(a.arch)
    x = torch.randint(0, 256, (a.images, 1, 28, 28)).float() / 255.0
    bs = 1000

    def run():
        with torch.no_grad():
            return sum(int(m(x[i:i + bs]).argmax(1).sum()) for i in range(0, a.images, bs))

    run()
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({"what": "infer", "arch": a.arch, "threads": torch.get_num_threads(),
                      "macs_per_inference": macs, "mac_per_sec": macs * a.images / best}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--arch", choices=["mlp", "cnn"], required=True)
    t.add_argument("--epochs", type=int, default=2)
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--limit", type=int)
    t.add_argument("--data", required=True)
    t.add_argument("--threads", type=int, default=2)
    i = sub.add_parser("infer")
    i.add_argument("--arch", choices=["mlp", "cnn"], required=True)
    i.add_argument("--images", type=int, default=2000)
    i.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    {"train": cmd_train, "infer": cmd_infer}[a.cmd](a)


if __name__ == "__main__":
    main()
