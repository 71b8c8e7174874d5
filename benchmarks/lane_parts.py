"""The parts of one group-epoch of the lanes kernel on one core, each timed on its own: the lab's spiral
(1,500 samples, 2 inputs, 3 classes), ``[2, 50, 3]`` with ReLU, a group of 16 float32 members, batch 20 (75
minibatches), blocks of 32 samples, SGD with momentum. Prints JSON.

The training loop is timed whole with its parts switched on one after another (sample reads; + forward; +
softmax and deltas; + backward; + updates), each part's figure the difference from the one before; the data
orders and the full-data evaluation are timed alone. Every configuration runs once per round, rounds alternate
(``--rounds``, default 25), and each figure is the best round: on a shared machine other work only ever slows a
run. The weights are reset before every run, so every run trains the same steps.

    python benchmarks/lane_parts.py [--rounds 25]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from numba import njit

from inertia import init
from inertia.data import spiral
from inertia.population import lane_fused, lane_kernels, lane_orders
from inertia.population.kernels import G_COEF, KEEP, M_COEF, M_KEEP, M_TAKE, SIGN, apply_update
from inertia.population.lanes import lanes, width
from inertia.population.layout import ACTIVATION_CODES, forms

LAYERS, L, BATCH = [2, 50, 3], 16, 20
PARTS = ("reads", "forward", "softmax and deltas", "backward", "updates")


@njit(cache=True)
def _train(parts, x, classes, orders, flat, grads, moments, u, buffers, shape, act, batch):
    """One epoch's minibatches with the first ``parts`` of: forward, softmax, backward, update (sample reads
    always)."""
    inputs, _, logits, labels, nll, right, tops = buffers
    n, d = x.shape
    values = x.reshape(-1)
    loss, hits = np.zeros(width(flat)), np.zeros(width(flat), dtype=np.int64)
    rows = lane_kernels.ROWS
    for lo in range(0, n, batch):
        m = min(batch, n - lo)
        scale = np.float32(1) / np.float32(m)
        for block in range(lo, lo + m, rows):
            part = min(rows, lo + m - block)
            for s in range(part):
                lane_orders.read(values, classes, orders, block + s, s, inputs, labels, d)
            if parts >= 1:
                lane_fused.forward(shape, flat, inputs, logits, part, act)
            if parts >= 2:
                lane_kernels._score(logits, part, labels, nll, right, tops, loss, hits, scale)
            if parts >= 3:
                lane_fused.backward(shape, flat, grads, inputs, logits, part, act, block == lo)
        if parts >= 4:
            apply_update(lanes(flat), lanes(moments), lanes(grads), lanes(u), 0, -1, -1, False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args()
    dataset = spiral(seed=0)
    x, y = dataset.x.astype(np.float32), dataset.y.astype(np.int64)
    n = len(y)
    like = np.zeros(1, np.float32)
    rows = forms(LAYERS)
    shape = lane_kernels.shape_table(LAYERS, rows)
    act = ACTIVATION_CODES["relu"]
    start = init.flat_population_weights(LAYERS, np.arange(L), rows, np.float32)
    size = start.shape[1]
    flat, grads = lane_kernels._aligned(size * L, like), lane_kernels._aligned(size * L, like)
    moments = lane_kernels._aligned(size * L, like).reshape(1, -1)
    initial = start.T.reshape(-1).copy()  # parameter i of member l at i·L + l
    u = lane_kernels._aligned(13 * L, like)
    u[:] = 0
    for field, value in ((SIGN, 1.0), (KEEP, 1.0), (M_KEEP, 0.9), (M_TAKE, 1.0), (M_COEF, 0.05), (G_COEF, 0.0)):
        u[field * L : (field + 1) * L] = value
    block = lane_kernels.ROWS
    act_at = np.array([0, block * LAYERS[1] * L])
    buffers = (lane_kernels._aligned(block * 2 * L, like), lane_kernels._aligned(1, like),
               lane_kernels._aligned(3 * block * L, like).reshape(3, block * L),
               *(lane_kernels._aligned(block * L, like) for _ in range(4)))
    orders = np.empty(n * L, np.int32)
    keys = np.array([lane_orders.key(seed, 1) for seed in range(L)], np.uint32)
    mixed, targets = np.ones(L, np.bool_), np.empty(L, np.int32)
    lane_orders.fill(orders, keys, mixed, targets, n, like)
    classes = y.astype(np.float32)
    loss, hits = np.zeros(L), np.zeros(L, np.int64)

    def timed(call) -> float:
        flat[:] = initial
        moments[:] = 0
        started = time.perf_counter()
        call()
        return (time.perf_counter() - started) * 1e6

    calls = {f"train{parts}": (lambda parts=parts: _train(parts, x, classes, orders, flat, grads, moments, u,
                                                            buffers, shape, act, BATCH)) for parts in range(5)}
    calls["data orders"] = lambda: lane_orders.fill(orders, keys, mixed, targets, n, like)
    calls["evaluation"] = lambda: lane_kernels._evaluate(x, y, shape, flat, buffers, act_at, act, True, loss, hits)
    for call in calls.values():
        call()  # compiled or loaded
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(args.rounds):
        for name, call in calls.items():
            best[name] = min(best[name], timed(call))
    result = {"layers": LAYERS, "samples": n, "members": L, "batch": BATCH, "rounds": args.rounds,
              "us_per_group_epoch": {}}
    parts = result["us_per_group_epoch"]
    for k, name in enumerate(PARTS):
        parts[name] = round(best[f"train{k}"] - (best[f"train{k - 1}"] if k else 0.0), 1)
    parts["data orders"] = round(best["data orders"], 1)
    parts["evaluation"] = round(best["evaluation"], 1)
    parts["sum"] = round(best["train4"] + best["data orders"] + best["evaluation"], 1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
