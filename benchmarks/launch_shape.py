"""The register kernel's launch shape (members per program × warps per program), swept on a GPU.

Seed lab's task (spiral 1500 points, [2, 50, 3] ReLU, batch 20, momentum 0.9, lr 0.1) at P members, trained by
``train_population`` on the Triton engine with each shape in turn (``inertia.population.gpu_kernels``, the kernel
that holds a member's weights in registers); the figure is the once-running pace, model-epochs/s over the
epochs after the first (which also compiles the shape). ``benchmarks/tile_shape.py`` does the same for the tiled
kernel of deeper networks.

    python benchmarks/launch_shape.py [--members 100000] [--epochs 3] [--json]
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import time

import numpy as np
import torch

from inertia import data
from inertia.population import Members, gpu_kernels, train_population


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="cuda", help="cuda, or cpu under TRITON_INTERPRET=1 (a slow check)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    dataset = data.spiral(seed=0)
    members = Members.table(seed=np.arange(args.members), lr=0.1, momentum=0.9)
    original = gpu_kernels.train_epoch
    results = {"gpu": torch.cuda.get_device_name() if args.device == "cuda" else args.device,
               "members": args.members, "shapes": []}
    for block, warps in itertools.product((1, 2, 4, 8), (1, 2, 4)):
        gpu_kernels.train_epoch = functools.partial(original, block=block, warps=warps)
        marks: list[float] = []
        train_population(dataset, [2, 50, 3], members, epochs=args.epochs, device=args.device, engine="triton",
                         on_epoch=lambda _, marks=marks: marks.append(time.perf_counter()))
        if args.device == "cuda":
            torch.cuda.synchronize()
        pace = args.members * (len(marks) - 1) / (marks[-1] - marks[0])
        results["shapes"].append({"block": block, "warps": warps, "model_epochs_per_s": pace})
        if not args.json:
            print(f"{block:>2} members × {warps} warps: {pace:>12,.0f} model-epochs/s once running", flush=True)
    gpu_kernels.train_epoch = original
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
