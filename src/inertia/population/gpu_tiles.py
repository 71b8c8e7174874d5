"""A Triton kernel for population training of MLPs of any depth and width on a GPU, every optimizer.

:mod:`inertia.population.gpu_kernels` holds a one-hidden-layer member's weights in registers, which suits the lab's
``[2, 50, 3]`` and nothing much wider. Here one program trains members one after another (a persistent grid), each
through a whole epoch, as small dense matrix products of a minibatch's rows with a layer's weights (``tl.dot`` on
tiles of ``BM`` rows × ``BN`` outputs, reducing ``BK`` inputs at a time; the weight gradient reduces over the rows),
so any width and depth is a loop over tiles. A member's weights and optimizer state stay in global memory, where the
few hundred members in flight at once stay in the L2 cache; a minibatch's activations and gradients go through a
small scratch area per program. The update is :func:`inertia.population.gpu_kernels._update` (no optimizer's formula
is written here), with the coefficients of every optimizer of :mod:`inertia.optim.rules` computed by torch on the
device.

Per step, with a barrier between phases (one program's threads read what the others wrote): gather the
minibatch, each layer forward (the hidden ones through the activation), the softmax and its gradient, then
from the last layer down: the gradient carried back to the layer's input (through the activation, with the
weights not yet updated), then the weight and bias gradients, each tile updated as soon as it is known.

Layout per member (one flat row of ``params``): per layer its weight as (inputs, outputs), then its bias.
Precision: ``ieee`` (the default) multiplies float32 on the FMA units, as torch does, so members equal
:func:`inertia.train.fit` to the tests' tolerances; ``tf32`` runs the products on the tensor cores with
10-bit mantissas (an opt-in: results are no longer held to the float32 tolerances).

With ``TRITON_INTERPRET=1`` the kernel runs on CPU tensors (slowly), which is how the tests check it without a GPU.
"""

from __future__ import annotations

import itertools
import os

import torch
import triton
import triton.language as tl

from inertia.population.gpu_kernels import _activate, _activation_grad, _coefficients, _update

PRECISIONS = ("ieee", "tf32")


@triton.jit
def _samples(order_ptr, orow, lo, rows, live, SHUFFLE: tl.constexpr):
    """The data rows of minibatch rows ``lo + rows``: the epoch's order where shuffled, else themselves."""
    if SHUFFLE:
        return tl.load(order_ptr + orow + lo + rows, mask=live, other=0)
    return lo + rows


@triton.jit
def _gather(a_ptr, x_ptr, order_ptr, orow, lo, size, D, SHUFFLE: tl.constexpr, BM: tl.constexpr,
            BK: tl.constexpr):
    """Rows ``lo .. lo + size`` of the epoch's order (or of the data) into the scratch ``a_ptr`` (size, D)."""
    for r0 in range(0, size, BM):
        rows = r0 + tl.arange(0, BM)[:, None]
        live = rows < size
        sample = _samples(order_ptr, orow, lo, rows, live, SHUFFLE)
        for k0 in range(0, D, BK):
            cols = k0 + tl.arange(0, BK)[None, :]
            v = tl.load(x_ptr + sample * D + cols, mask=live & (cols < D), other=0.0)
            tl.store(a_ptr + rows * D + cols, v, mask=live & (cols < D))


@triton.jit
def _product(a_ptr, a_rows, a_inner, b_ptr, b_inner, b_cols, rows, cols, m, n, inner, BR: tl.constexpr,
             BC: tl.constexpr, BI: tl.constexpr, PREC: tl.constexpr):
    """One tile of a matrix product, Σᵢ a[r, i] · b[i, c] over i < ``inner`` in steps of BI, for ``rows`` (BR, 1)
    below ``m`` and ``cols`` (1, BC) below ``n``: a[r, i] at ``a_ptr + r·a_rows + i·a_inner``, b[i, c] at
    ``b_ptr + i·b_inner + c·b_cols`` (a transposed operand is the same memory read with its strides swapped)."""
    acc = tl.zeros([BR, BC], dtype=b_ptr.dtype.element_ty)
    for i0 in range(0, inner, BI):
        i = i0 + tl.arange(0, BI)
        a = tl.load(a_ptr + rows * a_rows + i[None, :] * a_inner, mask=(rows < m) & (i[None, :] < inner),
                    other=0.0)
        b = tl.load(b_ptr + i[:, None] * b_inner + cols * b_cols, mask=(i[:, None] < inner) & (cols < n),
                    other=0.0)
        acc = tl.dot(a, b, acc, input_precision=PREC, out_dtype=acc.dtype)
    return acc


@triton.jit
def _dense(in_ptr, w_ptr, b_ptr, out_ptr, size, n_in, n_out, hidden, ACT: tl.constexpr, BM: tl.constexpr,
           BN: tl.constexpr, BK: tl.constexpr, PREC: tl.constexpr):
    """out (size, n_out) = in (size, n_in) @ w (n_in, n_out) + b, through the activation when ``hidden``."""
    for r0 in range(0, size, BM):
        rows = r0 + tl.arange(0, BM)[:, None]
        live = rows < size
        for n0 in range(0, n_out, BN):
            cols = n0 + tl.arange(0, BN)[None, :]
            acc = _product(in_ptr, n_in, 1, w_ptr, n_out, 1, rows, cols, size, n_out, n_in, BM, BN, BK, PREC)
            acc += tl.load(b_ptr + cols, mask=cols < n_out, other=0.0)
            if hidden:
                acc = _activate(acc, ACT)
            tl.store(out_ptr + rows * n_out + cols, acc, mask=live & (cols < n_out))


@triton.jit
def _softmax(z_ptr, g_ptr, y_ptr, order_ptr, orow, lo, size, scale, C, SHUFFLE: tl.constexpr,
             GRAD: tl.constexpr, BM: tl.constexpr, CP: tl.constexpr):
    """Summed cross-entropy of logits ``z_ptr`` (size, C) and correct predictions; with ``GRAD`` the gradient
    of ``scale`` × the summed loss w.r.t. the logits into ``g_ptr`` (size, C)."""
    total = tl.zeros([BM], dtype=z_ptr.dtype.element_ty)
    hits = tl.zeros([BM], dtype=tl.int32)
    classes = tl.arange(0, CP)[None, :]
    for r0 in range(0, size, BM):
        rows = r0 + tl.arange(0, BM)
        live = rows < size
        sample = _samples(order_ptr, orow, lo, rows, live, SHUFFLE)
        label = tl.load(y_ptr + sample, mask=live, other=0).to(tl.int32)
        at = rows[:, None] * C + classes
        logits = tl.load(z_ptr + at, mask=live[:, None] & (classes < C), other=0.0)
        logits = tl.where(classes < C, logits, float("-inf"))
        top = tl.max(logits, axis=1, keep_dims=True)
        e = tl.exp(logits - top)
        mass = tl.sum(e, axis=1, keep_dims=True)
        picked = tl.sum(tl.where(classes == label[:, None], logits, 0.0), axis=1, keep_dims=True)
        nll = tl.log(mass) - (picked - top)
        total += tl.where(live, tl.sum(nll, axis=1), 0.0)
        hits += tl.where(live & (tl.argmax(logits, axis=1) == label), 1, 0)
        if GRAD:
            d = (e / mass - tl.where(classes == label[:, None], 1.0, 0.0)) * scale
            tl.store(g_ptr + at, d, mask=live[:, None] & (classes < C))
    return tl.sum(total, axis=0), tl.sum(hits, axis=0)


@triton.jit
def _carry_back(g_ptr, w_ptr, a_ptr, out_ptr, size, n_in, n_out, ACT: tl.constexpr, BM: tl.constexpr,
                BN: tl.constexpr, BK: tl.constexpr, PREC: tl.constexpr):
    """out (size, n_in) = (g (size, n_out) @ wᵀ) carried through the activation whose output is a (size, n_in)."""
    for r0 in range(0, size, BM):
        rows = r0 + tl.arange(0, BM)[:, None]
        live = rows < size
        for k0 in range(0, n_in, BN):
            ks = k0 + tl.arange(0, BN)[None, :]
            acc = _product(g_ptr, n_out, 1, w_ptr, 1, n_out, rows, ks, size, n_in, n_out, BM, BN, BK, PREC)  # g @ wᵀ
            a = tl.load(a_ptr + rows * n_in + ks, mask=live & (ks < n_in), other=0.0)
            tl.store(out_ptr + rows * n_in + ks, _activation_grad(acc, a, ACT), mask=live & (ks < n_in))


@triton.jit
def _descend(a_ptr, g_ptr, params_ptr, state_ptr, w_at, b_at, size, n_in, n_out, sign, decay, keep, m_keep,
             m_take, v_keep, v_take, a_keep, a_take, v_scale, eps, g_coef, m_coef, SIZE,
             IM: tl.constexpr, IV: tl.constexpr, IA: tl.constexpr, M_AFTER: tl.constexpr, BM: tl.constexpr,
             BN: tl.constexpr, BK: tl.constexpr, PREC: tl.constexpr):
    """The layer's weight gradient aᵀ (n_in, size) @ g (size, n_out) and bias gradient Σ g, each tile updated
    in place (parameters and optimizer state) as soon as it is known."""
    for k0 in range(0, n_in, BK):
        ks = k0 + tl.arange(0, BK)[:, None]
        for n0 in range(0, n_out, BN):
            cols = n0 + tl.arange(0, BN)[None, :]
            grad = _product(a_ptr, 1, n_in, g_ptr, n_out, 1, ks, cols, n_in, n_out, size, BK, BN, BM, PREC)  # aᵀ @ g
            off = w_at + ks * n_out + cols
            mask = (ks < n_in) & (cols < n_out)
            param = tl.load(params_ptr + off, mask=mask, other=0.0)
            new = _update(param, grad, state_ptr, off, mask, sign, decay, keep, m_keep, m_take, v_keep, v_take,
                          a_keep, a_take, v_scale, eps, g_coef, m_coef, SIZE, IM, IV, IA, M_AFTER)
            tl.store(params_ptr + off, new, mask=mask)
    for n0 in range(0, n_out, BN):
        cols = n0 + tl.arange(0, BN)[None, :]
        grad = tl.zeros([1, BN], dtype=params_ptr.dtype.element_ty)
        for r0 in range(0, size, BM):
            rows = r0 + tl.arange(0, BM)[:, None]
            g = tl.load(g_ptr + rows * n_out + cols, mask=(rows < size) & (cols < n_out), other=0.0)
            grad += tl.sum(g, axis=0, keep_dims=True)
        off = b_at + cols
        mask = cols < n_out
        param = tl.load(params_ptr + off, mask=mask, other=0.0)
        new = _update(param, grad, state_ptr, off, mask, sign, decay, keep, m_keep, m_take, v_keep, v_take,
                      a_keep, a_take, v_scale, eps, g_coef, m_coef, SIZE, IM, IV, IA, M_AFTER)
        tl.store(params_ptr + off, new, mask=mask)


@triton.jit
def _forward(shape_ptr, params, scratch, size, layers, ACT: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr,
             BK: tl.constexpr, PREC: tl.constexpr):
    """Every layer forward on the ``size`` rows gathered at the first layer's input; logits at the last's output."""
    for layer in range(0, layers):
        s = shape_ptr + layer * 6
        _dense(scratch + tl.load(s + 4), params + tl.load(s + 2), params + tl.load(s + 3),
               scratch + tl.load(s + 5), size, tl.load(s + 0), tl.load(s + 1), layer < layers - 1, ACT, BM, BN,
               BK, PREC)
        tl.debug_barrier()


@triton.jit(do_not_specialize=["members", "n", "batch", "first_row", "row_base", "row_stride", "layers", "D", "C",
                               "SIZE", "SCRATCH", "ROWS", "G0", "G1"])
def _train_epoch(
    x_ptr, y_ptr, order_ptr, params_ptr, state_ptr, coef_ptr, active_ptr, shape_ptr, scratch_ptr, next_ptr,
    batch_mean_ptr, batch_last_ptr, full_loss_ptr, correct_ptr,
    members, n, batch, first_row, row_base, row_stride, layers, D, C, SIZE, SCRATCH, ROWS, G0, G1,
    CP: tl.constexpr, SHUFFLE: tl.constexpr, SLOTS: tl.constexpr, IM: tl.constexpr, IV: tl.constexpr,
    IA: tl.constexpr, M_AFTER: tl.constexpr, K: tl.constexpr, ACT: tl.constexpr, BM: tl.constexpr,
    BN: tl.constexpr, BK: tl.constexpr, PREC: tl.constexpr,
):
    """One epoch for every member (each program takes the next member not yet taken, counted at ``next_ptr``,
    until none is left), then each member's full-data loss and correct predictions. Step ``s`` reads coefficient
    row ``row_base + s·row_stride`` of ``coef_ptr`` (rows × members × K), or row 0 for the first step when
    ``first_row``."""
    pid = tl.program_id(0)
    scratch = scratch_ptr + tl.cast(pid, tl.int64) * SCRATCH
    last = shape_ptr + (layers - 1) * 6
    logits = scratch + tl.load(last + 5)
    steps = tl.cdiv(n, batch)
    member = tl.atomic_add(next_ptr, 1)  # members are handed out one at a time to whichever program is free
    while member < members:
        if tl.load(active_ptr + member) != 0:
            params = params_ptr + tl.cast(member, tl.int64) * SIZE
            state = state_ptr + tl.cast(member, tl.int64) * (SLOTS * SIZE)
            orow = tl.cast(member, tl.int64) * n
            total = tl.zeros([], dtype=params_ptr.dtype.element_ty)
            loss = tl.zeros([], dtype=params_ptr.dtype.element_ty)
            for step in range(0, steps):
                lo = step * batch
                size = tl.minimum(batch, n - lo)
                scale = 1.0 / tl.cast(size, params_ptr.dtype.element_ty)
                _gather(scratch, x_ptr, order_ptr, orow, lo, size, D, SHUFFLE, BM, BK)
                tl.debug_barrier()
                _forward(shape_ptr, params, scratch, size, layers, ACT, BM, BN, BK, PREC)
                summed, _ = _softmax(logits, scratch + G0, y_ptr, order_ptr, orow, lo, size, scale, C, SHUFFLE,
                                     True, BM, CP)
                loss = summed * scale
                total += loss
                tl.debug_barrier()
                coef_row = tl.where((first_row != 0) & (step == 0), 0, row_base + step * row_stride)
                u = _coefficients(coef_ptr + (tl.cast(coef_row, tl.int64) * members + member) * K, member < members)
                for back in range(0, layers):
                    layer = layers - 1 - back
                    s = shape_ptr + layer * 6
                    n_in, n_out = tl.load(s + 0), tl.load(s + 1)
                    a_in = scratch + tl.load(s + 4)
                    g = scratch + tl.where(back % 2 == 0, G0, G1)
                    if layer > 0:  # into the next layer down, with this layer's weights before their update
                        _carry_back(g, params + tl.load(s + 2), a_in, scratch + tl.where(back % 2 == 0, G1, G0),
                                    size, n_in, n_out, ACT, BM, BN, BK, PREC)
                        tl.debug_barrier()
                    _descend(a_in, g, params, state, tl.load(s + 2), tl.load(s + 3), size, n_in, n_out, *u, SIZE,
                             IM, IV, IA, M_AFTER, BM, BN, BK, PREC)
                    tl.debug_barrier()
            tl.store(batch_mean_ptr + member, total / tl.cast(steps, params_ptr.dtype.element_ty))
            tl.store(batch_last_ptr + member, loss)

            full = tl.zeros([], dtype=params_ptr.dtype.element_ty)
            hits = tl.zeros([], dtype=tl.int32)
            for lo in range(0, n, ROWS):
                size = tl.minimum(ROWS, n - lo)
                _gather(scratch, x_ptr, order_ptr, orow, lo, size, D, False, BM, BK)
                tl.debug_barrier()
                _forward(shape_ptr, params, scratch, size, layers, ACT, BM, BN, BK, PREC)
                summed, right = _softmax(logits, scratch + G0, y_ptr, order_ptr, orow, lo, size, 1.0, C, False,
                                         False, BM, CP)
                full += summed
                hits += right
                tl.debug_barrier()
            tl.store(full_loss_ptr + member, full / n)
            tl.store(correct_ptr + member, hits)
        member = tl.atomic_add(next_ptr, 1)


def shape_table(layers, rows: int) -> tuple[torch.Tensor, int, int, int]:
    """The kernel's shape table for a network ``layers`` trained ``rows`` samples at a time: int32, one row of 6
    per layer, in the order the kernel reads them (``s + 0`` ... ``s + 5``): inputs, outputs, the offsets of the
    weight and of the bias in a member's row, and of the layer's input and output activations in a program's
    scratch. Returned with the offsets of the scratch's two gradient buffers and its size (values)."""
    table, at, scratch = [], 0, rows * layers[0]
    for n_in, n_out in itertools.pairwise(layers):
        table.append([n_in, n_out, at, at + n_in * n_out, scratch - rows * n_in, scratch])
        at += (n_in + 1) * n_out
        scratch += rows * n_out
    widest = max(layers[1:])
    g0, g1 = scratch, scratch + rows * widest
    return torch.tensor(table, dtype=torch.int32), g0, g1, g1 + rows * widest


def programs(device: torch.device, members: int, per_sm: int = 8) -> int:
    """Programs in the persistent grid: ``per_sm`` per multiprocessor (enough to hide memory latency, few enough
    that the members in flight keep their weights in the L2 cache)."""
    if device.type != "cuda":
        return min(members, 4)
    return min(members, per_sm * torch.cuda.get_device_properties(device).multi_processor_count)


def train_epoch(x, y, order, params, state, coefficients, active, *, layers, rows, m_after, first_row, row_base,
                row_stride, batch, activation, precision="ieee", tiles=(32, 32, 32), warps=4, per_sm=8, stages=1,
                max_registers=128):
    """Launch :func:`_train_epoch` over all members; returns (batch-loss mean, last batch loss, full-data loss,
    correct predictions), NaN (or 0) for inactive members. Arguments as
    :func:`inertia.population.gpu_kernels.train_epoch`, with the network's ``layers``; ``tiles`` are (BM, BN, BK):
    minibatch rows, outputs and inputs per tile; ``per_sm`` programs run on each multiprocessor (:func:`programs`);
    ``stages`` is Triton's software pipelining depth of the inner loops and ``max_registers`` its cap per thread
    (more stages and registers per program leave fewer programs resident). The defaults were the fastest of
    ``benchmarks/tile_shape.py``'s settings on an H200 for ``[2, 50, 50, 3]``, ``[64, 128, 10]`` and
    ``[40, 100, 100, 10]`` alike; ``max_registers`` applies on CUDA only."""
    from inertia.population.layout import ACTIVATION_CODES

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "tf32" and params.dtype != torch.float32:
        raise ValueError("precision='tf32' applies to float32 only")
    members, n = params.shape[0], x.shape[0]
    bm, bn, bk = tiles
    scratch_rows = max(batch, bm) if os.environ.get("TRITON_INTERPRET") == "1" else max(batch, 4 * bm)
    table, g0, g1, scratch_size = shape_table(layers, scratch_rows)
    grid = programs(params.device, members, per_sm)
    scratch = torch.empty((grid, scratch_size), dtype=params.dtype, device=params.device)
    outputs = [torch.full((members,), float("nan"), dtype=params.dtype, device=params.device) for _ in range(3)]
    correct = torch.zeros(members, dtype=torch.int32, device=params.device)
    taken = torch.zeros(1, dtype=torch.int32, device=params.device)  # members handed out so far
    im, iv, ia = rows
    _train_epoch[(grid,)](
        x, y, order if order is not None else y, params, state, coefficients, active, table.to(params.device),
        scratch, taken, *outputs, correct, members, n, batch, int(first_row), row_base, row_stride,
        len(layers) - 1, layers[0], layers[-1], params.shape[1], scratch_size, scratch_rows, g0, g1,
        CP=max(16, triton.next_power_of_2(layers[-1])), SHUFFLE=order is not None,
        SLOTS=max(state.shape[1], 1), IM=im, IV=iv, IA=ia, M_AFTER=m_after, K=coefficients.shape[-1],
        ACT=ACTIVATION_CODES[activation], BM=bm, BN=bn, BK=bk, PREC=precision, num_warps=warps, num_stages=stages,
        **({} if max_registers is None or params.device.type != "cuda" else {"maxnreg": max_registers}),
    )
    return (*outputs, correct)
