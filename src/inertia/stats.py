"""Summaries over seeds: means with Student-t confidence intervals, paired differences, proportions with Wilson
intervals, time-to-target."""

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
    """Mean of the finite ``values`` and its t-interval; NaN bounds when fewer than two values (the mean too when
    there is none)."""
    mean, low, high, n = mean_ci_rows(np.ravel(np.asarray(values, dtype=float))[None, :], level)
    return Estimate(float(mean[0]), float(low[0]), float(high[0]), int(n[0]), level)


def mean_ci_rows(values, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`mean_ci` of every row of the 2-D ``values`` at once (non-finite entries left out): arrays ``mean``,
    ``low``, ``high`` and ``n`` with one entry per row. What a curve's band over seeds needs, epoch by epoch,
    without a call per epoch; :func:`mean_ci` is its one-row case."""
    values = np.atleast_2d(np.asarray(values, dtype=float))
    finite = np.isfinite(values)
    n = finite.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(finite, values, 0.0).sum(axis=1) / n
        deviation = np.where(finite, values - mean[:, None], 0.0)
        spread = np.sqrt((deviation**2).sum(axis=1) / (n - 1))
        t = np.array([_t_quantile(0.5 + level / 2, int(k) - 1) if k > 1 else np.nan for k in n])
        half = np.where(n > 1, t * spread / np.sqrt(n), np.nan)
    mean = np.where(n > 0, mean, np.nan)
    return mean, mean - half, mean + half, n


def by_epoch(frame, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """The epochs of a long-form ``frame`` (one row per run and epoch) and, per epoch, its runs' ``metric`` as
    the rows of one array (NaN-padded where an epoch has fewer runs)."""
    groups = frame.groupby("epoch")[metric]
    epochs = np.array(list(groups.groups), dtype=int) if len(frame) else np.zeros(0, dtype=int)
    lists = [np.asarray(v, dtype=float) for _, v in groups]
    width = max((len(v) for v in lists), default=0)
    table = np.full((len(lists), width), np.nan)
    for i, v in enumerate(lists):
        table[i, : len(v)] = v
    return epochs, table


@functools.lru_cache(maxsize=256)
def _t_quantile(q: float, df: int) -> float:
    """Student's t quantile (SciPy's ``stdtrit``, the function behind ``scipy.stats.t.ppf``; scipy.special loads
    in a fifth of scipy.stats' time, and calls are cached, since tables ask for the same few)."""
    from scipy.special import stdtrit  # here, not at import: training paths need no SciPy

    return float(stdtrit(df, q))


def paired_difference(a, b, level: float = 0.95) -> Estimate:
    """Mean of ``a - b`` over pairs (seeds) where both are finite, with its t-interval."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return mean_ci(a - b, level)


def proportion_ci(successes: int, n: int, level: float = 0.95) -> Estimate:
    """The fraction ``successes / n`` with its Wilson score interval (sound at 0 and 1, where the normal
    approximation's collapses to a point)."""
    if n == 0:
        return Estimate(np.nan, np.nan, np.nan, 0, level)
    from scipy.special import ndtri

    z = float(ndtri(0.5 + level / 2))
    share = successes / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return Estimate(float(share), float(max(0.0, centre - half)), float(min(1.0, centre + half)), n, level)


def epochs_to_target(curve, target: float) -> float:
    """The first epoch (1-based) at which ``curve`` reaches ``target`` or more; NaN if it never does."""
    hits = np.flatnonzero(np.asarray(curve) >= target)
    return float(hits[0] + 1) if hits.size else np.nan


def format_interval(row, name: str, spec: str = ".4g", low: str | None = None, high: str | None = None) -> str:
    """``row[name]`` and its interval as "mean [low, high]" (the bounds' keys ``low`` and ``high``, by default
    ``name + "_low"`` and ``name + "_high"``); "—" for a missing mean (None or NaN), the mean alone without an
    interval."""
    def missing(v):
        return v is None or v != v

    mean, lower, upper = row[name], row[low or f"{name}_low"], row[high or f"{name}_high"]
    if missing(mean):
        return "—"
    if missing(lower) or missing(upper):
        return format(mean, spec)
    return f"{format(mean, spec)} [{format(lower, spec)}, {format(upper, spec)}]"


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
