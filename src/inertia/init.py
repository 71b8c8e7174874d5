"""Initial weights from a counter-based generator: each weight a pure function of (seed, tensor, position).

Every engine (``fit`` through :class:`inertia.models.MLP`, the population engines on CPU and GPU) starts a
seed's network from the numbers defined here, made on the device where training runs, for a whole population in
a few tensor operations and without any generator state (on the CPU, one compiled loop at a few nanoseconds a
weight; elsewhere tensor operations on the device). The distribution is ``nn.Linear``'s default,
U(−b, b) with b = 1/√fan_in, on a grid of 2²⁴ equally spaced points (as fine as a float32 uniform draw):

    key      = h(seed)                                    seed folded to 32 bits as in inertia.shuffle
                                                          (seeds that fold alike share their networks)
    k_t      = h(key ^ (0x9E3779B9 · (t + 1) mod 2³²))     t = 2·layer for a weight, 2·layer + 1 for a bias
    bits(i)  = h((h(i ^ k_t) + k_t) mod 2³²) >> 8          i the position in the tensor, row-major
    value(i) = float32(b) · (2·bits(i) + 1 − 2²⁴) · 2⁻²⁴

``h`` is the 32-bit "lowbias32" hash of :mod:`inertia.shuffle`. The product is one float32 rounding of exact
operands, so every device computes the same bits. (The seed lab's own protocol draws from torch's global
generator instead, as its notebook does: :mod:`inertia.studies.reproduce`.)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import torch
from numba import njit, prange

from inertia import jit  # noqa: F401 - the target and cache of inertia's compiled code, set before any compiles
from inertia.shuffle import _hash

MASK = 0xFFFFFFFF
GOLDEN = 0x9E3779B9


def _mul(x: torch.Tensor, constant: int) -> torch.Tensor:
    """``x · constant mod 2³²`` for int64 ``x`` below 2³²: a constant of 2³¹ or more is taken as its negative
    counterpart (the same modulo 2³²), so the product stays within 64 bits."""
    signed = constant - (1 << 32) if constant >= 1 << 31 else constant
    return (x * signed) & MASK


def hash32(x: torch.Tensor) -> torch.Tensor:
    """lowbias32 of int64 ``x`` (values below 2³²), as :func:`inertia.shuffle._hash`."""
    x = _mul(x ^ (x >> 16), 0x7FEB352D)
    x = _mul(x ^ (x >> 15), 0x846CA68B)
    return x ^ (x >> 16)


def seed_words(seeds, device) -> torch.Tensor:
    """Seeds (any int64) folded to 32-bit words, as :mod:`inertia.shuffle` folds them: an int64 tensor."""
    seeds = np.asarray(seeds, dtype=np.int64).astype(np.uint64)
    words = (seeds ^ (seeds >> np.uint64(32))) & np.uint64(MASK)
    return torch.from_numpy(words.astype(np.int64)).to(device)


BLOCK = 1 << 24  # values computed at a time by tensor operations: their int64 temporaries stay bounded


def uniform(words: torch.Tensor, tensor: int, count: int, fan_in: int) -> torch.Tensor:
    """``count`` values of tensor number ``tensor`` (bound 1/√fan_in) for each seed word: float32
    (len(words), count). On the CPU a compiled loop (:func:`_fill`); on other devices tensor operations
    (:func:`_uniform`); the same bits either way."""
    out = torch.empty((len(words), count), dtype=torch.float32, device=words.device)
    if words.device.type == "cpu":
        _fill(out.numpy(), words.numpy().astype(np.uint64), _salt(tensor), _bound(fan_in), 0, count, 1, False)
        return out
    rows = max(1, BLOCK // max(count, 1))
    for lo in range(0, len(words), rows):
        out[lo : lo + rows] = _uniform(words[lo : lo + rows], tensor, count, fan_in)
    return out


def _bound(fan_in: int) -> np.float32:
    return np.float32(1.0 / math.sqrt(fan_in))


def _salt(tensor: int) -> np.uint64:
    return np.uint64((GOLDEN * (tensor + 1)) & MASK)


@njit(cache=True, parallel=True)
def _fill(out, words, salt, bound, at, rows, columns, transposed):
    """The module docstring's formula for the values of one tensor (``rows`` × ``columns``, position
    i = r·columns + c), seed word ``words[p]`` (uint64 below 2³²) in row ``p`` of ``out`` from column ``at``:
    value i at ``at + i``, or with ``transposed`` at ``at + c·rows + r`` (the tensor stored (columns, rows)).
    ``salt`` = 0x9E3779B9 · (t + 1) mod 2³² for tensor t; the unit value is exact in float32 and its product with
    ``bound`` one rounding, as in :func:`_uniform`, then stored in ``out``'s dtype (exactly, in float64). Rows are
    spread over the cores."""
    for p in prange(out.shape[0]):
        k = _hash(_hash(words[p]) ^ salt)
        row = out[p]
        if transposed:  # in the order of the stores
            for c in range(columns):
                for r in range(rows):
                    row[at + c * rows + r] = _value(r * columns + c, k, bound)
        else:
            for i in range(rows * columns):
                row[at + i] = _value(i, k, bound)


@njit(cache=True, inline="always")
def _value(i, k, bound):
    bits = _hash((_hash(np.uint64(i) ^ k) + k) & np.uint64(0xFFFFFFFF)) >> np.uint64(8)
    return np.float32(np.int64(bits) * 2 + 1 - (1 << 24)) * np.float32(2.0**-24) * bound


def _uniform(words: torch.Tensor, tensor: int, count: int, fan_in: int) -> torch.Tensor:
    """:func:`uniform`'s values as tensor operations on ``words``' device (int64, values below 2³²)."""
    key = hash32(words)[:, None]
    k = hash32(key ^ ((GOLDEN * (tensor + 1)) & MASK))
    i = torch.arange(count, device=words.device, dtype=torch.int64)[None, :]
    bits = hash32((hash32(i ^ k) + k) & MASK) >> 8
    unit = (2 * bits + 1 - (1 << 24)).to(torch.float32) * 2.0**-24
    return unit * torch.tensor(_bound(fan_in), dtype=torch.float32, device=words.device)


def flat_population_weights(layers: Sequence[int], seeds, rows: Sequence[bool], dtype=np.float32) -> np.ndarray:
    """:func:`population_weights` on the CPU written straight into one row per member (``dtype``): per layer its
    weight, held as ``nn.Linear`` holds it (out, in) where ``rows`` says so and transposed (in, out) elsewhere,
    then its bias (the flat layout of :func:`inertia.population.layout.flat_weights`)."""
    words = seed_words(np.atleast_1d(seeds), "cpu").numpy().astype(np.uint64)
    sizes = [(n_in + 1) * n_out for n_in, n_out in itertools.pairwise(layers)]
    out = np.empty((len(words), sum(sizes)), dtype=dtype)
    at = 0
    for layer, ((n_in, n_out), held) in enumerate(zip(itertools.pairwise(layers), rows)):
        bound = _bound(n_in)
        _fill(out, words, _salt(2 * layer), bound, at, n_out, n_in, not held)
        _fill(out, words, _salt(2 * layer + 1), bound, at + n_in * n_out, n_out, 1, False)
        at += sizes[layer]
    return out


def population_weights(layers: Sequence[int], seeds, device="cpu") -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per layer ``(weight (P, out, in), bias (P, out))``, float32 on ``device``: seed ``seeds[p]``'s network
    in row ``p`` (see the module docstring)."""
    words = seed_words(np.atleast_1d(seeds), device)
    out = []
    for layer, (n_in, n_out) in enumerate(itertools.pairwise(layers)):
        weight = uniform(words, 2 * layer, n_out * n_in, n_in).view(-1, n_out, n_in)
        out.append((weight, uniform(words, 2 * layer + 1, n_out, n_in)))
    return out
