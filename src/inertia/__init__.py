"""inertia: a laboratory for momentum in gradient descent.

Submodules load on first use, so ``import inertia`` (and ``inertia --help``) stay quick.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = {"batch_study", "comparison", "data", "forms", "mnist1d", "models", "nqm", "optim", "plots",
               "progress", "reproduce", "rules", "scratch", "shuffle", "population", "kernels", "stability", "stats",
               "theory", "train", "valley", "velocity"}
_NAMES = {
    "Comparison": "inertia.comparison",
    "compare": "inertia.comparison",
    "Dataset": "inertia.data",
    "MLP": "inertia.models",
    "Momentum": "inertia.optim",
    "History": "inertia.train",
    "fit": "inertia.train",
}
__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"inertia.{name}")
    raise AttributeError(f"module 'inertia' has no attribute {name!r}")
