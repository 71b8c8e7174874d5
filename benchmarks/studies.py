"""The README's commands, as it writes them: how long each takes here, in fresh processes (warm caches).

Every time the README quotes for a command comes from this script's JSON (``results/studies-cpu.json``;
``tests/test_readme.py`` checks that the README quotes it). Rows (each the median of ``--repeats`` runs, start-up
included; plus what a study costs in model-epochs where it trains):

  compare                 inertia compare: the lab's defaults, figures and report (25 runs x 100 epochs)
  compare_bare            the same with --no-plots --no-report: the training and the tables
  compare_hold            inertia compare --hold effective-lr: also every nonzero momentum at lr·(1 − β) (45 runs)
  nqm                     inertia reproduce nqm: the noisy quadratic model over the notebook's grids, exactly
  sweep                   inertia sweep examples/momentum_vs_lr.toml (150 configurations) into a new store
  velocity                inertia velocity: seed 003's three ways at the default size
  batch_study             inertia batch-study: spiral, the defaults (11 batch sizes x 13 lrs x 2 optimizers x 3 seeds)
  schedule_study          inertia schedule-study: spiral, the defaults (7 arms x 9 lrs x 10 seeds, then 7 x 10)
  schedule_study_mnist1d  inertia schedule-study on MNIST-1D as the README runs it ([40, 100, 100, 10], 50 epochs)

(the two schedule studies run once each, whatever --repeats says: minutes long, their noise is small against
their length) and, in this process, the NQM's search alone. For the batch study: the model-epochs it trained
(each run's epochs up to its target, or its whole budget), and so its rate. The JSON names the CPU and its core
count.

    python benchmarks/studies.py [--json] [--repeats 1] [--skip-study]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(name: str, command: list[str], repeats: int, before=None) -> dict:
    seconds = []
    for _ in range(repeats):
        if before is not None:
            before()
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        seconds.append(time.perf_counter() - started)
    shown = command[2:] if command[:2] == [sys.executable, "-m"] else command
    return {"name": name, "command": " ".join(shown), "seconds": statistics.median(seconds), "runs": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip-study", action="store_true",
                        help="leave out the studies (the batch study ~2.5 min, the schedule studies ~4 min)")
    args = parser.parse_args()
    cli = [sys.executable, "-m", "inertia"]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        spec = Path(__file__).resolve().parents[1] / "examples" / "momentum_vs_lr.toml"
        rows.append(timed("compare", [*cli, "compare", "--out", str(out / "a")], args.repeats))
        rows.append(timed("compare_bare", [*cli, "compare", "--no-plots", "--no-report", "--out", str(out / "a")],
                          args.repeats))
        rows.append(timed("compare_hold", [*cli, "compare", "--hold", "effective-lr", "--out", str(out / "b")],
                          args.repeats))
        rows.append(timed("nqm", [*cli, "reproduce", "nqm", "--out", str(out / "c")], args.repeats))
        rows.append(timed("sweep", [*cli, "sweep", str(spec), "--store", str(out / "sweep.db")], args.repeats,
                          before=lambda: [p.unlink() for p in out.glob("sweep.db*")]))
        rows.append(timed("velocity", [*cli, "velocity", "--out", str(out / "v")], args.repeats))
        if not args.skip_study:
            rows.append(timed("batch_study", [*cli, "batch-study", "--out", str(out / "d")], args.repeats))
            import pandas as pd

            trials = pd.read_csv(out / "d" / "trials.csv")
            trained = trials.epochs_to_target.fillna(trials.epochs)
            rows[-1]["model_epochs"] = int(trained.sum())
            rows[-1]["model_epochs_per_second"] = float(trained.sum() / rows[-1]["seconds"])
            rows.append(timed("schedule_study", [*cli, "schedule-study", "--out", str(out / "e")], 1))
            rows.append(timed("schedule_study_mnist1d", [
                *cli, "schedule-study", "--dataset", "mnist1d", "--layers", "40,100,100,10", "--epochs", "50",
                "--batch-size", "100", "--out", str(out / "f")], 1))
    from inertia.studies import nqm

    started = time.perf_counter()
    nqm.batch_scaling()
    search = time.perf_counter() - started
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks.* importable as a script
    from benchmarks.common import cpu_model

    result = {"machine": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
              "rows": rows, "nqm_search_seconds": search}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for row in rows:
        extra = f"  ({row['model_epochs']:,} model-epochs)" if "model_epochs" in row else ""
        print(f"{row['seconds']:8.2f} s  {row['name']:22} {row['command']}{extra}")
    print(f"{search:8.2f} s  the NQM search alone, in process")


if __name__ == "__main__":
    main()
