"""The counter-based initial weights (inertia.init) against the formula written out with Python integers, and
their distribution against nn.Linear's U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats

from inertia import init, shuffle
from inertia.models import MLP, initial_weights


def lowbias32(x: int) -> int:
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    return x ^ (x >> 16)


def reference(seed: int, tensor: int, position: int, fan_in: int) -> np.float32:
    """The module docstring's formula, one number at a time."""
    unsigned = seed % (1 << 64)  # an int64 seed's bits
    word = (unsigned ^ (unsigned >> 32)) & 0xFFFFFFFF
    key = lowbias32(word)
    k = lowbias32(key ^ ((0x9E3779B9 * (tensor + 1)) & 0xFFFFFFFF))
    bits = lowbias32((lowbias32(position ^ k) + k) & 0xFFFFFFFF) >> 8
    unit = np.float32((2 * bits + 1 - (1 << 24)) / (1 << 24))
    return np.float32(np.float32(1.0 / math.sqrt(fan_in)) * unit)


def test_hash_is_the_shuffles_hash_without_overflow():
    values = np.array([0, 1, 2**31 - 1, 2**31, 2**32 - 1, 123456789, 0xDEADBEEF], dtype=np.int64)
    ours = init.hash32(torch.from_numpy(values)).numpy()
    assert [lowbias32(int(v)) for v in values] == ours.tolist()
    assert [int(shuffle._hash(np.uint64(v))) for v in values] == ours.tolist()


@pytest.mark.parametrize("seed", [0, 1, 7, 2**40 + 3, -5])
def test_every_weight_is_the_documented_formula(seed):
    layers = [3, 5, 4]
    weights = init.population_weights(layers, [seed])
    for layer, (n_in, n_out) in enumerate(itertools.pairwise(layers)):
        weight, bias = weights[layer][0][0], weights[layer][1][0]
        for o in range(n_out):
            for i in range(n_in):
                assert weight[o, i].item() == reference(seed, 2 * layer, o * n_in + i, n_in)
            assert bias[o].item() == reference(seed, 2 * layer + 1, o, n_in)


def test_the_same_numbers_in_fit_models_and_in_every_population_row():
    layers = [2, 50, 50, 3]
    rows = init.population_weights(layers, [4, 9, 4])
    for member, seed in enumerate([4, 9, 4]):
        model = MLP(layers, seed=seed)
        for (weight, bias), linear, (w, b) in zip(rows, model.hidden, initial_weights(layers, seed)):
            assert torch.equal(weight[member], linear.weight.detach()) and torch.equal(weight[member], w)
            assert torch.equal(bias[member], linear.bias.detach()) and torch.equal(bias[member], b)
    assert torch.equal(rows[0][0][0], rows[0][0][2]) and not torch.equal(rows[0][0][0], rows[0][0][1])


def test_the_distribution_is_nn_linears_default():
    fan_in, count = 50, 200_000
    bound = 1 / math.sqrt(fan_in)
    values = init.uniform(init.seed_words([3], "cpu"), 0, count, fan_in)[0].double().numpy()
    assert np.abs(values).max() < bound
    assert stats.kstest(values, stats.uniform(-bound, 2 * bound).cdf).pvalue > 1e-3
    linear = torch.nn.Linear(fan_in, count // fan_in)  # torch's own draw, for the same two-sample comparison
    assert stats.ks_2samp(values, linear.weight.detach().flatten().double().numpy()).pvalue > 1e-3


def test_seeds_tensors_and_positions_are_uncorrelated():
    words = init.seed_words([0, 1, 2, 3**30, 1000], "cpu")
    draws = torch.cat([init.uniform(words, tensor, 20_000, 1) for tensor in range(3)]).double().numpy()
    correlation = np.corrcoef(draws)
    off_diagonal = correlation[~np.eye(len(draws), dtype=bool)]
    assert np.abs(off_diagonal).max() < 5 / math.sqrt(20_000)  # five standard errors
    lagged = np.corrcoef(draws[:, :-1].ravel(), draws[:, 1:].ravel())[0, 1]
    assert abs(lagged) < 5 / math.sqrt(draws.size)


@pytest.mark.parametrize("count, fan_in", [(0, 1), (1, 1), (7, 3), (1000, 50), (4097, 4096)])
def test_the_compiled_loop_makes_the_tensor_operations_numbers(count, fan_in):
    """The CPU's compiled loop against the tensor-operation path other devices take, bit for bit."""
    words = init.seed_words([0, 1, -1, 2**31, 2**32 - 1, 2**40 + 3, -(2**63), 123456789], "cpu")
    for tensor in (0, 1, 5, 1000):
        compiled = init.uniform(words, tensor, count, fan_in)
        assert torch.equal(compiled, init._uniform(words, tensor, count, fan_in))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_the_device_makes_the_same_numbers():  # pragma: no cover - run on a GPU machine
    cpu = init.population_weights([2, 50, 3], range(100))
    gpu = init.population_weights([2, 50, 3], range(100), "cuda")
    for (a, b), (c, d) in zip(cpu, gpu):
        assert torch.equal(a, c.cpu()) and torch.equal(b, d.cpu())
