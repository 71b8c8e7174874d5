"""The lanes kernel's data orders and sample reads per group-epoch, on one core, against the way they were done
before (one member's order at a time by ``kernels.fill_order``, samples copied element by element): the lab's
spiral (1,500 samples, 2 inputs), a group of 16 float32 members, blocks of 32 samples. Prints JSON.

    python benchmarks/lane_reads.py
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from numba import njit

from inertia import data, shuffle
from inertia.population import lane_orders
from inertia.population.kernels import fill_order
from inertia.population.lanes import width

ROWS = 32


@njit(cache=True)
def _orders_one_by_one(orders, seeds, epoch):
    for lane in range(orders.shape[0]):
        fill_order(orders[lane], seeds[lane], epoch, True)


@njit(cache=True)
def _orders_side_by_side(orders, seeds, epoch, keys, mixed, targets, like):
    L = width(like)
    for lane in range(L):
        keys[lane] = lane_orders.key(seeds[lane], epoch)
        mixed[lane] = True
    lane_orders.fill(orders, keys, mixed, targets, orders.shape[0] // L, like)


@njit(cache=True)
def _read_element_by_element(orders, x, y, inputs, labels):
    n, d = x.shape
    L = orders.shape[0]
    for block in range(0, n, ROWS):
        for s in range(min(ROWS, n - block)):
            for lane in range(L):
                r = orders[lane, block + s]
                labels[s * L + lane] = y[r]
                for k in range(d):
                    inputs[(s * d + k) * L + lane] = x[r, k]


@njit(cache=True)
def _read_gathered(orders, x, classes, inputs, labels):
    n, d = x.shape
    values = x.reshape(-1)
    for block in range(0, n, ROWS):
        for s in range(min(ROWS, n - block)):
            lane_orders.read(values, classes, orders, block + s, s, inputs, labels, d)


def _best_us(call, repeats=30) -> float:
    call(0)
    best = float("inf")
    for epoch in range(repeats):
        start = time.perf_counter()
        call(epoch)
        best = min(best, time.perf_counter() - start)
    return best * 1e6


def main() -> None:
    dataset = data.spiral(seed=0)
    x, y = dataset.x, dataset.y
    n, d, L = len(y), x.shape[1], 16
    like = np.zeros((1, 1), np.float32)
    seeds = shuffle._seed_words(np.arange(L))
    old_orders, new_orders = np.empty((L, n), np.int64), np.empty(n * L, np.int32)
    keys, mixed, targets = np.empty(L, np.uint32), np.empty(L, np.bool_), np.empty(L, np.int32)
    inputs, labels = np.zeros(ROWS * d * L, np.float32), np.zeros(ROWS * L, np.float32)
    classes = y.astype(np.float32)
    _orders_one_by_one(old_orders, seeds, 1)
    _orders_side_by_side(new_orders, seeds, 1, keys, mixed, targets, like)
    if not (new_orders.reshape(n, L) == old_orders.T).all():
        sys.exit("the two ways give different orders")
    rounds = []
    for _ in range(3):  # alternated, so that a slow spell of the machine falls on both
        rounds.append({
            "orders_one_by_one_us": _best_us(lambda e: _orders_one_by_one(old_orders, seeds, e)),
            "orders_side_by_side_us": _best_us(
                lambda e: _orders_side_by_side(new_orders, seeds, e, keys, mixed, targets, like)),
            "read_element_by_element_us": _best_us(
                lambda e: _read_element_by_element(old_orders, x, y, inputs, labels)),
            "read_gathered_us": _best_us(lambda e: _read_gathered(new_orders, x, classes, inputs, labels)),
        })
    print(json.dumps({"samples": n, "members": L, "rounds": rounds}, indent=1))


if __name__ == "__main__":
    main()
