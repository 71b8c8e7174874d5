"""One hidden layer between few inputs and few classes (the lab's ``[2, 50, 3]``), forward and backward in one
pass over the hidden units, for the lanes kernel (:mod:`inertia.population.lane_kernels`).

Laid out layer by layer (:mod:`inertia.population.lane_products`), such a network spends its time moving
activations, not multiplying: a hidden unit's value is 2 multiply-adds from 2 inputs, yet it is stored, read back by
the output layer, read again for the weight gradients and for its own gradient, which is stored and read once more —
a block's activations (32 samples × 50 units × 64 bytes) live in L2, not L1. Here four samples go through together,
every value of theirs in registers: for each hidden unit its pre-activation is formed from the inputs and its logits
follow at once (forward), or every gradient of that unit (backward), and only the weights and their gradients (a few
KiB, in L1) are loaded and stored. No hidden value is stored at all: the backward pass forms each one again from the
inputs, a multiply-add per input and the activation. Storing them in the forward pass and loading them back cost
more, measured on the lab's network (an epoch of a group of 16 on one core): the stores, to a buffer larger than L1,
took a third of the forward pass (164 µs against 107), more than twice what forming the values again adds to the
backward pass (158 µs against 182). ReLU is one vector operation, a maximum
(:func:`~inertia.population.lane_products.finish`), where a compare, a product and a masked move took three: a
quarter of the forward pass's operations.

Each sum is formed in the order the layer-by-layer products form it (biases first, inputs, hidden units and
samples in increasing order), so the results are those of the layer-by-layer path bit for bit; a test holds
them to it. What comes here: exactly one hidden layer, at most :data:`FEW` inputs and :data:`FEW` classes,
ReLU or leaky ReLU (:func:`fusable`); anything else takes the layer-by-layer path.
"""

from __future__ import annotations

from numba import njit

from inertia.population.kernels import FAST
from inertia.population.lane_products import A_LEAKY, A_RELU, LEAKY, RELU, column_sums, finish
from inertia.population.lanes import fma, load, splat, store, where_positive, width

FEW = 3  # the most inputs and classes a fused network has (registers: 4 samples × (inputs + classes) vectors)

N_IN, N_OUT, W_AT, B_AT, S_IN, S_OUT = range(6)  # the columns of lane_kernels.shape_table


@njit(cache=True)
def fusable(shape, act):
    """Whether the network of ``shape`` (:func:`~inertia.population.lane_kernels.shape_table`) with activation
    code ``act`` goes through this module."""
    return (shape.shape[0] == 2 and shape[0, N_IN] <= FEW and shape[1, N_OUT] <= FEW
            and act in (A_RELU, A_LEAKY))


@njit(cache=True, inline="always")
def _slope(flat, act):
    return splat(flat, 0.01 if act == A_LEAKY else 0.0)


@njit(cache=True, inline="always")
def _lab(shape):
    """Whether the network of ``shape`` has the lab's 2 inputs and 3 classes."""
    return shape[0, N_IN] == 2 and shape[1, N_OUT] == 3


@njit(cache=True, fastmath=FAST, inline="always")
def _pre(x0, x1, x2, u0, u1, u2, bias, D):
    """A pre-activation from ``D`` inputs, summed as the layer-by-layer product sums it."""
    p = fma(x0, u0, bias)
    if D > 1:
        p = fma(x1, u1, p)
    if D > 2:
        p = fma(x2, u2, p)
    return p


@njit(cache=True, fastmath=FAST, inline="always")
def _row(A, at, L, row, rows, columns, zero):
    """The first 3 vectors of row ``row`` of ``A`` (rows × columns vectors from ``at``), zero past ``rows`` or
    ``columns``."""
    here = at + row * columns * L
    live = row < rows
    x0 = load(A, here) if live else zero
    x1 = load(A, here + L) if live and columns > 1 else zero
    x2 = load(A, here + 2 * L) if live and columns > 2 else zero
    return x0, x1, x2


@njit(cache=True, fastmath=FAST, inline="always")
def _column(A, at, L, stride, row, rows, columns, zero):
    """Vectors ``at + row·L + c·stride`` for c < 3, zero past ``rows`` or ``columns`` (a sample's logits)."""
    here = at + row * L
    live = row < rows
    x0 = load(A, here) if live else zero
    x1 = load(A, here + stride) if live and columns > 1 else zero
    x2 = load(A, here + 2 * stride) if live and columns > 2 else zero
    return x0, x1, x2


@njit(cache=True, fastmath=FAST, inline="always")
def _put(A, at, stride, row, rows, columns, x0, x1, x2):
    """The inverse of :func:`_column`: stores up to 3 vectors of a live row."""
    if row < rows:
        store(A, at, x0)
        if columns > 1:
            store(A, at + stride, x1)
        if columns > 2:
            store(A, at + 2 * stride, x2)


@njit(cache=True, fastmath=FAST, inline="always")
def _strides(shape, layer, L):
    """Layer ``layer``'s weight, input stride, output stride and bias, in elements of a lane-interleaved
    vector."""
    s = shape[layer]
    return s[W_AT] * L, s[S_IN] * L, s[S_OUT] * L, s[B_AT] * L


@njit(cache=True, inline="always")
def _widths(shape, D, C, exact):
    """The network's inputs, classes and hidden units: with ``exact`` (a constant) ``D`` and ``C`` themselves,
    which the compiler then knows."""
    if exact:
        return D, C, shape[0, N_OUT]
    return shape[0, N_IN], shape[1, N_OUT], shape[0, N_OUT]


@njit(cache=True, fastmath=FAST, inline="always")
def _unit_in(flat, j, w1, i1, o1, b1, d, zero):
    """Hidden unit ``j``'s weights from up to 3 inputs (zero past the network's ``d``: they meet zero inputs,
    and an infinite weight times zero would be NaN) and its bias."""
    wa = w1 + j * o1
    u1 = load(flat, wa + i1) if d > 1 else zero
    u2 = load(flat, wa + 2 * i1) if d > 2 else zero
    return load(flat, wa), u1, u2, load(flat, b1 + j * width(flat))


@njit(cache=True, fastmath=FAST, inline="always")
def _unit_out(flat, j, w2, i2, o2, classes, zero):
    """Hidden unit ``j``'s weights to up to 3 classes (zero past the network's ``classes``, as for
    :func:`_unit_in`)."""
    wb = w2 + j * i2
    v1 = load(flat, wb + o2) if classes > 1 else zero
    v2 = load(flat, wb + 2 * o2) if classes > 2 else zero
    return load(flat, wb), v1, v2


@njit(cache=True, fastmath=FAST, inline="always")
def _forward(shape, flat, inputs, logits, m, D, C, exact, relu):
    """Logits of the block's first ``m`` samples; ``D`` and ``C`` are constants, the most inputs and classes
    this copy handles (inputs past the network's own are zero, logits past its classes are not stored), with
    ``exact`` exactly the network's (the loops then test no width), and ``relu`` whether the activation is
    ReLU (else leaky ReLU; :func:`~inertia.population.lane_products.finish` either way)."""
    L = width(flat)
    zero = splat(flat, 0)
    d, classes, H = _widths(shape, D, C, exact)
    w1, i1, o1, b1 = _strides(shape, 0, L)
    w2, i2, o2, b2 = _strides(shape, 1, L)
    out = logits.reshape(-1)
    stride = logits.shape[1]
    for s in range(0, m, 4):
        x00, x01, x02 = _row(inputs, 0, L, s, m, d, zero)
        x10, x11, x12 = _row(inputs, 0, L, s + 1, m, d, zero)
        x20, x21, x22 = _row(inputs, 0, L, s + 2, m, d, zero)
        x30, x31, x32 = _row(inputs, 0, L, s + 3, m, d, zero)
        c0, c1, c2 = _column(flat, b2, L, L, 0, 1, classes, zero)
        z00, z01, z02, z10, z11, z12 = c0, c1, c2, c0, c1, c2
        z20, z21, z22, z30, z31, z32 = c0, c1, c2, c0, c1, c2
        for j in range(H):
            u0, u1, u2, bias = _unit_in(flat, j, w1, i1, o1, b1, d, zero)
            v0, v1, v2 = _unit_out(flat, j, w2, i2, o2, classes, zero)
            p0 = _pre(x00, x01, x02, u0, u1, u2, bias, D)
            p1 = _pre(x10, x11, x12, u0, u1, u2, bias, D)
            p2 = _pre(x20, x21, x22, u0, u1, u2, bias, D)
            p3 = _pre(x30, x31, x32, u0, u1, u2, bias, D)
            mode = RELU if relu else LEAKY
            h0, h1 = finish(p0, mode, flat, 0), finish(p1, mode, flat, 0)
            h2, h3 = finish(p2, mode, flat, 0), finish(p3, mode, flat, 0)
            z00, z10, z20, z30 = fma(h0, v0, z00), fma(h1, v0, z10), fma(h2, v0, z20), fma(h3, v0, z30)
            if C > 1:
                z01, z11, z21, z31 = fma(h0, v1, z01), fma(h1, v1, z11), fma(h2, v1, z21), fma(h3, v1, z31)
            if C > 2:
                z02, z12, z22, z32 = fma(h0, v2, z02), fma(h1, v2, z12), fma(h2, v2, z22), fma(h3, v2, z32)
        _put(out, s * L, stride, s, m, classes, z00, z01, z02)
        _put(out, (s + 1) * L, stride, s + 1, m, classes, z10, z11, z12)
        _put(out, (s + 2) * L, stride, s + 2, m, classes, z20, z21, z22)
        _put(out, (s + 3) * L, stride, s + 3, m, classes, z30, z31, z32)


@njit(cache=True, fastmath=FAST, inline="always")
def _add(grads, at, stride, count, fresh, h0, h1, h2, h3, e00, e01, e02, e10, e11, e12, e20, e21, e22, e30, e31,
         e32):
    """``grads[at + c·stride] += Σ_k h_k·e_kc`` for c < count (≤ 3), samples in order; with ``fresh`` added to
    zero rather than to what ``grads`` holds."""
    zero = splat(grads, 0)
    g = fma(h3, e30, fma(h2, e20, fma(h1, e10, fma(h0, e00, zero if fresh else load(grads, at)))))
    store(grads, at, g)
    if count > 1:
        g = fma(h3, e31, fma(h2, e21, fma(h1, e11, fma(h0, e01, zero if fresh else load(grads, at + stride)))))
        store(grads, at + stride, g)
    if count > 2:
        g = fma(h3, e32, fma(h2, e22, fma(h1, e12, fma(h0, e02, zero if fresh else load(grads, at + 2 * stride)))))
        store(grads, at + 2 * stride, g)


@njit(cache=True, fastmath=FAST, inline="always")
def _carried(e0, e1, e2, v0, v1, v2, h, slope, zero, C, relu):
    """The gradient carried to a hidden unit from up to ``C`` classes, through its activation (``h``, the unit's
    value, is positive exactly where its pre-activation is, NaN included, for ReLU and leaky ReLU alike):
    zero where it is not, with ``relu`` (a constant)."""
    g = fma(e0, v0, zero)
    if C > 1:
        g = fma(e1, v1, g)
    if C > 2:
        g = fma(e2, v2, g)
    return where_positive(h, g, zero if relu else slope * g)


@njit(cache=True, fastmath=FAST, inline="always")
def _backward(shape, flat, grads, inputs, logits, m, fresh, slope, D, C, exact, relu):
    """Gradients added into ``grads`` (with ``fresh``, a minibatch's first block, written over whatever it
    holds, as if added to zeros: no zeroing pass) from the deltas (probabilities − one-hot, over the minibatch)
    in ``logits``, each hidden value formed again as :func:`_forward` forms it. A sample past ``m`` (the last
    group of 4 may have some) has zero inputs and deltas but gets a hidden value of zero too: from zero inputs
    it would be the activated bias, and an infinite one times a zero delta is NaN."""
    L = width(flat)
    zero = splat(flat, 0)
    d, classes, H = _widths(shape, D, C, exact)
    w1, i1, o1, b1 = _strides(shape, 0, L)
    w2, i2, o2, b2 = _strides(shape, 1, L)
    out = logits.reshape(-1)
    stride = logits.shape[1]
    if fresh:
        for c in range(classes):
            store(grads, b2 + c * L, zero)
    column_sums(out, 0, stride, L, classes, m, grads, b2)
    for s in range(0, m, 4):
        first = fresh and s == 0
        x00, x01, x02 = _row(inputs, 0, L, s, m, d, zero)
        x10, x11, x12 = _row(inputs, 0, L, s + 1, m, d, zero)
        x20, x21, x22 = _row(inputs, 0, L, s + 2, m, d, zero)
        x30, x31, x32 = _row(inputs, 0, L, s + 3, m, d, zero)
        e00, e01, e02 = _column(out, 0, L, stride, s, m, classes, zero)
        e10, e11, e12 = _column(out, 0, L, stride, s + 1, m, classes, zero)
        e20, e21, e22 = _column(out, 0, L, stride, s + 2, m, classes, zero)
        e30, e31, e32 = _column(out, 0, L, stride, s + 3, m, classes, zero)
        mode = RELU if relu else LEAKY
        for j in range(H):
            v0, v1, v2 = _unit_out(flat, j, w2, i2, o2, classes, zero)
            u0, u1, u2, bias = _unit_in(flat, j, w1, i1, o1, b1, d, zero)
            h0 = finish(_pre(x00, x01, x02, u0, u1, u2, bias, D), mode, flat, 0)
            h1 = finish(_pre(x10, x11, x12, u0, u1, u2, bias, D), mode, flat, 0) if s + 1 < m else zero
            h2 = finish(_pre(x20, x21, x22, u0, u1, u2, bias, D), mode, flat, 0) if s + 2 < m else zero
            h3 = finish(_pre(x30, x31, x32, u0, u1, u2, bias, D), mode, flat, 0) if s + 3 < m else zero
            # the weights into the classes: dW2[j, c] += Σ_k h_k·e_kc
            _add(grads, w2 + j * i2, o2, classes, first, h0, h1, h2, h3, e00, e01, e02, e10, e11, e12, e20, e21, e22,
                 e30, e31, e32)
            g0 = _carried(e00, e01, e02, v0, v1, v2, h0, slope, zero, C, relu)
            g1 = _carried(e10, e11, e12, v0, v1, v2, h1, slope, zero, C, relu)
            g2 = _carried(e20, e21, e22, v0, v1, v2, h2, slope, zero, C, relu)
            g3 = _carried(e30, e31, e32, v0, v1, v2, h3, slope, zero, C, relu)
            # the weights from the inputs: dW1[i, j] += Σ_k x_ki·g_k, and the bias: db1[j] += Σ_k g_k
            _add(grads, w1 + j * o1, i1, d, first, g0, g1, g2, g3, x00, x01, x02, x10, x11, x12, x20, x21, x22,
                 x30, x31, x32)
            at = b1 + j * L
            store(grads, at, (zero if first else load(grads, at)) + g0 + g1 + g2 + g3)


@njit(cache=True, fastmath=FAST)
def forward(shape, flat, inputs, logits, m, act):
    """The logits of a block's first ``m`` samples (``inputs`` (samples, d, L), ``logits`` (classes,
    samples·L)) of a :func:`fusable` network."""
    if _lab(shape) and act == A_RELU:  # the lab's network, copies of its own
        _forward(shape, flat, inputs, logits, m, 2, 3, True, True)
    elif _lab(shape):
        _forward(shape, flat, inputs, logits, m, 2, 3, True, False)
    elif act == A_RELU:
        _forward(shape, flat, inputs, logits, m, FEW, FEW, False, True)
    else:
        _forward(shape, flat, inputs, logits, m, FEW, FEW, False, False)


@njit(cache=True, fastmath=FAST)
def backward(shape, flat, grads, inputs, logits, m, act, fresh):
    """The gradients of a block's first ``m`` samples added into ``grads`` (written over it when ``fresh``, a
    minibatch's first block), from their deltas in ``logits``."""
    slope = _slope(flat, act)
    if _lab(shape) and act == A_RELU:
        _backward(shape, flat, grads, inputs, logits, m, fresh, slope, 2, 3, True, True)
    elif _lab(shape):
        _backward(shape, flat, grads, inputs, logits, m, fresh, slope, 2, 3, True, False)
    elif act == A_RELU:
        _backward(shape, flat, grads, inputs, logits, m, fresh, slope, FEW, FEW, False, True)
    else:
        _backward(shape, flat, grads, inputs, logits, m, fresh, slope, FEW, FEW, False, False)
