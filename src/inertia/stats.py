"""Summaries over seeds: means with Student-t confidence intervals, paired differences, time-to-target."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """A mean over ``n`` finite values with the ``level`` confidence interval ``[low, high]``."""

    mean: float
    low: float
    high: float
    n: int
    level: float = 0.95

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def __str__(self) -> str:
        if self.n == 0:
            return "n/a"
        if self.n == 1:
            return f"{self.mean:.4g}"
        return f"{self.mean:.4g} ± {self.half_width:.2g}"


def mean_ci(values, level: float = 0.95) -> Estimate:
    """Mean of the finite ``values`` and its t-interval; NaN bounds when fewer than two values."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    n = values.size
    if n == 0:
        return Estimate(np.nan, np.nan, np.nan, 0, level)
    mean = float(values.mean())
    if n == 1:
        return Estimate(mean, np.nan, np.nan, 1, level)
    half = float(_t_quantile(0.5 + level / 2, n - 1) * values.std(ddof=1) / np.sqrt(n))
    return Estimate(mean, mean - half, mean + half, n, level)


@functools.lru_cache(maxsize=256)
def _t_quantile(q: float, df: int) -> float:
    """Student's t quantile (SciPy's, about 0.2 ms a call: cached, since tables ask for the same few)."""
    from scipy import stats as scipy_stats  # here, not at import: training paths need no SciPy

    return float(scipy_stats.t.ppf(q, df))


def paired_difference(a, b, level: float = 0.95) -> Estimate:
    """Mean of ``a - b`` over pairs (seeds) where both are finite, with its t-interval."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return mean_ci(a - b, level)


def epochs_to_target(curve, target: float) -> float:
    """The first epoch (1-based) at which ``curve`` reaches ``target`` or more; NaN if it never does."""
    hits = np.flatnonzero(np.asarray(curve) >= target)
    return float(hits[0] + 1) if hits.size else np.nan


def format_estimate(row, name: str, spec: str = ".4g", separator: str = " ± ") -> str:
    """``row[name]`` ± half its interval (``row[name + "_low"]``, ``row[name + "_high"]``) as text, for a
    table row (a dict or a pandas row); "—" for a missing or non-finite mean, the mean alone without an
    interval."""
    def value(key):
        v = row.get(key) if hasattr(row, "get") else row[key]
        return None if v is None or not np.isfinite(v) else float(v)

    mean, low, high = value(name), value(f"{name}_low"), value(f"{name}_high")
    if mean is None:
        return "—"
    if low is None or high is None:
        return format(mean, spec)
    return f"{format(mean, spec)}{separator}{format((high - low) / 2, spec)}"
