"""A compiled CPU kernel for population training of one-hidden-layer MLPs (the lab's ``[d, h, c]``).

The batched torch engine pays for every tensor operation on every step and streams activations of the whole
population through memory. Here one compiled function trains each member through a whole epoch while its
weights, buffers and activations stay in the core's cache, members spread over the cores. It computes the
same thing as :class:`inertia.population` (tested against it and against :func:`inertia.train.fit`):
the same data orders (:mod:`inertia.shuffle`), and per parameter the generic update of
:func:`inertia.optim.update.apply` with coefficients the host computes from the members' rule (any optimizer of
:mod:`inertia.optim.rules`), so no optimizer's formula is written here (:func:`apply_update`, tested equal to it).

Layout per member: ``w1`` (d, h), ``b1`` (h,), ``w2t`` (c, h) (the output layer transposed, so every inner
loop runs over the hidden width), ``b2`` (c,). Inside an epoch a member's vectors are copied into the same
layout with the hidden width padded to a multiple of :data:`LANE` (zeros in the padding, which stay zero), so
the loops over it fill whole vector registers with no scalar remainder.

Training runs over the hidden width, forward one sample at a time and backward two at a time (each
gradient row read and written once per pair); the softmax of a minibatch and the full-data evaluation run
over samples (a block at a time), where exp and log vectorize (:mod:`inertia.population.vecmath`).
Constants are typed like the data, so float32 stays float32, and arrays are indexed by loop counters over
slices: a computed index such as ``x[lo + s]`` may be negative as far as the compiler knows, and turns a
vector load into a gather.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from inertia.population import vecmath
from inertia.population.layout import ACTIVATION_CODES
from inertia.shuffle import _fill

FAST = vecmath.FAST
LANE = 16  # the hidden width is padded to a multiple of this (one 512-bit register of float32)
BLOCK = 128  # samples per block of the full-data evaluation


# The update: inertia.optim.update.apply for one member's flat vectors, with one step's coefficients ``u`` (the
# fields of inertia.optim.update.Update, in order) computed on the host by the members' rule. ``state`` holds the
# slots in use, one row each; ``im``, ``iv`` and ``ia`` are the rows of slots m, v and a (-1 when absent). Which
# slots exist and ``m_after_den`` are fixed for a population, so each case below is one branch-free loop.
SIGN, DECAY, KEEP, M_KEEP, M_TAKE, V_KEEP, V_TAKE, A_KEEP, A_TAKE, V_SCALE, EPS, G_COEF, M_COEF = range(13)


@njit(cache=True, fastmath=FAST, inline="always")
def apply_update(params, state, grads, u, im, iv, ia, m_after):
    """:func:`inertia.optim.update.apply` in place on flat ``params`` and ``state`` rows."""
    sign, decay, keep = u[SIGN], u[DECAY], u[KEEP]
    m_keep, m_take, g_coef, m_coef = u[M_KEEP], u[M_TAKE], u[G_COEF], u[M_COEF]
    n = params.shape[0]
    if iv < 0:  # momentum, QHM, plain SGD: x = keep·x − (g_coef·g + m_coef·m)
        if im < 0:
            for i in range(n):
                g = sign * grads[i] + decay * params[i]
                params[i] = keep * params[i] - g_coef * g
            return
        m = state[im]
        for i in range(n):
            g = sign * grads[i] + decay * params[i]
            m[i] = m_keep * m[i] + m_take * g
            params[i] = keep * params[i] - (g_coef * g + m_coef * m[i])
        return
    v, v_keep, v_take, v_scale, eps = state[iv], u[V_KEEP], u[V_TAKE], u[V_SCALE], u[EPS]
    m = state[im]
    if ia < 0 and not m_after:  # Adam, AdamW
        for i in range(n):
            g = sign * grads[i] + decay * params[i]
            v[i] = v_keep * v[i] + v_take * g * g
            m[i] = m_keep * m[i] + m_take * g
            params[i] = keep * params[i] - (g_coef * g + m_coef * m[i]) / (np.sqrt(v_scale * v[i]) + eps)
        return
    # RMSprop: momentum over scaled steps (every rule with slot v has slot m), centered (slot a) or not; one
    # loop each, since a branch inside the loop keeps it from vectorizing
    if ia < 0:
        for i in range(n):
            g = sign * grads[i] + decay * params[i]
            v[i] = v_keep * v[i] + v_take * g * g
            m[i] = m_keep * m[i] + m_take * (g / (np.sqrt(v_scale * v[i]) + eps))
            params[i] = keep * params[i] - m_coef * m[i]
        return
    a, a_keep, a_take = state[ia], u[A_KEEP], u[A_TAKE]
    for i in range(n):
        g = sign * grads[i] + decay * params[i]
        v[i] = v_keep * v[i] + v_take * g * g
        a[i] = a_keep * a[i] + a_take * g
        m[i] = m_keep * m[i] + m_take * (g / (np.sqrt(v_scale * v[i] - a[i] * a[i]) + eps))
        params[i] = keep * params[i] - m_coef * m[i]


# Activations and their backward (gradient ``d`` through an activation whose output is ``a``), chosen by a
# code rather than passed as functions, so that the compiled kernel can be cached on disk. Each applies to a
# whole row, the choice made once outside the loop, which keeps the loops vectorized.

ACTIVATIONS = ACTIVATION_CODES  # the codes every engine shares (inertia.population.layout)
SIGMOID = ACTIVATIONS["sigmoid"]


@njit(cache=True, fastmath=FAST, inline="always")
def _activate(a, kind):
    """``a`` (a row of pre-activations) activated in place."""
    zero, one, slope = a.dtype.type(0), a.dtype.type(1), a.dtype.type(0.01)
    if kind == 0:
        for j in range(a.shape[0]):
            a[j] = zero if zero > a[j] else a[j]
    elif kind == 1:
        for j in range(a.shape[0]):
            a[j] = np.tanh(a[j])
    elif kind == 2:
        for j in range(a.shape[0]):
            a[j] = one / (one + vecmath.exp(-a[j]))
    elif kind == 3:
        for j in range(a.shape[0]):
            a[j] = a[j] if a[j] > zero else slope * a[j]


@njit(cache=True, fastmath=FAST, inline="always")
def _activation_grad(d, a, kind):
    """``d`` (gradients w.r.t. the activations ``a`` of a row) carried back to the pre-activations, in place."""
    zero, one, slope = a.dtype.type(0), a.dtype.type(1), a.dtype.type(0.01)
    if kind == 0:
        for j in range(d.shape[0]):
            d[j] = d[j] if a[j] > zero else zero
    elif kind == 1:
        for j in range(d.shape[0]):
            d[j] = d[j] * (one - a[j] * a[j])
    elif kind == 2:
        for j in range(d.shape[0]):
            d[j] = d[j] * a[j] * (one - a[j])
    elif kind == 3:
        for j in range(d.shape[0]):
            d[j] = d[j] if a[j] > zero else d[j] * slope


# Explicit loops throughout: array expressions would allocate temporaries in the innermost loops.


@njit(cache=True, fastmath=FAST, inline="always")
def _hidden(x, w1, b1, act, a):
    """Hidden activations ``a`` (h,) of one sample ``x`` (d,)."""
    x0, w = x[0], w1[0]
    for j in range(a.shape[0]):
        a[j] = b1[j] + x0 * w[j]
    for k in range(1, x.shape[0]):
        xk, w = x[k], w1[k]
        for j in range(a.shape[0]):
            a[j] += xk * w[j]
    _activate(a, act)


@njit(cache=True, fastmath=FAST, inline="always")
def _softmax_nll(logits, m, labels, top, total):
    """Summed cross-entropy of the ``m`` samples whose logits are the first ``m`` columns of ``logits``
    (classes, samples); those columns become the softmax probabilities. ``labels`` (m,) are the classes."""
    c = logits.shape[0]
    for s in range(m):
        top[s] = logits[0, s]
    for k in range(1, c):
        row = logits[k]
        for s in range(m):
            top[s] = max(top[s], row[s])
    loss = 0.0
    for s in range(m):
        loss += top[s] - logits[labels[s], s]
        total[s] = 0
    for k in range(c):
        row = logits[k]
        for s in range(m):
            row[s] = vecmath.exp(row[s] - top[s])
            total[s] += row[s]
    one = total.dtype.type(1)
    for s in range(m):
        loss += vecmath.log(total[s])
        total[s] = one / total[s]
    for k in range(c):
        row = logits[k]
        for s in range(m):
            row[s] *= total[s]
    return loss


@njit(cache=True, fastmath=FAST, inline="always")
def score_block(logits, m, labels, top, total):
    """Summed cross-entropy and number of correct predictions of a block of ``m`` samples whose logits are the
    first ``m`` columns of ``logits`` (classes, samples), which become the probabilities."""
    hits = 0
    for s in range(m):  # the first largest logit, as torch's argmax
        best, value = 0, logits[0, s]
        for k in range(1, logits.shape[0]):
            if logits[k, s] > value:
                best, value = k, logits[k, s]
        hits += best == labels[s]
    return _softmax_nll(logits, m, labels, top, total), hits


@njit(cache=True)
def layout(d: int, h: int, c: int) -> tuple[int, int, int, int]:
    """Offsets of w1, b1, w2t, b2 in a member's flat parameter vector (and its end)."""
    return d * h, d * h + h, d * h + h + c * h, d * h + h + c * h + c


@njit(cache=True)
def fill_order(order, seed, epoch, shuffle):
    """``order`` filled with a member's data order for this epoch (:mod:`inertia.shuffle`, or as given)."""
    if shuffle:
        _fill(order, seed, epoch)
    else:
        for i in range(order.shape[0]):
            order[i] = i


@njit(cache=True)
def member_order(y, seed, epoch, shuffle):
    """A member's data order for this epoch (:func:`fill_order`) and the labels in it."""
    n = y.shape[0]
    order = np.empty(n, dtype=np.int64)
    fill_order(order, seed, epoch, shuffle)
    labels = np.empty(n, dtype=y.dtype)
    for i in range(n):
        labels[i] = y[order[i]]
    return order, labels


@njit(cache=True)
def _copy(dst, at, src, start, count):
    """``dst[at : at + count] = src[start : start + count]``, as a loop: a slice assignment compiles numba's
    shape-mismatch error, string formatting and all, which took seconds of a fresh installation's first run."""
    for i in range(count):
        dst[at + i] = src[start + i]


@njit(cache=True)
def _pad(flat, d, h, c, padded):
    """A member's flat vector of hidden width ``h`` copied into ``padded``, whose hidden width is wider
    (zeros in the padding). The d + 1 + c rows of width h (w1, b1, w2t) come first, then b2."""
    hp = (padded.shape[0] - c) // (d + 1 + c)
    padded[:] = 0
    for row in range(d + 1 + c):
        _copy(padded, row * hp, flat, row * h, h)
    _copy(padded, (d + 1 + c) * hp, flat, (d + 1 + c) * h, c)


@njit(cache=True)
def _unpad(padded, d, h, c, flat):
    """:func:`_pad` undone."""
    hp = (padded.shape[0] - c) // (d + 1 + c)
    for row in range(d + 1 + c):
        _copy(flat, row * h, padded, row * hp, h)
    _copy(flat, (d + 1 + c) * h, padded, (d + 1 + c) * hp, c)


@njit(cache=True, fastmath=FAST)
def _evaluate(xt, y, w1, b1, w2t, b2, h, act, logits, z, top, total):
    """Full-data summed loss and number of correct predictions, a block of samples at a time, every loop
    over the block's samples. ``xt`` is the data transposed (d, n)."""
    d, n = xt.shape
    c = w2t.shape[0]
    loss, hits = 0.0, 0
    for lo in range(0, n, BLOCK):
        m = min(BLOCK, n - lo)
        zs = z[:m]
        for k in range(c):
            logits[k, :m] = b2[k]
        for j in range(h):
            zs[:] = b1[j]
            for k in range(d):
                w, xk = w1[k, j], xt[k, lo : lo + m]
                for s in range(m):
                    zs[s] += xk[s] * w
            _activate(zs, act)
            for k in range(c):
                w, row = w2t[k, j], logits[k]
                for s in range(m):
                    row[s] += zs[s] * w
        block_loss, block_hits = score_block(logits, m, y[lo : lo + m], top, total)
        loss += block_loss
        hits += block_hits
    return loss, hits


@njit(cache=True, parallel=True, fastmath=FAST)
def train_epoch(x, y, seeds, epoch, shuffle, batch, params, state, h, first_step, coefficients, steady, im,
                iv, ia, m_after, act, active, batch_mean, batch_last, full_loss, correct, initial_loss):
    """One epoch for every active member (spread over the cores), then its full-data loss and number of correct
    predictions. ``params`` is (members, size) and ``state`` (members, slots, size) in :func:`layout` order;
    ``coefficients`` is (members, updates this epoch, fields) (see :func:`apply_update`), or with ``steady``
    (members, 2, fields): the first update's and every later one's; on the ``first_step`` (the first epoch)
    the full-data loss of the weights before the epoch goes to ``initial_loss`` too."""
    n, d = x.shape[0], x.shape[1]
    c = (params.shape[1] - d * h - h) // (h + 1)
    hp = (h + LANE - 1) // LANE * LANE
    o1, o2, o3, size = layout(d, hp, c)
    xt = np.ascontiguousarray(x.T)
    dtype = params.dtype.type
    zero = dtype(0)
    width = max(batch, BLOCK)
    for p in prange(params.shape[0]):
        if not active[p]:
            continue
        order, labels = member_order(y, seeds[p], epoch, shuffle)
        slots = state.shape[1]
        flat = np.empty(size, dtype=params.dtype)
        moments = np.empty((slots, size), dtype=params.dtype)
        grads = np.empty(size, dtype=params.dtype)
        _pad(params[p], d, h, c, flat)
        for k in range(slots):
            _pad(state[p, k], d, h, c, moments[k])
        w1, b1 = flat[:o1].reshape((d, hp)), flat[o1:o2]
        w2t, b2 = flat[o2:o3].reshape((c, hp)), flat[o3:]
        g1, gb1 = grads[:o1].reshape((d, hp)), grads[o1:o2]
        g2t, gb2 = grads[o2:o3].reshape((c, hp)), grads[o3:]
        acts = np.empty((batch, hp), dtype=params.dtype)
        logits = np.empty((c, width), dtype=params.dtype)  # classes × samples
        top = np.empty(width, dtype=params.dtype)
        total = np.empty(width, dtype=params.dtype)
        z = np.empty(width, dtype=params.dtype)
        back = np.empty(hp, dtype=params.dtype)
        back_v = np.empty(hp, dtype=params.dtype)
        if first_step:
            start, _ = _evaluate(xt, y, w1, b1, w2t, b2, h, act, logits, z, top, total)
            initial_loss[p] = start / n
        loss_sum, steps = 0.0, 0
        for lo in range(0, n, batch):
            m = min(batch, n - lo)
            for i in range(m):
                a = acts[i]
                _hidden(x[order[lo + i]], w1, b1, act, a)
                for k in range(c):
                    t, w = b2[k], w2t[k]
                    for j in range(hp):
                        t += a[j] * w[j]
                    logits[k, i] = t
            loss = _softmax_nll(logits, m, labels[lo : lo + m], top, total) / m
            # backward: probabilities − one-hot, averaged over the minibatch
            grads[:] = 0
            scale = dtype(1) / dtype(m)
            for i in range(m):
                logits[labels[lo + i], i] -= 1
            # Two samples at a time, so that each gradient row is read and written once for both; an odd
            # one out is paired with itself at weight zero.
            for i in range(0, m, 2):
                v, weight = (i + 1, scale) if i + 1 < m else (i, zero)
                a, xa, u, xu = acts[i], x[order[lo + i]], acts[v], x[order[lo + v]]
                da, du, w, g = logits[0, i] * scale, logits[0, v] * weight, w2t[0], g2t[0]
                gb2[0] += da + du
                for j in range(hp):
                    g[j] += da * a[j] + du * u[j]
                    back[j] = da * w[j]
                    back_v[j] = du * w[j]
                for k in range(1, c):
                    da, du, w, g = logits[k, i] * scale, logits[k, v] * weight, w2t[k], g2t[k]
                    gb2[k] += da + du
                    for j in range(hp):
                        g[j] += da * a[j] + du * u[j]
                        back[j] += da * w[j]
                        back_v[j] += du * w[j]
                _activation_grad(back, a, act)
                _activation_grad(back_v, u, act)
                for j in range(hp):
                    gb1[j] += back[j] + back_v[j]
                for k in range(d):
                    ka, kv, g = xa[k], xu[k], g1[k]
                    for j in range(hp):
                        g[j] += ka * back[j] + kv * back_v[j]
            if act == SIGMOID:  # sigmoid(0) ≠ 0: keep the padding's output weights at zero
                g2t[:, h:] = 0
            row = (0 if first_step and steps == 0 else 1) if steady else steps
            apply_update(flat, moments, grads, coefficients[p, row], im, iv, ia, m_after)
            loss_sum += loss
            steps += 1
            batch_last[p] = loss
        batch_mean[p] = loss_sum / steps
        _unpad(flat, d, h, c, params[p])
        for k in range(slots):
            _unpad(moments[k], d, h, c, state[p, k])
        full, hits = _evaluate(xt, y, w1, b1, w2t, b2, h, act, logits, z, top, total)
        full_loss[p] = full / n
        correct[p] = hits
