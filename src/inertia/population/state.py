"""Where a population's members stand between two stretches of training: every member's weights and optimizer
state, with the updates taken so far.

A state holds each member's weights as one flat row (:func:`~inertia.population.layout.flat_weights`, in the
layout ``rows`` of the engine that wrote it) and each slot of its optimizer the same way, so that the engine that
trains the next stretch reads it as it is when its layout is the same (the compiled CPU engines: no copy between
layouts), and any other engine through the per-layer view (:attr:`State.weights`). A chunk of any engine
(:mod:`~inertia.population.chunk`) starts from a state instead of the members' initial weights and zeroed state,
and hands one back when its epochs are done; rows of a state are taken, repeated and copied onto one another in
between, which is how a population is narrowed and how one member takes over another's run
(:mod:`~inertia.population.segments`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from inertia.population.layout import flat_weights, forms, stacked_weights

# Per layer (weight (P, out, in), bias (P, out)), as :func:`inertia.init.population_weights` makes them.
Stacked = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass(eq=False)
class State:
    """``flat``: the weights, one row per member in layout ``rows`` (:func:`~inertia.population.layout.
    flat_weights`); ``flat_slots``: the optimizer's state per slot of :data:`inertia.optim.update.SLOTS` (``m``,
    ``v``, ``a``), the same way; ``steps``: the updates every member has taken (the next update's index: the
    schedules, Adam's bias correction and the first step's special case read it); ``initial_loss``: each member's
    full-data loss before its first update (the divergence rule's reference). Tensors on the CPU, in the training
    dtype."""

    flat: torch.Tensor
    flat_slots: dict[str, torch.Tensor]
    layers: list[int]
    rows: tuple[bool, ...]
    steps: int
    initial_loss: np.ndarray

    @staticmethod
    def of(weights: Stacked, slots: dict[str, Stacked], steps: int, initial_loss, layers, rows=None) -> State:
        """A state from per-layer weights and slots (default layout: :func:`~inertia.population.layout.forms`)."""
        rows = forms(layers) if rows is None else tuple(rows)
        return State(flat_weights(weights, rows), {n: flat_weights(s, rows) for n, s in slots.items()}, list(layers),
                     rows, steps, np.asarray(initial_loss, dtype=np.float64))

    def __len__(self) -> int:
        return len(self.initial_loss)

    @property
    def weights(self) -> Stacked:
        """Per layer (weight (P, out, in), bias (P, out)): views of :attr:`flat`."""
        return stacked_weights(self.flat, self.layers, self.rows)

    @property
    def slots(self) -> dict[str, Stacked]:
        return {name: stacked_weights(flat, self.layers, self.rows) for name, flat in self.flat_slots.items()}

    def slot(self, name: str) -> Stacked:
        """Slot ``name``'s state per layer, or zeros where this state holds none (a rule that starts keeping a
        buffer, as momentum set up from 0, starts it at zero)."""
        return stacked_weights(self.flat_slot(name), self.layers, self.rows)

    def flat_slot(self, name: str) -> torch.Tensor:
        held = self.flat_slots.get(name)
        return held if held is not None else torch.zeros_like(self.flat)

    def in_layout(self, rows) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The weights and slots as flat rows in layout ``rows``: these tensors themselves when the layout is this
        state's, else converted."""
        rows = tuple(rows)
        if rows == self.rows:
            return self.flat, self.flat_slots
        convert = lambda flat: flat_weights(stacked_weights(flat, self.layers, self.rows), rows)  # noqa: E731
        return convert(self.flat), {name: convert(flat) for name, flat in self.flat_slots.items()}

    def take(self, index) -> State:
        """Rows ``index`` (an integer array, in any order, repeats allowed), as copies."""
        index = np.asarray(index, dtype=np.int64)
        return State(_rows(self.flat, index), {n: _rows(f, index) for n, f in self.flat_slots.items()}, self.layers,
                     self.rows, self.steps, self.initial_loss[index].copy())

    def put(self, target, source: State, rows=None) -> None:
        """Rows ``target`` of this state become ``source``'s rows ``rows`` (default: all, in order): weights, every
        slot this state holds (zero where ``source`` has none) and the initial loss."""
        target = np.asarray(target, dtype=np.int64)
        rows = np.arange(len(source)) if rows is None else np.asarray(rows, dtype=np.int64)
        flat, slots = source.in_layout(self.rows)
        _put(self.flat, target, flat, rows)
        for name, mine in self.flat_slots.items():
            theirs = slots.get(name)
            _put(mine, target, torch.zeros_like(mine[:1]) if theirs is None else theirs,
                 np.zeros_like(rows) if theirs is None else rows)
        self.initial_loss[target] = source.initial_loss[rows]

    def cut(self, start: int, stop: int) -> State:
        """Members ``start:stop`` (views)."""
        return State(self.flat[start:stop], {n: f[start:stop] for n, f in self.flat_slots.items()}, self.layers,
                     self.rows, self.steps, self.initial_loss[start:stop])

    def arrays(self) -> dict:
        """This state as NumPy arrays and plain values (views; :meth:`from_arrays` undoes it), quick to pickle."""
        return {"flat": self.flat.numpy(), "slots": {n: f.numpy() for n, f in self.flat_slots.items()},
                "layers": self.layers, "rows": self.rows, "steps": self.steps, "initial_loss": self.initial_loss}

    @staticmethod
    def from_arrays(arrays: dict) -> State:
        return State(torch.from_numpy(arrays["flat"]), {n: torch.from_numpy(f) for n, f in arrays["slots"].items()},
                     arrays["layers"], arrays["rows"], arrays["steps"], arrays["initial_loss"])

    @staticmethod
    def join(parts: list[State]) -> State:
        """States of consecutive chunks of members as one (in the first's layout, every slot any of them holds)."""
        if len(parts) == 1:
            return parts[0]
        first = parts[0]
        laid = [p.in_layout(first.rows) for p in parts]
        names = dict.fromkeys(name for _, slots in laid for name in slots)
        zeros = lambda flat: torch.zeros_like(flat)  # noqa: E731  (a chunk without a slot holds zeros)
        return State(torch.cat([flat for flat, _ in laid]),
                     {n: torch.cat([slots[n] if n in slots else zeros(flat) for flat, slots in laid]) for n in names},
                     first.layers, first.rows, first.steps, np.concatenate([p.initial_loss for p in parts]))

    @staticmethod
    def gather(parts: list[State], index) -> State:
        """Rows ``index`` of the states of consecutive chunks taken as one, as copies: ``join(parts).take(index)``
        without joining first (narrowing a population trained in several chunks copies only the rows it keeps)."""
        index = np.asarray(index, dtype=np.int64)
        if len(parts) == 1:
            return parts[0].take(index)
        first = parts[0]
        flat = first.flat.new_empty((len(index), first.flat.shape[1]))
        names = dict.fromkeys(name for part in parts for name in part.flat_slots)
        out = State(flat, {name: torch.empty_like(flat) for name in names}, first.layers, first.rows, first.steps,
                    np.empty(len(index)))
        bounds = np.cumsum([0] + [len(part) for part in parts])
        owner = np.searchsorted(bounds, index, side="right") - 1
        for k, part in enumerate(parts):
            target = np.flatnonzero(owner == k)
            out.put(target, part, index[target] - bounds[k])
        return out


def _rows(flat: torch.Tensor, index: np.ndarray) -> torch.Tensor:
    """Rows ``index`` of ``flat``, copied (through NumPy on the CPU: several times quicker than torch's indexing)."""
    if flat.device.type == "cpu":
        return torch.from_numpy(flat.numpy()[index])
    return flat[torch.as_tensor(index, device=flat.device)]


def _put(mine: torch.Tensor, target: np.ndarray, theirs: torch.Tensor, rows: np.ndarray) -> None:
    """``mine[target] = theirs[rows]`` (the right side read first, so the two may be one tensor)."""
    if mine.device.type == "cpu" and theirs.device.type == "cpu":
        mine.numpy()[target] = theirs.numpy()[rows]
    else:
        mine[torch.as_tensor(target, device=mine.device)] = theirs[torch.as_tensor(rows, device=theirs.device)]
