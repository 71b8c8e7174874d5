"""Learning-rate and momentum schedules: pure functions of the update's index t = 0, 1, 2, ... Their fields may
be arrays (one value per model of a population) and t an array of steps: the formulas broadcast. Every engine
reads a member's rate and momentum for each update from its schedules as data (``Member(schedule=...,
momentum_schedule=...)``); :func:`schedule` and :func:`momentum_schedule` make one by name, as sweep specs and the
command line give them.

Learning rates: :class:`Constant`, :class:`InverseTime`, :class:`Step`, :class:`Cosine`, each with an optional
linear warm-up (:class:`WarmUp`'s ``warmup`` and ``warmup_factor``), and :class:`OneCycle` (torch's ``OneCycleLR``,
which with ``cycle_momentum`` sets the momentum too, as torch's does). Momentum (β, or
Adam's β₁): :class:`Sutskever` (the ramp of Sutskever, Martens, Dahl & Hinton 2013) and :class:`Demon` (Chen et al.
2019). How a β that changes from one update to the next enters each momentum form is said in
:mod:`inertia.optim.rules`.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields

import numpy as np


@dataclass(frozen=True, kw_only=True)
class WarmUp:
    """A linear warm-up in front of a learning-rate schedule (every one but :class:`OneCycle`, which has its own):
    the schedule's rate times ``warmup_factor + (1 − warmup_factor)·min(t, warmup)/warmup``, rising from
    ``warmup_factor`` of it to all of it over the first ``warmup`` updates (torch's ``LinearLR`` with
    ``start_factor = warmup_factor``, ``total_iters = warmup``, chained with the schedule). ``warmup = 0``: none."""

    warmup: object = 0
    warmup_factor: object = 1 / 3

    def _check_warmup(self, kind: str) -> None:
        _bad("warmup", self.warmup, _whole(self.warmup, least=0), "a whole number >= 0", kind)
        factor = np.asarray(self.warmup_factor, dtype=float)
        _bad("warmup_factor", self.warmup_factor, (factor > 0) & (factor <= 1), "0 < warmup_factor <= 1", kind)

    def _warmed(self, rate, t):
        steps = np.asarray(self.warmup, dtype=np.float64)
        if not (steps > 0).any():
            return rate
        factor = np.asarray(self.warmup_factor, dtype=np.float64)
        ramp = factor + (1 - factor) * np.minimum(t, steps) / np.where(steps > 0, steps, 1.0)
        return rate * np.where(steps > 0, ramp, 1.0)


@dataclass(frozen=True)
class Constant(WarmUp):
    """``lr_t = lr``."""

    lr: float

    def __post_init__(self):
        self._check_warmup("constant")

    def __call__(self, t: int) -> float:
        return self._warmed(self.lr, t)


@dataclass(frozen=True)
class InverseTime(WarmUp):
    """``lr_t = lr / (1 + decay·t)`` (seed 004's ``Optimizer_SGD(decay=...)``)."""

    lr: float
    decay: float

    def __post_init__(self):
        _bad("decay", self.decay, np.asarray(self.decay, dtype=float) >= 0, "decay >= 0", "inverse_time")
        self._check_warmup("inverse_time")

    def __call__(self, t: int) -> float:
        return self._warmed(self.lr * (1.0 / (1.0 + self.decay * t)), t)


@dataclass(frozen=True)
class Step(WarmUp):
    """``lr_t = lr · gamma^⌊t / every⌋``."""

    lr: float
    every: int
    gamma: float = 0.1

    def __post_init__(self):
        _bad("every", self.every, _whole(self.every), "a whole number >= 1", "step")
        _bad("gamma", self.gamma, np.asarray(self.gamma, dtype=float) >= 0, "gamma >= 0", "step")
        self._check_warmup("step")

    def __call__(self, t: int) -> float:
        return self._warmed(self.lr * self.gamma ** (t // self.every), t)


@dataclass(frozen=True)
class Cosine(WarmUp):
    """``lr_t = floor + (lr − floor)·(1 + cos(π·min(t, total)/total))/2``: from lr down to ``floor`` at ``total``."""

    lr: float
    total: int
    floor: float = 0.0

    def __post_init__(self):
        _bad("total", self.total, _whole(self.total), "a whole number >= 1", "cosine")
        _bad("floor", self.floor, np.asarray(self.floor, dtype=float) >= 0, "floor >= 0", "cosine")
        self._check_warmup("cosine")

    def __call__(self, t: int) -> float:
        progress = np.minimum(t, self.total) / self.total
        return self._warmed(self.floor + (self.lr - self.floor) * (1 + np.cos(np.pi * progress)) / 2, t)


def _bad(name: str, value, ok, allowed: str, kind: str) -> None:
    """A ValueError naming ``kind``'s field ``name`` and what is allowed, where ``ok`` (over members) is false."""
    ok = np.asarray(ok)
    if not ok.all():
        values = np.broadcast_to(np.asarray(value), ok.shape)
        first = int(np.flatnonzero(~ok.ravel())[0]) if ok.ndim else 0
        shown = values.ravel()[first] if ok.ndim else value
        shown = shown.item() if isinstance(shown, np.generic) else shown
        where = f" (member {first})" if ok.ndim and ok.size > 1 else ""
        raise ValueError(f"Invalid {kind} {name}: {shown!r}{where} (allowed: {allowed})")


def _whole(value, least: int = 1) -> np.ndarray:
    value = np.asarray(value)
    return (value == np.floor(value)) & (value >= least) if value.dtype.kind in "fiu" else np.zeros(value.shape, bool)


def _annealed(start, end, pct, cosine):
    """torch's ``_annealing_cos`` where ``cosine``, else ``_annealing_linear``, from ``start`` to ``end``."""
    return np.where(cosine, end + (start - end) / 2.0 * (np.cos(np.pi * pct) + 1), (end - start) * pct + start)


@dataclass(frozen=True)
class OneCycle:
    """torch's ``OneCycleLR``, its parameters and its arithmetic: from ``max_lr / div_factor`` up to ``max_lr``
    over the first ``pct_start`` of ``total_steps`` updates, then down to ``max_lr / div_factor /
    final_div_factor`` (``three_phase``: down to the start first, then to the minimum), cosine or linear
    (``anneal_strategy``); with ``cycle_momentum`` the momentum moves the other way, from ``max_momentum`` down
    to ``base_momentum`` and back (its :meth:`momentum`). Training may not take more than ``total_steps`` updates
    (torch refuses to step past it)."""

    max_lr: object
    total_steps: object
    pct_start: object = 0.3
    anneal_strategy: object = "cos"
    cycle_momentum: object = True
    base_momentum: object = 0.85
    max_momentum: object = 0.95
    div_factor: object = 25.0
    final_div_factor: object = 1e4
    three_phase: object = False

    def __post_init__(self):
        kind = "onecycle"
        _bad("max_lr", self.max_lr, np.asarray(self.max_lr, dtype=float) >= 0, "max_lr >= 0", kind)
        _bad("total_steps", self.total_steps, _whole(self.total_steps), "a whole number >= 1", kind)
        pct = np.asarray(self.pct_start, dtype=float)
        _bad("pct_start", self.pct_start, (pct > 0) & (pct < 1), "0 < pct_start < 1", kind)
        _bad("anneal_strategy", self.anneal_strategy, np.isin(self.anneal_strategy, ("cos", "linear")),
             "'cos' or 'linear'", kind)
        for name in ("div_factor", "final_div_factor"):
            _bad(name, getattr(self, name), np.asarray(getattr(self, name), dtype=float) > 0, f"{name} > 0", kind)
        base, top = np.asarray(self.base_momentum, dtype=float), np.asarray(self.max_momentum, dtype=float)
        _bad("base_momentum", self.base_momentum, (base >= 0) & (base < 1), "0 <= base_momentum < 1", kind)
        _bad("max_momentum", self.max_momentum, (top >= 0) & (top < 1), "0 <= max_momentum < 1", kind)
        total = np.asarray(self.total_steps, dtype=float)
        fits = (pct * total - 1 > 0) & ~(np.asarray(self.three_phase, dtype=bool) & (2 * pct * total - 2 >= total - 1))
        _bad("pct_start", self.pct_start, fits, "a first phase longer than one update and, with three_phase, a "
             "third of at least one, for these total_steps", kind)

    def _phases(self, t):
        """Which phase update ``t`` is in and how far along (torch's ``get_lr``), for every member."""
        t = np.asarray(t, dtype=np.float64)
        total = np.asarray(self.total_steps, dtype=np.float64)
        pct = np.asarray(self.pct_start, dtype=np.float64)
        three = np.asarray(self.three_phase, dtype=bool)
        first, last = pct * total - 1, total - 1
        second = np.where(three, 2 * pct * total - 2, last)
        phase = np.where(t <= first, 0, np.where(three & (t <= second), 1, 2))  # 2: the last phase
        start = np.where(phase == 0, 0.0, np.where(phase == 1, first, np.where(three, second, first)))
        end = np.where(phase == 0, first, np.where(phase == 1, second, last))
        return phase, (t - start) / (end - start)

    def __call__(self, t):
        phase, pct = self._phases(t)
        peak = np.asarray(self.max_lr, dtype=np.float64)
        low = peak / self.div_factor
        cosine = np.asarray(self.anneal_strategy) == "cos"
        bottom = low / self.final_div_factor
        last = np.where(np.asarray(self.three_phase, dtype=bool), _annealed(low, bottom, pct, cosine),
                        _annealed(peak, bottom, pct, cosine))
        return np.where(phase == 0, _annealed(low, peak, pct, cosine),
                        np.where(phase == 1, _annealed(peak, low, pct, cosine), last))

    def momentum(self, t):
        """The momentum torch's ``OneCycleLR`` sets for update ``t`` (with ``cycle_momentum``)."""
        phase, pct = self._phases(t)
        base, top = np.asarray(self.base_momentum, dtype=np.float64), np.asarray(self.max_momentum, dtype=np.float64)
        cosine = np.asarray(self.anneal_strategy) == "cos"
        three = np.asarray(self.three_phase, dtype=bool)
        last = np.where(three, _annealed(top, top, pct, cosine), _annealed(base, top, pct, cosine))
        return np.where(phase == 0, _annealed(top, base, pct, cosine),
                        np.where(phase == 1, _annealed(base, top, pct, cosine), last))

    def last_update(self):
        return self.total_steps


@dataclass(frozen=True)
class Sutskever:
    """``β_t = min(1 − 2^(−1 − log₂(⌊t / every⌋ + 1)), mu_max)``: 0.5, then 0.75, 0.833, ... a step every
    ``every`` updates, up to ``mu_max`` (Sutskever, Martens, Dahl & Hinton 2013, with every = 250)."""

    mu_max: object
    every: object = 250

    def __post_init__(self):
        top = np.asarray(self.mu_max, dtype=float)
        _bad("mu_max", self.mu_max, (top >= 0) & (top < 1), "0 <= mu_max < 1", "sutskever")
        _bad("every", self.every, _whole(self.every), "a whole number >= 1", "sutskever")

    def __call__(self, t):
        k = np.floor(np.asarray(t, dtype=np.float64) / self.every)
        return np.minimum(1 - 2.0 ** (-1 - np.log2(k + 1)), self.mu_max)

    def last_update(self):
        return None


@dataclass(frozen=True)
class Demon:
    """Decaying momentum (Chen et al. 2019): ``β_t = β₀(1 − t/T) / ((1 − β₀) + β₀(1 − t/T))`` with ``T =
    total`` updates, from ``beta0`` down to 0 at the end; training may not take more than ``total`` updates."""

    beta0: object
    total: object

    def __post_init__(self):
        b = np.asarray(self.beta0, dtype=float)
        _bad("beta0", self.beta0, (b >= 0) & (b < 1), "0 <= beta0 < 1", "demon")
        _bad("total", self.total, _whole(self.total), "a whole number >= 1", "demon")

    def __call__(self, t):
        left = 1 - np.asarray(t, dtype=np.float64) / self.total
        return self.beta0 * left / ((1 - self.beta0) + self.beta0 * left)

    def last_update(self):
        return self.total


def check_length(schedule, updates: int, field: str = "schedule") -> None:
    """A ValueError when ``schedule`` ends before ``updates`` updates (a :class:`OneCycle`'s ``total_steps``, a
    :class:`Demon`'s ``total``), as torch's scheduler would refuse to step past its end."""
    last = schedule.last_update() if hasattr(schedule, "last_update") else None
    if last is not None and (np.asarray(last) < updates).any():
        name = "total_steps" if isinstance(schedule, OneCycle) else "total"
        short = int(np.min(last))
        raise ValueError(f"Invalid {field} {name}: {short} (allowed: at least the {updates} updates of training)")


def _named(kinds: dict, what: str, kind: str, *args, **params):
    """``kinds[kind](*args, **params)``, or a ValueError naming an unknown kind, an unknown field or a missing one."""
    if kind not in kinds:
        raise ValueError(f"Invalid {what}: {kind!r} (allowed: {', '.join(kinds)})")
    given = [f for f in fields(kinds[kind]) if not f.kw_only][:len(args)]  # the fields ``args`` fill
    own = [f for f in fields(kinds[kind]) if f not in given]
    names = [f.name for f in own]
    for key in params:
        if key not in names:
            raise ValueError(f"Invalid {kind} field {key!r} (allowed: {', '.join(names)})")
    for f in own:
        if f.default is MISSING and f.name not in params:
            raise ValueError(f"Invalid {kind}: {f.name} is required (fields: {', '.join(names)})")
    return kinds[kind](*args, **params)


def schedule(kind: str, lr: float, **params) -> Constant | InverseTime | Step | Cosine | OneCycle:
    """A learning-rate schedule by name: ``constant``, ``inverse_time`` (decay), ``step`` (every, gamma),
    ``cosine`` (total), ``onecycle`` (total_steps and torch's other OneCycleLR parameters; ``lr`` is max_lr)."""
    kinds = {"constant": Constant, "inverse_time": InverseTime, "step": Step, "cosine": Cosine, "onecycle": OneCycle}
    return _named(kinds, "schedule", kind, lr, **params)


def momentum_schedule(kind: str, **params) -> Sutskever | Demon:
    """A momentum schedule by name: ``sutskever`` (mu_max, every), ``demon`` (beta0, total)."""
    return _named({"sutskever": Sutskever, "demon": Demon}, "momentum schedule", kind, **params)



def _settings(text: str, what: str) -> tuple[str, dict]:
    """``kind:field=value:...`` as :func:`inertia.optim.rules.parse` reads an optimizer: the kind, and the values
    as numbers (integers where written so), true/false, or text."""
    kind, *pairs = (part.strip() for part in str(text).split(":"))
    values = {}
    for pair in pairs:
        key, _, value = (side.strip() for side in pair.partition("="))
        if not key or not value:
            raise ValueError(f"Invalid {what} {text!r}: expected {kind}:field=value, got {pair!r}")
        if value.lower() in ("true", "false"):
            values[key] = value.lower() == "true"
            continue
        try:
            values[key] = int(value)
        except ValueError:
            try:
                values[key] = float(value)
            except ValueError:
                values[key] = value
    return kind, values


def build(kind: str, values: dict, lr: float, updates: int, check: bool = True):
    """A learning-rate schedule of ``kind`` with fields ``values`` (:func:`schedule`'s), as the command line and
    sweep specs give it: the rate is ``lr`` unless ``values`` set it (``max_lr`` for one-cycle), and a schedule that
    needs its length (one-cycle's ``total_steps``, cosine's ``total``) lasts the ``updates`` of training unless
    told otherwise. ``ValueError`` names what is wrong, and with ``check`` a training longer than the schedule too
    (:func:`check_length`)."""
    values = dict(values)
    if kind == "onecycle":
        lr = values.pop("max_lr", lr)
        values.setdefault("total_steps", updates)
    elif kind == "cosine":
        values.setdefault("total", updates)
    made = schedule(kind, values.pop("lr", lr), **values)
    if check:
        check_length(made, updates)
    return made


def build_momentum(kind: str, values: dict, updates: int, check: bool = True):
    """A momentum schedule of ``kind`` with fields ``values`` (Demon's ``total`` defaults to the ``updates`` of
    training), checked as :func:`build` checks a learning rate's."""
    values = dict(values)
    if kind == "demon":
        values.setdefault("total", updates)
    made = momentum_schedule(kind, **values)
    if check:
        check_length(made, updates, "momentum schedule")
    return made


def parse(text: str, lr: float, updates: int, check: bool = True):
    """:func:`build` from text such as ``onecycle:max_lr=0.2:pct_start=0.25``, ``cosine`` or
    ``step:every=500:gamma=0.5``: a kind, then ``:field=value`` pairs, as :func:`inertia.optim.rules.parse` reads
    an optimizer."""
    return build(*_settings(text, "schedule"), lr, updates, check)


def parse_momentum(text: str, updates: int, check: bool = True):
    """:func:`build_momentum` from text such as ``sutskever:mu_max=0.99`` or ``demon:beta0=0.9``."""
    return build_momentum(*_settings(text, "momentum schedule"), updates, check)
