"""Full-data metrics of stacked members, and the activations with their gradients: what every engine evaluates
with the batched torch operations (the initial losses the divergence rule compares with, a held-out split's
metrics), and the forward and backward pieces of the batched torch engine."""

from __future__ import annotations

import numpy as np
import torch


def initial_losses(params: list[torch.Tensor], activation: str, x: torch.Tensor, y: torch.Tensor,
                   budget: int | None = None) -> np.ndarray:
    return full_data_metrics(params, activation, x, y, budget)[0]


def full_data_metrics(params: list[torch.Tensor], activation: str, x: torch.Tensor, y: torch.Tensor,
                      budget: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean cross-entropy and accuracy on ``(x, y)`` of every member's weights ``params`` (per layer, stacked over
    members: weights (P, in, out) and biases (P, 1, out), as the batched torch engine holds them): what the
    divergence rule compares with (:func:`initial_losses`, the loss alone), and a held-out split's metrics. As
    many members at a time as ``budget`` bytes of activations allow (default: 4 MiB on a CPU, where small batched
    products that stay in cache are fastest; 256 MiB on a GPU)."""
    if budget is None:
        budget = 4 << 20 if x.device.type == "cpu" else 256 << 20
    n, members = len(y), params[0].shape[0]
    widths = sum(w.shape[-1] for w in params[::2])
    step = max(1, budget // (x.element_size() * n * widths))
    losses, hits = [], []
    with torch.no_grad():
        for lo in range(0, members, step):
            part = [p[lo : lo + step] for p in params]
            a = x.expand(len(part[0]), *x.shape)
            for layer in range(len(part) // 2):
                a = torch.baddbmm(part[2 * layer + 1], a, part[2 * layer])
                if layer < len(part) // 2 - 1:
                    a = activate(activation, a)
            logp = torch.log_softmax(a, dim=-1)
            labels = y.expand(len(a), -1)
            losses.append(-logp.gather(-1, labels[..., None]).squeeze(-1).mean(dim=1))
            hits.append((a.argmax(dim=-1) == labels).double().mean(dim=1))
    return torch.cat(losses).double().cpu().numpy(), torch.cat(hits).cpu().numpy()


def activate(name: str, z: torch.Tensor) -> torch.Tensor:
    if name == "relu":
        return torch.relu(z)
    if name == "tanh":
        return torch.tanh(z)
    if name == "sigmoid":
        return torch.sigmoid(z)
    if name == "leaky_relu":
        return torch.nn.functional.leaky_relu(z)
    return z


def activation_grad(name: str, d: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """``d`` (gradient w.r.t. an activation's output ``a``) carried back to its input."""
    if name == "relu":
        return torch.ops.aten.threshold_backward(d, a, 0)
    if name == "tanh":
        return d * (1 - a * a)
    if name == "sigmoid":
        return d * a * (1 - a)
    if name == "leaky_relu":
        return torch.where(a > 0, d, d * 0.01)
    return d
