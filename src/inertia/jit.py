"""How inertia's compiled CPU kernels (numba) are targeted, cached and shipped, so that a first run does not wait
for a compiler.

- **Target.** On a CPU with AVX-512 the kernels are compiled for the portable ``x86-64-v4`` target (AVX-512 F,
  BW, CD, DQ, VL) rather than for the exact CPU model, measured as fast here: code compiled on one AVX-512
  machine (an AMD EPYC, an Intel Xeon) then runs on any other. This is numba's setting for the whole process
  (made before anything compiles, unless ``NUMBA_CPU_NAME`` or ``NUMBA_CPU_FEATURES`` is set); without
  AVX-512, numba's own choice stands.
- **Cache.** One folder per numba version and target, wherever inertia is installed: ``NUMBA_CACHE_DIR`` when
  set, else ``$XDG_CACHE_HOME/inertia`` (``~/.cache/inertia``), else, when that cannot be written, a folder in
  the temporary directory — so a read-only installation (owned by another user, a container image) still
  caches. The package's own folder is never written.
- **Shipped kernels.** The package carries the kernels compiled for that target for the signatures its
  commands use (float32 and float64; one hidden layer and deeper; :data:`ENTRY_POINTS`), built by
  ``python tools/build_kernels.py`` in a source checkout and copied into the cache on first use
  (``INERTIA_SHIPPED_KERNELS=0`` leaves them out). numba checks each against the source it was built from and
  its own version, and compiles anew where either differs, or on another target or Python version (about half
  a minute, the lanes kernel about 100 s; announced on stderr and to :func:`on_compile`'s listeners).
- **Source.** What a cached kernel is checked against is a hash of its file *and of every inertia module it
  imports*, directly or through another (:func:`sources`): a kernel compiles the functions it calls from those
  modules into itself, so a change to any of them makes it stale, which numba's own check (the kernel's file
  alone) would miss.

Import this module before anything compiles: every inertia module with numba code does. It sits at the
foundation of the package (the data orders of :mod:`inertia.shuffle` are compiled too) and imports nothing of
inertia.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import numba
from numba.core import caching, config, event

PACKAGE = Path(__file__).resolve().parent
SHIPPED = PACKAGE / "_jit"
TARGET = "x86-64-v4"
# The features of x86-64-v4, written out: numba keys its cache on the feature string as well as the name.
FEATURES = ("+64bit,+avx,+avx2,+avx512bw,+avx512cd,+avx512dq,+avx512f,+avx512vl,+bmi,+bmi2,+cmov,+crc32,+cx16,"
            "+cx8,+f16c,+fma,+fxsr,+lzcnt,+mmx,+movbe,+popcnt,+sahf,+sse,+sse2,+sse3,+sse4.1,+sse4.2,+ssse3,"
            "+xsave")


def _choose_target() -> None:
    if config.CPU_NAME or config.CPU_FEATURES:
        return
    import llvmlite.binding as llvm

    host = llvm.get_host_cpu_features()
    if all(host.get(feature[1:], False) for feature in FEATURES.split(",") if feature != "+64bit"):
        config.CPU_NAME, config.CPU_FEATURES = TARGET, FEATURES


def cache_root() -> Path:
    """The folder inertia's kernels are cached in (see the module docstring)."""
    tag = f"numba-{numba.__version__}-{config.CPU_NAME or 'host'}"
    candidates = []
    if config.CACHE_DIR:
        candidates.append(cache_root_in(Path(config.CACHE_DIR)))
    home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    candidates.append(Path(home) / "inertia" / tag)
    candidates.append(Path(tempfile.gettempdir()) / f"inertia-{os.getuid() if hasattr(os, 'getuid') else 0}" / tag)
    for path in candidates:
        if _writable(path):
            return path
    return candidates[-1]


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return False
    return True


_root: Path | None = None
_seed_lock = threading.Lock()


def _cache_path() -> Path:
    """The cache folder, created and seeded with the shipped kernels the first time it is asked for."""
    global _root
    with _seed_lock:
        if _root is None:
            root = cache_root()
            if SHIPPED.is_dir() and os.environ.get("INERTIA_SHIPPED_KERNELS", "1") != "0":
                for source in SHIPPED.iterdir():
                    if source.suffix in (".nbi", ".nbc") and not (root / source.name).exists():
                        shutil.copyfile(source, root / source.name)
            _root = root
    return _root


def _module_file(name: str) -> Path | None:
    """The file of inertia's module ``name``; None for another package's module or for a package (importing a
    name from a package runs its ``__init__``, whose code a kernel does not compile)."""
    parts = name.split(".")
    path = PACKAGE.joinpath(*parts[1:]).with_suffix(".py") if parts[0] == "inertia" and len(parts) > 1 else None
    return path if path is not None and path.is_file() else None


def _imports(path: Path) -> set[Path]:
    """The files of inertia's modules that ``path`` imports anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(file for file in map(_module_file, names) if file is not None)
    return found


@functools.cache
def sources(path: str) -> tuple[Path, ...]:
    """The file ``path`` and every inertia module it imports, directly or through another, in a fixed order."""
    seen: set[Path] = set()
    todo = [Path(path).resolve()]
    while todo:
        file = todo.pop()
        if file not in seen:
            seen.add(file)
            todo.extend(_imports(file))
    return tuple(sorted(seen))


@functools.cache
def _hash(files: tuple[tuple[Path, int, int], ...]) -> bytes:
    digest = hashlib.sha256()
    for file, _, _ in files:
        digest.update(file.relative_to(PACKAGE).as_posix().encode() + b"\0" + file.read_bytes())
    return digest.digest()


def source_stamp(path: str) -> bytes:
    """What a kernel in ``path`` is checked against: a hash of :func:`sources`' contents (recomputed when a
    file's time or size changes)."""
    files = sources(str(path))
    return _hash(tuple((file, *_signature(file)) for file in files))


def _signature(file: Path) -> tuple[int, int]:
    st = file.stat()
    return st.st_mtime_ns, st.st_size


class PackageCacheLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """numba's cache for functions defined in inertia's own modules, in any of its folders: in :func:`cache_root`,
    whatever the installation's path (numba's own locators key the folder on it). numba names a cached function
    by its file's stem, so no two of inertia's compiled modules share one."""

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno

    def get_cache_path(self):
        return str(_cache_path())

    def get_source_stamp(self):
        return source_stamp(self._py_file)

    @classmethod
    def from_function(cls, py_func, py_file):
        if not Path(py_file).resolve().is_relative_to(PACKAGE):
            return None
        return super().from_function(py_func, py_file)


def _install_locator() -> None:
    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
    if PackageCacheLocator not in impl._locator_classes:
        impl._locator_classes.insert(0, PackageCacheLocator)


_listeners: list[Callable[[str], None]] = []
# Kernels that take longer than most to compile, with the seconds measured on a 2-core Xeon (the announcement
# says so); the others take 10 to 30 s.
COMPILE_SECONDS = {"inertia.population.lane_kernels.train_epoch": 100}


class _CompileListener(event.Listener):
    """Tells :func:`on_compile`'s listeners, and the ``inertia`` logger (at INFO, which the command line
    prints on stderr), when one of inertia's kernels starts compiling (a cache load sends no such event)."""

    depth = 0

    def on_start(self, ev):
        dispatcher = ev.data.get("dispatcher")
        function = getattr(dispatcher, "py_func", None)
        if self.depth == 0 and function is not None and function.__module__.startswith("inertia."):
            name = f"{function.__module__}.{function.__name__}"
            logging.getLogger("inertia").info(
                "Compiling %s for this machine (once per installation and numba version; about %d s)...", name,
                COMPILE_SECONDS.get(name, 30))
            for listener in list(_listeners):
                listener(name)
        self.depth += 1

    def on_end(self, ev):
        self.depth -= 1


def on_compile(listener: Callable[[str], None]) -> Callable[[], None]:
    """Call ``listener(name)`` whenever one of inertia's kernels starts compiling in this process (not when
    it is loaded from the cache); returns a function that removes it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


_choose_target()
_install_locator()
event.register("numba:compile", _CompileListener())


# The compiled functions Python calls, as numba names their cache files (callees are linked into them); the
# package ships these, and tools/build_kernels.py builds them.
ENTRY_POINTS = ("kernels.train_epoch-", "deep_kernels.train_epoch-", "lane_kernels.train_epoch-",
                "shuffle._fill_all-", "init._fill-", "nqm_kernel.expected_losses-")


def cache_root_in(folder: Path) -> Path:
    """:func:`cache_root` under ``NUMBA_CACHE_DIR=folder``."""
    return folder / "inertia" / f"numba-{numba.__version__}-{config.CPU_NAME or 'host'}"


def describe() -> str:
    """Where this machine's compiled kernels are cached, for which target, and which shipped ones are there."""
    shipped = sorted(p.name for p in SHIPPED.glob("*.nbi")) if SHIPPED.is_dir() else []
    return "\n".join([
        f"cache: {cache_root()}", f"target: {config.CPU_NAME or 'this CPU (no AVX-512: compiled here)'}",
        f"numba: {numba.__version__}", f"shipped kernels ({SHIPPED}): {', '.join(shipped) or 'none'}",
        "To rebuild the shipped kernels after changing a compiled module, run `python tools/build_kernels.py` in a "
        "source checkout."])


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(prog="python -m inertia.jit", description=__doc__.split("\n\n")[0] + " Prints where "
                            "the kernels are cached and what was shipped; changes nothing.").parse_args()
    print(describe())
