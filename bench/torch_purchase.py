#!/usr/bin/env python3
"""PyTorch reference for `perpetua bench purchase` (issue 3).

The standard benchmark model: 26 categorical fields x 16-dim embeddings + 13
numeric fields -> MLP (64, 32) -> 1, sigmoid, binary cross-entropy; AdaGrad on
the embedding rows (sparse gradients, state only where touched) and Adam on the
dense weights. The stream: IDs drawn from a Zipf law (a realistic long tail),
labels from a fixed logistic ground truth. We time training only, on data that
is already in memory as tensors, for the given batch size and thread count.

Run with Debian's interpreter (torch is a Debian package here):

    PYENV_VERSION=system python3 bench/torch_purchase.py --batch 256 --threads 2 --json
    PYENV_VERSION=system python3 bench/torch_purchase.py --batch 1 --threads 1 --json

It prints one JSON object: torch version, threads, batch, examples, seconds,
examples_per_second.
"""
import argparse
import json
import time

import numpy as np
import torch
import torch.nn as nn

FIELDS, DIM, NUMERIC = 26, 16, 13


class WideDeep(nn.Module):
    def __init__(self, vocab, hidden):
        super().__init__()
        # One table per field, like Perpetua's (each field has its own IDs).
        self.emb = nn.ModuleList(nn.Embedding(vocab, DIM, sparse=True) for _ in range(FIELDS))
        layers, width = [], FIELDS * DIM + NUMERIC
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, ids, dense):
        e = [self.emb[f](ids[:, f]) for f in range(FIELDS)]
        return self.mlp(torch.cat(e + [dense], dim=1)).squeeze(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--examples", type=int, default=200_000)
    ap.add_argument("--vocab", type=int, default=100_000)
    ap.add_argument("--hidden", default="64,32")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    n = a.examples
    ids = np.minimum(rng.zipf(1.2, size=(n, FIELDS)) - 1, a.vocab - 1).astype(np.int64)
    dense = rng.standard_normal((n, NUMERIC)).astype(np.float32)
    effect = rng.standard_normal((FIELDS, a.vocab)).astype(np.float32) * 0.3
    logit = effect[np.arange(FIELDS), ids].sum(axis=1) + dense[:, 0] - 1.0
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    ids_t, dense_t, y_t = torch.from_numpy(ids), torch.from_numpy(dense), torch.from_numpy(y)

    model = WideDeep(a.vocab, [int(h) for h in a.hidden.split(",")])
    sparse_opt = torch.optim.Adagrad([p for m in model.emb for p in m.parameters()], lr=0.05)
    dense_opt = torch.optim.Adam(model.mlp.parameters(), lr=0.001)
    loss_fn = nn.BCEWithLogitsLoss()

    def step(lo, hi):
        sparse_opt.zero_grad(set_to_none=True)
        dense_opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(ids_t[lo:hi], dense_t[lo:hi]), y_t[lo:hi])
        loss.backward()
        sparse_opt.step()
        dense_opt.step()

    warm = min(n // 10, 20 * a.batch)
    for lo in range(0, warm, a.batch):
        step(lo, lo + a.batch)
    start, done = time.perf_counter(), 0
    for lo in range(warm, n - a.batch + 1, a.batch):
        step(lo, lo + a.batch)
        done += a.batch
    secs = time.perf_counter() - start
    out = {"torch": torch.__version__, "threads": a.threads, "batch": a.batch, "hidden": a.hidden,
           "examples": done, "seconds": secs, "examples_per_second": done / secs}
    print(json.dumps(out) if a.json else out)


if __name__ == "__main__":
    main()
