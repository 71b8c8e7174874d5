"""What every population engine shares: the activations it supports (and their codes in the compiled
kernels), the flat weight layout of the compiled engines, the state rows of an optimizer's slots, and the
:class:`Task` a population's chunks are trained on."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from inertia.arguments import POPULATION_ACTIVATIONS
from inertia.optim.update import SLOTS

# The activations every engine runs, with the codes the compiled kernels branch on (codes, not functions, so
# that numba can cache its kernel on disk). Leaky ReLU's slope is torch's default, 0.01, in every engine.
ACTIVATION_CODES = {name: code for code, name in enumerate(POPULATION_ACTIVATIONS)}
ACTIVATIONS = POPULATION_ACTIVATIONS

VECTOR_BYTES = 64  # one 512-bit register: the lanes engine holds one member per lane of such a vector


def lanes_per_vector(dtype: torch.dtype) -> int:
    """Members in one group of the lanes engine: values of ``dtype`` in a vector (16 float32, 8 float64)."""
    return VECTOR_BYTES // torch.empty((), dtype=dtype).element_size()


@dataclass(frozen=True)
class Task:
    """What all chunks of one population share: the network, the data (as tensors on the device, in the
    training dtype), the minibatch settings, the momentum settings members without their own rule take, the
    divergence rule's factor, and a held-out split to evaluate after every epoch, if any."""

    layers: list[int]
    activation: str
    x: torch.Tensor
    y: torch.Tensor
    batch_size: int
    shuffle: bool
    form: str = "pytorch"
    nesterov: bool = False
    maximize: bool = False
    divergence_factor: float = 10.0
    held_out: tuple[torch.Tensor, torch.Tensor] | None = None  # (x, y) of a held-out split, evaluated every epoch
    scratch: dict = field(default_factory=dict, compare=False, repr=False)

    def zeros(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        """A zeroed array of ``shape`` in memory that the chunks of this population take one after another (a
        chunk's optimizer state, which nothing reads once it is trained): fresh memory costs a page fault per
        page on first touch, several times the cost of zeroing it."""
        count = math.prod(shape)
        buffer = self.scratch.get(name)
        if buffer is None or buffer.size < count or buffer.dtype != dtype:
            buffer = self.scratch[name] = np.empty(count, dtype=dtype)
        out = buffer[:count].reshape(shape)
        out.fill(0)
        return out


def slot_rows(slots: tuple[str, ...]) -> tuple[int, int, int]:
    """The state rows of slots m, v and a of :mod:`inertia.optim.rules` (-1 for a slot the rule does not use), in
    the order the compiled kernels take them."""
    return tuple(slots.index(slot) if slot in slots else -1 for slot in SLOTS)


# How the one-hidden-layer kernels (population.kernels, population.gpu_kernels) hold a network: w1 as (d, h), the
# output layer as (c, h), so that every inner loop runs over the hidden width.
ONE_HIDDEN = (False, True)


def forms(layers) -> tuple[bool, ...]:
    """Per layer, whether the flat layout holds its weight as ``nn.Linear`` does, (out, in), which it does when
    the layer's input is at least as wide as its output, or else transposed, (in, out): the compiled kernels'
    innermost loops then run along the wider side."""
    return tuple(n_in >= n_out for n_in, n_out in itertools.pairwise(layers))


def flat_weights(stacked, rows: tuple[bool, ...] | None = None) -> torch.Tensor:
    """Members' weights as rows of one matrix, the layout of the compiled engines: per layer its weight, held
    as ``rows`` says (default :func:`forms`), then its bias. ``stacked`` is per layer ``(weight (P, out, in),
    bias (P, out))``, as :func:`inertia.init.population_weights` makes them."""
    layers = [stacked[0][0].shape[2]] + [w.shape[1] for w, _ in stacked]
    rows = forms(layers) if rows is None else rows
    members = stacked[0][0].shape[0]
    parts = []
    for (weight, bias), held in zip(stacked, rows):
        parts += [(weight if held else weight.transpose(1, 2)).reshape(members, -1), bias]
    return torch.cat(parts, dim=1)


def stacked_weights(params: torch.Tensor, layers, rows: tuple[bool, ...] | None = None) -> list:
    """:func:`flat_weights` undone, as views where the layout allows: per layer ``(weight (P, out, in),
    bias (P, out))``."""
    rows = forms(layers) if rows is None else rows
    members, out, at = params.shape[0], [], 0
    for (n_in, n_out), held in zip(itertools.pairwise(layers), rows):
        block = params[:, at : at + n_in * n_out]
        weight = block.view(members, n_out, n_in) if held else block.view(members, n_in, n_out).transpose(1, 2)
        at += n_in * n_out
        out.append((weight, params[:, at : at + n_out]))
        at += n_out
    return out


def unflatten_weights(params: torch.Tensor, layers, rows: tuple[bool, ...] | None = None) -> list:
    """:func:`flat_weights` undone per member: ``[(weight (out, in), bias), ...]`` as ``nn.Linear`` holds them."""
    # Views of the whole population first, then one unbind per block: per-member slicing costs ~5 µs a view.
    blocks = [(w.unbind(0), b.unbind(0)) for w, b in stacked_weights(params, layers, rows)]
    return [[(w[i], b[i]) for w, b in blocks] for i in range(params.shape[0])]


def stacked_views(params: torch.Tensor, layers, rows: tuple[bool, ...] | None = None) -> list[torch.Tensor]:
    """Views of flat rows as the batched torch engine stacks weights: per layer the weight (P, in, out) and
    the bias (P, 1, out); no copy."""
    out = []
    for weight, bias in stacked_weights(params, layers, rows):
        out += [weight.transpose(1, 2), bias[:, None, :]]
    return out
