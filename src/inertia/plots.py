"""Matplotlib figures of frames and arrays: curves with their confidence bands, the seed notebook's loss and
accuracy panels, decision regions, named curves, batch-size scaling, arms tuned on one grid and paths on a
contour. Each function returns a ``Figure`` (no pyplot state, no GUI needed). They know no study: results draw
themselves through them (``Comparison.plot_loss()``, ``BatchStudy.plot()``), which is why this module sits at the
foundation."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from matplotlib import colormaps
from matplotlib import figure as _figure
from matplotlib.colors import ListedColormap
from matplotlib.ticker import FuncFormatter

from inertia.data import Dataset
from inertia.stats import by_epoch, mean_ci_rows


class Figure(_figure.Figure):
    """A matplotlib ``Figure`` that shows itself where it is the value of a notebook cell (Jupyter asks for
    ``_repr_png_``), with no pyplot state and no inline backend to set up. Every figure inertia draws is one."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()


LABELS = {
    "loss": "full-data cross-entropy loss (nats)",
    "accuracy": "full-data accuracy (fraction correct)",
    "batch_loss_mean": "mean minibatch loss (nats)",
    "batch_loss_last": "last-minibatch loss (nats)",
}
# One colour per class in every figure, report page and the lab: the seed notebook's red, green and blue for the
# first three (its spiral), then tab10's hues; a class's region is its colour lightened, so a point on its own
# class's region reads as the same colour and one on another's stands out.
CLASS_COLORS = ("#ff0000", "#00aa00", "#0077cc", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
                "#17becf")


def class_colors(classes: int) -> tuple[list[str], list[str]]:
    """``(points, regions)``: the colour of each class's points and of its region, as hex strings."""
    points = [CLASS_COLORS[k % len(CLASS_COLORS)] for k in range(classes)]
    return points, [_lighten(c, 0.75) for c in points]


def _lighten(color: str, amount: float) -> str:
    channels = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c + (255 - c) * amount):02x}" for c in channels)


def momentum_colors(momenta: Sequence[float]) -> dict[float, tuple]:
    """One colour per momentum from an ordered colormap, so the legend reads as a scale."""
    cmap = colormaps["viridis"]
    n = max(len(momenta) - 1, 1)
    return {m: cmap(0.9 * i / n) for i, m in enumerate(momenta)}


def band(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per epoch: mean of ``metric`` over seeds and its 95 % t-interval (``low``, ``high``)."""
    epochs, table = by_epoch(frame, metric)
    mean, low, high, _ = mean_ci_rows(table)
    return pd.DataFrame({"epoch": epochs, "mean": mean, "low": low, "high": high})


def curves(frame: pd.DataFrame, metric: str, momenta: Sequence[float], baselines: Sequence[str] = ()) -> Figure:
    """``metric`` against epoch for each momentum (and each baseline optimizer, dashed): the mean over seeds
    with a 95 % CI band."""
    figure = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = figure.add_subplot()
    colors = momentum_colors(momenta)
    seeds = frame["seed"].nunique()
    momentum_rows = frame["optimizer"] == "momentum" if "optimizer" in frame else np.ones(len(frame), dtype=bool)
    lines = [(frame[momentum_rows & (frame["momentum"] == m)], colors[m], "-", f"momentum {m:g}") for m in momenta]
    others = colormaps["tab10"]
    lines += [(frame[frame["optimizer"] == b], others(3 + i), "--", b) for i, b in enumerate(baselines)]
    for rows, color, style, label in lines:
        summary = band(rows, metric)
        ax.plot(summary["epoch"], summary["mean"], color=color, lw=1.8, ls=style, label=label)
        ax.fill_between(summary["epoch"], summary["low"], summary["high"], color=color, alpha=0.2, lw=0)
    values = frame.loc[momentum_rows | frame["optimizer"].isin(baselines) if "optimizer" in frame else
                       momentum_rows, metric].to_numpy(float)
    if metric != "accuracy" and (np.isfinite(values) & (values > 0)).any():
        ax.set_yscale("log")
        plain = FuncFormatter(lambda value, _: f"{value:g}")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
    if not np.isfinite(values).any():
        ax.text(0.5, 0.5, "no finite value to draw: every run diverged at once\n(see the table)",
                transform=ax.transAxes, ha="center", va="center", color="gray")
    ax.set_xlabel("epoch")
    ax.set_ylabel(LABELS.get(metric, metric))
    interval = "mean and 95 % CI band" if seeds > 1 else "one seed"
    by = "optimizer" if baselines else "momentum"
    ax.set_title(f"{LABELS.get(metric, metric).split(' (')[0].capitalize()} by {by} ({seeds} seeds, {interval})")
    ax.grid(alpha=0.3, which="both")
    ax.legend(title="optimizer" if baselines else "SGD", loc="best")
    return figure


def loss_accuracy_grid(frame: pd.DataFrame, momenta: Sequence[float]) -> Figure:
    """The seed notebook's dual-axis plot, one panel per momentum: loss (red, left) and accuracy (blue, right).

    Solid lines are full-data metrics averaged over seeds; the thin red line is the last-minibatch loss of
    the first seed, the quantity the notebook plots.
    """
    cols = min(len(momenta), 3)
    rows = math.ceil(len(momenta) / cols)
    figure = Figure(figsize=(4.6 * cols, 3.4 * rows), layout="constrained")
    first_seed = frame["seed"].iloc[0]
    for i, momentum in enumerate(momenta):
        ax = figure.add_subplot(rows, cols, i + 1)
        runs = frame[frame["momentum"] == momentum]
        loss = band(runs, "loss")
        noisy = runs[runs["seed"] == first_seed]
        ax.plot(noisy["epoch"], noisy["batch_loss_last"], color="tab:red", lw=0.6, alpha=0.45,
                label=f"last-minibatch loss, seed {first_seed} (what the notebook plots)")
        ax.plot(loss["epoch"], loss["mean"], color="tab:red", lw=1.8, label="full-data loss")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (nats)", color="tab:red")
        ax.tick_params(axis="y", colors="tab:red")
        twin = ax.twinx()
        accuracy = band(runs, "accuracy")
        twin.plot(accuracy["epoch"], accuracy["mean"], color="tab:blue", lw=1.8, label="full-data accuracy")
        twin.set_ylim(0, 1.02)
        twin.set_ylabel("accuracy", color="tab:blue")
        twin.tick_params(axis="y", colors="tab:blue")
        ax.set_title(f"momentum {momentum:g}")
        if i == 0:
            handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
            figure.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
    figure.suptitle(f"Loss and accuracy per momentum (full-data lines: mean over {frame['seed'].nunique()} seeds)")
    return figure


def decision_regions(models: Mapping[float, torch.nn.Module], dataset: Dataset, seed: int | None = None,
                     resolution: int = 300) -> Figure:
    """Predicted class over the plane, one panel per momentum, with the data on top (2-feature data only)."""
    if dataset.features != 2:
        raise ValueError(f"decision regions need 2 input features; {dataset.name!r} has {dataset.features}")
    x, y = dataset.x, dataset.y
    lo, hi = x.min(axis=0) - 0.1, x.max(axis=0) + 0.1
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = torch.from_numpy(np.c_[gx.ravel(), gy.ravel()].astype(np.float32))
    bold, light = class_colors(dataset.classes)

    cols = min(len(models), 3)
    rows = math.ceil(len(models) / cols)
    figure = Figure(figsize=(4.2 * cols, 4.0 * rows), layout="constrained")
    for i, (momentum, model) in enumerate(models.items()):
        ax = figure.add_subplot(rows, cols, i + 1)
        device = next(model.parameters()).device
        with torch.no_grad():
            region = model(grid.to(device)).argmax(dim=1).cpu().numpy().reshape(gx.shape)
            accuracy = (model(torch.from_numpy(x).to(device)).argmax(dim=1).cpu().numpy() == y).mean()
        ax.imshow(region, cmap=ListedColormap(light), vmin=-0.5, vmax=dataset.classes - 0.5, origin="lower",
                  extent=(lo[0], hi[0], lo[1], hi[1]), interpolation="nearest", aspect="auto")
        for k in range(dataset.classes):
            ax.scatter(*x[y == k].T, s=5, color=bold[k], label=f"class {k}", edgecolors="none")
        ax.set_title(f"momentum {momentum:g}: accuracy {accuracy:.1%}")
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        ax.set_aspect("equal")
        if i == 0:
            figure.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=dataset.classes,
                          markerscale=3, frameon=False)
    which = "" if seed is None else f" (seed {seed})"
    figure.suptitle(f"Decision regions after training{which}: shaded by predicted class")
    return figure


def named_curves(curves: Mapping[str, np.ndarray], ylabel: str, title: str, log: bool = False) -> Figure:
    """One line per named curve against epoch (e.g. the same task trained several ways)."""
    figure = Figure(figsize=(7.5, 4.5), layout="constrained")
    ax = figure.add_subplot()
    styles = ["-", "--", ":", "-."]
    for i, (name, values) in enumerate(curves.items()):
        ax.plot(np.arange(1, len(values) + 1), values, styles[i % len(styles)], lw=1.5, label=name)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return figure


def batch_scaling(series: Mapping[str, Mapping[str, np.ndarray]], title: str, steps_label: str = "steps to target",
                  lr_label: str = "best learning rate") -> Figure:
    """Steps to a target against batch size (log-log), one line per optimizer, with a perfect-scaling guide
    (steps ∝ 1/B from each line's smallest batch) and, beside it, the best learning rate per batch size.
    ``series[label]`` holds ``batch_sizes``, ``steps`` and ``lr``, optionally ``low``/``high`` (a CI on steps)
    and ``effective_lr`` (drawn dotted)."""
    figure = Figure(figsize=(11, 4.6), layout="constrained")
    steps_ax, lr_ax = figure.subplots(1, 2)
    colors = colormaps["tab10"]
    for i, (label, s) in enumerate(series.items()):
        b, steps = np.asarray(s["batch_sizes"], float), np.asarray(s["steps"], float)
        color = colors(i)
        steps_ax.plot(b, steps, "o-", color=color, lw=1.8, ms=4, label=label)
        if "low" in s:
            steps_ax.fill_between(b, s["low"], s["high"], color=color, alpha=0.2, lw=0)
        finite = np.isfinite(steps)
        if finite.any():
            first = np.argmax(finite)
            steps_ax.plot(b[first:], steps[first] * b[first] / b[first:], ":", color=color, lw=1,
                          label=f"{label}: perfect scaling")
        lr_ax.plot(b, s["lr"], "o-", color=color, lw=1.5, ms=4, label=f"{label}: lr")
        if "effective_lr" in s:
            lr_ax.plot(b, s["effective_lr"], "s:", color=color, lw=1.5, ms=4, label=f"{label}: lr / (1 − β)")
    sizes = np.concatenate([np.asarray(s["batch_sizes"], float) for s in series.values()])
    for ax in (steps_ax, lr_ax):
        ax.set_xscale("log", base=2)
        if len(sizes):  # the batch sizes tried, whether or not anything was drawn at them
            ax.set_xlim(sizes.min() / 1.4, sizes.max() * 1.4)
        drawn = np.concatenate([np.asarray(line.get_ydata(), float) for line in ax.get_lines()] or [np.array([])])
        if (np.isfinite(drawn) & (drawn > 0)).any():
            ax.set_yscale("log")
        else:
            ax.text(0.5, 0.5, "nothing reached the target", transform=ax.transAxes, ha="center", va="center",
                    color="gray")
        ax.set_xlabel("batch size B (examples per step)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    steps_ax.set_ylabel(steps_label)
    lr_ax.set_ylabel(lr_label)
    steps_ax.set_title(title)
    lr_ax.set_title("best hyperparameters per batch size")
    return figure


def tuned_arms(tuning: Mapping[str, tuple[Sequence[float], Sequence[float], float]],
               held_out: Mapping[str, tuple[float, float]], paired: Mapping[str, tuple[float, float, float]],
               title: str, metric_label: str = "held-out accuracy (fraction correct)") -> Figure:
    """Three panels for arms whose learning rate was tuned on one grid: ``tuning[arm] = (rates, mean validation
    losses, chosen rate)`` (log-log, the chosen rate ringed; a diverged rate is a gap), ``held_out[arm] = (mean,
    half-width of its 95 % interval)`` and ``paired[arm] = (difference, low, high)`` against a reference arm
    (a zero line: an interval clear of it is a claim)."""
    figure = Figure(figsize=(15, 4.8), layout="constrained")
    tune_ax, out_ax, pair_ax = figure.subplots(1, 3)
    colors = {arm: colormaps["tab10"](i) for i, arm in enumerate(tuning)}
    for arm, (rates, losses, chosen) in tuning.items():
        rates, losses = np.asarray(rates, float), np.asarray(losses, float)
        tune_ax.plot(rates, np.where(np.isfinite(losses), losses, np.nan), "o-", color=colors[arm], lw=1.5, ms=3,
                     label=arm)
        at = np.flatnonzero(rates == chosen)
        if at.size and np.isfinite(losses[at[0]]):
            tune_ax.plot(chosen, losses[at[0]], "o", ms=10, mfc="none", mec=colors[arm], mew=1.5)
    tune_ax.set_xscale("log")
    drawn = np.concatenate([np.asarray(line.get_ydata(), float) for line in tune_ax.get_lines()] or [np.ones(1)])
    drawn = drawn[np.isfinite(drawn) & (drawn > 0)]
    if drawn.size and drawn.max() > 10 * drawn.min():  # log only where the losses span more than a decade
        tune_ax.set_yscale("log")
    tune_ax.set_xlabel("learning rate (one-cycle: its peak)")
    tune_ax.set_ylabel("mean validation loss (nats)")
    tune_ax.set_title("tuning: each arm's rate (ringed)")
    tune_ax.legend(fontsize=8)
    names = list(held_out)
    y = np.arange(len(names))[::-1]
    for yi, arm in zip(y, names, strict=True):
        mean, half = held_out[arm]
        out_ax.errorbar(mean, yi, xerr=half, fmt="o", color=colors.get(arm, "k"), capsize=3)
    out_ax.set_yticks(y, names)
    out_ax.set_xlabel(metric_label)
    out_ax.set_title("final runs at the tuned rates (95 % CI)")
    names = list(paired)
    y = np.arange(len(names))[::-1]
    for yi, arm in zip(y, names, strict=True):
        d, low, high = paired[arm]
        pair_ax.errorbar(d, yi, xerr=[[d - low], [high - d]], fmt="o", color=colors.get(arm, "k"), capsize=3)
    pair_ax.axvline(0, color="gray", lw=1)
    pair_ax.set_yticks(y, names)
    pair_ax.set_xlabel(f"difference in {metric_label.split(' (')[0]}, paired by seed")
    pair_ax.set_title("each schedule minus the best constant (95 % CI)")
    for ax in (tune_ax, out_ax, pair_ax):
        ax.grid(alpha=0.3, which="both")
    figure.suptitle(title)
    return figure


def contour_paths(x: np.ndarray, y: np.ndarray, gap: np.ndarray, paths: Mapping[str, np.ndarray], minima,
                  bars: Mapping[str, tuple[float, float, float, float, float, float]], title: str) -> Figure:
    """Left: log₁₀ of ``gap`` (f − f*, on the grid ``x`` × ``y``) as filled contours with a colour bar, each
    optimizer's ``paths[name]`` (steps + 1, starts, 2) drawn over it from its starts (circles) and the minima
    (stars). Right: per optimizer ``bars[name] = (success, low, high, steps, steps low, steps high)``: the success
    rate and the steps to ε of the successes, each with its 95 % interval."""
    figure = Figure(figsize=(14, 5.2), layout="constrained")
    grid = figure.add_gridspec(2, 2, width_ratios=(1.35, 1))
    ax = figure.add_subplot(grid[:, 0])
    rate_ax, steps_ax = figure.add_subplot(grid[0, 1]), figure.add_subplot(grid[1, 1])
    with np.errstate(divide="ignore"):
        levels = np.log10(np.maximum(gap, 1e-12))
    filled = ax.contourf(x, y, levels, levels=30, cmap="viridis")
    ax.contour(x, y, levels, levels=15, colors="white", linewidths=0.3, alpha=0.5)
    figure.colorbar(filled, ax=ax, label="log₁₀ (f − f*)")
    colors = colormaps["tab10"]
    for i, (name, path) in enumerate(paths.items()):
        path = np.asarray(path, float)
        for k in range(path.shape[1]):
            keep = np.isfinite(path[:, k]).all(axis=-1)
            ax.plot(path[keep, k, 0], path[keep, k, 1], "-", color=colors(i), lw=1.2, alpha=0.9,
                    label=name if k == 0 else None)
            ax.plot(*path[0, k], "o", color=colors(i), ms=4)
    minima = np.asarray(minima, float)
    ax.plot(minima[:, 0], minima[:, 1], "*", color="white", mec="black", ms=13, label="global minima")
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(y[0], y[-1])
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left", framealpha=0.8)
    names = list(bars)
    at = np.arange(len(names))[::-1]
    for yi, (i, name) in zip(at, enumerate(names), strict=True):
        share, low, high, steps, steps_low, steps_high = bars[name]
        rate_ax.errorbar(share, yi, xerr=[[max(0.0, share - low)], [max(0.0, high - share)]], fmt="o",
                         color=colors(i), capsize=3)
        if np.isfinite(steps):
            err = [[max(0.0, steps - steps_low)], [max(0.0, steps_high - steps)]] if np.isfinite(steps_low) else None
            steps_ax.errorbar(steps, yi, xerr=err, fmt="o", color=colors(i), capsize=3)
    for axis, label in ((rate_ax, "success rate (fraction of starts × seeds reaching ε)"),
                        (steps_ax, "steps to ε (mean over the runs that reached it)")):
        axis.set_yticks(at, names, fontsize=8)
        axis.set_xlabel(label)
        axis.grid(alpha=0.3)
    rate_ax.set_xlim(-0.02, 1.02)
    rate_ax.set_title("at the tuned rates, from fresh starts and seeds (95 % CI)")
    return figure


def landscape(xs, ys, loss, paths: Mapping[str, np.ndarray], gaps: Mapping[str, np.ndarray],
              lines: Mapping[str, tuple[np.ndarray, np.ndarray]], axis_labels: tuple[str, str], title: str) -> Figure:
    """A loss surface on a plane (log₁₀ of ``loss`` on ``xs`` × ``ys``, colour bar) with each run's projected
    path ``paths[name]`` (T, 2) from its start (circle) to its end (square); beside it each path's gap between
    its own loss and the surface's at its projection, per epoch; and 1-D losses ``lines[name] = (α, loss)``."""
    figure = Figure(figsize=(16, 5), layout="constrained")
    ax, gap_ax, line_ax = figure.subplots(1, 3, width_ratios=(1.4, 1, 1))
    filled = ax.contourf(xs, ys, np.log10(np.maximum(loss, 1e-12)), levels=30, cmap="viridis")
    ax.contour(xs, ys, np.log10(np.maximum(loss, 1e-12)), levels=15, colors="white", linewidths=0.3, alpha=0.5)
    figure.colorbar(filled, ax=ax, label="log₁₀ full-data loss (nats)")
    colors = colormaps["tab10"]
    for i, (name, path) in enumerate(paths.items()):
        path = np.asarray(path, float)
        ax.plot(path[:, 0], path[:, 1], "-", color=colors(i), lw=1.6, label=name)
        ax.plot(*path[0], "o", color=colors(i), ms=6)
        ax.plot(*path[-1], "s", color=colors(i), ms=6, mec="white")
        gap_ax.plot(np.arange(len(gaps[name])), np.maximum(gaps[name], 1e-6), "-", color=colors(i), lw=1.5,
                    label=name)  # 1e-6: the floor drawn (a point on the plane, its centre, has no gap at all)
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    ax.set_title(title)
    ax.legend(fontsize=8)
    if all(len(path) == 1 for path in paths.values()):  # one point (a saved model): no path to be faithful to
        gap_ax.text(0.5, 0.5, "one point, no path:\nnothing projected", ha="center", va="center",
                    transform=gap_ax.transAxes)
        gap_ax.set_xticks([])
        gap_ax.set_yticks([])
    else:
        gap_ax.set_yscale("log")
        gap_ax.set_xlabel("epoch")
        gap_ax.set_ylabel("|L(θ_t) − L(projection of θ_t)| (nats)")
        gap_ax.grid(alpha=0.3, which="both")
        gap_ax.legend(fontsize=8)
    gap_ax.set_title("how faithful each drawn path is")
    for name, (alphas, values) in lines.items():
        line_ax.plot(alphas, values, "-", lw=1.5, label=name)
    line_ax.set_yscale("log")
    line_ax.set_xlabel("α along the line (0: its start, 1: its end)")
    line_ax.set_ylabel("full-data loss (nats)")
    line_ax.set_title("1-D interpolations")
    line_ax.grid(alpha=0.3, which="both")
    line_ax.legend(fontsize=8)
    return figure
