"""The tiled GPU kernel's launch settings (rows × outputs × inputs per tile, warps per program, programs per
multiprocessor, pipelining stages, register cap, precision), swept on a GPU.

For each architecture of :mod:`benchmarks.architectures` (the lab's network forced onto the tiled kernel), P
members (SGD with momentum, lr 0.05, batch 20) are trained for ``--epochs`` epochs by ``train_population`` with
each shape in turn; the figure is the once-running pace (model-epochs/s over the epochs after the first, which
also compiles the shape).

    python benchmarks/tile_shape.py [--members 2000] [--epochs 3] [--architectures lab,lab2,digits,mnist1d] [--json]
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import time
from pathlib import Path

import torch

SHAPES = [  # keywords of inertia.population.gpu_tiles.train_epoch
    {"tiles": (32, 64, 32), "warps": 4, "per_sm": 4},
    {"tiles": (32, 32, 32), "warps": 4, "per_sm": 4},
    {"tiles": (32, 32, 32), "warps": 4, "per_sm": 4, "stages": 3},
    {"tiles": (32, 32, 32), "warps": 4, "per_sm": 8, "max_registers": 128},
    {"tiles": (32, 32, 32), "warps": 2, "per_sm": 8},
    {"tiles": (32, 32, 32), "warps": 2, "per_sm": 16, "max_registers": 128},
    {"tiles": (16, 32, 16), "warps": 2, "per_sm": 16},
    {"tiles": (16, 32, 16), "warps": 2, "per_sm": 16, "max_registers": 96},
    {"tiles": (32, 32, 32), "warps": 1, "per_sm": 32},
    {"tiles": (32, 32, 32), "warps": 4, "per_sm": 8, "max_registers": 128, "precision": "tf32"},
    {"tiles": (32, 64, 32), "warps": 4, "per_sm": 4, "precision": "tf32"},
]


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--architectures", default="lab,lab2,digits,mnist1d")
    parser.add_argument("--device", default="cuda", help="cuda, or cpu under TRITON_INTERPRET=1 (a slow check)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from benchmarks.architectures import ARCHITECTURES, members
    from benchmarks.common import dataset_for
    from inertia.population import gpu_tiles, train_population, triton_engine

    triton_engine.REGISTER_WEIGHTS = 0
    original = gpu_tiles.train_epoch
    results = {"gpu": torch.cuda.get_device_name() if args.device == "cuda" else args.device,
               "members": args.members, "points": []}
    for name in args.architectures.split(","):
        layers = ARCHITECTURES[name]
        dataset = dataset_for(layers)
        for launch in SHAPES:
            gpu_tiles.train_epoch = functools.partial(original, **launch)
            marks: list[float] = []
            started = time.perf_counter()
            try:
                train_population(dataset, layers, members(args.members), epochs=args.epochs, device=args.device,
                                 engine="triton", on_epoch=lambda _, marks=marks: marks.append(time.perf_counter()))
            except Exception as error:  # a setting this Triton or GPU refuses: recorded, the others go on
                print(f"{name:>8} {launch}: failed: {error}", file=sys.stderr, flush=True)
                continue
            if args.device == "cuda":
                torch.cuda.synchronize()
            pace = args.members * (len(marks) - 1) / (marks[-1] - marks[0])
            point = {"architecture": name, "launch": launch, "model_epochs_per_s": pace,
                     "first_epoch_s": marks[0] - started}
            results["points"].append(point)
            print(f"{name:>8} {launch}: {pace:>10,.0f} model-epochs/s once running (first epoch "
                  f"{point['first_epoch_s']:.1f} s)", file=sys.stderr if args.json else sys.stdout, flush=True)
    gpu_tiles.train_epoch = original
    # The best default over all architectures: the highest geometric mean of its pace relative to each
    # architecture's best (float32 products only, as torch multiplies; a setting that failed anywhere is out).
    names = args.architectures.split(",")
    best_pace = {a: max(p["model_epochs_per_s"] for p in results["points"] if p["architecture"] == a) for a in names}
    scores = []
    for launch in SHAPES:
        paces = [p["model_epochs_per_s"] / best_pace[p["architecture"]] for p in results["points"]
                 if p["launch"] == launch]
        if len(paces) == len(names) and launch.get("precision", "ieee") == "ieee":
            scores.append((math.prod(paces) ** (1 / len(paces)), launch))
    results["best"] = max(scores, key=lambda pair: pair[0])[1] if scores else None
    print(f"best over all: {results['best']}", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
