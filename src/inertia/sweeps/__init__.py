"""Sweeps: many configurations of one experiment, run to completion across crashes and machines.

- :mod:`~inertia.sweeps.spec`: a sweep spec (TOML), validated and expanded into configurations with stable ids;
- :mod:`~inertia.sweeps.run`: running them — grouped into populations, on this process, a pool or Ray;
- :mod:`~inertia.sweeps.store`: the SQLite store they are recorded in (claims, atomic records);
- :mod:`~inertia.sweeps.results`: a store's runs over seeds (summaries, paired comparisons, best settings).

The names most used load from here on first use: ``sweep``, ``load_spec``, ``Spec``, ``SpecError``, ``Store``,
``Record``, ``open`` (a store: ``inertia.sweeps.open("runs/sweep.db").runs()``) and ``Results``.
"""

from __future__ import annotations

import importlib

_NAMES = {"sweep": "run", "SweepReport": "run", "load_spec": "spec", "Spec": "spec", "SpecError": "spec",
          "Store": "store", "Record": "store", "open": "store", "Results": "results"}
__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(f"inertia.sweeps.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'inertia.sweeps' has no attribute {name!r}")
