"""The result of a comparison: every run's history and model, and the tables, paired statistics, figures and
files made from them (:class:`Comparison`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from inertia.data import Dataset
from inertia.folders import writing
from inertia.models import MLP
from inertia.optim.schedules import parse_momentum
from inertia.stats import mean_ci, paired_difference
from inertia.studies.comparison.config import CompareConfig
from inertia.train import History

# Every file a comparison's folder may hold: what Comparison.save writes, its report, and the folder of its
# landscape (inertia.studies.run_landscape; a new comparison in the folder removes it with the other results).
OUTPUT_FILES = {"table.csv", "baselines.csv", "effective_lr.csv", "curves.csv", "summary.json", "regions.json",
                "loss.png", "accuracy.png", "loss_accuracy.png", "decision_regions.png", "report.html", "landscape"}
# The table's columns and the run-summary key each comes from.
TABLE_METRICS = {"final_loss": "final_loss", "best_loss": "best_loss", "final_accuracy": "final_accuracy",
                 "epochs_to_target": "epochs_to_accuracy"}


@dataclass
class Run:
    """One training run: a momentum (NaN for a baseline, which ``label`` names), a seed, its history and the
    trained model."""

    momentum: float
    seed: int
    history: History
    model: MLP = field(repr=False)
    label: str = "momentum"
    lr: float | None = None


@dataclass
class Comparison:
    """The result of :func:`compare`: runs for every (momentum, seed), with tables and figures.
    ``snapshots[epoch][momentum]`` is the first seed's model after that epoch (see :func:`snapshot_epochs`)."""

    config: CompareConfig
    dataset: Dataset
    runs: list[Run]
    snapshots: dict[int, dict[float, MLP]] = field(default_factory=dict, repr=False)
    baseline_runs: list[Run] = field(default_factory=list)
    held_runs: list[Run] = field(default_factory=list)
    trained_on: dict = field(default_factory=dict)  # {"engine": population or loop, "device": where}

    def run(self, momentum: float, seed: int | None = None) -> Run:
        seed = self.config.seeds[0] if seed is None else seed
        for run in self.runs:
            if run.momentum == momentum and run.seed == seed:
                return run
        raise KeyError(f"no run with momentum {momentum} and seed {seed}")

    def curves(self) -> pd.DataFrame:
        """Every run's per-epoch metrics in long form: optimizer ("momentum", or a baseline's label), momentum
        (NaN for a baseline), seed, epoch, loss, accuracy, ..."""
        frames = []
        for run in [*self.runs, *self.baseline_runs]:
            frame = run.history.to_frame().reset_index()
            frame.insert(0, "seed", run.seed)
            frame.insert(0, "momentum", run.momentum)
            frame.insert(0, "optimizer", run.label)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def table(self) -> pd.DataFrame:
        """Per momentum, over seeds: final and best full-data loss, final accuracy and epochs to the target
        accuracy, each as mean with a 95 % confidence interval (``*_low``, ``*_high``), and how many runs
        diverged or made no progress. Every number comes from each run's one summary
        (:func:`inertia.outcome.summarize`): diverged runs enter no loss or accuracy mean."""
        rows = [{"momentum": m, **self._row([r for r in self.runs if r.momentum == m])} for m in self.config.momenta]
        return pd.DataFrame(rows).set_index("momentum")

    def baseline_table(self) -> pd.DataFrame:
        """:meth:`table`'s columns for each baseline optimizer (index: its label, e.g. ``adam``)."""
        rows = [{"optimizer": b, **self._row([r for r in self.baseline_runs if r.label == b])}
                for b in self.config.arms]
        return pd.DataFrame(rows).set_index("optimizer") if rows else pd.DataFrame()

    def paired(self, metric: str = "final_loss") -> pd.DataFrame:
        """Every baseline against every momentum on a run-summary ``metric``, paired by seed (the same initial
        weights and minibatches): mean of baseline − momentum, its 95 % CI, and in how many seeds the baseline
        was better."""
        rows = []
        for baseline in self.config.arms:
            ours = self._by_seed(metric, [r for r in self.baseline_runs if r.label == baseline])
            for momentum in self.config.momenta:
                theirs = self._by_seed(metric, [r for r in self.runs if r.momentum == momentum])
                rows.append({"optimizer": baseline, "momentum": momentum, "metric": metric,
                             **_paired(ours, theirs, "loss" in metric)})
        return pd.DataFrame(rows)

    def effective_lr_table(self) -> pd.DataFrame:
        """With ``hold="effective-lr"``: :meth:`table`'s columns for every momentum trained at the learning rate
        ``lr·(1 − β)``, so that its effective step ``lr/(1 − β)`` equals plain SGD's ``lr`` (momentum 0 is the
        same run as in :meth:`table`); column ``lr`` is the learning rate used."""
        if self.config.hold != "effective-lr":
            return pd.DataFrame()
        rows = []
        for m in self.config.momenta:
            runs = [r for r in self.held_runs if r.momentum == m] or [r for r in self.runs if r.momentum == m]
            rows.append({"momentum": m, "lr": self.config.lr * (1 - m), **self._row(runs)})
        return pd.DataFrame(rows).set_index("momentum")

    def gains(self, metric: str = "final_loss") -> pd.DataFrame:
        """With ``hold="effective-lr"``: each momentum's gain over plain SGD (momentum 0, at ``lr``) on a
        run-summary ``metric``, paired by seed, at equal learning rate and at equal effective learning rate
        ``lr/(1 − β)``; ``survives`` says whether a gain at equal lr (its 95 % CI excluding 0 on the better side)
        is still a gain at equal effective lr."""
        if self.config.hold != "effective-lr" or 0.0 not in self.config.momenta:
            return pd.DataFrame()
        lower = "loss" in metric
        base = self._by_seed(metric, [r for r in self.runs if r.momentum == 0.0])
        rows = []
        for momentum in self.config.momenta:
            if momentum == 0.0:
                continue
            row = {"momentum": momentum, "metric": metric, "lr": self.config.lr,
                   "held_lr": self.config.lr * (1 - momentum)}
            for name, runs in (("equal_lr", self.runs), ("equal_effective_lr", self.held_runs)):
                ours = self._by_seed(metric, [r for r in runs if r.momentum == momentum])
                row.update({f"{name}_{key}": value for key, value in _paired(ours, base, lower).items()})
            row["gain"] = _clear_gain(row["equal_lr_low"], row["equal_lr_high"], lower)
            row["survives"] = row["gain"] and _clear_gain(row["equal_effective_lr_low"],
                                                          row["equal_effective_lr_high"], lower)
            rows.append(row)
        return pd.DataFrame(rows)

    def _by_seed(self, metric: str, runs: list[Run]) -> np.ndarray:
        """``metric`` of each run's summary, in the order of the configuration's seeds."""
        values = {r.seed: r.history.summary()[metric] for r in runs}
        return np.array([values[s] for s in self.config.seeds], dtype=float)

    def _row(self, runs: list[Run]) -> dict:
        """One table row over ``runs`` (their seeds): every number from each run's one summary."""
        summaries = [r.history.summary({"accuracy": self.config.target_accuracy}) for r in runs]
        per_seed = {name: [s[key] for s in summaries] for name, key in TABLE_METRICS.items()}
        row = {"runs": len(summaries)}
        for kind in ("diverged", "no_progress"):
            row[kind] = sum(s["status"] == kind for s in summaries)
        for name, values in per_seed.items():
            estimate = mean_ci(values)
            row.update({name: estimate.mean, f"{name}_low": estimate.low, f"{name}_high": estimate.high})
        row["reached_target"] = int(np.isfinite(per_seed["epochs_to_target"]).sum())
        return row

    def summary(self) -> dict:
        """A JSON-ready dict: the configuration and the table (NaN written as null)."""
        records = json.loads(self.table().reset_index().to_json(orient="records"))
        summary = {"config": asdict(self.config), "dataset": self.dataset.name, "table": records}
        if self.trained_on:
            summary["trained_on"] = self.trained_on
        if self.config.arms:
            summary["baselines"] = json.loads(self.baseline_table().reset_index().to_json(orient="records"))
            summary["paired"] = json.loads(self.paired().to_json(orient="records"))
        if self.config.schedule or self.config.momentum_schedules:
            summary["schedules"] = self.schedule_curves()
        if self.config.hold == "effective-lr":
            summary["effective_lr"] = {
                "table": json.loads(self.effective_lr_table().reset_index().to_json(orient="records")),
                "gains": json.loads(self.gains().to_json(orient="records"))}
        return summary

    def schedule_curves(self, points: int = 300) -> dict:
        """The learning rate of the momenta (and momentum schedules) and every arm's momentum per update, at up to
        ``points`` updates from the first to the last: ``{"update": [...], "lr": [...], "momentum": {label:
        [...]}}``; the baselines keep their own constant settings."""
        config = self.config
        updates = config.epochs * -(-len(self.dataset) // config.batch_size)
        t = np.unique(np.linspace(0, updates - 1, points).round().astype(np.int64))
        lr = config.lr_schedule(updates)
        rate = np.full(t.shape, config.lr) if lr is None else np.broadcast_to(lr(t), t.shape)
        momentum = {f"momentum {m:g}": [m] * len(t) for m in config.momenta}
        for text in config.momentum_schedules:
            momentum[text] = np.broadcast_to(parse_momentum(text, updates)(t), t.shape).tolist()
        return {"update": t.tolist(), "lr": rate.tolist(), "momentum": momentum}

    def plot_loss(self, metric: str = "loss"):
        from inertia import plots

        return plots.curves(self.curves(), metric, self.config.momenta, self.config.arms)

    def plot_accuracy(self):
        return self.plot_loss("accuracy")

    def plot_loss_accuracy(self):
        from inertia import plots

        return plots.loss_accuracy_grid(self.curves(), self.config.momenta)

    def plot_decision_regions(self, seed: int | None = None):
        from inertia import plots

        seed = self.config.seeds[0] if seed is None else seed
        models = {m: self.run(m, seed).model for m in self.config.momenta}
        return plots.decision_regions(models, self.dataset, seed=seed)

    def regions(self, resolution: int = 80) -> dict:
        """The first seed's predicted class over a grid of the plane, per snapshot epoch and momentum, with
        the data: what a report needs to show decision regions moving (2-feature data only). The grid goes
        through each model a block at a time, so its activations stay within 64 MB however wide the network."""
        if self.dataset.features != 2:
            raise ValueError(f"decision regions need 2 input features; {self.dataset.name!r} has "
                             f"{self.dataset.features}")
        import torch

        x = self.dataset.x
        lo, hi = x.min(axis=0) - 0.1, x.max(axis=0) + 0.1
        xs, ys = np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
        gx, gy = np.meshgrid(xs, ys)
        grid = torch.from_numpy(np.c_[gx.ravel(), gy.ravel()].astype(np.float32))
        block = max(1, (64 << 20) // (4 * max(self.config.layers or (4096,))))  # a model of one's own: 4096 rows
        classes = {}
        for epoch, models in sorted(self.snapshots.items()):
            classes[str(epoch)] = {}
            for momentum, model in models.items():
                with torch.no_grad():
                    predicted = torch.cat([model.float()(part).argmax(dim=1) for part in grid.split(block)])
                classes[str(epoch)][f"{momentum:g}"] = predicted.numpy().reshape(gx.shape).tolist()
        return {"x": xs.round(4).tolist(), "y": ys.round(4).tolist(), "seed": self.config.seeds[0],
                "classes": classes, "points": {"x1": x[:, 0].round(4).tolist(), "x2": x[:, 1].round(4).tolist(),
                                               "label": self.dataset.y.tolist()}}

    def save(self, out: str | Path, plots: bool = True) -> dict[str, Path]:
        """Write ``table.csv``, ``curves.csv``, ``summary.json``, ``regions.json`` (2-feature data) and with
        ``plots`` the PNG figures into the folder ``out``, as one unit (:func:`inertia.folders.writing`): a reader
        sees the earlier comparison or this one, never a mix, however the save ends. Files of an earlier
        comparison there that this one does not write (figures after ``plots=False``, a report) go; nothing else
        in ``out`` is touched. ``summary.json`` lists the files written. The interactive page is a view of the
        saved folder: :func:`inertia.views.report.write_report` (``inertia compare`` writes it in the same
        unit)."""
        with writing(out, kind="compare") as folder:
            here = folder.path
            files = {"table": here / "table.csv", "curves": here / "curves.csv", "summary": here / "summary.json"}
            self.table().to_csv(files["table"])
            if self.config.arms:
                files["baselines"] = here / "baselines.csv"
                self.baseline_table().to_csv(files["baselines"])
            if self.config.hold == "effective-lr":
                files["effective_lr"] = here / "effective_lr.csv"
                self.effective_lr_table().to_csv(files["effective_lr"])
            self.curves().to_csv(files["curves"], index=False)
            if self.dataset.features == 2 and self.snapshots:
                files["regions"] = here / "regions.json"
                files["regions"].write_text(json.dumps(self.regions()))
            if plots:
                files.update(self._save_figures(here))
            files = {key: folder.final / path.name for key, path in files.items()}
            summary = self.summary() | {"files": {k: str(v) for k, v in files.items()}}
            (here / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
        return files

    def _save_figures(self, out: Path) -> dict[str, Path]:
        import matplotlib.pyplot as plt

        figures = {
            "loss_png": (self.plot_loss, "loss.png"),
            "accuracy_png": (self.plot_accuracy, "accuracy.png"),
            "loss_accuracy_png": (self.plot_loss_accuracy, "loss_accuracy.png"),
        }
        if self.dataset.features == 2:
            figures["decision_regions_png"] = (self.plot_decision_regions, "decision_regions.png")
        files = {}
        for key, (draw, name) in figures.items():
            figure = draw()
            files[key] = out / name
            figure.savefig(files[key], dpi=120)
            plt.close(figure)
        return files


def _paired(ours: np.ndarray, theirs: np.ndarray, lower_is_better: bool) -> dict:
    """``ours − theirs`` paired by seed: mean ``difference`` with its 95 % CI (``low``, ``high``), the ``pairs``
    where both are finite, and in how many of them ``ours`` is better (``better_in``)."""
    difference = paired_difference(ours, theirs)
    finite = np.isfinite(ours) & np.isfinite(theirs)
    better = ((ours < theirs) if lower_is_better else (ours > theirs)) & finite
    return {"difference": difference.mean, "low": difference.low, "high": difference.high,
            "pairs": int(finite.sum()), "better_in": int(better.sum())}


def _clear_gain(low: float, high: float, lower_is_better: bool) -> bool:
    """Whether a paired difference's 95 % CI lies wholly on the better side of 0."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return False
    return bool(high < 0) if lower_is_better else bool(low > 0)
