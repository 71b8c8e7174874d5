"""Population training against the ways people train many small models today, on the seed lab's task.

Task: spiral 3 x 500 (1500 points), [2, 50, 3] ReLU, cross-entropy, SGD lr 0.1, batch 20. A model-epoch is
75 SGD updates plus a full-data evaluation (loss and accuracy on all 1500 points).

Sections (each baseline runs beside inertia in the same process; ratios are what to compare):
  notebook   the seed notebook's protocol written plainly (a DataLoader, one model at a time, 5 momenta,
             100 epochs) against inertia.compare for the same five momenta (one seed, population engine)
  vmap       torch.func's ensembling recipe (stack_module_state + vmap + grad, one lr and momentum for all)
             against inertia's population at P models, same epochs
  scaling    inertia's throughput (model-epochs/s) and peak resident memory at each P, each P in a fresh
             process; end to end (initial weights included) and once running (per epoch after the first), and
             the host work per member: the end-to-end time less the epochs at the once-running pace
  optimizers momentum, plain SGD, QHM, Adam, AdamW and RMSprop populations of P members in one process,
             in turns (each timed --repeats times, the median kept): time per model-epoch and its ratio to
             momentum's

    python benchmarks/population.py [--json] [--sections notebook,vmap,scaling,optimizers]
                                    [--sizes 10,100,1000,10000] [--vmap-size 1000] [--repeats 3]
                                    [--device cpu|cuda] [--engine auto|kernel|torch]
                                    [--optimizer momentum|sgd|qhm|adam|adamw|rmsprop] [--optimizer-size 1000]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from inertia import data
from inertia.population import Members, train_population

MOMENTA = (0.0, 0.1, 0.2, 0.4, 0.5)
OPTIMIZERS = ("momentum", "sgd", "qhm", "adam", "adamw", "rmsprop")


def members_of(optimizer: str, size: int) -> Members:
    """``size`` members of one optimizer kind, at settings that train the spiral, seeds 0..size-1 (as columns)."""
    seeds = np.arange(size)
    if optimizer in ("sgd", "momentum"):
        momenta = np.resize((0.0,) if optimizer == "sgd" else MOMENTA, size)
        return Members.table(seed=seeds, lr=0.1, momentum=momenta)
    settings = {"qhm": {"lr": 0.2, "beta": 0.9, "nu": 0.7}, "adam": {"lr": 0.01}, "adamw": {"lr": 0.01},
                "rmsprop": {"lr": 0.003, "momentum": 0.5 * (seeds % 2)}}[optimizer]
    return Members.table(seed=seeds, optimizer=optimizer, **settings)


def notebook_protocol(epochs: int) -> float:
    """The seed notebook's loop: a DataLoader, one model after another, last-minibatch loss and full-data
    accuracy recorded per epoch (plotting left out). Returns seconds."""
    dataset = data.spiral(seed=1)
    x, y = dataset.tensors()
    started = time.perf_counter()
    for momentum in MOMENTA:
        model = nn.Sequential(nn.Linear(2, 50), nn.ReLU(), nn.Linear(50, 3))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=momentum)
        loader = DataLoader(TensorDataset(x, y), batch_size=20)
        criterion = nn.CrossEntropyLoss()
        losses, accuracies = [], []
        for _ in range(epochs):
            for bx, by in loader:
                optimizer.zero_grad()
                loss = criterion(model(bx), by)
                loss.backward()
                optimizer.step()
            losses.append(loss.item())
            accuracies.append((model(x).argmax(1) == y).numpy().mean())
    return time.perf_counter() - started


def inertia_compare(epochs: int, device: str) -> float:
    import inertia

    started = time.perf_counter()
    inertia.compare(momenta=MOMENTA, seeds=1, epochs=epochs, data_seed=1, device=device)
    return time.perf_counter() - started


def vmap_ensemble(size: int, epochs: int, device: str) -> float:
    """torch.func's model-ensembling recipe trained with one torch.optim.SGD over the stacked parameters."""
    from torch.func import functional_call, grad, stack_module_state, vmap

    dataset = data.spiral(seed=0)
    x, y = dataset.tensors(device)
    models = [nn.Sequential(nn.Linear(2, 50), nn.ReLU(), nn.Linear(50, 3)).to(device) for _ in range(size)]
    params, buffers = stack_module_state(models)
    base = models[0].to("meta")

    def loss_fn(p, b, bx, by):
        return nn.functional.cross_entropy(functional_call(base, (p, b), (bx,)), by)

    per_model_grad = vmap(grad(loss_fn), in_dims=(0, 0, 0, 0))
    evaluate = vmap(lambda p, b: functional_call(base, (p, b), (x,)), in_dims=(0, 0))
    optimizer = torch.optim.SGD(params.values(), lr=0.1, momentum=0.5)
    generator = torch.Generator().manual_seed(0)
    started = time.perf_counter()
    for _ in range(epochs):
        order = torch.stack([torch.randperm(len(y), generator=generator) for _ in range(size)]).to(device)
        for lo in range(0, len(y), 20):
            index = order[:, lo : lo + 20]
            grads = per_model_grad(params, buffers, x[index], y[index])
            for name, value in params.items():
                value.grad = grads[name]
            optimizer.step()
        with torch.no_grad():
            logits = evaluate(params, buffers)
            nn.functional.cross_entropy(logits.transpose(1, 2), y.expand(size, -1))
            (logits.argmax(-1) == y).float().mean(1)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def inertia_population(size: int, epochs: int, device: str, engine: str, *, steady: bool = False,
                       optimizer: str = "momentum"):
    """Seconds for ``train_population`` on ``size`` members, end to end (initial weights, every epoch, results
    back on the host). With ``steady``, also the seconds per epoch once running: from the end of the first
    epoch to the end of the last, as ``on_epoch`` sees them (each epoch's results are on the host by then)."""
    dataset = data.spiral(seed=0)
    members = members_of(optimizer, size)
    warm = members[: min(size, 4)]  # compile (or load) the kernel before timing
    train_population(dataset, [2, 50, 3], warm, epochs=1, device=device, engine=engine)
    marks = []
    started = time.perf_counter()
    train_population(dataset, [2, 50, 3], members, epochs=epochs, device=device, engine=engine,
                     on_epoch=lambda _: marks.append(time.perf_counter()))
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    if not steady:
        return seconds
    per_epoch = (marks[-1] - marks[0]) / (len(marks) - 1) if len(marks) > 1 else float("nan")
    return seconds, per_epoch


def scaling_point(size: int, epochs: int, device: str, engine: str, repeats: int = 1,
                  optimizer: str = "momentum") -> dict:
    """One P in a fresh process, so its peak resident memory (VmHWM, which exec resets) is its own; with
    ``repeats``, that many processes, reporting the median times and the largest peaks; and the host work per
    member (everything outside the epochs)."""
    from benchmarks.common import host_us_per_member

    if repeats > 1:
        points = [scaling_point(size, epochs, device, engine, optimizer=optimizer) for _ in range(repeats)]
        middle = sorted(points, key=lambda p: p["seconds"])[repeats // 2]
        point = dict(middle, repeats=repeats, epoch_seconds=statistics.median(p["epoch_seconds"] for p in points))
        point["steady_model_epochs_per_s"] = size / point["epoch_seconds"]
        point["host_us_per_member"] = host_us_per_member(point["seconds"], point["epoch_seconds"], epochs, size)
        for key in ("peak_rss_mib", "peak_gpu_mib"):
            point[key] = None if middle[key] is None else max(p[key] for p in points)
        return point
    code = (
        "import json, sys; sys.argv = ['x'];"
        "from benchmarks.population import inertia_population;"
        f"s, e = inertia_population({size}, {epochs}, {device!r}, {engine!r}, steady=True, "
        f"optimizer={optimizer!r});"
        "rss = int(dict(l.split(':') for l in open('/proc/self/status'))['VmHWM'].split()[0]) / 1024;"
        "import torch;"
        "gpu = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None;"
        "print(json.dumps({'seconds': s, 'epoch_seconds': e, 'peak_rss_mib': rss, 'peak_gpu_mib': gpu}))"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    point = json.loads(out.stdout.strip().splitlines()[-1])
    point.update(size=size, epochs=epochs, model_epochs_per_s=size * epochs / point["seconds"],
                 steady_model_epochs_per_s=size / point["epoch_seconds"],
                 host_us_per_member=host_us_per_member(point["seconds"], point["epoch_seconds"], epochs, size))
    return point


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sections", default="notebook,vmap,scaling")
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--vmap-size", type=int, default=1000)
    parser.add_argument("--vmap-epochs", type=int, default=2)
    parser.add_argument("--notebook-epochs", type=int, default=100)
    parser.add_argument("--scaling-work", type=int, default=20_000,
                        help="model-epochs per scaling point (20 epochs at most, 3 at least)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="fresh processes per scaling point; the median is reported")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--engine", default="auto")
    parser.add_argument("--optimizer", default="momentum", choices=OPTIMIZERS,
                        help="the members' optimizer in the vmap and scaling sections")
    parser.add_argument("--optimizer-size", type=int, default=1000, help="P of the optimizers section")
    parser.add_argument("--optimizer-epochs", type=int, default=20, help="epochs of the optimizers section")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks.* importable as a script
    from benchmarks.common import cpu_model

    results = {"machine": {"cpu": cpu_model(), "python": platform.python_version(), "torch": torch.__version__,
                           "cpus": torch.get_num_threads(), "device": args.device,
                           "gpu": torch.cuda.get_device_name() if args.device == "cuda" else None}}

    if "notebook" in sections:
        inertia_compare(2, args.device)  # imports, compilation and data generation outside the timing
        notebook = notebook_protocol(args.notebook_epochs)
        ours = inertia_compare(args.notebook_epochs, args.device)
        results["notebook"] = {"epochs": args.notebook_epochs, "notebook_protocol_s": notebook,
                               "inertia_compare_s": ours, "speedup": notebook / ours}
        report(args, f"notebook protocol {notebook:.2f} s vs inertia compare {ours:.3f} s: {notebook / ours:.0f}x")

    if "vmap" in sections:
        size, epochs = args.vmap_size, args.vmap_epochs
        vmap_s = vmap_ensemble(size, epochs, args.device)
        ours = inertia_population(size, epochs, args.device, args.engine, optimizer=args.optimizer)
        results["vmap"] = {"size": size, "epochs": epochs,
                           "vmap_model_epochs_per_s": size * epochs / vmap_s,
                           "inertia_model_epochs_per_s": size * epochs / ours, "speedup": vmap_s / ours}
        report(args, f"P={size}: torch.func vmap {size * epochs / vmap_s:,.0f} model-epochs/s, inertia "
                     f"{size * epochs / ours:,.0f} model-epochs/s: {vmap_s / ours:.1f}x")

    if "scaling" in sections:
        results["scaling"] = []
        for size in (int(s) for s in args.sizes.split(",")):
            epochs = max(3, min(20, args.scaling_work // size))
            point = scaling_point(size, epochs, args.device, args.engine, args.repeats, args.optimizer)
            results["scaling"].append(point)
            gpu = f", GPU peak {point['peak_gpu_mib']:.0f} MiB" if point["peak_gpu_mib"] else ""
            report(args, f"P={size:>7,}: {point['model_epochs_per_s']:>10,.0f} model-epochs/s end to end, "
                         f"{point['steady_model_epochs_per_s']:>10,.0f} per s once running, "
                         f"host work {point['host_us_per_member']:.1f} µs per member, "
                         f"peak RSS {point['peak_rss_mib']:.0f} MiB{gpu}")
    if "optimizers" in sections:
        size, epochs = args.optimizer_size, args.optimizer_epochs
        times = {name: [] for name in OPTIMIZERS}
        for _ in range(args.repeats):  # in turns, so drift in the machine's speed hits every optimizer alike
            for name in OPTIMIZERS:
                times[name].append(inertia_population(size, epochs, args.device, args.engine, steady=True,
                                                      optimizer=name))
        base = [statistics.median(t[k] for t in times["momentum"]) for k in (0, 1)]
        results["optimizers"] = {"size": size, "epochs": epochs, "engine": args.engine, "rows": []}
        for name in OPTIMIZERS:
            seconds, epoch = (statistics.median(t[k] for t in times[name]) for k in (0, 1))
            row = {"optimizer": name, "seconds": seconds, "model_epochs_per_s": size * epochs / seconds,
                   "us_per_model_epoch": 1e6 * seconds / (size * epochs), "ratio_to_momentum": seconds / base[0],
                   "steady_model_epochs_per_s": size / epoch, "steady_ratio_to_momentum": epoch / base[1]}
            results["optimizers"]["rows"].append(row)
            report(args, f"{name:>9}: {row['model_epochs_per_s']:>11,.0f} model-epochs/s end to end "
                         f"({row['ratio_to_momentum']:.2f}x momentum's time), "
                         f"{row['steady_model_epochs_per_s']:>11,.0f} once running "
                         f"({row['steady_ratio_to_momentum']:.2f}x)")
    if args.json:
        print(json.dumps(results, indent=2))


def report(args, line: str) -> None:
    print(line, file=sys.stderr if args.json else sys.stdout, flush=True)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
