"""Figures of a sweep's results: lr × momentum heatmaps (plain and at equal effective lr) and parallel
coordinates. Each function saves a PNG and returns its path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LogNorm, Normalize

from inertia.plots import Figure
from inertia.sweeps.results import Results, describe

LABELS = {"final_loss": "final full-data loss", "best_loss": "best full-data loss",
          "final_accuracy": "final accuracy", "best_accuracy": "best accuracy",
          "lr": "learning rate", "effective_lr": "effective learning rate lr / (1 − momentum)",
          "momentum": "momentum β"}


def heatmap(results: Results, path: str | Path, *, x: str = "lr", metric: str = "final_loss") -> Path | None:
    """Mean ``metric`` over seeds on an ``x`` × momentum grid, one panel per combination of every other axis that
    varies (:meth:`~inertia.sweeps.results.Results.panels`: a cell never averages over an axis the figure does
    not show); cells where any run diverged or failed are marked ×, and cells where a run made no progress (ended
    no better than it started, :mod:`inertia.outcome`) ○. ``x="effective_lr"`` uses lr / (1 − momentum).
    Returns None when the runs do not vary both ``x`` and momentum."""
    runs = results.runs
    if runs.empty or "momentum" not in runs or "lr" not in runs:
        return None
    panels = []
    for selection, panel in results.panels():
        panel = panel[panel["momentum"].notna()].copy()
        if x == "effective_lr":
            panel["effective_lr"] = (panel["lr"] / (1 - panel["momentum"])).round(12)
        if panel[x].nunique() >= 2 and panel["momentum"].nunique() >= 2:
            panels.append((selection, panel))
    if not panels:
        return None
    values = pd.concat([panel.groupby([x, "momentum"])[metric].mean() for _, panel in panels])
    finite = values[np.isfinite(values)]
    positive = finite[finite > 0]
    norm = LogNorm(positive.min(), positive.max()) if metric.endswith("loss") and len(positive) and \
        positive.max() > 10 * positive.min() else Normalize(finite.min() if len(finite) else 0,
                                                            finite.max() if len(finite) else 1)
    columns = min(len(panels), 4)
    rows = -(-len(panels) // columns)
    fig = Figure(figsize=(4.6 * columns + 1.2, 4.2 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    image = None
    for ax, (selection, panel) in zip(axes.flat, panels):
        xs, ms = np.sort(panel[x].unique()), np.sort(panel["momentum"].unique())
        grid = np.full((len(ms), len(xs)), np.nan)
        bad = np.zeros_like(grid, dtype=bool)
        stalled = np.zeros_like(grid, dtype=bool)
        for (xv, mv), cell in panel.groupby([x, "momentum"]):
            i, j = np.searchsorted(ms, mv), np.searchsorted(xs, xv)
            grid[i, j] = cell[metric].astype(float).mean()
            bad[i, j] = cell["status"].isin(["diverged", "failed"]).any()
            stalled[i, j] = not bad[i, j] and (cell["status"] == "no_progress").any()
        image = ax.imshow(np.ma.masked_invalid(grid), origin="lower", aspect="auto", cmap="viridis_r"
                          if metric.endswith("loss") else "viridis", norm=norm)
        for i, j in zip(*np.nonzero(bad)):
            ax.text(j, i, "×", ha="center", va="center", color="red", fontsize=14, fontweight="bold")
        for i, j in zip(*np.nonzero(stalled)):
            ax.text(j, i, "○", ha="center", va="center", color="orange", fontsize=14, fontweight="bold")
        bad |= stalled
        if len(xs) <= 10:  # values written in the cells while they fit
            for i, j in zip(*np.nonzero(~bad & np.isfinite(grid))):
                ax.text(j, i, f"{grid[i, j]:.3g}", ha="center", va="center", fontsize=7, color="white")
        ax.set_xticks(range(len(xs)), [f"{v:.3g}" for v in xs], rotation=45)
        ax.set_yticks(range(len(ms)), [f"{v:.3g}" for v in ms])
        ax.set_xlabel(LABELS.get(x, x))
        ax.set_ylabel(LABELS["momentum"])
        ax.set_title(describe(selection, list(selection)) or "all runs", fontsize=9)
    fig.colorbar(image, ax=axes.ravel().tolist(), label=f"{LABELS.get(metric, metric)} (mean over seeds)")
    fig.suptitle(f"{LABELS.get(metric, metric)}\n× a run diverged or failed · ○ a run made no progress · "
                 "blank: not run", fontsize=10)
    path = Path(path)
    fig.savefig(path, dpi=120)
    return path


def parallel_coordinates(results: Results, path: str | Path, *, metric: str = "final_loss") -> Path | None:
    """One line per setting across its varying axes and ``metric`` (mean over seeds), coloured by ``metric``;
    numeric axes scaled to [0, 1] (learning rates on a log scale), categories spread evenly."""
    summary = results.summary()
    axes = results.axes
    if summary.empty or not axes:
        return None
    columns = [*axes, metric]
    scaled, ticks = {}, {}
    for column in columns:
        scaled[column], ticks[column] = _coordinate(column, summary[column])
    color_values = summary[metric].astype(float)
    finite = color_values[np.isfinite(color_values)]
    if len(finite) and metric.endswith("loss") and finite.min() > 0 and finite.max() > 10 * finite.min():
        norm = LogNorm(finite.min(), finite.max())
    else:
        norm = Normalize(finite.min(), finite.max()) if len(finite) else Normalize(0, 1)
    cmap = colormaps["viridis_r" if metric.endswith("loss") else "viridis"]
    fig = Figure(figsize=(1.8 * len(columns) + 2, 4.5), layout="constrained")
    ax = fig.subplots()
    xs = np.arange(len(columns))
    for row in range(len(summary)):
        ys = [scaled[c].iloc[row] for c in columns]
        value = color_values.iloc[row]
        ax.plot(xs, ys, color=cmap(norm(value)) if np.isfinite(value) else "red", alpha=0.7,
                linestyle="-" if np.isfinite(value) else ":")
    for i, column in enumerate(columns):
        ax.axvline(i, color="black", linewidth=0.8)
        for y, label in ticks[column]:
            ax.text(i + 0.03, y, label, fontsize=7, va="center")
    ax.set_xticks(xs, [LABELS.get(c, c) for c in columns], fontsize=8)
    ax.set_yticks([])
    ax.set_ylim(-0.05, NO_VALUE + 0.05 if any(y == NO_VALUE for t in ticks.values() for y, _ in t) else 1.05)
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax,
                 label=f"{LABELS.get(metric, metric)} (mean over seeds)")
    ax.set_title("one line per setting; log scales for lr and loss; dotted red: no finite run", fontsize=10)
    path = Path(path)
    fig.savefig(path, dpi=120)
    return path


NO_VALUE = 1.12  # where a line with no finite value on an axis (a diverged run's loss) crosses it


def _coordinate(column: str, values: pd.Series) -> tuple[pd.Series, list[tuple[float, str]]]:
    """``values`` placed on [0, 1] and the axis's tick labels. Numbers are scaled (on a log scale for learning
    rates, weight decays and losses that span a decade), with every value labelled when there are at most eight
    and five evenly spaced labels otherwise; a missing or infinite number goes above the axis, labelled "none"
    ("diverged" for a loss). Anything else is a category, spread evenly in sorted order."""
    numeric = pd.to_numeric(values, errors="coerce").astype(float)
    parses = values.isna() | numeric.notna()
    finite = np.isfinite(numeric)
    if not (parses.all() and finite.any() and values.map(lambda v: not isinstance(v, bool)).all()):
        levels = sorted(values.map(str).unique())
        position = {v: (i / (len(levels) - 1) if len(levels) > 1 else 0.5) for i, v in enumerate(levels)}
        return values.map(str).map(position), [(position[v], v) for v in levels]
    kept = numeric[finite]
    logarithmic = ((column in ("lr", "weight_decay") or column.endswith("loss")) and (kept > 0).all()
                   and kept.max() > 10 * kept.min())
    forward, back = (np.log10, lambda v: 10.0 ** v) if logarithmic else (lambda v: v, lambda v: v)
    low, high = forward(kept.min()), forward(kept.max())
    span = high - low

    def place(v):
        return (forward(v) - low) / span if span > 0 else 0.5

    shown = np.unique(kept.to_numpy())
    if len(shown) > 8:
        shown = back(np.linspace(low, high, 5))
    ticks = [(float(place(v)), f"{v:.3g}") for v in shown]
    if not finite.all():
        ticks.append((NO_VALUE, "diverged" if column.endswith("loss") else "none"))
    return numeric.where(finite).map(place).fillna(NO_VALUE), ticks


def save_all(results: Results, out: str | Path, metric: str = "final_loss") -> list[Path]:
    """Every figure of ``metric`` that the runs support, into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    made = [heatmap(results, out / "heatmap_lr_momentum.png", metric=metric),
            heatmap(results, out / "heatmap_effective_lr_momentum.png", x="effective_lr", metric=metric),
            parallel_coordinates(results, out / "parallel_coordinates.png", metric=metric)]
    return [p for p in made if p is not None]
