"""What several benchmarks share: the data set each architecture trains on, and the machine they run on (its CPU
model, and the peak an efficiency figure is measured against, in the same run)."""

from __future__ import annotations

import platform
import subprocess
import time

import torch

from inertia import data


def dataset_for(layers):
    if layers[0] == 2:
        return data.spiral(seed=0)
    if layers[0] == 64:
        return data.digits()
    return data.blobs(classes=layers[-1], points=4000 // layers[-1], features=layers[0], std=6.0, seed=0)


def cpu_peak(repeats: int = 3) -> float:
    """GFLOP/s of the best of ``repeats`` 4096² fp32 matrix products on every thread."""
    a, b = torch.randn(4096, 4096), torch.randn(4096, 4096)
    torch.mm(a, b)
    best = min(timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * 4096**3 / best / 1e9


def gpu_peak() -> float:
    """The device's fp32 FMA peak in GFLOP/s: SMs × 128 fp32 lanes × 2 FLOPs × the highest SM clock."""
    properties = torch.cuda.get_device_properties(0)
    clock = subprocess.run(["nvidia-smi", "--query-gpu=clocks.max.sm", "--format=csv,noheader,nounits"],
                           capture_output=True, text=True, check=True).stdout.split()[0]
    return properties.multi_processor_count * 128 * 2 * float(clock) * 1e6 / 1e9


def host_us_per_member(seconds: float, epoch_seconds: float, epochs: int, size: int) -> float:
    """Microseconds per member outside the epochs (checks, rules, initial weights, histories, results): the end to
    end time less ``epochs`` epochs at the once-running pace, over the members."""
    return max(seconds - epochs * epoch_seconds, 0.0) / size * 1e6


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def best_of(repeats: int, fn) -> float:
    """The shortest of ``repeats`` timed calls of ``fn``: on a shared machine, the one least disturbed."""
    return min(timed(fn) for _ in range(repeats))


def cpu_model() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor()
