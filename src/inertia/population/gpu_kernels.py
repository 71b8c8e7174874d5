"""Triton kernels for population training of one-hidden-layer MLPs on a GPU (the counterpart of
:mod:`inertia.population.kernels`, the compiled CPU engine).

The batched torch engine launches some fifty kernels per SGD step and streams every member's activations
through GPU memory between them. Here one program trains ``BLOCK`` members through a whole epoch: their weights
and gradients stay in registers from the first minibatch to the full-data evaluation, the momentum buffers are
read and written once per update, and the data (a few kilobytes) stays in cache. It computes what
:mod:`inertia.population.kernels` computes, in the same layout and order: the data orders of :mod:`inertia.shuffle`
(Fisher–Yates over the same hash), and per parameter the generic update of :func:`inertia.optim.update.apply`, with
coefficients computed from the members' rule (any optimizer of :mod:`inertia.optim.rules`) by torch on the device:
no optimizer's formula is written here (:func:`_update`, tested equal to the rule).

Layout per member (one flat row of ``params``): ``w1`` (d, h), ``b1`` (h,), ``w2t`` (c, h), ``b2`` (c,).
Inside a program, tensors are 3-D: members × (inputs or classes) × hidden units, padded to powers of two.

With ``TRITON_INTERPRET=1`` the same kernels run on CPU tensors (slowly), which is how the tests check them on
machines without a GPU.
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

from inertia.population.layout import ACTIVATION_CODES

ACTIVATIONS = ACTIVATION_CODES  # the codes every engine shares (inertia.population.layout)


@triton.jit
def _hash(x):
    """lowbias32 on uint32 (wrapping), as :func:`inertia.shuffle._hash`."""
    x = (x ^ (x >> 16)) * 0x7FEB352D
    x = (x ^ (x >> 15)) * 0x846CA68B
    return x ^ (x >> 16)


# Scalars that change between launches are not specialized on (Triton compiles a variant for a value of 1).
@triton.jit(do_not_specialize=["epoch", "members", "n"])
def _shuffle(order_ptr, seeds_ptr, epoch, members, n, BLOCK: tl.constexpr):
    """Permute each row of ``order`` (holding 0..n−1) by :mod:`inertia.shuffle`'s Fisher–Yates: one lane per
    member, positions from n − 1 down to 1."""
    p = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    live = p < members
    row = order_ptr + tl.cast(p, tl.int64) * n
    seed = tl.load(seeds_ptr + p, mask=live, other=0).to(tl.uint32)
    state = _hash(_hash(seed) + tl.cast(epoch, tl.uint32))
    for t in range(0, n - 1):
        i = n - 1 - t
        j = (_hash(state + tl.cast(i, tl.uint32)) % tl.cast(i + 1, tl.uint32)).to(tl.int32)
        at_i = tl.load(row + i, mask=live)
        at_j = tl.load(row + j, mask=live)
        tl.store(row + i, at_j, mask=live)
        tl.store(row + j, at_i, mask=live)


@triton.jit
def _activate(z, ACT: tl.constexpr):
    if ACT == 0:
        return tl.maximum(z, 0.0)
    elif ACT == 1:
        return 2.0 / (1.0 + tl.exp(-2.0 * z)) - 1.0
    elif ACT == 2:
        return 1.0 / (1.0 + tl.exp(-z))
    elif ACT == 3:
        return tl.where(z > 0, z, 0.01 * z)
    else:
        return z


@triton.jit
def _activation_grad(d, a, ACT: tl.constexpr):
    """``d`` (gradient w.r.t. an activation's output ``a``) carried back to its input."""
    if ACT == 0:
        return tl.where(a > 0, d, 0.0)
    elif ACT == 1:
        return d * (1.0 - a * a)
    elif ACT == 2:
        return d * a * (1.0 - a)
    elif ACT == 3:
        return tl.where(a > 0, d, d * 0.01)
    else:
        return d


@triton.jit
def _forward(xs, w1, b1, w2, b2, hidden, classes, H: tl.constexpr, C: tl.constexpr, ACT: tl.constexpr):
    """Hidden activations (B, 1, HP) and logits (B, CP, 1) of one sample per member; padded classes −inf.
    Padded hidden units are 0, which keeps their gradients 0 (sigmoid(0) is not)."""
    a = _activate(tl.sum(xs * w1, axis=1, keep_dims=True) + b1, ACT)
    if ACT == 2:
        a = tl.where(hidden < H, a, 0.0)
    logits = tl.sum(a * w2, axis=2, keep_dims=True) + b2
    return a, tl.where(classes < C, logits, float("-inf"))


@triton.jit
def _nll(logits, label, classes):
    """Per-member cross-entropy (B, 1, 1) and softmax probabilities (B, CP, 1)."""
    top = tl.max(logits, axis=1, keep_dims=True)
    e = tl.exp(logits - top)
    total = tl.sum(e, axis=1, keep_dims=True)
    picked = tl.sum(tl.where(classes == label, logits, 0.0), axis=1, keep_dims=True)
    return tl.log(total) - (picked - top), e / total


@triton.jit
def _sqrt(x):
    """Correctly rounded, as NumPy's and torch's (``tl.sqrt`` of float32 may be an approximation)."""
    if x.dtype == tl.float32:
        return tl.sqrt_rn(x)
    else:
        return tl.sqrt(x)


@triton.jit
def _div(a, b):
    """Correctly rounded division (float32's ``/`` may be an approximation)."""
    if a.dtype == tl.float32:
        return tl.div_rn(a, b)
    else:
        return a / b


@triton.jit
def _coefficients(u_ptr, live):
    """One step's coefficients for a block of members (the fields of :class:`inertia.optim.update.Update`, in order),
    loaded once and shared by the updates of every weight and bias."""
    return (tl.load(u_ptr + 0, mask=live, other=0.0), tl.load(u_ptr + 1, mask=live, other=0.0),
            tl.load(u_ptr + 2, mask=live, other=0.0), tl.load(u_ptr + 3, mask=live, other=0.0),
            tl.load(u_ptr + 4, mask=live, other=0.0), tl.load(u_ptr + 5, mask=live, other=0.0),
            tl.load(u_ptr + 6, mask=live, other=0.0), tl.load(u_ptr + 7, mask=live, other=0.0),
            tl.load(u_ptr + 8, mask=live, other=0.0), tl.load(u_ptr + 9, mask=live, other=0.0),
            tl.load(u_ptr + 10, mask=live, other=0.0), tl.load(u_ptr + 11, mask=live, other=0.0),
            tl.load(u_ptr + 12, mask=live, other=0.0))


@triton.jit
def _update(param, grad, state_ptr, off, mask, sign, decay, keep, m_keep, m_take, v_keep, v_take, a_keep, a_take,
            v_scale, eps, g_coef, m_coef, SIZE, IM: tl.constexpr, IV: tl.constexpr, IA: tl.constexpr,
            M_AFTER: tl.constexpr):
    """:func:`inertia.optim.update.apply` on one block of a member's parameters: ``state_ptr + off`` addresses its
    slot-0 row (slot k is ``k·SIZE`` further); IM, IV, IA are the rows of slots m, v, a (-1 when absent).
    Returns the new parameter, zero where ``mask`` is off (padding stays zero)."""
    g = sign * grad + decay * param
    x = keep * param
    if IV >= 0:
        v_at = state_ptr + IV * SIZE + off
        v = v_keep * tl.load(v_at, mask=mask, other=0.0) + v_take * g * g
        tl.store(v_at, v, mask=mask)
        square = v_scale * v
        if IA >= 0:
            a_at = state_ptr + IA * SIZE + off
            a = a_keep * tl.load(a_at, mask=mask, other=0.0) + a_take * g
            tl.store(a_at, a, mask=mask)
            square = square - a * a
        den = _sqrt(square) + eps
        m_at = state_ptr + IM * SIZE + off
        if M_AFTER:
            m = m_keep * tl.load(m_at, mask=mask, other=0.0) + m_take * _div(g, den)
            tl.store(m_at, m, mask=mask)
            new = x - m_coef * m
        else:
            m = m_keep * tl.load(m_at, mask=mask, other=0.0) + m_take * g
            tl.store(m_at, m, mask=mask)
            new = x - _div(g_coef * g + m_coef * m, den)
    elif IM >= 0:
        m_at = state_ptr + IM * SIZE + off
        m = m_keep * tl.load(m_at, mask=mask, other=0.0) + m_take * g
        tl.store(m_at, m, mask=mask)
        new = x - (g_coef * g + m_coef * m)
    else:
        new = x - g_coef * g
    return tl.where(mask, new, 0.0)


@triton.jit(do_not_specialize=["members", "n", "batch", "first_row", "row_base", "row_stride"])
def _train_epoch(
    x_ptr, y_ptr, order_ptr, params_ptr, state_ptr, coef_ptr,
    active_ptr, batch_mean_ptr, batch_last_ptr, full_loss_ptr, correct_ptr,
    members, n, batch, first_row, row_base, row_stride,
    D: tl.constexpr, H: tl.constexpr, C: tl.constexpr, DP: tl.constexpr, HP: tl.constexpr, CP: tl.constexpr,
    SHUFFLE: tl.constexpr, SLOTS: tl.constexpr, IM: tl.constexpr, IV: tl.constexpr, IA: tl.constexpr,
    M_AFTER: tl.constexpr, K: tl.constexpr, ACT: tl.constexpr, BLOCK: tl.constexpr,
):
    """One epoch for ``BLOCK`` members, then their full-data loss and correct predictions. Step ``s`` reads
    coefficient row ``row_base + s·row_stride`` of ``coef_ptr`` (rows × members × K), or row 0 for the first
    step when ``first_row``."""
    p = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    live = (p < members) & (tl.load(active_ptr + p, mask=p < members, other=0) != 0)
    member = p[:, None, None]
    live3 = live[:, None, None]
    inputs = tl.arange(0, DP)[None, :, None]
    classes = tl.arange(0, CP)[None, :, None]
    hidden = tl.arange(0, HP)[None, None, :]
    SIZE: tl.constexpr = D * H + H + C * H + C
    row = tl.cast(member, tl.int64) * SIZE
    srow = tl.cast(member, tl.int64) * (SLOTS * SIZE)
    w1_off = inputs * H + hidden
    b1_off = D * H + hidden
    w2_off = D * H + H + classes * H + hidden
    b2_off = D * H + H + C * H + classes
    w1_mask = live3 & (inputs < D) & (hidden < H)
    b1_mask = live3 & (hidden < H)
    w2_mask = live3 & (classes < C) & (hidden < H)
    b2_mask = live3 & (classes < C)
    w1 = tl.load(params_ptr + row + w1_off, mask=w1_mask, other=0.0)
    b1 = tl.load(params_ptr + row + b1_off, mask=b1_mask, other=0.0)
    w2 = tl.load(params_ptr + row + w2_off, mask=w2_mask, other=0.0)
    b2 = tl.load(params_ptr + row + b2_off, mask=b2_mask, other=0.0)

    total = tl.zeros([BLOCK, 1, 1], dtype=w1.dtype)
    loss = tl.zeros([BLOCK, 1, 1], dtype=w1.dtype)
    steps = tl.cdiv(n, batch)
    for step in range(0, steps):
        lo = step * batch
        size = tl.minimum(batch, n - lo)
        scale = 1.0 / tl.cast(size, w1.dtype)
        g1 = tl.zeros_like(w1)
        gb1 = tl.zeros_like(b1)
        g2 = tl.zeros_like(w2)
        gb2 = tl.zeros_like(b2)
        loss = tl.zeros([BLOCK, 1, 1], dtype=w1.dtype)
        for i in range(0, size):
            if SHUFFLE:
                sample = tl.load(order_ptr + tl.cast(member, tl.int64) * n + lo + i, mask=live3, other=0)
            else:
                sample = tl.zeros([BLOCK, 1, 1], dtype=tl.int32) + lo + i
            xs = tl.load(x_ptr + sample * D + inputs, mask=live3 & (inputs < D), other=0.0)
            label = tl.load(y_ptr + sample, mask=live3, other=0).to(tl.int32)
            a, logits = _forward(xs, w1, b1, w2, b2, hidden, classes, H, C, ACT)
            nll, probs = _nll(logits, label, classes)
            loss += nll
            d = (probs - tl.where(classes == label, 1.0, 0.0)) * scale
            gb2 += d
            g2 += d * a
            back = _activation_grad(tl.sum(d * w2, axis=1, keep_dims=True), a, ACT)
            gb1 += back
            g1 += xs * back
        loss = loss * scale
        total += loss
        # This step's coefficients, computed on the device from the members' rule (inertia.optim.rules).
        coef_row = tl.where((first_row != 0) & (step == 0), 0, row_base + step * row_stride)
        u = _coefficients(coef_ptr + (tl.cast(coef_row, tl.int64) * members + member) * K, live3)
        w1 = _update(w1, g1, state_ptr + srow, w1_off, w1_mask, *u, SIZE, IM, IV, IA, M_AFTER)
        b1 = _update(b1, gb1, state_ptr + srow, b1_off, b1_mask, *u, SIZE, IM, IV, IA, M_AFTER)
        w2 = _update(w2, g2, state_ptr + srow, w2_off, w2_mask, *u, SIZE, IM, IV, IA, M_AFTER)
        b2 = _update(b2, gb2, state_ptr + srow, b2_off, b2_mask, *u, SIZE, IM, IV, IA, M_AFTER)
    tl.store(params_ptr + row + w1_off, w1, mask=w1_mask)
    tl.store(params_ptr + row + b1_off, b1, mask=b1_mask)
    tl.store(params_ptr + row + w2_off, w2, mask=w2_mask)
    tl.store(params_ptr + row + b2_off, b2, mask=b2_mask)
    tl.store(batch_mean_ptr + member, total / tl.cast(steps, w1.dtype), mask=live3)
    tl.store(batch_last_ptr + member, loss, mask=live3)

    full = tl.zeros([BLOCK, 1, 1], dtype=w1.dtype)
    hits = tl.zeros([BLOCK, 1, 1], dtype=tl.int32)
    for i in range(0, n):
        xs = tl.load(x_ptr + i * D + inputs, mask=inputs < D, other=0.0)
        label = tl.load(y_ptr + i).to(tl.int32)
        a, logits = _forward(xs, w1, b1, w2, b2, hidden, classes, H, C, ACT)
        nll, probs = _nll(logits, label, classes)
        full += nll
        hits += (tl.argmax(logits, axis=1, keep_dims=True) == label).to(tl.int32)
    tl.store(full_loss_ptr + member, full / n, mask=live3)
    tl.store(correct_ptr + member, hits, mask=live3)


@triton.jit
def _apply_update(param_ptr, grad_ptr, state_ptr, coef_ptr, SIZE: tl.constexpr, N: tl.constexpr, IM: tl.constexpr,
                  IV: tl.constexpr, IA: tl.constexpr, M_AFTER: tl.constexpr):
    off = tl.arange(0, N)[None, None, :]
    mask = off < SIZE
    live = tl.full([1, 1, 1], 1, tl.int1)
    param = tl.load(param_ptr + off, mask=mask, other=0.0)
    grad = tl.load(grad_ptr + off, mask=mask, other=0.0)
    u = _coefficients(coef_ptr + tl.zeros([1, 1, 1], dtype=tl.int32), live)
    new = _update(param, grad, state_ptr, off, mask, *u, SIZE, IM, IV, IA, M_AFTER)
    tl.store(param_ptr + off, new, mask=mask)


def apply_update(params, state, grads, coefficients, rows, m_after) -> None:
    """:func:`_update` alone, in place on one flat vector ``params`` and its ``state`` (slots, size), with one
    step's ``coefficients`` (the fields of :class:`inertia.optim.update.Update`): the counterpart of
    :func:`inertia.population.kernels.apply_update`, for testing the update against
    :func:`inertia.optim.update.apply`."""
    size = params.shape[0]
    _apply_update[(1,)](params, grads, state, coefficients, SIZE=size, N=triton.next_power_of_2(size),
                        IM=rows[0], IV=rows[1], IA=rows[2], M_AFTER=m_after)


def launch_shape(hidden: int) -> tuple[int, int]:
    """Members per program and warps per program. One member per warp was fastest on an H100 for the lab's
    ``[2, 50, 3]`` (1.2 M model-epochs/s against 0.35–1.1 M for 2–8 members per program and 1–4 warps,
    ``benchmarks/README.md``): each thread holds two hidden units of every weight and gradient, and the
    reductions over the hidden units stay inside the warp. Wider layers get a second warp."""
    return (1, 1) if hidden <= 64 else (1, 2)


def shuffle_orders(seed_words: torch.Tensor, epoch: int, n: int) -> torch.Tensor:
    """:func:`inertia.shuffle.orders` computed where ``seed_words`` live: int32 (members, n)."""
    members = len(seed_words)
    order = torch.arange(n, dtype=torch.int32, device=seed_words.device).repeat(members, 1)
    block = 64
    _shuffle[(triton.cdiv(members, block),)](order, seed_words, epoch, members, n, BLOCK=block)
    return order


def train_epoch(x, y, order, params, state, coefficients, active, *, hidden, rows, m_after, first_row, row_base,
                row_stride, batch, activation, block=None, warps=None):
    """Launch :func:`_train_epoch` over all members; returns (batch-loss mean, last batch loss, full-data loss,
    correct predictions), NaN (or 0) for inactive members. ``order`` is None without shuffling; ``state`` is
    (members, slots, size); ``coefficients`` is (rows, members, fields) (see :func:`_train_epoch` for which row
    a step reads); ``rows`` are the state rows of slots m, v and a (-1 when absent). ``block`` (members per
    program) and ``warps`` (per program) default to :func:`launch_shape`."""
    members, n, d = params.shape[0], x.shape[0], x.shape[1]
    c = (params.shape[1] - d * hidden - hidden) // (hidden + 1)
    outputs = [torch.full((members,), float("nan"), dtype=params.dtype, device=params.device) for _ in range(3)]
    correct = torch.zeros(members, dtype=torch.int32, device=params.device)
    default_block, default_warps = launch_shape(hidden)
    if os.environ.get("TRITON_INTERPRET") == "1":  # the interpreter pays per program: take members 16 at a time
        default_block = 16
    block, warps = block or default_block, warps or default_warps
    im, iv, ia = rows
    _train_epoch[(triton.cdiv(members, block),)](
        x, y, order if order is not None else y, params, state, coefficients, active, *outputs, correct,
        members, n, batch, int(first_row), row_base, row_stride,
        D=d, H=hidden, C=c, DP=triton.next_power_of_2(d), HP=triton.next_power_of_2(hidden),
        CP=triton.next_power_of_2(c), SHUFFLE=order is not None, SLOTS=max(state.shape[1], 1), IM=im, IV=iv,
        IA=ia, M_AFTER=m_after, K=coefficients.shape[-1], ACT=ACTIVATIONS[activation], BLOCK=block,
        num_warps=warps,
    )
    return (*outputs, correct)
