"""What a run came to: the one divergence rule, and the one per-run summary every report is built from.

A run **diverged** in the first epoch after which its full-data loss or its mean minibatch loss is not
finite, any of its weights is not finite, or its full-data loss exceeds ``factor`` times its *initial* loss
(the full-data loss of its initial weights; ``factor`` is :data:`DIVERGENCE_FACTOR` unless given). Training
stops there: that epoch keeps the metrics that made the rule fire (the evidence), the epochs after it hold
NaN. :func:`inertia.train.fit` and every population engine apply :func:`diverging` after every epoch, so they
stop the same run at the same epoch and record the same evidence.

A run that trained to the end but whose final full-data loss is no lower than its initial loss made **no
progress**. Every other finished run is **ok**; a sweep also records runs that could not be trained at all
as **failed** (with the error).

How each enters the statistics (:func:`summarize`, used by ``compare``, sweeps, ``results``, reports and
TensorBoard alike):

- *ok* and *no progress* runs are results: their final and best loss and accuracy enter every mean.
- *diverged* runs have no final or best loss or accuracy (NaN), so means and intervals are over the runs that
  did not diverge, and every table counts the diverged runs beside them.
- Epochs to a target count every run that reached it before it diverged, a run that diverged later included
  (the epoch at which it diverged never counts).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

DIVERGENCE_FACTOR = 10.0
STATUSES = ("ok", "no_progress", "diverged", "failed")
# Metrics a target may name: the full-data ones, and a held-out split's where training recorded one.
TARGETS = ("accuracy", "loss", "test_accuracy", "test_loss")
SUMMARY_KEYS = ("status", "final_loss", "best_loss", "final_accuracy", "best_accuracy", "final_batch_loss",
                "initial_loss", "diverged_at")


def check_factor(factor) -> float:
    """``factor`` as a float > 1, or a ``ValueError`` naming the field."""
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not (math.isfinite(factor) and factor > 1):
        raise ValueError(f"Invalid divergence_factor: {factor!r} (allowed: a finite number > 1; "
                         f"default {DIVERGENCE_FACTOR:g})")
    return float(factor)


def diverging(loss, batch_loss_mean, initial_loss, factor: float = DIVERGENCE_FACTOR, finite_weights=True):
    """Whether the divergence rule fires after an epoch ending at full-data ``loss`` (per run: arrays
    broadcast, so one call serves a whole population)."""
    loss, batch_loss_mean = np.asarray(loss, dtype=float), np.asarray(batch_loss_mean, dtype=float)
    with np.errstate(invalid="ignore"):
        blown_up = loss > factor * np.asarray(initial_loss, dtype=float)
    return ~np.isfinite(loss) | ~np.isfinite(batch_loss_mean) | ~np.asarray(finite_weights) | blown_up


def status(history) -> str:
    """``"diverged"``, ``"no_progress"`` or ``"ok"`` for a :class:`~inertia.train.History`."""
    if history.diverged:
        return "diverged"
    if np.isfinite(history.initial_loss) and not history.loss[-1] < history.initial_loss:
        return "no_progress"
    return "ok"


def summarize(history, targets: dict | None = None) -> dict:
    """The one summary of a run: ``status`` and the numbers every table uses (see the module docstring), plus
    ``epochs_to_<name>`` for each of ``targets`` (``{"accuracy": 0.9}``: first epoch at or above; ``{"loss":
    0.2}``: first epoch at or below). NaN where a run has no such value. It is :func:`summarize_columns` for one
    run."""
    names = ("loss", "accuracy", "batch_loss_last", *(targets or {}))
    metrics = {name: np.asarray(getattr(history, name), dtype=float)[None, :] for name in names
               if getattr(history, name, None) is not None}
    at = -1 if history.diverged_at is None else history.diverged_at
    columns = summarize_columns(metrics, [len(history.loss)], [at], [history.initial_loss], targets)
    return {key: str(values[0]) if key == "status" else history.diverged_at if key == "diverged_at"
            else float(values[0]) for key, values in columns.items()}


def reached(name: str, values, value: float) -> np.ndarray:
    """Where ``values`` of metric ``name`` meet the target ``value``: an accuracy at or above it, a loss at or
    below it (NaN never does)."""
    values = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        return values >= value if name.endswith("accuracy") else values <= value


def epochs_to(history, name: str, value: float, diverged_at: int | None = None) -> float:
    """First epoch (1-based) at which the full-data ``name`` (``"accuracy"``: at or above ``value``;
    ``"loss"``: at or below; ``"test_accuracy"``, ``"test_loss"``: the same on the held-out split) is reached
    before the run diverged; NaN if never. ``history`` is a History, or a dict of curves with the run's
    ``diverged_at`` given beside it."""
    if name not in TARGETS:
        raise ValueError(f"unknown target {name!r} (allowed: {', '.join(TARGETS)})")
    curve = history[name] if isinstance(history, dict) else getattr(history, name)
    if not isinstance(history, dict):
        diverged_at = history.diverged_at
    at = -1 if diverged_at is None or (isinstance(diverged_at, float) and math.isnan(diverged_at)) else diverged_at
    metrics = {} if curve is None else {name: np.asarray(curve, dtype=float)[None, :]}
    return float(epochs_to_columns(metrics, name, value, [int(at)])[0])  # one run of the columns' rule


def summarize_columns(metrics: dict, epochs_run, diverged_at, initial_loss, targets: dict | None = None) -> dict:
    """:func:`summarize` for a whole population at once: ``metrics`` maps each metric to a (runs, epochs) array
    (NaN after a run's history ends), ``epochs_run`` is each history's length, ``diverged_at`` the epoch the rule
    fired (−1: never), ``initial_loss`` the loss before training. Returns each summary key (and
    ``epochs_to_<name>`` for ``targets``) as an array over the runs (``status`` of strings; ``diverged_at`` −1
    where :func:`summarize` gives None)."""
    runs = np.arange(len(epochs_run))
    last = np.maximum(np.asarray(epochs_run) - 1, 0)
    diverged = np.asarray(diverged_at) >= 0
    initial = np.asarray(initial_loss, dtype=float)
    loss, accuracy = metrics["loss"], metrics["accuracy"]
    final = loss[runs, last]
    with np.errstate(invalid="ignore"):
        stalled = np.isfinite(initial) & ~(final < initial)
    out = {"status": np.where(diverged, "diverged", np.where(stalled, "no_progress", "ok")),
           "initial_loss": initial, "diverged_at": np.asarray(diverged_at)}
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: diverged runs, masked below
        values = {"final_loss": final, "best_loss": np.nanmin(loss, axis=1),
                  "final_accuracy": accuracy[runs, last], "best_accuracy": np.nanmax(accuracy, axis=1),
                  "final_batch_loss": metrics["batch_loss_last"][runs, last]}
    out |= {key: np.where(diverged, np.nan, value) for key, value in values.items()}
    for name, value in (targets or {}).items():
        out[f"epochs_to_{name}"] = epochs_to_columns(metrics, name, value, diverged_at)
    return out


def epochs_to_columns(metrics: dict, name: str, value: float, diverged_at) -> np.ndarray:
    """:func:`epochs_to` for every run at once (``metrics`` and ``diverged_at`` as :func:`summarize_columns`
    takes them)."""
    if name not in TARGETS:
        raise ValueError(f"unknown target {name!r} (allowed: {', '.join(TARGETS)})")
    if name not in metrics:
        raise ValueError(f"this run recorded no {name}: it was trained without a held-out split")
    hits = reached(name, metrics[name], value)
    diverged_at = np.asarray(diverged_at)
    hits &= (diverged_at < 0)[:, None] | (np.arange(hits.shape[1])[None, :] < diverged_at[:, None])
    if hits.shape[1] == 0:  # no epochs recorded
        return np.full(len(hits), np.nan)
    return np.where(hits.any(axis=1), hits.argmax(axis=1) + 1.0, np.nan)
