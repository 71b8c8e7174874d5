"""Where a population's members stand between two stretches of training: every member's weights and optimizer
state, held as every engine reads them in (per layer, stacked over the members), with the updates taken so far.

A chunk of any engine (:mod:`~inertia.population.chunk`) starts from a :class:`State` instead of the members'
initial weights and zeroed state, and hands one back when its epochs are done; rows of a state are taken, repeated
and copied onto one another in between, which is how a population is narrowed and how one member takes over
another's run (:mod:`~inertia.population.segments`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

# Per layer (weight (P, out, in), bias (P, out)), as :func:`inertia.init.population_weights` makes them.
Stacked = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass(eq=False)
class State:
    """``weights``: per layer (weight (P, out, in), bias (P, out)); ``slots``: the optimizer's state, per slot of
    :data:`inertia.optim.update.SLOTS` (``m``, ``v``, ``a``) the same shapes; ``steps``: the updates every member
    has taken (the next update's index: the schedules, Adam's bias correction and the first step's special case
    read it); ``initial_loss``: each member's full-data loss before its first update (the divergence rule's
    reference). Tensors on the CPU, in the training dtype."""

    weights: Stacked
    slots: dict[str, Stacked]
    steps: int
    initial_loss: np.ndarray

    def __len__(self) -> int:
        return len(self.initial_loss)

    def take(self, index) -> State:
        """Rows ``index`` (an integer array, in any order, repeats allowed), as copies."""
        index = torch.as_tensor(np.asarray(index, dtype=np.int64))
        pick = lambda layers: [(w[index], b[index]) for w, b in layers]  # noqa: E731 - advanced indexing copies
        return State(pick(self.weights), {slot: pick(layers) for slot, layers in self.slots.items()}, self.steps,
                     self.initial_loss[index.numpy()].copy())

    def put(self, target, source: State, rows=None) -> None:
        """Rows ``target`` of this state become ``source``'s rows ``rows`` (default: all, in order): weights, every
        slot this state holds (zero where ``source`` has none) and the initial loss."""
        target = torch.as_tensor(np.asarray(target, dtype=np.int64))
        rows = torch.arange(len(source)) if rows is None else torch.as_tensor(np.asarray(rows, dtype=np.int64))
        for (w, b), (sw, sb) in zip(self.weights, source.weights):
            w[target], b[target] = sw[rows], sb[rows]
        for slot, layers in self.slots.items():
            theirs = source.slots.get(slot)
            for k, (w, b) in enumerate(layers):
                w[target] = 0 if theirs is None else theirs[k][0][rows]
                b[target] = 0 if theirs is None else theirs[k][1][rows]
        self.initial_loss[target.numpy()] = source.initial_loss[rows.numpy()]

    def rows(self, start: int, stop: int) -> State:
        """Members ``start:stop`` (views)."""
        cut = lambda layers: [(w[start:stop], b[start:stop]) for w, b in layers]  # noqa: E731
        return State(cut(self.weights), {slot: cut(layers) for slot, layers in self.slots.items()}, self.steps,
                     self.initial_loss[start:stop])

    def slot(self, name: str) -> Stacked:
        """Slot ``name``'s state, or zeros shaped like the weights where this state holds none (a rule that
        starts keeping a buffer, as momentum edited up from 0, starts it at zero)."""
        held = self.slots.get(name)
        return held if held is not None else [(torch.zeros_like(w), torch.zeros_like(b)) for w, b in self.weights]

    def arrays(self) -> dict:
        """This state as NumPy arrays and numbers (views; :meth:`from_arrays` undoes it)."""
        numpy = lambda layers: [(w.numpy(), b.numpy()) for w, b in layers]  # noqa: E731
        return {"weights": numpy(self.weights), "slots": {n: numpy(layers) for n, layers in self.slots.items()},
                "steps": self.steps, "initial_loss": self.initial_loss}

    @staticmethod
    def from_arrays(arrays: dict) -> State:
        tensors = lambda layers: [(torch.from_numpy(w), torch.from_numpy(b)) for w, b in layers]  # noqa: E731
        return State(tensors(arrays["weights"]), {n: tensors(layers) for n, layers in arrays["slots"].items()},
                     arrays["steps"], arrays["initial_loss"])

    @staticmethod
    def join(parts: list[State]) -> State:
        """States of consecutive chunks of members as one (every slot any of them holds)."""
        if len(parts) == 1:
            return parts[0]
        cat = lambda layers: [(torch.cat([w for w, _ in pair]), torch.cat([b for _, b in pair]))  # noqa: E731
                              for pair in zip(*layers)]
        names = dict.fromkeys(name for p in parts for name in p.slots)  # a chunk without a slot holds zeros there
        return State(cat([p.weights for p in parts]), {n: cat([p.slot(n) for p in parts]) for n in names},
                     parts[0].steps, np.concatenate([p.initial_loss for p in parts]))
