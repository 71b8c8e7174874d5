"""Learning-rate schedules: pure functions of the update's index t = 0, 1, 2, ... Their fields may be arrays (one
value per model of a population) and t an array of steps: the formulas broadcast. Every engine reads a member's
rate for each update from its schedule (``Member(schedule=...)``); :func:`schedule` makes one by name, as sweep
specs and the command line give them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Constant:
    """``lr_t = lr``."""

    lr: float

    def __call__(self, t: int) -> float:
        return self.lr


@dataclass(frozen=True)
class InverseTime:
    """``lr_t = lr / (1 + decay·t)`` (seed 004's ``Optimizer_SGD(decay=...)``)."""

    lr: float
    decay: float

    def __call__(self, t: int) -> float:
        return self.lr * (1.0 / (1.0 + self.decay * t))


@dataclass(frozen=True)
class Step:
    """``lr_t = lr · gamma^⌊t / every⌋``."""

    lr: float
    every: int
    gamma: float = 0.1

    def __call__(self, t: int) -> float:
        return self.lr * self.gamma ** (t // self.every)


@dataclass(frozen=True)
class Cosine:
    """``lr_t = floor + (lr − floor)·(1 + cos(π·min(t, total)/total))/2``: from lr down to ``floor`` at ``total``."""

    lr: float
    total: int
    floor: float = 0.0

    def __call__(self, t: int) -> float:
        progress = np.minimum(t, self.total) / self.total
        return self.floor + (self.lr - self.floor) * (1 + np.cos(np.pi * progress)) / 2


def schedule(kind: str, lr: float, **params) -> Constant | InverseTime | Step | Cosine:
    """A schedule by name: ``constant``, ``inverse_time`` (decay), ``step`` (every, gamma), ``cosine`` (total)."""
    kinds = {"constant": Constant, "inverse_time": InverseTime, "step": Step, "cosine": Cosine}
    if kind not in kinds:
        raise ValueError(f"Invalid schedule: {kind!r} (allowed: {', '.join(kinds)})")
    try:
        return kinds[kind](lr, **params)
    except TypeError as exc:
        raise ValueError(f"schedule {kind!r}: {exc}") from None
