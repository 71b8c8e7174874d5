"""NumPy engine vs seed 004's network, side by side on seed 004's task.

Task: spiral 100 × 3 with turns 2.5, [2, 64, 3] ReLU, softmax cross-entropy, full batch, SGD lr 1, decay 1e-3,
momentum 0.9. Each contender trains from the same data for ``--epochs`` epochs, computing loss and accuracy
every epoch as the seed does. Contenders run interleaved, ``--repeats`` times; the ratio uses minima.

    python benchmarks/scratch.py [--epochs 1000] [--repeats 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from seed004_network import Layer_Dense, train

from inertia import data
from inertia.scratch import SGD, Network


def seed_style(x, y, epochs, fused):
    np.random.seed(1)
    dense1, dense2 = Layer_Dense(2, 64), Layer_Dense(64, 3)
    return train(x, y, dense1, dense2, epochs, fused=fused)[-1][1]


def inertia_engine(x, y, epochs, dtype):
    net = Network.mlp([2, 64, 3], rng=1, dtype=dtype)
    return net.fit(x, y, SGD(lr=1.0, momentum=0.9, decay=1e-3), epochs)["accuracy"][-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()

    task = data.spiral(classes=3, points=100, turns=2.5, seed=0)
    x64, y = task.x.astype(np.float64), task.y
    contenders = {
        "seed 004 training loop (fused softmax-loss, float64)": lambda e: seed_style(x64, y, e, fused=True),
        "seed 004 per-layer classes (Softmax + loss, float64)": lambda e: seed_style(x64, y, e, fused=False),
        "inertia.scratch float64": lambda e: inertia_engine(x64, y, e, np.float64),
        "inertia.scratch float32": lambda e: inertia_engine(task.x, y, e, np.float32),
    }
    # The per-layer path is ~10x slower; it runs a tenth of the epochs and is scaled per epoch.
    epochs = {name: args.epochs // 10 if "per-layer" in name else args.epochs for name in contenders}
    times = {name: [] for name in contenders}
    for _ in range(args.repeats):
        for name, run in contenders.items():
            started = time.perf_counter()
            run(epochs[name])
            times[name].append((time.perf_counter() - started) / epochs[name] * 1e6)

    baseline = min(times["seed 004 training loop (fused softmax-loss, float64)"])
    per_layer = min(times["seed 004 per-layer classes (Softmax + loss, float64)"])
    results = {
        "task": "spiral 100x3 turns=2.5, [2, 64, 3], full batch, SGD lr 1 decay 1e-3 momentum 0.9",
        "machine": {"python": platform.python_version(), "numpy": np.__version__, "processor": platform.machine()},
        "repeats": args.repeats,
        "us_per_epoch": {name: {"min": round(min(t), 1), "median": round(float(np.median(t)), 1)}
                         for name, t in times.items()},
        "speedup_vs_seed_training_loop": {name: round(baseline / min(t), 2) for name, t in times.items()},
        "speedup_vs_seed_per_layer": {name: round(per_layer / min(t), 2) for name, t in times.items()},
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(results["task"])
    for name, t in results["us_per_epoch"].items():
        print(f"{name:55s} {t['min']:9.1f} us/epoch (median {t['median']:.1f})  "
              f"x{results['speedup_vs_seed_training_loop'][name]:.2f} vs seed loop, "
              f"x{results['speedup_vs_seed_per_layer'][name]:.2f} vs seed per-layer")


if __name__ == "__main__":
    main()
