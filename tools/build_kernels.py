"""Build the compiled CPU kernels inertia ships (src/inertia/_jit), so that a first run loads them instead of
waiting for numba to compile (see inertia.jit for the target and the cache).

Run it after changing a compiled module (population/kernels.py, population/deep_kernels.py,
population/lane_kernels.py, shuffle.py, init.py, studies/nqm_kernel.py, or what they call) and commit the files it
writes; tests/test_jit.py fails while a shipped kernel is older than its source. It compiles, in a fresh process with
an empty cache, every signature inertia's commands use (float32 and float64, one hidden layer and deeper), for the
portable x86-64-v4 target when this CPU has AVX-512. About four minutes.

    python tools/build_kernels.py [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from inertia import jit


def compile_all() -> None:
    """Call every entry point with the signatures the commands use (in this process, into its cache)."""
    import numpy as np
    import torch

    from inertia import data, shuffle
    from inertia.population import Member, train_population
    from inertia.studies import nqm

    dataset = data.spiral(classes=3, points=10, seed=0)
    for layers in ([2, 4, 3], [2, 4, 4, 3]):
        for dtype in (torch.float32, torch.float64):
            for engine in ("kernel", "lanes"):
                train_population(dataset, layers, [Member(0.1, 0.9)], epochs=1, dtype=dtype, engine=engine)
    shuffle.orders(np.arange(2), 0, 5)
    nqm.Dynamics(nqm.problem(4), 0.1, 0.5).losses([1], [1])


def build(out: Path) -> list[str]:
    """Compile the entry points in a fresh process with an empty cache and copy their files into ``out``
    (replacing what was there); returns the names written."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.iterdir():
        if stale.suffix in (".nbi", ".nbc"):
            stale.unlink()
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ, NUMBA_CACHE_DIR=scratch, INERTIA_SHIPPED_KERNELS="0")
        subprocess.run([sys.executable, __file__, "--compile-here"], env=env, check=True)
        written = []
        for path in sorted(jit.cache_root_in(Path(scratch)).iterdir()):
            if path.name.startswith(jit.ENTRY_POINTS):
                shutil.copyfile(path, out / path.name)
                written.append(path.name)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=jit.SHIPPED, help=f"where to write (default: {jit.SHIPPED})")
    parser.add_argument("--compile-here", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.compile_here:
        compile_all()
        return
    names = build(args.out)
    print(f"{len(names)} files in {args.out} for numba {jit.numba.__version__}, Python "
          f"{sys.version_info.major}.{sys.version_info.minor}, target {jit.config.CPU_NAME or 'host'}")


if __name__ == "__main__":
    main()
