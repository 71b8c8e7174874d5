"""The momentum comparison: the seed lab as one call, over several seeds, with paired runs and statistics.

Within one seed every momentum starts from the same initial weights and sees the same minibatch order, so
differences between momenta are paired; across seeds both change.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from inertia import data as data_module
from inertia.data import Dataset
from inertia.models import MLP, check_layers, layers_for, resolve_device
from inertia.optim import rules
from inertia.optim.checks import check_hyperparameters, check_momentum
from inertia.optim.torch_optimizers import Momentum, for_rule
from inertia.outcome import DIVERGENCE_FACTOR, check_factor
from inertia.population import ACTIVATIONS as POPULATION_ACTIVATIONS
from inertia.population import Member, train_population
from inertia.progress import progress_bar
from inertia.stats import mean_ci, paired_difference
from inertia.train import History, fit

LAB_MOMENTA = (0.0, 0.1, 0.2, 0.4, 0.5)
HOLDS = ("lr", "effective-lr")
# Every file Comparison.save may write: the only names it ever replaces or removes.
OUTPUT_FILES = {"table.csv", "baselines.csv", "effective_lr.csv", "curves.csv", "summary.json", "regions.json",
                "loss.png", "accuracy.png", "loss_accuracy.png", "decision_regions.png", "report.html"}
# The table's columns and the run-summary key each comes from.
TABLE_METRICS = {"final_loss": "final_loss", "best_loss": "best_loss", "final_accuracy": "final_accuracy",
                 "epochs_to_target": "epochs_to_accuracy"}


@dataclass(frozen=True)
class CompareConfig:
    """Everything that determines a comparison's result."""

    momenta: tuple[float, ...] = LAB_MOMENTA
    dataset: str = "spiral"
    layers: tuple[int, ...] | None = None
    activation: str = "relu"
    lr: float = 0.1
    batch_size: int = 20
    epochs: int = 100
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    shuffle: bool = True
    data_seed: int = 0
    target_accuracy: float = 0.9
    form: str = "pytorch"
    baselines: tuple[str, ...] = ()
    hold: str = "lr"
    nesterov: bool = False

    def __post_init__(self) -> None:
        if self.hold not in HOLDS:
            raise ValueError(f"hold must be one of {list(HOLDS)}, got {self.hold!r}")
        momenta = tuple(float(m) for m in self.momenta)
        if not momenta:
            raise ValueError("momenta must list at least one value")
        for m in momenta:
            check_momentum(m)
        if len(set(momenta)) != len(momenta):
            raise ValueError(f"momenta must be distinct, got {list(momenta)}")
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"Invalid learning rate: {self.lr} (lr must be a finite number > 0)")
        check_hyperparameters(self.lr, form=self.form)
        seeds = tuple(int(s) for s in self.seeds)
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be a non-empty list of distinct integers, got {list(self.seeds)}")
        for name in ("batch_size", "epochs"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not 0 < self.target_accuracy <= 1:
            raise ValueError(f"target_accuracy must be in (0, 1], got {self.target_accuracy}")
        object.__setattr__(self, "momenta", momenta)
        object.__setattr__(self, "seeds", seeds)
        baselines = tuple(str(b).strip() for b in self.baselines)
        for text in baselines:
            rules.parse(text)
        if len(set(baselines)) != len(baselines):
            raise ValueError(f"baselines must be distinct, got {list(baselines)}")
        object.__setattr__(self, "baselines", baselines)
        if self.layers is not None:
            object.__setattr__(self, "layers", tuple(check_layers(self.layers)))


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
                for b in self.config.baselines]
        return pd.DataFrame(rows).set_index("optimizer") if rows else pd.DataFrame()

    def paired(self, metric: str = "final_loss") -> pd.DataFrame:
        """Every baseline against every momentum on a run-summary ``metric``, paired by seed (the same initial
        weights and minibatches): mean of baseline − momentum, its 95 % CI, and in how many seeds the baseline
        was better."""
        rows = []
        for baseline in self.config.baselines:
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
        if self.config.baselines:
            summary["baselines"] = json.loads(self.baseline_table().reset_index().to_json(orient="records"))
            summary["paired"] = json.loads(self.paired().to_json(orient="records"))
        if self.config.hold == "effective-lr":
            summary["effective_lr"] = {
                "table": json.loads(self.effective_lr_table().reset_index().to_json(orient="records")),
                "gains": json.loads(self.gains().to_json(orient="records"))}
        return summary

    def plot_loss(self, metric: str = "loss"):
        from inertia import plots

        return plots.curves(self.curves(), metric, self.config.momenta, self.config.baselines)

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
        the data: what a report needs to show decision regions moving (2-feature data only)."""
        if self.dataset.features != 2:
            raise ValueError(f"decision regions need 2 input features; {self.dataset.name!r} has "
                             f"{self.dataset.features}")
        import torch

        x = self.dataset.x
        lo, hi = x.min(axis=0) - 0.1, x.max(axis=0) + 0.1
        xs, ys = np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
        gx, gy = np.meshgrid(xs, ys)
        grid = torch.from_numpy(np.c_[gx.ravel(), gy.ravel()].astype(np.float32))
        classes = {}
        for epoch, models in sorted(self.snapshots.items()):
            classes[str(epoch)] = {}
            for momentum, model in models.items():
                with torch.no_grad():
                    predicted = model.float()(grid).argmax(dim=1).numpy().reshape(gx.shape)
                classes[str(epoch)][f"{momentum:g}"] = predicted.tolist()
        return {"x": xs.round(4).tolist(), "y": ys.round(4).tolist(), "seed": self.config.seeds[0],
                "classes": classes, "points": {"x1": x[:, 0].round(4).tolist(), "x2": x[:, 1].round(4).tolist(),
                                               "label": self.dataset.y.tolist()}}

    def save(self, out: str | Path, plots: bool = True, report: bool = False) -> dict[str, Path]:
        """Write ``table.csv``, ``curves.csv``, ``summary.json``, ``regions.json`` (2-feature data), with
        ``plots`` the PNG figures and with ``report`` ``report.html``. ``summary.json`` lists the files written;
        files that an earlier save listed there and this one does not write (figures after ``plots=False``, say)
        are removed, so what ``out`` holds is one comparison's. Nothing else in ``out`` is touched."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        earlier = _files_written(out)
        files = {"table": out / "table.csv", "curves": out / "curves.csv", "summary": out / "summary.json"}
        self.table().to_csv(files["table"])
        if self.config.baselines:
            files["baselines"] = out / "baselines.csv"
            self.baseline_table().to_csv(files["baselines"])
        if self.config.hold == "effective-lr":
            files["effective_lr"] = out / "effective_lr.csv"
            self.effective_lr_table().to_csv(files["effective_lr"])
        self.curves().to_csv(files["curves"], index=False)
        if self.dataset.features == 2 and self.snapshots:
            files["regions"] = out / "regions.json"
            files["regions"].write_text(json.dumps(self.regions()))
        if plots:
            files.update(self._save_figures(out))
        if report:
            files["report"] = out / "report.html"
        summary = self.summary() | {"files": {k: str(v) for k, v in files.items()}}
        files["summary"].write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
        if report:
            from inertia.report import write_report

            write_report(out)
        kept = {p.name for p in files.values()}
        for name in earlier - kept:
            stale = out / name
            if stale.is_file() and not stale.is_symlink():
                stale.unlink()
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


def compare(
    momenta: Sequence[float] = LAB_MOMENTA,
    dataset: str | Dataset = "spiral",
    layers: Sequence[int] | None = None,
    lr: float = 0.1,
    batch_size: int = 20,
    epochs: int = 100,
    seeds: int | Sequence[int] = 5,
    shuffle: bool = True,
    activation: str = "relu",
    data_seed: int = 0,
    target_accuracy: float = 0.9,
    form: str = "pytorch",
    engine: str = "auto",
    device: str = "auto",
    progress: bool = False,
    divergence_factor: float = DIVERGENCE_FACTOR,
    baselines: Sequence[str] = (),
    hold: str = "lr",
    nesterov: bool = False,
    on_metrics=None,
) -> Comparison:
    """Train one model per (momentum, seed) with SGD and compare them.

    Defaults are the seed lab's (spiral 3 × 500, ``[2, 50, 3]`` ReLU, lr 0.1, batch 20, 100 epochs,
    momenta 0, 0.1, 0.2, 0.4, 0.5), with a sounder protocol: ``seeds`` independent seeds (an int n means
    seeds 0..n-1), reshuffled minibatches and full-data metrics. ``layers=None`` means
    ``[features, 50, classes]`` of the data set. ``form`` picks the momentum update
    (:class:`inertia.optim.Momentum`; ``"pytorch"`` is exactly ``torch.optim.SGD``). ``engine``:
    ``"population"`` trains every run at once (:mod:`inertia.population`, on ``device``), ``"loop"`` one
    model after another with :func:`~inertia.train.fit`; ``"auto"`` uses the population engine whenever it
    supports the activation. Both give the same numbers to float32 round-off. ``divergence_factor`` is the
    divergence rule's (:mod:`inertia.outcome`). ``baselines`` adds other optimizers, each trained over the
    same seeds (so paired with the momenta): texts :func:`inertia.optim.rules.parse` reads, such as ``"adam"`` (at
    torch.optim's defaults) or ``"rmsprop:lr=0.003"``. ``hold="effective-lr"`` also trains every nonzero
    momentum β at ``lr·(1 − β)``, the same effective step ``lr/(1 − β)`` as plain SGD at ``lr``, over the same
    seeds (:meth:`Comparison.effective_lr_table`, :meth:`Comparison.gains`): does a momentum's gain survive
    once the larger step it takes is taken away? ``nesterov`` uses Nesterov's momentum for every nonzero momentum
    (plain SGD stays plain). ``on_metrics(epoch, rows)`` streams results on the population engine: after each
    epoch, one ``(kind, momentum, seed, loss, accuracy)`` per run trained (kind ``"momentum"``, or ``"held"`` for
    the equal-effective-lr runs); raising from it abandons the comparison.
    """
    if isinstance(seeds, (int, np.integer)):
        if seeds < 1:
            raise ValueError(f"seeds must be a positive count or a list of seeds, got {seeds}")
        seeds = range(seeds)
    name = dataset if isinstance(dataset, str) else dataset.name
    check_factor(divergence_factor)
    resolve_device(device)
    config = CompareConfig(
        momenta=tuple(momenta), dataset=name, layers=None if layers is None else tuple(layers),
        activation=activation, lr=lr, batch_size=batch_size, epochs=epochs, seeds=tuple(seeds),
        shuffle=shuffle, data_seed=data_seed, target_accuracy=target_accuracy, form=form,
        baselines=tuple(baselines), hold=hold, nesterov=bool(nesterov),
    )
    if isinstance(dataset, str):
        dataset = data_module.get(dataset, seed=data_seed)
    config = CompareConfig(**{**asdict(config), "layers": tuple(layers_for(dataset, config.layers))})
    if engine not in ("auto", "population", "loop"):
        raise ValueError(f"unknown engine {engine!r}; choose auto, population or loop")
    if engine == "auto":
        engine = "population" if config.activation in POPULATION_ACTIVATIONS else "loop"

    pairs = [(momentum, seed, config.lr) for seed in config.seeds for momentum in config.momenta]
    held = [(momentum, seed, config.lr * (1 - momentum)) for seed in config.seeds for momentum in config.momenta
            if momentum != 0] if config.hold == "effective-lr" else []
    snapshots: dict[int, dict[float, MLP]] = {e: {} for e in snapshot_epochs(config.epochs)}
    total = (len(pairs) + len(held) + len(config.baselines) * len(config.seeds)) * config.epochs
    with progress_bar(total, progress) as advance:
        runs, held_runs = [], []
        for todo, kept, done in ((pairs, snapshots, runs), (held, {}, held_runs)):
            if not todo:
                continue
            if engine == "population":
                done += _train_population(config, dataset, todo, device, advance, kept, divergence_factor,
                                          on_metrics, "momentum" if todo is pairs else "held")
            else:
                done += [_train_one(config, dataset, momentum, seed, lr, advance, kept, divergence_factor)
                         for momentum, seed, lr in todo]
        baseline_runs = [run for text in config.baselines
                         for run in _train_baseline(config, dataset, text, engine, device, advance, divergence_factor)]
    return Comparison(config, dataset, runs, snapshots, baseline_runs, held_runs)


def snapshot_epochs(epochs: int) -> list[int]:
    """Epochs after which the first seed's models are kept: 1, about a tenth, a quarter, a half, the last."""
    return sorted({1, max(1, epochs // 10), max(1, epochs // 4), max(1, epochs // 2), epochs})


def _train_one(config: CompareConfig, dataset: Dataset, momentum: float, seed: int, lr: float, advance, snapshots,
               divergence_factor) -> Run:
    """The plain path: one model, :class:`~inertia.optim.Momentum`, :func:`~inertia.train.fit`."""
    model = MLP(config.layers, config.activation, seed=seed)
    optimizer = Momentum(model.parameters(), lr=lr, momentum=momentum, form=config.form,
                         nesterov=config.nesterov and momentum > 0)

    def on_epoch(epoch, history):
        advance(f"momentum {momentum:g}, seed {seed}")
        if seed == config.seeds[0] and epoch + 1 in snapshots:
            snapshots[epoch + 1][momentum] = copy.deepcopy(model)

    history = fit(model, dataset, optimizer, config.epochs, config.batch_size, config.shuffle, seed=seed,
                  on_epoch=on_epoch, divergence_factor=divergence_factor)
    advance(None, _epochs_skipped(history))
    return Run(momentum, seed, history, model, lr=lr)


def _train_population(config: CompareConfig, dataset: Dataset, pairs, device, advance, snapshots,
                      divergence_factor, on_metrics=None, kind="momentum") -> list[Run]:
    """Every (momentum, seed, lr) run as one member of a population trained at once (two with ``nesterov``,
    which plain SGD, momentum 0, does not take)."""
    runs: list[Run | None] = [None] * len(pairs)
    for nesterov in (False, True) if config.nesterov else (False,):
        indices = [i for i, p in enumerate(pairs) if not config.nesterov or (p[0] > 0) == nesterov]
        if not indices:
            continue
        part = [pairs[i] for i in indices]
        members = [Member(lr=lr, momentum=momentum, seed=seed) for momentum, seed, lr in part]
        label = f"{len(members)} models at once"
        stream = None if on_metrics is None else (
            lambda first, epoch, loss, accuracy, part=part: on_metrics(
                epoch, [(kind, m, s, float(a), float(b)) for (m, s, _), a, b in
                        zip(part[first:first + len(loss)], loss, accuracy)]))
        result = train_population(
            dataset, config.layers, members, epochs=config.epochs, batch_size=config.batch_size,
            shuffle=config.shuffle, activation=config.activation, form=config.form, nesterov=nesterov,
            device=device, on_epoch=lambda done, label=label: advance(label, done),
            snapshots=list(snapshots), divergence_factor=divergence_factor, on_metrics=stream)
        for j, (i, (m, s, lr)) in enumerate(zip(indices, part)):
            runs[i] = Run(m, s, result.histories[j], result.model(j), lr=lr)
            if s == config.seeds[0]:
                for epoch in snapshots:
                    snapshots[epoch][m] = result.model(j, epoch)
    return runs


def _train_baseline(config: CompareConfig, dataset: Dataset, text: str, engine: str, device, advance,
                    divergence_factor) -> list[Run]:
    """One baseline optimizer over every seed: one population, or one ``fit`` per seed with its torch optimizer."""
    rule = rules.parse(text)
    if engine == "population":
        members = [Member(seed=seed, optimizer=rule) for seed in config.seeds]
        result = train_population(
            dataset, config.layers, members, epochs=config.epochs, batch_size=config.batch_size,
            shuffle=config.shuffle, activation=config.activation, device=device,
            on_epoch=lambda done: advance(f"{text}, {len(members)} seeds", done),
            divergence_factor=divergence_factor)
        return [Run(np.nan, seed, history, result.model(i), text)
                for i, (seed, history) in enumerate(zip(config.seeds, result.histories))]
    runs = []
    for seed in config.seeds:
        model = MLP(config.layers, config.activation, seed=seed)
        history = fit(model, dataset, for_rule(rule, model.parameters()), config.epochs, config.batch_size,
                      config.shuffle, seed=seed, on_epoch=lambda epoch, h, seed=seed: advance(f"{text}, seed {seed}"),
                      divergence_factor=divergence_factor)
        advance(None, _epochs_skipped(history))
        runs.append(Run(np.nan, seed, history, model, text))
    return runs


def effective_lr_sentences(gains: pd.DataFrame) -> list[str]:
    """One sentence per momentum from :meth:`Comparison.gains` on the final loss: its gain over plain SGD at equal
    lr, and at equal effective lr lr/(1 − β)."""
    def part(g, name):
        return (f"{g[name + '_difference']:+.4g} [{g[name + '_low']:+.4g}, {g[name + '_high']:+.4g}], lower in "
                f"{g[name + '_better_in']} of {g[name + '_pairs']} seeds")

    out = []
    for _, g in gains.iterrows():
        if not g["gain"]:
            verdict = "no clear gain at equal lr to begin with"
        elif g["survives"]:
            verdict = "the gain survives at equal effective step: it is momentum's own"
        elif g["equal_effective_lr_low"] > 0:
            verdict = "at equal effective step momentum does worse than plain SGD"
        else:
            verdict = "no clear gain remains at equal effective step (the interval includes 0): it was the larger step"
        out.append(f"momentum {g['momentum']:g} − SGD, final loss: at equal lr {g['lr']:g}: {part(g, 'equal_lr')}; at "
                   f"equal effective lr (lr {g['held_lr']:.4g}): {part(g, 'equal_effective_lr')} — {verdict}.")
    return out


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


def _files_written(out: Path) -> set[str]:
    """Names of the files an earlier :meth:`Comparison.save` into ``out`` listed in its ``summary.json``."""
    try:
        listed = json.loads((out / "summary.json").read_text())["files"].values()
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()
    return {Path(p).name for p in listed if isinstance(p, str)} & OUTPUT_FILES


def _epochs_skipped(history: History) -> int:
    """Epochs not trained after a divergence (they still count towards the progress total)."""
    return 0 if history.diverged_at is None else history.epochs - history.diverged_at - 1

