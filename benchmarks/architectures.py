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
all of them. Peak: CPU, the best of a 4096² fp32 ``torch.mm`` on every thread, measured before the points and
after each; CUDA, the device's fp32 FMA rate (SMs × 128 lanes × 2 × the highest SM clock).

Each point runs in a fresh process (its peak resident memory, VmHWM, is its own). *End to end* is the whole
``train_population`` call (initial weights, every epoch, results on the host), with the kernel already
compiled (start-up is benchmarks/startup.py's); *once running* is per epoch after the first; *host work* per
member is the end-to-end time less the epochs at the once-running pace, over the members. Each inertia point
runs ``--repeat`` times (default 5), each in its own process, round by round over the points (a slow spell of
the machine then falls on several points rather than on every run of one); the run with the median end-to-end
time is reported, and beside it the fastest (``fastest``: the shortest end to end, the shortest epoch once
running), every run's time recorded (``runs_seconds``). On a shared machine one run can be half again as long
as another, and other work only ever slows a run: the fastest is the figure to hold against the peak, which is
a best of several too. JAX runs once per point, in the first round; its end to end includes its compilation,
which it repeats in every process, also given on its own.

    python benchmarks/architectures.py [--json] [--sizes 1000] [--epochs 3] [--device cpu|cuda]
                                       [--architectures lab,lab2,digits,mnist1d] [--no-jax]
                                       [--engine auto|kernel|lanes|torch|triton] [--repeat 5]
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
    parser.add_argument("--repeat", type=int, default=5, help="runs of each inertia point; the median run and the "
                        "fastest are reported")
    parser.add_argument("--gpu-launch", default="", help="the tiled GPU kernel's launch settings instead of its "
                        "defaults, as JSON (keywords of inertia.population.gpu_tiles.train_epoch)")
    args = parser.parse_args()
    launch = json.loads(args.gpu_launch) if args.gpu_launch else None
    from benchmarks.common import cpu_model, cpu_peak, dataset_for, gpu_peak
    from benchmarks.jax_baseline import available

    jax = not args.no_jax and available()
    if not args.no_jax and not jax:
        print("JAX is not installed: the baseline is skipped (pip install jax)", file=sys.stderr)
    peaks = [cpu_peak() if args.device == "cpu" else gpu_peak()]
    results = {"gpu_launch": launch, "machine": {"python": platform.python_version(), "torch": torch.__version__,
                           "cpus": torch.get_num_threads(), "device": args.device, "cpu": cpu_model(),
                           "gpu": torch.cuda.get_device_name() if args.device == "cuda" else None},
               "points": []}
    points = []
    for name in args.architectures.split(","):
        layers = ARCHITECTURES[name]
        n = len(dataset_for(layers))
        for size in (int(s) for s in args.sizes.split(",")):
            points.append({"architecture": name, "layers": layers, "samples": n, "size": size,
                           "epochs": args.epochs, "mflop_per_model_epoch": flops_per_model_epoch(layers, n) / 1e6})
    runs = [[] for _ in points]
    for repeat in range(max(args.repeat, 1)):  # round by round, so that a slow spell of the machine is shared
        for point, its_runs in zip(points, runs, strict=True):
            its_runs.append(in_fresh_process("inertia", point["layers"], point["size"], args.epochs, args.device,
                                             args.engine, launch))
            if repeat == 0 and jax:
                point["jax"] = in_fresh_process("jax", point["layers"], point["size"], args.epochs, args.device)
        if args.device == "cpu":
            peaks.append(cpu_peak())
    for point, its_runs in zip(points, runs, strict=True):
        summarize(point, its_runs, args.epochs)
        results["points"].append(point)
        report(args, point)
    peak = max(peaks)
    results["peak_gflops"] = peak
    for point in results["points"]:
        for figures in (point["inertia"], point["inertia"]["fastest"]):
            figures["fraction_of_peak"] = figures["gflops"] / peak
            figures["steady_fraction_of_peak"] = figures["steady_gflops"] / peak
    print(f"peak {peak:,.0f} GFLOP/s ({'4096² fp32 torch.mm' if args.device == 'cpu' else 'fp32 FMA'}); "
          "inertia's fraction of it, end to end / once running, the median run and the fastest:",
          file=sys.stderr if args.json else sys.stdout)
    for point in results["points"]:
        i, f = point["inertia"], point["inertia"]["fastest"]
        print(f"  {point['architecture']:>8} P={point['size']:,}: {i['fraction_of_peak']:.1%} / "
              f"{i['steady_fraction_of_peak']:.1%}; fastest {f['fraction_of_peak']:.1%} / "
              f"{f['steady_fraction_of_peak']:.1%}", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(results, indent=2))


def summarize(point: dict, runs: list[dict], epochs: int) -> None:
    """The point's median run and its fastest figures, with every run's time, and the JAX ratios."""
    flops, size = point["mflop_per_model_epoch"] * 1e6, point["size"]
    by_time = sorted(runs, key=lambda run: run["seconds"])
    ours = dict(by_time[len(runs) // 2], runs_seconds=[run["seconds"] for run in runs])
    point["inertia"] = dict(ours, **rates(ours, flops, size, epochs))
    fastest = dict(by_time[0], epoch_seconds=min(run["epoch_seconds"] for run in runs))
    point["inertia"]["fastest"] = dict(fastest, **rates(fastest, flops, size, epochs))
    if "jax" in point:
        theirs = point["jax"]
        theirs.update(model_epochs_per_s=size * epochs / theirs["seconds"],
                      steady_model_epochs_per_s=size / theirs["epoch_seconds"])
        point["speedup_end_to_end"] = theirs["seconds"] / ours["seconds"]
        point["speedup_once_running"] = theirs["epoch_seconds"] / ours["epoch_seconds"]


def rates(run: dict, flops: float, size: int, epochs: int) -> dict:
    """A run's throughput, end to end and once running, in model-epochs/s and GFLOP/s, and its host work."""
    from benchmarks.common import host_us_per_member

    return {"model_epochs_per_s": size * epochs / run["seconds"],
            "host_us_per_member": host_us_per_member(run["seconds"], run["epoch_seconds"], epochs, size),
            "steady_model_epochs_per_s": size / run["epoch_seconds"],
            "gflops": flops * size * epochs / run["seconds"] / 1e9,
            "steady_gflops": flops * size / run["epoch_seconds"] / 1e9}


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
