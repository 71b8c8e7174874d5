"""The lab's network: a multilayer perceptron ``Net(Layers)`` with a chosen activation."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn

from inertia import init
from inertia.arguments import check_layers, check_seed, layers_for  # noqa: F401 - layers_for kept importable here

ACTIVATIONS = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "gelu": nn.functional.gelu,
    "elu": nn.functional.elu,
    "leaky_relu": nn.functional.leaky_relu,
    "identity": lambda t: t,
}


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"``: CUDA when available, else the CPU; anything else as ``torch.device`` reads it. A device
    that does not exist here is a ``ValueError`` that says so (found before any work starts)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"Invalid device: {device!r} (allowed: auto, cpu, cuda, cuda:N)") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"device {str(device)!r} is not available: torch sees no CUDA GPU here "
                             "(use --device cpu or auto)")
        if device.index is not None and device.index >= count:
            raise ValueError(f"device {str(device)!r} is not available: torch sees {count} CUDA GPU(s)")
    return device


def initial_weights(layers: Sequence[int], generator: torch.Generator | int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(weight (out, in), bias (out,))`` per layer, from ``nn.Linear``'s default U(−1/√fan_in, 1/√fan_in).
    With a seed, the counter-based numbers of :mod:`inertia.init` (what every engine starts that seed from);
    with a ``torch.Generator``, drawn from it layer by layer, weight before bias, as ``nn.Linear`` draws."""
    if not isinstance(generator, torch.Generator):
        return [(w[0], b[0]) for w, b in init.population_weights(layers, [int(generator)])]
    weights = []
    for n_in, n_out in itertools.pairwise(layers):
        bound = 1.0 / math.sqrt(n_in)
        weight = torch.empty(n_out, n_in).uniform_(-bound, bound, generator=generator)
        bias = torch.empty(n_out).uniform_(-bound, bound, generator=generator)
        weights.append((weight, bias))
    return weights


class MLP(nn.Module):
    """``Linear`` layers of widths ``layers`` with ``activation`` between them (none after the last).

    Parameter names (``hidden.0.weight``, ...) and the order of random draws match the seed notebook's
    ``Net(Layers)``, so under the same ``torch.manual_seed`` both start from identical weights.
    With ``seed`` given, the weights are instead the counter-based numbers of :mod:`inertia.init` for that seed
    (the same distribution as ``nn.Linear``'s default, U(-1/√fan_in, 1/√fan_in)), which every engine uses.
    """

    def __init__(self, layers: Sequence[int], activation: str = "relu", seed: int | None = None):
        super().__init__()
        self.layers = check_layers(layers)
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
        self.activation = activation
        self._act = ACTIVATIONS[activation]
        self.hidden = nn.ModuleList(nn.Linear(i, o) for i, o in zip(self.layers, self.layers[1:]))
        if seed is not None:
            self.reset_parameters(check_seed(seed))

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | int) -> None:
        """Every weight and bias from ``generator`` or a seed (see :func:`initial_weights`)."""
        for linear, (weight, bias) in zip(self.hidden, initial_weights(self.layers, generator)):
            linear.weight.copy_(weight)
            linear.bias.copy_(bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *inner, last = self.hidden
        for linear in inner:
            x = self._act(linear(x))
        return last(x)

    def extra_repr(self) -> str:
        return f"layers={self.layers}, activation={self.activation!r}"
