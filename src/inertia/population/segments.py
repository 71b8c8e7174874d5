"""A population trained in stretches, and changed in between: the engine under successive halving and
population-based training.

:class:`Population` holds where every member stands after the epochs trained so far (a
:class:`~inertia.population.state.State`: weights, optimizer state, updates taken) and trains more epochs from
there on the engine chosen once for it, chunk by chunk as :func:`~inertia.population.train_population` does.
Between two stretches the population may be narrowed or reordered (:meth:`Population.keep`), one member may take
over another's run — weights, optimizer state and, by default, hyperparameters (:meth:`Population.copy`) — and
members' hyperparameters may change (:meth:`Population.set`). A member trained in stretches follows exactly the
path it follows trained straight through, on every engine: its data order is its seed's for the global epoch, and
its update count (which schedules, Adam's bias correction and the first step read) goes on from the state. One
qualification, the engines' own: members trained together share their rule's slots, and a chunk whose members all
train plain SGD (momentum 0, the pytorch form) keeps no buffer at all — the same steps, to within round-off
(1e-16), as with one — so a member narrowed into such company, or chunked differently, is equal to that
tolerance rather than bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import torch

from inertia import init
from inertia.arguments import check_positive_int
from inertia.data import Dataset
from inertia.population.columns import Member, Members
from inertia.population.result import PopulationResult
from inertia.population.setup import prepare
from inertia.population.state import State
from inertia.train import HELD_OUT, METRICS


class Population:
    """Members (a :class:`~inertia.population.columns.Members` table or a list of
    :class:`~inertia.population.columns.Member`) of one MLP on one data set, trained a stretch at a time.
    ``settings`` are :func:`~inertia.population.train_population`'s (``batch_size``, ``shuffle``, ``activation``,
    ``form``, ``nesterov``, ``engine``, ``dtype``, ``held_out``, ...; not ``epochs``, ``until`` or
    ``snapshots``), checked here before any work.

    ``population.train(5)`` trains every member 5 more epochs; ``keep``, ``copy`` and ``set`` change the
    population in between; ``result()`` is a :class:`~inertia.population.result.PopulationResult` of every epoch
    so far; ``origin`` gives, per member, the row it started as (what ``keep`` moved where)."""

    def __init__(self, dataset: Dataset, layers: Sequence[int], members: Members | Sequence[Member], **settings):
        for name in ("epochs", "until", "snapshots", "on_epoch", "on_metrics"):
            if name in settings:
                raise TypeError(f"Population takes no {name}: give epochs and callbacks to train()")
        self.setup = prepare(dataset, layers, members, **settings)
        self.members = self.setup.members
        self.epoch = 0
        self._parts: list[State] = []  # where the members stand: one state, or one per chunk of the last stretch
        size = len(self.members)
        names = METRICS + (HELD_OUT if self.setup.task.held_out is not None else ())
        self.metrics = {name: np.empty((size, 0)) for name in names}
        self.diverged_at = np.full(size, -1)
        self.origin = np.arange(size)

    def __len__(self) -> int:
        return len(self.members)

    @property
    def state(self) -> State | None:
        """Where every member stands (None before any training): the chunks' states of the last stretch are
        joined into one on first use, so a stretch followed by another over the same chunks, or by :meth:`keep`,
        never copies them whole."""
        if len(self._parts) > 1:
            self._parts = [State.join(self._parts)]
        return self._parts[0] if self._parts else None

    @state.setter
    def state(self, state: State | None) -> None:
        self._parts = [] if state is None else [state]

    @property
    def steps_per_epoch(self) -> int:
        task = self.setup.task
        return -(-len(task.y) // task.batch_size)

    @property
    def engine(self) -> str:
        """The engine every stretch trains on (chosen once, for the population as it was made)."""
        return self.setup.engine

    def train(self, epochs: int, *, on_epoch: Callable[[int], None] | None = None,
              on_metrics: Callable[[int, int, np.ndarray, np.ndarray], None] | None = None) -> Population:
        """Train every member ``epochs`` more epochs (members frozen by the divergence rule stay frozen);
        ``on_epoch`` and ``on_metrics`` as :func:`~inertia.population.train_population`'s, with global epochs.
        Returns the population."""
        epochs = check_positive_int("epochs", epochs)
        self.members.check_length((self.epoch + epochs) * self.steps_per_epoch)
        size = len(self)
        chunk, eval_chunk = self.setup.chunk_sizes(size)
        records, states = [], []
        for lo in range(0, size, chunk):
            hi = min(lo + chunk, size)
            start = self._start(lo, hi)
            trainer = self.setup.trainer(self.members.rows(lo, hi), eval_chunk, start)
            report = None if on_metrics is None else (lambda e, loss, acc, first=lo: on_metrics(first, e, loss, acc))
            metrics, _, diverged, _, _ = trainer.run(epochs, on_epoch, None, None, report, first_epoch=self.epoch,
                                                     frozen=self.diverged_at[lo:hi] >= 0)
            records.append((metrics, diverged))
            states.append(trainer.capture())
        for name in self.metrics:  # the chunks' rows one under another, then after the epochs so far
            stretch = np.concatenate([m[name] for m, _ in records])
            self.metrics[name] = np.concatenate([self.metrics[name], stretch], axis=1)
        diverged = np.concatenate([d for _, d in records])
        self.diverged_at = np.where(diverged >= 0, diverged + self.epoch, self.diverged_at)
        self._parts = states
        self.epoch += epochs
        return self

    def keep(self, index) -> Population:
        """Only members ``index`` (integers, in the order given; repeats make copies that train on as their
        original would) go on, with their records. Returns the population."""
        index = self._rows(index, "index")
        self.members = self.members.take(index)
        if self._parts:
            self._parts = [State.gather(self._parts, index)]
        self.metrics = {name: values[index] for name, values in self.metrics.items()}
        self.diverged_at, self.origin = self.diverged_at[index], self.origin[index]
        return self

    def copy(self, source, target, *, hyperparameters: bool = True) -> Population:
        """Members ``target`` take over the runs of members ``source`` (pairwise): their weights, optimizer state,
        initial loss and divergence, and with ``hyperparameters`` their optimizer's hyperparameters and schedules.
        Each keeps its own seed, so its own data order, and its own records so far. Returns the population."""
        source, target = self._rows(source, "source"), self._rows(target, "target")
        if len(source) != len(target):
            raise ValueError(f"source and target must pair up, got {len(source)} and {len(target)} members")
        if len(np.unique(target)) != len(target):
            raise ValueError("target names a member twice")
        if self.state is None:
            self.state = self._initial_state()
        self.state.put(target, self.state, source)
        self.diverged_at[target] = self.diverged_at[source]
        if hyperparameters:
            rows = np.arange(len(self))
            rows[target] = source
            self.members = replace(self.members.take(rows), seeds=self.members.seeds)
        return self

    def set(self, index, **values) -> Population:
        """Members ``index`` take hyperparameters ``values`` (:meth:`Members.with_values`: one value or one per
        member), checked as the population's are. Returns the population."""
        index = self._rows(index, "members")
        members = self.members.with_values(index, **values)
        task = self.setup.task
        members.check(task.form, task.nesterov, task.maximize)
        self.members = members
        return self

    def result(self) -> PopulationResult:
        """Every epoch so far as a :class:`~inertia.population.result.PopulationResult`: each member's records
        in its row (a member that took over another's run keeps its own records before that), its current
        weights, the divergence epoch of the run it holds."""
        if self.state is None:
            raise ValueError("the population has not been trained yet: call train(epochs) first")
        task = self.setup.task
        return PopulationResult(self.members, {k: v.copy() for k, v in self.metrics.items()},
                                np.full(len(self), self.epoch), self.diverged_at.copy(),
                                self.state.initial_loss.copy(), task.layers, task.activation,
                                [(0, self.state.weights)])

    def checkpoint(self) -> dict:
        """What changes as the population trains (members, state, records, epoch), as NumPy arrays and plain
        values (quick to pickle), to give back to :meth:`restore` on a population made with the same arguments."""
        state = None if self.state is None else self.state.arrays()
        return {"members": self.members, "state": state, "metrics": self.metrics, "epoch": self.epoch,
                "diverged_at": self.diverged_at, "origin": self.origin}

    def restore(self, checkpoint: dict) -> Population:
        """The population as :meth:`checkpoint` saw it; it trains on exactly as it would have. Returns it."""
        state = checkpoint["state"]
        self.state = None if state is None else State.from_arrays(state)
        self.members, self.metrics = checkpoint["members"], checkpoint["metrics"]
        self.epoch, self.diverged_at, self.origin = checkpoint["epoch"], checkpoint["diverged_at"], checkpoint["origin"]
        return self

    def _start(self, lo: int, hi: int) -> State | None:
        """Members ``lo:hi``'s state: the chunk's own where the last stretch trained exactly them, else a view."""
        if not self._parts:
            return None
        first = 0
        for part in self._parts:
            if (first, first + len(part)) == (lo, hi):
                return part
            first += len(part)
        return self.state.cut(lo, hi)

    def _rows(self, index, name: str) -> np.ndarray:
        rows = np.atleast_1d(np.asarray(index))
        if rows.dtype == bool and rows.shape == (len(self),):
            rows = np.flatnonzero(rows)
        if rows.ndim != 1 or (len(rows) and rows.dtype.kind not in "iu"):
            raise ValueError(f"{name} must be member numbers (integers) or a mask over the members, got {index!r}")
        if len(rows) and (rows.min() < -len(self) or rows.max() >= len(self)):
            raise ValueError(f"{name} names member {int(rows.max() if rows.max() >= len(self) else rows.min())} "
                             f"of {len(self)}")
        if name == "index" and not len(rows):
            raise ValueError("index keeps no member: a population needs at least one")
        return rows.astype(np.int64) % len(self)

    def _initial_state(self) -> State:
        """The members' initial weights (:func:`inertia.init.population_weights`) with no optimizer state, before
        any update (the engines measure the initial loss then)."""
        task = self.setup.task
        weights = [(w.to(self.setup.dtype), b.to(self.setup.dtype))
                   for w, b in init.population_weights(task.layers, self.members.seeds, torch.device("cpu"))]
        return State.of(weights, {}, 0, np.full(len(self), np.nan), task.layers)
