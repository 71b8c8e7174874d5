"""Running a comparison: :func:`compare` trains one model per (momentum, seed) — every run as one member of a
population at once, or one after another with :func:`~inertia.train.fit` — and returns its
:class:`~inertia.studies.comparison.result.Comparison`."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import asdict

import numpy as np

from inertia import data as data_module
from inertia import factory as factories
from inertia.arguments import layers_for
from inertia.data import Dataset
from inertia.models import MLP, resolve_device
from inertia.optim import rules, schedules
from inertia.optim.torch_optimizers import Momentum, for_rule
from inertia.outcome import DIVERGENCE_FACTOR, check_factor
from inertia.population import ACTIVATIONS as POPULATION_ACTIVATIONS
from inertia.population import Members, train_population
from inertia.progress import progress_bar
from inertia.studies.comparison.config import LAB_MOMENTA, CompareConfig
from inertia.studies.comparison.result import Comparison, Run
from inertia.train import History, fit


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
    model: Callable | str | None = None,
    schedule: str | None = None,
    momentum_schedules: Sequence[str] = (),
    keep: Sequence[int] | None = None,
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
    epoch, one ``(kind, momentum, seed, loss, accuracy)`` per run trained (kind ``"momentum"``, ``"held"`` for
    the equal-effective-lr runs, or ``"arm"`` for a baseline or momentum schedule, its label in place of the
    momentum, streamed after the momenta); raising from it abandons the comparison.

    ``model`` trains a network of your own instead of the MLP: ``model(seed)`` returns any ``torch.nn.Module``
    mapping the data's ``(N, features)`` rows to ``(N, classes)`` logits (or ``model`` is a ``"module:function"``
    text naming such a function). It is called with torch's global generator seeded by the seed, once per run, so
    the momenta of one seed start from the same weights (:mod:`inertia.factory` checks that, and the shapes,
    first). Everything else is the same — paired seeds, baselines, statistics, figures, the report — trained on
    the loop engine, one model at a time with :func:`~inertia.train.fit` (``layers`` and ``activation`` do not
    apply; the population engine trains inertia's MLPs only).

    ``schedule`` changes the learning rate of the momenta (and of the momentum schedules) during training: text
    :func:`inertia.optim.schedules.parse` reads, such as ``"onecycle:max_lr=0.2"`` or ``"cosine"``, lasting the whole
    training unless it says otherwise (a one-cycle schedule leaves the momenta alone here; the baselines keep their
    own constant rates). ``momentum_schedules`` adds arms beside the momenta, each SGD with momentum at ``lr`` (and
    ``schedule``) whose momentum follows one schedule, such as ``"sutskever:mu_max=0.99"`` or ``"demon:beta0=0.9"``
    (:func:`inertia.optim.schedules.parse_momentum`), over the same seeds, paired with the momenta as the baselines
    are.

    ``keep`` lists the epochs after which the first seed's model of every momentum is kept in
    :attr:`Comparison.snapshots` (0: its initial weights; default :func:`snapshot_epochs`, what the decision
    regions show).
    """
    check_factor(divergence_factor)
    factory = factories.load(model, "model") if isinstance(model, str) else model
    config = CompareConfig.of(
        momenta=momenta, dataset=dataset if isinstance(dataset, str) else dataset.name, layers=layers,
        activation=activation, lr=lr, batch_size=batch_size, epochs=epochs, seeds=seeds, shuffle=shuffle,
        data_seed=data_seed, target_accuracy=target_accuracy, form=form, baselines=baselines, hold=hold,
        nesterov=nesterov, schedule=schedule, momentum_schedules=momentum_schedules,
        model=None if model is None else model if isinstance(model, str) else factories.name(factory))
    resolve_device(device)
    if engine not in ("auto", "population", "loop"):
        raise ValueError(f"unknown engine {engine!r}; choose auto, population or loop")
    if factory is not None and engine == "population":
        raise ValueError("engine 'population' trains inertia's MLPs (layers=...); a model of your own trains on "
                         "engine 'loop' (or 'auto')")
    if isinstance(dataset, str):
        dataset = data_module.get(dataset, seed=data_seed)
    if factory is None:
        config = CompareConfig(**{**asdict(config), "layers": tuple(layers_for(dataset, config.layers))})

        def make(seed):
            return MLP(config.layers, config.activation, seed=seed)
    else:
        factories.check(factory, dataset, config.seeds[0])
        engine = "loop"

        def make(seed):
            return factories.build(factory, seed)
    if engine == "auto":
        engine = "population" if config.activation in POPULATION_ACTIVATIONS else "loop"
    updates = config.epochs * -(-len(dataset) // config.batch_size)
    lr_schedule = config.lr_schedule(updates)  # every schedule checked against the training's length
    arms = [(text, schedules.parse_momentum(text, updates)) for text in config.momentum_schedules]

    pairs = [(momentum, seed, config.lr) for seed in config.seeds for momentum in config.momenta]
    held = [(momentum, seed, config.lr * (1 - momentum)) for seed in config.seeds for momentum in config.momenta
            if momentum != 0] if config.hold == "effective-lr" else []
    snapshots: dict[int, dict[float, MLP]] = {e: {} for e in (snapshot_epochs(config.epochs) if keep is None
                                                              else sorted(set(keep)))}
    if 0 in snapshots:
        snapshots[0] = {m: make(config.seeds[0]) for m in config.momenta}
    total = (len(pairs) + len(held) + len(config.arms) * len(config.seeds)) * config.epochs
    with progress_bar(total, progress) as advance:
        runs, held_runs = [], []
        for todo, kept, done in ((pairs, snapshots, runs), (held, {}, held_runs)):
            if not todo:
                continue
            if engine == "population":
                done += _train_population(config, dataset, todo, device, advance, kept, divergence_factor,
                                          on_metrics, "momentum" if todo is pairs else "held", lr_schedule)
            else:
                done += [_train_one(config, dataset, make, momentum, seed, lr, advance, kept, divergence_factor,
                                    lr_schedule) for momentum, seed, lr in todo]
        baseline_runs = [run for text in config.baselines for run in
                         _train_baseline(config, dataset, make, text, engine, device, advance, divergence_factor,
                                         on_metrics)]
        baseline_runs += [run for text, ramp in arms for run in
                          _train_arm(config, dataset, make, text, ramp, lr_schedule, engine, device, advance,
                                     divergence_factor, on_metrics)]
    return Comparison(config, dataset, runs, snapshots, baseline_runs, held_runs,
                      trained_on={"engine": engine,
                                  "device": str(resolve_device(device)) if engine == "population" else "cpu"})


def snapshot_epochs(epochs: int) -> list[int]:
    """Epochs after which the first seed's models are kept: 1, about a tenth, a quarter, a half, the last."""
    return sorted({1, max(1, epochs // 10), max(1, epochs // 4), max(1, epochs // 2), epochs})


def _train_one(config: CompareConfig, dataset: Dataset, make, momentum: float, seed: int, lr: float, advance,
               snapshots, divergence_factor, lr_schedule=None) -> Run:
    """The plain path: one model (``make(seed)``), :class:`~inertia.optim.Momentum`, :func:`~inertia.train.fit`."""
    model = make(seed)
    optimizer = Momentum(model.parameters(), lr=lr, momentum=momentum, form=config.form,
                         nesterov=config.nesterov and momentum > 0)

    def on_epoch(epoch, history):
        advance(f"momentum {momentum:g}, seed {seed}")
        if seed == config.seeds[0] and epoch + 1 in snapshots:
            snapshots[epoch + 1][momentum] = copy.deepcopy(model)

    history = fit(model, dataset, optimizer, config.epochs, config.batch_size, config.shuffle, seed=seed,
                  on_epoch=on_epoch, divergence_factor=divergence_factor, schedule=lr_schedule)
    advance(None, _epochs_skipped(history))
    return Run(momentum, seed, history, model, lr=lr)


def _train_population(config: CompareConfig, dataset: Dataset, pairs, device, advance, snapshots,
                      divergence_factor, on_metrics=None, kind="momentum", lr_schedule=None) -> list[Run]:
    """Every (momentum, seed, lr) run as one member of a population trained at once (two with ``nesterov``,
    which plain SGD, momentum 0, does not take)."""
    runs: list[Run | None] = [None] * len(pairs)
    for nesterov in (False, True) if config.nesterov else (False,):
        indices = [i for i, p in enumerate(pairs) if not config.nesterov or (p[0] > 0) == nesterov]
        if not indices:
            continue
        part = [pairs[i] for i in indices]
        momenta, seeds, lrs = zip(*part)
        members = Members.table(seed=list(seeds), lr=list(lrs), momentum=list(momenta), schedule=lr_schedule)
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
            runs[i] = Run(m, s, result.history(j), result.model(j), lr=lr)
            if s == config.seeds[0]:
                for epoch in snapshots:
                    if epoch > 0:
                        snapshots[epoch][m] = result.model(j, epoch)
    return runs


def _train_baseline(config: CompareConfig, dataset: Dataset, make, text: str, engine: str, device, advance,
                    divergence_factor, on_metrics=None) -> list[Run]:
    """One baseline optimizer over every seed, with its torch optimizer on the loop engine."""
    rule = rules.parse(text)
    return _train_beside(config, dataset, make, text, Members.seeds_of(rule, list(config.seeds)),
                         lambda params: for_rule(rule, params), engine, device, advance, divergence_factor,
                         on_metrics)


def _train_arm(config: CompareConfig, dataset: Dataset, make, text: str, ramp, lr_schedule, engine: str, device,
               advance, divergence_factor, on_metrics=None) -> list[Run]:
    """One momentum schedule ``ramp`` (labelled ``text``) over every seed: SGD with momentum at the comparison's
    rate and schedule, its momentum the schedule's at every update."""
    first = float(np.asarray(ramp(0)))  # the rule's momentum as of the first update
    nesterov = config.nesterov and first > 0
    members = Members.table(seed=list(config.seeds), lr=config.lr, momentum=first, schedule=lr_schedule,
                            momentum_schedule=ramp)
    return _train_beside(
        config, dataset, make, text, members,
        lambda params: Momentum(params, lr=config.lr, momentum=first, form=config.form, nesterov=nesterov),
        engine, device, advance, divergence_factor, on_metrics, population={"form": config.form, "nesterov": nesterov},
        loop={"schedule": lr_schedule, "momentum_schedule": ramp})


def _train_beside(config: CompareConfig, dataset: Dataset, make, text: str, members: Members, optimizer,
                  engine: str, device, advance, divergence_factor, on_metrics=None, population=None,
                  loop=None) -> list[Run]:
    """An arm beside the momenta (labelled ``text``) over every seed: ``members`` (one per seed) as one population,
    or one ``fit`` per seed with ``optimizer(parameters)``; ``population`` and ``loop`` are what each path takes
    besides the comparison's settings. On the population engine ``on_metrics`` gets its runs' metrics after each
    epoch as ``("arm", text, seed, loss, accuracy)``."""
    if engine == "population":
        seeds = list(config.seeds)
        stream = None if on_metrics is None else (
            lambda first, epoch, loss, accuracy: on_metrics(
                epoch, [("arm", text, s, float(a), float(b)) for s, a, b in
                        zip(seeds[first:first + len(loss)], loss, accuracy)]))
        result = train_population(
            dataset, config.layers, members, epochs=config.epochs, batch_size=config.batch_size,
            shuffle=config.shuffle, activation=config.activation, device=device,
            on_epoch=lambda done: advance(f"{text}, {len(members)} seeds", done),
            divergence_factor=divergence_factor, on_metrics=stream, **(population or {}))
        return [Run(np.nan, seed, result.history(i), result.model(i), text) for i, seed in enumerate(config.seeds)]
    runs = []
    for seed in config.seeds:
        model = make(seed)
        history = fit(model, dataset, optimizer(model.parameters()), config.epochs, config.batch_size,
                      config.shuffle, seed=seed, on_epoch=lambda epoch, h, seed=seed: advance(f"{text}, seed {seed}"),
                      divergence_factor=divergence_factor, **(loop or {}))
        advance(None, _epochs_skipped(history))
        runs.append(Run(np.nan, seed, history, model, text))
    return runs


def _epochs_skipped(history: History) -> int:
    """Epochs not trained after a divergence (they still count towards the progress total)."""
    return 0 if history.diverged_at is None else history.epochs - history.diverged_at - 1
