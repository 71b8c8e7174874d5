"""Minibatch orders: a Fisher–Yates shuffle driven by a counter-based hash of (seed, epoch, position).

Every engine (``fit``, the population trainers on CPU and GPU) draws its data order from :func:`orders`, so a
model sees the same minibatches whichever engine trains it, and a whole population's orders come from one
compiled call instead of one generator per model. Position ``i`` (from ``n − 1`` down to 1) swaps with
``j = h(h(h(seed) + epoch) + i) mod (i + 1)``, ``h`` being the 32-bit "lowbias32" integer hash.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from inertia import jit  # noqa: F401 - the target and cache of inertia's compiled code, set before any compiles

MASK = np.uint64(0xFFFFFFFF)


@njit(cache=True)
def _hash(x):
    x = (x ^ (x >> np.uint64(16))) * np.uint64(0x7FEB352D) & MASK
    x = (x ^ (x >> np.uint64(15))) * np.uint64(0x846CA68B) & MASK
    return x ^ (x >> np.uint64(16))


@njit(cache=True)
def _fill(order, seed, epoch):
    n = order.shape[0]
    for i in range(n):
        order[i] = i
    state = _hash((_hash(seed) + np.uint64(epoch)) & MASK)
    for i in range(n - 1, 0, -1):
        j = _hash((state + np.uint64(i)) & MASK) % np.uint64(i + 1)
        order[i], order[j] = order[j], order[i]


@njit(cache=True)
def _fill_all(out, seeds, epoch):
    for p in range(seeds.shape[0]):
        _fill(out[p], seeds[p], epoch)


def _seed_words(seeds) -> np.ndarray:
    """Seeds as unsigned 32-bit words (high bits folded in), the hash's input."""
    seeds = np.asarray(seeds, dtype=np.int64).astype(np.uint64)
    return (seeds ^ (seeds >> np.uint64(32))) & MASK


def orders(seeds, epoch: int, n: int) -> np.ndarray:
    """The data order of epoch ``epoch`` for each seed: an int64 array of shape (len(seeds), n)."""
    words = _seed_words(np.atleast_1d(seeds))
    out = np.empty((len(words), n), dtype=np.int64)
    _fill_all(out, words, int(epoch))
    return out


def order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The data order of one seed's epoch ``epoch``: a permutation of ``range(n)``."""
    return orders([seed], epoch, n)[0]
