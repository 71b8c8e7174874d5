"""inertia: a laboratory for momentum in gradient descent.

The package is layered, each layer importing only from those below it (README, "How the code is organised"):
the foundation at the top of the package (data, models, training one model, outcomes, statistics), then
:mod:`inertia.optim` (the update math), :mod:`inertia.scratch` and :mod:`inertia.population` (the engines),
:mod:`inertia.studies`, :mod:`inertia.sweeps`, :mod:`inertia.views`, :mod:`inertia.lab` and :mod:`inertia.cli`.

The names most used are here: ``inertia.compare``, ``inertia.Comparison``, ``inertia.fit``, ``inertia.MLP``,
``inertia.Momentum``, ``inertia.Dataset``, ``inertia.History``, ``inertia.train_population``, ``inertia.Member``,
``inertia.Members``. Submodules load on first use, so ``import inertia`` (and ``inertia --help``) stay quick. Modules
that moved into the layer folders still import from their old names, with a ``DeprecationWarning``
(:mod:`inertia._moved`).
"""

from __future__ import annotations

import importlib

from inertia import _moved

__version__ = "0.1.0"

_moved.install()

_NAMES = {
    "Comparison": "inertia.studies.comparison",
    "compare": "inertia.studies.comparison",
    "Dataset": "inertia.data",
    "MLP": "inertia.models",
    "Momentum": "inertia.optim",
    "History": "inertia.train",
    "fit": "inertia.train",
    "Member": "inertia.population",
    "Members": "inertia.population",
    "train_population": "inertia.population",
}
_SUBMODULES = {"data", "mnist1d", "models", "optim", "plots", "progress", "scratch", "shuffle", "population",
               "stats", "studies", "sweeps", "train", "views"}
__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"inertia.{name}")
    old = _moved.old_module(name)
    if old is not None:
        return old
    raise AttributeError(f"module 'inertia' has no attribute {name!r}")
