"""Steps to a target against batch size, for plain SGD and momentum, on a real network (Shallue et al. 2018's
protocol on inertia's population engine).

For every batch size B the whole grid — learning rates × (0 and the momenta) × seeds — is one population, trained
for at most ``min(max_epochs, ⌈max_steps / steps per epoch⌉)`` epochs (a run stops once it reaches the target:
``train_population(until=...)``) with reshuffled minibatches (``⌈N/B⌉`` steps per epoch, the last one
partial). A run's **steps to target** is the first epoch at whose end the full-data training metric (for a
``test_`` target: the held-out split's) reaches the target, times the steps per epoch: exact at epoch ends, so
an upper bound within one epoch (within ⌈N/B⌉ steps). Runs that do not reach it within the budget, or diverge,
count as not reaching it.

Per optimizer and batch size the **best** grid point is the one with the fewest mean steps over seeds among
those where every seed reached the target (plain SGD: momentum 0 over the learning rates; momentum: the
learning rates × the momenta). Its interval is a bootstrap over seeds that redoes the choice in every resample,
so it includes the luck of picking the best of many. The **critical batch size** (the end of near-perfect
scaling, :func:`inertia.studies.nqm.critical_batch_size`) is bootstrapped the same way. A best learning rate at an
edge of the grid is flagged: the grid should be widened there.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from inertia import data as data_module
from inertia import outcome
from inertia.arguments import POPULATION_ACTIVATIONS, check_layers, layers_for
from inertia.data import Dataset
from inertia.folders import writing
from inertia.studies import nqm

TARGETS = outcome.TARGETS
OUTPUT_FILES = ("trials.csv", "best.csv", "batch_study.json", "batch_study.png", "report.html")


@dataclass(frozen=True)
class StudyConfig:
    """Everything that determines a batch-size study's result."""

    dataset: str = "spiral"
    layers: tuple[int, ...] | None = None
    activation: str = "relu"
    batch_sizes: tuple[int, ...] = tuple(2**k for k in range(0, 11))
    learning_rates: tuple[float, ...] = tuple(0.01 * 2.0**k for k in range(-2, 11))
    momenta: tuple[float, ...] = (0.9,)
    seeds: tuple[int, ...] = (0, 1, 2)
    target: str = "loss"
    target_value: float = 0.1
    max_steps: int = 60_000
    max_epochs: int = 3_000
    data_seed: int = 0
    bootstrap: int = 1000

    def __post_init__(self) -> None:
        def positive_ints(name):
            values = tuple(getattr(self, name))
            if not values or any(isinstance(v, bool) or int(v) != v or v < 1 for v in values):
                raise ValueError(f"{name} must be a non-empty list of positive integers, got {list(values)}")
            if len(set(values)) != len(values):
                raise ValueError(f"{name} must be distinct, got {list(values)}")
            return tuple(sorted(int(v) for v in values))

        object.__setattr__(self, "batch_sizes", positive_ints("batch_sizes"))
        rates = tuple(float(v) for v in self.learning_rates)
        if not rates or any(not (math.isfinite(v) and v > 0) for v in rates) or len(set(rates)) != len(rates):
            raise ValueError(f"learning_rates must be distinct finite numbers > 0, got {list(rates)}")
        object.__setattr__(self, "learning_rates", tuple(sorted(rates)))
        momenta = tuple(float(m) for m in self.momenta)
        if not momenta or any(not 0 < m < 1 for m in momenta) or len(set(momenta)) != len(momenta):
            raise ValueError(f"momenta must be distinct values in (0, 1) (plain SGD is always included), "
                             f"got {list(momenta)}")
        object.__setattr__(self, "momenta", tuple(sorted(momenta)))
        seeds = tuple(int(s) for s in self.seeds)
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be a non-empty list of distinct integers, got {list(self.seeds)}")
        object.__setattr__(self, "seeds", seeds)
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {list(TARGETS)}, got {self.target!r}")
        if self.target.endswith("accuracy") and not 0 < self.target_value <= 1:
            raise ValueError(f"target_value for accuracy must be in (0, 1], got {self.target_value}")
        if self.target.endswith("loss") and not (math.isfinite(self.target_value) and self.target_value > 0):
            raise ValueError(f"target_value for loss must be a finite number > 0, got {self.target_value}")
        for name in ("max_steps", "max_epochs", "bootstrap"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.activation not in POPULATION_ACTIVATIONS:
            raise ValueError(f"activation must be one of {POPULATION_ACTIVATIONS} (the population engine's), "
                             f"got {self.activation!r}")
        if self.layers is not None:
            object.__setattr__(self, "layers", tuple(check_layers(self.layers)))

    @classmethod
    def of(cls, dataset: str, layers, activation, batch_sizes, learning_rates, momenta, seeds, target, target_value,
           max_steps, max_epochs, data_seed) -> StudyConfig:
        """A configuration from :func:`batch_study`'s arguments as a caller gives them (``seeds`` a count n for
        seeds 0..n-1, or a list), checked; light to import, so a command checks them before loading torch."""
        if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
            if seeds < 1:
                raise ValueError(f"seeds must be a positive count or a list of seeds, got {seeds}")
            seeds = range(seeds)
        return cls(dataset, None if layers is None else tuple(layers), activation, tuple(batch_sizes),
                   tuple(learning_rates), tuple(momenta), tuple(seeds), target, target_value, max_steps, max_epochs,
                   data_seed)

    def epochs(self, batch_size: int, samples: int) -> int:
        """The epochs a batch size gets: the step budget, within ``max_epochs``."""
        per_epoch = math.ceil(samples / batch_size)
        return int(min(self.max_epochs, math.ceil(self.max_steps / per_epoch)))


@dataclass
class BatchStudy:
    """The trials (one row per run) and what follows from them."""

    config: StudyConfig
    dataset: Dataset = field(repr=False)
    trials: pd.DataFrame

    @classmethod
    def load(cls, folder: str | Path) -> BatchStudy:
        """A study saved by :meth:`save` (its ``batch_study.json`` and ``trials.csv``), e.g. to redo its summary
        after a change in how it is summarized; the data set is rebuilt from the configuration."""
        folder = Path(folder)
        try:
            saved = json.loads((folder / "batch_study.json").read_text())["config"]
            trials = pd.read_csv(folder / "trials.csv")
        except (OSError, ValueError, KeyError) as exc:
            raise FileNotFoundError(f"{folder} holds no batch study (batch_study.json and trials.csv): {exc}") from None
        config = StudyConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()})
        return cls(config, data_module.get(config.dataset, seed=config.data_seed), trials)

    def best(self) -> pd.DataFrame:
        """Per optimizer (``sgd``, ``momentum``) and batch size: the best grid point (``lr``, ``momentum``), its
        mean ``steps`` over seeds with a bootstrap 95 % interval (``low``, ``high``), how many grid points reached
        the target in every seed, and ``lr_at_edge`` when the best learning rate is the grid's smallest or
        largest."""
        rows = []
        rng = np.random.default_rng(0)
        draws = rng.integers(0, len(self.config.seeds), size=(self.config.bootstrap, len(self.config.seeds)))
        for optimizer in ("sgd", "momentum"):
            for b in self.config.batch_sizes:
                grid, steps = self._grid(optimizer, b)
                means = _means(steps)
                i = int(np.argmin(means)) if np.isfinite(means).any() else -1
                resampled = _means(steps[:, draws]).min(axis=0)  # (bootstrap,): the best of each resample
                low, high = (np.percentile(resampled, [2.5, 97.5]) if np.isfinite(resampled).all()
                             else (np.nan, np.nan))
                lr, momentum = grid[i] if i >= 0 else (np.nan, np.nan)
                rows.append({"optimizer": optimizer, "batch_size": b, "steps": means[i] if i >= 0 else np.inf,
                             "low": low, "high": high, "lr": lr, "momentum": momentum,
                             "effective_lr": lr / (1 - momentum) if i >= 0 else np.nan,
                             "reached": int(np.isfinite(means).sum()), "grid_points": len(grid),
                             "lr_at_edge": bool(i >= 0 and lr in (self.config.learning_rates[0],
                                                                  self.config.learning_rates[-1]))})
        return pd.DataFrame(rows)

    def critical_batch_sizes(self, efficiency: float = 0.5) -> dict[str, dict]:
        """Per optimizer: the largest batch size up to which ``steps · B`` stays within ``1/efficiency`` of its
        value at the smallest batch size, and its bootstrap 95 % interval over seeds (with the choice of the best
        grid point redone in every resample). ``at_least``: scaling was still near perfect at the largest batch size
        tried, so the critical batch size is that or more."""
        rng = np.random.default_rng(1)
        draws = rng.integers(0, len(self.config.seeds), size=(self.config.bootstrap, len(self.config.seeds)))
        b = np.array(self.config.batch_sizes, dtype=float)
        out = {}
        for optimizer in ("sgd", "momentum"):
            per_batch = [self._grid(optimizer, size)[1] for size in self.config.batch_sizes]
            best = np.array([_means(s).min() for s in per_batch])
            resampled = np.stack([_means(s[:, draws]).min(axis=0) for s in per_batch], axis=1)  # (bootstrap, B)
            critical = np.array([nqm.critical_batch_size(b, row, efficiency) for row in resampled])
            critical = critical[np.isfinite(critical)]
            interval = np.percentile(critical, [2.5, 97.5]) if critical.size else (np.nan, np.nan)
            found = nqm.critical_batch_size(b, best, efficiency)
            out[optimizer] = {"critical_batch_size": found, "low": _nearest(interval[0], b),
                              "high": _nearest(interval[1], b), "at_least": bool(found == b[-1])}
        return out

    def scaling(self) -> nqm.BatchScaling:
        """The best steps per batch size in the form :func:`inertia.studies.nqm.check_claims` reads."""
        best = self.best()
        sgd, heavy = best[best.optimizer == "sgd"], best[best.optimizer == "momentum"]
        return nqm.BatchScaling(np.array(self.config.batch_sizes, float), self.config.target_value,
                                sgd.steps.to_numpy(float), sgd.lr.to_numpy(float), heavy.steps.to_numpy(float),
                                heavy.lr.to_numpy(float), heavy.momentum.to_numpy(float))

    def claims(self) -> list[nqm.Claim]:
        """The noisy quadratic model's three predictions (:func:`inertia.studies.nqm.check_claims`), checked here: steps
        count as equal within one epoch (the resolution of the measurement) and learning rates as matching within
        one step of the grid."""
        rates = np.array(self.config.learning_rates)
        grid_step = float(np.max(rates[1:] / rates[:-1])) * 1.001 if len(rates) > 1 else 2.0
        resolution = [math.ceil(len(self.dataset) / b) for b in self.config.batch_sizes]
        return nqm.check_claims(self.scaling(), resolution=resolution, lr_factor=max(2.0, grid_step))

    def summary(self) -> dict:
        """JSON-ready: the configuration, the best grid points, critical batch sizes and the claims."""
        best = json.loads(self.best().to_json(orient="records"))
        return {"config": asdict(self.config), "dataset": self.dataset.name, "samples": len(self.dataset),
                "target": self.target_text(),
                "best": best, "critical_batch_sizes": self.critical_batch_sizes(),
                "claims": [asdict(c) for c in self.claims()]}

    def target_text(self, symbols: bool = False) -> str:
        """The target in words: ``full-data training loss <= 0.1``, ``held-out accuracy >= 0.6``."""
        name = self.config.target
        split = "held-out" if name.startswith("test_") else "full-data training"
        above = name.endswith("accuracy")
        sign = ("≥" if above else "≤") if symbols else (">=" if above else "<=")
        return f"{split} {name.removeprefix('test_')} {sign} {self.config.target_value:g}"

    def plot(self):
        from inertia import plots

        best = self.best()
        series = {}
        for optimizer, label in (("sgd", "SGD"), ("momentum", "momentum")):
            rows = best[best.optimizer == optimizer]
            series[label] = {"batch_sizes": rows.batch_size.to_numpy(), "steps": rows.steps.to_numpy(),
                             "low": rows.low.to_numpy(), "high": rows.high.to_numpy(), "lr": rows.lr.to_numpy()}
            if optimizer == "momentum":
                series[label]["effective_lr"] = rows.effective_lr.to_numpy()
        target = self.target_text(symbols=True).replace("full-data training ", "")
        return plots.batch_scaling(series, f"{self.dataset.name}, layers {list(self.config.layers)}: steps to {target}",
                                   steps_label="steps to target (best grid point; 95 % bootstrap band)")

    def save(self, out: str | Path) -> dict[str, Path]:
        """Write ``trials.csv``, ``best.csv``, ``batch_study.json`` and ``batch_study.png`` into the folder ``out``
        as one unit (:func:`inertia.folders.writing`: never half-written; an earlier study's files go, nothing
        else is touched). The interactive page, beside the noisy quadratic model's predictions, is a view of the
        saved folder: :func:`inertia.views.study_report.write_study_report` (``inertia batch-study`` writes it in
        the same unit)."""
        names = {"trials": "trials.csv", "best": "best.csv", "summary": "batch_study.json",
                 "figure": "batch_study.png"}
        with writing(out, kind="batch-study") as folder:
            here = folder.path
            self.trials.to_csv(here / names["trials"], index=False)
            self.best().to_csv(here / names["best"], index=False)
            (here / names["summary"]).write_text(json.dumps(self.summary(), indent=2) + "\n")
            self.plot().savefig(here / names["figure"], dpi=120)
        return {key: folder.final / name for key, name in names.items()}

    def _grid(self, optimizer: str, batch_size: int) -> tuple[list[tuple[float, float]], np.ndarray]:
        """Grid points (lr, momentum) of ``optimizer`` at ``batch_size`` and their steps, (points, seeds)."""
        rows = self.trials[(self.trials.batch_size == batch_size)
                           & ((self.trials.momentum == 0) if optimizer == "sgd" else (self.trials.momentum > 0))]
        table = rows.pivot_table(index=["lr", "momentum"], columns="seed", values="steps", aggfunc="first")
        table = table.reindex(columns=list(self.config.seeds))
        return list(table.index), table.to_numpy(float)


def batch_study(
    dataset: str | Dataset = "spiral",
    layers: Sequence[int] | None = None,
    batch_sizes: Sequence[int] = StudyConfig.batch_sizes,
    learning_rates: Sequence[float] = StudyConfig.learning_rates,
    momenta: Sequence[float] = StudyConfig.momenta,
    seeds: int | Sequence[int] = 3,
    target: str = "loss",
    target_value: float = 0.1,
    max_steps: int = 60_000,
    max_epochs: int = 3_000,
    activation: str = "relu",
    data_seed: int = 0,
    device: str = "auto",
    progress: bool = False,
) -> BatchStudy:
    """Run the study (see the module docstring). ``layers=None`` means ``[features, 50, classes]``; ``seeds`` an
    int n means seeds 0..n-1. Every batch size trains one population of ``learning rates × (1 + momenta) ×
    seeds`` members on ``device``."""
    from inertia.population import Members, train_population

    config = StudyConfig.of(dataset if isinstance(dataset, str) else dataset.name, layers, activation, batch_sizes,
                            learning_rates, momenta, seeds, target, target_value, max_steps, max_epochs, data_seed)
    if isinstance(dataset, str):
        dataset = data_module.get(dataset, seed=data_seed)
    layers = layers_for(dataset, config.layers)
    config = StudyConfig(**{**asdict(config), "layers": tuple(layers)})
    held_out = None
    if config.target.startswith("test_"):
        held_out = dataset.test
        if held_out is None:
            raise ValueError(f"target {config.target} is on a held-out split, and {dataset.name!r} has none "
                             "(mnist1d has one; for the training split use accuracy or loss)")
    too_large = [b for b in config.batch_sizes if b > len(dataset)]
    if too_large:
        raise ValueError(f"batch_sizes {too_large} exceed the data set's {len(dataset)} training examples")
    grid = Members.grid(momentum=[0.0, *config.momenta], lr=list(config.learning_rates), seed=list(config.seeds))
    from inertia.progress import progress_bar

    total = sum(config.epochs(b, len(dataset)) for b in config.batch_sizes) * len(grid)
    rows = []
    with progress_bar(total, progress) as advance:
        for b in config.batch_sizes:
            epochs, per_epoch = config.epochs(b, len(dataset)), math.ceil(len(dataset) / b)
            counted = [0]

            def step(done, b=b, counted=counted):
                counted[0] += done
                advance(f"batch size {b}: {len(grid)} runs at once", done)

            result = train_population(
                dataset, layers, grid, epochs=epochs, batch_size=b, activation=activation, device=device,
                on_epoch=step, until=(config.target, config.target_value), held_out=held_out)
            advance(None, epochs * len(grid) - counted[0])  # the epochs saved once every run had stopped
            summary = result.summaries({config.target: config.target_value})
            reached = summary[f"epochs_to_{config.target}"]
            last = result.epochs_run - 1
            runs = np.arange(len(grid))
            rows.append(pd.DataFrame({
                "batch_size": b, "lr": grid.rule.lr, "momentum": grid.rule.momentum, "seed": grid.seeds,
                "epochs": epochs, "steps_per_epoch": per_epoch, "epochs_to_target": reached,
                "steps": np.where(np.isfinite(reached), reached * per_epoch, np.inf), "status": summary["status"],
                "final_loss": result.metrics["loss"][runs, last],
                "final_accuracy": result.metrics["accuracy"][runs, last]}))
    return BatchStudy(config, dataset, pd.concat(rows, ignore_index=True))


def _means(steps: np.ndarray) -> np.ndarray:
    """Mean over the last axis (seeds); ``inf`` where any seed did not reach the target."""
    return np.where(np.isfinite(steps).all(axis=-1), np.where(np.isfinite(steps), steps, 0).mean(axis=-1), np.inf)


def _nearest(value: float, batch_sizes: np.ndarray) -> float:
    """A percentile of critical batch sizes, as the study's batch size nearest it (in log scale)."""
    if not np.isfinite(value):
        return float("nan")
    return float(batch_sizes[np.argmin(np.abs(np.log(batch_sizes) - np.log(value)))])
