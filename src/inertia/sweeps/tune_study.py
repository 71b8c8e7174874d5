"""Which tuner to trust with momentum and the learning rate: random search, successive halving and PBT at one
budget, each repeated from several tuner seeds, each choice judged the same way — trained again from fresh seeds
and measured on held-out data.

A tuner's result is a random variable (its draws, its initial weights); one tuning says little. For each method
and tuner seed the study runs :func:`~inertia.sweeps.tune.tune` on the data set's spec, trains the chosen
configuration (PBT: its discovered schedule) again from ``retrain_seeds`` fresh seeds
(:func:`~inertia.sweeps.tuned.retrain`) and keeps the mean held-out loss and accuracy; the table gives each
method's mean over tuner seeds with a 95 % t-interval, and the seconds a tuning took.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inertia.sweeps.spec import Spec, load_spec
from inertia.sweeps.tune import METHODS, tune
from inertia.sweeps.tuned import retrain

# The study's two problems: the lab's network on the spiral (a held-out spiral drawn from another seed) and
# MNIST-1D's network on its own held-out split; lr and momentum searched on the same ranges.
SPACE = {"count": 1, "seed": 0, "lr": {"log_uniform": [0.003, 3.0]}, "momentum": {"uniform": [0.0, 0.99]}}
SPECS = {
    "spiral": {"data": {"name": "spiral", "seed": 0, "held_out": 200}, "model": {"layers": [2, 50, 3]},
               "train": {"epochs": 20, "batch_size": 20}, "random": SPACE},
    "mnist1d": {"data": {"name": "mnist1d"}, "model": {"layers": [40, 100, 100, 10]},
                "train": {"epochs": 20, "batch_size": 100}, "random": SPACE},
}


@dataclass
class TuneStudy:
    """``runs``: one row per method and tuner seed (the chosen hyperparameters, the tuning's own score, the
    retrained held-out loss and accuracy, seconds, member-epochs); :meth:`table` summarises them."""

    dataset: str
    spec: dict
    config: dict
    runs: list = field(default_factory=list)

    def table(self) -> list[dict]:
        """Per method: the retrained held-out loss and accuracy, mean over tuner seeds with a 95 % t-interval,
        and the mean seconds and member-epochs of one tuning."""
        from inertia.stats import mean_ci

        rows = []
        for method in self.config["methods"]:
            mine = [r for r in self.runs if r["method"] == method]
            row = {"method": method, "tuner_seeds": len(mine)}
            for metric in ("loss", "accuracy"):
                estimate = mean_ci([r[metric] for r in mine])  # NaN: every seed diverged
                row |= {metric: estimate.mean, f"{metric}_low": estimate.low, f"{metric}_high": estimate.high}
            row["seconds"] = float(np.mean([r["seconds"] for r in mine]))
            row["member_epochs"] = int(np.mean([r["member_epochs"] for r in mine]))
            rows.append(row)
        return rows


def tune_study(dataset: str = "spiral", *, methods=METHODS, tuner_seeds: int = 10, budget: int | None = None,
               retrain_seeds: int = 10, engine: str = "auto", device: str = "cpu", progress: bool = False,
               spec: dict | None = None) -> TuneStudy:
    """Run the study on ``dataset`` (a key of :data:`SPECS`, or any name with ``spec`` given); ``budget``:
    member-epochs per tuning (default 32 full trainings)."""
    if spec is None and dataset not in SPECS:
        raise ValueError(f"dataset must be one of {', '.join(SPECS)} (or give a spec), got {dataset!r}")
    methods = list(methods)
    for method in methods:
        if method not in METHODS:
            raise ValueError(f"methods must be among {', '.join(METHODS)}, got {method!r}")
    if tuner_seeds < 2 or retrain_seeds < 2:
        raise ValueError(f"tuner_seeds and retrain_seeds must be at least 2 (for an interval), got {tuner_seeds} "
                         f"and {retrain_seeds}")
    raw = spec or SPECS[dataset]
    parsed: Spec = load_spec(raw)
    budget = budget or 32 * parsed.train["epochs"]
    study = TuneStudy(dataset, raw, {"methods": methods, "tuner_seeds": tuner_seeds, "budget": budget,
                                     "retrain_seeds": retrain_seeds})
    from inertia.progress import progress_bar

    with progress_bar(len(methods) * tuner_seeds, progress, unit="tunings") as advance:
        for method in methods:
            for seed in range(tuner_seeds):
                started = time.perf_counter()
                tuning = tune(parsed, method=method, budget=budget, seed=seed, engine=engine, device=device)
                seconds = time.perf_counter() - started
                again = retrain(parsed, tuning, retrain_seeds, engine=engine, device=device)
                study.runs.append({"method": method, "tuner_seed": seed, **{k: tuning.best[k] for k in tuning.values},
                                   "tuning_score": tuning.best["score"], "loss": again["loss_mean"],
                                   "accuracy": again["accuracy_mean"], "split": again["split"],
                                   "diverged": again["diverged"], "seconds": seconds,
                                   "member_epochs": tuning.member_epochs, "schedule": again["schedule"]})
                advance(f"{dataset}: {method}, tuner seed {seed}")
    return study


def summary(study: TuneStudy) -> dict:
    """The study as JSON: the spec, the settings, every run and the table."""
    return {"dataset": study.dataset, "spec": study.spec, "config": study.config, "runs": study.runs,
            "table": study.table()}


def save(study: TuneStudy, out: str | Path) -> list[str]:
    """Write ``tune_study.json`` (:func:`summary`), ``runs.csv`` and ``table.csv`` into ``out`` as one unit."""
    import pandas as pd

    from inertia import jsontext
    from inertia.folders import writing

    names = ["tune_study.json", "runs.csv", "table.csv"]
    with writing(out, kind="tune-study") as unit:
        (unit.path / names[0]).write_text(jsontext.dumps(summary(study), indent=1) + "\n")
        pd.DataFrame([{k: v for k, v in r.items() if k != "schedule"} for r in study.runs]).to_csv(
            unit.path / names[1], index=False)
        pd.DataFrame(study.table()).to_csv(unit.path / names[2], index=False)
    return names
