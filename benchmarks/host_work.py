"""Host work per member: what a population costs outside its epochs, and the initial weights at its heart.

Sections:
  init     the counter-based initial weights of ``inertia.init`` for P lab networks ([2, 50, 3]: 303 weights
           each), nanoseconds per weight: the CPU's compiled loop against the same numbers made by int64 tensor
           operations (the path other devices take, and the CPU's before), 2¹⁸ values at a time as the CPU
           made them, in the same run, the best of ``--repeats``
  members  ``train_population`` on P lab members over a 9-point data set (so an epoch costs next to nothing),
           1 and 2 epochs: host work per member = (t₁ − (t₂ − t₁)) / P, everything outside the epochs (checking
           the members, their rules, initial weights, histories and results), the best of ``--repeats``

    python benchmarks/host_work.py [--json] [--sizes 1000,100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import cpu_model

LAB = [2, 50, 3]


def best_of(repeats: int, fn) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def init_point(size: int, repeats: int) -> dict:
    import itertools

    import numpy as np
    import torch

    from inertia import init

    words = init.seed_words(np.arange(size), "cpu")
    shapes = [(2 * layer, n_out * n_in, n_in) for layer, (n_in, n_out) in enumerate(itertools.pairwise(LAB))]
    shapes += [(2 * layer + 1, n_out, n_in) for layer, (n_in, n_out) in enumerate(itertools.pairwise(LAB))]
    weights = size * sum(count for _, count, _ in shapes)

    def compiled():
        for tensor, count, fan_in in shapes:
            init.uniform(words, tensor, count, fan_in)

    def tensor_ops():
        for tensor, count, fan_in in shapes:
            rows = max(1, (1 << 18) // max(count, 1))  # the block that kept the CPU's temporaries in cache
            out = torch.empty((size, count))
            for lo in range(0, size, rows):
                out[lo : lo + rows] = init._uniform(words[lo : lo + rows], tensor, count, fan_in)

    compiled()  # load (or compile) the loop before timing
    fast, slow = best_of(repeats, compiled), best_of(max(1, repeats // 2), tensor_ops)
    return {"size": size, "weights": weights, "compiled_ns_per_weight": fast / weights * 1e9,
            "tensor_ops_ns_per_weight": slow / weights * 1e9, "speedup": slow / fast}


def members_point(size: int, repeats: int) -> dict:
    from inertia import data
    from inertia.population import Member, train_population

    tiny = data.spiral(classes=3, points=3, seed=0)
    members = [Member(0.1, 0.5, seed=s) for s in range(size)]
    train_population(tiny, LAB, members[:4], epochs=1)  # load the kernels before timing
    one = best_of(repeats, lambda: train_population(tiny, LAB, members, epochs=1))
    two = best_of(repeats, lambda: train_population(tiny, LAB, members, epochs=2))
    host = one - max(two - one, 0.0)  # noise can make two epochs look faster than one
    return {"size": size, "points": len(tiny.y), "one_epoch_s": one, "two_epochs_s": two,
            "epoch_s": two - one, "host_s": host, "host_us_per_member": host / size * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import torch

    sizes = [int(s) for s in args.sizes.split(",")]
    results = {"cpu": cpu_model(), "threads": torch.get_num_threads(), "lab": LAB,
               "init": [init_point(p, args.repeats) for p in sizes],
               "members": [members_point(p, args.repeats) for p in sizes]}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{results['cpu']}, {results['threads']} threads")
    for row in results["init"]:
        print(f"init   P = {row['size']:>7,}: compiled {row['compiled_ns_per_weight']:6.2f} ns/weight, tensor "
              f"operations {row['tensor_ops_ns_per_weight']:7.1f} ns/weight ({row['speedup']:.0f}x)")
    for row in results["members"]:
        print(f"train  P = {row['size']:>7,}: 1 epoch {row['one_epoch_s']:.3f} s, 2 epochs {row['two_epochs_s']:.3f} s"
              f": host work {row['host_us_per_member']:.1f} µs per member")


if __name__ == "__main__":
    main()
