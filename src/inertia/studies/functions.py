"""The classic 2-D test functions, and every optimizer of :mod:`inertia.optim.rules` on them from many starts at once.

Each function is a value and an analytic gradient over arrays of points (``p[..., 0]``, ``p[..., 1]``), the box its
starts are drawn from and its contour drawn over, its global minima and a success tolerance ε on f − f*:

- ``rosenbrock``  (1 − x)² + 100 (y − x²)²: a curved, flat-bottomed valley; minimum (1, 1).
- ``beale``       (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²: steep walls, flat plateaus; (3, 0.5).
- ``himmelblau``  (x² + y − 11)² + (x + y² − 7)²: four global minima of value 0.
- ``rastrigin``   20 + Σ x² − 10 cos 2πx: a bowl covered in local minima; the global one at the origin.
- ``quadratic``   ½ (x² + 25 y²): Goh's ill-conditioned quadratic (curvatures 1 and 25, "Why Momentum Really
  Works"); the origin.
- ``valley``      seed 003's bumpy valley, 0.2 (x − 0.5)² with a Gaussian bump at x = 0.25, times a parabola
  across, 0.2 x-valley + 0.5 y²; the minimum near (0.5, 0), a local one in front of the bump.

A run is every optimizer, each on one grid of learning rates, from ``starts`` points drawn uniformly in the box
and ``seeds`` noise seeds: the gradient each step is the true one plus ``noise`` · N(0, I), the same draw for every
optimizer and rate (paired). All rates × starts × seeds of one optimizer step together as arrays through
:func:`inertia.optim.update.apply`, the update every engine uses. A run succeeds at the first step where
f − f* ≤ ε (its "steps to ε"); one that never does, or leaves the finite numbers, fails.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from inertia.arguments import check_positive_int
from inertia.optim import rules
from inertia.optim.update import apply, initial_state


@dataclass(frozen=True)
class TestFunction:
    name: str
    value: Callable  # points (..., 2) -> values (...)
    gradient: Callable  # points (..., 2) -> gradients (..., 2)
    box: tuple[tuple[float, float], tuple[float, float]]  # (x range, y range): starts and the contour
    minima: tuple[tuple[float, float], ...]
    minimum: float  # f* (the global minimum's value)
    tolerance: float  # ε: success at f − f* ≤ ε
    noise: float  # the default gradient noise scale


def _xy(p):
    return p[..., 0], p[..., 1]


def _rosenbrock(p):
    x, y = _xy(p)
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _rosenbrock_grad(p):
    x, y = _xy(p)
    return np.stack([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)], axis=-1)


def _beale_terms(p):
    x, y = _xy(p)
    return 1.5 - x + x * y, 2.25 - x + x * y**2, 2.625 - x + x * y**3


def _beale(p):
    return sum(t**2 for t in _beale_terms(p))


def _beale_grad(p):
    x, y = _xy(p)
    t1, t2, t3 = _beale_terms(p)
    return np.stack([2 * t1 * (y - 1) + 2 * t2 * (y**2 - 1) + 2 * t3 * (y**3 - 1),
                     2 * t1 * x + 4 * t2 * x * y + 6 * t3 * x * y**2], axis=-1)


def _himmelblau(p):
    x, y = _xy(p)
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def _himmelblau_grad(p):
    x, y = _xy(p)
    a, b = x**2 + y - 11, x + y**2 - 7
    return np.stack([4 * x * a + 2 * b, 2 * a + 4 * y * b], axis=-1)


def _rastrigin(p):
    return 20 + np.sum(p**2 - 10 * np.cos(2 * np.pi * p), axis=-1)


def _rastrigin_grad(p):
    return 2 * p + 20 * np.pi * np.sin(2 * np.pi * p)


def _quadratic(p):
    x, y = _xy(p)
    return 0.5 * (x**2 + 25 * y**2)


def _quadratic_grad(p):
    x, y = _xy(p)
    return np.stack([x, 25 * y], axis=-1)


VALLEY_BUMP, VALLEY_WIDTH = 4e-3, 0.02  # the continuous valley's Gaussian bump: a local minimum in front of it


def _valley(p):
    x, y = _xy(p)
    return 0.2 * (x - 0.5) ** 2 + VALLEY_BUMP * np.exp(-(((x - 0.25) / VALLEY_WIDTH) ** 2)) + 0.5 * y**2


def _valley_grad(p):
    x, y = _xy(p)
    bump = VALLEY_BUMP * np.exp(-(((x - 0.25) / VALLEY_WIDTH) ** 2)) * (-2 * (x - 0.25) / VALLEY_WIDTH**2)
    return np.stack([0.4 * (x - 0.5) + bump, y], axis=-1)


FUNCTIONS = {f.name: f for f in (
    TestFunction("rosenbrock", _rosenbrock, _rosenbrock_grad, ((-2.0, 2.0), (-1.0, 3.0)), ((1.0, 1.0),), 0.0,
                 1e-3, 1.0),
    TestFunction("beale", _beale, _beale_grad, ((-2.0, 2.0), (-2.0, 2.0)), ((3.0, 0.5),), 0.0, 1e-3, 1.0),
    TestFunction("himmelblau", _himmelblau, _himmelblau_grad, ((-5.0, 5.0), (-5.0, 5.0)),
                 ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)), 0.0, 1e-3,
                 1.0),
    TestFunction("rastrigin", _rastrigin, _rastrigin_grad, ((-5.12, 5.12), (-5.12, 5.12)), ((0.0, 0.0),), 0.0,
                 1e-2, 1.0),
    TestFunction("quadratic", _quadratic, _quadratic_grad, ((-2.0, 2.0), (-1.0, 1.0)), ((0.0, 0.0),), 0.0, 1e-4,
                 0.1),
    TestFunction("valley", _valley, _valley_grad, ((-0.25, 1.0), (-0.5, 0.5)), ((0.5, 0.0),), 0.0, 1e-4, 0.01),
)}
OPTIMIZERS = ("sgd", "momentum:momentum=0.9", "momentum:momentum=0.9:nesterov=true", "qhm", "adam", "rmsprop")


def function(name: str) -> TestFunction:
    if name not in FUNCTIONS:
        raise ValueError(f"function must be one of {', '.join(FUNCTIONS)}; got {name!r}")
    return FUNCTIONS[name]


def extent(f: TestFunction) -> tuple[tuple[float, float], tuple[float, float]]:
    """What a picture of ``f`` shows: its box of starts and its minima (Beale's lies outside the box), with a
    margin of a tenth around minima outside it."""
    (x0, x1), (y0, y1) = f.box
    mx, my = np.asarray(f.minima, dtype=float).T
    pad_x, pad_y = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    return ((min(x0, mx.min() - pad_x), max(x1, mx.max() + pad_x)),
            (min(y0, my.min() - pad_y), max(y1, my.max() + pad_y)))


def contour(f: TestFunction, resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``f − f*`` on a ``resolution`` × ``resolution`` grid over :func:`extent`: the axes ``xs``, ``ys`` and the
    values (len(ys), len(xs))."""
    (x0, x1), (y0, y1) = extent(f)
    xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
    return xs, ys, f.value(np.stack(np.meshgrid(xs, ys), axis=-1)) - f.minimum


def starts(f: TestFunction, count: int, seed: int) -> np.ndarray:
    """``count`` points drawn uniformly in ``f``'s box by generator ``seed``: (count, 2)."""
    (x0, x1), (y0, y1) = f.box
    unit = np.random.default_rng(seed).random((count, 2))
    return np.stack([x0 + (x1 - x0) * unit[:, 0], y0 + (y1 - y0) * unit[:, 1]], axis=-1)


def noise_draws(seeds: Sequence[int], steps: int, runs: int) -> np.ndarray:
    """Standard normal gradient noise: (steps, runs, len(seeds), 2), noise seed ``seeds[j]`` in column j, the same
    draw for every optimizer and rate that steps from the same start."""
    return np.stack([np.random.default_rng(s).standard_normal((steps, runs, 2)) for s in seeds], axis=2)


@dataclass
class Descent:
    """What :func:`descend` returns, each array (rates, starts, seeds): the step at which f − f* first reached ε
    (−1: never), the final value of f − f* (NaN: left the finite numbers), and with ``keep`` the positions
    (steps + 1, rates, starts, seeds, 2)."""

    steps_to: np.ndarray
    final: np.ndarray
    positions: np.ndarray | None = None


def descend(f: TestFunction, rule, lrs: Sequence[float], points: np.ndarray, noise: np.ndarray, scale: float,
            steps: int, keep: bool = False) -> Descent:
    """``rule`` (an :mod:`inertia.optim.rules` optimizer, its own ``lr`` replaced by each of ``lrs``) from every
    start of ``points`` (runs, 2) under every noise seed of ``noise`` (steps, runs, seeds, 2) at once, ``steps``
    steps of ``x ← update(x, ∇f(x) + scale·ξ)``; see :class:`Descent`."""
    lrs = np.asarray(lrs, dtype=np.float64).reshape(-1, 1, 1, 1)
    rule = replace(rule, lr=lrs)
    runs, seeds = points.shape[0], noise.shape[2]
    p = np.broadcast_to(points[None, :, None, :], (len(lrs), runs, seeds, 2)).copy()
    state = initial_state(p, rule.slots)
    reached = np.full(p.shape[:-1], -1)
    gap = f.value(p) - f.minimum
    reached[gap <= f.tolerance] = 0
    path = [p] if keep else None
    with np.errstate(all="ignore"):
        for t in range(steps):
            g = f.gradient(p) + scale * noise[t] if scale else f.gradient(p)
            p, state = apply(p, g, state, rule.update(lrs, t), rule.slots, rule.m_after_den)
            gap = f.value(p) - f.minimum
            reached[(reached < 0) & (gap <= f.tolerance)] = t + 1
            if keep:
                path.append(p)
    final = np.where(np.isfinite(gap) & np.isfinite(p).all(axis=-1), gap, np.nan)
    return Descent(reached, final, np.stack(path) if keep else None)


def parse_optimizers(texts: Sequence[str]) -> list:
    """Each text as :func:`inertia.optim.rules.parse` reads it (``sgd``, ``momentum:momentum=0.9``, ``adam``...)."""
    if not texts:
        raise ValueError("optimizers must name at least one, e.g. sgd,adam")
    if len(set(texts)) != len(texts):
        raise ValueError(f"optimizers must be distinct, got {list(texts)}")
    out = []
    for text in texts:
        try:
            out.append(rules.parse(text))
        except ValueError as exc:
            raise ValueError(f"optimizers: {exc}") from None
    return out


LEARNING_RATES = tuple(float(v) for v in 10.0 ** np.linspace(-5, 1, 13))  # 1e-5 ... 10, a factor √10 apart


@dataclass
class FunctionStudy:
    """Every optimizer on one test function: the tuning grid's success rates, each optimizer's chosen rate, and
    the runs from fresh starts and noise seeds at that rate (see :func:`function_study`)."""

    function: TestFunction
    config: dict  # optimizers, learning_rates, starts, seeds, steps, noise, tolerance, seed
    tuning: dict  # optimizer text -> (rates,) success rate over the tuning starts and seeds
    chosen: dict  # optimizer text -> learning rate
    runs: dict  # optimizer text -> Descent at its chosen rate (1, starts, seeds)
    trajectories: dict  # optimizer text -> (steps + 1, shown starts, 2): the first starts, the first noise seed
    seconds: float = 0.0

    def table(self) -> list[dict]:
        """Per optimizer: its rate (and whether at an end of the grid), the success rate with its Wilson 95 %
        interval over starts × seeds, and among the successes the mean steps to ε with a 95 % t-interval."""
        from inertia.stats import mean_ci, proportion_ci

        grid = self.config["learning_rates"]
        rows = []
        for text, run in self.runs.items():
            hits = run.steps_to[run.steps_to >= 0]
            share, steps = proportion_ci(int(hits.size), int(run.steps_to.size)), mean_ci(hits.astype(float))
            rows.append({"optimizer": text, "lr": self.chosen[text],
                         "lr_at_edge": self.chosen[text] in (min(grid), max(grid)),
                         "success": share.mean, "success_low": share.low, "success_high": share.high,
                         "runs": int(run.steps_to.size), "steps_to_eps": steps.mean, "steps_low": steps.low,
                         "steps_high": steps.high, "diverged": int(np.isnan(run.final).sum())})
        return rows


def function_study(name: str = "rosenbrock", optimizers: Sequence[str] = OPTIMIZERS,
                   learning_rates: Sequence[float] = LEARNING_RATES, starts_count: int = 100, seeds: int = 10,
                   steps: int = 1000, noise: float | None = None, tolerance: float | None = None, seed: int = 0,
                   shown: int = 3, progress: bool = False) -> FunctionStudy:
    """Every optimizer of ``optimizers`` on the test function ``name``: each rate of one grid tuned from
    ``starts_count`` starts (drawn with ``seed``) × ``seeds`` noise seeds, the rate with the highest success rate
    chosen (ties: fewer mean steps, failures counted as ``steps``), then that rate run again from fresh starts
    (drawn with ``seed + 1``) under fresh noise seeds, which the table reports. ``noise`` and ``tolerance``
    default to the function's own. ``progress`` says on stderr what starts, once the arguments pass their checks."""
    import time

    from inertia.progress import status

    f = function(name)
    rules_ = parse_optimizers(list(optimizers))
    learning_rates = [float(v) for v in learning_rates]
    if not learning_rates or not all(np.isfinite(v) and v > 0 for v in learning_rates):
        raise ValueError(f"learning_rates must be one or more finite rates > 0; got {learning_rates}")
    for field, value in (("starts", starts_count), ("seeds", seeds), ("steps", steps)):
        check_positive_int(field, value)
    if not isinstance(shown, int) or shown < 0:
        raise ValueError(f"shown must be an integer ≥ 0; got {shown!r}")
    shown = min(shown, starts_count)
    noise = f.noise if noise is None else float(noise)
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite scale ≥ 0; got {noise}")
    if tolerance is not None:
        if not (np.isfinite(tolerance) and tolerance > 0):
            raise ValueError(f"tolerance must be a finite ε > 0; got {tolerance}")
        f = replace(f, tolerance=float(tolerance))
    status(f"inertia functions: {len(rules_)} optimizers × {len(learning_rates)} rates × {starts_count} starts × "
           f"{seeds} noise seeds × {steps} steps on {f.name}, then each at its rate from fresh starts", progress)
    started = time.perf_counter()
    tune_points, test_points = starts(f, starts_count, seed), starts(f, starts_count, seed + 1)
    tune_noise = noise_draws(range(seeds), steps, starts_count)
    test_noise = noise_draws(range(seeds, 2 * seeds), steps, starts_count)  # fresh seeds for the reported runs
    tuning, chosen, runs, paths = {}, {}, {}, {}
    for text, rule in zip(optimizers, rules_, strict=True):
        tuned = descend(f, rule, learning_rates, tune_points, tune_noise, noise, steps)
        success = (tuned.steps_to >= 0).mean(axis=(1, 2))
        cost = np.where(tuned.steps_to >= 0, tuned.steps_to, steps).mean(axis=(1, 2))
        best = min(range(len(learning_rates)), key=lambda i: (-success[i], cost[i]))
        tuning[text], chosen[text] = success, learning_rates[best]
        runs[text] = descend(f, rule, [chosen[text]], test_points, test_noise, noise, steps)
        shown_run = descend(f, rule, [chosen[text]], test_points[:shown], test_noise[:, :shown, :1], noise, steps,
                            keep=True)
        paths[text] = shown_run.positions[:, 0, :, 0, :]
    config = {"optimizers": list(optimizers), "learning_rates": learning_rates, "starts": starts_count,
              "seeds": seeds, "steps": steps, "noise": noise, "tolerance": f.tolerance, "seed": seed}
    return FunctionStudy(f, config, tuning, chosen, runs, paths, time.perf_counter() - started)


def label(text: str) -> str:
    """A short name for an optimizer's text: ``momentum:momentum=0.9:nesterov=true`` → ``Nesterov 0.9``."""
    if text.startswith("momentum:momentum="):
        beta = text.removeprefix("momentum:momentum=").split(":")[0]
        return ("Nesterov " if "nesterov=true" in text else "momentum ") + beta + \
            "".join(f" {p}" for p in text.split(":")[2:] if p != "nesterov=true")
    return text.replace(":", " ")


def summary(study: FunctionStudy) -> dict:
    """JSON-ready: the function, the configuration, each optimizer's rate and table row, the tuning grid."""
    f = study.function
    return {"function": f.name, "minima": [list(m) for m in f.minima], "box": [list(r) for r in f.box],
            "config": study.config, "chosen": study.chosen, "seconds": round(study.seconds, 2),
            "table": [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()}
                      for row in study.table()],
            "tuning": {text: [float(v) for v in rates] for text, rates in study.tuning.items()}}


def plot(study: FunctionStudy, resolution: int = 240):
    """The function's contour (log₁₀ f − f*) with each optimizer's paths from the first starts at its tuned rate,
    beside every optimizer's success rate and steps to ε with their intervals."""
    from inertia import plots

    f = study.function
    x, y, gap = contour(f, resolution)
    bars = {label(r["optimizer"]): (r["success"], r["success_low"], r["success_high"], r["steps_to_eps"],
                                    r["steps_low"], r["steps_high"]) for r in study.table()}
    paths = {f"{label(text)} (lr {study.chosen[text]:.2g})": path for text, path in study.trajectories.items()}
    c = study.config
    title = (f"{f.name}: {len(c['optimizers'])} optimizers from the same {path_count(study)} starts, noise "
             f"{c['noise']:g}, ε {c['tolerance']:g}, {c['steps']} steps")
    return plots.contour_paths(x, y, gap, paths, f.minima, bars, title)


def path_count(study: FunctionStudy) -> int:
    return next(iter(study.trajectories.values())).shape[1] if study.trajectories else 0


def save(study: FunctionStudy, out) -> list[str]:
    """Write ``table.csv``, ``tuning.csv`` (success rate per optimizer and rate), ``runs.csv`` (every reported
    run: its start and noise seed, steps to ε, final f − f*), ``functions.json``, ``paths.json`` (the drawn paths:
    per optimizer, per start, every step's (x, y); null once a path left the finite numbers) and ``NAME.png`` into
    ``out`` as one unit (:func:`inertia.folders.writing`); returns the names written."""
    import json

    import pandas as pd

    from inertia.folders import writing

    f = study.function
    names = ["table.csv", "tuning.csv", "runs.csv", "functions.json", "paths.json", f"{f.name}.png"]
    with writing(out, kind="functions") as folder:
        here = folder.path
        pd.DataFrame(study.table()).to_csv(here / names[0], index=False)
        pd.DataFrame([{"optimizer": t, "lr": lr, "success": s} for t, rates in study.tuning.items()
                      for lr, s in zip(study.config["learning_rates"], rates, strict=True)]).to_csv(
            here / names[1], index=False)
        rows, points = [], starts(f, study.config["starts"], study.config["seed"] + 1)
        for text, run in study.runs.items():
            starts_, seeds = run.steps_to.shape[1:]
            for i in range(starts_):
                for j in range(seeds):
                    rows.append({"optimizer": text, "lr": study.chosen[text], "start": i, "x0": points[i, 0],
                                 "y0": points[i, 1], "noise_seed": study.config["seeds"] + j,
                                 "steps_to_eps": int(run.steps_to[0, i, j]), "final_gap": float(run.final[0, i, j])})
        pd.DataFrame(rows).to_csv(here / names[2], index=False)
        (here / names[3]).write_text(json.dumps(summary(study), indent=2) + "\n")
        paths = {text: np.where(np.isfinite(path), path.round(5), np.nan).transpose(1, 0, 2).tolist()
                 for text, path in study.trajectories.items()}
        (here / names[4]).write_text(json.dumps(paths).replace("NaN", "null"))
        plot(study).savefig(here / names[5], dpi=120)
    return names
