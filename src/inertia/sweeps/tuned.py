"""What a tuning found, and what it is worth: the hyperparameters the best member trained with (for PBT the
schedule its lineage discovered, stretch by stretch), that configuration trained again from fresh seeds with its
held-out result and 95 % interval, and the tuning's files (:func:`save`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from inertia.sweeps.spec import Spec
from inertia.sweeps.tune import Tuning, population_of


def ancestry(tuning: Tuning, member: int | None = None) -> list[dict]:
    """The hyperparameters member ``member`` (default: the best) trained with, one row per stretch: ``start`` and
    ``end`` epochs, the ``member`` whose row held the run then (its starting row for halving) and each axis's
    value. For PBT these are the values of the runs it took over, round by round back through the lineage (its
    discovered schedule); for halving and random search one constant row."""
    member = tuning.best["member"] if member is None else member
    records = tuning.records
    if tuning.method != "pbt":
        origin = records[-1]["members"][member]
        return [{"start": 0, "end": records[-1]["epoch"], "member": origin,
                 **{name: float(v[origin]) for name, v in tuning.trajectory[0].items()}}]
    ends = [r["epoch"] for r in records]
    rows, row = [], member
    for k in range(len(records) - 1, -1, -1):
        rows.append({"start": ends[k - 1] if k else 0, "end": ends[k], "member": row,
                     **{name: float(v[row]) for name, v in tuning.trajectory[k].items()}})
        if k:
            row = dict(records[k - 1].get("exploited", [])).get(row, row)  # before it took over: its source
    return rows[::-1]


def retrain(spec: Spec, tuning: Tuning, seeds: int = 10, *, engine: str = "auto", device: str = "cpu") -> dict:
    """The best member's hyperparameters (:func:`ancestry`, changed between stretches as they were) trained
    again from ``seeds`` fresh seeds: :func:`train_again`."""
    return train_again(spec, ancestry(tuning), seeds, engine=engine, device=device)


def train_again(spec: Spec, schedule: list[dict], seeds: int = 10, *, engine: str = "auto",
                device: str = "cpu") -> dict:
    """A configuration trained from ``seeds`` fresh seeds (0, 1, ...): ``schedule`` rows as :func:`ancestry`
    gives them (``start``, ``end`` and the searched hyperparameters; one row for a constant configuration). Each
    seed's final held-out loss and accuracy (the training data's where the data set has no held-out split), their
    means with 95 % t-intervals, and how many seeds diverged."""
    from inertia.stats import mean_ci
    from inertia.sweeps.space import space_of

    space = space_of(spec)
    names = [name for name in schedule[0] if name not in ("start", "end", "member")]
    population = population_of(spec, {n: np.full(seeds, schedule[0][n]) for n in names}, np.arange(seeds),
                               engine=engine, device=device)
    for stretch in schedule:
        population.set(np.arange(seeds), **{space.field(n): stretch[n] for n in names})
        population.train(stretch["end"] - stretch["start"])
    held = "test_loss" in population.metrics
    out = {"seeds": seeds, "split": "held-out" if held else "training", "schedule": schedule}
    for metric in ("loss", "accuracy"):
        values = population.metrics[f"test_{metric}" if held else metric][:, -1]
        estimate = mean_ci(values)  # over the seeds that did not diverge
        out[metric] = values.tolist()
        out |= {f"{metric}_mean": estimate.mean, f"{metric}_low": estimate.low, f"{metric}_high": estimate.high}
    out["diverged"] = int((~np.isfinite(population.metrics["loss"][:, -1])).sum())
    return out


def summary(tuning: Tuning, retrained: dict | None = None) -> dict:
    """The tuning as JSON: method and settings, the space, the budget spent, seconds, every decision, the best
    member with the hyperparameters it trained with (:func:`ancestry`) and, where given, its retrained result."""
    settings = tuning.settings
    return {"method": tuning.method, "id": tuning.id,
            "settings": {**settings.__dict__, "factors": list(settings.factors)},
            "space": [axis.__dict__ | {"values": list(axis.values)} for axis in tuning.space.axes],
            "members": len(tuning.records[0]["members"]), "member_epochs": tuning.member_epochs,
            "seconds": tuning.seconds, "best": tuning.best, "schedule": ancestry(tuning),
            "records": tuning.records, "retrained": retrained}


def save(tuning: Tuning, folder: str | Path, retrained: dict | None = None) -> list[str]:
    """Write ``tune.json`` (:func:`summary`), ``members.csv`` (every starting member: seed, hyperparameters, its
    score at each decision it reached), ``lineage.csv`` (PBT: every exploit) and ``trajectory.csv`` (PBT: every
    member's hyperparameters after each round) into ``folder`` as one unit; returns the names."""
    import pandas as pd

    from inertia import jsontext
    from inertia.folders import writing

    start = pd.DataFrame({"member": np.arange(len(tuning.seeds)), "seed": tuning.seeds,
                          **{name: v for name, v in tuning.trajectory[0].items()}})
    for record in tuning.records:
        score = dict(zip(record["members"], record["scores"]))
        if tuning.method == "pbt":  # rows keep their place: the score of the run each row holds
            score = dict(enumerate(record["scores"]))
        start[f"score_epoch_{record['epoch']}"] = [score.get(i, np.nan) for i in range(len(start))]
    names = ["tune.json", "members.csv"]
    with writing(folder, kind="tune", add=True) as unit:
        (unit.path / names[0]).write_text(jsontext.dumps(summary(tuning, retrained), indent=1) + "\n")
        start.to_csv(unit.path / names[1], index=False)
        if tuning.method == "pbt":
            pd.DataFrame(tuning.lineage, columns=_lineage_columns(tuning)).to_csv(unit.path / "lineage.csv",
                                                                                 index=False)
            epochs = [0, *(r["epoch"] for r in tuning.records[:-1])]
            pd.DataFrame([{"round": k, "epoch": epochs[k], "member": i, **{n: v[i] for n, v in values.items()}}
                          for k, values in enumerate(tuning.trajectory) for i in range(len(tuning.seeds))]
                         ).to_csv(unit.path / "trajectory.csv", index=False)
            names += ["lineage.csv", "trajectory.csv"]
    return names


def _lineage_columns(tuning: Tuning) -> list[str]:
    axes = list(tuning.values)
    return ["round", "epoch", "member", "source", *(f"{a}_before" for a in axes), *(f"{a}_copied" for a in axes),
            *axes]
