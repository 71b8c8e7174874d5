"""What every population engine shares: the activations it supports (and their codes in the compiled
kernels), the flat weight layout of the compiled engines, the state rows of an optimizer's slots, and the
:class:`Task` a population's chunks are trained on."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from inertia import rules

# The activations every engine runs, with the codes the compiled kernels branch on (codes, not functions, so
# that numba can cache its kernel on disk). Leaky ReLU's slope is torch's default, 0.01, in every engine.
ACTIVATION_CODES = {"relu": 0, "tanh": 1, "sigmoid": 2, "leaky_relu": 3, "identity": 4}
ACTIVATIONS = tuple(ACTIVATION_CODES)


@dataclass(frozen=True)
class Task:
    """What all chunks of one population share: the network, the data (as tensors on the device, in the
    training dtype), the minibatch settings, the momentum settings members without their own rule take, and
    the divergence rule's factor."""

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


def slot_rows(slots: tuple[str, ...]) -> tuple[int, int, int]:
    """The state rows of slots m, v and a of :mod:`inertia.rules` (-1 for a slot the rule does not use), in
    the order the compiled kernels take them."""
    return tuple(slots.index(slot) if slot in slots else -1 for slot in rules.SLOTS)


def flat_weights(initial) -> torch.Tensor:
    """Members' ``(weight, bias)`` pairs of a one-hidden-layer network as rows (w1 (d, h), b1, w2t (c, h), b2),
    the layout of :mod:`inertia.kernels` and :mod:`inertia.gpu_kernels`."""
    return torch.stack([torch.cat([w1.T.reshape(-1), b1, w2.reshape(-1), b2]) for (w1, b1), (w2, b2) in initial])


def unflatten_weights(params: torch.Tensor, layers) -> list:
    """:func:`flat_weights` undone: per member, ``[(w1 (h, d), b1), (w2 (c, h), b2)]`` as ``nn.Linear`` holds them."""
    d, h, c = layers
    o1, o2, o3 = d * h, d * h + h, d * h + h + c * h
    # Views of the whole population first, then one unbind per block: per-member slicing costs ~5 µs a view.
    w1 = params[:, :o1].reshape(-1, d, h).transpose(1, 2).unbind(0)
    w2 = params[:, o2:o3].reshape(-1, c, h).unbind(0)
    return [[(a, b), (v, e)] for a, b, v, e in zip(w1, params[:, o1:o2].unbind(0), w2, params[:, o3:].unbind(0))]




def stacked_views(params: torch.Tensor, layers) -> list[torch.Tensor]:
    """Views of flat rows (:func:`flat_weights`) as the batched torch engine stacks weights: ``w1`` (P, d, h),
    ``b1`` (P, 1, h), ``w2`` (P, h, c), ``b2`` (P, 1, c); no copy."""
    d, h, c = layers
    o1, o2, o3 = d * h, d * h + h, d * h + h + c * h
    members = params.shape[0]
    return [params[:, :o1].view(members, d, h), params[:, o1:o2].view(members, 1, h),
            params[:, o2:o3].view(members, c, h).transpose(1, 2), params[:, o3:].view(members, 1, c)]
