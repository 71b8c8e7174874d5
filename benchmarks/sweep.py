"""A 1,000-configuration sweep on the seed lab's task, end to end, beside the same sweep as a plain loop.

Spec: spiral 3 × 500, [2, 50, 3] ReLU, batch 20, shuffled, lr 10 values (log-spaced 0.01–1) × momentum
10 values (0–0.9) × 10 seeds = 1,000 configurations, ``--epochs`` epochs each (default 10).

  sweep      ``inertia.sweeps.sweep`` into a fresh SQLite store (local executor): spec expansion, claims,
             population training, results written run by run; the store's share (claim + record
             transactions) is timed separately and reported per run
  loop       the same configurations as a plain loop of ``fit`` calls (MLP + inertia.optim.Momentum),
             timed on ``--loop-sample`` of them spread over the grid and scaled to 1,000 (all of them with
             ``--loop-sample 1000``)

  --mixed    momentum, Adam and RMSprop in one spec: optimizer × lr 10 values × momentum 5 values (0–0.8;
             Adam has none) × 10 seeds = 1,100 configurations, each optimizer trained as populations of its own

    python benchmarks/sweep.py [--epochs 10] [--loop-sample 100] [--mixed] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from inertia import data
from inertia.models import MLP
from inertia.optim import for_rule
from inertia.sweeps import store
from inertia.sweeps.run import rule_of, sweep
from inertia.sweeps.spec import load_spec
from inertia.train import fit


def spec(epochs: int, mixed: bool = False) -> dict:
    grid = {"lr": [float(v) for v in np.round(np.logspace(-2, 0, 10), 6)],
            "momentum": [round(0.1 * i, 1) for i in range(10)]}
    if mixed:
        grid = {"optimizer": ["momentum", "adam", "rmsprop"], "momentum": [0.0, 0.2, 0.4, 0.6, 0.8],
                "lr": [float(v) for v in np.round(np.logspace(-3, 0, 10), 6)]}
    return {"data": {"name": "spiral", "seed": 0}, "model": {"layers": [2, 50, 3]},
            "train": {"epochs": epochs, "batch_size": 20, "shuffle": True, "seeds": 10}, "grid": grid}


def timed_store_methods():
    """Wrap Store.claim and Store.record so their time is accumulated in ``spent``."""
    spent = {"claim": 0.0, "record": 0.0, "records": 0}
    originals = {name: getattr(store.Store, name) for name in ("claim", "record")}

    def wrap(name):
        def method(self, *args, **kwargs):
            started = time.perf_counter()
            try:
                return originals[name](self, *args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - started
        return method

    for name in originals:
        setattr(store.Store, name, wrap(name))
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--loop-sample", type=int, default=100)
    parser.add_argument("--mixed", action="store_true", help="momentum, Adam and RMSprop in one spec")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    the_spec = spec(args.epochs, args.mixed)
    configs = load_spec(the_spec).expand()
    results = {"machine": {"python": platform.python_version(), "torch": torch.__version__,
                           "cpus": torch.get_num_threads()}, "configurations": len(configs), "epochs": args.epochs,
               "mixed": args.mixed}

    with tempfile.TemporaryDirectory() as folder:
        sweep(spec(1) | {"grid": {"lr": [0.1], "momentum": [0.0]}, "train": {"epochs": 1, "seeds": 1}},
              str(Path(folder) / "warm.db"))  # compile or load the kernel outside the timing
        spent = timed_store_methods()
        started = time.perf_counter()
        report = sweep(the_spec, str(Path(folder) / "sweep.db"))
        seconds = time.perf_counter() - started
    store_seconds = spent["claim"] + spent["record"]
    results["sweep"] = {"seconds": seconds, "recorded": report.recorded, "statuses": report.statuses,
                        "store_seconds": store_seconds, "store_ms_per_run": 1e3 * store_seconds / len(configs)}
    report_line(args, f"sweep: {len(configs)} configurations in {seconds:.1f} s; store (claims and records) "
                      f"{store_seconds:.2f} s = {1e3 * store_seconds / len(configs):.2f} ms per run")

    dataset = data.spiral(seed=0)
    sample = configs[:: max(1, len(configs) // args.loop_sample)][: args.loop_sample]
    started = time.perf_counter()
    for config in sample:  # each with its torch optimizer (inertia.optim.Momentum or torch.optim's own)
        model = MLP([2, 50, 3], seed=config["seed"])
        fit(model, dataset, for_rule(rule_of(config), model.parameters()), args.epochs, 20, shuffle=True,
            seed=config["seed"])
    loop = (time.perf_counter() - started) * len(configs) / len(sample)
    results["loop"] = {"sampled": len(sample), "seconds_for_all": loop, "estimated": len(sample) < len(configs)}
    results["speedup"] = loop / seconds
    kind = f"estimated from {len(sample)}" if len(sample) < len(configs) else "all"
    report_line(args, f"plain loop of fit calls: {loop:.1f} s for {len(configs)} ({kind}); sweep is "
                      f"{loop / seconds:.1f}x faster end to end")
    if args.json:
        print(json.dumps(results, indent=2))


def report_line(args, line: str) -> None:
    print(line, file=sys.stderr if args.json else sys.stdout, flush=True)


if __name__ == "__main__":
    main()
