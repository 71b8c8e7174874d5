"""The lanes kernel's data orders and sample reads (inertia.population.lane_orders) against inertia.shuffle and
plain indexing, and the engine's choice where a data set is too large for their 32-bit offsets."""

import numpy as np
import pytest
import torch
from numba import njit

from inertia import data, shuffle
from inertia.population import Member, lane_orders, train_population
from inertia.population.lanes import width
from inertia.population.setup import prepare


def _orders_of(fill):
    """A group's orders from ``fill``: every lane's key from its seed word and the epoch, as the kernel sets
    them."""

    @njit
    def group_orders(orders, seeds, epoch, live, mixes, like):
        L = width(like)
        keys = np.zeros(L, dtype=np.uint32)
        mixed = np.zeros(L, dtype=np.bool_)
        for lane in range(L):
            mixed[lane] = live[lane] and mixes
            keys[lane] = lane_orders.key(seeds[lane], epoch) if mixed[lane] else 0
        fill(orders, keys, mixed, np.empty(L, dtype=np.int32), orders.shape[0] // L, like)

    return group_orders


# The orders are compiled into the kernel under its fastmath flags; a copy compiled with all of them (a division
# may become a product by the reciprocal) must give the same orders.
FILLS = {"as built": _orders_of(lane_orders.fill), "under fastmath": _orders_of(njit(fastmath=True)(
    lane_orders.fill.py_func))}


@pytest.mark.parametrize("compiled", FILLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 2, 3, 17, 1500, 4099])
def test_a_groups_orders_are_the_shuffles_lane_by_lane(dtype, n, compiled):
    """Each live lane's column is inertia.shuffle's order for its seed and epoch (epochs past 2³² included, as
    the shuffle wraps them), in every lane of a float32 (16) or float64 (8) group; a dead lane, or every lane
    without shuffling, reads 0, 1, …, n − 1. Long orders hold several positions per lane whose hash is an exact
    multiple of i + 1, where a quotient by a reciprocal can round down."""
    like = np.zeros((1, 1), dtype)  # the kernel passes its members' weights
    L = 16 if dtype == np.float32 else 8
    raw = np.arange(L) * 7919 + 3 + (np.arange(L) << 40)  # high bits folded into the words, as for any seed
    words = shuffle._seed_words(raw)
    live = np.ones(L, dtype=np.bool_)
    live[L // 2] = False
    for epoch in (0, 1, 7, 2**33 + 5):
        for mixes in (True, False):
            orders = np.full(n * L, -1, dtype=np.int32)
            FILLS[compiled](orders, words, epoch, live, mixes, like)
            columns = orders.reshape(n, L).T
            for lane in range(L):
                expected = shuffle.order(int(raw[lane]), epoch, n) if mixes and live[lane] else np.arange(n)
                np.testing.assert_array_equal(columns[lane], expected)


@njit(cache=True)
def _read_all(x, labels_as_values, orders, n, d, inputs, labels):
    L = width(inputs)
    out_inputs = np.empty((n, d, L), dtype=inputs.dtype)
    out_labels = np.empty((n, L), dtype=inputs.dtype)
    for pos in range(n):
        lane_orders.read(x.reshape(-1), labels_as_values, orders, pos, 0, inputs, labels, d)
        for lane in range(L):
            out_labels[pos, lane] = labels[lane]
            for k in range(d):
                out_inputs[pos, k, lane] = inputs[k * L + lane]
    return out_inputs, out_labels


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [1, 3, 64])
def test_reads_through_the_orders_are_plain_indexing(dtype, d):
    """A block row read for every lane at once holds, lane by lane, the sample that lane's order names: its d
    inputs and its class, whichever sample each lane is at (the last one included)."""
    rng = np.random.default_rng(d)
    L = 16 if dtype == np.float32 else 8
    n = 257
    x = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, 10, n)
    orders = np.stack([rng.permutation(n) for _ in range(L)], axis=1).astype(np.int32)  # (n, L)
    orders[-1, 0] = n - 1
    inputs, labels = np.zeros(d * L, dtype), np.zeros(L, dtype)
    got_inputs, got_labels = _read_all(x, y.astype(dtype), orders.reshape(-1), n, d, inputs, labels)
    np.testing.assert_array_equal(got_inputs, x[orders].transpose(0, 2, 1))
    np.testing.assert_array_equal(got_labels, y[orders].astype(dtype))


def test_a_data_set_past_the_gathers_offsets_goes_one_member_at_a_time():
    """Past 2³¹ values or sample positions the lanes engine's 32-bit offsets would wrap: ``auto`` takes the
    one-member kernel instead, and asking for ``lanes`` is a ValueError that says why."""
    assert lane_orders.fits(2**27 - 1, 16) and not lane_orders.fits(2**27, 2)
    assert lane_orders.fits(2**31 // 64 - 1, 64) and not lane_orders.fits(2**31 // 64, 64)

    class Huge(data.Dataset):
        def __len__(self):
            return 2**27

    small = data.spiral(classes=3, points=20, seed=0)
    huge = Huge(small.x, small.y, small.classes, small.name)
    members = [Member(0.1, 0.5, seed=s) for s in range(64)]
    assert prepare(small, [2, 5, 3], members, engine="auto").engine == "lanes"
    assert prepare(huge, [2, 5, 3], members, engine="auto").engine == "kernel"
    with pytest.raises(ValueError, match="lanes engine indexes fewer than 2\\*\\*31"):
        prepare(huge, [2, 5, 3], members, engine="lanes")


def test_the_lanes_engine_trains_each_member_on_its_own_shuffled_order():
    """End to end: a member's minibatch losses on the lanes engine are those of the one-member kernel, which
    draws its order straight from inertia.shuffle, for members in every lane of five groups (float64)."""
    dataset = data.spiral(classes=3, points=30, seed=1)
    members = [Member(0.05, 0.5, seed=s) for s in range(40)]
    runs = {engine: train_population(dataset, [2, 6, 3], members, epochs=3, batch_size=4, engine=engine,
                                     dtype=torch.float64) for engine in ("kernel", "lanes")}
    for name in runs["kernel"].metrics:
        np.testing.assert_allclose(runs["lanes"].metrics[name], runs["kernel"].metrics[name], rtol=1e-10)
