"""The checks of a loss landscape's plane (:mod:`inertia.studies.landscape`), light enough for a command to run
before it loads torch."""

from __future__ import annotations

import numpy as np


def check_plane(basis: str, grid, span) -> None:
    """``basis`` pca or filter, ``grid`` points on each axis (an integer ≥ 2), ``span`` the plane's half-width
    (finite and > 0); a ``ValueError`` naming the first field that is not."""
    if basis not in ("pca", "filter"):
        raise ValueError(f"basis must be pca or filter; got {basis!r}")
    if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or grid < 2:
        raise ValueError(f"grid must be an integer ≥ 2 (points on each axis); got {grid!r}")
    if isinstance(span, bool) or not isinstance(span, (int, float, np.floating)) or not (np.isfinite(span) and
                                                                                          span > 0):
        raise ValueError(f"span must be a finite number > 0; got {span!r}")
