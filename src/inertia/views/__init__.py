"""Views: what people look at, made from results that studies and sweeps return or saved. Views read results
and draw; nothing below them imports a view.

- :mod:`~inertia.views.report`: one self-contained HTML page of a comparison, batch study or sweep
  (``write_report(folder_or_store)``), from :mod:`~inertia.views.page` (the shell), :mod:`~inertia.views.charts`
  (Plotly figures), :mod:`~inertia.views.conclusions` (sentences with their statistics),
  :mod:`~inertia.views.study_report` and :mod:`~inertia.views.sweep_report`;
- :mod:`~inertia.views.sweep_plots`: a sweep's heatmaps and parallel coordinates (PNG);
- :mod:`~inertia.views.tensorboard`: TensorBoard scalars and HParams for comparisons and sweeps.

``write_report`` loads from here on first use.
"""

from __future__ import annotations

import importlib

__all__ = ["write_report"]


def __getattr__(name: str):
    if name == "write_report":
        return importlib.import_module("inertia.views.report").write_report
    raise AttributeError(f"module 'inertia.views' has no attribute {name!r}")
