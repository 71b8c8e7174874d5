"""The batch-size and step-size studies: how long each command takes here, in fresh processes (warm caches).

Rows (each the median of ``--repeats`` runs, plus what the study costs in model-epochs where it trains):

  inertia compare                         the lab's defaults, no figures or report (25 runs x 100 epochs)
  inertia compare --hold effective-lr     the same plus every nonzero momentum at lr·(1 − β) (45 runs)
  inertia reproduce nqm                   the noisy quadratic model over the notebook's grids, exactly
  inertia batch-study                     spiral, the defaults (11 batch sizes x 13 lrs x 2 optimizers x 3 seeds)

and, in this process, the NQM's search alone. For the study: the model-epochs it trained (each run's epochs up to
its target, or its whole budget), and so its rate.

    python benchmarks/studies.py [--json] [--repeats 1] [--skip-study]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(command: list[str], repeats: int) -> dict:
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        seconds.append(time.perf_counter() - started)
    return {"command": " ".join(command[2:]) if command[:2] == [sys.executable, "-m"] else " ".join(command),
            "seconds": statistics.median(seconds), "runs": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip-study", action="store_true", help="leave out the spiral batch study (~1.5 min)")
    args = parser.parse_args()
    cli = [sys.executable, "-m", "inertia"]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        rows.append(timed([*cli, "compare", "--json", "--no-plots", "--no-report", "--out", str(out / "a")],
                          args.repeats))
        rows.append(timed([*cli, "compare", "--json", "--no-plots", "--no-report", "--hold", "effective-lr",
                           "--out", str(out / "b")], args.repeats))
        rows.append(timed([*cli, "reproduce", "nqm", "--json", "--out", str(out / "c")], args.repeats))
        if not args.skip_study:
            rows.append(timed([*cli, "batch-study", "--json", "--no-report", "--out", str(out / "d")], args.repeats))
            import pandas as pd

            trials = pd.read_csv(out / "d" / "trials.csv")
            trained = trials.epochs_to_target.fillna(trials.epochs)
            rows[-1]["model_epochs"] = int(trained.sum())
            rows[-1]["model_epochs_per_second"] = float(trained.sum() / rows[-1]["seconds"])
    from inertia.studies import nqm

    started = time.perf_counter()
    nqm.batch_scaling()
    search = time.perf_counter() - started
    result = {"machine": platform.processor() or platform.machine(), "python": platform.python_version(),
              "rows": rows, "nqm_search_seconds": search}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for row in rows:
        extra = f"  ({row['model_epochs']:,} model-epochs)" if "model_epochs" in row else ""
        print(f"{row['seconds']:8.2f} s  {row['command']}{extra}")
    print(f"{search:8.2f} s  the NQM search alone, in process")


if __name__ == "__main__":
    main()
