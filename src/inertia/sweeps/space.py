"""A search space for tuning inside a population: the hyperparameters of one optimizer that members may hold
different values of, each drawn from a range (uniform or log-uniform) or a list, with the draws and the
perturbations the tuners make (:mod:`inertia.sweeps.tune`).

It is read from a sweep spec (:mod:`inertia.sweeps.spec`): the ``[random]`` table's axes are ranges, the
``[grid]`` table's axes lists; everything else in the spec (data, model, the optimizer's other settings, batch
size, epochs) is what every member shares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from inertia.sweeps.spec import EXTRA_KEYS, Spec, SpecError

# What a population's members may hold different values of, per optimizer (the rules' own field names).
TUNABLE = {"momentum": ("lr", "momentum", "dampening", "weight_decay"), "sgd": ("lr", "momentum", "dampening",
           "weight_decay"), "qhm": ("lr", "momentum", "nu", "weight_decay"),
           "adam": ("lr", "beta1", "beta2", "eps", "weight_decay"), "adamw": ("lr", "beta1", "beta2", "eps",
           "weight_decay"), "rmsprop": ("lr", "alpha", "eps", "weight_decay", "momentum")}
FIELD = {"qhm": {"momentum": "beta"}}  # a spec's axis name where the rule's field is called otherwise


@dataclass(frozen=True)
class Axis:
    """One hyperparameter's range: ``kind`` ``uniform`` or ``log_uniform`` over [low, high], or ``choice`` of
    ``values``."""

    name: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    values: tuple = ()

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        if self.kind == "choice":
            return np.asarray(self.values, dtype=np.float64)[rng.integers(len(self.values), size=count)]
        if self.kind == "uniform":
            return rng.uniform(self.low, self.high, count)
        return np.exp(rng.uniform(math.log(self.low), math.log(self.high), count))

    def perturb(self, values: np.ndarray, rng: np.random.Generator, factors: tuple[float, ...]) -> np.ndarray:
        """Ray Tune's explore step for one hyperparameter: a range's value multiplied by one of ``factors``
        drawn at random (kept inside [low, high], where Ray Tune would leave the range), a list's moved to the
        neighbouring value below or above (a factor below 1 moves down), staying at the ends."""
        pick = np.asarray(factors, dtype=np.float64)[rng.integers(len(factors), size=len(values))]
        if self.kind != "choice":
            return np.clip(values * pick, self.low, self.high)
        ordered = np.asarray(self.values, dtype=np.float64)
        at = np.abs(ordered[None, :] - values[:, None]).argmin(axis=1)
        step = np.where(pick > 1, 1, -1)
        return ordered[np.clip(at + step, 0, len(ordered) - 1)]


@dataclass(frozen=True)
class Space:
    """The axes a tuner searches, for members of optimizer ``optimizer`` (a name of the spec's)."""

    optimizer: str
    axes: tuple[Axis, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(axis.name for axis in self.axes)

    def sample(self, rng: np.random.Generator, count: int) -> dict[str, np.ndarray]:
        """``count`` points drawn independently, one array per axis."""
        return {axis.name: axis.sample(rng, count) for axis in self.axes}

    def explore(self, values: dict[str, np.ndarray], rng: np.random.Generator, resample_probability: float,
                factors: tuple[float, ...]) -> dict[str, np.ndarray]:
        """PBT's explore for each member of ``values`` and each axis: with probability ``resample_probability``
        a fresh draw from the axis, else :meth:`Axis.perturb`."""
        out = {}
        for axis in self.axes:
            old = np.asarray(values[axis.name], dtype=np.float64)
            fresh = rng.random(len(old)) < resample_probability
            out[axis.name] = np.where(fresh, axis.sample(rng, len(old)), axis.perturb(old, rng, factors))
        return out

    def field(self, name: str) -> str:
        """The rule's field an axis sets (QHM's ``momentum`` is its ``beta``)."""
        return FIELD.get(self.optimizer, {}).get(name, name)


def space_of(spec: Spec) -> Space:
    """The search space of ``spec``: its ``[random]`` axes (ranges) and ``[grid]`` axes (lists of numbers), each
    a hyperparameter the spec's optimizer has; :class:`~inertia.sweeps.spec.SpecError` names an axis a population
    cannot vary (the optimizer, the batch size, ...) or a space with nothing to search."""
    optimizer = spec.optimizer["name"]
    tunable = TUNABLE[optimizer]
    axes = []
    for name, ranged in spec.random.items():
        if name in ("count", "seed"):
            continue
        _check(name, tunable, optimizer, "random")
        kind, (low, high) = next(iter(ranged.items()))
        axes.append(Axis(name, kind, float(low), float(high)))
    for name, values in spec.grid.items():
        _check(name, tunable, optimizer, "grid")
        if len(values) < 2:
            continue  # one value: shared, not searched
        axes.append(Axis(name, "choice", values=tuple(float(v) for v in sorted(values))))
    if not axes:
        raise SpecError("the spec has nothing to search: give [random] ranges (e.g. lr = { log_uniform = [0.001, "
                        "1.0] }) or [grid] lists of two values or more for the hyperparameters to tune")
    return Space(optimizer, tuple(axes))


def _check(name: str, tunable: tuple[str, ...], optimizer: str, table: str) -> None:
    if name not in tunable:
        what = "is the population's" if name not in EXTRA_KEYS and name not in TUNABLE["adam"] + TUNABLE["qhm"] \
            else f"is not a hyperparameter of {optimizer}"
        raise SpecError(f"{table}.{name}: {what}, so it cannot be tuned inside a population (tunable for "
                        f"{optimizer}: {', '.join(tunable)}); fix it in its own table")
