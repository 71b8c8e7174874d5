"""Old import paths. Modules that moved into the layer folders still import from their old names
(``import inertia.rules``, ``from inertia.comparison import compare``, ``inertia.store.open``), each with one
``DeprecationWarning`` that names the new home; what they give are the new modules' own objects.

:data:`MOVED` is the one table of old names: each maps to the modules that now hold what it held. An old name
with one new home is that module itself (so monkeypatching, pickles and numba's cached code that name the old
module all reach the real one); one whose contents were split is an :class:`OldPath` that searches the new
modules in order. ``inertia/__init__.py`` installs the finder, so the old names work from the first
``import inertia``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

MOVED: dict[str, tuple[str, ...]] = {
    "inertia.rules": ("inertia.optim.rules", "inertia.optim.update", "inertia.optim.schedules", "inertia.optim.checks"),
    "inertia.forms": ("inertia.optim.forms",),
    "inertia.kernels": ("inertia.population.kernels",),
    "inertia.deep_kernels": ("inertia.population.deep_kernels",),
    "inertia.gpu_kernels": ("inertia.population.gpu_kernels",),
    "inertia.vecmath": ("inertia.population.vecmath",),
    "inertia.comparison": ("inertia.studies.comparison", "inertia.views.conclusions"),
    "inertia.reproduce": ("inertia.studies.reproduce",),
    "inertia.batch_study": ("inertia.studies.batch_study",),
    "inertia.nqm": ("inertia.studies.nqm",),
    "inertia.nqm_kernel": ("inertia.studies.nqm_kernel",),
    "inertia.valley": ("inertia.studies.valley",),
    "inertia.theory": ("inertia.studies.theory",),
    "inertia.velocity": ("inertia.studies.velocity",),
    "inertia.stability": ("inertia.studies.stability",),
    "inertia.experiment": ("inertia.sweeps.spec",),
    "inertia.sweep": ("inertia.sweeps.run",),
    "inertia.store": ("inertia.sweeps.store",),
    "inertia.results": ("inertia.sweeps.results",),
    "inertia.report": ("inertia.views.report", "inertia.views.conclusions", "inertia.views.charts",
                       "inertia.views.sweep_report", "inertia.views.page", "inertia.plots"),
    "inertia.study_report": ("inertia.views.study_report",),
    "inertia.sweep_plots": ("inertia.views.sweep_plots",),
    "inertia.tensorboard": ("inertia.views.tensorboard",),
}


class OldPath(types.ModuleType):
    """A module that answers for an old name: every attribute comes from the first of its new modules that has
    it (imported on first use)."""

    def __init__(self, name: str, targets: tuple[str, ...]):
        super().__init__(name, f"Moved: see {', '.join(targets)}.")
        self.__targets = targets

    def __getattr__(self, attribute: str):
        if attribute.startswith("__") and attribute != "__all__":
            raise AttributeError(attribute)
        modules = [importlib.import_module(target) for target in self.__targets]
        if attribute == "__all__":
            return sorted({name for module in modules for name in _public(module)})
        for module in modules:
            if hasattr(module, attribute):
                return getattr(module, attribute)
        raise AttributeError(f"module {self.__name__!r} has no attribute {attribute!r} "
                             f"(it moved to {', '.join(self.__targets)})")

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self.__getattr__("__all__")))


def _public(module) -> list[str]:
    return list(getattr(module, "__all__", None) or (n for n in vars(module) if not n.startswith("_")))


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the old names (and only them) and loads each as its new module, or as an :class:`OldPath`."""

    def __init__(self):
        self._specs = {}

    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        warn(spec.name)
        targets = MOVED[spec.name]
        if len(targets) == 1:  # the import system keeps the module's own name and file; its spec is put back below
            module = importlib.import_module(targets[0])
            self._specs[spec.name] = module.__spec__
            return module
        return OldPath(spec.name, targets)

    def exec_module(self, module):
        if not isinstance(module, OldPath):
            module.__spec__ = self._specs.pop(module.__spec__.name)


def warn(name: str) -> None:
    """The deprecation warning of old name ``name``, attributed to the code that used it."""
    *others, last = MOVED[name]
    where = f"{', '.join(others)} and {last}" if others else last
    warnings.warn(f"{name} has moved to {where}; import from there (the old name will be removed in a future "
                  "version)", DeprecationWarning, stacklevel=_caller())


def _caller() -> int:
    """The stack level of the first frame outside this module, the package's ``__init__`` and ``importlib``,
    counted the way ``warnings.warn`` counts (it passes over the import system's own frames itself)."""
    level, frame = 2, sys._getframe(2)  # 2: warn's caller
    while frame is not None:
        internal = "importlib" in frame.f_code.co_filename and "_bootstrap" in frame.f_code.co_filename
        if not internal and frame.f_code.co_filename != __file__ \
                and frame.f_globals.get("__name__") not in ("inertia", "importlib"):
            break
        frame, level = frame.f_back, level + (0 if internal else 1)
    return level


def old_module(name: str):
    """``inertia.<name>`` for an old name given as an attribute of the package (``inertia.rules``), imported the way
    ``import inertia.rules`` would, or ``None`` when ``name`` is not an old name."""
    full = f"inertia.{name}"
    return importlib.import_module(full) if full in MOVED else None


def install() -> None:
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
