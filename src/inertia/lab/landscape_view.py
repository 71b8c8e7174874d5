"""The lab's landscape view, as JSON for the page: a classic 2-D test function with SGD's, heavy-ball momentum's
and Nesterov's paths at the β dragged, or the current comparison's loss surface with its first seed's runs and the
run at the β dragged, drawn on the same plane."""

from __future__ import annotations

import numpy as np

from inertia.studies import functions as F

STARTS = 5  # paths drawn on a test function, from fixed starts (seed 0)
STEPS = 300  # steps of each path
GRID = 31  # points on each axis of a comparison's surface
_tuned: dict[str, float] = {}


def tuned_lr(name: str) -> float:
    """The rate heavy-ball momentum (β 0.9) reaches ε from most of 20 starts with in ``STEPS`` noise-free steps,
    on the study's grid (ties: fewer steps), computed once per function."""
    if name not in _tuned:
        f = F.function(name)
        rule = F.parse_optimizers(["momentum:momentum=0.9"])[0]
        run = F.descend(f, rule, F.LEARNING_RATES, F.starts(f, 20, 0), np.zeros((STEPS, 20, 1, 2)), 0.0, STEPS)
        success = (run.steps_to >= 0).mean(axis=(1, 2))
        cost = np.where(run.steps_to >= 0, run.steps_to, STEPS).mean(axis=(1, 2))
        _tuned[name] = float(F.LEARNING_RATES[min(range(len(success)), key=lambda i: (-success[i], cost[i]))])
    return _tuned[name]


def function_view(name: str, beta: float, lr: float | None = None, noise: float = 0.0,
                  resolution: int = 120) -> dict:
    """The contour of ``name`` (log₁₀ of f − f*), its minima, and the paths of SGD, momentum β and Nesterov β
    at ``lr`` (default :func:`tuned_lr`) from the same ``STARTS`` starts, under gradient noise of scale ``noise``
    (one seed), each with the step it first reached ε (−1: never)."""
    f = F.function(name)
    if not (np.isfinite(beta) and 0 <= beta < 1):
        raise ValueError(f"beta must be in [0, 1); got {beta}")
    lr = tuned_lr(name) if lr is None else float(lr)
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite rate > 0; got {lr}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite scale ≥ 0; got {noise}")
    xs, ys, gap = F.contour(f, resolution)
    low, high = np.array([xs[0], ys[0]]), np.array([xs[-1], ys[-1]])
    low, high = low - (high - low), high + (high - low)  # a path that leaves the picture is cut a width beyond it
    points, draws = F.starts(f, STARTS, 0), F.noise_draws([0], STEPS, STARTS)
    paths, reached = {}, {}
    for label, text in (("SGD", "sgd"), (f"momentum β {beta:g}", f"momentum:momentum={beta!r}"),
                        (f"Nesterov β {beta:g}", f"momentum:momentum={beta!r}:nesterov=true")):
        if beta == 0 and text != "sgd":
            continue  # β = 0 is SGD
        run = F.descend(f, F.parse_optimizers([text])[0], [lr], points, draws, noise, STEPS, keep=True)
        path = np.clip(run.positions[:, 0, :, 0, :], low, high)
        paths[label] = np.where(np.isfinite(path), path, np.nan).round(5).transpose(1, 0, 2).tolist()
        reached[label] = run.steps_to[0, :, 0].tolist()
    z = np.log10(np.maximum(gap, 1e-12))
    return {"function": name, "x": xs.round(5).tolist(), "y": ys.round(5).tolist(), "z": z.round(3).tolist(),
            "minima": [list(m) for m in f.minima], "lr": lr, "beta": beta, "noise": noise, "steps": STEPS,
            "tolerance": f.tolerance, "paths": _nulls(paths), "reached": reached}


def comparison_view(study, summary: dict, beta: float, dataset=None) -> dict:
    """``study`` (:func:`inertia.studies.run_landscape.comparison_landscape` of the comparison ``summary``) as the
    page draws it, with the first seed's run at momentum ``beta`` (the comparison's other settings) traced and
    projected onto the same plane, its own loss and its gap to the surface per epoch."""
    from inertia.studies import landscape as L
    from inertia.studies.run_landscape import checkpoints_of, trace

    if not (np.isfinite(beta) and 0 <= beta < 1):
        raise ValueError(f"beta must be in [0, 1); got {beta}")
    s = study.surface
    runs = {name: coords.round(5).tolist() for name, coords in study.coordinates.items()}
    traced = trace(summary, momenta=[beta], seeds=[summary["config"]["seeds"][0]], dataset=dataset)
    kept = checkpoints_of(traced, beta)
    network = study.config["layers"] or traced.snapshots[0][beta]
    x, y = traced.dataset.tensors()
    coordinates, losses, gaps = L.projection_gaps(kept, s.basis, network, study.config["activation"], x, y)
    return {"x": s.xs.round(6).tolist(), "y": s.ys.round(6).tolist(),
            "z": np.log10(np.maximum(s.loss, 1e-12)).round(4).tolist(),
            "labels": list(L.axis_labels(s.basis.explained)),
            "runs": runs, "beta": beta, "path": _nulls(coordinates.round(5).tolist()),
            "loss": _nulls(losses.round(5).tolist()), "gap": _nulls(gaps.round(5).tolist()),
            "diverged": bool(traced.run(beta).history.diverged), "title": L.title(study.config).replace("\n", " ")}


def _nulls(value):
    """NaN as None (JSON null: a gap in a drawn line), in nested lists and dicts."""
    if isinstance(value, dict):
        return {k: _nulls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nulls(v) for v in value]
    return None if isinstance(value, float) and not np.isfinite(value) else value
