"""A compiled CPU kernel for population training of one-hidden-layer MLPs (the lab's ``[d, h, c]``).

The batched torch engine pays for every tensor operation on every step and streams activations of the whole
population through memory. Here one compiled function trains each member through a whole epoch while its
weights, buffers and activations stay in the core's cache, members spread over the cores. It computes the
same thing as :class:`inertia.population` (tested against it and against :func:`inertia.train.fit`):
the same data orders (:mod:`inertia.shuffle`), and per parameter the update of
:func:`inertia.rules.momentum_step`, restated for scalars in :func:`scalar_step` and tested equal to it.

Layout per member: ``w1`` (d, h), ``b1`` (h,), ``w2t`` (c, h) (the output layer transposed, so every inner
loop runs over the hidden width), ``b2`` (c,).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from inertia.shuffle import _fill

FORMS = {"pytorch": 0, "polyak": 1, "ema": 2}
# Reassociation and contraction let the compiler vectorize sums; NaN and infinity semantics are kept,
# since divergence must still show up as NaN or inf.
FAST = {"reassoc", "contract", "arcp", "nsz"}


@njit(cache=True, inline="always")
def coefficients(first, lr, momentum, dampening, form, nesterov):
    """:func:`inertia.rules.momentum_step` as one branch-free affine update, so the loop over parameters
    vectorizes: ``buf = a·buf + b·g`` then ``param = param + c·g + e·buf``. ``first`` marks the first update
    (buffers are zero then, which gives polyak's and ema's first step). For ``pytorch`` with momentum 0 the
    caller passes dampening 0, which keeps torch's plain step."""
    m, one = momentum, 1 + 0 * momentum
    if form == 0:  # pytorch: b = g first, then m·b + (1 − d)·g; p −= lr·(g + m·b) or lr·b
        a, b = (0 * m, one) if first else (m, 1 - dampening)
        return (a, b, -lr, -lr * m) if nesterov else (a, b, 0 * m, -lr)
    if form == 1:  # polyak: v = m·v − lr(1 − d)·g; p += m·v − lr(1 − d)·g or v
        push = lr * (1 - dampening)
        return (m, -push, -push, m) if nesterov else (m, -push, 0 * m, one)
    # ema: v = m·v + (1 − m)·g; p −= lr·((1 − m)·g + m·v) or lr·v
    return (m, 1 - m, -lr * (1 - m), -lr * m) if nesterov else (m, 1 - m, 0 * m, -lr)


@njit(cache=True, fastmath=FAST, inline="always")
def apply_update(params, buffers, grads, first, lr, momentum, dampening, weight_decay, form, nesterov, maximize):
    """Update flat ``params`` and ``buffers`` in place from ``grads`` (weight decay and maximize included)."""
    a, b, c, e = coefficients(first, lr, momentum, dampening, form, nesterov)
    sign = -1 if maximize else 1
    for i in range(params.shape[0]):
        g = sign * grads[i] + weight_decay * params[i]
        buffers[i] = a * buffers[i] + b * g
        params[i] += c * g + e * buffers[i]


# Activations and their backward (gradient ``d`` through an activation whose output is ``a``), chosen by a
# code rather than passed as functions, so that the compiled kernel can be cached on disk. Each applies to a
# whole row, the choice made once outside the loop, which keeps the loops vectorized.

ACTIVATIONS = {"relu": 0, "tanh": 1, "sigmoid": 2, "leaky_relu": 3, "identity": 4}


@njit(cache=True, fastmath=FAST, inline="always")
def _activate(a, kind):
    """``a`` (a row of pre-activations) activated in place."""
    if kind == 0:
        for j in range(a.shape[0]):
            a[j] = a[j] if a[j] > 0 else 0 * a[j]
    elif kind == 1:
        for j in range(a.shape[0]):
            a[j] = np.tanh(a[j])
    elif kind == 2:
        for j in range(a.shape[0]):
            a[j] = 1 / (1 + np.exp(-a[j]))
    elif kind == 3:
        for j in range(a.shape[0]):
            a[j] = a[j] if a[j] > 0 else 0.01 * a[j]


@njit(cache=True, fastmath=FAST, inline="always")
def _activation_grad(d, a, kind):
    """``d`` (gradients w.r.t. the activations ``a`` of a row) carried back to the pre-activations, in place."""
    if kind == 0:
        for j in range(d.shape[0]):
            d[j] = d[j] if a[j] > 0 else 0 * d[j]
    elif kind == 1:
        for j in range(d.shape[0]):
            d[j] = d[j] * (1 - a[j] * a[j])
    elif kind == 2:
        for j in range(d.shape[0]):
            d[j] = d[j] * a[j] * (1 - a[j])
    elif kind == 3:
        for j in range(d.shape[0]):
            d[j] = d[j] if a[j] > 0 else d[j] * 0.01


# Explicit loops throughout: array expressions would allocate temporaries in the innermost loops.


@njit(cache=True, fastmath=FAST, inline="always")
def _forward(x, w1, b1, w2t, b2, act, a, logits):
    """Hidden activations ``a`` (h,) and ``logits`` (c,) of one sample ``x``."""
    h = a.shape[0]
    for j in range(h):
        a[j] = b1[j]
    for k in range(x.shape[0]):
        xk = x[k]
        for j in range(h):
            a[j] += xk * w1[k, j]
    _activate(a, act)
    for c in range(logits.shape[0]):
        total = b2[c]
        for j in range(h):
            total += a[j] * w2t[c, j]
        logits[c] = total


@njit(cache=True, fastmath=FAST, inline="always")
def _nll(logits, label):
    """Cross-entropy of one sample; ``logits`` becomes the softmax probabilities."""
    c = logits.shape[0]
    top = logits[0]
    for k in range(1, c):
        top = max(top, logits[k])
    shifted = logits[label] - top
    total = 0 * top  # in the logits' precision, as torch's log_softmax
    for k in range(c):
        logits[k] = np.exp(logits[k] - top)
        total += logits[k]
    inverse = 1 / total
    for k in range(c):
        logits[k] *= inverse
    return np.log(total) - shifted


@njit(cache=True)
def layout(d: int, h: int, c: int) -> tuple[int, int, int, int]:
    """Offsets of w1, b1, w2t, b2 in a member's flat parameter vector (and its end)."""
    return d * h, d * h + h, d * h + h + c * h, d * h + h + c * h + c


@njit(cache=True, parallel=True, fastmath=FAST)
def train_epoch(x, y, seeds, epoch, shuffle, batch, params, buffers, h, first_step, rates, momentum, dampening,
                weight_decay, form, nesterov, maximize, act, active,
                batch_mean, batch_last, full_loss, correct):
    """One epoch for every active member, then its full-data loss and number of correct predictions.
    ``params`` and ``buffers`` are (members, size) in :func:`layout` order; ``rates`` is (updates this epoch,
    members); ``first_step`` says whether the buffers are still empty."""
    members, n, d = params.shape[0], x.shape[0], x.shape[1]
    c = (params.shape[1] - d * h - h) // (h + 1)
    o1, o2, o3, _ = layout(d, h, c)
    dtype = params.dtype.type
    for p in prange(members):
        if not active[p]:
            continue
        order = np.empty(n, dtype=np.int64)
        if shuffle:
            _fill(order, seeds[p], epoch)
        else:
            for i in range(n):
                order[i] = i
        w1, b1 = params[p, :o1].reshape((d, h)), params[p, o1:o2]
        w2t, b2 = params[p, o2:o3].reshape((c, h)), params[p, o3:]
        grads = np.empty(params.shape[1], dtype=params.dtype)
        g1, gb1 = grads[:o1].reshape((d, h)), grads[o1:o2]
        g2t, gb2 = grads[o2:o3].reshape((c, h)), grads[o3:]
        acts = np.empty((batch, h), dtype=params.dtype)
        probs = np.empty((batch, c), dtype=params.dtype)
        back = np.empty(h, dtype=params.dtype)
        total = 0.0
        steps = 0
        for lo in range(0, n, batch):
            size = min(batch, n - lo)
            loss = 0.0
            for i in range(size):
                _forward(x[order[lo + i]], w1, b1, w2t, b2, act, acts[i], probs[i])
                loss += _nll(probs[i], y[order[lo + i]])
            loss /= size
            # backward: probs - onehot, averaged over the minibatch
            grads.fill(0)
            scale = dtype(1.0) / dtype(size)
            for i in range(size):
                row = order[lo + i]
                probs[i, y[row]] -= 1
                for j in range(h):
                    back[j] = 0
                for k in range(c):
                    dk = probs[i, k] * scale
                    gb2[k] += dk
                    for j in range(h):
                        g2t[k, j] += dk * acts[i, j]
                        back[j] += dk * w2t[k, j]
                _activation_grad(back, acts[i], act)
                for j in range(h):
                    gb1[j] += back[j]
                for k in range(d):
                    xk = x[row, k]
                    for j in range(h):
                        g1[k, j] += xk * back[j]
            apply_update(params[p], buffers[p], grads, first_step and steps == 0, rates[steps, p], momentum[p],
                         dampening[p], weight_decay[p], form, nesterov, maximize)
            total += loss
            steps += 1
            batch_last[p] = loss
        batch_mean[p] = total / steps
        # full-data metrics
        full, hits = 0.0, 0
        for i in range(n):
            _forward(x[i], w1, b1, w2t, b2, act, acts[0], probs[0])
            best = 0
            for k in range(1, c):
                if probs[0, k] > probs[0, best]:
                    best = k
            hits += best == y[i]
            full += _nll(probs[0], y[i])
        full_loss[p] = full / n
        correct[p] = hits
