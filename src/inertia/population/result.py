"""A population's results as columns: per metric one (members, epochs) array, weights stacked per layer, and the
per-member views (:class:`~inertia.train.History`, :class:`~inertia.models.MLP`, rows of a DataFrame) made only
when asked for."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch

from inertia import outcome
from inertia.models import MLP
from inertia.population.columns import Member, Members
from inertia.train import History

# Weights as the chunks left them: a list of (first member, per layer (weight (p, out, in), bias (p, out))).
Blocks = list[tuple[int, list[tuple[torch.Tensor, torch.Tensor]]]]


@dataclass(eq=False)
class PopulationResult:
    """What :func:`~inertia.population.train_population` returns. ``metrics`` maps each metric of
    :class:`~inertia.train.History` (``loss``, ``accuracy``, ``batch_loss_mean``, ``batch_loss_last``, with a
    held-out split ``test_loss`` and ``test_accuracy``) to a float64 (members, epochs) array, NaN after a member's
    history ends; ``epochs_run`` is each history's length, ``diverged_at`` the epoch the divergence rule fired
    (−1: never), ``initial_loss`` the full-data loss before training. ``histories``, ``weights`` and
    ``model(i)`` give the per-member view."""

    columns: Members
    metrics: dict[str, np.ndarray]
    epochs_run: np.ndarray
    diverged_at: np.ndarray
    initial_loss: np.ndarray
    layers: list[int]
    activation: str
    blocks: Blocks
    snapshot_blocks: dict[int, Blocks] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.epochs_run)

    def history(self, index: int) -> History:
        """Member ``index``'s :class:`~inertia.train.History`."""
        end = int(self.epochs_run[index])
        return History(**{name: values[index, :end] for name, values in self.metrics.items()},
                       diverged_at=None if self.diverged_at[index] < 0 else int(self.diverged_at[index]),
                       initial_loss=float(self.initial_loss[index]))

    @cached_property
    def histories(self) -> list[History]:
        """Every member's :class:`~inertia.train.History`, in member order."""
        return [self.history(i) for i in range(len(self))]

    @cached_property
    def members(self) -> list[Member]:
        """Every member as a :class:`~inertia.population.Member` (``columns`` holds them as arrays)."""
        return [self.columns.member(i) for i in range(len(self))]

    def member_weights(self, index: int, epoch: int | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Member ``index``'s ``[(weight (out, in), bias), ...]`` as ``nn.Linear`` holds them, at the end or, with
        ``epoch``, after that epoch (one of the ``snapshots`` asked of ``train_population``)."""
        blocks = self.blocks if epoch is None else self.snapshot_blocks[epoch]
        at = bisect.bisect_right([start for start, _ in blocks], index) - 1
        start, layers = blocks[at]
        return [(weight[index - start], bias[index - start]) for weight, bias in layers]

    @cached_property
    def weights(self) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
        """Every member's final weights (see :meth:`member_weights`)."""
        return _per_member(self.blocks)

    @cached_property
    def snapshots(self) -> dict[int, list[list[tuple[torch.Tensor, torch.Tensor]]]]:
        """``{epoch: every member's weights after it}`` for the snapshots asked of ``train_population``."""
        return {epoch: _per_member(blocks) for epoch, blocks in self.snapshot_blocks.items()}

    def stacked_weights(self, epoch: int | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer (weight (P, out, in), bias (P, out)): every member's weights in one tensor each."""
        blocks = self.blocks if epoch is None else self.snapshot_blocks[epoch]
        if len(blocks) == 1:
            return blocks[0][1]
        return [(torch.cat([b[1][layer][0] for b in blocks]), torch.cat([b[1][layer][1] for b in blocks]))
                for layer in range(len(self.layers) - 1)]

    def model(self, index: int, epoch: int | None = None) -> MLP:
        """Member ``index``'s trained network as an :class:`~inertia.models.MLP`; with ``epoch``, as it was
        after that epoch (one of the ``snapshots`` asked of :func:`~inertia.population.train_population`)."""
        weights = self.member_weights(index, epoch)
        model = MLP(self.layers, self.activation).to(weights[0][0].dtype)
        with torch.no_grad():
            for linear, (weight, bias) in zip(model.hidden, weights):
                linear.weight.copy_(weight)
                linear.bias.copy_(bias)
        return model

    def summaries(self, targets: dict | None = None) -> dict[str, np.ndarray]:
        """Every member's summary (:func:`inertia.outcome.summarize_columns`: status, final and best loss and
        accuracy, ... and ``epochs_to_<name>`` for each of ``targets``), each an array over the members."""
        return outcome.summarize_columns(self.metrics, self.epochs_run, self.diverged_at, self.initial_loss, targets)

    def summary_frame(self, targets: dict | None = None):
        """One row per member: its hyperparameters and seed, then :meth:`summaries` (a pandas DataFrame)."""
        frame = self.columns.frame()
        for name, values in self.summaries(targets).items():
            frame[name] = values
        return frame

    def frame(self):
        """One row per member and epoch (``member``, ``epoch`` from 1, the member's hyperparameters and seed,
        every metric), up to each member's last epoch: a long pandas DataFrame."""
        import pandas as pd

        members, epochs = next(iter(self.metrics.values())).shape
        kept = (np.arange(epochs)[None, :] < self.epochs_run[:, None]).ravel()
        member = np.repeat(np.arange(members), epochs)[kept]
        table = {"member": member, "epoch": np.tile(np.arange(1, epochs + 1), members)[kept]}
        table |= {name: values.to_numpy()[member] for name, values in self.columns.frame().items()}
        table |= {name: values.ravel()[kept] for name, values in self.metrics.items()}
        return pd.DataFrame(table)


def _per_member(blocks: Blocks) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
    out = []
    for _, layers in blocks:
        split = [(weight.unbind(0), bias.unbind(0)) for weight, bias in layers]
        out += [[(w[i], b[i]) for w, b in split] for i in range(len(split[0][0]))]
    return out
