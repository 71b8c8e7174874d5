"""Population training: many MLPs of one architecture on one data set, trained at once.

Every member has its own learning rate (or schedule), momentum, dampening, weight decay and seed (initial
weights and data order); form, Nesterov and maximize are shared by a population, so that one code path serves
all of it. Each member follows exactly the path :func:`inertia.train.fit` with
:class:`inertia.optim.Momentum` would take for it: the same initial weights (:func:`inertia.models.initial_weights`),
the same minibatches (:mod:`inertia.shuffle`), the same update (:func:`inertia.rules.momentum_step`, applied
to all members' stacked tensors at once) and the same per-epoch metrics.

Members are trained in chunks sized from a memory budget. A member whose loss turns NaN or infinite is
marked diverged at that epoch and frozen; the others are unaffected (no computation mixes members).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch

from inertia.data import Dataset
from inertia.models import MLP, check_layers, initial_weights
from inertia.rules import Constant, check_hyperparameters, momentum_step
from inertia.shuffle import orders as shuffle_orders
from inertia.train import METRICS, History

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "identity")


@dataclass(frozen=True)
class Member:
    """One model's hyperparameters. ``schedule`` (an :mod:`inertia.rules` schedule) overrides ``lr``."""

    lr: float = 0.1
    momentum: float = 0.0
    dampening: float = 0.0
    weight_decay: float = 0.0
    seed: int = 0
    schedule: object | None = None

    def rate(self):
        return self.schedule if self.schedule is not None else Constant(self.lr)


@dataclass
class PopulationResult:
    """Histories in member order, and the trained weights (on the CPU) to rebuild any member's model."""

    members: list[Member]
    histories: list[History]
    layers: list[int]
    activation: str
    weights: list[list[tuple[torch.Tensor, torch.Tensor]]]

    def model(self, index: int) -> MLP:
        """Member ``index``'s trained network as an :class:`~inertia.models.MLP`."""
        model = MLP(self.layers, self.activation).to(self.weights[index][0][0].dtype)
        with torch.no_grad():
            for linear, (weight, bias) in zip(model.hidden, self.weights[index]):
                linear.weight.copy_(weight)
                linear.bias.copy_(bias)
        return model


def resolve_device(device: str | torch.device) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def train_population(
    dataset: Dataset,
    layers: Sequence[int],
    members: Sequence[Member],
    *,
    epochs: int = 100,
    batch_size: int = 20,
    shuffle: bool = True,
    activation: str = "relu",
    form: str = "pytorch",
    nesterov: bool = False,
    maximize: bool = False,
    device: str | torch.device = "auto",
    dtype: torch.dtype = torch.float32,
    memory_budget: int | None = None,
    on_epoch: Callable[[int], None] | None = None,
) -> PopulationResult:
    """Train one MLP per member; see the module docstring. ``memory_budget`` (bytes) bounds the working set
    (default: 1 GiB on CPU, half the free memory on a GPU). ``on_epoch(members_done)`` is called after every
    epoch of every chunk with the number of members that epoch covered."""
    layers = check_layers(layers)
    members = list(members)
    if not members:
        raise ValueError("a population needs at least one member")
    if activation not in ACTIVATIONS:
        raise ValueError(f"the population engine supports activations {ACTIVATIONS}, not {activation!r}; "
                         "use the loop engine for others")
    if layers[0] != dataset.features or layers[-1] != dataset.classes:
        raise ValueError(f"layers {layers} do not fit dataset {dataset.name!r} "
                         f"({dataset.features} features, {dataset.classes} classes)")
    for i, m in enumerate(members):
        try:
            check_hyperparameters(m.lr, m.momentum, m.dampening, nesterov, m.weight_decay, form)
        except ValueError as exc:
            raise ValueError(f"member {i}: {exc}") from None
    device = resolve_device(device)
    n = len(dataset)
    chunk, eval_chunk = chunk_sizes(layers, n, batch_size, len(members), device, dtype, memory_budget)
    x, y = dataset.tensors(device, dtype)
    histories, weights = [], []
    for start in range(0, len(members), chunk):
        part = members[start : start + chunk]
        trainer = _Chunk(part, layers, activation, form, nesterov, maximize, device, dtype)
        h, w = trainer.run(x, y, epochs, batch_size, shuffle, eval_chunk, on_epoch)
        histories += h
        weights += w
    return PopulationResult(members, histories, layers, activation, weights)


def member_bytes(layers, n, batch_size, dtype) -> tuple[int, int]:
    """Estimated working set of one member: while training (parameters, buffers, gradients and update
    temporaries; a minibatch's activations; its data order) and while evaluating on all ``n`` points."""
    item = torch.empty((), dtype=dtype).element_size()
    params = sum((a + 1) * b for a, b in itertools.pairwise(layers))
    training = item * (6 * params + 6 * batch_size * sum(layers)) + 8 * n
    return training, item * 3 * n * sum(layers[1:])


def chunk_sizes(layers, n, batch_size, members, device, dtype, budget) -> tuple[int, int]:
    """Members per training chunk and per evaluation pass that fit in ``budget`` bytes."""
    if budget is None:
        budget = torch.cuda.mem_get_info(device)[0] // 2 if device.type == "cuda" else 1 << 30
    training, evaluating = member_bytes(layers, n, batch_size, dtype)
    return max(1, min(members, budget // training)), max(1, min(members, budget // evaluating))


class _Chunk:
    """Members trained together: stacked weights ``W[l]`` of shape (P, in, out) and biases (P, 1, out)."""

    def __init__(self, members, layers, activation, form, nesterov, maximize, device, dtype):
        self.members, self.layers, self.activation = members, layers, activation
        self.device, self.dtype = device, dtype
        self.shared = dict(form=form, nesterov=nesterov, maximize=maximize)
        drawn = [initial_weights(layers, m.seed) for m in members]
        self.params = []
        for layer in range(len(layers) - 1):
            weight = torch.stack([d[layer][0].T for d in drawn])
            bias = torch.stack([d[layer][1][None, :] for d in drawn])
            self.params += [weight.to(device, dtype), bias.to(device, dtype)]
        self.buffers = [None] * len(self.params)

        def column(values):
            return torch.tensor(values, device=device, dtype=dtype).reshape(-1, 1, 1)

        momentum = [m.momentum for m in members]
        # torch.optim.SGD ignores dampening when momentum is 0; the stacked update must too.
        dampening = [0.0 if form == "pytorch" and m.momentum == 0 else m.dampening for m in members]
        self.momentum, self.dampening = column(momentum), column(dampening)
        self.weight_decay = column([m.weight_decay for m in members])
        self.seeds = np.array([m.seed for m in members], dtype=np.int64)
        self.schedules = vectorized_schedules([m.rate() for m in members])
        self.active = torch.ones(len(members), dtype=torch.bool, device=device)

    def learning_rates(self, steps: np.ndarray) -> torch.Tensor:
        """Each member's rate for updates ``steps``: shape (len(steps), P), one schedule formula per kind of
        schedule evaluated over arrays of the members' parameters."""
        table = np.empty((len(steps), len(self.members)))
        for index, schedule in self.schedules.values():
            table[:, index] = schedule(steps[:, None])
        return torch.tensor(table, device=self.device, dtype=self.dtype)

    def forward(self, a: torch.Tensor) -> list[torch.Tensor]:
        """Activations of every layer (inputs first, logits last)."""
        outputs = [a]
        last = len(self.params) // 2 - 1
        for layer in range(last + 1):
            a = torch.baddbmm(self.params[2 * layer + 1], a, self.params[2 * layer])
            if layer < last:
                a = _activate(self.activation, a)
            outputs.append(a)
        return outputs

    def gradients(self, outputs: list[torch.Tensor], y: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Per-member mean cross-entropy of a minibatch and its gradients, by backpropagation."""
        logp = torch.log_softmax(outputs[-1], dim=-1)
        loss = -logp.gather(-1, y[..., None]).squeeze(-1).mean(dim=1)
        d = logp.exp()
        d.scatter_add_(-1, y[..., None], torch.full(y[..., None].shape, -1.0, device=d.device, dtype=d.dtype))
        d /= y.shape[1]
        grads = [None] * len(self.params)
        for layer in range(len(self.params) // 2 - 1, -1, -1):
            a = outputs[layer]
            grads[2 * layer] = torch.bmm(a.transpose(1, 2), d)
            grads[2 * layer + 1] = d.sum(dim=1, keepdim=True)
            if layer > 0:
                d = _activation_grad(self.activation, torch.bmm(d, self.params[2 * layer].transpose(1, 2)), a)
        return loss, grads

    def update(self, grads: list[torch.Tensor], lr: torch.Tensor) -> None:
        lr = lr.reshape(-1, 1, 1)
        for i, (param, grad) in enumerate(zip(self.params, grads)):
            self.params[i], self.buffers[i] = momentum_step(
                param, grad, self.buffers[i], lr=lr, momentum=self.momentum, dampening=self.dampening,
                weight_decay=self.weight_decay, **self.shared)

    def evaluate(self, x, y, eval_chunk) -> tuple[torch.Tensor, torch.Tensor]:
        """Full-data loss and accuracy of every member, ``eval_chunk`` members at a time."""
        losses, accuracies = [], []
        members = len(self.members)
        for lo in range(0, members, eval_chunk):
            hi = min(lo + eval_chunk, members)
            saved = self.params
            self.params = [p[lo:hi] for p in saved]
            logits = self.forward(x.expand(hi - lo, *x.shape))[-1]
            self.params = saved
            logp = torch.log_softmax(logits, dim=-1)
            losses.append(-logp.gather(-1, y.expand(hi - lo, -1)[..., None]).squeeze(-1).mean(dim=1))
            accuracies.append((logits.argmax(dim=-1) == y).sum(dim=1))
        return torch.cat(losses), torch.cat(accuracies)

    def freeze(self, diverged: torch.Tensor) -> None:
        """Stop updating diverged members: zero weights and buffers (finite, so nothing NaN is computed
        further) with zero learning rate and momentum."""
        self.active &= ~diverged
        keep = self.active.reshape(-1, 1, 1)
        self.params = [torch.where(keep, p, 0) for p in self.params]
        self.buffers = [None if b is None else torch.where(keep, b, 0) for b in self.buffers]
        self.momentum = torch.where(keep, self.momentum, 0)

    def run(self, x, y, epochs, batch_size, shuffle, eval_chunk, on_epoch):
        members, n = len(self.members), len(y)
        metrics = {name: np.full((members, epochs), np.nan) for name in METRICS}
        diverged_at = np.full(members, -1)
        steps_per_epoch = -(-n // batch_size)
        ordered = torch.arange(n, device=self.device).expand(members, n)
        for epoch in range(epochs):
            order = (torch.from_numpy(shuffle_orders(self.seeds, epoch, n)).to(self.device) if shuffle
                     else ordered)
            rates = self.learning_rates(np.arange(epoch * steps_per_epoch, (epoch + 1) * steps_per_epoch))
            rates = rates * self.active.to(self.dtype)
            total = torch.zeros(members, dtype=torch.float64, device=self.device)
            for step, lo in enumerate(range(0, n, batch_size)):
                index = order[:, lo : lo + batch_size]
                outputs = self.forward(x[index])
                loss, grads = self.gradients(outputs, y[index])
                self.update(grads, rates[step])
                total += loss.double()
            full_loss, correct = self.evaluate(x, y, eval_chunk)
            mean = (total / steps_per_epoch).cpu().numpy()
            last = loss.double().cpu().numpy()
            full_loss = full_loss.double().cpu().numpy()
            accuracy = correct.cpu().numpy() / n
            running = diverged_at < 0
            metrics["batch_loss_mean"][running, epoch] = mean[running]
            metrics["batch_loss_last"][running, epoch] = last[running]
            newly = running & ~(np.isfinite(full_loss) & np.isfinite(mean))
            fine = running & ~newly
            metrics["loss"][fine, epoch] = full_loss[fine]
            metrics["accuracy"][fine, epoch] = accuracy[fine]
            if newly.any():
                diverged_at[newly] = epoch
                self.freeze(torch.from_numpy(newly).to(self.device))
            if on_epoch is not None:
                on_epoch(members)
        histories = [
            History(**{name: metrics[name][i] for name in METRICS},
                    diverged_at=None if diverged_at[i] < 0 else int(diverged_at[i]))
            for i in range(members)
        ]
        weights = [
            [(self.params[2 * layer][i].T.cpu(), self.params[2 * layer + 1][i, 0].cpu())
             for layer in range(len(self.params) // 2)]
            for i in range(members)
        ]
        return histories, weights


def vectorized_schedules(rates) -> dict:
    """``{kind: (member indices, schedule of that kind whose fields are arrays over those members)}``."""
    groups = {}
    for i, rate in enumerate(rates):
        groups.setdefault(type(rate), []).append(i)
    return {
        kind: (np.array(index), kind(**{f.name: np.array([getattr(rates[i], f.name) for i in index])
                                         for f in fields(kind)}))
        for kind, index in groups.items()
    }


def _activate(name: str, z: torch.Tensor) -> torch.Tensor:
    if name == "relu":
        return torch.relu(z)
    if name == "tanh":
        return torch.tanh(z)
    if name == "sigmoid":
        return torch.sigmoid(z)
    if name == "leaky_relu":
        return torch.nn.functional.leaky_relu(z)
    return z


def _activation_grad(name: str, d: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
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
