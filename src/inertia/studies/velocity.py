"""Seed 003's experiment: momentum written by hand as a velocity dictionary, against ``torch.optim.SGD``.

The task is seed 003's: ``dim`` samples of ``dim`` normal features, the first half labelled 0, a sigmoid MLP
``[dim, dim/2, 1]`` with binary cross-entropy, minibatches of 64, lr 1e-5, momentum 0.9. It is trained three
ways from the same initial weights and the same minibatch order:

- ``no momentum``: ``torch.optim.SGD(lr)``;
- ``velocity dictionary``: one buffer per ``named_parameters()`` entry, kept in a dict and updated by
  :func:`inertia.optim.rules.momentum_step` (the seed's ``v = m·v + g`` starts from zero, which equals torch's
  first-step ``v = g``);
- ``torch.optim.SGD(momentum)``.

The last two must agree: the seed attributes their difference to "tricks" in PyTorch, but with the same
initial weights and data order there is none beyond floating-point round-off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inertia.data import random_binary
from inertia.optim.checks import check_hyperparameters
from inertia.optim.rules import momentum_step

WAYS = ("no momentum", "velocity dictionary", "torch.optim.SGD(momentum)")


@dataclass
class VelocityResult:
    """Per-epoch mean minibatch loss for each way, and how far the two momentum ways ended apart."""

    losses: dict[str, np.ndarray]
    max_loss_gap: float
    max_weight_gap: float
    device: str

    @property
    def agree(self) -> bool:
        """The velocity dictionary and torch.optim.SGD(momentum) agree to float32 round-off."""
        return self.max_weight_gap < 1e-4 and self.max_loss_gap < 1e-4


def binary_model(dim: int):
    """Seed 003's ``Model(dim)``: Linear(dim, dim/2), sigmoid, Linear(dim/2, 1), sigmoid (an ``nn.Sequential``)."""
    from torch import nn

    return nn.Sequential(nn.Linear(dim, dim // 2), nn.Sigmoid(), nn.Linear(dim // 2, 1), nn.Sigmoid())




def check_arguments(dim: int, epochs: int, lr: float, momentum: float, batch_size: int) -> None:
    """A ``ValueError`` naming the first argument :func:`train_three_ways` cannot take (before torch loads)."""
    check_hyperparameters(lr, momentum)
    if not momentum > 0:
        raise ValueError(f"momentum must be > 0 to compare momentum implementations, got {momentum}")
    for name, value, least in (("dim", dim, 2), ("epochs", epochs, 1), ("batch_size", batch_size, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")


def train_three_ways(dim: int = 1000, epochs: int = 2000, lr: float = 1e-5, momentum: float = 0.9,
                     batch_size: int = 64, seed: int = 0, device: str = "auto", on_epoch=None) -> VelocityResult:
    """Train seed 003's task the three ways; ``on_epoch(way, epoch)`` is called after every epoch."""
    check_arguments(dim, epochs, lr, momentum, batch_size)
    import torch  # here, after the checks: a bad argument is refused before torch loads

    from inertia.models import resolve_device

    device = resolve_device(device)
    task = random_binary(dim, seed=seed)
    x, y = task.tensors(device)
    y = y.to(torch.float32).reshape(-1, 1)
    models = {}
    losses = {}
    for way in WAYS:
        with torch.random.fork_rng(devices=[]):  # the same initial weights for every way
            torch.manual_seed(seed)
            model = binary_model(dim).to(device)
        report = (lambda epoch, way=way: on_epoch(way, epoch)) if on_epoch else (lambda epoch: None)
        losses[way] = _train(model, way, x, y, epochs, lr, momentum, batch_size, seed, report)
        models[way] = model
    a, b = (torch.cat([p.detach().flatten() for p in models[w].parameters()]) for w in WAYS[1:])
    return VelocityResult(
        losses=losses,
        max_loss_gap=float(np.abs(losses[WAYS[1]] - losses[WAYS[2]]).max()),
        max_weight_gap=float((a - b).abs().max()),
        device=str(device),
    )


def _train(model, way, x, y, epochs, lr, momentum, batch_size, seed, on_epoch) -> np.ndarray:
    import torch

    criterion = torch.nn.BCELoss()
    if way == "velocity dictionary":
        optimizer, velocities = None, {}
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.0 if way == "no momentum" else momentum)
    order = torch.Generator().manual_seed(seed)  # the same shuffled minibatches for every way
    history = np.empty(epochs)
    for epoch in range(epochs):
        total, count = 0.0, 0
        for index in torch.randperm(len(y), generator=order).split(batch_size):
            index = index.to(x.device)
            loss = criterion(model(x[index]), y[index])
            model.zero_grad()
            loss.backward()
            if optimizer is not None:
                optimizer.step()
            else:
                with torch.no_grad():
                    for name, w in model.named_parameters():
                        new, velocities[name] = momentum_step(w, w.grad, velocities.get(name), lr=lr,
                                                              momentum=momentum)
                        w.copy_(new)
            total, count = total + loss.item(), count + 1
        history[epoch] = total / count
        on_epoch(epoch)
    return history
