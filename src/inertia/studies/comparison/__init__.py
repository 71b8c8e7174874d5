"""The momentum comparison: the seed lab as one call, over several seeds, with paired runs and statistics.

Within one seed every momentum starts from the same initial weights and sees the same minibatch order, so
differences between momenta are paired; across seeds both change. :mod:`~inertia.studies.comparison.config` holds
what determines a comparison (:class:`CompareConfig`; light to import, so a command checks its arguments before
loading torch), :mod:`~inertia.studies.comparison.training` runs one (:func:`compare`),
:mod:`~inertia.studies.comparison.result` is what it returns (:class:`Comparison`). The names below load from here
on first use.
"""

from __future__ import annotations

import importlib

_NAMES = {"HOLDS": "config", "LAB_MOMENTA": "config", "CompareConfig": "config", "OUTPUT_FILES": "result",
          "TABLE_METRICS": "result", "Comparison": "result", "Run": "result", "compare": "training",
          "snapshot_epochs": "training"}
__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(f"inertia.studies.comparison.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'inertia.studies.comparison' has no attribute {name!r}")
