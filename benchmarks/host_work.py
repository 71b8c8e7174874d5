"""Host work per member: what a population costs outside its epochs, and the initial weights at its heart.

Sections:
  init     the counter-based initial weights of ``inertia.init`` for P lab networks ([2, 50, 3]: 303 weights
           each), nanoseconds per weight: the CPU's compiled loop against the same numbers made by int64 tensor
           operations (the path other devices take, and the CPU's before), 2¹⁸ values at a time as the CPU
           made them, in the same run, the best of ``--repeats``
  members  ``train_population`` on P lab members over a 9-point data set (so an epoch costs next to nothing),
           2 epochs: host work per member = (t − 2·e) / P, everything outside the epochs (checking the members,
           their initial weights and loss, the results), with e each chunk's second epoch as ``on_epoch`` sees
           it; the best and the median of ``--repeats`` calls (more for small P). Of it, the part outside the
           compiled engine's calls (``outside_engine``: everything but the first epoch's evaluation of the initial
           weights, which the engine computes, and its first touch of the optimizer state); members given
           as columns (``Members.table``), as a list of ``Member``, and as columns with every ``History`` and
           per-member weights asked of the result
  memory   the peak resident memory of one such call (1 epoch) in a fresh process, above what the process held
           before it (imports, the kernels loaded), per member: for the columns and for the list of ``Member``

    python benchmarks/host_work.py [--json] [--sizes 1000,100000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import cpu_model

LAB = [2, 50, 3]


def repeats_for(size: int, repeats: int) -> int:
    """Small populations take milliseconds a call: more repeats, so that the best of them is not noise."""
    return repeats * max(1, 20_000 // size)


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
    from inertia.population import train_population

    tiny = data.spiral(classes=3, points=3, seed=0)
    columns, listed = _population("columns", size), _population("list", size)
    train_population(tiny, LAB, columns.rows(0, 4), epochs=1)  # load the kernels before timing

    def per_member(result):
        return result.histories, result.weights

    ways = {"columns": (columns, len), "list": (listed, len), "columns_with_histories": (columns, per_member)}
    out = {"size": size, "points": len(tiny.y)}
    for name, (members, use) in ways.items():
        def call(marks, members=members, use=use):
            use(train_population(tiny, LAB, members, epochs=2, on_epoch=lambda _: marks.append(time.perf_counter())))

        calls = [host_of_call(call) for _ in range(repeats_for(size, repeats))]
        hosts, outside = sorted(c[0] for c in calls), sorted(c[2] for c in calls)
        out[name] = {"calls": len(calls), "epoch_s": statistics.median(c[1] for c in calls),
                     "host_us_per_member": hosts[0] / size * 1e6,
                     "host_us_per_member_median": statistics.median(hosts) / size * 1e6,
                     "outside_engine_us_per_member": outside[0] / size * 1e6,
                     "outside_engine_us_per_member_median": statistics.median(outside) / size * 1e6}
    return out


def host_of_call(call) -> tuple[float, float, float]:
    """(host seconds, epoch seconds, seconds outside the engine) of one 2-epoch call: its time less twice each
    chunk's second epoch, and its time less every call of the engine's ``epoch``."""
    from inertia.population.kernel_engine import KernelChunk

    marks, inside = [], [0.0]
    epoch = KernelChunk.epoch

    def timed_epoch(self, *args):
        started = time.perf_counter()
        try:
            return epoch(self, *args)
        finally:
            inside[0] += time.perf_counter() - started

    KernelChunk.epoch = timed_epoch
    try:
        started = time.perf_counter()
        call(marks)
        total = time.perf_counter() - started
    finally:
        KernelChunk.epoch = epoch
    steady = sum(second - first for first, second in zip(marks[::2], marks[1::2]))
    return total - 2 * steady, steady, total - inside[0]


def _population(way: str, size: int):
    import numpy as np

    from inertia.population import Member, Members

    if way == "columns":
        return Members.table(seed=np.arange(size), lr=0.1, momentum=0.5)
    return [Member(0.1, 0.5, seed=s) for s in range(size)]


def memory_child(way: str, size: int) -> None:
    """In a fresh process: the peak RSS growth of one call (members included), in bytes, on stdout."""
    from inertia import data
    from inertia.population import Members, train_population

    tiny = data.spiral(classes=3, points=3, seed=0)
    train_population(tiny, LAB, Members.table(seed=[0, 1], lr=0.1), epochs=1)  # load the kernels
    before = _peak_rss()
    result = train_population(tiny, LAB, _population(way, size), epochs=1)
    print(json.dumps({"bytes": _peak_rss() - before, "members": len(result.epochs_run)}))


def _peak_rss() -> int:
    """This process's peak resident memory in bytes (VmHWM: unlike ``ru_maxrss``, not inherited from the parent
    across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def memory_point(size: int) -> dict:
    import subprocess

    out = {"size": size}
    for way in ("columns", "list"):
        child = subprocess.run([sys.executable, __file__, "--memory-child", way, str(size)], capture_output=True,
                               text=True, check=True)
        grown = json.loads(child.stdout)["bytes"]
        out[way] = {"peak_mib": grown / 2**20, "bytes_per_member": grown / size}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child[0], int(args.memory_child[1]))
        return
    import torch

    sizes = [int(s) for s in args.sizes.split(",")]
    results = {"cpu": cpu_model(), "threads": torch.get_num_threads(), "lab": LAB,
               "init": [init_point(p, args.repeats) for p in sizes],
               "members": [members_point(p, args.repeats) for p in sizes],
               "memory": [memory_point(p) for p in sizes]}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{results['cpu']}, {results['threads']} threads")
    for row in results["init"]:
        print(f"init   P = {row['size']:>7,}: compiled {row['compiled_ns_per_weight']:6.2f} ns/weight, tensor "
              f"operations {row['tensor_ops_ns_per_weight']:7.1f} ns/weight ({row['speedup']:.0f}x)")
    for row in results["members"]:
        for name in ("columns", "list", "columns_with_histories"):
            way = row[name]
            print(f"train  P = {row['size']:>7,} ({name}): an epoch {way['epoch_s']:.3f} s, host work "
                  f"{way['host_us_per_member']:.1f} µs per member (median {way['host_us_per_member_median']:.1f}, "
                  f"{way['calls']} calls), {way['outside_engine_us_per_member']:.1f} µs outside the engine")
    for row in results["memory"]:
        for name in ("columns", "list"):
            print(f"memory P = {row['size']:>7,} ({name}): peak {row[name]['peak_mib']:.1f} MiB above the start, "
                  f"{row[name]['bytes_per_member']:,.0f} bytes per member")


if __name__ == "__main__":
    main()
