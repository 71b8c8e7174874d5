"""Tuning inside the population: random search, successive halving and population-based training over a sweep
spec's search space (:mod:`inertia.sweeps.space`), every method spending the same budget of member-epochs.

A configuration is a row of one :class:`~inertia.population.segments.Population`: halving drops rows, PBT's
exploit copies a row's weights, optimizer state and hyperparameters onto another, its explore changes a row's
hyperparameters — no checkpoint files, no trial processes. A tuning is a sequence of stretches of training, each
followed by one decision (a rung's cut, a PBT round); with a ``store`` each decision is recorded there once
(:mod:`inertia.sweeps.tunings`) and the population and the random generator are checkpointed after a decision
(every minute by default, and at the end), so a tuning killed mid-way resumes from its checkpoint, makes the
decisions after it again, and ends as one run straight through would.

- ``random``: ``budget // epochs`` members drawn from the space, trained ``epochs``; the best at the end wins.
- ``halving`` (successive halving; in a population every rung fills at once, so asynchronous halving's
  promotions are these): rungs at ``min_epochs · η^k`` epochs and at ``epochs``; at each rung the best
  ``⌊n / η⌋`` go on; as many members to start as the budget pays for.
- ``pbt``: ``budget // epochs`` members; every ``interval`` epochs the bottom ``quantile`` (Ray Tune's rule:
  ``⌈n·q⌉``, at most half) take over the run of a member drawn from the top ``quantile`` and explore: each
  hyperparameter resampled from the space with ``resample_probability``, else multiplied by one of ``factors``
  (Ray Tune's defaults: 0.25, 0.25, (1.2, 0.8)), kept inside the space's bounds.

The score is the last epoch's loss (or accuracy) on the data set's held-out split where it has one, on the
training data otherwise; a diverged member scores worst.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from inertia.sweeps import tunings
from inertia.sweeps.space import Space, space_of
from inertia.sweeps.spec import Spec, SpecError, canonical, load_spec, resolve
from inertia.sweeps.store import Store

METHODS = ("random", "halving", "pbt")


@dataclass(frozen=True)
class Settings:
    """A tuner's settings (see the module docstring); ``budget`` in member-epochs (default: 32 full runs)."""

    method: str = "halving"
    budget: int | None = None
    seed: int = 0
    reduction_factor: float = 4.0
    min_epochs: int = 1
    interval: int | None = None
    quantile: float = 0.25
    resample_probability: float = 0.25
    factors: tuple[float, ...] = (1.2, 0.8)
    metric: str = "loss"

    def checked(self, epochs: int) -> Settings:
        """These settings for training of ``epochs``, defaults filled in; a ValueError names a bad one."""
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.metric not in ("loss", "accuracy"):
            raise ValueError(f"metric must be 'loss' or 'accuracy', got {self.metric!r}")
        if not self.reduction_factor > 1:
            raise ValueError(f"reduction_factor must be greater than 1, got {self.reduction_factor}")
        if not 0 < self.quantile <= 0.5:
            raise ValueError(f"quantile must be in (0, 0.5], got {self.quantile}")
        if not 0 <= self.resample_probability <= 1:
            raise ValueError(f"resample_probability must be in [0, 1], got {self.resample_probability}")
        if not self.factors or not all(f > 0 for f in self.factors):
            raise ValueError(f"factors must be positive numbers, got {self.factors}")
        if not (isinstance(self.min_epochs, int) and 1 <= self.min_epochs <= epochs):
            raise ValueError(f"min_epochs must be a whole number from 1 to the training's {epochs} epochs, got "
                             f"{self.min_epochs}")
        interval = self.interval if self.interval is not None else max(1, epochs // 10)
        if not (isinstance(interval, int) and interval >= 1):
            raise ValueError(f"interval must be a whole number of epochs >= 1, got {interval}")
        budget = self.budget if self.budget is not None else 32 * epochs
        settings = Settings(self.method, budget, self.seed, float(self.reduction_factor), self.min_epochs, interval,
                            self.quantile, self.resample_probability, tuple(map(float, self.factors)), self.metric)
        least = settings.members(epochs)
        if least < 2:
            halving = self.method == "halving"
            need = _halving_cost(2, rungs(settings, epochs), settings) if halving else 2 * epochs
            raise ValueError(f"budget {budget} member-epochs buys less than one comparison: {self.method} needs "
                             f"at least {need} (two members{' through the first rung' if halving else ''})")
        return settings

    def members(self, epochs: int) -> int:
        """How many members the budget pays for at the start."""
        if self.method != "halving":
            return self.budget // epochs
        plan, low, high = rungs(self, epochs), 0, self.budget  # the cost grows with n: the largest n it pays for
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (middle, high) if _halving_cost(middle, plan, self) <= self.budget else (low, middle - 1)
        return low


def rungs(settings: Settings, epochs: int) -> list[int]:
    """Halving's rungs in epochs: ``min_epochs · η^k`` below ``epochs``, then ``epochs``."""
    out, k = [], 0
    while (at := round(settings.min_epochs * settings.reduction_factor**k)) < epochs:
        if not out or at > out[-1]:
            out.append(at)
        k += 1
    return [*out, epochs]


def survivors(n: int, settings: Settings) -> int:
    return max(1, int(n // settings.reduction_factor))


def _halving_cost(n: int, plan: list[int], settings: Settings) -> int:
    cost, before = 0, 0
    for at in plan:
        cost, before, n = cost + n * (at - before), at, survivors(n, settings)
    return cost


@dataclass
class Tuning:
    """A tuning's outcome: the ``records`` of every decision (rungs: members, scores, who went on; PBT rounds:
    scores, who took over whom), PBT's ``lineage`` (one row per exploit: round, epoch, member, source, the
    hyperparameters before and after), ``trajectory`` (each member's hyperparameters through the rounds), the
    final population's ``result``, each member's ``values`` and ``scores``, the ``best`` member, the ``seeds`` the
    members started with (``trajectory[0]`` their hyperparameters), the member-epochs spent and the seconds spent
    training and deciding (recording included); in a store, its ``id`` there."""

    method: str
    settings: Settings
    space: Space
    records: list = field(default_factory=list)
    exploits: list = field(default_factory=list)  # per PBT round, its exploits as columns (see ``lineage``)
    trajectory: list = field(default_factory=list)
    values: dict = field(default_factory=dict)
    seeds: np.ndarray | None = None
    scores: np.ndarray | None = None
    result: object = None
    member_epochs: int = 0
    seconds: dict = field(default_factory=lambda: {"training": 0.0, "deciding": 0.0})
    id: str | None = None  # in a store: the tuning's id there

    @property
    def lineage(self) -> list[dict]:
        """One row per exploit, in order: ``round``, ``epoch``, ``member`` (the row that took over), ``source`` (the
        row whose run it took), and per hyperparameter its value ``_before``, the source's (``_copied``) and the
        explored one (the axis's own name)."""
        rows = []
        for columns in self.exploits:
            names = list(columns)
            kinds = [int if n in ("round", "epoch", "member", "source") else float for n in names]
            rows += [{n: kind(x) for n, kind, x in zip(names, kinds, row)}
                     for row in zip(*(c.tolist() for c in columns.values()))]
        return rows

    @property
    def best(self) -> dict:
        """The best member at the end: its row, score and hyperparameters."""
        i = int(np.argmin(self.scores))
        return {"member": i, "score": _shown(self.scores[i], self.settings.metric),
                **{name: float(v[i]) for name, v in self.values.items()}}


def tune(spec: Spec | dict | str, *, store: str | Path | None = None, checkpoint_every: float = 60.0,
         engine: str = "auto", device: str = "cpu", on_decision=None, **settings) -> Tuning:
    """Tune ``spec``'s search space (``settings``: :class:`Settings`' fields) and return the :class:`Tuning`.

    With ``store`` (a path) every decision is recorded there (:mod:`inertia.sweeps.tunings`), and the population
    is checkpointed beside it after the first decision ``checkpoint_every`` seconds after the last checkpoint (0:
    after every one) and after the last: the same tuning found there goes on from its checkpoint, making the
    decisions after it again, as they were. ``on_decision(tuning)`` is called after each decision (raising from
    it stops the tuning there)."""
    spec = spec if isinstance(spec, Spec) else load_spec(spec)
    space = space_of(spec)
    _check_spec(spec)
    epochs = spec.train["epochs"]
    chosen = Settings(**settings).checked(epochs)
    from inertia.sweeps.run import _check_data

    _check_data(spec, [])
    rng = np.random.default_rng(chosen.seed)
    size = chosen.members(epochs)
    values = space.sample(rng, size)
    seeds = rng.integers(0, 2**31, size=size)
    population = population_of(spec, values, seeds, engine=engine, device=device)
    tuning = Tuning(chosen.method, chosen, space, values=values, trajectory=[_copy(values)], seeds=seeds)
    identity = {"spec": spec.to_dict(), "settings": asdict(chosen), "engine": population.engine,
                "device": str(population.setup.device)}  # the same engine: resumed bit for bit
    if not checkpoint_every >= 0:
        raise ValueError(f"checkpoint_every must be a number of seconds >= 0, got {checkpoint_every}")
    with contextlib.ExitStack() as held:
        db, checkpointed = None, time.perf_counter()
        if store is not None:
            db = held.enter_context(Store(store))
            tuning.id = tunings.begin(db, identity)
            held.callback(db.release)
            held.enter_context(db.heartbeat())
            checkpoints = tunings.Checkpoints(db, tuning.id)
            held.callback(checkpoints.close)  # a checkpoint being written is finished, even on an error
            saved = tunings.load_checkpoint(db, tuning.id)
            if saved is not None:
                _rebuild(tuning, tunings.decisions(db, tuning.id, before=saved["decisions"]), saved["decisions"], db)
                population.restore(saved["population"])
                rng.bit_generator.state = saved["rng"]
        stretches = _stretches(chosen, epochs)
        while population.epoch < epochs:
            length, started = stretches[population.epoch], time.perf_counter()
            population.train(length)
            trained = time.perf_counter()
            tuning.member_epochs += len(population) * length
            _decide(tuning, population, rng, final=population.epoch == epochs)
            tuning.seconds["training"] += trained - started
            tuning.seconds["deciding"] += time.perf_counter() - trained
            if db is not None:
                saving = time.perf_counter()
                tunings.record(db, tuning.id, len(tuning.records) - 1, population.epoch, *_decision(tuning))
                if population.epoch == epochs or saving - checkpointed >= checkpoint_every:
                    checkpoints.save({"decisions": len(tuning.records), "population": population.checkpoint(),
                                      "rng": rng.bit_generator.state})
                    checkpointed = time.perf_counter()
                tuning.seconds["deciding"] += time.perf_counter() - saving
            if on_decision is not None:
                on_decision(tuning)
        tuning.result = population.result()
        if db is not None:
            checkpoints.wait()
            tunings.finish(db, tuning.id, {"best": tuning.best, "member_epochs": tuning.member_epochs,
                                           "members": len(tuning.seeds), "seconds": tuning.seconds})
    return tuning


def population_of(spec: Spec, values: dict[str, np.ndarray], seeds, *, engine: str = "auto", device: str = "cpu"):
    """A :class:`~inertia.population.segments.Population` of ``spec``'s network and data, one member per seed,
    member i with the hyperparameters ``values[name][i]`` and the spec's own elsewhere."""
    from inertia.optim import rules
    from inertia.population import Members, Population
    from inertia.sweeps.run import _layers, dataset_of, rule_of

    dataset = dataset_of(canonical(spec.data))
    seeds = np.asarray(seeds, dtype=np.int64)
    # one member's rule as the spec resolves it, its columns repeated, then the searched ones set
    first = rules.stack([rule_of(resolve(spec, {name: float(v[0]) for name, v in values.items()}, int(seeds[0])))])
    rule = rules.convert(first, lambda column: np.repeat(column, len(seeds)))
    space = space_of(spec)
    rule = replace(rule, **{space.field(name): np.asarray(v, dtype=np.float64).copy() for name, v in values.items()})
    return Population(dataset, _layers({"model": spec.model}, dataset), Members(rule, seeds),
                      batch_size=spec.train["batch_size"], shuffle=spec.train["shuffle"],
                      activation=spec.model.get("activation", "relu"), engine=engine, device=device,
                      held_out=dataset.test, **_factor(spec))


def _stretches(settings: Settings, epochs: int) -> dict[int, int]:
    """{epoch a stretch starts at: its length}."""
    if settings.method == "random":
        ends = [epochs]
    elif settings.method == "halving":
        ends = rungs(settings, epochs)
    else:
        ends = [*range(settings.interval, epochs, settings.interval), epochs]
    return {start: end - start for start, end in zip([0, *ends], ends)}


def _decide(tuning: Tuning, population, rng: np.random.Generator, final: bool) -> None:
    """One decision after a stretch: score every member, then cut (halving) or exploit and explore (PBT)."""
    settings, metric = tuning.settings, _metric(population, tuning.settings.metric)
    scores = _badness(population.metrics[metric][:, -1], settings.metric)
    record = {"epoch": population.epoch, "members": population.origin.tolist(),
              "scores": _shown(scores, settings.metric).tolist()}
    tuning.scores = scores
    if settings.method == "halving" and not final:
        keep = np.argsort(scores, kind="stable")[: survivors(len(population), settings)]
        record["kept"] = population.origin[keep].tolist()
        population.keep(keep)
        tuning.values = {name: v[keep] for name, v in tuning.values.items()}
        tuning.scores = scores[keep]
    elif settings.method == "pbt" and not final:
        record["exploited"] = _exploit(tuning, population, scores, rng)
        tuning.trajectory.append(_copy(tuning.values))
    tuning.records.append(record)


def _exploit(tuning: Tuning, population, scores: np.ndarray, rng: np.random.Generator) -> list:
    """PBT's exploit and explore: the bottom quantile take over runs drawn from the top quantile."""
    settings, space = tuning.settings, tuning.space
    n = len(population)
    count = min(math.ceil(n * settings.quantile), n // 2)
    order = np.argsort(scores, kind="stable")
    top, bottom = order[:count], order[n - count :]
    sources = top[rng.integers(count, size=count)] if count else top
    population.copy(sources, bottom)
    before = {name: v[bottom].copy() for name, v in tuning.values.items()}
    copied = {name: v[sources] for name, v in tuning.values.items()}
    explored = space.explore(copied, rng, settings.resample_probability, settings.factors)
    population.set(bottom, **{space.field(name): v for name, v in explored.items()})
    for name, v in explored.items():
        tuning.values[name][bottom] = v
    tuning.exploits.append({"round": np.full(count, len(tuning.records)), "epoch": np.full(count, population.epoch),
                            "member": bottom, "source": sources, **{f"{k}_before": v for k, v in before.items()},
                            **{f"{k}_copied": v for k, v in copied.items()}, **explored})
    return list(zip(bottom.tolist(), sources.tolist()))


def _metric(population, name: str) -> str:
    held = f"test_{name}"
    return held if held in population.metrics else name


def _badness(values: np.ndarray, metric: str) -> np.ndarray:
    """Lower is better: the loss, or minus the accuracy; a diverged member (NaN) worst."""
    bad = values if metric == "loss" else -values
    return np.where(np.isnan(bad), np.inf, bad)


def _shown(badness, metric: str):
    """The metric again from :func:`_badness` (an array or one number), NaN for a diverged member."""
    shown = np.where(np.isfinite(badness), badness if metric == "loss" else -np.asarray(badness), np.nan)
    return shown if np.ndim(badness) else float(shown)


def _copy(values: dict) -> dict:
    return {name: v.copy() for name, v in values.items()}


def _check_spec(spec: Spec) -> None:
    if spec.schedule.get("kind", "constant") != "constant" or spec.schedule.get("warmup") or spec.momentum_schedule:
        raise SpecError("tune searches constant hyperparameters; leave [schedule] and [momentum_schedule] out "
                        "(PBT finds its own schedules)")
    if spec.optimizer.get("effective_lr"):
        raise SpecError("optimizer.effective_lr: tune sets lr itself; leave effective_lr out")


def _factor(spec: Spec) -> dict:
    factor = spec.train.get("divergence_factor")
    return {} if factor is None else {"divergence_factor": factor}


def _decision(tuning: Tuning) -> tuple[dict, dict]:
    """The last decision as :func:`inertia.sweeps.tunings.record` stores it: enough to rebuild it exactly."""
    record = tuning.records[-1]
    scores = np.asarray(record["scores"], dtype=np.float64)
    arrays = {"members": np.asarray(record["members"], dtype=np.int64), "scores": scores, "badness": tuning.scores,
              **{f"value_{name}": v for name, v in tuning.values.items()}}
    summary = {"epoch": record["epoch"], "members": len(record["members"]),
               "best": None if np.isnan(scores).all() else float(_shown(tuning.scores.min(), tuning.settings.metric)),
               "member_epochs": tuning.member_epochs, "seconds": dict(tuning.seconds)}
    if "kept" in record:
        arrays["kept"] = np.asarray(record["kept"], dtype=np.int64)
        summary["kept"] = len(record["kept"])
    if "exploited" in record:
        arrays |= {f"exploit_{name}": column for name, column in tuning.exploits[-1].items()}
        summary["exploited"] = len(record["exploited"])
    return summary, arrays


def _rebuild(tuning: Tuning, rows: list, count: int, db) -> None:
    """``tuning`` as its first ``count`` decisions (``rows``, from the store) left it."""
    if len(rows) != count:
        raise ValueError(f"{db.path} holds {len(rows)} of the {count} decisions tuning {tuning.id}'s checkpoint "
                         f"follows; remove {tunings.checkpoint_path(db, tuning.id)} to start it again")
    for summary, arrays in rows:
        record = {"epoch": summary["epoch"], "members": arrays["members"].tolist(),
                  "scores": arrays["scores"].tolist()}
        if "kept" in arrays:
            record["kept"] = arrays["kept"].tolist()
        exploit = {name.removeprefix("exploit_"): a for name, a in arrays.items() if name.startswith("exploit_")}
        tuning.values = {name.removeprefix("value_"): a for name, a in arrays.items() if name.startswith("value_")}
        if "exploited" in summary:
            record["exploited"] = list(zip(exploit["member"].tolist(), exploit["source"].tolist()))
            tuning.exploits.append(exploit)
            tuning.trajectory.append(_copy(tuning.values))
        tuning.records.append(record)
        tuning.scores, tuning.member_epochs = arrays["badness"], summary["member_epochs"]
        tuning.seconds = dict(summary["seconds"])
