"""The compiled GPU engine for MLPs of any depth, every optimizer: :mod:`inertia.population.gpu_kernels` (a
member's weights in registers) for one-hidden-layer networks narrow enough for that, :mod:`inertia.population.
gpu_tiles` (dense products over tiles) for every other."""

from __future__ import annotations

import numpy as np
import torch

from inertia.optim import rules
from inertia.population.chunk import Chunk
from inertia.population.evaluate import initial_losses
from inertia.population.layout import ONE_HIDDEN, flat_weights, slot_rows, stacked_views, stacked_weights
from inertia.population.state import State

REGISTER_WEIGHTS = 512  # first-layer weights up to which a one-hidden-layer member's weights stay in registers


def in_registers(layers) -> bool:
    """Whether :mod:`~inertia.population.gpu_kernels` trains ``layers`` (one hidden layer, ``inputs × hidden`` at
    most :data:`REGISTER_WEIGHTS`, such as the lab's ``[2, 50, 3]``) rather than
    :mod:`~inertia.population.gpu_tiles`."""
    return len(layers) == 3 and layers[0] * layers[1] <= REGISTER_WEIGHTS


class TritonChunk(Chunk):
    """The compiled GPU engine: the members' weights as flat rows (:mod:`inertia.population.layout`) on the
    device, trained by :mod:`~inertia.population.gpu_kernels` where :func:`in_registers` says so and by
    :mod:`~inertia.population.gpu_tiles` otherwise."""

    def __init__(self, members, task, *, device, dtype, matmul_precision="ieee", start=None):
        super().__init__(members, task, start)
        self.matmul_precision = matmul_precision  # the tiled kernel's products (train_population's argument)
        from inertia import shuffle
        from inertia.population import gpu_kernels, gpu_tiles

        self.registers = in_registers(self.layers)
        self.kernels = gpu_kernels
        self.train_epoch = gpu_kernels.train_epoch if self.registers else gpu_tiles.train_epoch
        self.form = ONE_HIDDEN if self.registers else (False,) * (len(self.layers) - 1)
        self.device, self.dtype = device, dtype
        self.x = self.x.contiguous()
        started = {}
        if self.start is None:
            self.params = flat_weights(self.initial, self.form).to(dtype)
        else:  # a copy: trained in place
            flat, started = self.start.in_layout(self.form)
            self.params = flat.to(device, dtype, copy=True)
        slots = self.rule.slots
        self.state = torch.zeros((self.size, max(len(slots), 1), self.params.shape[1]), device=device,
                                 dtype=dtype)
        self.slots = slots
        for k, slot in enumerate(slots):
            if slot in started:
                self.state[:, k] = started[slot].to(device, dtype)
        self.rows = slot_rows(slots)
        self.seed_words = torch.from_numpy(shuffle._seed_words(self.seeds).astype(np.int64)).to(device)
        self.active = torch.ones(self.size, dtype=torch.int8, device=device)
        if self.initial_loss is None:
            self.initial_loss = initial_losses(self.stacked(), self.activation, self.x, self.y)
        # The coefficients are computed by torch on the device from the rule's hyperparameters there, in float64
        # whatever the training dtype, as the CPU engines compute them (a hyperparameter held as a number, raised
        # to an integer tensor of steps, as Adam's β₂ᵗ, would be float32). With constant learning rates (the
        # usual case) a steady rule's are two rows for the whole run: the first update's and every later one's.
        self.device_rule = rules.convert(self.rule, lambda a: torch.as_tensor(a, device=device, dtype=torch.float64))
        self.constant_lr = None
        if self.constant_rates and not self.momenta:
            self.constant_lr = torch.as_tensor(self.learning_rates(np.zeros(1)), device=device)
        self.steady_table = None
        if self.constant_lr is not None and self.rule.steady:
            first_two = torch.arange(2, device=device, dtype=torch.float64)[:, None]
            self.steady_table = self.device_table(self.constant_lr, first_two)

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
                    lr = torch.as_tensor(self.learning_rates(steps), device=self.device)
                t = torch.as_tensor(steps, device=self.device, dtype=torch.float64)[:, None]
                table = self.device_table(lr, t)
            rows = {"first_row": False, "row_base": 0, "row_stride": 1}
        shape = ({"hidden": self.layers[1]} if self.registers else
                 {"layers": self.layers, "precision": self.matmul_precision})
        out = self.train_epoch(
            self.x, self.y, order, self.params, self.state, table, self.active, rows=self.rows,
            m_after=self.rule.m_after_den, batch=self.batch_size, activation=self.activation, **shape, **rows)
        self.updates += len(steps)
        return [t.cpu().numpy() for t in out]

    def freeze(self, diverged: np.ndarray) -> None:
        """Diverged members are skipped by the kernel from now on."""
        self.active[torch.from_numpy(diverged).to(self.device)] = 0

    def finite_weights(self) -> np.ndarray:
        return self.params.isfinite().all(dim=1).cpu().numpy()

    def stacked(self) -> list[torch.Tensor]:
        return stacked_views(self.params, self.layers, self.form)

    def weights(self, copy=False):
        return stacked_weights(self.params.to("cpu", copy=True), self.layers, self.form)

    def capture(self) -> State:
        """Where the members stand, in this engine's layout, copied to the CPU."""
        slots = {slot: self.state[:, k].to("cpu", copy=True).contiguous() for k, slot in enumerate(self.slots)}
        return State(self.params.to("cpu", copy=True), slots, self.layers, tuple(self.form), self.updates,
                     np.array(self.initial_loss, dtype=np.float64))


