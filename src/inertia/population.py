"""Population training: many MLPs of one architecture on one data set, trained at once.

Every member has its own optimizer hyperparameters (any rule of :mod:`inertia.rules`: momentum in every form,
QHM, Adam, AdamW, RMSprop; one kind per population), learning rate or schedule, and seed (initial weights and
data order). Each member follows exactly the path :func:`inertia.train.fit` would take for it with the
matching torch optimizer: the same initial weights (:func:`inertia.models.initial_weights`), the same
minibatches (:mod:`inertia.shuffle`), the same update (the rule's coefficients, applied by
:func:`inertia.rules.apply` or its restatement in a compiled kernel) and the same per-epoch metrics.

Members are trained in chunks sized from a memory budget. A member that diverges (the rule of
:mod:`inertia.outcome`, the same one ``fit`` applies) is marked diverged at that epoch and frozen; the others
are unaffected (no computation mixes members).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import torch

from inertia import outcome, rules
from inertia.data import Dataset
from inertia.models import MLP, check_layers, initial_weights, resolve_device
from inertia.rules import Constant
from inertia.shuffle import orders as shuffle_orders
from inertia.train import METRICS, History

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "identity")


@dataclass(frozen=True)
class Member:
    """One model's hyperparameters and seed. By default its optimizer is momentum
    (:class:`inertia.rules.Momentum` with ``lr``, ``momentum``, ``dampening``, ``weight_decay`` and the
    population's form, Nesterov and maximize); ``optimizer`` may instead hold any rule of :mod:`inertia.rules`
    (``rules.Adam(lr=1e-3)``, ``rules.QHM(0.1, 0.9, 0.7)``, ...), whose own fields then apply. ``schedule`` (an
    :mod:`inertia.rules` schedule) overrides the learning rate."""

    lr: float = 0.1
    momentum: float = 0.0
    dampening: float = 0.0
    weight_decay: float = 0.0
    seed: int = 0
    schedule: object | None = None
    optimizer: object | None = None

    def rule(self, form: str = "pytorch", nesterov: bool = False, maximize: bool = False):
        """The member's optimizer rule (see the class docstring)."""
        if self.optimizer is not None:
            return self.optimizer
        return rules.Momentum(self.lr, self.momentum, self.dampening, self.weight_decay, nesterov, maximize, form)

    def rate(self):
        if self.schedule is not None:
            return self.schedule
        return Constant(self.optimizer.lr if self.optimizer is not None else self.lr)


@dataclass
class PopulationResult:
    """Histories in member order, and the trained weights (on the CPU) to rebuild any member's model."""

    members: list[Member]
    histories: list[History]
    layers: list[int]
    activation: str
    weights: list[list[tuple[torch.Tensor, torch.Tensor]]]
    snapshots: dict[int, list[list[tuple[torch.Tensor, torch.Tensor]]]] = field(default_factory=dict)

    def model(self, index: int, epoch: int | None = None) -> MLP:
        """Member ``index``'s trained network as an :class:`~inertia.models.MLP`; with ``epoch``, as it was
        after that epoch (one of the ``snapshots`` asked of :func:`train_population`)."""
        weights = self.weights[index] if epoch is None else self.snapshots[epoch][index]
        model = MLP(self.layers, self.activation).to(weights[0][0].dtype)
        with torch.no_grad():
            for linear, (weight, bias) in zip(model.hidden, weights):
                linear.weight.copy_(weight)
                linear.bias.copy_(bias)
        return model


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
    engine: str = "auto",
    on_epoch: Callable[[int], None] | None = None,
    snapshots: Sequence[int] = (),
    divergence_factor: float = outcome.DIVERGENCE_FACTOR,
) -> PopulationResult:
    """Train one MLP per member; see the module docstring. ``memory_budget`` (bytes) bounds the working set
    (default: 1 GiB on CPU, half the free memory on a GPU). ``on_epoch(members_done)`` is called after every
    epoch of every chunk with the number of members that epoch covered. ``engine``: ``"kernel"`` (compiled,
    CPU, one hidden layer), ``"torch"`` (batched tensors, any device and depth) or ``"auto"``.
    ``divergence_factor`` is the divergence rule's (:mod:`inertia.outcome`)."""
    layers = check_layers(layers)
    divergence_factor = outcome.check_factor(divergence_factor)
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
            m.rule(form, nesterov, maximize).check()
        except ValueError as exc:
            raise ValueError(f"member {i}: {exc}") from None
    rules.stack([m.rule(form, nesterov, maximize) for m in members])  # one kind, or a clear error now
    device = resolve_device(device)
    engine = choose_engine(engine, layers, device)
    n = len(dataset)
    chunk, eval_chunk = chunk_sizes(layers, n, batch_size, len(members), device, dtype, memory_budget, engine)
    x, y = dataset.tensors(device, dtype)
    histories, weights = [], []
    kept = {e: [] for e in sorted(set(snapshots)) if 1 <= e <= epochs}
    for start in range(0, len(members), chunk):
        shared = (members[start : start + chunk], layers, activation, form, nesterov, maximize, x, y, batch_size,
                  shuffle, divergence_factor)
        if engine == "kernel":
            trainer = _KernelChunk(*shared, dtype=dtype)
        elif engine == "triton":
            trainer = _TritonChunk(*shared, device=device, dtype=dtype)
        else:
            trainer = _TorchChunk(*shared, device=device, dtype=dtype, eval_chunk=eval_chunk)
        h, w = trainer.run(epochs, on_epoch, kept)
        histories += h
        weights += w
    return PopulationResult(members, histories, layers, activation, weights, kept)


ENGINES = ("auto", "kernel", "triton", "torch")


def choose_engine(engine: str, layers: Sequence[int], device: torch.device) -> str:
    """``auto``: for one hidden layer the compiled kernel of the device (``kernel`` on the CPU, ``triton`` on
    CUDA when Triton is installed), batched torch otherwise. Every engine runs every optimizer."""
    if engine not in ENGINES:
        raise ValueError(f"unknown population engine {engine!r}; choose one of {ENGINES}")
    one_hidden = len(layers) == 3
    if engine == "kernel" and not (one_hidden and device.type == "cpu"):
        raise ValueError("the kernel engine runs one-hidden-layer networks on the CPU; use engine='torch'")
    if engine == "triton" and not (one_hidden and triton_runs_on(device)):
        raise ValueError("the triton engine runs one-hidden-layer networks on a CUDA device (with Triton "
                         "installed); use engine='torch'")
    if engine == "auto":
        if one_hidden and device.type == "cpu":
            return "kernel"
        return "triton" if one_hidden and triton_runs_on(device) else "torch"
    return engine


def triton_runs_on(device: torch.device) -> bool:
    """Whether the Triton kernels can run on ``device``: CUDA, or the CPU under ``TRITON_INTERPRET=1``."""
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return device.type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1"


def member_bytes(layers, n, batch_size, dtype, engine="torch") -> tuple[int, int]:
    """Estimated working set of one member: while training (parameters, buffers, gradients and update
    temporaries; a minibatch's activations; its data order) and while evaluating on all ``n`` points. The
    Triton engine keeps activations and gradients in registers: parameters, buffers, data order and rates."""
    item = torch.empty((), dtype=dtype).element_size()
    params = sum((a + 1) * b for a, b in itertools.pairwise(layers))
    if engine == "triton":
        training = item * (2 * params + -(-n // batch_size)) + 4 * n + 16
        return training, training
    training = item * (6 * params + 6 * batch_size * sum(layers)) + 8 * n
    return training, item * 3 * n * sum(layers[1:])


def chunk_sizes(layers, n, batch_size, members, device, dtype, budget, engine="torch") -> tuple[int, int]:
    """Members per training chunk and per evaluation pass that fit in ``budget`` bytes."""
    if budget is None:
        budget = torch.cuda.mem_get_info(device)[0] // 2 if device.type == "cuda" else 1 << 30
    training, evaluating = member_bytes(layers, n, batch_size, dtype, engine)
    return max(1, min(members, budget // training)), max(1, min(members, budget // evaluating))


class _Chunk:
    """Members trained together. Subclasses provide ``epoch`` (train one epoch, return per-member numpy
    arrays: mean and last minibatch loss, full-data loss and correct predictions), ``freeze`` and ``weights``;
    this class holds what both engines share and keeps the per-epoch records."""

    def __init__(self, members, layers, activation, form, nesterov, maximize, x, y, batch_size, shuffle,
                 divergence_factor):
        self.members, self.layers, self.activation = members, layers, activation
        self.form, self.nesterov, self.maximize = form, nesterov, maximize
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.divergence_factor = divergence_factor
        self.initial = [initial_weights(layers, m.seed) for m in members]
        # Full-data loss of the initial weights, for the divergence rule; set by the engine by the end of the
        # first epoch (the CPU kernel measures it within that epoch).
        self.initial_loss = None
        self.seeds = np.array([m.seed for m in members], dtype=np.int64)
        self.rule = rules.stack([m.rule(form, nesterov, maximize) for m in members])
        self.schedules = vectorized_schedules([m.rate() for m in members])

    def coefficients(self, steps: np.ndarray) -> np.ndarray:
        """The update's coefficients (:class:`inertia.rules.Update`) for updates ``steps`` of every member, from
        the members' rule and learning rates: shape (len(steps), P, len(UPDATE_FIELDS))."""
        update = self.rule.update(self.learning_rates(steps), steps[:, None])
        shape = (len(steps), len(self.members))
        return np.stack([np.broadcast_to(getattr(update, name), shape) for name in rules.UPDATE_FIELDS], axis=-1)

    def learning_rates(self, steps: np.ndarray) -> np.ndarray:
        """Each member's rate for updates ``steps``: shape (len(steps), P), one schedule formula per kind of
        schedule evaluated over arrays of the members' parameters."""
        table = np.empty((len(steps), len(self.members)))
        for index, schedule in self.schedules.values():
            table[:, index] = schedule(steps[:, None])
        return table

    def run(self, epochs, on_epoch, snapshots=None):
        """Train for ``epochs``; returns histories and final weights, and appends this chunk's weights to
        ``snapshots[epoch]`` after each epoch it names."""
        members, n = len(self.members), len(self.y)
        metrics = {name: np.full((members, epochs), np.nan) for name in METRICS}
        diverged_at = np.full(members, -1)
        steps_per_epoch = -(-n // self.batch_size)
        for epoch in range(epochs):
            steps = np.arange(epoch * steps_per_epoch, (epoch + 1) * steps_per_epoch)
            mean, last, full_loss, correct = self.epoch(epoch, steps)
            running = diverged_at < 0
            metrics["batch_loss_mean"][running, epoch] = mean[running]
            metrics["batch_loss_last"][running, epoch] = last[running]
            newly = running & outcome.diverging(full_loss, mean, self.initial_loss, self.divergence_factor,
                                                self.finite_weights())
            fine = running & ~newly
            metrics["loss"][fine, epoch] = full_loss[fine]
            metrics["accuracy"][fine, epoch] = correct[fine] / n
            if newly.any():
                diverged_at[newly] = epoch
                self.freeze(newly)
            if snapshots and epoch + 1 in snapshots:
                snapshots[epoch + 1] += self.weights()
            if on_epoch is not None:
                on_epoch(members)
        histories = [
            History(**{name: metrics[name][i] for name in METRICS},
                    diverged_at=None if diverged_at[i] < 0 else int(diverged_at[i]),
                    initial_loss=float(self.initial_loss[i]))
            for i in range(members)
        ]
        return histories, self.weights()


class _TorchChunk(_Chunk):
    """The batched-tensor engine (any device): weights ``W[l]`` (P, in, out), biases (P, 1, out), and the
    update :func:`inertia.rules.momentum_step` applied once to each stacked tensor."""

    def __init__(self, *args, device, dtype, eval_chunk):
        super().__init__(*args)
        self.device, self.dtype, self.eval_chunk = device, dtype, eval_chunk
        self.initial_loss = initial_losses(self.initial, self.activation, self.x, self.y)
        self.params = []
        for layer in range(len(self.layers) - 1):
            weight = torch.stack([d[layer][0].T for d in self.initial])
            bias = torch.stack([d[layer][1][None, :] for d in self.initial])
            self.params += [weight.to(device, dtype), bias.to(device, dtype)]
        self.slots = self.rule.slots
        self.state = [rules.initial_state(p, self.slots) for p in self.params]
        self.active = torch.ones(len(self.members), dtype=torch.bool, device=device)

    def column(self, values) -> torch.Tensor:
        return torch.as_tensor(values, device=self.device, dtype=self.dtype).reshape(-1, 1, 1)

    def forward(self, a: torch.Tensor, params: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
        """Activations of every layer (inputs first, logits last), with ``params`` (default: all members')."""
        params = self.params if params is None else params
        outputs = [a]
        last = len(params) // 2 - 1
        for layer in range(last + 1):
            a = torch.baddbmm(params[2 * layer + 1], a, params[2 * layer])
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

    def update(self, grads: list[torch.Tensor], coefficients: torch.Tensor) -> None:
        """:func:`inertia.rules.apply` on every stacked tensor, with one step's coefficients (P, fields)."""
        update = rules.Update(*coefficients.T.reshape(len(rules.UPDATE_FIELDS), -1, 1, 1))
        for i, (param, grad) in enumerate(zip(self.params, grads)):
            self.params[i], self.state[i] = rules.apply(param, grad, self.state[i], update, self.slots,
                                                        self.rule.m_after_den)

    def evaluate(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Full-data loss and correct predictions of every member, ``eval_chunk`` members at a time."""
        x, y = self.x, self.y
        losses, correct = [], []
        members = len(self.members)
        for lo in range(0, members, self.eval_chunk):
            hi = min(lo + self.eval_chunk, members)
            logits = self.forward(x.expand(hi - lo, *x.shape), [p[lo:hi] for p in self.params])[-1]
            logp = torch.log_softmax(logits, dim=-1)
            losses.append(-logp.gather(-1, y.expand(hi - lo, -1)[..., None]).squeeze(-1).mean(dim=1))
            correct.append((logits.argmax(dim=-1) == y).sum(dim=1))
        return torch.cat(losses), torch.cat(correct)

    def epoch(self, epoch, steps):
        n, members = len(self.y), len(self.members)
        table = torch.as_tensor(self.coefficients(steps), device=self.device, dtype=self.dtype)
        if self.shuffle:
            order = torch.from_numpy(shuffle_orders(self.seeds, epoch, n)).to(self.device)
        else:
            order = torch.arange(n, device=self.device).expand(members, n)
        total = torch.zeros(members, dtype=torch.float64, device=self.device)
        for step, lo in enumerate(range(0, n, self.batch_size)):
            index = order[:, lo : lo + self.batch_size]
            loss, grads = self.gradients(self.forward(self.x[index]), self.y[index])
            self.update(grads, table[step])
            total += loss.double()
        full_loss, correct = self.evaluate()
        steps = -(-n // self.batch_size)
        return ((total / steps).cpu().numpy(), loss.double().cpu().numpy(), full_loss.double().cpu().numpy(),
                correct.cpu().numpy())

    def freeze(self, diverged: np.ndarray) -> None:
        """Diverged members: their weights and state are zeroed (finite, so nothing NaN is computed further);
        what they compute from then on is never read (no operation mixes members)."""
        self.active &= ~torch.from_numpy(diverged).to(self.device)
        keep = self.active.reshape(-1, 1, 1)
        self.params = [torch.where(keep, p, 0) for p in self.params]
        self.state = [{slot: torch.where(keep, value, 0) for slot, value in state.items()} for state in self.state]

    def finite_weights(self) -> np.ndarray:
        finite = torch.stack([p.isfinite().flatten(1).all(dim=1) for p in self.params]).all(dim=0)
        return finite.cpu().numpy()

    def weights(self):
        params = [p.cpu() for p in self.params]
        return [
            [(params[2 * layer][i].T, params[2 * layer + 1][i, 0]) for layer in range(len(params) // 2)]
            for i in range(len(self.members))
        ]


class _KernelChunk(_Chunk):
    """The compiled CPU engine (:mod:`inertia.kernels`) for one-hidden-layer networks: each member's weights
    in one flat vector (w1, b1, output weights transposed, b2)."""

    def __init__(self, *args, dtype):
        super().__init__(*args)
        from inertia import kernels

        self.kernels = kernels
        self.np_dtype = np.float64 if dtype == torch.float64 else np.float32
        self.x_np = self.x.cpu().numpy().astype(self.np_dtype)
        self.y_np = self.y.cpu().numpy()
        self.hidden = self.layers[1]
        self.params = flat_weights(self.initial).numpy().astype(self.np_dtype)
        self.slots = self.rule.slots
        self.state = np.zeros((len(self.members), len(self.slots), self.params.shape[1]), dtype=self.np_dtype)
        self.rows = [self.slots.index(slot) if slot in self.slots else -1 for slot in rules.SLOTS]
        self.active = np.ones(len(self.members), dtype=np.bool_)
        self.updates = 0
        self.measured_initial = np.full(len(self.members), np.nan)

    def cast(self, values) -> np.ndarray:
        return np.ascontiguousarray(values, dtype=self.np_dtype)

    def epoch(self, epoch, steps):
        members = len(self.members)
        coefficients = self.cast(self.coefficients(steps).transpose(1, 0, 2))
        out = [np.full(members, np.nan) for _ in range(3)] + [np.zeros(members, dtype=np.int64)]
        self.kernels.train_epoch(
            self.x_np, self.y_np, self.seeds, epoch, self.shuffle, self.batch_size, self.params, self.state,
            self.hidden, self.updates == 0, coefficients, *self.rows, self.rule.m_after_den,
            self.kernels.ACTIVATIONS[self.activation], self.active, *out, self.measured_initial)
        if self.updates == 0:
            self.initial_loss = self.measured_initial
        self.updates += len(steps)
        return out

    def freeze(self, diverged: np.ndarray) -> None:
        """Diverged members are skipped by the kernel from now on."""
        self.active &= ~diverged

    def finite_weights(self) -> np.ndarray:
        return np.isfinite(self.params).all(axis=1)

    def weights(self):
        return unflatten_weights(torch.from_numpy(self.params.copy()), self.layers)


class _TritonChunk(_Chunk):
    """The compiled GPU engine (:mod:`inertia.gpu_kernels`): :class:`_KernelChunk`'s flat layout, on the device."""

    def __init__(self, *args, device, dtype):
        super().__init__(*args)
        from inertia import gpu_kernels, shuffle

        self.kernels = gpu_kernels
        self.device, self.dtype = device, dtype
        self.x = self.x.contiguous()
        self.params = flat_weights(self.initial).to(device, dtype)
        slots = self.rule.slots
        self.state = torch.zeros((len(self.members), max(len(slots), 1), self.params.shape[1]), device=device,
                                 dtype=dtype)
        self.rows = tuple(slots.index(slot) if slot in slots else -1 for slot in rules.SLOTS)
        self.seed_words = torch.from_numpy(shuffle._seed_words(self.seeds).astype(np.int64)).to(device)
        self.active = torch.ones(len(self.members), dtype=torch.int8, device=device)
        self.updates = 0
        self.initial_loss = initial_losses(self.initial, self.activation, self.x, self.y)
        # The coefficients are computed by torch on the device from the rule's hyperparameters there. With
        # constant learning rates (the usual case) a steady rule's are two rows for the whole run: the first
        # update's and every later one's.
        self.device_rule = rules.convert(self.rule, lambda a: torch.as_tensor(a, device=device, dtype=dtype))
        self.constant_lr = None
        if list(self.schedules) == [Constant]:
            self.constant_lr = torch.as_tensor(self.learning_rates(np.zeros(1)), device=device, dtype=dtype)
        self.steady_table = None
        if self.constant_lr is not None and self.rule.steady:
            self.steady_table = self.device_table(self.constant_lr, torch.arange(2, device=device)[:, None])

    def device_table(self, lr: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """:meth:`_Chunk.coefficients` on the device: (len(t), members, fields), for learning rates ``lr``
        (len(t) or 1, members) and update indices ``t`` (len(t), 1)."""
        update = self.device_rule.update(lr, t)
        shape = (len(t), len(self.members))
        columns = [value.expand(shape) if isinstance(value, torch.Tensor) else
                   torch.full(shape, float(value), device=self.device, dtype=self.dtype)
                   for value in (getattr(update, name) for name in rules.UPDATE_FIELDS)]
        return torch.stack(columns, dim=-1).contiguous()

    def epoch(self, epoch, steps):
        order = self.kernels.shuffle_orders(self.seed_words, epoch, len(self.y)) if self.shuffle else None
        if self.steady_table is not None:
            table, rows = self.steady_table, {"first_row": self.updates == 0, "row_base": 1, "row_stride": 0}
        else:
            lr = self.constant_lr
            if lr is None:
                lr = torch.as_tensor(self.learning_rates(steps), device=self.device, dtype=self.dtype)
            t = torch.as_tensor(steps, device=self.device)[:, None]
            table, rows = self.device_table(lr, t), {"first_row": False, "row_base": 0, "row_stride": 1}
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

    def weights(self):
        return unflatten_weights(self.params.to("cpu", copy=True), self.layers)


def initial_losses(initial, activation: str, x: torch.Tensor, y: torch.Tensor, budget: int | None = None) -> np.ndarray:
    """Full-data mean cross-entropy of each member's ``initial`` weights (what the divergence rule compares
    with), in ``x``'s dtype and on its device, as many members at a time as ``budget`` bytes of activations
    allow (default: 4 MiB on a CPU, where small batched products that stay in cache are fastest; 256 MiB on
    a GPU)."""
    if budget is None:
        budget = 4 << 20 if x.device.type == "cpu" else 256 << 20
    n = len(y)
    widths = sum(w.shape[0] for w, _ in initial[0])
    step = max(1, budget // (x.element_size() * n * widths))
    losses = []
    for lo in range(0, len(initial), step):
        a = x.expand(len(initial[lo : lo + step]), *x.shape)
        layers = len(initial[0])
        for layer in range(layers):
            weight = torch.stack([w[layer][0].T for w in initial[lo : lo + step]]).to(x.device, x.dtype)
            bias = torch.stack([w[layer][1][None, :] for w in initial[lo : lo + step]]).to(x.device, x.dtype)
            a = torch.baddbmm(bias, a, weight)
            if layer < layers - 1:
                a = _activate(activation, a)
        logp = torch.log_softmax(a, dim=-1)
        losses.append(-logp.gather(-1, y.expand(len(a), -1)[..., None]).squeeze(-1).mean(dim=1))
    return torch.cat(losses).double().cpu().numpy()


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
