"""Products of blocks of vectors of members (:mod:`inertia.population.lanes`), the arithmetic of the lanes
kernel (:mod:`inertia.population.lane_kernels`): ``C[a, b] = bias + Σ_k A[a, k]·B[k, b]`` where each element is a
vector with one lane per member, for a layer's forward pass, its weight gradients and the gradient carried back
to its input, each a case of one function (:func:`product`) with strides.

A run of more than :data:`SHORT` terms goes in tiles of 4 × 3 results whose 12 running sums the compiler keeps
in registers, every operand loaded once per tile row or column (the FMA units, not the loads, set the pace);
a shorter one (a layer with 2 inputs, the gradient carried back from 3 classes) one result at a time, in the
order of memory. What a result goes through before it is stored (an activation, or the gradient through one)
is a mode (:func:`finish`), so that an activation's pass over memory is saved.
"""

from __future__ import annotations

from numba import njit

from inertia.population.kernels import FAST
from inertia.population.lanes import fma, load, splat, store, where_greater, where_positive, width
from inertia.population.layout import ACTIVATION_CODES

# What a product does to each result before storing it (:func:`finish`): nothing, the activation (ReLU and
# leaky ReLU; tanh and sigmoid need exp and run as a pass of their own), or the gradient through the activation
# whose outputs ``M`` holds, at the same offsets as the result.
PLAIN, RELU, LEAKY, THROUGH = 0, 1, 2, 10  # THROUGH + activation code: the gradient through that activation
A_RELU, A_TANH, A_SIGMOID, A_LEAKY = (ACTIVATION_CODES[name] for name in ("relu", "tanh", "sigmoid", "leaky_relu"))


@njit(cache=True, inline="always")
def forward_mode(act):
    """The product's mode that applies activation ``act`` (:data:`RELU` or :data:`LEAKY`), else :data:`PLAIN`."""
    return RELU if act == A_RELU else LEAKY if act == A_LEAKY else PLAIN


@njit(cache=True, fastmath=FAST, inline="always")
def finish(v, mode, M, at):
    if mode == PLAIN:
        return v
    zero = splat(v, 0)
    if mode == RELU:
        return where_greater(zero, v, zero, v)
    if mode == LEAKY:  # the larger of v and 0.01·v: v where v > 0 (and ±0, NaN), else 0.01·v
        q = splat(v, 0.01) * v
        return where_greater(q, v, q, v)
    a = load(M, at)
    if mode == THROUGH + A_RELU:
        return where_positive(a, v, zero)
    if mode == THROUGH + A_TANH:
        return v * (splat(v, 1) - a * a)
    if mode == THROUGH + A_SIGMOID:
        return v * a * (splat(v, 1) - a)
    if mode == THROUGH + A_LEAKY:
        return where_positive(a, v, splat(v, 0.01) * v)
    return v  # identity


@njit(cache=True, inline="always")
def _store_row(C, at, stride, left, v0, v1, v2):
    store(C, at, v0)
    if left > 1:
        store(C, at + stride, v1)
    if left > 2:
        store(C, at + 2 * stride, v2)


@njit(cache=True, fastmath=FAST)
def _finish_block(C, at, c_sa, c_sb, rows, columns, mode, M, shift):
    """:func:`finish` on a block of results stored at ``at`` (rows × columns)."""
    for r in range(rows):
        for q in range(columns):
            here = at + r * c_sa + q * c_sb
            store(C, here, finish(load(C, here), mode, M, here + shift))


@njit(cache=True, fastmath=FAST)
def _tiles(A, a0, a_sa, a_sk, B, b0, b_sk, b_sb, C, c0, c_sa, c_sb, na, nb, nk, bias, bias_at, b_bias,
           mode, M, shift):
    """:func:`product` in tiles of 4 (along a) × 3 (along b); ``bias_at + a·b_bias`` for a's bias when the
    bias runs along a instead (``b_bias`` 0 when it runs along b)."""
    L = width(C)
    zero = splat(C, 0)
    along_a = b_bias != 0
    for a in range(0, na, 4):
        pa0, pa1 = a0 + a * a_sa, a0 + min(a + 1, na - 1) * a_sa
        pa2, pa3 = a0 + min(a + 2, na - 1) * a_sa, a0 + min(a + 3, na - 1) * a_sa
        for b in range(0, nb, 3):
            b1, b2 = min(b + 1, nb - 1), min(b + 2, nb - 1)
            pb0, pb1, pb2 = b0 + b * b_sb, b0 + b1 * b_sb, b0 + b2 * b_sb
            if bias_at == ADD:
                ca0, ca1 = c0 + a * c_sa, c0 + min(a + 1, na - 1) * c_sa
                ca2, ca3 = c0 + min(a + 2, na - 1) * c_sa, c0 + min(a + 3, na - 1) * c_sa
                cb0, cb1, cb2 = b * c_sb, b1 * c_sb, b2 * c_sb
                c00, c01, c02 = load(C, ca0 + cb0), load(C, ca0 + cb1), load(C, ca0 + cb2)
                c10, c11, c12 = load(C, ca1 + cb0), load(C, ca1 + cb1), load(C, ca1 + cb2)
                c20, c21, c22 = load(C, ca2 + cb0), load(C, ca2 + cb1), load(C, ca2 + cb2)
                c30, c31, c32 = load(C, ca3 + cb0), load(C, ca3 + cb1), load(C, ca3 + cb2)
            elif bias_at < 0:
                c00 = c01 = c02 = c10 = c11 = c12 = c20 = c21 = c22 = c30 = c31 = c32 = zero
            elif along_a:
                c00 = c01 = c02 = load(bias, bias_at + a * b_bias)
                c10 = c11 = c12 = load(bias, bias_at + min(a + 1, na - 1) * b_bias)
                c20 = c21 = c22 = load(bias, bias_at + min(a + 2, na - 1) * b_bias)
                c30 = c31 = c32 = load(bias, bias_at + min(a + 3, na - 1) * b_bias)
            else:
                c00, c01, c02 = load(bias, bias_at + b * L), load(bias, bias_at + b1 * L), load(bias, bias_at + b2 * L)
                c10, c11, c12 = c00, c01, c02
                c20, c21, c22 = c00, c01, c02
                c30, c31, c32 = c00, c01, c02
            for k in range(nk):
                x0, x1 = load(A, pa0 + k * a_sk), load(A, pa1 + k * a_sk)
                x2, x3 = load(A, pa2 + k * a_sk), load(A, pa3 + k * a_sk)
                w0, w1, w2 = load(B, pb0 + k * b_sk), load(B, pb1 + k * b_sk), load(B, pb2 + k * b_sk)
                c00, c01, c02 = fma(x0, w0, c00), fma(x0, w1, c01), fma(x0, w2, c02)
                c10, c11, c12 = fma(x1, w0, c10), fma(x1, w1, c11), fma(x1, w2, c12)
                c20, c21, c22 = fma(x2, w0, c20), fma(x2, w1, c21), fma(x2, w2, c22)
                c30, c31, c32 = fma(x3, w0, c30), fma(x3, w1, c31), fma(x3, w2, c32)
            at, left = c0 + a * c_sa + b * c_sb, nb - b
            _store_row(C, at, c_sb, left, c00, c01, c02)
            if a + 1 < na:
                _store_row(C, at + c_sa, c_sb, left, c10, c11, c12)
            if a + 2 < na:
                _store_row(C, at + 2 * c_sa, c_sb, left, c20, c21, c22)
            if a + 3 < na:
                _store_row(C, at + 3 * c_sa, c_sb, left, c30, c31, c32)
            if mode != PLAIN:
                _finish_block(C, at, c_sa, c_sb, min(4, na - a), min(3, nb - b), mode, M, shift)


NONE, ADD = -1, -2  # a product's bias_at for no bias and for adding to the result's own values

SHORT = 3  # sums at most this long run one result at a time: a tile's bookkeeping would cost more than its sums


@njit(cache=True, fastmath=FAST, inline="always")
def _short_row(x0, x1, x2, B, b0, b_sk, b_sb, C, at, c_sb, nb, nk, bias, bias_at, b_bias, row_bias, mode, M,
               shift):
    L = width(C)
    for b in range(nb):
        pb, here = b0 + b * b_sb, at + b * c_sb
        if bias_at == ADD:
            start = load(C, here)
        elif bias_at >= 0 and b_bias == 0:
            start = load(bias, bias_at + b * L)
        else:
            start = row_bias
        v = fma(x0, load(B, pb), start)
        if nk > 1:
            v = fma(x1, load(B, pb + b_sk), v)
        if nk > 2:
            v = fma(x2, load(B, pb + 2 * b_sk), v)
        store(C, here, finish(v, mode, M, here + shift))


@njit(cache=True, fastmath=FAST)
def _short(A, a0, a_sa, a_sk, B, b0, b_sk, b_sb, C, c0, c_sa, c_sb, na, nb, nk, bias, bias_at, b_bias, mode, M,
           shift):
    """:func:`product` of ``nk`` ≤ :data:`SHORT` terms, one result at a time along b (the caller lays the
    smaller stride of C along b, so that results are written in order), a row of A held in registers; the
    bias along a (``bias_at + a·b_bias``) when ``b_bias`` is not 0. The common modes get a loop of their own."""
    zero = splat(C, 0)
    for a in range(na):
        pa = a0 + a * a_sa
        x0, x1, x2 = load(A, pa), load(A, pa + min(1, nk - 1) * a_sk), load(A, pa + min(2, nk - 1) * a_sk)
        row_bias = load(bias, bias_at + a * b_bias) if bias_at >= 0 and b_bias != 0 else zero
        at = c0 + a * c_sa
        if mode == PLAIN:
            _short_row(x0, x1, x2, B, b0, b_sk, b_sb, C, at, c_sb, nb, nk, bias, bias_at, b_bias, row_bias, PLAIN,
                       M, shift)
        elif mode == RELU:
            _short_row(x0, x1, x2, B, b0, b_sk, b_sb, C, at, c_sb, nb, nk, bias, bias_at, b_bias, row_bias, RELU,
                       M, shift)
        elif mode == THROUGH + A_RELU:
            _short_row(x0, x1, x2, B, b0, b_sk, b_sb, C, at, c_sb, nb, nk, bias, bias_at, b_bias, row_bias,
                       THROUGH + A_RELU, M, shift)
        else:
            _short_row(x0, x1, x2, B, b0, b_sk, b_sb, C, at, c_sb, nb, nk, bias, bias_at, b_bias, row_bias, mode,
                       M, shift)


@njit(cache=True, fastmath=FAST)
def product(A, a0, a_sa, a_sk, B, b0, b_sk, b_sb, C, c0, c_sa, c_sb, na, nb, nk, bias, bias_at, mode, M,
             shift):
    """``C[a, b] = bias[b] + Σ_k A[a, k]·B[k, b]`` for a < na, b < nb, in vectors: element offsets ``a0 + a·a_sa
    + k·a_sk`` and so on (strides in elements, multiples of the lane count); the bias is the vector at
    ``bias_at + b·L``, or zero when ``bias_at`` is :data:`NONE`, or C itself (``C[a, b] +=``) when it is
    :data:`ADD`; each result goes through :func:`finish` (``M``
    read at its offset + ``shift``). Tiles of 4 × 3 hold their sums in registers, laid along whichever side
    wastes fewer lanes: at the edges a tile repeats its last row or column, computed and not stored."""
    if nk <= SHORT and c_sb <= c_sa:
        _short(A, a0, a_sa, a_sk, B, b0, b_sk, b_sb, C, c0, c_sa, c_sb, na, nb, nk, bias, bias_at, 0, mode, M, shift)
    elif nk <= SHORT:
        _short(B, b0, b_sb, b_sk, A, a0, a_sk, a_sa, C, c0, c_sb, c_sa, nb, na, nk, bias, bias_at, width(C), mode, M,
               shift)
    elif -(-na // 4) * -(-nb // 3) <= -(-nb // 4) * -(-na // 3):
        _tiles(A, a0, a_sa, a_sk, B, b0, b_sk, b_sb, C, c0, c_sa, c_sb, na, nb, nk, bias, bias_at, 0, mode, M,
               shift)
    else:  # the transpose: C^T[b, a] = Σ_k B^T[b, k]·A^T[k, a]
        _tiles(B, b0, b_sb, b_sk, A, a0, a_sk, a_sa, C, c0, c_sb, c_sa, nb, na, nk, bias, bias_at, width(C), mode,
               M, shift)


@njit(cache=True, fastmath=FAST)
def column_sums(A, a0, a_sa, a_sk, na, nk, C, c0):
    """``C[a] += Σ_k A[a, k]`` in vectors (the bias gradients: a delta summed over a block of samples)."""
    L = width(C)
    for a in range(na):
        total = load(C, c0 + a * L)
        for k in range(nk):
            total = total + load(A, a0 + a * a_sa + k * a_sk)
        store(C, c0 + a * L, total)
