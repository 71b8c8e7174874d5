"""``Momentum``: a ``torch.optim.Optimizer`` whose update is :func:`inertia.rules.momentum_step`."""

from __future__ import annotations

import torch

from inertia.rules import check_hyperparameters, momentum_step

HYPERPARAMETERS = ("lr", "momentum", "dampening", "nesterov", "weight_decay", "form")


class Momentum(torch.optim.Optimizer):
    """SGD with momentum in a chosen ``form``; with ``form="pytorch"`` (the default) it equals
    ``torch.optim.SGD`` with the same arguments.

    - ``"pytorch"``: ``b = m·b + (1−d)·g`` (``b = g`` on the first step), ``p −= lr·b`` (Nesterov: ``lr·(g + m·b)``)
    - ``"polyak"``: ``v = m·v − lr·(1−d)·g``, ``p += v`` — the textbook heavy ball (Polyak, Sutskever)
    - ``"ema"``: ``v = m·v + (1−m)·g``, ``p −= lr·v`` — momentum as a moving average of gradients

    ``g`` includes coupled weight decay (``g + weight_decay·p``) and is negated when ``maximize``. Param groups,
    ``state_dict``/``load_state_dict`` and torch's learning-rate schedulers work as with any optimizer: the
    buffer is kept in ``state[p]["momentum_buffer"]`` and each step reads the group's current ``lr``.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0, *, maximize: bool = False,
                 form: str = "pytorch"):
        check_hyperparameters(lr, momentum, dampening, nesterov, weight_decay, form)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                        weight_decay=weight_decay, maximize=maximize, form=form)
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        check_hyperparameters(*(group[name] for name in HYPERPARAMETERS))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            hyper = {name: group[name] for name in (*HYPERPARAMETERS, "maximize")}
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                new_param, buf = momentum_step(param, param.grad, state.get("momentum_buffer"), **hyper)
                param.copy_(new_param)
                if buf is not None:
                    state["momentum_buffer"] = buf
        return loss
