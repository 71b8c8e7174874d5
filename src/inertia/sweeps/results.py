"""Reading a sweep's store: configurations grouped over seeds, paired comparisons, best settings, time-to-target.

A *setting* is a configuration without its seed; its runs with different seeds are its replicates. Every
statistic is a mean over seeds with a Student-t 95 % interval (:mod:`inertia.stats`); comparisons with a
baseline setting are paired by seed (the same initial weights and data order), which is what makes small
differences visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from inertia.outcome import STATUSES, epochs_to
from inertia.stats import mean_ci, paired_difference
from inertia.sweeps.store import Store

METRICS = ("final_loss", "best_loss", "final_accuracy", "best_accuracy")
LOWER_IS_BETTER = {"final_loss": True, "best_loss": True, "final_accuracy": False, "best_accuracy": False}
NOT_SETTING = {"id", "status", "error", "seconds", "seed", "diverged_at", "final_batch_loss", "initial_loss",
               *METRICS}


@dataclass
class Results:
    """A store's runs as a table (one row per run) with the targets of its specs."""

    runs: pd.DataFrame
    targets: dict

    @classmethod
    def load(cls, path: str | Path) -> Results:
        with Store(path, readonly=True) as db:
            runs = db.runs()
            targets = {}
            for spec in db.specs():
                targets.update(spec.get("targets", {}))
            if not runs.empty:
                histories = db.histories()
                diverged = runs["diverged_at"] if "diverged_at" in runs else [None] * len(runs)
                for name, value in targets.items():
                    column = f"epochs_to_{name}"
                    runs[column] = [epochs_to(histories[i], name, value, at) if histories[i] else np.nan
                                    for i, at in zip(runs["id"], diverged)]
        return cls(runs, targets)

    @property
    def axes(self) -> list[str]:
        """The setting columns that vary across runs (lr, momentum, ...)."""
        if self.runs.empty:
            return []
        columns = [c for c in self.runs.columns if c not in NOT_SETTING and not c.startswith("epochs_to_")]
        return [c for c in columns if self.runs[c].dropna().map(str).nunique() > 1]

    def metrics(self) -> list[str]:
        return [*METRICS, *(c for c in self.runs.columns if c.startswith("epochs_to_"))]

    def summary(self) -> pd.DataFrame:
        """One row per setting: for each metric its mean, 95 % CI and n over seeds; runs by status."""
        if self.runs.empty:
            return pd.DataFrame()
        axes = self.axes
        rows = []
        for key, group in self._settings(axes):
            row = dict(zip(axes, key))
            row["runs"] = len(group)
            for status in STATUSES:
                row[status] = int((group["status"] == status).sum())
            for metric in self.metrics():
                estimate = mean_ci(group[metric].astype(float))
                row[metric] = estimate.mean
                row[f"{metric}_low"], row[f"{metric}_high"] = estimate.low, estimate.high
                row[f"{metric}_n"] = estimate.n
            rows.append(row)
        return pd.DataFrame(rows)

    def paired(self, baseline: dict, metric: str = "final_loss") -> pd.DataFrame:
        """Every setting against ``baseline`` (axis values, e.g. ``{"momentum": 0.0}``; other axes matched),
        paired by seed: mean difference (setting − baseline), its 95 % CI, and in how many seeds the setting
        was better."""
        axes = self.axes
        unknown = set(baseline) - set(axes)
        if unknown:
            raise ValueError(f"baseline names {sorted(unknown)}, which do not vary in this store "
                             f"(axes: {', '.join(axes) or 'none'})")
        runs = self.runs
        rows = []
        for key, group in self._settings(axes):
            setting = dict(zip(axes, key))
            reference = {**setting, **baseline}
            mask = np.ones(len(runs), dtype=bool)
            for axis, value in reference.items():
                mask &= _equal(runs[axis], value)
            base = runs[mask].set_index("seed")[metric].astype(float)
            ours = group.set_index("seed")[metric].astype(float)
            seeds = ours.index.intersection(base.index)
            if seeds.empty or all(_equal(pd.Series([setting[a]]), baseline[a]).iloc[0] for a in baseline):
                continue
            a, b = ours.loc[seeds].to_numpy(), base.loc[seeds].to_numpy()
            difference = paired_difference(a, b)
            finite = np.isfinite(a) & np.isfinite(b)
            better = (a < b) if LOWER_IS_BETTER.get(metric, True) else (a > b)
            rows.append({**setting, "metric": metric, "difference": difference.mean, "low": difference.low,
                         "high": difference.high, "pairs": int(finite.sum()),
                         "better_in": int((better & finite).sum())})
        return pd.DataFrame(rows)

    def best(self) -> pd.DataFrame:
        """For each metric, the setting with the best mean over seeds. Means count finite runs only, so a
        setting qualifies only with as many finite runs as the best-covered setting (for time-to-target: as
        many seeds reaching the target); ``n`` says how many."""
        summary = self.summary()
        rows = []
        for metric in self.metrics():
            if summary.empty or summary[metric].isna().all():
                continue
            lower = LOWER_IS_BETTER.get(metric, True)
            covered = summary[summary[f"{metric}_n"] == summary[f"{metric}_n"].max()]
            index = covered[metric].idxmin() if lower else covered[metric].idxmax()
            row = summary.loc[index]
            rows.append({"metric": metric, "mean": row[metric], "low": row[f"{metric}_low"],
                         "high": row[f"{metric}_high"], "n": int(row[f"{metric}_n"]),
                         "setting": describe(row, self.axes)})
        return pd.DataFrame(rows)

    def panels(self, *shown: str) -> list[tuple[dict, pd.DataFrame]]:
        """The runs split by every varying axis not ``shown`` (lr and momentum are always taken as shown), one
        ``(selection, runs)`` per combination: what a figure over the shown axes draws as one panel each, so that
        no figure averages over an axis it does not show. One ``({}, runs)`` when nothing else varies."""
        others = [a for a in self.axes if a not in {*shown, "lr", "momentum"}]
        if not others:
            return [({}, self.runs)]
        return [(dict(zip(others, key if isinstance(key, tuple) else (key,))), group)
                for key, group in self.runs.groupby(others, sort=True, dropna=False)]

    def _settings(self, axes):
        if not axes:
            return [((), self.runs)]
        return self.runs.groupby(axes, sort=True, dropna=False)


def describe(row, axes) -> str:
    """``"lr=0.1, momentum=0.9, batch_size=20"``: a setting's axis values (whole numbers as integers, however
    pandas stored them), leaving out those it does not have."""
    return ", ".join(f"{a}={_value(row[a])}" for a in axes if not (isinstance(row[a], float) and np.isnan(row[a])))


def _value(value) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value.item() if isinstance(value, np.generic) else value)


def _equal(column: pd.Series, value) -> pd.Series:
    if isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)):
        return pd.to_numeric(column, errors="coerce").sub(float(value)).abs().le(1e-12 * max(1.0, abs(value)))
    return column.map(str) == str(value)


def parse_baseline(text: str) -> dict:
    """``"momentum=0,form=pytorch"`` → ``{"momentum": 0.0, "form": "pytorch"}`` (numbers where they parse)."""
    baseline = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise ValueError(f"baseline: expected axis=value pairs such as momentum=0, got {part!r}")
        axis, value = (s.strip() for s in part.split("=", 1))
        try:
            baseline[axis] = float(value)
        except ValueError:
            baseline[axis] = {"true": True, "false": False}.get(value.lower(), value)
    return baseline
