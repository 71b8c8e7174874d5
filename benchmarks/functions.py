"""Every optimizer on a 2-D test function, many runs at once, against torch.optim one run at a time.

Rows (Rosenbrock, the default noise and budget, in this process, the best of ``--repeats``):

  workload      6 optimizers × 100 starts × 10 noise seeds × 1,000 steps, one learning rate each (the chosen
                ones of the study), every run of an optimizer stepping together (``functions.descend``)
  study         ``function_study("rosenbrock")``: the same optimizers tuned over 13 learning rates from 100 starts
                × 10 seeds, then run again from fresh ones (14 × the workload's steps), and the figure's paths
  torch_loop    the reference path: torch.optim on a ``torch.nn.Parameter`` of size 2, one run at a time (the
                loop the tests hold the iterates to), timed over ``--loop-runs`` runs per optimizer and scaled
                to the workload's 1,000 runs per optimizer

The JSON names the CPU; ``speedup`` is the torch loop's scaled time over the workload's.

    python benchmarks/functions.py [--json] [--repeats 3] [--loop-runs 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import best_of, cpu_model
from inertia.optim import rules
from inertia.optim.torch_optimizers import for_rule
from inertia.studies import functions as F


def torch_loop(f, rule, lr, start, noise, scale, steps) -> None:
    param = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
    optimizer = for_rule(replace(rule, lr=lr), [param])
    with np.errstate(all="ignore"):
        for t in range(steps):
            optimizer.zero_grad()
            param.grad = torch.from_numpy(f.gradient(param.detach().numpy()) + scale * noise[t])
            optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loop-runs", type=int, default=5)
    args = parser.parse_args()
    f, steps, starts, seeds = F.function("rosenbrock"), 1000, 100, 10
    study = F.function_study("rosenbrock")  # warm up, and the rates the workload runs at
    chosen = study.chosen
    points, noise = F.starts(f, starts, 1), F.noise_draws(range(seeds, 2 * seeds), steps, starts)
    parsed = {text: rules.parse(text) for text in F.OPTIMIZERS}

    def workload():
        for text, rule in parsed.items():
            F.descend(f, rule, [chosen[text]], points, noise, f.noise, steps)

    work = best_of(args.repeats, workload)
    whole = best_of(args.repeats, lambda: F.function_study("rosenbrock"))
    loop = 0.0
    for text, rule in parsed.items():
        started = time.perf_counter()
        for run in range(args.loop_runs):
            torch_loop(f, rule, chosen[text], points[run], noise[:, run, 0], f.noise, steps)
        loop += (time.perf_counter() - started) / args.loop_runs * starts * seeds
    out = {"machine": cpu_model(), "threads": torch.get_num_threads(), "function": "rosenbrock",
           "optimizers": list(F.OPTIMIZERS), "starts": starts, "seeds": seeds, "steps": steps,
           "workload_s": work, "study_s": whole, "study_rates": len(F.LEARNING_RATES),
           "torch_loop_s_scaled": loop, "loop_runs_timed": args.loop_runs, "speedup": loop / work,
           "run_steps_per_s": len(parsed) * starts * seeds * steps / work}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"workload (6 optimizers × 100 starts × 10 seeds × 1,000 steps): {work:.2f} s "
          f"({out['run_steps_per_s']:,.0f} run-steps/s)")
    print(f"the whole study (13 rates tuned, then fresh runs): {whole:.2f} s")
    print(f"torch.optim one run at a time, scaled to the workload: {loop:.0f} s ({out['speedup']:,.0f}x)")


if __name__ == "__main__":
    main()
