"""A model of your own in ``inertia.compare``: how fast the one-model (loop) engine trains it, and what the
population engine gives the MLP it can take.

Rows, each ``compare`` over 5 momenta x ``--seeds`` seeds, minimum of ``--repeats`` runs, in model-epochs per second
(a model-epoch: one pass of minibatch SGD over the data plus the full-data loss and accuracy):

  cnn on digits           examples/cnn.py's CNN on the 8x8 digits (1,797 rows), batch 32: model=cnn, loop engine
  mlp on digits, loop     [64, 50, 10] ReLU as an nn.Sequential of one's own, batch 32: model=..., loop engine
  mlp on digits, population  the same network as layers=[64, 50, 10]: the population engine
  mlp on spiral, loop / population   the seed lab's [2, 50, 3] on the spiral (1,500 rows), batch 20

    python benchmarks/own_model.py [--json] [--seeds 3] [--epochs 5] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def timed(repeats: int, **arguments) -> float:
    import inertia

    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        inertia.compare(**arguments)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))  # benchmarks.* and examples.* importable when run as a script
    import torch
    from torch import nn

    from benchmarks.common import cpu_model
    from examples.cnn import cnn

    def mlp(features, classes):
        return lambda seed: nn.Sequential(nn.Linear(features, 50), nn.ReLU(), nn.Linear(50, classes))

    momenta = [0, 0.1, 0.2, 0.4, 0.5]
    runs = len(momenta) * args.seeds
    common = {"momenta": momenta, "seeds": args.seeds, "epochs": args.epochs}
    cases = [
        ("cnn on digits", {"model": cnn, "dataset": "digits", "batch_size": 32}),
        ("mlp on digits, loop", {"model": mlp(64, 10), "dataset": "digits", "batch_size": 32}),
        ("mlp on digits, population", {"layers": [64, 50, 10], "dataset": "digits", "batch_size": 32,
                                       "engine": "population"}),
        ("mlp on spiral, loop", {"model": mlp(2, 3), "dataset": "spiral", "batch_size": 20}),
        ("mlp on spiral, population", {"layers": [2, 50, 3], "dataset": "spiral", "batch_size": 20,
                                       "engine": "population"}),
    ]
    timed(1, **{**common, **cases[2][1], "epochs": 1})  # load the kernels and the data before timing
    rows = []
    for name, arguments in cases:
        seconds = timed(args.repeats, **common, **arguments)
        rows.append({"name": name, "seconds": seconds, "model_epochs_per_second": runs * args.epochs / seconds})
    result = {"cpu": cpu_model(), "threads": torch.get_num_threads(), "runs": runs, "epochs": args.epochs,
              "rows": rows}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for row in rows:
        print(f"{row['name']:28} {row['seconds']:7.2f} s  {row['model_epochs_per_second']:9.1f} model-epochs/s")


if __name__ == "__main__":
    main()
