"""What tuning inside the population costs beyond the training: 4,096 members of the lab's ``[2, 50, 3]`` on the
spiral (1,500 points, batch 20), 20 epochs.

  pbt        ``inertia.sweeps.tune.tune(method="pbt")``, exploit and explore every ``--interval`` epochs (a
             quarter of the members take over better runs each round)
  pbt+store  the same recorded in a store, as ``inertia tune`` does: every round's decision in the SQLite file, the
             population checkpointed beside it once a minute (here: at the end) and after the last round
  pbt+every  the same with the population checkpointed after every round (``checkpoint_every=0``)
  halving    successive halving, η = 4, rungs at 1, 4, 16 and 20 epochs, as many members as the same budget pays for
  straight   ``train_population`` of PBT's starting members for the 20 epochs, the path without any tuning

For each, the wall time split three ways: the engine's epochs (the compiled kernel's training and full-data
evaluation, timed around every engine epoch call); the rest of the training, what ``train_population`` does around
its epochs for the same members (each epoch's divergence checks and records, and a member's setup the first time it
trains: its initial weights and buffers); and the tuning's own bookkeeping, the remainder: drawing the members,
ranking, exploit and explore, narrowing, each later stretch's start and end (the state handed to the engine and
back), the records, the store and the checkpoints. ``outside_engine_share`` keeps the coarser split (all but the
engine's epochs). Best of ``--repeats`` in this process, by bookkeeping.

    python benchmarks/tune.py [--json] [--repeats 3] [--members 4096] [--interval 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import cpu_model
from inertia import data
from inertia.population import Members, train_population
from inertia.population.chunk import Chunk
from inertia.population.kernel_engine import KernelChunk
from inertia.population.torch_engine import TorchChunk
from inertia.sweeps.tune import tune

EPOCHS = 20


def spec() -> dict:
    return {"data": {"name": "spiral", "seed": 0}, "model": {"layers": [2, 50, 3]},
            "train": {"epochs": EPOCHS, "batch_size": 20},
            "random": {"count": 1, "seed": 0, "lr": {"log_uniform": [0.01, 1.0]}, "momentum": {"uniform": [0.0, 0.99]}}}


@contextmanager
def timed_training():
    """Yields a dict adding up, while inside, the seconds in every engine epoch (``engine``) and in all of the
    training (``training``: every chunk's epoch loop, and the construction of chunks of members that start from their
    initial weights; a chunk that starts from a paused state is the tuning's doing)."""
    spent = {"engine": 0.0, "training": 0.0}
    originals = {(cls, name): getattr(cls, name) for cls in (KernelChunk, TorchChunk) for name in ("epoch", "__init__")}
    originals[Chunk, "run"] = Chunk.run

    def timed(original, name):
        def method(self, *args, **kwargs):
            started = time.perf_counter()
            try:
                return original(self, *args, **kwargs)
            finally:
                if name != "__init__" or kwargs.get("start") is None:
                    spent["engine" if name == "epoch" else "training"] += time.perf_counter() - started
        return method

    for (cls, name), original in originals.items():
        setattr(cls, name, timed(original, name))
    try:
        yield spent
    finally:
        for (cls, name), original in originals.items():
            setattr(cls, name, original)


def measure(run) -> dict:
    with timed_training() as spent:
        started = time.perf_counter()
        run()
        wall = time.perf_counter() - started
    bookkeeping = wall - spent["training"]
    return {"wall_s": wall, "engine_s": spent["engine"], "training_s": spent["training"],
            "bookkeeping_s": bookkeeping, "bookkeeping_share": bookkeeping / wall,
            "outside_engine_share": (wall - spent["engine"]) / wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--members", type=int, default=4096)
    parser.add_argument("--interval", type=int, default=2)
    args = parser.parse_args()
    budget = args.members * EPOCHS
    pbt = dict(method="pbt", budget=budget, interval=args.interval, seed=0)
    first = tune(spec(), **pbt)  # compiled kernels loaded; its starting members are the straight run's
    members = Members.table(seed=first.seeds, lr=first.trajectory[0]["lr"], momentum=first.trajectory[0]["momentum"])
    dataset = data.spiral(seed=0)

    folder = Path(tempfile.mkdtemp())  # a new store for each run; removing them is not the tuning's cost
    made = iter(range(10**6))

    def stored(every):
        return lambda: tune(spec(), store=folder / f"tune-{next(made)}.db", checkpoint_every=every, **pbt)

    cases = {"pbt": lambda: tune(spec(), **pbt), "pbt+store": stored(60.0), "pbt+every": stored(0),
             "halving": lambda: tune(spec(), method="halving", budget=budget, seed=0),
             "straight": lambda: train_population(dataset, [2, 50, 3], members, epochs=EPOCHS, batch_size=20)}
    rows = {}
    for _ in range(args.repeats):
        for name, run in cases.items():
            row = measure(run)
            if name not in rows or row["bookkeeping_s"] < rows[name]["bookkeeping_s"]:
                rows[name] = row
    shutil.rmtree(folder)
    out = {"machine": cpu_model(), "threads": torch.get_num_threads(), "members": args.members, "epochs": EPOCHS,
           "interval": args.interval, "rounds": len(first.records) - 1, "rows": rows}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{args.members} lab members, {EPOCHS} epochs, PBT every {args.interval} epochs, on {out['machine']} "
          f"({out['threads']} threads)")
    for name, row in rows.items():
        print(f"  {name:10} {row['wall_s']:6.2f} s: {row['engine_s']:6.2f} s in the engine's epochs, "
              f"{row['training_s'] - row['engine_s']:.3f} s more training, bookkeeping {row['bookkeeping_s']:.3f} s "
              f"({100 * row['bookkeeping_share']:.1f} %; outside the engine's epochs "
              f"{100 * row['outside_engine_share']:.1f} %)")


if __name__ == "__main__":
    main()
