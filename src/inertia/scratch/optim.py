"""``SGD`` for the NumPy engine: seed 004's ``Optimizer_SGD(learning_rate, decay, momentum)`` with the update
from :func:`inertia.optim.rules.momentum_step` and the buffers kept by the optimizer, not on the layers."""

from __future__ import annotations

import numpy as np

from inertia.optim.checks import check_hyperparameters
from inertia.optim.rules import momentum_step
from inertia.optim.schedules import InverseTime


class SGD:
    """Learning rate ``lr / (1 + decay·t)`` at update ``t``; momentum in ``form`` (``polyak`` by default, the
    seed's ``v = m·v − lr·g; p += v``; ``pytorch`` and ``ema`` as in :mod:`inertia.optim.rules`)."""

    def __init__(self, lr: float = 1.0, momentum: float = 0.0, decay: float = 0.0, *, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0, form: str = "polyak"):
        check_hyperparameters(lr, momentum, dampening, nesterov, weight_decay, form)
        if not decay >= 0:
            raise ValueError(f"Invalid decay value: {decay} (allowed: decay >= 0)")
        self.schedule = InverseTime(lr, decay)
        self.hyper = dict(momentum=momentum, dampening=dampening, nesterov=nesterov, weight_decay=weight_decay,
                          form=form)
        self.iterations = 0
        self.buffers: dict[int, np.ndarray] = {}

    @property
    def current_learning_rate(self) -> float:
        """The rate of the most recent update (the initial rate before any), as seed 004 logs it."""
        return self.schedule(max(self.iterations - 1, 0))

    def step(self, params, grads) -> None:
        """Update each array in ``params`` in place from the matching array in ``grads`` (a network passes its
        one flat parameter vector; single layers may pass several arrays)."""
        lr = self.schedule(self.iterations)
        for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
            param[...], self.buffers[i] = momentum_step(param, grad, self.buffers.get(i), lr=lr, **self.hyper)
        self.iterations += 1
