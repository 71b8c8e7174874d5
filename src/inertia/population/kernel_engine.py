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
    forms,
    slot_rows,
    stacked_views,
    stacked_weights,
)
from inertia.population.state import State


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
            self.kernel, self.x_np = lane_kernels.epoch, x
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
        started = {}
        if self.start is None:
            self.params = init.flat_population_weights(self.layers, self.seeds, self.rows, self.np_dtype)
        else:  # the state's rows as they are where its layout is this engine's; a copy, trained in place
            flat, started = self.start.in_layout(self.rows)
            self.params = flat.numpy().astype(self.np_dtype)
        shape = (self.size, len(self.slots), self.params.shape[1])
        # a chunk that hands its state on (one started from a State) owns it; others share one buffer, in turn
        self.owned = self.start is not None
        self.state = np.zeros(shape, self.np_dtype) if self.owned else task.zeros("state", shape, self.np_dtype)
        for k, slot in enumerate(self.slots):
            if slot in started:
                self.state[:, k] = started[slot].numpy()
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

    def capture(self) -> State:
        """Where the members stand, in this engine's own layout: its weights and optimizer state as they are (the
        chunk is done with them), copied out of the buffer the next chunk reuses where the chunk shares one."""
        take = (lambda a: a) if self.owned else np.copy
        slots = {slot: torch.from_numpy(take(self.state[:, k])) for k, slot in enumerate(self.slots)}
        return State(torch.from_numpy(self.params), slots, self.layers, tuple(self.rows), self.updates,
                     np.array(self.initial_loss, dtype=np.float64))

