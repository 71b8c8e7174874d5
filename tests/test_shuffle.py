import numpy as np
import pytest

from inertia import shuffle


def reference_order(seed, epoch, n):
    """The documented algorithm, written plainly in Python integers."""
    def h(x):
        x = ((x ^ (x >> 16)) * 0x7FEB352D) & 0xFFFFFFFF
        x = ((x ^ (x >> 15)) * 0x846CA68B) & 0xFFFFFFFF
        return x ^ (x >> 16)

    word = (seed ^ (seed >> 32)) & 0xFFFFFFFF
    state = h((h(word) + epoch) & 0xFFFFFFFF)
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = h((state + i) & 0xFFFFFFFF) % (i + 1)
        order[i], order[j] = order[j], order[i]
    return order


@pytest.mark.parametrize(("seed", "epoch", "n"), [(0, 0, 10), (7, 3, 100), (2**40 + 5, 99, 37), (123, 0, 1)])
def test_compiled_orders_follow_the_documented_algorithm(seed, epoch, n):
    assert shuffle.order(seed, epoch, n).tolist() == reference_order(seed, epoch, n)


def test_orders_are_permutations_that_differ_by_seed_and_epoch():
    many = shuffle.orders(np.arange(50), 0, 200)
    assert (np.sort(many, axis=1) == np.arange(200)).all()
    assert len({tuple(row) for row in many}) == 50
    assert not np.array_equal(shuffle.order(1, 0, 200), shuffle.order(1, 1, 200))
    np.testing.assert_array_equal(many[3], shuffle.order(3, 0, 200))


def test_positions_are_uniform():
    first = shuffle.orders(np.arange(20000), 4, 4)[:, 0]
    counts = np.bincount(first, minlength=4) / 20000
    np.testing.assert_allclose(counts, 0.25, atol=0.015)  # 5 binomial standard deviations, √(0.25·0.75/20000)


def test_triton_orders_equal_the_cpu_orders():
    """The GPU engine shuffles on the device; its orders must be the CPU's, member by member."""
    pytest.importorskip("triton")
    import torch

    from inertia.population import gpu_kernels, triton_runs_on

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not triton_runs_on(device):
        pytest.skip("needs Triton on a GPU or in its interpreter")
    seeds = np.array([0, 1, 7, 2**40 + 5, 123456789, 2**33])
    words = torch.from_numpy(shuffle._seed_words(seeds).astype(np.int64)).to(device)
    for epoch, n in [(0, 10), (3, 37), (99, 100)]:
        got = gpu_kernels.shuffle_orders(words, epoch, n).cpu().numpy()
        np.testing.assert_array_equal(got, shuffle.orders(seeds, epoch, n))
