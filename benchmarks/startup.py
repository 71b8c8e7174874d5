"""Start-up: what a first run costs against a second, in fresh processes.

*Cold* runs point every cache inertia and its libraries fill at an empty folder: numba's (``NUMBA_CACHE_DIR``
and ``XDG_CACHE_HOME``, where inertia caches its kernels), matplotlib's font cache (``MPLCONFIGDIR``) and
Triton's (``TRITON_CACHE_DIR``); *warm* runs reuse the folders a cold run filled. Python's own bytecode is
left alone (a fresh installation has it for every package pip installed). Rows:

  import inertia                      python -c "import inertia"
  inertia --help                      and inertia compare --help
  inertia compare                     the defaults, plots and report included (5 momenta x 5 seeds x 100 epochs)
  inertia compare, no shipped kernels the same cold, with the kernels the package ships turned off
                                      (INERTIA_SHIPPED_KERNELS=0): what a machine they do not fit pays
  inertia sweep                       a 24-configuration spec (3 lr x 4 momenta x 2 seeds, 20 epochs)
  first population call on CUDA       when a GPU is present (Triton compiles its kernels)

    python benchmarks/startup.py [--json] [--repeats 3]
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

SPEC = """
[data]
name = "spiral"
[model]
layers = [2, 50, 3]
[train]
epochs = 20
seeds = 2
[grid]
lr = [0.03, 0.1, 0.3]
momentum = [0.0, 0.5, 0.9, 0.95]
"""

GPU_CALL = ("from inertia import data; from inertia.population import Member, train_population; "
            "train_population(data.spiral(seed=0), [2, 50, 3], [Member(0.1, 0.9, seed=s) for s in range(100)], "
            "epochs=2, device='cuda')")


def caches(root: Path) -> dict:
    return {"NUMBA_CACHE_DIR": str(root / "numba"), "XDG_CACHE_HOME": str(root / "xdg"),
            "MPLCONFIGDIR": str(root / "matplotlib"), "TRITON_CACHE_DIR": str(root / "triton")}


def timed(command: list[str], env: dict, cwd: Path) -> float:
    started = time.perf_counter()
    out = subprocess.run(command, env={**os.environ, **env}, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{out.stderr[-2000:]}")
    return seconds


def cold_and_warm(name: str, command: list[str], repeats: int, work: Path, extra: dict | None = None) -> dict:
    """``repeats`` cold runs (each with fresh cache folders) and, after each, one warm run on what it filled;
    medians."""
    cold, warm = [], []
    for i in range(repeats):
        root = work / f"{name.replace(' ', '-')}-{i}"
        env = {**caches(root), **(extra or {})}
        out = work / f"out-{name.replace(' ', '-')}-{i}"
        cold.append(timed([*command, *(["--out", str(out)] if "compare" in command else [])], env, work))
        warm.append(timed([*command, *(["--out", str(out)] if "compare" in command else [])], env, work))
    return {"name": name, "cold_s": statistics.median(cold), "warm_s": statistics.median(warm),
            "ratio": statistics.median(cold) / statistics.median(warm), "cold_runs": cold, "warm_runs": warm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks.* importable when run as a script
    from benchmarks.common import cpu_model

    inertia = str(Path(sys.executable).with_name("inertia"))
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        (work / "small.toml").write_text(SPEC)
        for name, command, extra in [
            ("import inertia", [sys.executable, "-c", "import inertia"], None),
            ("inertia --help", [inertia, "--help"], None),
            ("inertia compare --help", [inertia, "compare", "--help"], None),
            ("inertia compare", [inertia, "compare"], None),
            ("inertia compare, no shipped kernels", [inertia, "compare"], {"INERTIA_SHIPPED_KERNELS": "0"}),
            ("inertia sweep", [inertia, "sweep", "small.toml", "--store", "small.db"], None),
        ]:
            if name == "inertia sweep":
                for stale in work.glob("small.db*"):
                    stale.unlink()
                cold, warm = [], []
                for i in range(args.repeats):
                    env = caches(work / f"sweep-{i}")
                    for stale in work.glob("small.db*"):
                        stale.unlink()
                    cold.append(timed(command, env, work))
                    for stale in work.glob("small.db*"):
                        stale.unlink()
                    warm.append(timed(command, env, work))
                row = {"name": name, "cold_s": statistics.median(cold), "warm_s": statistics.median(warm),
                       "ratio": statistics.median(cold) / statistics.median(warm), "cold_runs": cold,
                       "warm_runs": warm}
            else:
                row = cold_and_warm(name, command, args.repeats, work, extra)
            rows.append(row)
            report(args, row)
        try:
            import torch

            if torch.cuda.is_available():
                row = cold_and_warm("first population call on CUDA", [sys.executable, "-c", GPU_CALL],
                                    args.repeats, work)
                rows.append(row)
                report(args, row)
        except ImportError:
            pass
    if args.json:
        print(json.dumps({"machine": {"python": platform.python_version(), "cpu": cpu_model(),
                                      "cpus": os.cpu_count()}, "rows": rows}, indent=2))


def report(args, row) -> None:
    print(f"{row['name']:<38} cold {row['cold_s']:6.2f} s   warm {row['warm_s']:6.2f} s   "
          f"cold/warm {row['ratio']:.2f}", file=sys.stderr if args.json else sys.stdout, flush=True)


if __name__ == "__main__":
    main()
