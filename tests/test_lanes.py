"""Members across the SIMD lanes: the vector operations (inertia.population.lanes), the products of the lanes kernel
(inertia.population.lane_products) against NumPy, and the engine's choice and grouping. Member by member against
fit, every optimizer, activation and depth: tests/test_population.py runs the ``lanes`` engine with the others."""

import itertools
from fractions import Fraction

import numba
import numpy as np
import pytest
import torch
from numba import njit

from inertia import data
from inertia.population import (
    Member,
    Members,
    choose_engine,
    chunk_sizes,
    lane_fused,
    lane_kernels,
    lane_math,
    member_bytes,
    train_population,
    vecmath,
)
from inertia.population import lane_products as lp
from inertia.population.kernels import apply_update
from inertia.population.lanes import (
    fma,
    lanes,
    load,
    splat,
    store,
    where_equal,
    where_greater,
    where_positive,
    width,
)
from inertia.population.layout import ACTIVATION_CODES


def aligned(values: np.ndarray) -> np.ndarray:
    """A copy on a 64-byte boundary, as the kernel holds its buffers (any offset must work too)."""
    buffer = np.zeros(values.size + 16, dtype=values.dtype)
    skip = (-(buffer.ctypes.data // values.itemsize)) % (64 // values.itemsize)
    out = buffer[skip : skip + values.size].reshape(values.shape)
    out[...] = values
    return out


@njit
def _elementwise(a, b, c, out):
    L = width(a)
    for i in range(0, a.shape[0], L):
        x, y, z = load(a, i), load(b, i), load(c, i)
        store(out[0], i, fma(x, y, z))
        store(out[1], i, x * y + z / y - x)
        store(out[2], i, np.sqrt(x * x))
        store(out[3], i, where_positive(x, y, z))
        store(out[4], i, splat(x, 2.5) * x)
        store(out[5], i, where_greater(x, z, y, z))
        store(out[6], i, where_equal(x, x, y, z))
        store(out[7], i, np.floor(x * splat(x, 3.0)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset", [0, 1])
def test_vector_operations_lane_by_lane(dtype, offset):
    """Each operation on vectors equals NumPy's element by element, at any alignment, NaN and inf included."""
    L = 64 // np.dtype(dtype).itemsize
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(3 * L + offset).astype(dtype)[offset:] for _ in range(3))
    a[:4] = [0.0, -0.0, np.nan, np.inf]
    b[:4] = [1.0, 2.0, 3.0, 4.0]
    out = np.zeros((8, a.size), dtype=dtype)
    _elementwise(a, b, c, out)
    f64 = [v.astype(np.float64) for v in (a, b, c)]
    exact = [float(Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z))) if np.isfinite(x) else x * y + z
             for x, y, z in zip(a, b, c)]  # one rounding (of float32's exact float64 value, for float32)
    np.testing.assert_array_equal(out[0], np.array(exact).astype(dtype))
    with np.errstate(invalid="ignore"):  # inf − inf in the reference, as in the vectors
        reference = f64[0] * f64[1] + f64[2] / f64[1] - f64[0]
    scale = np.abs(f64[0] * f64[1]) + np.abs(f64[2] / f64[1]) + np.abs(f64[0])  # contraction rounds once less
    finite = np.isfinite(scale)
    np.testing.assert_allclose(out[1][finite], reference[finite], rtol=0,
                               atol=4 * np.finfo(dtype).eps * scale[finite].max())
    assert np.isnan(out[1][~finite]).all()
    np.testing.assert_array_equal(out[2], np.abs(a))
    np.testing.assert_array_equal(out[3], np.where(a > 0, b, c))  # NaN is not > 0
    np.testing.assert_array_equal(out[4], dtype(2.5) * a)
    np.testing.assert_array_equal(out[5], np.where(a > c, b, c))  # NaN is not > anything
    np.testing.assert_array_equal(out[6], np.where(a == a, b, c))  # nor == itself
    np.testing.assert_array_equal(out[7], np.floor(a * dtype(3)))


@njit
def _math_lanes(a, out):
    for i in range(0, a.shape[0], width(a)):
        store(out[0], i, lane_math.exp(load(a, i)))
        store(out[1], i, lane_math.log(load(a, i)))


@njit
def _math_scalar(a, out):
    for i in range(a.shape[0]):
        out[0, i], out[1, i] = vecmath.exp(a[i]), vecmath.log(a[i])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_and_log_on_vectors_equal_the_scalar_kernels(dtype):
    """exp and log of vectors equal the scalar kernels' (Cephes' expf/logf written out in float32, the C
    library's in float64) bit for bit, from underflow to overflow, subnormals, zeros, NaN and infinities
    included, and are within 1 ulp of float64 NumPy."""
    rng = np.random.default_rng(3)
    special = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-40, 88.7, 88.8, -103.9, -87.3, 1.0, 0.5]
    a = np.concatenate([rng.uniform(-120, 100, 2000), np.exp(rng.uniform(-85, 85, 2000)), special])
    a = aligned(np.resize(a, -(-a.size // 16) * 16).astype(dtype))
    lanes_out, scalar_out = np.zeros((2, a.size), dtype), np.zeros((2, a.size), dtype)
    with np.errstate(all="ignore"):
        _math_lanes(a, lanes_out)
        _math_scalar(a, scalar_out)
        np.testing.assert_array_equal(lanes_out[0], scalar_out[0])
        positive = a > 0
        np.testing.assert_array_equal(lanes_out[1][positive], scalar_out[1][positive])
    with np.errstate(over="ignore"):
        exact = np.exp(a.astype(np.float64))
    finite = np.isfinite(exact) & (exact < np.finfo(dtype).max)
    ulp = np.spacing(exact[finite].astype(dtype)).astype(np.float64)
    assert (np.abs(lanes_out[0][finite] - exact[finite]) <= ulp).all()
    normal = a >= np.finfo(dtype).tiny  # log's domain: positive normal numbers
    exact = np.log(a[normal & np.isfinite(a)].astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    assert (np.abs(lanes_out[1][normal & np.isfinite(a)] - exact) <= ulp).all()


@njit
def _update_lanes(params, state, grads, u, im, iv, ia, m_after):
    apply_update(lanes(params), lanes(state), lanes(grads), lanes(u), im, iv, ia, m_after)


@njit
def _update_one(params, state, grads, u, im, iv, ia, m_after):
    apply_update(params, state, grads, u, im, iv, ia, m_after)


@pytest.mark.parametrize("slots", [(-1, -1, -1, False), (0, -1, -1, False), (0, 1, -1, False), (0, 1, -1, True),
                                   (0, 1, 2, True)], ids=["sgd", "momentum", "adam", "rmsprop", "centered"])
def test_the_update_on_vectors_of_members_is_each_members_update(slots):
    """apply_update's one source, run on lane-interleaved vectors (16 float32 / 8 float64 members at once), gives
    each member what it gives that member alone, with per-member coefficients."""
    for dtype in (np.float32, np.float64):
        L, n, rng = 64 // np.dtype(dtype).itemsize, 7, np.random.default_rng(1)
        params, grads = rng.standard_normal((L, n)).astype(dtype), rng.standard_normal((L, n)).astype(dtype)
        state = rng.random((L, 3, n)).astype(dtype) + 1  # positive: RMSprop's centered variance stays defined
        u = rng.random((L, 13)).astype(dtype) * 0.5
        flat, moments = aligned(params.T.ravel()), aligned(state.transpose(1, 2, 0).reshape(3, n * L))
        _update_lanes(flat, moments, aligned(grads.T.ravel()), aligned(u.T.ravel()), *slots)
        for lane in range(L):
            _update_one(params[lane], state[lane], grads[lane].copy(), u[lane].copy(), *slots)
        rtol = 8 * np.finfo(dtype).eps  # a product and a sum may fuse, in either
        np.testing.assert_allclose(flat.reshape(n, L).T, params, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(moments.reshape(3, n, L).transpose(2, 0, 1), state, rtol=rtol, atol=rtol)


def _reference(A, B, bias, start, mode, M):
    """The product and its mode in float64 NumPy, on arrays of (rows, columns, lanes)."""
    out = np.einsum("akl,kbl->abl", A, B) + (start if bias is None else bias[None])
    codes = {v: k for k, v in ACTIVATION_CODES.items()}
    if mode == lp.RELU:
        return np.where(out < 0, 0, out)
    if mode == lp.LEAKY:
        return np.where(out > 0, out, 0.01 * out)
    if mode >= lp.THROUGH:
        name = codes[mode - lp.THROUGH]
        return {"relu": np.where(M > 0, out, 0), "leaky_relu": np.where(M > 0, out, 0.01 * out),
                "tanh": out * (1 - M * M), "sigmoid": out * M * (1 - M), "identity": out}[name]
    return out


SHAPES = [(5, 7, 1), (6, 4, 2), (3, 50, 3), (20, 3, 50), (2, 50, 20), (9, 10, 4), (1, 1, 5), (13, 2, 3)]
MODES = [lp.PLAIN, lp.RELU, lp.LEAKY] + [lp.THROUGH + code for code in ACTIVATION_CODES.values()]


@pytest.mark.parametrize(("na", "nb", "nk"), SHAPES, ids=[f"{a}x{b}x{k}" for a, b, k in SHAPES])
def test_products_equal_numpy_in_every_layout_and_mode(na, nb, nk):
    """product() against einsum: short runs and tiles, both orientations (C's rows or columns contiguous), edge
    tiles, no bias / a bias along the columns / adding to C, and every mode (activations and their gradients)."""
    L, rng = 8, np.random.default_rng(na * 100 + nb * 10 + nk)
    A, B = rng.standard_normal((na, nk, L)), rng.standard_normal((nk, nb, L))
    M, start, bias = rng.random((na, nb, L)), rng.standard_normal((na, nb, L)), rng.standard_normal((nb, L))
    for c_rows_first, init, mode in itertools.product((True, False), ("none", "bias", "add"), MODES):
        # A as (k, a) in memory and B as (b, k), so that every stride differs from a plain row-major layout
        a_mem, b_mem = aligned(A.transpose(1, 0, 2).ravel()), aligned(B.transpose(1, 0, 2).ravel())
        c_sa, c_sb = (nb * L, L) if c_rows_first else (L, na * L)
        c_view = (lambda v: v) if c_rows_first else (lambda v: v.transpose(1, 0, 2))
        c_mem = aligned(c_view(start).ravel())
        m_mem = aligned(c_view(M).ravel())
        bias_mem = aligned(bias.ravel())
        bias_at = {"none": lp.NONE, "bias": 0, "add": lp.ADD}[init]
        lp.product(a_mem, 0, L, na * L, b_mem, 0, L, nk * L, c_mem, 0, c_sa, c_sb, na, nb, nk, bias_mem, bias_at,
                   mode, m_mem, 0)
        got = c_mem.reshape((na, nb, L) if c_rows_first else (nb, na, L))
        got = got if c_rows_first else got.transpose(1, 0, 2)
        expected = _reference(A, B, bias if init == "bias" else None, start if init == "add" else 0.0, mode, M)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12,
                                   err_msg=f"C rows first {c_rows_first}, {init}, mode {mode}")


FUSED = [[2, 50, 3], [1, 7, 2], [3, 5, 3], [2, 9, 2], [3, 4, 1]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layers", FUSED, ids=[str(layers) for layers in FUSED])
def test_the_fused_network_equals_its_layers_bit_for_bit(dtype, layers):
    """A network of few inputs and classes through the fused pass: its logits and gradients (the hidden values
    formed again in the backward pass) equal the layer-by-layer products' bit for bit, for every block size
    (whole groups of 4 samples and not: a sample past the block adds nothing, though an infinite weight times
    its zero inputs is NaN), a minibatch's first block written over whatever the gradients held, ReLU and leaky
    ReLU, and weights with a NaN or an inf in them; a deeper or wider network is not fused."""
    rng = np.random.default_rng(len(layers) * 10 + layers[1])
    L, rows = 64 // np.dtype(dtype).itemsize, lane_kernels.ROWS
    shape = lane_kernels.shape_table(layers, [True, False])
    d, hidden, classes = layers
    size = d * hidden + hidden + hidden * classes + classes
    flat = aligned(rng.standard_normal(size * L).astype(dtype))
    flat[3 * L + 1] = np.nan  # one member (lane 1) with a NaN weight
    flat[2] = np.inf  # and one (lane 2) with an infinite one: pre-activations of −inf and +inf
    inputs = aligned(rng.standard_normal(rows * d * L).astype(dtype))
    act_at = np.array([0, rows * hidden * L])
    for act in (ACTIVATION_CODES["relu"], ACTIVATION_CODES["leaky_relu"]):
        assert lane_fused.fusable(shape, act)
        for m in (1, 3, 4, 7, 20, rows):
            logits = [aligned(np.zeros((classes, rows * L), dtype)) for _ in range(2)]
            lane_kernels._forward(shape, flat, inputs, aligned(np.zeros(rows * hidden * L, dtype)), act_at, logits[0],
                                  m, act)
            lane_fused.forward(shape, flat, inputs, logits[1], m, act)
            np.testing.assert_array_equal(logits[1][:, : m * L], logits[0][:, : m * L], err_msg=f"act {act}, m {m}")
            assert not logits[1][:, m * L :].any()  # nothing past the block's samples
            deltas = aligned(rng.standard_normal((classes, rows * L)).astype(dtype))
            start = rng.standard_normal(size * L).astype(dtype)
            grads = [aligned(start), aligned(start)]
            acts = aligned(np.zeros(rows * hidden * L, dtype))
            lane_kernels._forward(shape, flat, inputs, acts, act_at, deltas.copy(), m, act)  # the activations
            scratch = [aligned(np.zeros(rows * max(hidden, d) * L, dtype)) for _ in range(2)]
            lane_kernels._backward(shape, flat, grads[0], inputs, acts, act_at, deltas.copy(), *scratch, m, act,
                                   False)
            lane_fused.backward(shape, flat, grads[1], inputs, deltas.copy(), m, act, False)
            np.testing.assert_array_equal(grads[1], grads[0], err_msg=f"act {act}, m {m}")
            # a minibatch's first block: written over garbage, equal to the layers' added into zeros
            zeros, garbage = aligned(np.zeros(size * L, dtype)), aligned(rng.standard_normal(size * L).astype(dtype))
            lane_kernels._backward(shape, flat, zeros, inputs, acts, act_at, deltas.copy(), *scratch, m, act, False)
            lane_fused.backward(shape, flat, garbage, inputs, deltas.copy(), m, act, True)
            np.testing.assert_array_equal(garbage, zeros, err_msg=f"act {act}, m {m}, a first block")
    assert not lane_fused.fusable(shape, ACTIVATION_CODES["tanh"])
    assert not lane_fused.fusable(lane_kernels.shape_table([2, 5, 5, 3], [True] * 3), ACTIVATION_CODES["relu"])
    assert not lane_fused.fusable(lane_kernels.shape_table([4, 5, 3], [True] * 2), ACTIVATION_CODES["relu"])
    assert not lane_fused.fusable(lane_kernels.shape_table([2, 5, 4], [True] * 2), ACTIVATION_CODES["relu"])


@pytest.mark.parametrize("layers", [[3, 7, 5, 2], [64, 33, 10]], ids=str)
def test_a_minibatch_first_block_writes_its_gradients_over_whatever_was_there(layers):
    """A minibatch's first block writes its weight gradients instead of adding them to zeros, and only the bias
    gradients are zeroed before it: the gradients equal those added into an all-zero buffer bit for bit, though
    the buffer held garbage, for every block size; the next block still adds."""
    rng = np.random.default_rng(len(layers))
    dtype, L, rows = np.float32, 16, lane_kernels.ROWS
    rows_held = [True] * (len(layers) - 1)
    shape = lane_kernels.shape_table(layers, rows_held)
    size = sum(a * b + b for a, b in itertools.pairwise(layers))
    widest = max(layers[:-1])
    act_at = np.cumsum([0] + [rows * width * L for width in layers[1:-1]])
    flat = aligned(rng.standard_normal(size * L).astype(dtype))
    inputs = aligned(rng.standard_normal(rows * layers[0] * L).astype(dtype))
    act = ACTIVATION_CODES["relu"]
    for m in (1, 3, 7, rows):
        acts = aligned(np.zeros(max(act_at[-1], 1), dtype))
        deltas = aligned(rng.standard_normal((layers[-1], rows * L)).astype(dtype))
        lane_kernels._forward(shape, flat, inputs, acts, act_at, deltas.copy(), m, act)
        grads = [aligned(np.zeros(size * L, dtype)), aligned(rng.standard_normal(size * L).astype(dtype))]
        lane_kernels._zero_biases(shape, grads[1])
        for fresh, grad in zip((False, True), grads):
            for first in (fresh, False):  # two blocks: the first written (or added to zeros), the second added
                scratch = [aligned(np.zeros(rows * widest * L, dtype)) for _ in range(2)]
                lane_kernels._backward(shape, flat, grad, inputs, acts, act_at, deltas.copy(), *scratch, m, act,
                                       first)
        np.testing.assert_array_equal(grads[1], grads[0], err_msg=f"m {m}")
        assert np.abs(grads[0]).max() > 0


DATA = data.spiral(classes=3, points=20, seed=0)


def test_a_member_is_the_same_in_any_group_or_lane():
    """20 float64 members in three groups of 8 lanes (the last one part full): each equal bit for bit to the
    same member trained alone, in lane 0 of a group of its own — lanes never mix."""
    members = [Member(0.05 + 0.01 * i, (0.0, 0.5, 0.9)[i % 3], seed=i) for i in range(20)]
    together = train_population(DATA, [2, 9, 3], members, epochs=3, batch_size=6, dtype=torch.float64,
                                engine="lanes")
    for i in (0, 7, 8, 19):
        alone = train_population(DATA, [2, 9, 3], [members[i]], epochs=3, batch_size=6, dtype=torch.float64,
                                 engine="lanes")
        for name in together.metrics:
            np.testing.assert_array_equal(together.metrics[name][i], alone.metrics[name][0])
        for (w, b), (w1, b1) in zip(together.weights[i], alone.weights[0]):
            assert torch.equal(w, w1) and torch.equal(b, b1)


def test_auto_takes_the_lanes_once_every_core_has_a_full_group():
    threads = numba.get_num_threads()
    cpu = torch.device("cpu")
    assert choose_engine("auto", [2, 8, 3], cpu, 16 * threads, torch.float32) == "lanes"
    assert choose_engine("auto", [2, 8, 3], cpu, 16 * threads - 1, torch.float32) == "kernel"
    assert choose_engine("auto", [2, 8, 8, 3], cpu, 8 * threads, torch.float64) == "lanes"
    assert choose_engine("lanes", [2, 8, 3], cpu, 1) == "lanes"
    with pytest.raises(ValueError, match="the lanes engine runs on the CPU, not 'meta'"):
        choose_engine("lanes", [2, 8, 3], torch.device("meta"))


def test_lanes_chunks_hold_whole_groups():
    budget = 20 * member_bytes([2, 16, 3], 60, 6, torch.float32, "lanes")[0]  # 20 members' worth
    assert chunk_sizes([2, 16, 3], 60, 6, 100, torch.device("cpu"), torch.float32, budget, "lanes")[0] == 16
    assert chunk_sizes([2, 16, 3], 60, 6, 100, torch.device("cpu"), torch.float64, budget, "lanes")[0] == 8
    assert chunk_sizes([2, 16, 3], 60, 6, 10, torch.device("cpu"), torch.float32, budget, "lanes")[0] == 10
    tiny = member_bytes([2, 16, 3], 60, 6, torch.float32, "lanes")[0]
    assert chunk_sizes([2, 16, 3], 60, 6, 100, torch.device("cpu"), torch.float32, tiny, "lanes")[0] == 16
    members = Members.table(seed=np.arange(40), lr=0.1, momentum=0.9)
    whole = train_population(DATA, [2, 16, 3], members, epochs=2, batch_size=6, dtype=torch.float64,
                             engine="lanes")
    chunked = train_population(DATA, [2, 16, 3], members, epochs=2, batch_size=6, dtype=torch.float64,
                               engine="lanes", memory_budget=budget)
    np.testing.assert_array_equal(whole.metrics["loss"], chunked.metrics["loss"])  # lanes never mix


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_and_its_gradient_are_torchs_at_the_edges_in_every_cpu_kernel(dtype):
    """ReLU is 0 below zero and keeps NaN (so a diverging member still shows NaN) but sends −inf to 0, and its
    gradient is 0 wherever the unit is not positive, even a NaN or infinite one: torch.relu and its autograd,
    in the one-member kernels (one hidden layer and any depth) and in the lanes kernel's products."""
    from inertia.population import deep_kernels, kernels

    x = np.array([-np.inf, -1e30, -1.0, -0.0, 0.0, 1e-30, 1.0, np.inf, np.nan], dtype)
    ours = [x.copy() for _ in range(2)]
    kernels._activate(ours[0], ACTIVATION_CODES["relu"])
    deep_kernels._activate_rows(ours[1].reshape(1, -1), 1, len(x), ACTIVATION_CODES["relu"])
    L = 64 // np.dtype(dtype).itemsize
    lanes_x = aligned(np.repeat(x, L))  # (samples, 1, L): one value per sample in every lane
    out = aligned(np.zeros(len(x) * L, dtype))
    lp.product(lanes_x, 0, L, L, aligned(np.ones(L, dtype)), 0, L, L, out, 0, L, L, len(x), 1, 1, out, lp.NONE,
               lp.RELU, out, 0)
    ours += [out.reshape(len(x), L)[:, lane] for lane in (0, L - 1)]
    relu = torch.relu(torch.from_numpy(x)).numpy()
    for got in ours:
        np.testing.assert_array_equal(got, relu)
    finite = x[~np.isnan(x)]  # the unit's input; its value relu(finite) decides the gradient
    torch_x = torch.from_numpy(finite.copy()).requires_grad_()
    incoming = np.array([np.nan, np.inf, -np.inf, 2.0, np.nan, 3.0, np.nan, np.inf], dtype)
    torch.relu(torch_x).backward(torch.from_numpy(incoming))
    values = torch.relu(torch.from_numpy(finite)).numpy()
    grads = [incoming.copy(), np.empty_like(incoming)]
    kernels._activation_grad(grads[0], values, ACTIVATION_CODES["relu"])
    deep_kernels._carry_back(incoming.reshape(1, -1), 0, grads[1].reshape(1, -1), 0, values.reshape(1, -1),
                             len(incoming), ACTIVATION_CODES["relu"])
    through = aligned(np.zeros(len(finite) * L, dtype))
    lp.product(aligned(np.repeat(incoming, L)), 0, L, L, aligned(np.ones(L, dtype)), 0, L, L, through, 0, L, L,
               len(finite), 1, 1, through, lp.NONE, lp.THROUGH + ACTIVATION_CODES["relu"],
               aligned(np.repeat(values, L)), 0)
    grads += [through.reshape(len(finite), L)[:, lane] for lane in (0, L - 1)]
    for got in grads:
        np.testing.assert_array_equal(got, torch_x.grad.numpy())


def test_claims_hand_out_every_item_exactly_once_across_threads():
    """The lanes kernel's threads take groups from one counter (inertia.population.claims): under a parallel
    loop on every thread, each of many items is claimed exactly once."""
    from numba import prange

    from inertia.population.claims import claim

    @njit(parallel=True)
    def work(items, threads):
        counter, seen = np.zeros(1, dtype=np.int64), np.zeros(items, dtype=np.int64)
        for _ in prange(threads):
            while True:
                item = claim(counter)
                if item >= items:
                    break
                seen[item] += 1
        return seen

    assert (work(200_000, max(2, numba.get_num_threads())) == 1).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("classes", [1, 3, 10, 300])
def test_the_softmax_loss_and_deltas_equal_a_direct_computation(dtype, classes):
    """A block's summed cross-entropy per lane (logarithms taken of products of the samples' sums), its
    correct predictions, and its deltas, against log-sum-exp in float64: with 300 classes and logits close
    together a product of a whole block's sums would overflow float32, which the runs of samples per logarithm
    avoid."""
    rng = np.random.default_rng(classes)
    L, rows = 64 // np.dtype(dtype).itemsize, lane_kernels.ROWS
    m = rows - 3
    spread = np.where(np.arange(L) < L // 2, 30.0, 0.01)  # logits far apart, or close: sums near `classes`
    z = rng.standard_normal((classes, rows, L)) * spread  # (class, sample, lane)
    y = rng.integers(0, classes, size=rows)
    labels = aligned(np.repeat(y, L).astype(dtype))
    scratch = [aligned(np.zeros(rows * L, dtype)) for _ in range(3)]
    top = z[:, :m].max(axis=0)
    log_sum = top + np.log(np.exp(z[:, :m] - top).sum(axis=0))
    nll = log_sum - z[y[:m], np.arange(m)]  # (sample, lane)
    for scale in (0.0, 0.25):
        logits = aligned(z.astype(dtype).reshape(classes, rows * L))
        loss, hits = np.zeros(L), np.zeros(L, dtype=np.int64)
        lane_kernels._score(logits, m, labels, *scratch, loss, hits, dtype(scale))
        tolerance = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(loss, nll.sum(axis=0), rtol=tolerance)
        if scale == 0:
            np.testing.assert_array_equal(hits, (z[:, :m].argmax(axis=0) == y[:m, None]).sum(axis=0))
        else:
            probabilities = np.exp(z[:, :m] - log_sum)
            probabilities[y[:m], np.arange(m)] -= 1
            got = logits.reshape(classes, rows, L)[:, :m]
            np.testing.assert_allclose(got, probabilities * scale, rtol=tolerance, atol=tolerance * scale)
