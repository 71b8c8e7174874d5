"""The Triton engine's launch shape (members per program × warps per program), swept on a GPU.

Seed lab's task (spiral 1500 points, [2, 50, 3] ReLU, batch 20, momentum 0.9, lr 0.1) at P members; the
kernel is called directly, so the figures are the kernel's own (shuffling on the device included or not),
without the host-side work of ``train_population``. Each shape is compiled and run once before timing.

    python benchmarks/launch_shape.py [--members 100000] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import torch

from inertia import data
from inertia.models import initial_weights
from inertia.population import flat_weights, gpu_kernels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    size = args.members
    x, y = data.spiral(seed=0).tensors("cuda")
    base = flat_weights([initial_weights([2, 50, 3], s) for s in range(1000)]).cuda()
    start = base.repeat(-(-size // 1000), 1)[:size].contiguous()
    words = torch.arange(size, device="cuda", dtype=torch.int64)
    hyper = [torch.full((size,), v, device="cuda") for v in (0.9, 0.0, 0.0)]
    active = torch.ones(size, dtype=torch.int8, device="cuda")
    rates = torch.full((1, size), 0.1, device="cuda")

    def epoch(block, warps, shuffled, params, buffers, e):
        order = gpu_kernels.shuffle_orders(words, e, len(y)) if shuffled else None
        return gpu_kernels.train_epoch(x.contiguous(), y, order, params, buffers, rates, *hyper, active, hidden=50,
                                       first_step=e == 0, batch=20, form="pytorch", nesterov=False,
                                       maximize=False, activation="relu", block=block, warps=warps)

    results = {"gpu": torch.cuda.get_device_name(), "members": size, "shapes": []}
    gpu_kernels.shuffle_orders(words, 0, len(y))
    torch.cuda.synchronize()
    started = time.perf_counter()
    for e in range(3):
        gpu_kernels.shuffle_orders(words, e, len(y))
    torch.cuda.synchronize()
    results["shuffle_ms_per_epoch"] = (time.perf_counter() - started) / 3 * 1e3
    for block, warps in itertools.product((1, 2, 4, 8), (1, 2, 4)):
        params, buffers = start.clone(), torch.zeros_like(start)
        epoch(block, warps, True, params, buffers, 0)
        epoch(block, warps, False, params, buffers, 1)
        row = {"block": block, "warps": warps}
        for shuffled in (True, False):
            torch.cuda.synchronize()
            started = time.perf_counter()
            for e in range(2, 4):
                epoch(block, warps, shuffled, params, buffers, e)
            torch.cuda.synchronize()
            row["shuffled" if shuffled else "in_order"] = size / ((time.perf_counter() - started) / 2)
        results["shapes"].append(row)
        if not args.json:
            print(f"{block:>2} members × {warps} warps: {row['shuffled']:>12,.0f} model-epochs/s shuffled, "
                  f"{row['in_order']:>12,.0f} in order", flush=True)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
