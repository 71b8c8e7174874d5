"""The compiled CPU engine, in two layouts: one member at a time on a core (:mod:`~inertia.population.kernels`
for one-hidden-layer networks, :mod:`~inertia.population.deep_kernels` for deeper ones), or groups of members
across the SIMD lanes (:mod:`~inertia.population.lane_kernels`, any depth); every optimizer."""

from __future__ import annotations

import numpy as np
import torch

from inertia import init
from inertia.population.chunk import Chunk
from inertia.population.layout import (
    ACTIVATION_CODES,
    ONE_HIDDEN,
    flat_weights,
    forms,
    slot_rows,
    stacked_views,
    stacked_weights,
)


class KernelChunk(Chunk):
    """The compiled CPU engine: each member's weights in one flat row (:func:`~inertia.population.layout.
    flat_weights`, held as the kernel reads them), trained by the kernel for the network's depth, or with
    ``lanes`` by :mod:`~inertia.population.lane_kernels` (any depth), groups of members across the SIMD lanes."""

    def __init__(self, members, task, *, dtype, lanes=False, start=None):
        super().__init__(members, task, start)
        self.np_dtype = np.float64 if dtype == torch.float64 else np.float32
        x = self.x.cpu().numpy().astype(self.np_dtype)
        if lanes:
            from inertia.population import lane_kernels

            self.rows = forms(self.layers)
            self.shape = (lane_kernels.shape_table(self.layers, self.rows),)
            self.kernel, self.x_np = lane_kernels.train_epoch, x
        elif len(self.layers) == 3:
            from inertia.population import kernels

            self.rows, self.shape = ONE_HIDDEN, (self.layers[1],)
            self.kernel, self.x_np = kernels.train_epoch, x
        else:
            from inertia.population import deep_kernels

            self.rows = forms(self.layers)
            table, padded = deep_kernels.shape_table(self.layers)
            self.shape = (table, padded)
            self.kernel = deep_kernels.train_epoch
            self.x_np = np.zeros((len(x), table[0, deep_kernels.P_IN]), dtype=self.np_dtype)
            self.x_np[:, : x.shape[1]] = x
        self.y_np = self.y.cpu().numpy()
        self.slots = self.rule.slots
        if self.start is None:
            self.params = init.flat_population_weights(self.layers, self.seeds, self.rows, self.np_dtype)
        else:
            self.params = flat_weights(self.initial, self.rows).numpy().astype(self.np_dtype, copy=False)
        self.state = task.zeros("state", (self.size, len(self.slots), self.params.shape[1]), self.np_dtype)
        for k, slot in enumerate(self.slots if self.start is not None else ()):
            self.state[:, k] = flat_weights(self.start.slot(slot), self.rows).numpy()
        self.slot_rows = slot_rows(self.slots)
        self.active = np.ones(self.size, dtype=np.bool_)
        self.measured_initial = np.full(self.size, np.nan)
        self.table = self.coefficients(np.arange(2), by_member=True, dtype=self.np_dtype) if self.steady else None

    def epoch(self, epoch, steps):
        members = self.size
        if not self.steady:  # the same buffer every epoch: what does not change with the step is written once
            self.table = self.coefficients(steps, by_member=True, dtype=self.np_dtype, out=self.table)
        coefficients = self.table
        out = [np.full(members, np.nan) for _ in range(3)] + [np.zeros(members, dtype=np.int64)]
        self.kernel(
            self.x_np, self.y_np, self.seeds, epoch, self.shuffle, self.batch_size,
            self.params, self.state, *self.shape, self.updates == 0, coefficients, self.steady, *self.slot_rows,
            self.rule.m_after_den, ACTIVATION_CODES[self.activation], self.active, *out, self.measured_initial)
        if self.updates == 0:
            self.initial_loss = self.measured_initial
        self.updates += len(steps)
        return out

    def freeze(self, diverged: np.ndarray) -> None:
        """Diverged members are skipped by the kernel from now on."""
        self.active &= ~diverged

    def finite_weights(self) -> np.ndarray:
        return np.isfinite(self.params).all(axis=1)

    def stacked(self) -> list[torch.Tensor]:
        return stacked_views(torch.from_numpy(self.params), self.layers, self.rows)

    def weights(self, copy=False):
        params = self.params.copy() if copy else self.params
        return stacked_weights(torch.from_numpy(params), self.layers, self.rows)

    def slot_state(self) -> dict:
        return {slot: stacked_weights(torch.from_numpy(self.state[:, k].copy()), self.layers, self.rows)
                for k, slot in enumerate(self.slots)}

