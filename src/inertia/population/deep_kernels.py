"""A compiled CPU kernel for population training of MLPs of any depth (the one-hidden-layer case has its own,
:mod:`inertia.population.kernels`, tuned for the lab's small ``[d, h, c]``).

It computes what :mod:`inertia.population.kernels` computes, with the same data orders, the same generic update
(:func:`inertia.population.kernels.apply_update`, coefficients from the members' rule) and the same activations, one
member per core at a time through a whole epoch. A minibatch is trained layer by layer: forward one sample at a
time, backward two at a time (each weight row read once for both); the full-data evaluation runs a block of
samples at a time with every loop over samples. Tested against :func:`inertia.train.fit` like every engine.
"""

from __future__ import annotations

import itertools

import numpy as np
from numba import njit, prange

from inertia.population import vecmath
from inertia.population.kernels import (
    BLOCK,
    FAST,
    LANE,
    SIGMOID,
    _copy,
    _softmax_nll,
    apply_update,
    member_order,
    score_block,
)
from inertia.population.layout import forms

# A network's shape as the kernel reads it: one row per layer with these columns. ``ROWS`` says how a layer's
# weight is stored (inertia.population.layout.forms): as ``nn.Linear`` holds it, (out, in), or transposed,
# (in, out), so that the innermost loops run along the wider side. Inside the kernel a member's weights are
# one (layers, HEIGHT, WIDTH) array (biases (layers, WIDTH)), every layer's rows padded to the widest and
# every width other than the classes to a multiple of LANE: zeros, which stay zero (activations of the padding
# are zero too, kept so for sigmoid, whose value at zero is not). Indexing a 3-D array
# by layer and row costs nothing, where slicing a flat vector at run time would cost a call per slice.
N_IN, N_OUT, P_IN, P_OUT, ROWS, FLAT_WEIGHT, FLAT_BIAS = range(7)


def shape_table(layers) -> tuple[np.ndarray, tuple[int, int, int]]:
    """The shape table of ``layers`` and the shape (layers, height, width) of a member's padded weights
    inside the kernel. The flat layout it reads is :func:`inertia.population.layout.flat_weights`."""
    pad = [-(-w // LANE) * LANE for w in layers[:-1]] + [layers[-1]]
    table = np.zeros((len(layers) - 1, 7), dtype=np.int64)
    flat = height = width = 0
    for layer, ((n_in, n_out), rows) in enumerate(zip(itertools.pairwise(layers), forms(layers))):
        table[layer] = (n_in, n_out, pad[layer], pad[layer + 1], rows, flat, flat + n_in * n_out)
        height = max(height, n_out if rows else n_in)
        width = max(width, pad[layer] if rows else pad[layer + 1], pad[layer + 1])
        flat += n_in * n_out + n_out
    return table, (len(layers) - 1, height, width)


@njit(cache=True)
def _pad(flat, shape, weights, biases):
    """A member's flat vector copied into its padded weights and biases."""
    weights[:] = 0
    biases[:] = 0
    for layer in range(shape.shape[0]):
        s = shape[layer]
        height, width = (s[N_OUT], s[N_IN]) if s[ROWS] else (s[N_IN], s[N_OUT])
        w = weights[layer]
        for r in range(height):
            _copy(w[r], 0, flat, s[FLAT_WEIGHT] + r * width, width)
        _copy(biases[layer], 0, flat, s[FLAT_BIAS], s[N_OUT])


@njit(cache=True)
def _unpad(weights, biases, shape, flat):
    """:func:`_pad` undone."""
    for layer in range(shape.shape[0]):
        s = shape[layer]
        height, width = (s[N_OUT], s[N_IN]) if s[ROWS] else (s[N_IN], s[N_OUT])
        w = weights[layer]
        for r in range(height):
            _copy(flat, s[FLAT_WEIGHT] + r * width, w[r], 0, width)
        _copy(flat, s[FLAT_BIAS], biases[layer], 0, s[N_OUT])


# The helpers below index 2-D arrays by (row, column) rather than taking a row as a 1-D view: every view
# numba makes is a reference count taken and released, two atomic operations, which in the per-sample loops
# would cost more than the arithmetic.


@njit(cache=True, fastmath=FAST, inline="always")
def _forward(w, b, s, a, z, i):
    """Pre-activations ``z[i]`` (p_out) of the layer of shape row ``s``, weight ``w`` and bias ``b``, for
    sample ``i``'s inputs ``a[i]`` (p_in)."""
    p_in, p_out = s[P_IN], s[P_OUT]
    if s[ROWS]:
        for j in range(s[N_OUT]):
            t = b[j]
            for k in range(p_in):
                t += w[j, k] * a[i, k]
            z[i, j] = t
    else:
        for j in range(p_out):
            z[i, j] = b[j]
        for k in range(s[N_IN]):
            ak = a[i, k]
            for j in range(p_out):
                z[i, j] += ak * w[k, j]


@njit(cache=True, fastmath=FAST, inline="always")
def _backward(w, g, gb, s, a, dz, i, v, weight, back, carry):
    """The gradients of samples ``i`` and ``v`` (at ``weight``: 0 when ``v`` stands in for a missing partner)
    for the layer of shape row ``s`` (weight ``w``): inputs ``a[i]``, ``a[v]`` (p_in) and gradients w.r.t. the
    pre-activations ``dz[i]``, ``dz[v]`` (p_out) accumulate into ``g`` and ``gb``; with ``carry``, the gradients
    w.r.t. the inputs go to ``back[0]`` and ``back[1]`` (p_in). Each weight row is read once for both."""
    p_in, p_out = s[P_IN], s[P_OUT]
    for j in range(p_out):
        gb[j] += dz[i, j] + weight * dz[v, j]
    if s[ROWS]:
        if carry:
            for k in range(p_in):
                back[0, k] = 0
                back[1, k] = 0
        for j in range(s[N_OUT]):
            dj, uj = dz[i, j], weight * dz[v, j]
            if carry:
                for k in range(p_in):
                    g[j, k] += dj * a[i, k] + uj * a[v, k]
                    back[0, k] += dj * w[j, k]
                    back[1, k] += uj * w[j, k]
            else:
                for k in range(p_in):
                    g[j, k] += dj * a[i, k] + uj * a[v, k]
    else:
        for k in range(s[N_IN]):
            ak, uk = a[i, k], weight * a[v, k]
            for j in range(p_out):
                g[k, j] += ak * dz[i, j] + uk * dz[v, j]
            if carry:
                ta, tu = w.dtype.type(0), w.dtype.type(0)
                for j in range(p_out):
                    ta += w[k, j] * dz[i, j]
                    tu += w[k, j] * dz[v, j]
                back[0, k], back[1, k] = ta, tu
            for k in range(s[N_IN], p_in):
                back[0, k] = 0
                back[1, k] = 0


@njit(cache=True, fastmath=FAST, inline="always")
def _activate_rows(z, m, n, kind):
    """Columns ``:n`` of rows ``:m`` of ``z`` activated in place (see :func:`inertia.population.kernels._activate`)."""
    zero, one, slope = z.dtype.type(0), z.dtype.type(1), z.dtype.type(0.01)
    for i in range(m):
        if kind == 0:
            for j in range(n):
                z[i, j] = zero if zero > z[i, j] else z[i, j]
        elif kind == 1:
            for j in range(n):
                z[i, j] = np.tanh(z[i, j])
        elif kind == 2:
            for j in range(n):
                z[i, j] = one / (one + vecmath.exp(-z[i, j]))
        elif kind == 3:
            for j in range(n):
                z[i, j] = z[i, j] if z[i, j] > zero else slope * z[i, j]


@njit(cache=True, fastmath=FAST, inline="always")
def _carry_back(back, r, d, i, a, n, kind):
    """``back[r, :n]`` (gradients w.r.t. sample ``i``'s activations ``a[i]``) through the activation, into
    ``d[i]`` (see :func:`_activation_grad`)."""
    zero, one, slope = a.dtype.type(0), a.dtype.type(1), a.dtype.type(0.01)
    if kind == 0:
        for k in range(n):
            d[i, k] = back[r, k] if a[i, k] > zero else zero
    elif kind == 1:
        for k in range(n):
            d[i, k] = back[r, k] * (one - a[i, k] * a[i, k])
    elif kind == 2:
        for k in range(n):
            d[i, k] = back[r, k] * a[i, k] * (one - a[i, k])
    elif kind == 3:
        for k in range(n):
            d[i, k] = back[r, k] if a[i, k] > zero else back[r, k] * slope
    else:
        for k in range(n):
            d[i, k] = back[r, k]


@njit(cache=True, fastmath=FAST)
def _evaluate(xt, y, weights, biases, shape, act, buffers, logits, top, total):
    """Full-data summed loss and number of correct predictions, a block of samples at a time, activations
    held unit by sample (``buffers``: (2, widest layer, BLOCK), in turn) so that every loop runs over samples.
    ``xt`` is the data transposed (d, n)."""
    d, n = xt.shape
    layers = shape.shape[0]
    loss, hits = 0.0, 0
    for lo in range(0, n, BLOCK):
        m = min(BLOCK, n - lo)
        src = buffers[0]
        for k in range(d):
            for t in range(m):
                src[k, t] = xt[k, lo + t]
        for layer in range(layers):
            s = shape[layer]
            w, b, rows = weights[layer], biases[layer], s[ROWS]
            src = buffers[layer % 2]
            out = logits if layer == layers - 1 else buffers[(layer + 1) % 2]
            for j in range(s[N_OUT]):
                bj = b[j]
                for t in range(m):
                    out[j, t] = bj
                for k in range(s[N_IN]):
                    wk = w[j, k] if rows else w[k, j]
                    for t in range(m):
                        out[j, t] += wk * src[k, t]
            if layer < layers - 1:
                _activate_rows(out, s[N_OUT], m, act)
        block_loss, block_hits = score_block(logits, m, y[lo : lo + m], top, total)
        loss += block_loss
        hits += block_hits
    return loss, hits


@njit(cache=True, parallel=True, fastmath=FAST)
def train_epoch(x, y, seeds, epoch, shuffle, batch, params, state, shape, padded, first_step, coefficients,
                steady, im, iv, ia, m_after, act, active, batch_mean, batch_last, full_loss, correct, initial_loss):
    """One epoch for every active member (spread over the cores), then its full-data loss and number of correct
    predictions.
    ``params`` is (members, size) and ``state`` (members, slots, size) in the flat layout of ``shape``, and
    ``padded`` the shape of a member's weights inside the kernel (:func:`shape_table`); ``x`` is the data with
    its columns padded to the first layer's padded width; ``coefficients``, ``steady`` and ``first_step`` are
    as :func:`inertia.population.kernels.train_epoch` takes them."""
    n = x.shape[0]
    layers, height, breadth = padded
    d, c = shape[0, N_IN], shape[layers - 1, N_OUT]
    widest = shape[0, P_IN]  # the widest padded layer, inputs included
    for layer in range(layers):
        widest = max(widest, shape[layer, P_OUT])
    xt = np.ascontiguousarray(x[:, :d].T)
    dtype = params.dtype.type
    width = max(batch, BLOCK)
    cut = layers * height * breadth  # the weights, then the biases, in one vector the update runs over
    size = cut + layers * breadth
    for p in prange(params.shape[0]):
        if not active[p]:
            continue
        order, labels = member_order(y, seeds[p], epoch, shuffle)
        slots = state.shape[1]
        vector = np.empty(size, dtype=params.dtype)
        moments = np.empty((slots, size), dtype=params.dtype)
        grads = np.empty(size, dtype=params.dtype)
        weights = vector[:cut].reshape((layers, height, breadth))
        biases = vector[cut:].reshape((layers, breadth))
        g_weights = grads[:cut].reshape((layers, height, breadth))
        g_biases = grads[cut:].reshape((layers, breadth))
        _pad(params[p], shape, weights, biases)
        for k in range(slots):
            _pad(state[p, k], shape, moments[k, :cut].reshape((layers, height, breadth)),
                 moments[k, cut:].reshape((layers, breadth)))
        # per sample, the activations of every layer (inputs first) and the gradients w.r.t. them
        acts = np.zeros((layers + 1, batch, widest), dtype=params.dtype)
        deltas = np.zeros((layers + 1, batch, widest), dtype=params.dtype)
        back = np.zeros((2, widest), dtype=params.dtype)
        logits = np.empty((c, width), dtype=params.dtype)  # classes × samples
        buffers = np.zeros((2, widest, BLOCK), dtype=params.dtype)
        top = np.empty(width, dtype=params.dtype)
        total = np.empty(width, dtype=params.dtype)
        if first_step:
            start, _ = _evaluate(xt, y, weights, biases, shape, act, buffers, logits, top, total)
            initial_loss[p] = start / n
        loss_sum, steps = 0.0, 0
        for lo in range(0, n, batch):
            m = min(batch, n - lo)
            inputs = acts[0]
            for i in range(m):
                r = order[lo + i]
                for k in range(d):
                    inputs[i, k] = x[r, k]
            for layer in range(layers):
                s = shape[layer]
                w, b, a_in, a_out = weights[layer], biases[layer], acts[layer], acts[layer + 1]
                for i in range(m):
                    _forward(w, b, s, a_in, a_out, i)
                if layer < layers - 1:
                    _activate_rows(a_out, m, s[N_OUT] if act == SIGMOID else s[P_OUT], act)
            out = acts[layers]
            for i in range(m):
                for k in range(c):
                    logits[k, i] = out[i, k]
            loss = _softmax_nll(logits, m, labels[lo : lo + m], top, total) / m
            # backward: probabilities − one-hot, averaged over the minibatch
            scale = dtype(1) / dtype(m)
            delta = deltas[layers]
            for i in range(m):
                logits[labels[lo + i], i] -= 1
                for k in range(c):
                    delta[i, k] = logits[k, i] * scale
            grads[:] = 0
            for layer in range(layers - 1, -1, -1):
                s = shape[layer]
                p_in = s[P_IN]
                w, g, gb = weights[layer], g_weights[layer], g_biases[layer]
                a_in, d_out, d_in = acts[layer], deltas[layer + 1], deltas[layer]
                carry = layer > 0
                for i in range(0, m, 2):  # an odd one out is paired with itself, at weight zero
                    paired = i + 1 < m
                    v = i + 1 if paired else i
                    _backward(w, g, gb, s, a_in, d_out, i, v, dtype(1) if paired else dtype(0), back, carry)
                    if carry:
                        _carry_back(back, 0, d_in, i, a_in, p_in, act)
                        if paired:
                            _carry_back(back, 1, d_in, v, a_in, p_in, act)
            row = (0 if first_step and steps == 0 else 1) if steady else steps
            apply_update(vector, moments, grads, coefficients[p, row], im, iv, ia, m_after)
            loss_sum += loss
            steps += 1
            batch_last[p] = loss
        batch_mean[p] = loss_sum / steps
        _unpad(weights, biases, shape, params[p])
        for k in range(slots):
            _unpad(moments[k, :cut].reshape((layers, height, breadth)), moments[k, cut:].reshape((layers, breadth)),
                   shape, state[p, k])
        full, hits = _evaluate(xt, y, weights, biases, shape, act, buffers, logits, top, total)
        full_loss[p] = full / n
        correct[p] = hits
