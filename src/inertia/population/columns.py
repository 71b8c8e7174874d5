"""A population's members as columns: one array per hyperparameter, one row per member.

:class:`Members` is what every engine trains: the members' optimizer kind with its hyperparameters as arrays,
their seeds, and their learning-rate and momentum schedules grouped by kind (each a schedule whose fields are
arrays over its members). It is made from arrays (:meth:`Members.table`, :meth:`Members.grid`,
:meth:`Members.from_frame`) and checked in a few vector operations, so a population of a million members never
becomes a million Python objects; or from a list of :class:`Member` (:meth:`Members.of`), the one-object-per-member
way to say the same, which is read into columns once. Either way a bad value is reported as ``member i: <the
rule's own message>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from operator import attrgetter

import numpy as np

from inertia.arguments import SEED_RANGE, check_seed
from inertia.optim import rules
from inertia.optim.schedules import Constant, OneCycle, check_length

MOMENTUM_COLUMNS = ("lr", "momentum", "dampening", "weight_decay")
SHARED = ("form", "nesterov", "maximize")  # what a population's momentum members share (train_population's)


@dataclass(frozen=True)
class Member:
    """One model's hyperparameters and seed. By default its optimizer is momentum
    (:class:`inertia.optim.rules.Momentum` with ``lr``, ``momentum``, ``dampening``, ``weight_decay`` and the
    population's form, Nesterov and maximize); ``optimizer`` may instead hold any rule of :mod:`inertia.optim.rules`
    (``rules.Adam(lr=1e-3)``, ``rules.QHM(0.1, 0.9, 0.7)``, ...), whose own fields then apply. ``schedule`` (an
    :mod:`inertia.optim.schedules` schedule) overrides the learning rate, ``momentum_schedule`` the momentum (β;
    Adam's β₁, QHM's β); a :class:`~inertia.optim.schedules.OneCycle` learning rate cycles the momentum too
    unless its ``cycle_momentum`` is false, as torch's ``OneCycleLR`` does."""

    lr: float = 0.1
    momentum: float = 0.0
    dampening: float = 0.0
    weight_decay: float = 0.0
    seed: int = 0
    schedule: object | None = None
    optimizer: object | None = None
    momentum_schedule: object | None = None

    def rule(self, form: str = "pytorch", nesterov: bool = False, maximize: bool = False):
        """The member's optimizer rule (see the class docstring)."""
        if self.optimizer is not None:
            return self.optimizer
        return rules.Momentum(self.lr, self.momentum, self.dampening, self.weight_decay, nesterov, maximize, form)

    def rate(self):
        if self.schedule is not None:
            return self.schedule
        return Constant(self.optimizer.lr if self.optimizer is not None else self.lr)


@dataclass(frozen=True, eq=False)
class Members:
    """Members as columns. ``rule`` is a rule of :mod:`inertia.optim.rules` whose hyperparameters are arrays over
    the members; with ``momentum_settings`` (the default of :meth:`table` and of lists of plain :class:`Member`)
    it is momentum whose form, Nesterov and maximize are the population's, given to
    :func:`~inertia.population.train_population`. ``seeds`` is int64 (P,); ``schedules`` maps a schedule kind of
    :mod:`inertia.optim.schedules` to (the indices of its members, one schedule of that kind whose fields are
    arrays over them), or is empty: constant learning rates, the rule's own; ``momentum_schedules`` the same for
    momentum schedules."""

    rule: object
    seeds: np.ndarray
    schedules: Mapping = field(default_factory=dict)
    momentum_settings: bool = False
    momentum_schedules: Mapping = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.seeds)

    def __getitem__(self, index):
        """``members[i]``: a :class:`Member`; ``members[a:b]``: those rows, as columns."""
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                raise ValueError("members[a:b] takes consecutive rows; use Members.table for others")
            return self.rows(start, max(start, stop))
        if not -len(self) <= index < len(self):
            raise IndexError(f"member {index} of {len(self)}")
        return self.member(index % len(self))

    @classmethod
    def table(cls, seed, *, optimizer: str | None = None, schedule=None, momentum_schedule=None,
              **hyperparameters) -> Members:
        """Members from columns: ``seed`` and each hyperparameter an array (or one value for all), broadcast to
        one length. ``optimizer`` names a kind of :data:`inertia.optim.rules.OPTIMIZERS` (``adam``, ``qhm``, ...;
        default: momentum, with the population's form, Nesterov and maximize); hyperparameters left out take
        the kind's defaults. ``schedule``, ``momentum_schedule``: one schedule each, whose fields may be arrays
        over the members.
        ``Members.table(seed=np.arange(1000), lr=0.1, momentum=np.linspace(0, 0.99, 1000))``."""
        kind = rules.Momentum if optimizer in (None, "sgd") else rules.OPTIMIZERS.get(optimizer)
        if kind is None:
            raise ValueError(f"unknown optimizer {optimizer!r} (allowed: {', '.join(rules.OPTIMIZERS)})")
        allowed = [f.name for f in fields(kind) if optimizer is not None or f.name not in SHARED]
        for name in SHARED if optimizer is None else ():
            if name in hyperparameters:
                raise ValueError(f"{name} is the population's: train_population(..., {name}=...), or name the "
                                 f"optimizer (optimizer='momentum') to set it in the table")
        unknown = sorted(set(hyperparameters) - set(allowed))
        if unknown:
            raise ValueError(f"{kind.kind} has no hyperparameter {', '.join(unknown)} (allowed: seed, "
                             f"{', '.join(allowed)})")
        shared = {name: hyperparameters.pop(name) for name in SHARED if name in hyperparameters}
        arrays = dict(zip(("seed", *hyperparameters), np.broadcast_arrays(
            np.asarray(seed), *(np.asarray(v) for v in hyperparameters.values()))))
        seeds = _seed_column(arrays.pop("seed"))
        for name, values in arrays.items():
            if values.dtype.kind not in "biuf" or (values.dtype.kind == "b" and name != "centered"):
                raise ValueError(f"{name} must be numbers, got an array of {values.dtype}")
        columns = {name: values.astype(bool if name == "centered" else np.float64) for name, values in arrays.items()}
        rule = kind(**columns, **shared)
        members = cls(rule, seeds, _one_schedule(schedule, len(seeds)), momentum_settings=optimizer is None,
                      momentum_schedules=_one_schedule(momentum_schedule, len(seeds)))
        members.check()  # again by train_population with its momentum settings, which may rule out more
        return members

    @classmethod
    def grid(cls, *, optimizer: str | None = None, schedule=None, **axes) -> Members:
        """Every combination of the values of ``axes`` (``seed`` among them; the last one varies fastest):
        ``Members.grid(lr=[0.01, 0.1], momentum=[0, 0.9], seed=range(10))`` is 40 members."""
        if "seed" not in axes:
            raise ValueError("a grid needs a seed axis, e.g. seed=range(10)")
        names = list(axes)
        mesh = np.meshgrid(*(np.atleast_1d(np.asarray(axes[n])) for n in names), indexing="ij")
        return cls.table(optimizer=optimizer, schedule=schedule, **{n: a.ravel() for n, a in zip(names, mesh)})

    @classmethod
    def from_frame(cls, frame, *, optimizer: str | None = None, schedule=None) -> Members:
        """Members from a table whose columns are ``seed`` and hyperparameters (a pandas DataFrame, or any
        mapping of names to columns)."""
        columns = {str(name): np.asarray(frame[name]) for name in frame}
        if "seed" not in columns:
            raise ValueError(f"a members table needs a seed column; got columns {', '.join(columns)}")
        return cls.table(optimizer=optimizer, schedule=schedule, **columns)

    @classmethod
    def seeds_of(cls, rule, seeds) -> Members:
        """One rule of :mod:`inertia.optim.rules` (numbers for hyperparameters) trained from each of ``seeds``."""
        return cls.table(seed=seeds, optimizer=rule.kind, **{f.name: getattr(rule, f.name) for f in fields(rule)})

    @classmethod
    def of(cls, members: Sequence[Member], form: str = "pytorch", nesterov: bool = False,
           maximize: bool = False) -> Members:
        """Columns from a list of :class:`Member`, checked as :meth:`table` checks: plain numbers are read and
        checked as columns; anything else (a tensor learning rate, a rule object per member) member by member."""
        members = list(members)
        if not members:
            raise ValueError("a population needs at least one member")
        plain = all(m.optimizer is None for m in members)
        columns = {name: list(map(attrgetter(name), members)) for name in (*MOMENTUM_COLUMNS, "seed")}
        given = [i for i, m in enumerate(members) if m.schedule is not None]
        schedules = vectorized([members[i].schedule for i in given], given)
        given = [i for i, m in enumerate(members) if m.momentum_schedule is not None]
        momenta = vectorized([members[i].momentum_schedule for i in given], given)
        if plain and all(set(map(type, columns[name])) <= {float, int} for name in MOMENTUM_COLUMNS) and \
                set(map(type, columns["seed"])) <= {int}:
            seeds = _seed_column(np.asarray(columns.pop("seed")))
            rule = rules.Momentum(**{name: np.array(values, dtype=np.float64) for name, values in columns.items()})
            result = cls(rule, seeds, schedules, momentum_settings=True, momentum_schedules=momenta)
            result.check(form, nesterov, maximize)
            return result
        for i, m in enumerate(members):  # member by member, as each value came
            try:
                check_seed(m.seed, "seed")
                m.rule(form, nesterov, maximize).check()
            except ValueError as exc:
                raise ValueError(f"member {i}: {exc}") from None
        rule = rules.stack([m.rule(form, nesterov, maximize) for m in members])  # one kind, or a clear error now
        return cls(rule, np.array([int(m.seed) for m in members], dtype=np.int64), schedules,
                   momentum_settings=plain, momentum_schedules=momenta)

    def check(self, form: str = "pytorch", nesterov: bool = False, maximize: bool = False) -> None:
        """Every member's hyperparameters in a few vector operations (:func:`inertia.optim.rules.check_rows`),
        under the population's momentum settings where the members take them."""
        rules.check_rows(self.settled(form, nesterov, maximize))

    def check_length(self, updates: int) -> None:
        """A ValueError when a member's schedule ends before ``updates`` updates
        (:func:`inertia.optim.schedules.check_length`)."""
        for field_name, groups in (("schedule", self.schedules), ("momentum_schedule", self.momentum_schedules)):
            for _, schedule in groups.values():
                check_length(schedule, updates, field_name)

    def settled(self, form: str, nesterov: bool, maximize: bool):
        """The members' rule, with the population's momentum settings where the members take them."""
        if not self.momentum_settings:
            return self.rule
        return rules.Momentum(*(getattr(self.rule, n) for n in MOMENTUM_COLUMNS), nesterov, maximize, form)

    def rates(self) -> dict:
        """``{schedule kind: (member indices, schedule with array fields)}``: the schedules, and a constant rate
        (the rule's learning rate) for every member without one."""
        groups = dict(self.schedules)
        given = np.zeros(len(self), dtype=bool)
        for index, _ in groups.values():
            given[index] = True
        rest = np.flatnonzero(~given)
        if len(rest):
            lr = np.broadcast_to(np.asarray(self.rule.lr, dtype=np.float64), len(self))[rest]
            index, constant = groups.get(Constant, (rest[:0], Constant(lr[:0])))

            def joined(name, own):  # the given constants' values (warm-ups too), then the others'
                return np.concatenate([np.broadcast_to(np.asarray(getattr(constant, name), dtype=float), len(index)),
                                       np.broadcast_to(own, len(rest))])

            groups[Constant] = (np.concatenate([index, rest]),
                                Constant(joined("lr", lr), warmup=joined("warmup", 0.0),
                                         warmup_factor=joined("warmup_factor", 1.0)))
        return groups



    def momenta(self) -> list:
        """``[(member indices, schedule with array fields, cycled)]``: each member's momentum schedule — its own,
        or (``cycled``) its :class:`~inertia.optim.schedules.OneCycle` learning rate's where that cycles momentum
        (its ``momentum`` method) — grouped as the schedules are; members in none keep their rule's constant
        momentum."""
        own = np.zeros(len(self), dtype=bool)
        groups = []
        for index, schedule in self.momentum_schedules.values():
            own[index] = True
            groups.append((index, schedule, False))
        for index, schedule in self.schedules.values():
            if isinstance(schedule, OneCycle):
                cycling = ~own[index] & np.broadcast_to(np.asarray(schedule.cycle_momentum, dtype=bool), len(index))
                if cycling.any():
                    groups.append((index[cycling], _take(schedule, cycling), True))
        return groups

    def rows(self, start: int, stop: int) -> Members:
        """Members ``start:stop`` (views of the columns)."""
        return Members(_take(self.rule, slice(start, stop)), self.seeds[start:stop], _rows(self.schedules, start, stop),
                       self.momentum_settings, _rows(self.momentum_schedules, start, stop))

    def take(self, index) -> Members:
        """Rows ``index`` (integers, in any order, repeats allowed), as copies: a population narrowed, reordered,
        or with some members' hyperparameters copied onto others."""
        index = np.asarray(index, dtype=np.int64)
        return Members(_take(self.rule, index), self.seeds[index], _pick(self.schedules, index, len(self)),
                       self.momentum_settings, _pick(self.momentum_schedules, index, len(self)))

    def with_values(self, index, **values) -> Members:
        """Members with hyperparameters ``values`` (one value, or one per row of ``index``) given to rows
        ``index``: ``members.with_values([2, 5], lr=[0.2, 0.05])``. The names are the rule's own (``lr``,
        ``momentum``, ``dampening``, ``weight_decay``; another kind's fields for other optimizers); a member
        whose learning rate or momentum follows a schedule takes no new ``lr`` or momentum (a ValueError names
        it). Not checked here: :meth:`check` does that with the population's settings."""
        index = np.atleast_1d(np.asarray(index, dtype=np.int64))
        allowed = MOMENTUM_COLUMNS if self.momentum_settings else \
            [f.name for f in fields(self.rule) if f.name not in (*SHARED, "centered")]
        scheduled = {"lr": self.schedules,
                     rules.MOMENTUM_FIELD[self.rule.kind]: {i: (m, s) for i, (m, s, _) in enumerate(self.momenta())}}
        columns = {}
        for name, value in values.items():
            if name not in allowed:
                raise ValueError(f"{self.rule.kind} has no hyperparameter {name} to set (allowed: "
                                 f"{', '.join(allowed)})")
            for group, _ in scheduled.get(name, {}).values():
                clash = np.intersect1d(group, index)
                if len(clash):
                    raise ValueError(f"member {clash[0]}: its {name} follows a schedule; set the schedule's "
                                     f"fields instead")
            column = np.array(np.broadcast_to(np.asarray(getattr(self.rule, name), dtype=np.float64), len(self)))
            try:
                column[index] = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be a number or one number per member set, got {value!r}") from None
            columns[name] = column
        return replace(self, rule=replace(self.rule, **columns))

    def member(self, index: int) -> Member:
        """Member ``index`` as a :class:`Member`."""
        schedule, momentum = _row_of(self.schedules, index), _row_of(self.momentum_schedules, index)
        seed, rule = int(self.seeds[index]), rules.row(self.rule, index)
        if self.momentum_settings:
            return Member(*(getattr(rule, n) for n in MOMENTUM_COLUMNS), seed=seed, schedule=schedule,
                          momentum_schedule=momentum)
        return Member(seed=seed, schedule=schedule, optimizer=rule, momentum_schedule=momentum)

    def frame(self):
        """The columns as a pandas DataFrame, one row per member: seed and every hyperparameter that is an array."""
        import pandas as pd

        names = MOMENTUM_COLUMNS if self.momentum_settings else [f.name for f in fields(self.rule)]
        columns = {"seed": self.seeds}
        for name in names:
            value = getattr(self.rule, name)
            if isinstance(value, np.ndarray):
                columns[name] = np.broadcast_to(value, len(self))
        return pd.DataFrame(columns)


def constant_rates(rates: Mapping) -> bool:
    """Whether :meth:`Members.rates` ``rates`` give every member one learning rate for the whole training (no
    schedule, no warm-up)."""
    return list(rates) == [Constant] and not np.any(rates[Constant][1].warmup)


def _seed_column(seeds: np.ndarray) -> np.ndarray:
    """Seeds as int64, or the error :func:`inertia.arguments.check_seed` gives the first bad one."""
    seeds = np.atleast_1d(seeds)
    if seeds.ndim != 1:
        raise ValueError(f"seed must be one column of integers, got shape {seeds.shape}")
    if seeds.dtype.kind == "i" or (seeds.dtype.kind == "u" and (seeds <= SEED_RANGE[1]).all()):
        return seeds.astype(np.int64)
    suspects = range(len(seeds))
    if seeds.dtype.kind == "f":  # whole numbers in floats (as a table with a missing value once made them) pass
        with np.errstate(invalid="ignore"):
            whole = (np.floor(seeds) == seeds) & (np.abs(seeds) < 2.0**63)
        if whole.all():
            return seeds.astype(np.int64)
        suspects = np.flatnonzero(~whole)
    for i in suspects:
        try:
            check_seed(seeds[i].item() if isinstance(seeds[i], np.generic) else seeds[i])
        except ValueError as exc:
            raise ValueError(f"member {i}: {exc}") from None
    return seeds.astype(np.int64)


def _take(record, index):
    """A frozen dataclass of columns (a rule, a schedule) with every array field indexed by ``index``."""
    return rules.convert(record, lambda values: values[index] if values.ndim else values)


def _rows(groups: Mapping, start: int, stop: int) -> dict:
    """Schedule groups (``{kind: (member indices, schedule)}``) of members ``start:stop``, renumbered."""
    out = {}
    for kind, (index, schedule) in groups.items():
        keep = (index >= start) & (index < stop)
        if keep.any():
            out[kind] = (index[keep] - start, _take(schedule, keep))
    return out


def _pick(groups: Mapping, index: np.ndarray, size: int) -> dict:
    """Schedule groups (``{kind: (member indices, schedule)}``) of the members ``index`` of ``size``, renumbered
    in that order."""
    out = {}
    for kind, (members, schedule) in groups.items():
        at = np.full(size, -1)
        at[members] = np.arange(len(members))
        rows = at[index]
        kept = rows >= 0
        if kept.any():
            out[kind] = (np.flatnonzero(kept), _take(schedule, rows[kept]))
    return out


def _row_of(groups: Mapping, index: int):
    """Member ``index``'s own schedule out of schedule groups, or None."""
    for indices, group in groups.values():
        at = np.flatnonzero(indices == index)
        if len(at):
            return rules.row(group, int(at[0]))
    return None


def _one_schedule(schedule, size: int) -> dict:
    if schedule is None:
        return {}
    arrays = {f.name: np.broadcast_to(np.asarray(getattr(schedule, f.name)), size) for f in fields(schedule)}
    return {type(schedule): (np.arange(size), type(schedule)(**arrays))}


def vectorized(schedules, members) -> dict:
    """``{kind: (member indices, schedule of that kind whose fields are arrays over those members)}`` for
    ``schedules[j]``, the schedule of member ``members[j]``."""
    groups = {}
    for j, schedule in enumerate(schedules):
        groups.setdefault(type(schedule), []).append(j)
    return {
        kind: (np.array([members[j] for j in group]),
               kind(**{f.name: np.array([getattr(schedules[j], f.name) for j in group]) for f in fields(kind)}))
        for kind, group in groups.items()
    }

