"""Converting momentum hyperparameters between forms, and saying when no conversion exists.

Every exact equivalence goes through ``pytorch`` form without dampening, whose buffer is
``b_t = Σ_k m^(t−k)·g_k`` and whose step is ``lr_t·b_t``:

- ``ema`` (lr, m): ``v_t = (1−m)·b_t``, so it is ``pytorch`` at ``lr·(1−m)`` — under any lr schedule.
- ``polyak`` (lr, m, d): ``v_t = −(1−d)·Σ_k m^(t−k)·lr_k·g_k``. While lr is constant that is
  ``−lr·(1−d)·b_t``: ``pytorch`` at ``lr·(1−d)``. Once lr changes, polyak's velocity keeps each step's own lr
  while pytorch rescales the whole buffer by the current one, and no choice of hyperparameters makes them agree.
- ``pytorch`` with dampening d > 0 starts its buffer at ``g_1`` (undamped), then damps: no zero-started form
  matches it. Against ``b_t`` damped from zero it is ahead by ``m^(t−1)·d·g_1``, a gap that decays as m^t.

Nesterov, weight decay and maximize carry over unchanged.
"""

from __future__ import annotations

from inertia.optim.checks import FORMS, check_hyperparameters
from inertia.optim.rules import QHM


class NoEquivalent(ValueError):
    """No hyperparameters in the target form reproduce the source form's updates."""


def convert(form: str, to: str, lr: float, momentum: float, dampening: float = 0.0, *,
            constant_lr: bool = True) -> dict:
    """Hyperparameters ``{"form", "lr", "momentum", "dampening"}`` in form ``to`` whose updates equal those
    of ``form`` at (lr, momentum, dampening), step for step from the first; ``constant_lr=False`` asks for
    an equivalence that also holds under a learning-rate schedule (lr here is then the schedule's scale).
    Raises :class:`NoEquivalent` with the reason when there is none."""
    check_hyperparameters(lr, momentum, dampening, form=form)
    if to not in FORMS:
        raise ValueError(f"Invalid form: {to!r} (allowed: {', '.join(FORMS)})")
    if form == to:
        return {"form": to, "lr": lr, "momentum": momentum, "dampening": dampening}
    if momentum == 0:  # plain SGD in every form: only polyak's dampening scales the step
        scale = 1 - dampening if form == "polyak" else 1.0
        return {"form": to, "lr": lr * scale, "momentum": 0.0, "dampening": 0.0}

    if form == "pytorch" and dampening != 0:
        raise NoEquivalent(
            f"pytorch with dampening {dampening} starts its buffer at the undamped gradient g1, then damps later "
            f"gradients; {to} starts from zero and damps every gradient. The buffers differ by "
            f"momentum^(t-1)·dampening·g1 at step t: a gap that decays as {momentum}^t but never vanishes."
        )
    if "polyak" in (form, to) and not constant_lr:
        raise NoEquivalent(
            "polyak's velocity sums each step's own learning rate (v = -Σ m^(t-k)·lr_k·g_k), while pytorch and "
            "ema scale the whole buffer by the current one (lr_t·Σ m^(t-k)·g_k); they agree only while lr is "
            "constant."
        )
    base = {"pytorch": lr, "ema": lr * (1 - momentum), "polyak": lr * (1 - dampening)}[form]
    if to == "ema":
        if momentum >= 1:
            raise NoEquivalent(f"ema with momentum {momentum} >= 1 never takes a step; no lr makes it match")
        return {"form": "ema", "lr": base / (1 - momentum), "momentum": momentum, "dampening": 0.0}
    return {"form": to, "lr": base, "momentum": momentum, "dampening": 0.0}


def qhm_to_sgd(lr: float, beta: float, nu: float) -> dict:
    """``torch.optim.SGD`` arguments (``lr``, ``momentum``, ``nesterov``) whose updates equal QHM's at
    (lr, β, ν), step for step: ν = 1 is momentum at lr·(1 − β) (QHM's buffer is the EMA, (1 − β) times
    SGD's), ν = β is Nesterov momentum at lr·(1 − β), and ν = 0 or β = 0 is plain SGD at lr. Other ν mix the
    gradient and the buffer in a proportion no SGD reproduces: :class:`NoEquivalent`."""
    QHM(lr, beta, nu).check()
    if nu == 0 or beta == 0:
        return {"lr": lr, "momentum": 0.0, "nesterov": False}
    if nu == 1:
        return {"lr": lr * (1 - beta), "momentum": beta, "nesterov": False}
    if nu == beta:
        return {"lr": lr * (1 - beta), "momentum": beta, "nesterov": True}
    raise NoEquivalent(
        f"QHM steps by (1 - nu)·g + nu·m with nu = {nu}; SGD steps by its buffer (nu = 1) or by g + beta·buffer "
        f"(Nesterov, nu = beta = {beta}). No SGD hyperparameters give that mix."
    )
