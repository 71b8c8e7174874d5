"""Population training: many MLPs of one architecture on one data set, trained at once.

Every member has its own optimizer hyperparameters (any rule of :mod:`inertia.optim.rules`: momentum in every form,
QHM, Adam, AdamW, RMSprop; one kind per population), learning rate or schedule, and seed (initial weights and
data order). Each member follows exactly the path :func:`inertia.train.fit` would take for it with the
matching torch optimizer: the same initial weights (:func:`inertia.models.initial_weights`), the same
minibatches (:mod:`inertia.shuffle`), the same update (the rule's coefficients, applied by
:func:`inertia.optim.update.apply` or its restatement in a compiled kernel) and the same per-epoch metrics.

Members are trained in chunks sized from a memory budget. A member that diverges (the rule of
:mod:`inertia.outcome`, the same one ``fit`` applies) is marked diverged at that epoch and frozen; the others
are unaffected (no computation mixes members).

A population is held as columns, never as one Python object per member unless asked:
:mod:`~inertia.population.columns` the members (:class:`Members`: one array per hyperparameter, checked in a few
vector operations; :class:`Member` lists are read into it), :mod:`~inertia.population.result` the results
(:class:`PopulationResult`: one (members, epochs) array per metric, weights stacked per layer, with histories,
models and DataFrames made on demand).

The package: this module holds :func:`train_population` and the choice of engine;
:mod:`~inertia.population.memory` the memory model that sizes chunks;
:mod:`~inertia.population.layout` what every engine shares (activation codes, the flat weight layout, the
rows of an optimizer's state slots, the :class:`~inertia.population.layout.Task`);
:mod:`~inertia.population.chunk` the chunk every engine extends (coefficients from the rule, records, the
divergence rule); :mod:`~inertia.population.evaluate` full-data metrics of stacked members. One module per
engine: :mod:`~inertia.population.torch_engine` (batched tensors), :mod:`~inertia.population.kernel_engine`
over the compiled CPU kernels (one member at a time: :mod:`~inertia.population.kernels` for one hidden layer,
:mod:`~inertia.population.deep_kernels` for more; members across the SIMD lanes:
:mod:`~inertia.population.lane_kernels` over :mod:`~inertia.population.lanes`; :mod:`~inertia.population.vecmath`
their scalar math) and
:mod:`~inertia.population.triton_engine` over the GPU kernels (:mod:`~inertia.population.gpu_kernels`, a member's
weights in registers, for narrow one-hidden-layer networks; :mod:`~inertia.population.gpu_tiles`, dense products over
tiles, for any depth and width).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from inertia import outcome
from inertia.arguments import check_positive_int
from inertia.data import Dataset
from inertia.population.columns import Member, Members
from inertia.population.evaluate import initial_losses
from inertia.population.layout import ACTIVATIONS, flat_weights, unflatten_weights
from inertia.population.memory import chunk_sizes, member_bytes
from inertia.population.result import PopulationResult
from inertia.population.segments import Population
from inertia.population.setup import ENGINES, choose_engine, prepare, triton_runs_on

__all__ = [
    "ACTIVATIONS",
    "ENGINES",
    "Member",
    "Members",
    "Population",
    "PopulationResult",
    "choose_engine",
    "chunk_sizes",
    "flat_weights",
    "initial_losses",
    "member_bytes",
    "train_population",
    "triton_runs_on",
    "unflatten_weights",
]


def train_population(
    dataset: Dataset,
    layers: Sequence[int],
    members: Members | Sequence[Member],
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
    until: tuple[str, float] | None = None,
    on_metrics: Callable[[int, int, np.ndarray, np.ndarray], None] | None = None,
    held_out: Dataset | None = None,
    matmul_precision: str = "ieee",
) -> PopulationResult:
    """Train one MLP per member; see the module docstring. ``members``: a :class:`Members` table (arrays of
    hyperparameters, nothing per member on the way in or out) or a list of :class:`Member`. ``memory_budget`` (bytes)
    bounds the working set (default: 1 GiB on CPU, half the free memory on a GPU). ``on_epoch(members_done)`` is
    called after every epoch of every chunk with the number of members that epoch covered. ``engine``: ``"kernel"``
    (compiled, CPU, any depth, one member at a time per core), ``"lanes"`` (compiled, CPU, any depth, 16 float32 or 8
    float64 members across the SIMD lanes of a core), ``"triton"`` (compiled, CUDA, any depth), ``"torch"``
    (batched tensors, any device and depth) or ``"auto"`` (:func:`choose_engine`). ``divergence_factor`` is the
    divergence rule's (:mod:`inertia.outcome`). ``until = ("accuracy", 0.9)`` (or ``("loss", 0.2)``) stops each member
    after the first epoch at which its full-data metric reaches the value: its history ends with that epoch (the one
    :func:`inertia.outcome.epochs_to` finds), its weights are those of that epoch, and members that never reach it
    train all ``epochs``; the work of the others is saved. ``on_metrics(first, epoch, loss, accuracy)`` streams
    results as they come: after each epoch of the chunk of members ``first, first + 1, ...``, their full-data loss and
    accuracy (NaN once diverged or stopped); raising from it abandons the training. With ``held_out`` (e.g.
    ``dataset.test``) each history also holds that split's loss and accuracy after every epoch (``test_loss``,
    ``test_accuracy``), which ``until`` may name. ``matmul_precision="tf32"`` (float32 on the triton engine only) runs
    the GPU's dense products (:mod:`~inertia.population.gpu_tiles`) on its tensor cores, with 10-bit mantissas
    instead of float32's 23: 1.2–1.6× faster on an H200, and no longer held to ``fit``'s float32 tolerances (narrow
    one-hidden-layer networks, trained in registers without such products, are unchanged); the default,
    ``"ieee"``, multiplies in float32 as torch does."""
    epochs = check_positive_int("epochs", epochs)
    targets = tuple(t for t in outcome.TARGETS if held_out is not None or not t.startswith("test_"))
    if until is not None and (len(until) != 2 or until[0] not in targets or not np.isfinite(until[1])):
        raise ValueError(f"until must be (metric, value) with metric one of {targets}, got {until!r}")
    setup = prepare(dataset, layers, members, batch_size=batch_size, shuffle=shuffle, activation=activation,
                    form=form, nesterov=nesterov, maximize=maximize, device=device, dtype=dtype,
                    memory_budget=memory_budget, engine=engine, divergence_factor=divergence_factor,
                    held_out=held_out, matmul_precision=matmul_precision)
    members, layers = setup.members, setup.task.layers
    members.check_length(epochs * -(-len(dataset) // setup.task.batch_size))
    chunk, eval_chunk = setup.chunk_sizes(len(members))
    parts, blocks = [], []
    kept = {e: [] for e in sorted(set(snapshots)) if 1 <= e <= epochs}
    for start in range(0, len(members), chunk):
        trainer = setup.trainer(members.rows(start, start + chunk), eval_chunk)
        report = None if on_metrics is None else (lambda e, loss, acc, first=start: on_metrics(first, e, loss, acc))
        taken = dict.fromkeys(kept)
        *part, weights = trainer.run(epochs, on_epoch, taken, until, report)
        parts.append(part)
        blocks.append((start, weights))
        for epoch, stacked in taken.items():
            kept[epoch].append((start, stacked))
    join = (lambda arrays: arrays[0]) if len(parts) == 1 else np.concatenate
    metrics = {name: join([part[0][name] for part in parts]) for name in parts[0][0]}
    ends, diverged_at, initial = (join([part[i] for part in parts]) for i in (1, 2, 3))
    return PopulationResult(members, metrics, ends, diverged_at, initial, layers, activation, blocks, kept)


