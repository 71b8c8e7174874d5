"""The momentum update math, written once, as pure functions over NumPy arrays or torch tensors.

Every engine in inertia (the torch optimizer, the NumPy network, the population trainer) calls
:func:`momentum_step` instead of restating the formulas. With ``g`` the gradient (negated when
``maximize``, plus ``weight_decay · p``, i.e. coupled L2 as in ``torch.optim.SGD``), ``m`` the momentum,
``d`` the dampening and ``lr`` the learning rate of this step, the three forms are:

``pytorch`` (``torch.optim.SGD``)::

    b = g                      on the first step (no dampening then)
    b = m·b + (1 − d)·g        afterwards
    s = g + m·b  if nesterov  else  b
    p = p − lr·s

``polyak`` (heavy ball as Polyak and Sutskever write it; seeds 002 and 004), velocity from zero::

    v = m·v − lr·(1 − d)·g
    p = p + m·v − lr·(1 − d)·g   if nesterov   else   p + v

``ema`` (an exponential moving average of gradients; seed 003), from zero::

    v = m·v + (1 − m)·g
    s = (1 − m)·g + m·v  if nesterov  else  v
    p = p − lr·s

Where they agree: ``ema`` at (lr, m) equals ``pytorch`` at (lr·(1 − m), m) step for step under any
learning-rate schedule; ``polyak`` at (lr, m) equals ``pytorch`` at (lr, m) while lr is constant, and differs
once it changes, since the velocity keeps the old learning rates (see :mod:`inertia.forms`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FORMS = ("pytorch", "polyak", "ema")


def check_momentum(momentum) -> None:
    """The one check of a momentum value, with one message, for every command and engine: 0 <= m < 1 (at
    m >= 1 no form forgets its past, and heavy ball converges on no quadratic)."""
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0.0 <= momentum < 1.0:
        raise ValueError(f"Invalid momentum value: {momentum} (allowed: 0 <= momentum < 1)")


def check_hyperparameters(lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, form="pytorch"):
    """Raise ``ValueError`` with torch's wording for anything ``torch.optim.SGD`` would reject, and for
    what only inertia's forms can get wrong."""
    if not isinstance(lr, (int, float)) or not lr >= 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")
    check_momentum(momentum)
    if not weight_decay >= 0.0:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")
    if not 0.0 <= dampening <= 1.0:
        raise ValueError(f"Invalid dampening value: {dampening} (allowed: 0 <= dampening <= 1)")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")
    if form not in FORMS:
        raise ValueError(f"Invalid form: {form!r} (allowed: {', '.join(FORMS)})")
    if form == "ema" and dampening != 0:
        raise ValueError("form='ema' already weights the gradient by (1 - momentum); dampening must be 0")


def momentum_step(param, grad, buf, *, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0,
                  maximize=False, form="pytorch"):
    """One update of ``param`` from ``grad``; returns ``(new_param, new_buf)``.

    ``buf`` is the momentum buffer (``None`` before the first step) and comes back ``None`` when
    ``momentum == 0`` in the ``pytorch`` form, as in torch. Works on NumPy arrays and torch tensors alike;
    nothing is modified in place. ``lr``, ``momentum``, ``dampening`` and ``weight_decay`` may also be arrays
    that broadcast against ``param`` (one value per model of a stacked population); a zero momentum in such
    an array keeps a buffer, which equals torch's behaviour as long as dampening is 0 wherever momentum is.
    """
    g = -grad if maximize else grad
    if not _is_zero(weight_decay):
        g = g + weight_decay * param
    if form == "pytorch":
        if _is_zero(momentum):
            return param - lr * g, None
        buf = _copy(g) if buf is None else momentum * buf + (1 - dampening) * g
        step = g + momentum * buf if nesterov else buf
        return param - lr * step, buf
    if form == "polyak":
        push = lr * (1 - dampening) * g
        buf = -push if buf is None else momentum * buf - push
        return (param + momentum * buf - push if nesterov else param + buf), buf
    if form == "ema":
        fresh = (1 - momentum) * g
        buf = fresh if buf is None else momentum * buf + fresh
        step = fresh + momentum * buf if nesterov else buf
        return param - lr * step, buf
    raise ValueError(f"Invalid form: {form!r} (allowed: {', '.join(FORMS)})")


def _is_zero(value) -> bool:
    """True for a plain number equal to 0; arrays of per-model values always take the general path."""
    return isinstance(value, (int, float)) and value == 0


def _copy(x):
    """A fresh copy (the first buffer must not alias the caller's gradient, which may be zeroed in place)."""
    return x.clone() if hasattr(x, "clone") else x.copy()


# Learning-rate schedules: pure functions of the step index t = 0, 1, 2, ... (the update being made). Their
# fields may be arrays (one value per model) and t an array of steps: the formulas broadcast.


@dataclass(frozen=True)
class Constant:
    """``lr_t = lr``."""

    lr: float

    def __call__(self, t: int) -> float:
        return self.lr


@dataclass(frozen=True)
class InverseTime:
    """``lr_t = lr / (1 + decay·t)`` (seed 004's ``Optimizer_SGD(decay=...)``)."""

    lr: float
    decay: float

    def __call__(self, t: int) -> float:
        return self.lr * (1.0 / (1.0 + self.decay * t))


@dataclass(frozen=True)
class Step:
    """``lr_t = lr · gamma^⌊t / every⌋``."""

    lr: float
    every: int
    gamma: float = 0.1

    def __call__(self, t: int) -> float:
        return self.lr * self.gamma ** (t // self.every)


@dataclass(frozen=True)
class Cosine:
    """``lr_t = floor + (lr − floor)·(1 + cos(π·min(t, total)/total))/2``: from lr down to ``floor`` at ``total``."""

    lr: float
    total: int
    floor: float = 0.0

    def __call__(self, t: int) -> float:
        progress = np.minimum(t, self.total) / self.total
        return self.floor + (self.lr - self.floor) * (1 + np.cos(np.pi * progress)) / 2


def schedule(kind: str, lr: float, **params) -> Constant | InverseTime | Step | Cosine:
    """A schedule by name: ``constant``, ``inverse_time`` (decay), ``step`` (every, gamma), ``cosine`` (total)."""
    kinds = {"constant": Constant, "inverse_time": InverseTime, "step": Step, "cosine": Cosine}
    if kind not in kinds:
        raise ValueError(f"Invalid schedule: {kind!r} (allowed: {', '.join(kinds)})")
    try:
        return kinds[kind](lr, **params)
    except TypeError as exc:
        raise ValueError(f"schedule {kind!r}: {exc}") from None
