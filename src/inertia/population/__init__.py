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

import atexit
import gc
import os
from collections.abc import Callable, Sequence

import numpy as np
import torch

from inertia import outcome
from inertia.arguments import check_bool, check_layers, check_positive_int, layers_for
from inertia.data import Dataset
from inertia.models import resolve_device
from inertia.population.columns import Member, Members
from inertia.population.evaluate import initial_losses
from inertia.population.layout import ACTIVATIONS, Task, flat_weights, lanes_per_vector, unflatten_weights
from inertia.population.memory import chunk_sizes, member_bytes
from inertia.population.result import PopulationResult

DTYPES = (torch.float32, torch.float64)

__all__ = [
    "ACTIVATIONS",
    "ENGINES",
    "Member",
    "Members",
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
    layers = check_layers(layers)
    epochs, batch_size = check_positive_int("epochs", epochs), check_positive_int("batch_size", batch_size)
    shuffle, nesterov, maximize = (check_bool(n, v) for n, v in
                                   (("shuffle", shuffle), ("nesterov", nesterov), ("maximize", maximize)))
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be torch.float32 or torch.float64 (what every engine trains in), got {dtype!r}")
    if matmul_precision not in ("ieee", "tf32"):
        raise ValueError(f"matmul_precision must be 'ieee' or 'tf32', got {matmul_precision!r}")
    if memory_budget is not None:
        memory_budget = check_positive_int("memory_budget", memory_budget)
    divergence_factor = outcome.check_factor(divergence_factor)
    targets = tuple(t for t in outcome.TARGETS if held_out is not None or not t.startswith("test_"))
    if until is not None and (len(until) != 2 or until[0] not in targets or not np.isfinite(until[1])):
        raise ValueError(f"until must be (metric, value) with metric one of {targets}, got {until!r}")
    if not isinstance(members, Members):
        members = Members.of(members, form, nesterov, maximize)
    members.check(form, nesterov, maximize)
    members.check_length(epochs * -(-len(dataset) // batch_size))
    if activation not in ACTIVATIONS:
        raise ValueError(f"the population engine supports activations {ACTIVATIONS}, not {activation!r}; "
                         "use the loop engine for others")
    layers_for(dataset, layers)
    _settle_collector()
    device = resolve_device(device)
    engine = choose_engine(engine, layers, device, len(members), dtype)
    if matmul_precision == "tf32" and (engine != "triton" or dtype != torch.float32):
        raise ValueError(f"matmul_precision='tf32' applies to float32 on the triton engine (CUDA), not {engine} in "
                         f"{str(dtype).removeprefix('torch.')}")
    n = len(dataset)
    chunk, eval_chunk = chunk_sizes(layers, n, batch_size, len(members), device, dtype, memory_budget, engine)
    x, y = dataset.tensors(device, dtype)
    parts, blocks = [], []
    kept = {e: [] for e in sorted(set(snapshots)) if 1 <= e <= epochs}
    if held_out is not None and (held_out.features != dataset.features or held_out.classes != dataset.classes):
        raise ValueError(f"held_out has {held_out.features} features and {held_out.classes} classes; the data set "
                         f"{dataset.features} and {dataset.classes}")
    task = Task(layers, activation, x, y, batch_size, shuffle, form, nesterov, maximize, divergence_factor,
                None if held_out is None else held_out.tensors(device, dtype))
    for start in range(0, len(members), chunk):
        trainer = _chunk(engine, members.rows(start, start + chunk), task, device, dtype, eval_chunk,
                         matmul_precision)
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


def _chunk(engine: str, part, task: Task, device: torch.device, dtype: torch.dtype, eval_chunk: int,
           matmul_precision: str = "ieee"):
    """The trainer of one chunk of members on ``engine``."""
    if engine in ("kernel", "lanes"):
        from inertia.population.kernel_engine import KernelChunk

        return KernelChunk(part, task, dtype=dtype, lanes=engine == "lanes")
    if engine == "triton":
        from inertia.population.triton_engine import TritonChunk

        return TritonChunk(part, task, device=device, dtype=dtype, matmul_precision=matmul_precision)
    from inertia.population.torch_engine import TorchChunk

    return TorchChunk(part, task, device=device, dtype=dtype, eval_chunk=eval_chunk)


_settled = False


def _settle_collector() -> None:
    """Once per process, move the objects alive now (torch's, numba's, the modules') out of the reach of
    Python's cyclic garbage collector (``gc.freeze``). A full collection traverses every tracked object, about
    0.1 s with torch and numba loaded, and a population's thousands of small objects (members, rules,
    histories) set one off at nearly every call: at the lab's size that pause was as long as the training."""
    global _settled
    if not _settled:
        gc.collect()
        gc.freeze()
        atexit.register(gc.unfreeze)  # so that what is freed at exit still is (extension modules check)
        _settled = True


ENGINES = ("auto", "kernel", "lanes", "triton", "torch")


def choose_engine(engine: str, layers: Sequence[int], device: torch.device, members: int = 1,
                  dtype: torch.dtype = torch.float32) -> str:
    """``auto``: the compiled kernel of the device where it applies — on the CPU (any depth) ``lanes`` once
    there are enough ``members`` for a full group of lanes on every core (:func:`lanes_pay_off`), ``kernel``
    below that; ``triton`` on CUDA (any depth) when Triton is installed — batched torch otherwise. Every engine
    runs every optimizer."""
    if engine not in ENGINES:
        raise ValueError(f"unknown population engine {engine!r}; choose one of {ENGINES}")
    if engine in ("kernel", "lanes") and device.type != "cpu":
        raise ValueError(f"the {engine} engine runs on the CPU, not {device.type!r}; use engine='triton' or "
                         "'torch'")
    if engine == "triton" and not triton_runs_on(device):
        raise ValueError("the triton engine runs on a CUDA device (with Triton installed); use engine='torch'")
    if engine == "auto":
        if device.type == "cpu":
            return "lanes" if lanes_pay_off(members, dtype) else "kernel"
        return "triton" if triton_runs_on(device) else "torch"
    return engine


def lanes_pay_off(members: int, dtype: torch.dtype) -> bool:
    """Whether members across the SIMD lanes beat one member at a time: measured so once every core has a full
    group (16 float32 or 8 float64 members); below that the lanes engine leaves lanes or cores idle
    (``benchmarks/architectures.py --engine kernel|lanes --sizes 8,16,32,64``)."""
    import numba

    return members >= lanes_per_vector(dtype) * numba.get_num_threads()


def triton_runs_on(device: torch.device) -> bool:
    """Whether the Triton kernels can run on ``device``: CUDA, or the CPU under ``TRITON_INTERPRET=1``."""
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return device.type == "cuda" or (device.type == "cpu" and os.environ.get("TRITON_INTERPRET") == "1")


