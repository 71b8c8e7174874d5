"""Checks of optimizer hyperparameters, one per kind of value, with ``torch.optim``'s wording where torch says the
same: every optimizer rule's ``check()``, the torch optimizers and every command validate through these, so a bad
value reads the same wherever it is given. Values may be numbers or arrays with one value per model (each element
is checked).
"""

from __future__ import annotations

import numpy as np

FORMS = ("pytorch", "polyak", "ema")  # the forms of momentum (inertia.optim.rules.Momentum)


def check_momentum(momentum) -> None:
    """The one check of a momentum value, with one message, for every command and engine: 0 <= m < 1 (at
    m >= 1 no form forgets its past, and heavy ball converges on no quadratic)."""
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0.0 <= momentum < 1.0:
        raise ValueError(f"Invalid momentum value: {momentum} (allowed: 0 <= momentum < 1)")


def check_hyperparameters(lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, form="pytorch"):
    """Raise ``ValueError`` with torch's wording for anything ``torch.optim.SGD`` would reject, and for
    what only inertia's forms can get wrong."""
    if hasattr(lr, "numel"):  # a tensor learning rate, as torch.optim takes one
        if lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        lr = lr.item()
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



def check_each(check, *args, name=None):
    """Run a scalar ``check`` on every member's values (arrays are checked element by element)."""
    arrays = [np.asarray(a) for a in args]
    if all(a.ndim == 0 for a in arrays):
        check(*args)
        return
    for values in zip(*np.broadcast_arrays(*arrays)):
        check(*(v.item() for v in values))


def check_lr(lr) -> None:
    for value in np.ravel(lr):
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"Invalid learning rate: {value}")


def check_nonnegative(values, what: str) -> None:
    for value in np.ravel(values):
        if not value >= 0:
            raise ValueError(f"Invalid {what}: {value}")


def check_range(values, what: str, low: float, high: float, upper_open: bool = False) -> None:
    for value in np.ravel(values):
        if not (low <= value < high if upper_open else low <= value <= high):
            raise ValueError(f"Invalid {what}: {value} (allowed: {low:g} <= {what.split()[0]} "
                             f"{'<' if upper_open else '<='} {high:g})")
