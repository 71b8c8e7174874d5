"""The live lab's settings: read from a URL's query (what the page sends and what its address bar keeps),
checked with errors that name the control, turned back into a query and into the arguments of
:func:`inertia.compare`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from urllib.parse import urlencode

DATASETS = ("spiral", "moons", "circles", "blobs", "digits", "upload")
FORMS = ("pytorch", "polyak", "ema")
# A request may train at most this many (member · epoch · example · weight) units: the defaults on every data set
# fit (the spiral's 5 momenta × 5 seeds × 100 epochs × 1,500 examples × 303 weights = 1.1e9; digits' 1.7e10),
# and the largest request takes some 5-10 s on a 2-core CPU.
WORK_BUDGET = 2.5e10
# And a network of at most this many weights (digits' default has 3,760; MNIST's shape [784, 50, 10] 39,760),
# layers at most this wide: a request's memory (its models, their snapshots, the decision regions) stays within
# a few hundred MB whatever it asks, checked before anything is built.
MAX_WEIGHTS = 100_000
MAX_WIDTH = 4_096


class SettingsError(ValueError):
    """A setting the lab cannot use; the message names the control and what is allowed."""


@dataclass(frozen=True)
class LabSettings:
    dataset: str = "spiral"
    upload: str = ""  # the id of an uploaded CSV when dataset == "upload"
    layers: str = ""  # "" is [features, 50, classes]
    activation: str = "relu"
    lr: float = 0.1
    momenta: tuple[float, ...] = (0.0, 0.1, 0.2, 0.4, 0.5)
    form: str = "pytorch"
    nesterov: bool = False
    batch_size: int = 20
    epochs: int = 100
    seeds: int = 5
    hold: str = "lr"
    schedule: str = ""  # "" is a constant rate; else optim.schedules' text, e.g. "onecycle" or "cosine:warmup=300"
    momentum_schedules: str = ""  # comma-separated momentum schedules, each an arm: "sutskever:mu_max=0.99,demon"

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> LabSettings:
        """Settings from a query (missing keys take the defaults); :class:`SettingsError` for a bad value."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(query) - known - {"client"})
        if unknown:
            raise SettingsError(f"unknown setting(s) {unknown}; known: {sorted(known)}")
        values = {}
        for name in ("dataset", "upload", "layers", "activation", "form", "hold", "schedule", "momentum_schedules"):
            if name in query:
                values[name] = str(query[name]).strip()
        for name in ("lr",):
            if name in query:
                values[name] = _number(name, query[name])
        for name in ("batch_size", "epochs", "seeds"):
            if name in query:
                values[name] = _integer(name, query[name])
        if "momenta" in query:
            text = str(query["momenta"])
            values["momenta"] = tuple(_number("momenta", v) for v in text.split(",") if v.strip())
        if "nesterov" in query:
            values["nesterov"] = str(query["nesterov"]).lower() in ("1", "true", "on", "yes")
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        if self.dataset not in DATASETS:
            raise SettingsError(f"dataset must be one of {list(DATASETS)}, got {self.dataset!r}")
        if self.dataset == "upload" and not self.upload:
            raise SettingsError("dataset 'upload' needs a CSV file: choose one with the upload control")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise SettingsError(f"learning rate must be a finite number > 0, got {self.lr:g}")
        if not self.momenta:
            raise SettingsError("momenta must list at least one value, e.g. 0,0.5,0.9")
        for m in self.momenta:
            if not 0 <= m < 1:
                raise SettingsError(f"every momentum must be in [0, 1), got {m:g}")
        if len(set(self.momenta)) != len(self.momenta):
            raise SettingsError(f"momenta must be distinct, got {list(self.momenta)}")
        if len(self.momenta) > 8:
            raise SettingsError(f"at most 8 momenta at once, got {len(self.momenta)}")
        if self.form not in FORMS:
            raise SettingsError(f"form must be one of {list(FORMS)}, got {self.form!r}")
        if self.nesterov and self.form != "pytorch":
            raise SettingsError("Nesterov momentum is offered with the pytorch form only")
        if self.hold not in ("lr", "effective-lr"):
            raise SettingsError(f"hold must be 'lr' (equal learning rate) or 'effective-lr', got {self.hold!r}")
        for name, low, high in (("batch_size", 1, 100_000), ("epochs", 1, 2_000), ("seeds", 1, 20)):
            value = getattr(self, name)
            if not low <= value <= high:
                raise SettingsError(f"{name.replace('_', ' ')} must be an integer from {low} to {high}, got {value}")
        if self.layers:
            widths = self.layer_widths()
            if len(widths) < 2 or any(w < 1 for w in widths):
                raise SettingsError(f"layers must be positive widths, input first and classes last, e.g. 2,50,3; "
                                    f"got {self.layers!r}")
            if max(widths) > MAX_WIDTH or len(widths) > 8:
                raise SettingsError(f"the lab trains layers of at most {MAX_WIDTH:,} units and at most 6 hidden "
                                    f"layers; got {self.layers!r}")
        self._check_schedules()

    def _check_schedules(self) -> None:
        """The schedules' text read as ``inertia compare`` reads it (their lengths are checked against the
        training's once the data set is known), the control named in the message."""
        from inertia.studies.comparison.config import CompareConfig

        if self.schedule:
            if self.hold == "effective-lr":
                raise SettingsError("learning-rate schedule: comparing at equal effective lr trains each momentum "
                                    "at the constant rate lr·(1 − β); choose a constant rate or equal lr")
            try:
                CompareConfig(lr=self.lr, schedule=self.schedule)
            except ValueError as exc:
                raise SettingsError(f"learning-rate schedule: {exc}") from None
        arms = self.momentum_schedule_texts()
        try:
            CompareConfig(momentum_schedules=tuple(arms))
        except ValueError as exc:
            raise SettingsError(f"momentum schedules: {exc}") from None
        if len(self.momenta) + len(arms) > 8:
            raise SettingsError(f"at most 8 curves at once (momenta and momentum schedules), got "
                                f"{len(self.momenta) + len(arms)}")

    def momentum_schedule_texts(self) -> list[str]:
        return [text.strip() for text in self.momentum_schedules.split(",") if text.strip()]

    def layer_widths(self) -> list[int]:
        try:
            return [int(v) for v in self.layers.split(",") if v.strip()]
        except ValueError:
            raise SettingsError(f"layers must be comma-separated integers such as 2,50,3; "
                                f"got {self.layers!r}") from None

    def to_query(self) -> str:
        values = asdict(self)
        values["momenta"] = ",".join(f"{m:g}" for m in self.momenta)
        values["nesterov"] = "1" if self.nesterov else "0"
        values["lr"] = f"{self.lr:g}"
        return urlencode(values)

    def compare_arguments(self, dataset) -> dict:
        """Keyword arguments of :func:`inertia.compare` for these settings on ``dataset`` (a Dataset)."""
        return {"momenta": list(self.momenta), "dataset": dataset, "layers": self.layer_widths() or None,
                "lr": self.lr, "batch_size": self.batch_size, "epochs": self.epochs, "seeds": self.seeds,
                "activation": self.activation, "form": self.form, "nesterov": self.nesterov, "hold": self.hold,
                "schedule": self.schedule or None, "momentum_schedules": self.momentum_schedule_texts(),
                "engine": "population", "device": "cpu"}

    def check_work(self, samples: int, weights: int, command: str) -> None:
        """:class:`SettingsError` when the comparison is larger than one request may ask for (its network, or
        its work); the message names ``command``, which runs it from the command line."""
        if weights > MAX_WEIGHTS:
            raise SettingsError(f"this network has {weights:,} weights; the lab trains networks of at most "
                                f"{MAX_WEIGHTS:,} (fewer or narrower layers), or run it from the command line: "
                                f"{command}")
        runs = (len(self.momenta) + len(self.momentum_schedule_texts())) * self.seeds
        if self.hold == "effective-lr":
            runs += sum(m > 0 for m in self.momenta) * self.seeds
        work = runs * self.epochs * samples * weights
        if work > WORK_BUDGET:
            raise SettingsError(
                f"this comparison is {work / WORK_BUDGET:.1f}x the work one change may start ({runs} runs × "
                f"{self.epochs} epochs × {samples:,} examples × {weights:,} weights); use fewer seeds, momenta or "
                f"epochs or a smaller network, or run it from the command line: {command}")


def _number(name: str, text) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise SettingsError(f"{name.replace('_', ' ')} must be a number, got {text!r}") from None
    return value


def _integer(name: str, text) -> int:
    try:
        return int(str(text))
    except ValueError:
        raise SettingsError(f"{name.replace('_', ' ')} must be an integer, got {text!r}") from None
