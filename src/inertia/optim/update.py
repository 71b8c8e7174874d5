"""The one update every optimizer of :mod:`inertia.optim.rules` is an instance of, and its one application.

The update works on at most three state slots, each starting at zero: m (a momentum buffer, velocity or first
moment), v (a second moment) and a (a mean gradient, for centered RMSprop). An optimizer gives, for each step,
the coefficients of the update (:class:`Update`); every engine applies them the same way: :func:`apply` here,
over NumPy arrays or torch tensors (one model, or members stacked on a leading axis); the compiled kernels
restate only :func:`apply`, and the tests hold them to it. The helpers at the end treat a number, a NumPy array
and a torch tensor alike.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

SLOTS = ("m", "v", "a")


@dataclass(frozen=True)
class Update:
    """The coefficients of one step; each may be a number or an array over models. With ``x`` the parameter
    and ``grad`` its gradient::

        g   = sign·grad + decay·x                       coupled weight decay, maximize
        x   = keep·x                                    decoupled weight decay (AdamW)
        v   = v_keep·v + v_take·g²                      second moment          (slot v)
        a   = a_keep·a + a_take·g                       mean gradient          (slot a)
        den = sqrt(v_scale·v − a²) + eps                1 without slot v
        m   = m_keep·m + m_take·g                       first moment           (slot m)
        x   = x − (g_coef·g + m_coef·m) / den

    or, when ``m_after_den`` (RMSprop's momentum, which averages already-scaled steps),
    ``m = m_keep·m + m_take·g/den`` and ``x = x − m_coef·m``.
    """

    sign: object = 1.0
    decay: object = 0.0
    keep: object = 1.0
    m_keep: object = 0.0
    m_take: object = 0.0
    v_keep: object = 0.0
    v_take: object = 0.0
    a_keep: object = 0.0
    a_take: object = 0.0
    v_scale: object = 1.0
    eps: object = 0.0
    g_coef: object = 0.0
    m_coef: object = 0.0


    def broadcast(self, shape) -> Update:
        """The same coefficients with every array reshaped to ``shape`` (e.g. ``(-1, 1, 1)`` for one value per
        model against parameters stacked as (models, rows, columns))."""
        return Update(**{name: value.reshape(shape) if isinstance(value, np.ndarray) else value
                         for name, value in ((f.name, getattr(self, f.name)) for f in fields(self))})


    def table(self, shape, like=None):
        """Every coefficient broadcast to ``shape`` (e.g. updates × models) and stacked on a last axis, in
        :data:`UPDATE_FIELDS` order: what the compiled kernels read. NumPy, or with ``like`` (a tensor) torch
        on its device and in its dtype."""
        if like is None:
            return np.stack([np.broadcast_to(getattr(self, name), shape) for name in UPDATE_FIELDS], axis=-1)
        import torch

        columns = [torch.as_tensor(getattr(self, name), device=like.device, dtype=like.dtype).expand(shape)
                   for name in UPDATE_FIELDS]
        return torch.stack(columns, dim=-1).contiguous()


UPDATE_FIELDS = tuple(f.name for f in fields(Update))


def apply(param, grad, state: dict, u: Update, slots: tuple[str, ...], m_after_den: bool = False):
    """One step of the generic update; returns ``(new_param, new_state)`` (``state`` maps the ``slots`` in use
    to arrays; nothing is modified in place). Works on NumPy arrays and torch tensors alike."""
    g = grad if is_one(u.sign) else u.sign * grad
    if not is_zero(u.decay):
        g = g + u.decay * param
    x = param if is_one(u.keep) else u.keep * param
    state = dict(state)
    den = None
    if "v" in slots:
        state["v"] = u.v_keep * state["v"] + u.v_take * g * g
        square = state["v"] if is_one(u.v_scale) else u.v_scale * state["v"]
        if "a" in slots:
            state["a"] = u.a_keep * state["a"] + u.a_take * g
            square = square - state["a"] * state["a"]
        den = sqrt(square) + u.eps
    if "m" in slots:
        take = g if den is None or not m_after_den else g / den
        state["m"] = u.m_keep * state["m"] + u.m_take * take
    if m_after_den:
        return x - u.m_coef * state["m"], state
    step = u.m_coef * state["m"] if "m" in slots else None
    if not is_zero(u.g_coef) or step is None:
        step = u.g_coef * g if step is None else u.g_coef * g + step
    return (x - step if den is None else x - step / den), state


def initial_state(param, slots: tuple[str, ...]) -> dict:
    """Every slot at zero, shaped like ``param``."""
    return {slot: zeros_like(param) for slot in slots}


def any_nonzero(value) -> bool:
    """Whether any of a number, a NumPy array or a torch tensor is nonzero."""
    return bool(value.any()) if hasattr(value, "any") else bool(value)


def equal(value, target):
    return np.equal(value, target) if isinstance(value, np.ndarray) else value == target


def where(condition, a, b):
    if isinstance(condition, np.ndarray):
        return np.where(condition, a, b)
    if hasattr(condition, "logical_not"):  # a torch tensor: hyperparameters on a device
        import torch

        return torch.where(condition, a, b)
    return a if condition else b


def sqrt(x):
    return x.sqrt() if hasattr(x, "sqrt") else np.sqrt(x)


def zeros_like(x):
    return x.new_zeros(x.shape) if hasattr(x, "new_zeros") else np.zeros_like(x)


def is_zero(value) -> bool:
    """True for a plain number equal to 0; arrays of per-model values always take the general path."""
    return isinstance(value, (int, float)) and value == 0


def is_one(value) -> bool:
    return isinstance(value, (int, float)) and value == 1
