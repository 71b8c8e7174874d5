"""Loss surfaces: a 51 × 51 grid of full-data evaluations as one population, against one model at a time.

Rows, each the best of ``--repeats`` in this process, around the initial weights of seed 0 on filter-normalised
directions (the cost does not depend on where the plane is):

  lab       ``[2, 50, 3]`` on the spiral (1,500 points): ``landscape.surface`` over 51 × 51 points
  mnist1d   ``[40, 100, 100, 10]`` on MNIST-1D's 4,000 training signals, the same grid
  loop      the obvious path for each: an ``MLP`` loaded with each grid point's weights and evaluated on the full
            data, one point after another, timed over ``--loop-points`` points and scaled to 2,601

with the CPU's fp32 peak (a 4096² ``torch.mm``) measured in the same run and the fraction of it the surface's
forward products reach. ``--module`` times instead the path a network of one's own takes (``landscape.evaluate``
given an ``nn.Module``: ``torch.func.vmap`` over ``functional_call``, a block of points at a time), on the same
networks as ``nn.Module``s, against the MLP path in the same run.

    python benchmarks/landscape.py [--json] [--repeats 3] [--loop-points 100] [--module]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import best_of, cpu_model, cpu_peak
from inertia import data
from inertia.models import MLP
from inertia.studies import landscape as L

CASES = {"lab": ("spiral", [2, 50, 3]), "mnist1d": ("mnist1d", [40, 100, 100, 10])}


def case(dataset: str, layers: list[int]):
    """The data's tensors, seed 0's MLP and the plane through its weights on two filter-normalised directions."""
    x, y = data.get(dataset, seed=0).tensors()
    model = MLP(layers, seed=0)
    centre = L.flatten(model)
    return x, y, model, L.Basis(centre, L.filter_normalized(centre, layers, 0), L.filter_normalized(centre, layers, 1))


def report(out: dict, as_json: bool, line) -> None:
    """``out`` as JSON, or ``line(name, row)`` for each of its rows."""
    if as_json:
        print(json.dumps(out, indent=2))
        return
    for name, row in out["rows"].items():
        print(line(name, row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loop-points", type=int, default=100)
    parser.add_argument("--module", action="store_true", help="the path of a network of one's own")
    args = parser.parse_args()
    if args.module:
        return module_path(args)
    peak = cpu_peak()
    axis = np.linspace(-1, 1, 51)
    rows = {}
    for name, (dataset, layers) in CASES.items():
        x, y, _, basis = case(dataset, layers)
        surface = best_of(args.repeats, lambda basis=basis, layers=layers, x=x, y=y: L.surface(
            basis, axis, axis, layers, "relu", x, y))
        a, b = np.meshgrid(axis, axis)
        points = L.plane_points(basis, a.ravel()[: args.loop_points], b.ravel()[: args.loop_points]).float()
        model = MLP(layers)

        def loop(points=points, model=model, x=x, y=y):
            with torch.no_grad():
                for theta in points:
                    at = 0
                    for p in model.parameters():
                        p.copy_(theta[at : at + p.numel()].view_as(p))
                        at += p.numel()
                    torch.nn.functional.cross_entropy(model(x), y)

        one_by_one = best_of(args.repeats, loop) / args.loop_points * axis.size**2
        flops = 2 * len(y) * sum(i * o for i, o in itertools.pairwise(layers)) * axis.size**2
        rows[name] = {"dataset": dataset, "layers": layers, "samples": len(y), "points": axis.size**2,
                      "surface_s": surface, "loop_s_scaled": one_by_one, "speedup": one_by_one / surface,
                      "gflops": flops / surface / 1e9, "peak_fraction": flops / surface / 1e9 / peak}
    out = {"machine": cpu_model(), "threads": torch.get_num_threads(), "peak_gflops": peak, "rows": rows}
    report(out, args.json, lambda name, row: (
        f"{name:8} {row['layers']}: 51 × 51 surface {row['surface_s']:.2f} s ({100 * row['peak_fraction']:.0f} % "
        f"of the fp32 peak); one model at a time {row['loop_s_scaled']:.1f} s ({row['speedup']:.1f}x)"))


def module_path(args) -> None:
    """Each network's 51 × 51 surface through the path for any ``nn.Module`` against the MLP path, same run."""
    axis = np.linspace(-1, 1, 51)
    rows = {}
    for name, (dataset, layers) in CASES.items():
        x, y, model, basis = case(dataset, layers)
        times = {path: best_of(args.repeats, lambda network=network, basis=basis, x=x, y=y: L.surface(
            basis, axis, axis, network, "relu", x, y)) for path, network in (("mlp", layers), ("module", model))}
        rows[name] = {"dataset": dataset, "layers": layers, "points": axis.size**2, "mlp_s": times["mlp"],
                      "module_s": times["module"], "slowdown": times["module"] / times["mlp"]}
    out = {"machine": cpu_model(), "threads": torch.get_num_threads(), "rows": rows}
    report(out, args.json, lambda name, row: (
        f"{name:8} {row['layers']}: 51 × 51 surface, MLP path {row['mlp_s']:.2f} s, any-module path "
        f"{row['module_s']:.2f} s ({row['slowdown']:.1f}x)"))


if __name__ == "__main__":
    main()
