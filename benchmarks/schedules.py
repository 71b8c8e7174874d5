"""What a schedule costs: a population trained under one-cycle, Sutskever's momentum ramp or Demon against the
same population at a constant learning rate and momentum, in the same process, per model-epoch.

Two controls separate the schedule's machinery from its trajectory: ``constant_as_schedule`` is the constant
population with its rate given as a schedule of constant value (the same weights at every step, checked; only the
per-update table differs), and ``constant_lr_0.1`` a constant population at another rate (no schedule; a
different trajectory, whose epochs cost differently because the kernel's time per epoch changes as training goes:
it rises as the network grows confident, schedule or not).

The lab's task (spiral 3 × 500, ``[2, 50, 3]`` ReLU, batch 20), P members (default 1,000), float32, the default
CPU engine (``--engine`` to pick one). Constant hyperparameters let an engine use two rows of update
coefficients for the whole run; a schedule makes a row per update for every member, on the host, each epoch
(75 × P here), which is the cost measured. The kinds run in turn, ``--repeat`` rounds (default 5), and each
kind's median time is reported with its ratio to the constant one's.

    python benchmarks/schedules.py [--json] [--size 1000] [--epochs 10] [--repeat 5] [--engine auto]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from inertia import data
from inertia.optim import schedules
from inertia.population import Members, choose_engine, train_population


def populations(size: int, updates: int) -> dict:
    seeds, momenta = np.arange(size), np.resize([0.5, 0.9, 0.95], size)
    return {
        "constant": Members.table(seed=seeds, lr=0.05, momentum=momenta),
        # the constant members again, their rate given as a schedule whose every value is that rate: the same
        # trajectory bit for bit, so the difference is the schedule's machinery alone (a table per update)
        "constant_as_schedule": Members.table(seed=seeds, lr=0.05, momentum=momenta,
                                              schedule=schedules.Cosine(0.05, total=updates, floor=0.05)),
        # constant members at another rate: no schedule, another trajectory, for the spread a trajectory alone makes
        "constant_lr_0.1": Members.table(seed=seeds, lr=0.1, momentum=momenta),
        "onecycle": Members.table(seed=seeds, lr=0.05, momentum=momenta,
                                  schedule=schedules.OneCycle(0.1, updates)),
        "sutskever": Members.table(seed=seeds, lr=0.05, momentum_schedule=schedules.Sutskever(0.95, every=250)),
        "demon": Members.table(seed=seeds, lr=0.05, momentum_schedule=schedules.Demon(0.9, updates)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--engine", default="auto")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks.* importable when run as a script
    from benchmarks.common import cpu_model

    spiral = data.spiral(classes=3, points=500, seed=0)
    updates = args.epochs * -(-len(spiral) // 20)
    kinds = populations(args.size, updates)
    times = {name: [] for name in kinds}
    engine = choose_engine(args.engine, [2, 50, 3], torch.device("cpu"), args.size, torch.float32)
    for members in kinds.values():  # compile and warm up outside the timing
        train_population(spiral, [2, 50, 3], members.rows(0, min(64, args.size)), epochs=1, dtype=torch.float32,
                         engine=args.engine)
    losses = {}
    for _ in range(args.repeat):
        for name, members in kinds.items():
            started = time.perf_counter()
            result = train_population(spiral, [2, 50, 3], members, epochs=args.epochs, dtype=torch.float32,
                                      engine=engine)
            times[name].append(time.perf_counter() - started)
            losses[name] = np.array([h.loss for h in result.histories])
    if not np.array_equal(losses["constant"], losses["constant_as_schedule"]):
        raise SystemExit("the constant-valued schedule trained other weights than the constant rule")
    base = float(np.median(times["constant"]))
    out = {"machine": {"python": platform.python_version(), "torch": torch.__version__,
                       "cpus": torch.get_num_threads(), "cpu": cpu_model()},
           "size": args.size, "epochs": args.epochs, "engine": engine, "repeat": args.repeat, "kinds": {}}
    for name, seconds in times.items():
        median = float(np.median(seconds))
        out["kinds"][name] = {"seconds": seconds, "median_s": median, "ratio_to_constant": median / base,
                              "model_epochs_per_s": args.size * args.epochs / median}
    stream = sys.stderr if args.json else sys.stdout
    for name, row in out["kinds"].items():
        print(f"{name:>20}: {row['model_epochs_per_s']:>9,.0f} model-epochs/s (median of {args.repeat}), "
              f"{row['ratio_to_constant']:.2f}x the constant one's time", file=stream)
    if args.json:
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
