"""The update math, in one place: every engine of inertia consumes it, none restates it.

- :mod:`~inertia.optim.update`: the one generic update (coefficients over at most three state slots) and its
  application, over NumPy arrays or torch tensors;
- :mod:`~inertia.optim.rules`: every optimizer (momentum in three forms, QHM, Adam, AdamW, RMSprop) as the
  coefficients of that update; read from text, stacked over a population's members;
- :mod:`~inertia.optim.schedules`: learning-rate schedules, functions of the update's index;
- :mod:`~inertia.optim.checks`: the checks of hyperparameter values, with torch's wording;
- :mod:`~inertia.optim.forms`: converting momentum between forms, or saying why no conversion exists;
- :mod:`~inertia.optim.torch_optimizers`: ``torch.optim`` optimizers over the rules (:class:`Momentum` equals
  ``torch.optim.SGD`` in its default form), also importable from here.

Only the torch optimizers need torch; they load on first use, so the NumPy paths stay light.
"""

from __future__ import annotations

import importlib

_TORCH_NAMES = {"HYPERPARAMETERS", "Momentum", "QHM", "for_rule"}
__all__ = sorted(_TORCH_NAMES)


def __getattr__(name: str):
    if name in _TORCH_NAMES:
        return getattr(importlib.import_module("inertia.optim.torch_optimizers"), name)
    raise AttributeError(f"module 'inertia.optim' has no attribute {name!r}")
