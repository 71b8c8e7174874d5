"""Does a momentum schedule beat a well-tuned constant momentum? Constant β against one-cycle, Sutskever's ramp
and Demon, each arm with its learning rate tuned on the same grid, compared on held-out data over paired seeds.

Protocol. The training set is split once (by the data seed) into 80 % for training and 20 % for validation. Every
arm × learning rate × tuning seed is one member of one population trained on the 80 %; each arm's learning rate
is the one with the lowest mean final validation loss over the tuning seeds (a diverged run counts as infinite
loss). Then every arm, at its own learning rate, is trained on the whole training set over fresh seeds (the test
seeds, shared by the arms: the same initial weights and minibatch order per seed) and evaluated on the held-out
test split — the data set's own (MNIST-1D) or, for generated data, a fresh draw with the next data seed. Each
schedule arm is compared with the best constant momentum (the constant arm with the lowest mean validation loss)
by paired differences over the test seeds, with 95 % t-intervals: a claim holds when its interval excludes 0.

Arms: constant β ∈ {0, 0.5, 0.9, 0.99}; one-cycle (torch's OneCycleLR at its defaults, peaking at the tuned
rate, cycling momentum 0.95 → 0.85 → 0.95); Sutskever's ramp (μ_max 0.99, a step every 250 updates); Demon (β₀
0.9, decaying to 0 at the end of training).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from inertia import data as data_module
from inertia.arguments import layers_for
from inertia.data import Dataset
from inertia.optim.schedules import Demon, OneCycle, Sutskever
from inertia.population import Member, train_population
from inertia.stats import paired_difference

CONSTANTS = (0.0, 0.5, 0.9, 0.99)
SCHEDULED = ("one-cycle", "Sutskever", "Demon")
LEARNING_RATES = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


def arms() -> list[str]:
    return [f"β = {b:g}" for b in CONSTANTS] + list(SCHEDULED)


def member(arm: str, lr: float, seed: int, updates: int) -> Member:
    """The member that trains ``arm`` at rate ``lr`` (one-cycle: its peak) for ``updates`` updates."""
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
    epochs: int
    trials: pd.DataFrame  # arm, lr, seed, validation loss and accuracy (NaN: diverged)
    chosen: dict = field(default_factory=dict)  # arm -> learning rate
    final: pd.DataFrame | None = None  # arm, seed, test loss and accuracy

    def best_constant(self) -> str:
        means = self._tuned_losses()
        return min((a for a in means if a.startswith("β")), key=means.get)

    def _tuned_losses(self) -> dict:
        rows = self.trials[self.trials.apply(lambda r: self.chosen.get(r["arm"]) == r["lr"], axis=1)]
        return rows.groupby("arm")["val_loss"].apply(lambda v: v.fillna(np.inf).mean()).to_dict()

    def table(self) -> pd.DataFrame:
        """Per arm: its rate, and mean ± half-width of the 95 % interval of held-out loss and accuracy."""
        rows = []
        for arm, group in self.final.groupby("arm", sort=False):
            row = {"arm": arm, "lr": self.chosen[arm], "diverged": int(group["test_loss"].isna().sum())}
            for metric in ("test_loss", "test_accuracy"):
                estimate = paired_difference(group[metric].to_numpy(), np.zeros(len(group)))
                row[metric], row[f"{metric}_ci"] = estimate.mean, (estimate.high - estimate.low) / 2
            rows.append(row)
        return pd.DataFrame(rows).set_index("arm")

    def paired(self) -> pd.DataFrame:
        """Each schedule arm minus the best constant momentum, paired by test seed, with 95 % intervals; a claim
        "the schedule is better" holds when the interval lies wholly on the better side."""
        base = self.best_constant()
        ref = self.final[self.final["arm"] == base].set_index("seed")
        rows = []
        for arm in SCHEDULED:
            ours = self.final[self.final["arm"] == arm].set_index("seed").loc[ref.index]
            for metric, better in (("test_accuracy", 1), ("test_loss", -1)):
                d = paired_difference(ours[metric].to_numpy(), ref[metric].to_numpy())
                holds = bool(better * d.low > 0) if better > 0 else bool(d.high < 0)
                worse = bool(d.high < 0) if better > 0 else bool(d.low > 0)
                rows.append({"arm": arm, "against": base, "metric": metric, "difference": d.mean, "low": d.low,
                             "high": d.high, "verdict": "better" if holds else "worse" if worse else "no difference"})
        return pd.DataFrame(rows)


def schedule_study(dataset: str | Dataset = "spiral", layers: Sequence[int] | None = None, epochs: int = 100,
                   batch_size: int = 20, learning_rates: Sequence[float] = LEARNING_RATES, tune_seeds: int = 10,
                   test_seeds: int = 10, data_seed: int = 0, device: str = "auto",
                   test: Dataset | None = None) -> ScheduleStudy:
    """Run the study (see the module docstring) on ``dataset`` (a name, or a :class:`Dataset`) and return its
    :class:`ScheduleStudy`. The held-out split is ``test``, else the data set's own, else (a data set given by
    name) the same generator's draw with the next data seed."""
    full = data_module.get(dataset, seed=data_seed) if isinstance(dataset, str) else dataset
    test = test if test is not None else full.test
    if test is None:
        if not isinstance(dataset, str):
            raise ValueError(f"{full.name} has no test split: give one (test=...) or the data set's name")
        test = data_module.get(dataset, seed=data_seed + 1)
    layers = layers_for(full, layers)
    order = np.random.default_rng(data_seed).permutation(len(full))
    cut = int(0.8 * len(full))
    train = Dataset(full.x[order[:cut]], full.y[order[:cut]], full.classes, full.name + " (80 %)")
    validation = Dataset(full.x[order[cut:]], full.y[order[cut:]], full.classes, full.name + " (validation)")

    updates = epochs * -(-len(train) // batch_size)
    grid = [(arm, lr, seed) for arm in arms() for lr in learning_rates for seed in range(tune_seeds)]
    tuned = train_population(train, layers, [member(a, lr, s, updates) for a, lr, s in grid], epochs=epochs,
                             batch_size=batch_size, held_out=validation, device=device)
    trials = pd.DataFrame(grid, columns=["arm", "lr", "seed"])
    trials["val_loss"] = [h.test_loss[-1] if not h.diverged else np.nan for h in tuned.histories]
    trials["val_accuracy"] = [h.test_accuracy[-1] if not h.diverged else np.nan for h in tuned.histories]
    study = ScheduleStudy(full.name, list(layers), epochs, trials)
    means = trials.assign(val_loss=trials["val_loss"].fillna(np.inf)).groupby(["arm", "lr"])["val_loss"].mean()
    study.chosen = {arm: float(means[arm].idxmin()) for arm in arms()}

    updates = epochs * -(-len(full) // batch_size)
    seeds = range(tune_seeds, tune_seeds + test_seeds)  # fresh seeds: the choice is not scored on its own draws
    runs = [(arm, seed) for arm in arms() for seed in seeds]
    result = train_population(full, layers, [member(a, study.chosen[a], s, updates) for a, s in runs],
                              epochs=epochs, batch_size=batch_size, held_out=test, device=device)
    final = pd.DataFrame(runs, columns=["arm", "seed"])
    final["test_loss"] = [h.test_loss[-1] if not h.diverged else np.nan for h in result.histories]
    final["test_accuracy"] = [h.test_accuracy[-1] if not h.diverged else np.nan for h in result.histories]
    study.final = final
    return study
