"""inertia.jit: the shipped kernels are current and used on a cold start, a compile is announced, and a
read-only cache location still trains (correctly), and the compiled epochs let other threads run."""

import json
import os
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path

import numba
import numpy as np
import pytest
from tolerances import F32_TRAJECTORY

from inertia import jit

SHIPPED = sorted(jit.SHIPPED.glob("*.nbi"))


def shipped_fits_here() -> bool:
    """Whether the shipped kernels can load in this environment: built for this numba, Python and target."""
    if not SHIPPED or jit.numba.config.CPU_NAME != jit.TARGET or sys.version_info[:2] != (3, 11):
        return False
    with SHIPPED[0].open("rb") as f:
        return pickle.load(f) == numba.__version__


def run(code: str, **env) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                         env={**os.environ, **env})
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_no_two_compiled_modules_share_a_name():
    """numba names a cached function by its file's stem (not its folder), and inertia caches every module's
    kernels in one folder: two compiled modules of one name would overwrite each other's cache."""
    compiled = [p for p in jit.PACKAGE.rglob("*.py") if "@njit(cache=True" in p.read_text()]
    stems = [p.stem for p in compiled]
    assert len(compiled) >= 4 and len(set(stems)) == len(stems), sorted(stems)


def test_a_kernel_is_stale_when_a_module_it_imports_changes(tmp_path):
    """The lanes kernel compiles lane_fused's functions into itself: a change there (and not in the kernel's
    own file) changes what the cached kernel is checked against; a module it does not import does not."""
    import shutil

    copy = tmp_path / "inertia"
    shutil.copytree(jit.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "_jit"))
    stamp = ("import sys; from inertia import jit; "
             "print(jit.source_stamp(str(jit.PACKAGE / 'population' / 'lane_kernels.py')).hex())")
    before = run(stamp, PYTHONPATH=str(tmp_path))
    (copy / "views" / "report.py").write_text((copy / "views" / "report.py").read_text() + "\n# an edit\n")
    assert run(stamp, PYTHONPATH=str(tmp_path)) == before
    fused = copy / "population" / "lane_fused.py"
    fused.write_text(fused.read_text() + "\n# an edit\n")
    assert run(stamp, PYTHONPATH=str(tmp_path)) != before
    names = {path.name for path in jit.sources(str(jit.PACKAGE / "population" / "lane_kernels.py"))}
    assert {"lane_kernels.py", "lane_fused.py", "lane_products.py", "lanes.py", "kernels.py"} <= names
    assert "__init__.py" not in names and "report.py" not in names


def test_every_entry_point_is_shipped():
    names = {path.name.split("-")[0] + "-" for path in SHIPPED}
    assert names == set(jit.ENTRY_POINTS)


@pytest.mark.parametrize("index", SHIPPED, ids=lambda p: p.name)
def test_shipped_kernels_were_built_from_the_current_source(index):
    """A kernel edited without `python tools/build_kernels.py` would be compiled again on every cold start."""
    with index.open("rb") as f:
        version = pickle.load(f)
        stamp, overloads = pickle.loads(f.read())
    module = index.name.split(".")[0]
    source = next(jit.PACKAGE.rglob(f"{module}.py"))
    assert stamp == jit.source_stamp(str(source)), \
        f"{index.name} is stale: run `python tools/build_kernels.py` and commit src/inertia/_jit"
    assert overloads, index.name
    assert version == numba.__version__ or pytest.skip(f"shipped for numba {version}, installed {numba.__version__}")


COLD_RUN = """
import json, time
from inertia import jit
compiled = []
jit.on_compile(compiled.append)
from inertia import data
from inertia.population import Member, train_population
started = time.perf_counter()
result = train_population(data.spiral(points=20, seed=0), [2, 8, 3], [Member(0.1, 0.9, seed=1)], epochs=2)
print(json.dumps({"compiled": compiled, "seconds": time.perf_counter() - started, "root": str(jit.cache_root()),
                  "loss": list(result.histories[0].loss)}))
"""


def test_a_cold_start_loads_the_shipped_kernel_and_compiles_nothing(tmp_path):
    if not shipped_fits_here():
        pytest.skip("the shipped kernels are for Python 3.11, their numba version, on an AVX-512 (x86-64-v4) CPU")
    out = json.loads(run(COLD_RUN, NUMBA_CACHE_DIR=str(tmp_path / "numba"), XDG_CACHE_HOME=str(tmp_path / "xdg")))
    assert out["compiled"] == []
    assert Path(out["root"]).is_relative_to(tmp_path)


def test_a_compile_is_announced(tmp_path):
    out = run("""
import logging, numpy as np
logging.basicConfig(level=logging.INFO, format="%(message)s")
from inertia import jit, shuffle
heard = []
jit.on_compile(heard.append)
shuffle.orders(np.arange(3), 0, 10)
print(heard)
""", NUMBA_CACHE_DIR=str(tmp_path), INERTIA_SHIPPED_KERNELS="0")
    assert "inertia.shuffle._fill_all" in out


def test_an_installation_on_a_read_only_file_system_still_trains_correctly(read_only_folder, tmp_path):
    read_only_folder = read_only_folder[1]
    """The package on a read-only file system with every cache location there too (as for an installation
    owned by another user): nothing is written beside it, the kernels cache in a temporary folder instead,
    the shipped kernel is used, and training is what fit does."""
    import shutil

    shutil.copytree(jit.PACKAGE, read_only_folder.parent / "rw" / "inertia",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {"PYTHONPATH": str(read_only_folder), "NUMBA_CACHE_DIR": str(read_only_folder / "cache"),
           "XDG_CACHE_HOME": str(read_only_folder / "cache"), "TMPDIR": str(tmp_path)}
    out = json.loads(run(COLD_RUN, **env))
    assert Path(out["root"]).is_relative_to(tmp_path)
    assert not any(p.name == "__pycache__" or p.suffix in (".nbi", ".nbc") for p in read_only_folder.rglob("*")
                   if "_jit" not in p.parts)
    if shipped_fits_here():
        assert out["compiled"] == []
    import torch

    from inertia import data
    from inertia.models import MLP
    from inertia.optim import Momentum
    from inertia.train import fit

    model = MLP([2, 8, 3], seed=1)
    expected = fit(model, data.spiral(points=20, seed=0), Momentum(model.parameters(), lr=0.1, momentum=0.9), 2,
                   20, seed=1)
    torch.testing.assert_close(torch.tensor(out["loss"]), torch.tensor(expected.loss), rtol=F32_TRAJECTORY,
                               atol=F32_TRAJECTORY, check_dtype=False)


def test_python_m_inertia_jit_describes_and_changes_nothing(tmp_path):
    before = {p.name: p.stat().st_mtime_ns for p in jit.SHIPPED.iterdir()}
    helped = subprocess.run([sys.executable, "-m", "inertia.jit", "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "usage: python -m inertia.jit" in helped.stdout
    told = run("import runpy; runpy.run_module('inertia.jit', run_name='__main__')", NUMBA_CACHE_DIR=str(tmp_path))
    assert f"cache: {jit.cache_root_in(tmp_path)}" in told and "tools/build_kernels.py" in told
    assert {p.name: p.stat().st_mtime_ns for p in jit.SHIPPED.iterdir()} == before


@pytest.mark.parametrize(("engine", "layers"), [("kernel", [2, 50, 3]), ("kernel", [2, 24, 24, 3]),
                                                ("lanes", [2, 50, 3])])
def test_the_kernels_let_other_threads_run_while_they_train(engine, layers):
    """An epoch trains its members in numba's parallel regions, which run without the GIL: a thread of the same
    process (a store's heartbeat renewing its claims, a tuning's checkpoint being written, the lab's server) goes
    on while it trains, rather than waiting for the epoch to end. Counted inside the engine's epoch calls: a
    thread that needed the GIL could tick at most at the edges of a call, not every 2 ms through it."""
    from inertia import data
    from inertia.population import Members, train_population
    from inertia.population.kernel_engine import KernelChunk

    dataset = data.spiral(seed=0)
    members = Members.table(seed=np.arange(4096), lr=np.full(4096, 0.1), momentum=np.full(4096, 0.9))
    train_population(dataset, layers, members.rows(0, 16), epochs=1, engine=engine)  # loaded, not timed
    ticks, done, calls = [0], threading.Event(), []
    epoch = KernelChunk.epoch

    def counted(self, *args):
        before, started = ticks[0], time.perf_counter()
        try:
            return epoch(self, *args)
        finally:
            calls.append((ticks[0] - before, time.perf_counter() - started))

    def tick():
        while not done.is_set():
            ticks[0] += 1
            time.sleep(0.002)

    thread = threading.Thread(target=tick)
    thread.start()
    try:
        KernelChunk.epoch = counted
        train_population(dataset, layers, members, epochs=2, engine=engine)
    finally:
        KernelChunk.epoch = epoch
        done.set()
        thread.join()
    assert max(ticks for ticks, _ in calls) >= 5, calls
