"""The part of population training every engine shares: a chunk of members, their stacked optimizer rule and
learning rates, the update's coefficients, and the per-epoch records with the divergence rule."""

from __future__ import annotations

from dataclasses import fields
from functools import cached_property

import numpy as np

from inertia import init, outcome
from inertia.optim import rules
from inertia.optim.update import UPDATE_FIELDS
from inertia.population.columns import Members, constant_rates
from inertia.population.evaluate import full_data_metrics
from inertia.population.layout import Task
from inertia.population.state import State
from inertia.train import HELD_OUT, METRICS


class Chunk:
    """Members (a slice of :class:`~inertia.population.columns.Members`) trained together on a
    :class:`~inertia.population.layout.Task`. Subclasses provide ``epoch`` (train one epoch, return per-member
    numpy arrays: mean and last minibatch loss, full-data loss and correct predictions), ``freeze``,
    ``finite_weights`` and ``weights`` (per layer (weight (P, out, in), bias (P, out)) on the CPU; a copy with
    ``copy=True``), and set ``initial_loss`` (each member's
    full-data loss before training) by the end of the first epoch; this class holds what every engine shares
    (``initial``: the members' initial weights, stacked per layer on the device, from :mod:`inertia.init`)
    and keeps the per-epoch records. ``stacked()`` gives the current weights as the torch engine stacks them
    (per layer (P, in, out) and (P, 1, out)), for the held-out split's metrics.

    With ``start`` (a :class:`~inertia.population.state.State`) the members start from its weights, optimizer
    state and update count instead of their initial weights, zeroed state and update 0, and ``capture()`` hands
    back where they stand (subclasses provide ``slot_state()``: per slot of the rule, per layer (weight, bias) on
    the CPU; or a ``capture()`` of their own)."""

    def __init__(self, members: Members, task: Task, start: State | None = None):
        self.size, self.task, self.start = len(members), task, start
        self.updates = 0 if start is None else start.steps
        self.layers, self.activation = task.layers, task.activation
        self.x, self.y, self.batch_size, self.shuffle = task.x, task.y, task.batch_size, task.shuffle
        self.seeds = members.seeds
        # measured by the engine before the first update; a state past it carries it
        self.initial_loss = None if start is None or start.steps == 0 else start.initial_loss
        self.rule = members.settled(task.form, task.nesterov, task.maximize)
        self.schedules = members.rates()
        self.momenta = members.momenta()
        if self.momenta:  # the rule as of the first update: its slots follow the momentum then
            self.rule = rules.with_momentum(self.rule, self.momentum_table(np.zeros(1, dtype=np.int64))[0])
        # With constant learning rates and momenta (the usual case) a steady rule's coefficients are two rows
        # for the whole run: the first update's and every later one's.
        self.constant_rates = constant_rates(self.schedules)
        self.steady = self.rule.steady and self.constant_rates and not self.momenta

    @cached_property
    def initial(self) -> list:
        """The members' initial weights (or ``start``'s), per layer (weight (P, out, in), bias (P, out)) on the
        device."""
        if self.start is not None:
            return [(w.to(self.x.device), b.to(self.x.device)) for w, b in self.start.weights]
        return init.population_weights(self.layers, self.seeds, self.x.device)

    def capture(self) -> State:
        """Where the members stand now (copies on the CPU): weights, optimizer state, updates taken, initial loss.
        A member frozen by the divergence rule holds its weights as it diverged."""
        return State.of(self.weights(copy=True), self.slot_state(), self.updates, np.array(self.initial_loss),
                        self.layers)

    def coefficients(self, steps: np.ndarray, by_member: bool = False, dtype=np.float64,
                     out: np.ndarray | None = None) -> np.ndarray:
        """The update's coefficients (:class:`inertia.optim.update.Update`) for updates ``steps`` of every member, from
        the members' rule, learning rates and momenta: shape (len(steps), P, len(UPDATE_FIELDS)), or with
        ``by_member`` (P, len(steps), len(UPDATE_FIELDS)), the compiled kernels' order, computed in that order and
        written once in ``dtype`` (no transposed copy of a float64 table). ``out``, a table this returned for as
        many steps in the same order and dtype, is written in place and only its coefficients that change with
        the step are written again (the others are the same for every update)."""
        lr, momentum = self.learning_rates(steps), self.momentum_table(steps) if self.momenta else None
        rule, t, along = self.rule, steps[:, None], 0
        if by_member:  # every per-member array as a column, the steps along rows
            rule = rules.convert(rule, lambda a: a.reshape(-1, 1))
            lr, t, along = lr.T, steps[None, :], 1
            momentum = None if momentum is None else momentum.T
        if momentum is not None:
            rule = rules.with_momentum(rule, momentum)
        update = rule.update(lr, t)
        shape = (*lr.shape, len(UPDATE_FIELDS))
        fresh = out is None or out.shape != shape or out.dtype != dtype or len(steps) < 2
        out = np.empty(shape, dtype=dtype) if fresh else out
        for k, name in enumerate(UPDATE_FIELDS):
            value = getattr(update, name)
            if fresh or (np.ndim(value) == 2 and np.shape(value)[along] > 1):
                out[..., k] = value
        return out

    def momentum_table(self, steps: np.ndarray) -> np.ndarray:
        """Each member's momentum (β; Adam's β₁) for updates ``steps``: shape (len(steps), P), its momentum
        schedule's where it has one, its rule's constant elsewhere."""
        own = getattr(self.rule, rules.MOMENTUM_FIELD[self.rule.kind])
        table = np.tile(np.broadcast_to(np.asarray(own, dtype=np.float64), self.size), (len(steps), 1))
        for index, schedule, cycled in self.momenta:
            table[:, index] = _values(schedule, steps, "momentum" if cycled else "__call__")
        return table

    def learning_rates(self, steps: np.ndarray) -> np.ndarray:
        """Each member's rate for updates ``steps``: shape (len(steps), P), one schedule formula per kind of
        schedule evaluated over arrays of the members' parameters."""
        table = np.empty((len(steps), self.size))
        for index, schedule in self.schedules.values():
            table[:, index] = _values(schedule, steps)
        return table

    def run(self, epochs, on_epoch, snapshots=None, until=None, on_metrics=None, first_epoch=0, frozen=None):
        """Train for ``epochs``; returns the per-epoch metrics ``{name: (P, epochs)}``, each member's number of
        epochs, the epoch it diverged at (−1: none), its initial loss, and the final weights; puts a copy of the
        weights in ``snapshots[epoch]`` after each epoch it names. With ``until = (metric, value)`` a member stops
        after the first epoch whose full-data ``metric`` reaches ``value`` (accuracy: at least; loss: at most): it is
        frozen like a diverged one, its history ends with that epoch, and training ends when no member is left.
        ``on_metrics(epoch, loss, accuracy)`` gets every member's full-data metrics after each epoch (NaN after a
        member that diverged or stopped). ``first_epoch``: the epochs trained before (a chunk that starts from a
        ``State``; the data order of epoch e is the members' for e whatever the stretch); ``frozen``: members not to
        train at all (diverged before), whose records stay NaN. Epochs in what this returns count from
        ``first_epoch``."""
        members, n = self.size, len(self.y)
        names = METRICS + (HELD_OUT if self.task.held_out is not None else ())
        metrics = {name: np.full((members, epochs), np.nan) for name in names}
        diverged_at = np.full(members, -1)
        stopped_at = np.full(members, -1)
        trained = epochs
        steps_per_epoch = -(-n // self.batch_size)
        frozen = np.zeros(members, dtype=bool) if frozen is None else np.asarray(frozen, dtype=bool)
        if frozen.any():
            self.freeze(frozen)
        for epoch in range(epochs):
            at = first_epoch + epoch
            steps = np.arange(at * steps_per_epoch, (at + 1) * steps_per_epoch)
            mean, last, full_loss, correct = self.epoch(at, steps)
            running = (diverged_at < 0) & (stopped_at < 0) & ~frozen
            metrics["batch_loss_mean"][running, epoch] = mean[running]
            metrics["batch_loss_last"][running, epoch] = last[running]
            newly = running & outcome.diverging(full_loss, mean, self.initial_loss, self.task.divergence_factor,
                                                self.finite_weights())
            fine = running & ~newly
            # A member that diverges this epoch keeps the metrics that made the rule fire, as fit's history does.
            metrics["loss"][running, epoch] = full_loss[running]
            metrics["accuracy"][running, epoch] = correct[running] / n
            if self.task.held_out is not None and running.any():
                with np.errstate(invalid="ignore", over="ignore"):
                    loss, accuracy = full_data_metrics(self.stacked(), self.activation, *self.task.held_out)
                metrics["test_loss"][running, epoch] = loss[running]
                metrics["test_accuracy"][running, epoch] = accuracy[running]
            if newly.any():
                diverged_at[newly] = epoch
                self.freeze(newly)
            if until is not None:
                done = fine & outcome.reached(until[0], metrics[until[0]][:, epoch], until[1])
                if done.any():
                    stopped_at[done] = epoch
                    self.freeze(done)
            if snapshots and epoch + 1 in snapshots:
                snapshots[epoch + 1] = self.weights(copy=True)
            if on_metrics is not None:
                on_metrics(epoch, metrics["loss"][:, epoch].copy(), metrics["accuracy"][:, epoch].copy())
            if on_epoch is not None:
                on_epoch(members)
            if until is not None and not ((diverged_at < 0) & (stopped_at < 0) & ~frozen).any():
                trained = epoch + 1
                break
        ends = np.where(stopped_at >= 0, stopped_at + 1, trained)
        past = np.arange(epochs)[None, :] >= ends[:, None]  # NaN past each member's end, as its history ends there
        for values in metrics.values():
            values[past] = np.nan
        return metrics, ends, diverged_at, np.asarray(self.initial_loss, dtype=np.float64), self.weights()


def _values(schedule, steps: np.ndarray, method: str = "__call__") -> np.ndarray:
    """``schedule.method`` at ``steps`` for each of its members: (len(steps), members), or (len(steps), 1) once for
    all when every member has the same parameters (as when one schedule is given for a whole table)."""
    arrays = [getattr(schedule, f.name) for f in fields(schedule)]
    if all(not isinstance(a, np.ndarray) or a.size == 0 or (a == a.flat[0]).all() for a in arrays):
        schedule = rules.convert(schedule, lambda a: a.flat[0].item() if a.size else a)
    return getattr(schedule, method)(steps[:, None])
