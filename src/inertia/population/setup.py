"""What :func:`~inertia.population.train_population` and a :class:`~inertia.population.segments.Population`
share: the checks of their arguments (:func:`prepare`, one message per bad field, before any work), the choice of
engine (:func:`choose_engine`) and the trainer of a chunk of members on each engine (:meth:`Setup.trainer`)."""

from __future__ import annotations

import atexit
import gc
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from inertia import outcome
from inertia.arguments import check_bool, check_layers, check_positive_int, layers_for
from inertia.data import Dataset
from inertia.models import resolve_device
from inertia.population.columns import Member, Members
from inertia.population.layout import ACTIVATIONS, Task, lanes_per_vector
from inertia.population.memory import chunk_sizes

DTYPES = (torch.float32, torch.float64)


@dataclass(frozen=True)
class Setup:
    """A population's checked arguments: its members as columns, the :class:`~inertia.population.layout.Task`
    every chunk trains on, the engine and where it runs."""

    members: Members
    task: Task
    engine: str
    device: torch.device
    dtype: torch.dtype
    memory_budget: int | None
    matmul_precision: str

    def chunk_sizes(self, members: int) -> tuple[int, int]:
        """Members per training chunk and per evaluation pass (:func:`~inertia.population.memory.chunk_sizes`)."""
        task = self.task
        return chunk_sizes(task.layers, len(task.y), task.batch_size, members, self.device, self.dtype,
                           self.memory_budget, self.engine)

    def trainer(self, part: Members, eval_chunk: int, start=None):
        """The trainer of one chunk of members on the engine, from ``start`` (a
        :class:`~inertia.population.state.State`) or from their initial weights."""
        return _chunk(self.engine, part, self.task, self.device, self.dtype, eval_chunk, self.matmul_precision,
                      start)


def prepare(dataset: Dataset, layers: Sequence[int], members: Members | Sequence[Member], *, batch_size: int = 20,
            shuffle: bool = True, activation: str = "relu", form: str = "pytorch", nesterov: bool = False,
            maximize: bool = False, device: str | torch.device = "auto", dtype: torch.dtype = torch.float32,
            memory_budget: int | None = None, engine: str = "auto",
            divergence_factor: float = outcome.DIVERGENCE_FACTOR, held_out: Dataset | None = None,
            matmul_precision: str = "ieee") -> Setup:
    """Check a population's arguments (those of :func:`~inertia.population.train_population` but its epochs and
    callbacks) and settle the engine; a ValueError names the first bad one."""
    layers = check_layers(layers)
    batch_size = check_positive_int("batch_size", batch_size)
    shuffle, nesterov, maximize = (check_bool(n, v) for n, v in
                                   (("shuffle", shuffle), ("nesterov", nesterov), ("maximize", maximize)))
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be torch.float32 or torch.float64 (what every engine trains in), got {dtype!r}")
    if matmul_precision not in ("ieee", "tf32"):
        raise ValueError(f"matmul_precision must be 'ieee' or 'tf32', got {matmul_precision!r}")
    if memory_budget is not None:
        memory_budget = check_positive_int("memory_budget", memory_budget)
    divergence_factor = outcome.check_factor(divergence_factor)
    if not isinstance(members, Members):
        members = Members.of(members, form, nesterov, maximize)
    members.check(form, nesterov, maximize)
    if activation not in ACTIVATIONS:
        raise ValueError(f"the population engine supports activations {ACTIVATIONS}, not {activation!r}; "
                         "use the loop engine for others")
    layers_for(dataset, layers)
    if held_out is not None and (held_out.features != dataset.features or held_out.classes != dataset.classes):
        raise ValueError(f"held_out has {held_out.features} features and {held_out.classes} classes; the data set "
                         f"{dataset.features} and {dataset.classes}")
    _settle_collector()
    device = resolve_device(device)
    chosen = choose_engine(engine, layers, device, len(members), dtype)
    if chosen == "lanes" and not _lanes_index(dataset):
        if engine == "lanes":
            raise ValueError(f"the lanes engine indexes fewer than 2**31 values and sample positions; this data set "
                             f"has {len(dataset)} samples of {dataset.features} features: use engine='kernel'")
        chosen = "kernel"
    engine = chosen
    if matmul_precision == "tf32" and (engine != "triton" or dtype != torch.float32):
        raise ValueError(f"matmul_precision='tf32' applies to float32 on the triton engine (CUDA), not {engine} in "
                         f"{str(dtype).removeprefix('torch.')}")
    x, y = dataset.tensors(device, dtype)
    task = Task(layers, activation, x, y, batch_size, shuffle, form, nesterov, maximize, divergence_factor,
                None if held_out is None else held_out.tensors(device, dtype))
    return Setup(members, task, engine, device, dtype, memory_budget, matmul_precision)


def _chunk(engine: str, part, task: Task, device: torch.device, dtype: torch.dtype, eval_chunk: int,
           matmul_precision: str = "ieee", start=None):
    """The trainer of one chunk of members on ``engine``."""
    if engine in ("kernel", "lanes"):
        from inertia.population.kernel_engine import KernelChunk

        return KernelChunk(part, task, dtype=dtype, lanes=engine == "lanes", start=start)
    if engine == "triton":
        from inertia.population.triton_engine import TritonChunk

        return TritonChunk(part, task, device=device, dtype=dtype, matmul_precision=matmul_precision, start=start)
    from inertia.population.torch_engine import TorchChunk

    return TorchChunk(part, task, device=device, dtype=dtype, eval_chunk=eval_chunk, start=start)


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


def _lanes_index(dataset: Dataset) -> bool:
    from inertia.population.lane_orders import fits

    return fits(len(dataset), dataset.features)


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


