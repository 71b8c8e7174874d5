"""Population training per architecture: throughput, achieved GFLOP/s against the machine's peak measured in
the same run, peak memory, and the JAX baseline (:mod:`benchmarks.jax_baseline`) beside it.

Architectures (ReLU, batch 20, SGD with momentum, lr 0.05, momenta 0 / 0.5 / 0.9 in turn, seeds 0..P-1):
  [2, 50, 3]          the lab: spiral 3 x 500
  [2, 50, 50, 3]      the lab with a second hidden layer
  [64, 128, 10]       digits (1,797 x 64, shipped with scikit-learn)
  [40, 100, 100, 10]  MNIST-1D's shape: 4,000 x 40, 10 classes (Gaussian blobs of that shape)

FLOPs are counted analytically, multiply-adds of the dense layers only (2 per multiply-add): per training
sample 2·S forward, 2·S for the weight gradients and 2·(S − d·h₁) to carry gradients back (none into the
inputs), S = Σ in·out; per evaluated sample 2·S. A model-epoch trains on every sample once and evaluates on
all of them. Peak: CPU, the best of a 4096² fp32 ``torch.mm`` on every thread, measured before and after the
points; CUDA, the device's fp32 FMA rate (SMs × 128 lanes × 2 × the highest SM clock).

Each point runs in a fresh process (its peak resident memory, VmHWM, is its own). *End to end* is the whole
``train_population`` call (initial weights, every epoch, results on the host), with the kernel already
compiled (start-up is benchmarks/startup.py's); *once running* is per epoch after the first; *host work* per
member is the end-to-end time less the epochs at the once-running pace, over the members. Each inertia point
runs ``--repeat`` times (default 3), each in its own process, and the run with the median end-to-end time is
reported, every run's time recorded beside it (``runs_seconds``): on a shared machine one run can be a third off
another. JAX's end to end includes its compilation, which it repeats in every process, also given on its own.

    python benchmarks/architectures.py [--json] [--sizes 1000] [--epochs 3] [--device cpu|cuda]
                                       [--architectures lab,lab2,digits,mnist1d] [--no-jax]
                                       [--engine auto|kernel|lanes|torch|triton] [--repeat 3]
                                       [--gpu-launch '{"tiles": [32, 32, 32], "warps": 4}']

``--engine`` picks the population engine (default ``auto``, the one ``train_population`` chooses; each point
records which): ``--engine kernel`` and ``--engine lanes`` compare the CPU kernel's two layouts, one member at a
time per core against members across the SIMD lanes, and ``--sizes 8,16,32,64`` shows where the lanes start
to pay off.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from inertia.population import Members, train_population

ARCHITECTURES = {"lab": [2, 50, 3], "lab2": [2, 50, 50, 3], "digits": [64, 128, 10], "mnist1d": [40, 100, 100, 10]}


def flops_per_model_epoch(layers, n: int) -> float:
    s = sum(a * b for a, b in itertools.pairwise(layers))
    return n * (2 * s + 2 * s + 2 * (s - layers[0] * layers[1])) + n * 2 * s


def members(size: int) -> Members:
    return Members.table(seed=np.arange(size), lr=0.05, momentum=np.resize((0.0, 0.5, 0.9), size))


def inertia_point(layers, size: int, epochs: int, device: str, engine: str = "auto") -> dict:
    from benchmarks.common import dataset_for
    from inertia.population import choose_engine

    dataset = dataset_for(layers)
    chosen = choose_engine(engine, layers, torch.device(device), size, torch.float32)
    train_population(dataset, layers, members(2), epochs=1, device=device, engine=chosen)  # compiled or loaded
    marks = []
    started = time.perf_counter()
    train_population(dataset, layers, members(size), epochs=epochs, device=device, engine=chosen,
                     on_epoch=lambda _: marks.append(time.perf_counter()))
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "epoch_seconds": (marks[-1] - marks[0]) / (len(marks) - 1), "engine": chosen}


def jax_point(layers, size: int, epochs: int, device: str, engine: str = "") -> dict:
    import os

    from benchmarks.common import dataset_for
    from benchmarks.jax_baseline import run

    if device == "cpu":
        os.environ["JAX_PLATFORMS"] = "cpu"
    dataset = dataset_for(layers)
    return run(dataset.x, dataset.y, layers, size, epochs)


def in_fresh_process(kind: str, layers, size: int, epochs: int, device: str, engine: str = "auto",
                     launch: dict | None = None) -> dict:
    code = (
        "import json, sys; sys.argv = ['x'];"
        + (f"import functools; from inertia.population import gpu_tiles;"
           f"gpu_tiles.train_epoch = functools.partial(gpu_tiles.train_epoch, **{launch!r});" if launch else "")
        + f"from benchmarks.architectures import {kind}_point as point;"
        f"result = point({layers!r}, {size}, {epochs}, {device!r}, {engine!r});"
        "result['peak_rss_mib'] = int(dict(l.split(':') for l in open('/proc/self/status'))['VmHWM']"
        ".split()[0]) / 1024;"
        "import torch;"
        "result['peak_gpu_mib'] = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() "
        "else None;"
        "print(json.dumps(result))"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} {layers} P={size} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks.* importable when run as a script
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sizes", default="1000")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--architectures", default=",".join(ARCHITECTURES))
    parser.add_argument("--no-jax", action="store_true", help="leave the JAX baseline out")
    parser.add_argument("--engine", default="auto", help="the population engine (default: train_population's choice)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each inertia point; the median is reported")
    parser.add_argument("--gpu-launch", default="", help="the tiled GPU kernel's launch settings instead of its "
                        "defaults, as JSON (keywords of inertia.population.gpu_tiles.train_epoch)")
    args = parser.parse_args()
    launch = json.loads(args.gpu_launch) if args.gpu_launch else None
    from benchmarks.common import cpu_model, cpu_peak, dataset_for, gpu_peak, host_us_per_member
    from benchmarks.jax_baseline import available

    jax = not args.no_jax and available()
    if not args.no_jax and not jax:
        print("JAX is not installed: the baseline is skipped (pip install jax)", file=sys.stderr)
    peaks = [cpu_peak() if args.device == "cpu" else gpu_peak()]
    results = {"gpu_launch": launch, "machine": {"python": platform.python_version(), "torch": torch.__version__,
                           "cpus": torch.get_num_threads(), "device": args.device, "cpu": cpu_model(),
                           "gpu": torch.cuda.get_device_name() if args.device == "cuda" else None},
               "points": []}
    for name in args.architectures.split(","):
        layers = ARCHITECTURES[name]
        n = len(dataset_for(layers))
        flops = flops_per_model_epoch(layers, n)
        for size in (int(s) for s in args.sizes.split(",")):
            point = {"architecture": name, "layers": layers, "samples": n, "size": size, "epochs": args.epochs,
                     "mflop_per_model_epoch": flops / 1e6}
            runs = [in_fresh_process("inertia", layers, size, args.epochs, args.device, args.engine, launch)
                    for _ in range(max(args.repeat, 1))]
            ours = sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]
            ours["runs_seconds"] = [run["seconds"] for run in runs]
            point["inertia"] = dict(ours, model_epochs_per_s=size * args.epochs / ours["seconds"],
                                    host_us_per_member=host_us_per_member(ours["seconds"], ours["epoch_seconds"],
                                                                          args.epochs, size),
                                    steady_model_epochs_per_s=size / ours["epoch_seconds"],
                                    gflops=flops * size * args.epochs / ours["seconds"] / 1e9,
                                    steady_gflops=flops * size / ours["epoch_seconds"] / 1e9)
            if jax:
                theirs = in_fresh_process("jax", layers, size, args.epochs, args.device)
                point["jax"] = dict(theirs, model_epochs_per_s=size * args.epochs / theirs["seconds"],
                                    steady_model_epochs_per_s=size / theirs["epoch_seconds"])
                point["speedup_end_to_end"] = theirs["seconds"] / ours["seconds"]
                point["speedup_once_running"] = theirs["epoch_seconds"] / ours["epoch_seconds"]
            results["points"].append(point)
            report(args, point)
    if args.device == "cpu":
        peaks.append(cpu_peak())
    peak = max(peaks)
    results["peak_gflops"] = peak
    for point in results["points"]:
        point["inertia"]["fraction_of_peak"] = point["inertia"]["gflops"] / peak
        point["inertia"]["steady_fraction_of_peak"] = point["inertia"]["steady_gflops"] / peak
    print(f"peak {peak:,.0f} GFLOP/s ({'4096² fp32 torch.mm' if args.device == 'cpu' else 'fp32 FMA'}); "
          "inertia's fraction of it, end to end / once running:", file=sys.stderr if args.json else sys.stdout)
    for point in results["points"]:
        i = point["inertia"]
        print(f"  {point['architecture']:>8} P={point['size']:,}: {i['fraction_of_peak']:.1%} / "
              f"{i['steady_fraction_of_peak']:.1%}", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(results, indent=2))


def report(args, point) -> None:
    i = point["inertia"]
    line = (f"{point['architecture']:>8} {point['layers']!s:<20} P={point['size']:>7,}: inertia ({i['engine']}) "
            f"{i['model_epochs_per_s']:>9,.0f} model-epochs/s end to end, "
            f"{i['steady_model_epochs_per_s']:>9,.0f} once running ({i['gflops']:.1f} / "
            f"{i['steady_gflops']:.1f} GFLOP/s), host work {i['host_us_per_member']:.1f} µs per member, "
            f"peak RSS {i['peak_rss_mib']:.0f} MiB")
    if "jax" in point:
        j = point["jax"]
        line += (f"; JAX {j['model_epochs_per_s']:,.0f} end to end (compile {j['compile_s']:.1f} s), "
                 f"{j['steady_model_epochs_per_s']:,.0f} once running: inertia {point['speedup_end_to_end']:.1f}x "
                 f"/ {point['speedup_once_running']:.1f}x")
    print(line, file=sys.stderr if args.json else sys.stdout, flush=True)


if __name__ == "__main__":
    main()
