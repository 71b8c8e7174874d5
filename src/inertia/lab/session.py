"""One change of the live lab: the comparison its settings describe, trained on the population engine and told
as events — ``start`` (what will run, the equivalent command, the ball in the valley and the rate map for these
momenta and learning rate), one ``epoch`` per epoch trained (each momentum's mean and 95 % CI over seeds so far),
then ``done`` (the table, the decision regions, the effective-step verdicts, and where a schedule is set the
learning rate and every curve's momentum per update) — or ``error`` / ``cancelled``."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import asdict

import numpy as np

from inertia.lab.settings import LabSettings
from inertia.plots import class_colors
from inertia.stats import mean_ci

POINTS_SHOWN = 3_000  # data points drawn over the decision regions (a large upload is thinned evenly)


class Cancelled(Exception):
    """A newer change replaced this one (or its page went away)."""


def train(settings: LabSettings, dataset, emit: Callable[[str, dict], None], cancelled: threading.Event):
    """Train the comparison for ``settings`` on ``dataset``, calling ``emit(event, payload)`` as it goes; returns
    the :class:`~inertia.studies.comparison.Comparison`. Raises :class:`Cancelled` once ``cancelled`` is set."""
    from inertia.arguments import layers_for
    from inertia.studies.comparison.config import CompareConfig
    from inertia.studies.comparison.training import compare
    from inertia.views.conclusions import effective_lr_sentences
    from inertia.views.report import command_line

    arguments = settings.compare_arguments(dataset)
    layers = layers_for(dataset, arguments["layers"])
    config = CompareConfig(momenta=settings.momenta, dataset=dataset.name, layers=tuple(layers),
                           activation=settings.activation, lr=settings.lr, batch_size=settings.batch_size,
                           epochs=settings.epochs, seeds=tuple(range(settings.seeds)), form=settings.form,
                           hold=settings.hold, nesterov=settings.nesterov, schedule=arguments["schedule"],
                           momentum_schedules=tuple(arguments["momentum_schedules"]))
    command = command_line(asdict(config))
    weights = sum((n_in + 1) * n_out for n_in, n_out in itertools.pairwise(layers))  # nothing built yet
    settings.check_work(len(dataset), weights, command)
    started = time.perf_counter()
    emit("start", {"command": command, "layers": layers, "samples": len(dataset),
                   "features": dataset.features, "classes": dataset.classes, "dataset": dataset.name,
                   "momenta": list(settings.momenta), "arms": list(config.momentum_schedules),
                   "epochs": settings.epochs, "seeds": settings.seeds,
                   "hold": settings.hold, "ball": ball(settings.momenta), "rates": rate_map(settings)})

    def on_metrics(epoch, rows):
        if cancelled.is_set():
            raise Cancelled
        series = {}
        for kind, momentum, _, loss, accuracy in rows:
            key = momentum if kind == "arm" else f"{momentum:g}" + (" held" if kind == "held" else "")
            series.setdefault(key, ([], []))
            series[key][0].append(loss)
            series[key][1].append(accuracy)
        emit("epoch", {"epoch": epoch + 1, "series": {key: {"loss": _band(loss), "accuracy": _band(accuracy)}
                                                      for key, (loss, accuracy) in series.items()}})

    comparison = compare(**arguments, on_metrics=on_metrics)
    if cancelled.is_set():
        raise Cancelled
    table = comparison.table().reset_index()
    if config.arms:  # the momentum schedules' rows after the momenta's, labelled in the momentum column
        import pandas as pd

        table = pd.concat([table, comparison.baseline_table().reset_index().rename(
            columns={"optimizer": "momentum"})], ignore_index=True)
    done = {"seconds": time.perf_counter() - started,
            "table": [{k: _finite(v) for k, v in row.items()} for row in table.to_dict("records")],
            "verdicts": effective_lr_sentences(comparison.gains()) if settings.hold == "effective-lr" else []}
    if config.schedule or config.momentum_schedules:
        curves = comparison.schedule_curves(points=200)
        done["schedules"] = {"update": curves["update"], "lr": [round(v, 6) for v in curves["lr"]],
                             "momentum": {k: [round(v, 5) for v in values] for k, values in
                                          curves["momentum"].items()}}
    if dataset.features == 2:
        regions = comparison.regions(resolution=60)
        last = regions["classes"][str(settings.epochs)]
        shown = slice(None, None, -(-len(dataset) // POINTS_SHOWN))  # every k-th point, at most POINTS_SHOWN
        points, shades = class_colors(dataset.classes)
        done["regions"] = {"x": regions["x"], "y": regions["y"], "classes": last, "seed": regions["seed"],
                           "class_count": dataset.classes, "colors": {"points": points, "regions": shades},
                           "points": {key: values[shown] for key, values in regions["points"].items()}}
    emit("done", done)
    return comparison


def ball(momenta) -> dict:
    """Seed 003's ball in the bumpy valley for each momentum: the valley, and where each ball ends."""
    from inertia.studies import valley

    x, y = valley.bumpy_valley()
    rolls = {f"{m:g}": valley.roll(m, epochs=50) for m in momenta}
    return {"x": np.round(x, 4).tolist(), "y": np.round(y, 4).tolist(),
            "balls": {k: {"index": r.final_index, "bottom": r.reached_bottom} for k, r in rolls.items()}}


def rate_map(settings: LabSettings, size: int = 48) -> dict:
    """Heavy-ball momentum on a quadratic with curvatures from 1/(100·lr) to 1/lr, over learning rates around
    ``lr`` and momenta in [0, 0.99]: the worst direction's rate per step, and as ``log10_steps`` the log10 of the
    steps it needs per 10x less error (None where the rate is 1 or more: it does not converge); the chosen
    (lr, β) points marked."""
    from inertia.studies import theory

    lam_max = 1 / settings.lr
    rates = np.geomspace(settings.lr / 30, settings.lr * 30, size)
    betas = np.linspace(0, 0.99, size)
    worst = theory.worst_rate(rates[None, :], betas[:, None], lam_max / 100, lam_max, samples=33)
    points = [{"lr": settings.lr, "momentum": m, "held": False} for m in settings.momenta]
    if settings.hold == "effective-lr":
        points += [{"lr": settings.lr * (1 - m), "momentum": m, "held": True} for m in settings.momenta if m > 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        steps = np.where(worst < 1, np.log10(-1 / np.log10(worst)), np.nan)
    return {"lr": rates.tolist(), "momentum": betas.tolist(), "rate": np.round(np.minimum(worst, 1.2), 4).tolist(),
            "log10_steps": [[None if not np.isfinite(v) else round(float(v), 3) for v in row] for row in steps],
            "curvatures": [lam_max / 100, lam_max], "points": points}


def _band(values) -> list:
    estimate = mean_ci(values)
    return [_finite(estimate.mean), _finite(estimate.low), _finite(estimate.high)]


def _finite(value):
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value
