"""The ball in the bumpy valley (seed 003), and momentum's real update rules on small 1-D and 2-D functions.

Seed 003's demo is discrete: the valley is ``y = 0.2·(X − 0.5)²`` sampled at ``X = 0, 0.01, …, 0.99`` with
``2e-3`` added at index 25. The ball starts at index 0; each epoch it computes the slope to the next point,
and it moves one index to the right while the slope (plain descent) or its velocity ``v = β·v + (1 − β)·slope``
(momentum) is negative. Plain descent stops in front of the bump; with β = 0.6 the ball rolls over it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from inertia.optim.checks import check_momentum
from inertia.optim.rules import momentum_step
from inertia.studies import functions as test_functions
from inertia.studies.functions import VALLEY_BUMP, VALLEY_WIDTH

BUMP_INDEX, BUMP_HEIGHT = 25, 2e-3


def bumpy_valley() -> tuple[np.ndarray, np.ndarray]:
    """Seed 003's curve: ``X`` (100 points) and ``y`` with the bump."""
    x = np.arange(100) * 0.01
    y = 0.2 * (x - 0.5) ** 2
    y[BUMP_INDEX] += BUMP_HEIGHT
    return x, y


def slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The slope from each point to the next (seed 003's ``gradient(x1, x2, y1, y2)``)."""
    return np.diff(y) / np.diff(x)


@dataclass
class Roll:
    """A ball's run: indices visited (one per epoch), whether it got to the valley's lowest point, and the
    velocity after each epoch."""

    path: list[int]
    velocities: list[float]
    reached_bottom: bool
    final_index: int
    steps: int


def roll(momentum: float = 0.0, epochs: int = 50) -> Roll:
    """Seed 003's ball for ``epochs + 1`` epochs: plain descent when ``momentum == 0``, else the EMA velocity."""
    check_momentum(momentum)
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    x, y = bumpy_valley()
    slope = slopes(x, y)
    position, velocity, path, velocities, steps = 0, 0.0, [0], [], 0
    for _ in range(epochs + 1):
        if position >= len(slope):
            break
        velocity = momentum * velocity + (1 - momentum) * slope[position]
        if velocity < 0:
            position += 1
            steps += 1
        path.append(position)
        velocities.append(velocity)
    bottom = int(np.argmin(y))
    return Roll(path, velocities, position >= bottom, position, steps)


def what_the_ball_sees(momentum: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """Seed 003's smoothed valley: the curve whose slopes are the EMA velocities along the way."""
    x, y = bumpy_valley()
    velocity, seen = 0.0, []
    for i, s in enumerate(slopes(x, y)):
        velocity = momentum * velocity + (1 - momentum) * s
        seen.append((seen[-1] if seen else 0.0) + velocity * (x[i + 1] - x[i]))
    return x[:-1], np.array(seen)


def memory(momentum: float, k: int = 10) -> tuple[np.ndarray, float]:
    """Weights β^k of the gradient k steps back, and the effective memory ``1/(1 − β)`` in steps."""
    powers = np.arange(1, k + 1)
    return momentum**powers, 1 / (1 - momentum)


# Smooth test functions: value and gradient.
FUNCTIONS: dict[str, tuple[Callable, Callable, np.ndarray, np.ndarray]] = {}


def _register(name, value, gradient, start, minimum):
    FUNCTIONS[name] = (value, gradient, np.asarray(start, dtype=float), np.asarray(minimum, dtype=float))


# The continuous valley: the seed's parabola with a Gaussian bump at 0.25 tall enough to make a local minimum.
def _valley(p):
    return 0.2 * (p[0] - 0.5) ** 2 + VALLEY_BUMP * np.exp(-(((p[0] - 0.25) / VALLEY_WIDTH) ** 2))


def _valley_grad(p):
    bump = VALLEY_BUMP * np.exp(-(((p[0] - 0.25) / VALLEY_WIDTH) ** 2)) * (-2 * (p[0] - 0.25) / VALLEY_WIDTH**2)
    return np.array([0.4 * (p[0] - 0.5) + bump])


_register("valley", _valley, _valley_grad, [0.0], [0.5])

def _first_axis(f: test_functions.TestFunction):
    """``f``'s value and gradient on points whose coordinates run along the first axis (``p[0]``, ``p[1]``, as
    this module's figures hold grids), from the 2-D functions' one definition (coordinates along the last)."""
    def value(p):
        return f.value(np.moveaxis(np.asarray(p), 0, -1))

    def gradient(p):
        return np.moveaxis(f.gradient(np.moveaxis(np.asarray(p), 0, -1)), -1, 0)

    return value, gradient


for _name, _start in (("quadratic", [-1.5, 0.6]), ("rosenbrock", [-1.2, 1.0]), ("beale", [1.0, 1.4])):
    _f = test_functions.FUNCTIONS[_name]
    _register(_name, *_first_axis(_f), _start, _f.minima[0])


@dataclass
class Trajectory:
    positions: np.ndarray  # (steps + 1, dims)
    velocities: np.ndarray  # (steps + 1, dims): the form's buffer, 0 before the first step
    values: np.ndarray


def trajectory(function: str, lr: float, momentum: float, steps: int = 200, form: str = "polyak",
               nesterov: bool = False, start=None) -> Trajectory:
    """Gradient descent with :func:`inertia.optim.rules.momentum_step` on one of :data:`FUNCTIONS`."""
    if function not in FUNCTIONS:
        raise ValueError(f"unknown function {function!r}; choose one of {sorted(FUNCTIONS)}")
    value, gradient, default_start, _ = FUNCTIONS[function]
    p = np.array(default_start if start is None else start, dtype=float)
    buf, positions, velocities = None, [p], [np.zeros_like(p)]
    for _ in range(steps):
        p, buf = momentum_step(p, gradient(p), buf, lr=lr, momentum=momentum, form=form, nesterov=nesterov)
        positions.append(p)
        velocities.append(np.zeros_like(p) if buf is None else buf)
        if not np.isfinite(p).all():
            break
    positions = np.array(positions)
    return Trajectory(positions, np.array(velocities), np.array([value(q) for q in positions]))


# Figures (matplotlib Figure objects; no pyplot state).


def ball_figure(momentum: float = 0.6, epochs: int = 50):
    """Seed 003 in three panels: where plain descent and momentum stop, what the ball sees, how fast the
    past is forgotten."""
    from inertia.plots import Figure

    x, y = bumpy_valley()
    figure = Figure(figsize=(13, 4), layout="constrained")
    ax = figure.add_subplot(1, 3, 1)
    ax.plot(x, y, color="0.4", lw=1.5, label="valley y = 0.2(x − 0.5)² with a bump")
    for beta, color, size in ((momentum, "tab:green", 3), (0.0, "tab:red", 6)):
        run = roll(beta, epochs)
        ax.plot(x[run.path], y[run.path], "o-", color=color, ms=size / 2, lw=1)
        ax.plot(x[run.final_index], y[run.final_index], "o", color=color, ms=size + 4, mec="black",
                label=f"{'plain descent' if beta == 0 else f'momentum β = {beta:g}'}: stops at x = "
                      f"{x[run.final_index]:.2f}" + (" (bottom)" if run.reached_bottom else " (at the bump)"))
    ax.set_xlabel("position x")
    ax.set_ylabel("height y")
    ax.set_title(f"The ball after {epochs + 1} epochs")
    ax.legend(fontsize=7)
    ax = figure.add_subplot(1, 3, 2)
    seen_x, seen = what_the_ball_sees(momentum)
    ax.plot(x, y - y[0], color="0.4", lw=1.5, label="the valley (shifted to start at 0)")
    ax.plot(seen_x, seen, color="tab:green", lw=1.5, label=f"what the ball sees, β = {momentum:g}")
    ax.axvline(x[BUMP_INDEX], color="tab:red", ls=":", lw=1, label="the bump")
    zoom = ax.inset_axes([0.12, 0.08, 0.35, 0.35])
    near = slice(BUMP_INDEX - 6, BUMP_INDEX + 7)
    zoom.plot(x[near], (y - y[0])[near], color="0.4")
    zoom.plot(seen_x[near], seen[near], color="tab:green")
    zoom.set_title("near the bump", fontsize=7)
    zoom.tick_params(labelsize=6)
    ax.set_xlabel("position x")
    ax.set_ylabel("height relative to the start")
    ax.set_title("Momentum smooths the bump away")
    ax.legend(fontsize=7, loc="upper right")
    ax = figure.add_subplot(1, 3, 3)
    for beta, color in ((0.3, "tab:orange"), (momentum, "tab:green"), (0.9, "tab:blue")):
        weights, span = memory(beta, 15)
        ax.plot(np.arange(1, 16), weights, "o-", ms=3, color=color,
                label=f"β = {beta:g}: memory 1/(1 − β) = {span:.1f}")
    ax.set_xlabel("k, steps into the past")
    ax.set_ylabel("weight β^k of that gradient")
    ax.set_title("How fast the past is forgotten")
    ax.legend(fontsize=7)
    return figure


def trajectories_figure(function: str, lr: float, momenta=(0.0, 0.5, 0.9), steps: int = 200, form: str = "polyak"):
    """Paths of :func:`trajectory` for several momenta: over the contours (2-D) or against the step (1-D)."""
    from matplotlib import colormaps

    from inertia.plots import Figure

    value, _, _, minimum = FUNCTIONS[function]
    runs = {beta: trajectory(function, lr, beta, steps, form) for beta in momenta}
    colors = colormaps["viridis"](np.linspace(0, 0.85, len(momenta)))
    figure = Figure(figsize=(7, 5), layout="constrained")
    ax = figure.add_subplot()
    if len(minimum) == 2:
        points = np.concatenate([r.positions for r in runs.values()] + [minimum[None]])
        points = points[np.isfinite(points).all(axis=1)]
        lo, hi = points.min(axis=0), points.max(axis=0)
        pad = 0.1 * (hi - lo) + 1e-3
        gx, gy = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], 200),
                             np.linspace(lo[1] - pad[1], hi[1] + pad[1], 200))
        z = value(np.array([gx, gy]))
        ax.contour(gx, gy, np.log10(z - z.min() + 1e-6), levels=20, cmap="Greys", linewidths=0.6)
        for (beta, run), color in zip(runs.items(), colors):
            ax.plot(*run.positions.T, "-", color=color, lw=1.2, label=f"β = {beta:g} (final f = {run.values[-1]:.2g})")
        ax.plot(*minimum, "*", color="tab:red", ms=12, label="minimum")
        ax.set_xlabel("x₁")
        ax.set_ylabel("x₂")
    else:
        for (beta, run), color in zip(runs.items(), colors):
            ax.plot(run.positions[:, 0], color=color, lw=1.2, label=f"β = {beta:g}")
        ax.axhline(minimum[0], color="tab:red", ls=":", label="minimum")
        ax.set_xlabel("step")
        ax.set_ylabel("position x")
    ax.set_title(f"{function}: {form} momentum, lr {lr:g}, {steps} steps")
    ax.legend(fontsize=8)
    return figure


def phase_figure(lr: float = 0.1, momenta=(0.0, 0.6, 0.9), steps: int = 200, form: str = "polyak"):
    """Velocity against position on the continuous bumpy valley: spirals show momentum's oscillation."""
    from matplotlib import colormaps

    from inertia.plots import Figure

    figure = Figure(figsize=(7, 5), layout="constrained")
    ax = figure.add_subplot()
    for beta, color in zip(momenta, colormaps["viridis"](np.linspace(0, 0.85, len(momenta)))):
        run = trajectory("valley", lr, beta, steps, form)
        ax.plot(run.positions[:, 0], run.velocities[:, 0], "-o", ms=2, lw=1, color=color,
                label=f"β = {beta:g}: ends at x = {run.positions[-1, 0]:.3f}")
    ax.axvline(0.25, color="tab:red", ls=":", lw=1, label="bump at x = 0.25")
    ax.axvline(0.5, color="0.3", ls="--", lw=1, label="bottom at x = 0.5")
    ax.set_xlabel("position x")
    ax.set_ylabel(f"velocity ({form} buffer)")
    ax.set_title(f"Phase space on the bumpy valley, lr {lr:g}")
    ax.legend(fontsize=8)
    return figure


def save_animation(path, momentum: float = 0.6, epochs: int = 50, fps: int = 10) -> None:
    """A GIF of seed 003's ball, plain descent and momentum side by side."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    from inertia.plots import Figure

    x, y = bumpy_valley()
    runs = {0.0: roll(0.0, epochs), momentum: roll(momentum, epochs)}
    figure = Figure(figsize=(6, 3.6), layout="constrained")
    ax = figure.add_subplot()
    ax.plot(x, y, color="0.5")
    names = {0.0: "plain descent", momentum: f"momentum β = {momentum:g}"}
    balls = {beta: ax.plot([], [], "o", ms=9, color=c, label=names[beta])[0]
             for beta, c in zip(runs, ("tab:red", "tab:green"))}
    title = ax.set_title("")
    ax.set_xlabel("position x")
    ax.set_ylabel("height y")
    ax.legend(loc="upper right", fontsize=8)

    def draw(frame):
        for beta, ball in balls.items():
            index = runs[beta].path[min(frame, len(runs[beta].path) - 1)]
            ball.set_data([x[index]], [y[index]])
        title.set_text(f"Epoch {frame}")
        return [*balls.values(), title]

    frames = max(len(r.path) for r in runs.values())
    FuncAnimation(figure, draw, frames=frames, blit=False).save(path, writer=PillowWriter(fps=fps))
