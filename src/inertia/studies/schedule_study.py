"""Does a momentum schedule beat a well-tuned constant momentum? Constant β against one-cycle, Sutskever's ramp
and Demon, each arm with its learning rate tuned on the same grid, compared on held-out data over paired seeds.

Protocol. The training set is split once (by the data seed) into 80 % for training and 20 % for validation. Every
arm × learning rate × tuning seed is one member of one population trained on the 80 %; each arm's learning rate
is the one with the lowest mean final validation loss over the tuning seeds (a diverged run counts as infinite
loss). Then every arm, at its own learning rate, is trained on the whole training set over fresh seeds (the test
seeds, shared by the arms: the same initial weights and minibatch order per seed) and evaluated on the held-out
test split — the data set's own (MNIST-1D), for generated data a fresh draw with the next data seed, else a
fifth of the data held out. Each schedule arm is compared with the best constant momentum (the constant arm with
the lowest mean validation loss) by paired differences over the test seeds, with 95 % t-intervals: a claim holds
when its interval excludes 0.

Every figure is reported on the full training set (full-data loss and accuracy after the last epoch) and on the
held-out split. A rate chosen at either end of the grid is flagged (``lr_at_edge``): the grid should be widened
before that arm's result is read.

Arms: constant β ∈ {0, 0.5, 0.9, 0.99}; one-cycle (torch's OneCycleLR at its defaults, peaking at the tuned
rate, cycling momentum 0.95 → 0.85 → 0.95); Sutskever's ramp (μ_max 0.99, a step every 250 updates); Demon (β₀
0.9, decaying to 0 at the end of training).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from inertia import data as data_module
from inertia.arguments import POPULATION_ACTIVATIONS, layers_for
from inertia.data import Dataset
from inertia.folders import writing
from inertia.optim.schedules import Demon, OneCycle, Sutskever
from inertia.stats import mean_ci, paired_difference

if TYPE_CHECKING:
    from inertia.population import Member

CONSTANTS = (0.0, 0.5, 0.9, 0.99)
SCHEDULED = ("one-cycle", "Sutskever", "Demon")
LEARNING_RATES = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
OUTPUT_FILES = ("trials.csv", "final.csv", "table.csv", "paired.csv", "schedule_study.json", "schedule_study.png")
METRICS = ("test_loss", "test_accuracy", "train_loss", "train_accuracy")


def arms() -> list[str]:
    return [f"β = {b:g}" for b in CONSTANTS] + list(SCHEDULED)


def member(arm: str, lr: float, seed: int, updates: int) -> Member:
    """The member that trains ``arm`` at rate ``lr`` (one-cycle: its peak) for ``updates`` updates."""
    from inertia.population import Member

    if arm == "one-cycle":
        return Member(lr=lr, momentum=0.9, seed=seed, schedule=OneCycle(lr, updates))
    if arm == "Sutskever":
        return Member(lr=lr, momentum=0.5, seed=seed, momentum_schedule=Sutskever(0.99, 250))
    if arm == "Demon":
        return Member(lr=lr, momentum=0.9, seed=seed, momentum_schedule=Demon(0.9, updates))
    return Member(lr=lr, momentum=float(arm.removeprefix("β = ")), seed=seed)


@dataclass
class ScheduleStudy:
    """The trials of the tuning stage, each arm's chosen rate, and the final runs on the held-out split."""

    dataset: str
    layers: list[int]
    config: dict  # epochs, batch_size, learning_rates, tune_seeds, test_seeds, data_seed, activation
    trials: pd.DataFrame  # arm, lr, seed, validation loss and accuracy (NaN: diverged)
    chosen: dict = field(default_factory=dict)  # arm -> learning rate
    final: pd.DataFrame | None = None  # arm, seed, held-out and full-data loss and accuracy
    seconds: float = 0.0

    def best_constant(self) -> str:
        """The constant-momentum arm with the lowest mean validation loss at its chosen rate."""
        means = self.tuning().groupby("arm")["val_loss"].min().to_dict()
        return min((a for a in means if a.startswith("β")), key=means.get)

    def tuning(self) -> pd.DataFrame:
        """Mean validation loss and accuracy per arm and rate over the tuning seeds (a diverged run: infinite
        loss), and how many of them diverged."""
        frame = self.trials.assign(diverged=self.trials["val_loss"].isna(),
                                   val_loss=self.trials["val_loss"].fillna(np.inf))
        return frame.groupby(["arm", "lr"], sort=False).agg(
            val_loss=("val_loss", "mean"), val_accuracy=("val_accuracy", "mean"),
            diverged=("diverged", "sum")).reset_index()

    def table(self) -> pd.DataFrame:
        """Per arm: its rate (and whether it is at an end of the grid), the runs that diverged, and the mean and
        half-width of the 95 % interval of each held-out and full-data metric."""
        grid = self.config["learning_rates"]
        rows = []
        for arm, group in self.final.groupby("arm", sort=False):
            lr = self.chosen[arm]
            row = {"arm": arm, "lr": lr, "lr_at_edge": lr in (min(grid), max(grid)),
                   "diverged": int(group["test_loss"].isna().sum())}
            for metric in METRICS:
                estimate = mean_ci(group[metric].to_numpy())
                row[metric], row[f"{metric}_ci"] = estimate.mean, (estimate.high - estimate.low) / 2
            rows.append(row)
        return pd.DataFrame(rows).set_index("arm")

    def hindsight_constant(self) -> str:
        """The constant-momentum arm with the highest mean held-out accuracy in the final runs: a reference chosen
        by looking at the test data, so the one most favourable to constant momentum."""
        means = self.final.groupby("arm")["test_accuracy"].mean()
        return max((a for a in means.index if a.startswith("β")), key=means.get)

    def paired(self) -> pd.DataFrame:
        """Each schedule arm minus the best constant momentum, paired by test seed, with 95 % intervals: against
        the one chosen by validation loss (the protocol's reference, ``chosen_by`` "validation") and, where it
        differs, against the best constant in hindsight (``chosen_by`` "hindsight": a claim that holds there too
        holds whichever constant a user would have kept). A claim "the schedule is better" holds when the interval
        lies wholly on the better side (each comparison at 95 %, no correction for the several made)."""
        rows = []
        bases = dict.fromkeys([self.best_constant(), self.hindsight_constant()])
        for base, chosen_by in zip(bases, ("validation", "hindsight"), strict=False):
            ref = self.final[self.final["arm"] == base].set_index("seed")
            for arm in SCHEDULED:
                ours = self.final[self.final["arm"] == arm].set_index("seed").loc[ref.index]
                for metric, sign in (("test_accuracy", 1), ("test_loss", -1)):
                    d = paired_difference(ours[metric].to_numpy(), ref[metric].to_numpy())
                    better = d.low > 0 if sign > 0 else d.high < 0
                    worse = d.high < 0 if sign > 0 else d.low > 0
                    rows.append({"arm": arm, "against": base, "chosen_by": chosen_by, "metric": metric,
                                 "difference": d.mean, "low": d.low, "high": d.high, "pairs": d.n,
                                 "verdict": "better" if better else "worse" if worse else "no difference"})
        return pd.DataFrame(rows)

    def summary(self) -> dict:
        """JSON-ready: the configuration, each arm's rate, the table and the paired comparisons."""
        table = self.table().reset_index()
        return {"dataset": self.dataset, "layers": self.layers, "config": self.config, "chosen": self.chosen,
                "best_constant": self.best_constant(), "hindsight_constant": self.hindsight_constant(),
                "seconds": round(self.seconds, 1),
                "table": json.loads(table.to_json(orient="records")),
                "paired": json.loads(self.paired().to_json(orient="records"))}

    def plot(self):
        """Tuning curves, the final runs' held-out accuracy, and each schedule minus the best constant."""
        from inertia import plots

        tuning = self.tuning()
        curves = {arm: (rows["lr"].to_numpy(), rows["val_loss"].to_numpy(), self.chosen[arm])
                  for arm, rows in tuning.groupby("arm", sort=False)}
        table = self.table()
        held_out = {arm: (row["test_accuracy"], row["test_accuracy_ci"]) for arm, row in table.iterrows()}
        accuracy = self.paired().query("metric == 'test_accuracy' and chosen_by == 'validation'")
        paired = {row.arm: (row.difference, row.low, row.high) for row in accuracy.itertuples()}
        c = self.config
        return plots.tuned_arms(curves, held_out, paired,
                                f"{self.dataset}, layers {self.layers}, {c['epochs']} epochs, batch "
                                f"{c['batch_size']}: {c['test_seeds']} paired seeds against "
                                f"{self.best_constant()}")

    def save(self, out: str | Path) -> dict[str, Path]:
        """Write the trials, final runs, table, paired comparisons, summary and figure into ``out`` as one unit
        (:func:`inertia.folders.writing`)."""
        with writing(out, kind="schedule-study") as folder:
            here = folder.path
            self.trials.to_csv(here / "trials.csv", index=False)
            self.final.to_csv(here / "final.csv", index=False)
            self.table().to_csv(here / "table.csv")
            self.paired().to_csv(here / "paired.csv", index=False)
            (here / "schedule_study.json").write_text(json.dumps(self.summary(), indent=2) + "\n")
            self.plot().savefig(here / "schedule_study.png", dpi=120)
        return {name: folder.final / name for name in OUTPUT_FILES}


def check(learning_rates: Sequence[float], epochs: int, batch_size: int, tune_seeds: int, test_seeds: int,
          activation: str) -> list[float]:
    """The study's arguments checked (a ``ValueError`` naming the field), the rates as floats."""
    learning_rates = [float(v) for v in learning_rates]
    if not learning_rates or not all(math.isfinite(v) and v > 0 for v in learning_rates):
        raise ValueError(f"learning_rates must be one or more finite rates > 0; got {learning_rates}")
    for name, value, least in (("epochs", epochs, 1), ("batch_size", batch_size, 1), ("tune_seeds", tune_seeds, 1),
                               ("test_seeds", test_seeds, 2)):
        if not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be an integer ≥ {least}" + (" (a confidence interval needs two paired "
                             "seeds)" if name == "test_seeds" else "") + f"; got {value!r}")
    if activation not in POPULATION_ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(POPULATION_ACTIVATIONS)}; got {activation!r}")
    return learning_rates


def schedule_study(dataset: str | Dataset = "spiral", layers: Sequence[int] | None = None, epochs: int = 100,
                   batch_size: int = 20, learning_rates: Sequence[float] = LEARNING_RATES, tune_seeds: int = 10,
                   test_seeds: int = 10, data_seed: int = 0, activation: str = "relu", device: str = "auto",
                   test: Dataset | None = None, progress: bool = False) -> ScheduleStudy:
    """Run the study (see the module docstring) on ``dataset`` (a name, or a :class:`Dataset`) and return its
    :class:`ScheduleStudy`. The held-out split is ``test``, else the data set's own, else for a generated data
    set given by name the same generator's draw with the next data seed, else a fifth of the data set (drawn with
    the next data seed), the rest being the training set."""
    learning_rates = check(learning_rates, epochs, batch_size, tune_seeds, test_seeds, activation)
    full = data_module.get(dataset, seed=data_seed) if isinstance(dataset, str) else dataset
    test = test if test is not None else full.test
    if test is None and isinstance(dataset, str) and dataset in data_module.GENERATORS:
        test = data_module.get(dataset, seed=data_seed + 1)  # a fresh draw of the same generator
    elif test is None:  # a fixed data set (digits, a file) without its own split: a fifth of it held out
        order = np.random.default_rng(data_seed + 1).permutation(len(full))
        keep, out = order[len(full) // 5 :], order[: len(full) // 5]
        test = Dataset(full.x[out], full.y[out], full.classes, full.name + " (held out)")
        full = Dataset(full.x[keep], full.y[keep], full.classes, full.name)
    layers = layers_for(full, layers)
    order = np.random.default_rng(data_seed).permutation(len(full))
    cut = int(0.8 * len(full))
    if batch_size > cut:
        raise ValueError(f"batch_size must be at most {cut} (80 % of the {len(full)} training examples, the "
                         f"tuning split); got {batch_size}")
    train = Dataset(full.x[order[:cut]], full.y[order[:cut]], full.classes, full.name + " (80 %)")
    validation = Dataset(full.x[order[cut:]], full.y[order[cut:]], full.classes, full.name + " (validation)")
    config = {"train_samples": len(full), "test_samples": len(test), "epochs": epochs, "batch_size": batch_size,
              "learning_rates": learning_rates, "tune_seeds": tune_seeds, "test_seeds": test_seeds,
              "data_seed": data_seed, "activation": activation}
    grid = [(arm, lr, seed) for arm in arms() for lr in learning_rates for seed in range(tune_seeds)]
    seeds = range(tune_seeds, tune_seeds + test_seeds)  # fresh seeds: the choice is not scored on its own draws
    runs = [(arm, seed) for arm in arms() for seed in seeds]
    from inertia.population import train_population
    from inertia.progress import progress_bar

    started = time.perf_counter()
    with progress_bar((len(grid) + len(runs)) * epochs, progress) as advance:
        updates = epochs * -(-len(train) // batch_size)
        tuned = train_population(train, layers, [member(a, lr, s, updates) for a, lr, s in grid], epochs=epochs,
                                 batch_size=batch_size, activation=activation, held_out=validation, device=device,
                                 on_epoch=lambda done: advance(f"tuning: {len(grid)} runs at once", done))
        trials = pd.DataFrame(grid, columns=["arm", "lr", "seed"])
        trials["val_loss"] = _last(tuned.histories, "test_loss")
        trials["val_accuracy"] = _last(tuned.histories, "test_accuracy")
        study = ScheduleStudy(full.name, list(layers), config, trials)
        means = study.tuning().set_index(["arm", "lr"])["val_loss"]
        study.chosen = {arm: float(means[arm].idxmin()) for arm in arms()}

        updates = epochs * -(-len(full) // batch_size)
        result = train_population(full, layers, [member(a, study.chosen[a], s, updates) for a, s in runs],
                                  epochs=epochs, batch_size=batch_size, activation=activation, held_out=test,
                                  device=device,
                                  on_epoch=lambda done: advance(f"final runs: {len(runs)} at the tuned rates", done))
    final = pd.DataFrame(runs, columns=["arm", "seed"])
    for metric in METRICS:
        final[metric] = _last(result.histories, metric.removeprefix("train_"))
    study.final = final
    study.seconds = time.perf_counter() - started
    return study


def _last(histories, metric: str) -> list[float]:
    """Each history's ``metric`` after its last epoch, NaN for a diverged run."""
    return [np.nan if h.diverged else float(getattr(h, metric)[-1]) for h in histories]
