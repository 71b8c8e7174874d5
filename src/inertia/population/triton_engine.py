"""The compiled GPU engine (:mod:`inertia.population.gpu_kernels`) for one-hidden-layer networks, every optimizer."""

from __future__ import annotations

import numpy as np
import torch

from inertia.optim import rules
from inertia.optim.schedules import Constant
from inertia.population.chunk import Chunk
from inertia.population.evaluate import initial_losses
from inertia.population.layout import ONE_HIDDEN, flat_weights, slot_rows, stacked_views, stacked_weights


class TritonChunk(Chunk):
    """The compiled GPU engine (:mod:`inertia.population.gpu_kernels`): the CPU kernel's flat layout
    (:mod:`inertia.population.layout`), on the device."""

    def __init__(self, members, task, *, device, dtype):
        super().__init__(members, task)
        from inertia import shuffle
        from inertia.population import gpu_kernels

        self.kernels = gpu_kernels
        self.device, self.dtype = device, dtype
        self.x = self.x.contiguous()
        self.params = flat_weights(self.initial, ONE_HIDDEN).to(dtype)
        slots = self.rule.slots
        self.state = torch.zeros((self.size, max(len(slots), 1), self.params.shape[1]), device=device,
                                 dtype=dtype)
        self.rows = slot_rows(slots)
        self.seed_words = torch.from_numpy(shuffle._seed_words(self.seeds).astype(np.int64)).to(device)
        self.active = torch.ones(self.size, dtype=torch.int8, device=device)
        self.updates = 0
        self.initial_loss = initial_losses(stacked_views(self.params, self.layers, ONE_HIDDEN), self.activation, self.x,
                                           self.y)
        # The coefficients are computed by torch on the device from the rule's hyperparameters there. With
        # constant learning rates (the usual case) a steady rule's are two rows for the whole run: the first
        # update's and every later one's.
        self.device_rule = rules.convert(self.rule, lambda a: torch.as_tensor(a, device=device, dtype=dtype))
        self.constant_lr = None
        if list(self.schedules) == [Constant] and not self.momenta:
            self.constant_lr = torch.as_tensor(self.learning_rates(np.zeros(1)), device=device, dtype=dtype)
        self.steady_table = None
        if self.constant_lr is not None and self.rule.steady:
            self.steady_table = self.device_table(self.constant_lr, torch.arange(2, device=device)[:, None])

    def device_table(self, lr: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """:meth:`Chunk.coefficients` on the device: (len(t), members, fields), for learning rates ``lr``
        (len(t) or 1, members) and update indices ``t`` (len(t), 1)."""
        return self.device_rule.update(lr, t).table((len(t), self.size), like=self.params)

    def epoch(self, epoch, steps):
        order = self.kernels.shuffle_orders(self.seed_words, epoch, len(self.y)) if self.shuffle else None
        if self.steady_table is not None:
            table, rows = self.steady_table, {"first_row": self.updates == 0, "row_base": 1, "row_stride": 0}
        else:
            if self.momenta:  # momentum schedules: the table made on the host
                table = torch.as_tensor(self.coefficients(steps), device=self.device, dtype=self.dtype)
            else:
                lr = self.constant_lr
                if lr is None:
                    lr = torch.as_tensor(self.learning_rates(steps), device=self.device, dtype=self.dtype)
                table = self.device_table(lr, torch.as_tensor(steps, device=self.device)[:, None])
            rows = {"first_row": False, "row_base": 0, "row_stride": 1}
        out = self.kernels.train_epoch(
            self.x, self.y, order, self.params, self.state, table, self.active, hidden=self.layers[1],
            rows=self.rows, m_after=self.rule.m_after_den, batch=self.batch_size, activation=self.activation,
            **rows)
        self.updates += len(steps)
        return [t.cpu().numpy() for t in out]

    def freeze(self, diverged: np.ndarray) -> None:
        """Diverged members are skipped by the kernel from now on."""
        self.active[torch.from_numpy(diverged).to(self.device)] = 0

    def finite_weights(self) -> np.ndarray:
        return self.params.isfinite().all(dim=1).cpu().numpy()

    def stacked(self) -> list[torch.Tensor]:
        return stacked_views(self.params, self.layers, ONE_HIDDEN)

    def weights(self, copy=False):
        return stacked_weights(self.params.to("cpu", copy=True), self.layers, ONE_HIDDEN)


