"""Training one model: minibatch SGD over a :class:`~inertia.data.Dataset`, recording a :class:`History`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from inertia import outcome
from inertia.arguments import check_bool, check_positive_int, check_seed
from inertia.data import Dataset
from inertia.shuffle import order as shuffle_order

METRICS = ("loss", "accuracy", "batch_loss_mean", "batch_loss_last")
HELD_OUT = ("test_loss", "test_accuracy")  # recorded when training is given a held-out split


@dataclass
class History:
    """Per-epoch metrics of one training run (index 0 is the state after the first epoch).

    - ``loss``, ``accuracy``: on the full data set after the epoch: the honest metrics.
    - ``batch_loss_mean``: mean of the epoch's minibatch losses, each taken before its update.
    - ``batch_loss_last``: the last minibatch's loss, as the seed notebook records it.
    - ``diverged_at``: the epoch after which the divergence rule of :mod:`inertia.outcome` fired (training
      stopped there; that epoch keeps the metrics that made the rule fire, the ones after it are NaN), or
      ``None``.
    - ``initial_loss``: the full-data loss of the initial weights, which that rule and :attr:`status` use.
    - ``test_loss``, ``test_accuracy``: on a held-out split after each epoch, when training was given one
      (``None`` otherwise); never used for training or the divergence rule.
    """

    loss: np.ndarray
    accuracy: np.ndarray
    batch_loss_mean: np.ndarray
    batch_loss_last: np.ndarray
    diverged_at: int | None = None
    initial_loss: float = float("nan")
    seconds: float = field(default=0.0, compare=False)
    test_loss: np.ndarray | None = None
    test_accuracy: np.ndarray | None = None

    @property
    def epochs(self) -> int:
        return len(self.loss)

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    @property
    def status(self) -> str:
        """``"ok"``, ``"no_progress"`` or ``"diverged"`` (:func:`inertia.outcome.status`)."""
        return outcome.status(self)

    def summary(self, targets: dict | None = None) -> dict:
        """The run's one summary (:func:`inertia.outcome.summarize`)."""
        return outcome.summarize(self, targets)

    def to_frame(self) -> pd.DataFrame:
        names = METRICS + tuple(name for name in HELD_OUT if getattr(self, name) is not None)
        frame = pd.DataFrame({name: getattr(self, name) for name in names})
        frame.index = pd.RangeIndex(1, self.epochs + 1, name="epoch")
        return frame


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, criterion: nn.Module) -> tuple[float, float]:
    """Full-data ``(loss, accuracy)`` of ``model`` without touching its gradients."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(x)
        loss = criterion(logits, y).item()
        accuracy = (logits.argmax(dim=1) == y).sum().item() / len(y)
    model.train(was_training)
    return loss, accuracy


def minibatches(n: int, batch_size: int, seed: int | None, epoch: int):
    """Index tensors covering ``range(n)`` in batches of ``batch_size`` (the last may be smaller): in order
    when ``seed`` is None, else in :func:`inertia.shuffle.order` ``(seed, epoch)``."""
    order = torch.arange(n) if seed is None else torch.from_numpy(shuffle_order(seed, epoch, n))
    return order.split(batch_size)


def set_momentum(optimizer: torch.optim.Optimizer, value: float) -> None:
    """Every param group's momentum set to ``value``: ``momentum`` (SGD, RMSprop, inertia's Momentum), Adam's and
    AdamW's ``betas[0]``, QHM's ``beta`` — the keys torch's schedulers set with ``cycle_momentum``."""
    for group in optimizer.param_groups:
        if "betas" in group:
            group["betas"] = (value, *group["betas"][1:])
        elif "momentum" in group:
            group["momentum"] = value
        elif "beta" in group:
            group["beta"] = value
        else:
            raise ValueError(f"{type(optimizer).__name__} has no momentum for a momentum schedule to set")


def fit(
    model: nn.Module,
    dataset: Dataset,
    optimizer: torch.optim.Optimizer,
    epochs: int = 100,
    batch_size: int = 20,
    shuffle: bool = True,
    seed: int | None = None,
    *,
    loader: Iterable | None = None,
    criterion: nn.Module | None = None,
    schedule: Callable[[int], float] | None = None,
    momentum_schedule: Callable[[int], float] | None = None,
    scheduler=None,
    on_epoch: Callable[[int, History], None] | None = None,
    divergence_factor: float = outcome.DIVERGENCE_FACTOR,
    held_out: Dataset | None = None,
) -> History:
    """Train ``model`` on ``dataset`` with ``optimizer`` for ``epochs`` passes of minibatch SGD.

    Minibatches come from ``dataset`` in order, or in a fresh order each epoch when ``shuffle``: the order
    :func:`inertia.shuffle.order` gives ``(seed, epoch)``, so runs with one seed see the same minibatches in
    every engine (with ``seed=None`` a seed is drawn from torch's global generator). A ``loader`` (any
    re-iterable of ``(x, y)`` batches, e.g. a ``DataLoader``) replaces that batching. ``schedule(t)`` sets
    every param group's learning rate before update ``t`` (0, 1, ...), e.g. an :mod:`inertia.optim.schedules` schedule;
    ``momentum_schedule(t)`` its momentum (``momentum``, Adam's ``betas[0]``, QHM's ``beta``), and a
    :class:`~inertia.optim.schedules.OneCycle` schedule the momentum too unless it has a momentum schedule or
    ``cycle_momentum`` is false, as torch's ``OneCycleLR`` does. A torch learning-rate ``scheduler`` (``OneCycleLR``,
    ``CyclicLR``, ...) is stepped after every update instead, as torch's recipe does.
    ``on_epoch(epoch, history_so_far)`` is called after each epoch, e.g. to drive a progress bar. Training
    stops at the first epoch where :func:`inertia.outcome.diverging` fires (with ``divergence_factor``).
    With ``held_out`` (e.g. ``dataset.test``) its loss and accuracy are recorded after every epoch too.
    """
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    check_bool("shuffle", shuffle)
    if seed is not None:
        check_seed(seed)
    divergence_factor = outcome.check_factor(divergence_factor)
    updates = epochs * (len(loader) if loader is not None and hasattr(loader, "__len__")
                        else -(-len(dataset) // batch_size))
    for name, made in (("schedule", schedule), ("momentum_schedule", momentum_schedule)):
        _check_length(name, made, updates)
    momentum = momentum_schedule
    if momentum is None and bool(np.asarray(getattr(schedule, "cycle_momentum", False)).all()):
        momentum = schedule.momentum  # a one-cycle schedule's own momentum (inertia.optim.schedules.OneCycle)
    criterion = criterion or nn.CrossEntropyLoss()
    first = next(model.parameters())
    x, y = dataset.tensors(first.device, first.dtype)
    if shuffle and seed is None and loader is None:
        seed = int(torch.randint(0, 2**31 - 1, ()).item())
    order_seed = seed if shuffle else None
    step = 0
    names = METRICS + (HELD_OUT if held_out is not None else ())
    metrics = {name: np.full(epochs, np.nan) for name in names}
    if held_out is not None:
        x_out, y_out = held_out.tensors(first.device, first.dtype)
    diverged_at = None
    started = time.perf_counter()
    initial_loss, _ = evaluate(model, x, y, criterion)

    model.train()
    for epoch in range(epochs):
        if loader is None:
            batches = ((x[i], y[i]) for i in minibatches(len(y), batch_size, order_seed, epoch))
        else:
            batches = ((bx.to(x.device), by.to(x.device)) for bx, by in loader)
        total, count, loss = 0.0, 0, None
        for bx, by in batches:
            optimizer.zero_grad()
            loss = criterion(model(bx), by)
            loss.backward()
            if schedule is not None:
                for group in optimizer.param_groups:
                    group["lr"] = float(schedule(step))
            if momentum is not None:
                set_momentum(optimizer, float(momentum(step)))
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            step += 1
            total, count = total + loss.item(), count + 1
        if loss is None:
            raise ValueError("the loader yielded no batches")
        metrics["batch_loss_mean"][epoch] = total / count
        metrics["batch_loss_last"][epoch] = loss.item()
        metrics["loss"][epoch], metrics["accuracy"][epoch] = evaluate(model, x, y, criterion)
        finite_weights = all(bool(torch.isfinite(p).all()) for p in model.parameters())
        if held_out is not None:
            metrics["test_loss"][epoch], metrics["test_accuracy"][epoch] = evaluate(model, x_out, y_out, criterion)
        if outcome.diverging(metrics["loss"][epoch], metrics["batch_loss_mean"][epoch], initial_loss,
                             divergence_factor, finite_weights):
            diverged_at = epoch  # its metrics stay: they are the evidence
        history = History(**metrics, diverged_at=diverged_at, initial_loss=initial_loss,
                          seconds=time.perf_counter() - started)
        if on_epoch is not None:
            on_epoch(epoch, history)
        if diverged_at is not None:
            break
    return History(**metrics, diverged_at=diverged_at, initial_loss=initial_loss,
                   seconds=time.perf_counter() - started)


def _check_length(name: str, schedule, updates: int) -> None:
    """A ValueError before training when ``schedule`` ends before ``updates`` updates, worded as the population
    engine words it: one with a ``last_update()`` (one-cycle's ``total_steps``, Demon's ``total``) would otherwise be
    asked for steps past its end, which torch's schedulers refuse."""
    last = getattr(schedule, "last_update", None)
    last = None if last is None else last()
    if last is not None and (np.asarray(last) < updates).any():
        field = "total_steps" if hasattr(schedule, "total_steps") else "total"
        raise ValueError(f"Invalid {name} {field}: {int(np.min(last))} (allowed: at least the {updates} updates of "
                         "training)")
