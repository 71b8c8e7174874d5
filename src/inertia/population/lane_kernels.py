"""A compiled CPU kernel that trains members across the SIMD lanes: MLPs of any depth, a group of 16 float32
members (8 float64) per core at a time, one member per lane of every vector (:mod:`inertia.population.lanes`).

Each lane is a member with its own data order, weights, optimizer state and coefficients, so every multiply-add
is a full-width vector instruction with no sum across lanes; the products of a layer
(:mod:`~inertia.population.lane_products`) hold their running sums in registers. One member at a time
(:mod:`~inertia.population.kernels`, :mod:`~inertia.population.deep_kernels`) vectorizes over a hidden width
instead, and loads and stores a row for every multiply-add. A network with one hidden layer between few inputs
and few classes (the lab's) goes through :mod:`~inertia.population.lane_fused` instead of layer by layer, its
hidden values in registers only (the backward pass forms them again). The softmax, its ``exp`` and ``log``
included (:mod:`~inertia.population.lane_math`), runs on vectors of members. A minibatch goes through in blocks
of :data:`ROWS` samples, so that the buffers do not grow with the batch size; its samples are read through the
members' data orders with vector gathers (:mod:`~inertia.population.lane_orders`). It computes what the other
engines compute: the same data orders (:mod:`inertia.shuffle`'s), the same generic update
(:func:`~inertia.population.kernels.apply_update`, the same source run here on vectors of members), the same
activations, the same flat weight layout (:func:`inertia.population.layout.flat_weights`), and is tested against
:func:`inertia.train.fit` member by member like every engine.

Inside a group a member's flat vector is held lane-interleaved: parameter ``i`` of lane ``l`` at ``i·L + l``.
A block of activations is (samples, units, L); the logits are (classes, samples, L). A member that diverged
(``active`` false) or a lane past the last member still computes, on its own lane, and nothing of it is written
back.
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

from inertia.population import lane_fused, lane_math, lane_orders
from inertia.population.claims import claim
from inertia.population.kernels import FAST, _activate, apply_update
from inertia.population.lane_products import ADD, NONE, PLAIN, THROUGH, column_sums, forward_mode, product
from inertia.population.lanes import lanes, load, splat, store, where_equal, where_greater, width

# A network's shape as the kernel reads it, one row per layer: its widths, where its weight and bias start in a
# member's flat vector, and the strides of the weight's input and output index there.
N_IN, N_OUT, W_AT, B_AT, S_IN, S_OUT = range(6)


ROWS = 32  # samples per block, training and evaluating (fastest of 4, 8, 16 and 32 measured on the lab's network)


def shape_table(layers, rows) -> np.ndarray:
    """The table of ``layers`` in the flat layout that holds each layer's weight as ``rows`` says
    (:func:`inertia.population.layout.flat_weights`)."""
    table = np.zeros((len(layers) - 1, 6), dtype=np.int64)
    at = 0
    for layer, held in enumerate(rows):
        n_in, n_out = layers[layer], layers[layer + 1]
        table[layer] = (n_in, n_out, at, at + n_in * n_out, 1 if held else n_out, n_in if held else 1)
        at += n_in * n_out + n_out
    return table


RUN = 64  # elements a vectorized loop's body takes at once at most (4 × a 512-bit vector of float32)


@njit(cache=True, inline="always")
def _whole(count):
    """``count`` rounded up to whole runs of the vectorized loops, which the buffers hold (their sizes are
    multiples of :data:`RUN`): every element then goes through the loop's vector body, never its scalar
    remainder, whose exp and log may round differently, so a member's results do not depend on its lane."""
    return -(-count // RUN) * RUN


@njit(cache=True, fastmath=FAST)
def _forward(shape, flat, inputs, acts, act_at, logits, m, act):
    """The first ``m`` samples of a block (``inputs`` (samples, d, L)) through every layer: hidden activations
    into ``acts`` (layer ``k``'s block at ``act_at[k]``, (samples, units, L)), logits into ``logits``."""
    L = width(flat)
    layers = shape.shape[0]
    rows = logits.shape[1] // L
    source, s_at = inputs, 0
    for layer in range(layers):
        s = shape[layer]
        n_in, n_out = s[N_IN], s[N_OUT]
        if layer < layers - 1:
            at = act_at[layer]
            mode = forward_mode(act)
            product(source, s_at, n_in * L, L, flat, s[W_AT] * L, s[S_IN] * L, s[S_OUT] * L,
                     acts, at, n_out * L, L, m, n_out, n_in, flat, s[B_AT] * L, mode, acts, 0)
            if mode == PLAIN:
                _activate(acts[at : at + _whole(m * n_out * L)], act)
            source, s_at = acts, at
        else:
            product(source, s_at, n_in * L, L, flat, s[W_AT] * L, s[S_IN] * L, s[S_OUT] * L,
                     logits.reshape(-1), 0, L, rows * L, m, n_out, n_in, flat, s[B_AT] * L, PLAIN, flat, 0)


@njit(cache=True, fastmath=FAST)
def _forward_any(shape, flat, inputs, acts, act_at, logits, m, act, fused):
    """:func:`_forward`, or its fused form (:mod:`~inertia.population.lane_fused`) when ``fused``, which stores
    no hidden values (its backward pass forms them again)."""
    if fused:
        lane_fused.forward(shape, flat, inputs, logits, m, act)
    else:
        _forward(shape, flat, inputs, acts, act_at, logits, m, act)


@njit(cache=True, fastmath=FAST)
def _backward(shape, flat, grads, inputs, acts, act_at, logits, delta, back, m, act, fresh):
    """Gradients of the minibatch's mean loss added into ``grads``, from the deltas (probabilities − one-hot,
    over m) in ``logits``: layer by layer, its weight and bias gradients, then the delta carried to its input.
    When ``fresh`` (a minibatch's first block) the weight gradients are written rather than added (what they
    held is never read, so it need not be zeroed first: :func:`_zero_biases`)."""
    L = width(flat)
    layers = shape.shape[0]
    rows = logits.shape[1] // L
    d_arr, d_at, d_sa, d_sk = logits.reshape(-1), 0, L, rows * L  # delta[s, o] at d_at + s·d_sa + o·d_sk
    into_back = True  # the deltas carried back alternate between two buffers
    for layer in range(layers - 1, -1, -1):
        s = shape[layer]
        n_in, n_out = s[N_IN], s[N_OUT]
        source, s_at = (inputs, 0) if layer == 0 else (acts, act_at[layer - 1])
        # weight gradient (i, o) = Σ_s input[s, i]·delta[s, o]
        product(source, s_at, L, n_in * L, d_arr, d_at, d_sa, d_sk, grads, s[W_AT] * L, s[S_IN] * L,
                 s[S_OUT] * L, n_in, n_out, m, grads, NONE if fresh else ADD, PLAIN, grads, 0)
        column_sums(d_arr, d_at, d_sk, d_sa, n_out, m, grads, s[B_AT] * L)
        if layer == 0:
            break
        # delta carried back: (s, i) = Σ_o delta[s, o]·W(i, o), through the activation (outputs at s_at)
        target = back if into_back else delta
        into_back = not into_back
        product(d_arr, d_at, d_sa, d_sk, flat, s[W_AT] * L, s[S_OUT] * L, s[S_IN] * L, target, 0, n_in * L, L,
                 m, n_in, n_out, flat, NONE, THROUGH + act, acts, s_at)
        d_arr, d_at, d_sa, d_sk = target, 0, n_in * L, L


@njit(cache=True)
def _zero_biases(shape, grads):
    """The bias gradients of every layer zeroed, for a minibatch whose first block writes the weight gradients
    (:func:`_backward`): zeroing all of ``grads`` took 3 % of a larger network's epoch."""
    L = width(grads)
    for layer in range(shape.shape[0]):
        at = shape[layer, B_AT] * L
        for i in range(shape[layer, N_OUT] * L):
            grads[at + i] = 0


@njit(cache=True)
def _run(classes):
    """How many samples' sums of ``exp(logit − largest)`` (each from 1 to ``classes``) multiply without
    overflow, in float32 too (a product below 2¹²⁶)."""
    return 64 if classes < 2 else max(1, int(126.0 / np.log2(classes)))


@njit(cache=True, fastmath=FAST)
def _score(logits, m, labels, nll, right, tops, loss, hits, scale):
    """The softmax of a block's first ``m`` samples, a vector of members at a time: each sample's
    cross-entropy (its largest logit − its class's + log Σ exp(logit − largest)) added to ``loss`` per lane;
    when ``scale`` is 0 (evaluating), whether its first largest logit is its class added to ``hits``, else
    (training) the logits become the deltas of the mean loss, (probabilities − one-hot) × ``scale``.
    ``labels`` holds each sample's class as a number, ``nll``, ``right`` and ``tops`` a block of vectors each
    (scratch). It runs in passes over the block, each sample's work in a pass independent of the others', so
    that the core overlaps the long chains of dependent steps in ``exp`` across samples. The logarithms are
    taken of products of the samples' sums (:func:`_run` of them at a time, a whole block for the lab's 3
    classes) rather than of each sum: a product rounds as a sum of logarithms does, and ``log`` costs as much
    as an ``exp``."""
    L = loss.shape[0]
    c = logits.shape[0]
    out = logits.reshape(-1)
    stride = logits.shape[1]
    zero, one = splat(out, 0), splat(out, 1)
    for s in range(m):  # the largest logit, the first class that has it, the label's logit
        at = s * L
        label = load(labels, at)
        top = load(out, at)
        best, chosen = zero, where_equal(label, zero, top, zero)
        for k in range(1, c):
            z, kind = load(out, at + k * stride), splat(out, k)
            best = where_greater(z, top, kind, best)
            top = where_greater(z, top, z, top)
            chosen = where_equal(label, kind, z, chosen)
        store(tops, at, top)
        store(nll, at, top - chosen)
        if scale == 0:
            store(right, at, where_equal(best, label, one, zero))
    for s in range(m):
        for k in range(c):
            at = s * L + k * stride
            store(out, at, lane_math.exp(load(out, at) - load(tops, s * L)))
    run = _run(c)
    logs, product, taken = zero, one, 0
    for s in range(m):
        at = s * L
        total = zero
        for k in range(c):
            total = total + load(out, at + k * stride)
        product = product * total
        taken += 1
        if taken == run:
            logs, product, taken = logs + lane_math.log(product), one, 0
        if scale != 0:
            label, inverse, step = load(labels, at), one / total, splat(out, scale)
            for k in range(c):
                p = load(out, at + k * stride) * inverse
                store(out, at + k * stride, where_equal(label, splat(out, k), p - one, p) * step)
    store(tops, 0, logs + lane_math.log(product))
    for lane in range(L):
        loss[lane] += tops[lane]
    for s in range(m):
        for lane in range(L):
            loss[lane] += nll[s * L + lane]
    if scale == 0:
        for s in range(m):
            for lane in range(L):
                hits[lane] += np.int64(right[s * L + lane])


@njit(cache=True, fastmath=FAST)
def _evaluate(x, y, shape, flat, buffers, act_at, act, fused, loss, hits):
    """Full-data summed loss and correct predictions per lane, a block of samples at a time (every lane
    reads the same samples)."""
    inputs, acts, logits, labels, nll, right, tops = buffers
    n, d = x.shape
    L = loss.shape[0]
    loss[:] = 0
    hits[:] = 0
    rows = logits.shape[1] // L
    for lo in range(0, n, rows):
        m = min(rows, n - lo)
        for s in range(m):
            for k in range(d):
                store(inputs, (s * d + k) * L, splat(inputs, x[lo + s, k]))
            store(labels, s * L, splat(labels, y[lo + s]))
        _forward_any(shape, flat, inputs, acts, act_at, logits, m, act, fused)
        _score(logits, m, labels, nll, right, tops, loss, hits, flat.dtype.type(0))


@njit(cache=True)
def _aligned(count, like):
    """``count`` zeros of ``like``'s dtype starting on a 64-byte boundary: a vector that straddles two cache
    lines costs two loads, and a store across them more; and a vectorized loop's results must not depend on
    where its array starts (a compiler may peel elements off to align the rest, computed another way)."""
    step = 64 // like.itemsize
    buffer = np.zeros(count + step, dtype=like.dtype)
    skip = (-(buffer.ctypes.data // buffer.itemsize)) % step
    return buffer[skip : skip + count]


def epoch(*arguments):
    """One epoch for every active member, a group of L at a time, then its full-data loss and number of correct
    predictions; the arguments are those of :func:`inertia.population.kernels.train_epoch`, ``shape`` from
    :func:`shape_table`."""
    train_epoch(*arguments, get_num_threads())


@njit(cache=True, parallel=True, fastmath=FAST)
def train_epoch(x, y, seeds, epoch, shuffle, batch, params, state, shape, first_step, coefficients, steady, im,
                 iv, ia, m_after, act, active, batch_mean, batch_last, full_loss, correct, initial_loss, threads):
    """:func:`epoch` on ``threads`` threads, each allocating its buffers once (per group, the larger ones came
    from fresh pages every time) and claiming the next group until none is left (:mod:`~.claims`): a core
    slowed by other work trains fewer groups rather than holding up the epoch."""
    n, d = x.shape
    members, size = params.shape
    slots = state.shape[1]
    fields = coefficients.shape[2]
    L = width(params)
    layers = shape.shape[0]
    rows = ROWS
    act_at = np.zeros(layers, dtype=np.int64)  # the hidden layers' activation blocks in one buffer
    widest = d
    for layer in range(layers - 1):
        act_at[layer + 1] = act_at[layer] + rows * shape[layer, N_OUT] * L
        widest = max(widest, shape[layer, N_OUT])
    classes = shape[layers - 1, N_OUT]
    dtype = params.dtype
    fused = lane_fused.fusable(shape, act)
    groups = (members + L - 1) // L
    threads = max(1, min(threads, groups))
    counter = np.zeros(1, dtype=np.int64)
    values = x.reshape(-1)  # read by the gathers of :func:`~.lane_orders.read`
    classes_as_values = np.empty(n, dtype=dtype)
    for i in range(n):
        classes_as_values[i] = y[i]
    for _ in prange(threads):
        live = np.zeros(L, dtype=np.bool_)
        flat = _aligned(size * L, params)
        moments = _aligned(slots * size * L, params).reshape((slots, size * L))
        grads = _aligned(size * L, params)
        u = _aligned(fields * L, params)
        orders = np.empty(n * L, dtype=np.int32)  # lane-interleaved (:mod:`~.lane_orders`)
        keys = np.empty(L, dtype=np.uint32)
        mixed = np.empty(L, dtype=np.bool_)
        targets = np.empty(L, dtype=np.int32)
        inputs = _aligned(rows * d * L, params)
        acts = _aligned(1 if fused else max(act_at[layers - 1], 1), params)
        logits = _aligned(classes * rows * L, params).reshape((classes, rows * L))
        delta = _aligned(rows * widest * L, params)
        back = _aligned(rows * widest * L, params)
        labels = _aligned(rows * L, params)  # each sample's class, a number in the members' dtype
        nll, right, tops = _aligned(rows * L, params), _aligned(rows * L, params), _aligned(rows * L, params)
        buffers = (inputs, acts, logits, labels, nll, right, tops)
        loss = np.zeros(L)
        hits = np.zeros(L, dtype=np.int64)
        # Per-lane divisions run over every lane, written back for the live ones: a loop over a varying number
        # of lanes may divide some by a reciprocal's product (fastmath) and others not.
        means = np.empty(L)
        sums = np.zeros(L)
        while True:
            g = claim(counter)
            if g >= groups:
                break
            first = g * L
            count = min(L, members - first)
            for lane in range(L):
                live[lane] = lane < count and active[first + lane]
            if not live.any():
                continue
            u[:] = 0
            for lane in range(L):  # a lane without a live member computes on zeros, as in a group of its own
                mixed[lane] = live[lane] and shuffle
                keys[lane] = lane_orders.key(seeds[first + lane], epoch) if mixed[lane] else 0
                if live[lane]:
                    p = first + lane
                    for i in range(size):
                        flat[i * L + lane] = params[p, i]
                    for k in range(slots):
                        for i in range(size):
                            moments[k, i * L + lane] = state[p, k, i]
                else:
                    for i in range(size):
                        flat[i * L + lane] = 0
                    for k in range(slots):
                        for i in range(size):
                            moments[k, i * L + lane] = 0
            lane_orders.fill(orders, keys, mixed, targets, n, params)
            if first_step:
                _evaluate(x, y, shape, flat, buffers, act_at, act, fused, loss, hits)
                for lane in range(L):
                    means[lane] = loss[lane] / n
                for lane in range(count):
                    if live[lane]:
                        initial_loss[first + lane] = means[lane]
            sums[:] = 0
            steps = 0
            loaded = -1  # the step whose coefficients are in u
            for lo in range(0, n, batch):
                m = min(batch, n - lo)
                if not fused:  # the fused pass writes every gradient on a minibatch's first block
                    _zero_biases(shape, grads)
                loss[:] = 0
                scale = dtype.type(1) / dtype.type(m)
                for block in range(lo, lo + m, rows):  # a few samples at a time, their activations in L1
                    part = min(rows, lo + m - block)
                    for s in range(part):
                        lane_orders.read(values, classes_as_values, orders, block + s, s, inputs, labels, d)
                    _forward_any(shape, flat, inputs, acts, act_at, logits, part, act, fused)
                    _score(logits, part, labels, nll, right, tops, loss, hits, scale)
                    if fused:
                        lane_fused.backward(shape, flat, grads, inputs, logits, part, act, block == lo)
                    else:
                        _backward(shape, flat, grads, inputs, acts, act_at, logits, delta, back, part, act,
                                  block == lo)
                step = (0 if first_step and steps == 0 else 1) if steady else steps
                if step != loaded:  # a steady rule's coefficients change once at most
                    loaded = step
                    for lane in range(count):
                        if live[lane]:
                            for f in range(fields):
                                u[f * L + lane] = coefficients[first + lane, step, f]
                apply_update(lanes(flat), lanes(moments), lanes(grads), lanes(u), im, iv, ia, m_after)
                for lane in range(L):
                    means[lane] = loss[lane] / m
                    sums[lane] += means[lane]
                steps += 1
            for lane in range(count):
                if live[lane]:
                    batch_last[first + lane] = means[lane]
            for lane in range(L):
                means[lane] = sums[lane] / steps
            for lane in range(count):
                if live[lane]:
                    batch_mean[first + lane] = means[lane]
            _evaluate(x, y, shape, flat, buffers, act_at, act, fused, loss, hits)
            for lane in range(L):
                means[lane] = loss[lane] / n
            for lane in range(count):
                if live[lane]:
                    p = first + lane
                    full_loss[p] = means[lane]
                    correct[p] = hits[lane]
                    for i in range(size):
                        params[p, i] = flat[i * L + lane]
                    for k in range(slots):
                        for i in range(size):
                            state[p, k, i] = moments[k, i * L + lane]
