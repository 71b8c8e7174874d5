"""Sweep specs: a TOML file (or a dict) that expands, deterministically, into resolved run configurations.

A spec has these tables (every key optional except where noted)::

    [data]        name = "spiral"  (spiral, moons, circles, blobs, digits, or a .csv/.npz path), seed = 0, and
                  the generator's own arguments (points, noise, turns, ...; label for a table); held_out = N for
                  spiral, moons, circles: a held-out split of N points per class, drawn with seed + 1,000,000
    [model]       layers = [2, 50, 3] (default: features, 50, classes), activation = "relu"
    [optimizer]   name = "momentum" (any form; or sgd, qhm, adam, adamw, rmsprop: inertia.optim.rules, with
                  torch.optim's semantics and defaults), lr, momentum (QHM's β), dampening, weight_decay,
                  nesterov, form, effective_lr = false, and nu (qhm), beta1, beta2, eps (adam, adamw),
                  alpha, eps, centered (rmsprop)
    [schedule]    kind = "constant" | "inverse_time" (decay) | "step" (every, gamma) | "cosine" (total, floor),
                  each with warmup (updates) and warmup_factor (the first update's fraction of the rate); or
                  "onecycle" (torch's OneCycleLR: max_lr (default: optimizer.lr), total_steps (default: the whole
                  training), pct_start, anneal_strategy, cycle_momentum, base_momentum, max_momentum, div_factor,
                  final_div_factor, three_phase)
    [momentum_schedule]  kind = "sutskever" (mu_max, every) | "demon" (beta0, total): the momentum (Adam's β₁)
    [train]       epochs = 100, batch_size = 20, shuffle = true, seeds = 5 (a count, or a list of seeds),
                  divergence_factor = 10 (the rule of inertia.outcome; left out of a configuration unless set)
    [grid]        axis = [values, ...] for any of AXES: every combination is run
    [random]      count = N, seed = S, and axis = { log_uniform = [low, high] } or { uniform = [low, high] }:
                  N random points, each crossed with the grid
    [targets]     accuracy = 0.9, loss = 0.2: time-to-target thresholds for the results

With ``effective_lr = true`` the ``lr`` values mean the effective learning rate lr / (1 − momentum), held
fixed across momenta: each run trains with lr · (1 − momentum).

A resolved configuration is a plain JSON-able dict; its id is a hash of its canonical JSON, the same in
every process and on every machine, so a store can tell finished runs from new ones.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inertia.optim.checks import FORMS, check_momentum
from inertia.outcome import check_factor
from inertia.sweeps.schedule_tables import MOMENTUM_SCHEDULES, SCHEDULES, check_values

OPTIMIZERS = ("momentum", "sgd", "qhm", "adam", "adamw", "rmsprop")
# Keys of [optimizer] beyond momentum's, and the optimizers that read each (left out of the others' configs).
EXTRA_KEYS = {"nu": ("qhm",), "beta1": ("adam", "adamw"), "beta2": ("adam", "adamw"),
              "eps": ("adam", "adamw", "rmsprop"), "alpha": ("rmsprop",), "centered": ("rmsprop",)}
# Axes a grid or random section may vary, and the table each belongs to.
AXES = {"lr": "optimizer", "momentum": "optimizer", "dampening": "optimizer", "weight_decay": "optimizer",
        "nesterov": "optimizer", "form": "optimizer", "optimizer": "optimizer", "batch_size": "train",
        "epochs": "train", "activation": "model", **{key: "optimizer" for key in EXTRA_KEYS}}
TABLES = ("data", "model", "optimizer", "schedule", "train", "grid", "random", "targets", "momentum_schedule")
OPTIMIZER_KEYS = ("name", "lr", "momentum", "dampening", "weight_decay", "nesterov", "form", "effective_lr",
                  *EXTRA_KEYS)
TRAIN_KEYS = ("epochs", "batch_size", "shuffle", "seeds", "divergence_factor")
MODEL_KEYS = ("layers", "activation")
TARGETS = ("accuracy", "loss")
# generated data sets whose shape is fixed and whose seed draws only the noise: another seed, the same distribution
GENERATED = ("spiral", "moons", "circles")
HELD_OUT_SEED = 1_000_000  # a generated set's held-out split is drawn with its seed plus this


class SpecError(ValueError):
    """A spec that cannot be run; the message names the key and what is allowed."""


@dataclass(frozen=True)
class Spec:
    """A validated sweep spec (see the module docstring)."""

    data: dict
    model: dict
    optimizer: dict
    schedule: dict
    train: dict
    grid: dict = field(default_factory=dict)
    random: dict = field(default_factory=dict)
    targets: dict = field(default_factory=dict)
    momentum_schedule: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in TABLES}

    def expand(self) -> list[dict]:
        """Every resolved configuration: random points × grid × seeds, in a fixed order."""
        return expand(self)


def load_spec(source: str | Path | dict) -> Spec:
    """A validated :class:`Spec` from a TOML file's path or a dict; :class:`SpecError` otherwise."""
    if isinstance(source, dict):
        return validate(source)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read spec {str(source)!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SpecError(f"spec {str(source)!r} is not a text (TOML) file") from None
    return parse_spec(text)


def parse_spec(text: str) -> Spec:
    """A validated :class:`Spec` from TOML text."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"spec is not valid TOML: {exc}") from None
    return validate(raw)


def validate(raw: dict) -> Spec:
    """Check every key and value of a spec dict; returns the :class:`Spec` with defaults filled in."""
    if not raw:
        raise SpecError("the spec is empty; give at least one table, e.g. [grid] with lr = [0.01, 0.1]")
    _only(raw, TABLES, "spec")
    tables = {name: raw.get(name, {}) for name in TABLES}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise SpecError(f"{name}: expected a table ([{name}]), got {type(table).__name__}")

    data = dict(tables["data"])
    data.setdefault("name", "spiral")
    if not isinstance(data["name"], str):
        raise SpecError(f"data.name: expected a data set name or a path, got {data['name']!r}")
    data.setdefault("seed", 0)
    _integer(data["seed"], "data.seed", minimum=0)
    if "held_out" in data:
        _integer(data["held_out"], "data.held_out", minimum=1)
        if data["name"] not in GENERATED:
            raise SpecError(f"data.held_out: a held-out split is drawn for {', '.join(GENERATED)} (another seed, the "
                            f"same distribution); {data['name']!r} has its own split or none")

    model = dict(tables["model"])
    _only(model, MODEL_KEYS, "model")
    if "layers" in model:
        layers = model["layers"]
        if not (isinstance(layers, list) and len(layers) >= 2
                and all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in layers)):
            raise SpecError(f"model.layers: expected a list of at least two positive integers, got {layers!r}")
    model.setdefault("activation", "relu")
    _activation(model["activation"], "model.activation")

    optimizer = {"name": "momentum", "lr": 0.1, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0,
                 "nesterov": False, "form": "pytorch", "effective_lr": False, **tables["optimizer"]}
    _only(optimizer, OPTIMIZER_KEYS, "optimizer")
    for key in ("name", "lr", "momentum", "dampening", "weight_decay", "nesterov", "form",
                *(k for k in EXTRA_KEYS if k in optimizer)):
        _axis_value(key, optimizer[key], f"optimizer.{key}")
    if not isinstance(optimizer["effective_lr"], bool):
        raise SpecError(f"optimizer.effective_lr: expected true or false, got {optimizer['effective_lr']!r}")

    schedule, momentum_schedule = {"kind": "constant", **tables["schedule"]}, dict(tables["momentum_schedule"])
    for name, table, kinds in (("schedule", schedule, SCHEDULES),
                               ("momentum_schedule", momentum_schedule, MOMENTUM_SCHEDULES)):
        if table or name == "schedule":
            if table.get("kind") not in kinds:
                raise SpecError(f"{name}.kind: {table.get('kind')!r} is not one of {', '.join(kinds)}")
            _only(table, ("kind", *kinds[table["kind"]]), f"{name} (kind {table['kind']!r})")
    for key, value in schedule.items():  # the older kinds' values are numbers; one-cycle's its class checks
        if key != "kind" and schedule["kind"] != "onecycle" and not (_is_number(value) and value >= 0):
            raise SpecError(f"schedule.{key}: expected a number >= 0, got {value!r}")
    try:
        check_values(schedule, momentum_schedule, optimizer["lr"])
    except ValueError as exc:
        raise SpecError(str(exc)) from None

    train = {"epochs": 100, "batch_size": 20, "shuffle": True, "seeds": 5, **tables["train"]}
    _only(train, TRAIN_KEYS, "train")
    _integer(train["epochs"], "train.epochs", minimum=1)
    _integer(train["batch_size"], "train.batch_size", minimum=1)
    if not isinstance(train["shuffle"], bool):
        raise SpecError(f"train.shuffle: expected true or false, got {train['shuffle']!r}")
    if "divergence_factor" in train:
        try:
            check_factor(train["divergence_factor"])
        except ValueError:
            raise SpecError(f"train.divergence_factor: expected a finite number > 1, got "
                            f"{train['divergence_factor']!r}") from None
    seeds = train["seeds"]
    if isinstance(seeds, list):
        for i, seed in enumerate(seeds):
            _integer(seed, f"train.seeds[{i}]", minimum=0)
        if len(set(seeds)) != len(seeds):
            raise SpecError(f"train.seeds: seeds must be distinct, got {seeds}")
    else:
        _integer(seeds, "train.seeds", minimum=1)

    grid = dict(tables["grid"])
    for axis, values in grid.items():
        if axis not in AXES:
            raise SpecError(f"grid.{axis}: unknown axis (allowed: {', '.join(AXES)})")
        if not isinstance(values, list) or not values:
            raise SpecError(f"grid.{axis}: expected a non-empty list of values, got {values!r}")
        for i, value in enumerate(values):
            _axis_value(axis, value, f"grid.{axis}[{i}]")

    random = dict(tables["random"])
    if random:
        _integer(random.get("count"), "random.count", minimum=1)
        _integer(random.setdefault("seed", 0), "random.seed", minimum=0)
        for axis, law in random.items():
            if axis in ("count", "seed"):
                continue
            if axis not in ("lr", "momentum", "dampening", "weight_decay"):
                raise SpecError(f"random.{axis}: only lr, momentum, dampening and weight_decay can be drawn")
            if axis in grid:
                raise SpecError(f"random.{axis}: {axis} is also a grid axis; vary it in one of them")
            if not (isinstance(law, dict) and len(law) == 1 and next(iter(law)) in ("uniform", "log_uniform")):
                raise SpecError(f"random.{axis}: expected {{ uniform = [low, high] }} or "
                                f"{{ log_uniform = [low, high] }}, got {law!r}")
            kind, bounds = next(iter(law.items()))
            if not (isinstance(bounds, list) and len(bounds) == 2 and all(_is_number(b) for b in bounds)
                    and bounds[0] <= bounds[1] and (kind == "uniform" or bounds[0] > 0)):
                raise SpecError(f"random.{axis}.{kind}: expected [low, high] with low <= high"
                                f"{' and low > 0' if kind == 'log_uniform' else ''}, got {bounds!r}")
        if len(random) == 2:
            raise SpecError("random: a count but no axis to draw (e.g. lr = { log_uniform = [1e-3, 1] })")

    targets = dict(tables["targets"])
    _only(targets, TARGETS, "targets")
    if "accuracy" in targets and not (_is_number(targets["accuracy"]) and 0 < targets["accuracy"] <= 1):
        raise SpecError(f"targets.accuracy: expected a number in (0, 1], got {targets['accuracy']!r}")
    if "loss" in targets and not (_is_number(targets["loss"]) and targets["loss"] > 0):
        raise SpecError(f"targets.loss: expected a number > 0, got {targets['loss']!r}")

    return Spec(data, model, optimizer, schedule, train, grid, random, targets, momentum_schedule)


def expand(spec: Spec) -> list[dict]:
    """Resolved configurations, in order: for each random point, each grid combination, each seed. Where
    axes do not apply (momentum for adam, form for the torch.optim baselines) the duplicates are dropped."""
    seeds = spec.train["seeds"]
    seeds = list(seeds) if isinstance(seeds, list) else list(range(seeds))
    axes = list(spec.grid)
    combos = list(itertools.product(*(spec.grid[a] for a in axes)))
    points = _random_points(spec.random)
    configs = {}
    for point in points:
        for combo in combos:
            chosen = {**point, **dict(zip(axes, combo))}
            for seed in seeds:
                config = resolve(spec, chosen, seed)
                configs.setdefault(config_id(config), config)
    return list(configs.values())


def resolve(spec: Spec, chosen: dict, seed: int) -> dict:
    """One configuration: the spec's tables with the ``chosen`` axis values and ``seed`` applied."""
    optimizer = {k: v for k, v in spec.optimizer.items() if k != "effective_lr"}
    train = {k: v for k, v in spec.train.items() if k != "seeds"}
    model = dict(spec.model)
    for axis, value in chosen.items():
        table = {"optimizer": optimizer, "train": train, "model": model}[AXES[axis]]
        table["name" if axis == "optimizer" else axis] = value
    for key in ("lr", "momentum", "dampening", "weight_decay"):
        optimizer[key] = float(optimizer[key])
    if spec.optimizer["effective_lr"]:
        optimizer["effective_lr"] = optimizer["lr"]
        optimizer["lr"] = optimizer["lr"] * (1.0 - optimizer["momentum"])
    name = optimizer["name"]
    if name != "momentum":  # the others take none of momentum's extras
        for key in ("dampening", "nesterov", "form"):
            optimizer.pop(key)
        if name in ("adam", "adamw"):
            optimizer.pop("momentum")
    for key, readers in EXTRA_KEYS.items():  # each only where it applies (and only when the spec sets it)
        if key in optimizer and name not in readers:
            optimizer.pop(key)
        elif key in optimizer and key != "centered":
            optimizer[key] = float(optimizer[key])
    config = {"data": dict(spec.data), "model": model, "optimizer": optimizer, "schedule": dict(spec.schedule),
              "train": train, "seed": int(seed)}
    if spec.momentum_schedule:  # present only when the spec has one: every other configuration keeps its id
        config["momentum_schedule"] = dict(spec.momentum_schedule)
    return config


def config_id(config: dict) -> str:
    """A stable id: the first 16 hex digits of the SHA-256 of the configuration's canonical JSON."""
    return hashlib.sha256(canonical(config).encode()).hexdigest()[:16]


def canonical(config: dict) -> str:
    """Sorted keys, no spaces, floats as Python's shortest round-trip repr: equal configs, equal text."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)


def flatten(config: dict) -> dict:
    """One row of columns (``lr``, ``momentum``, ``form``, ``seed``, ``data``, ``layers``, ...) for tables."""
    row = {"optimizer": config["optimizer"]["name"]}
    row.update({k: v for k, v in config["optimizer"].items() if k != "name"})
    row.update(config["train"])
    row["activation"] = config["model"].get("activation", "relu")
    row["layers"] = ",".join(map(str, config["model"].get("layers", [])))
    row["data"] = config["data"]["name"]
    row["schedule"] = config["schedule"]["kind"]
    if "momentum_schedule" in config:
        row["momentum_schedule"] = config["momentum_schedule"]["kind"]
    row["seed"] = config["seed"]
    return row


def _random_points(random: dict) -> list[dict]:
    if not random:
        return [{}]
    rng = np.random.default_rng(random["seed"])
    axes = sorted(a for a in random if a not in ("count", "seed"))
    draws = {}
    for axis in axes:
        kind, (low, high) = next(iter(random[axis].items()))
        if kind == "uniform":
            draws[axis] = rng.uniform(low, high, random["count"])
        else:
            draws[axis] = np.exp(rng.uniform(math.log(low), math.log(high), random["count"]))
    return [{axis: float(draws[axis][i]) for axis in axes} for i in range(random["count"])]


def _only(table: dict, allowed, where: str) -> None:
    for key in table:
        if key not in allowed:
            raise SpecError(f"{where}: unknown key {key!r} (allowed: {', '.join(allowed)})")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value, where: str, minimum: int) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= minimum):
        raise SpecError(f"{where}: expected an integer >= {minimum}, got {value!r}")


def _activation(value, where: str) -> None:
    from inertia.models import ACTIVATIONS

    if value not in ACTIVATIONS:
        raise SpecError(f"{where}: {value!r} is not one of {', '.join(ACTIVATIONS)}")


def _axis_value(axis: str, value, where: str) -> None:
    """Check one value of an axis (or of the optimizer table's key of that name)."""
    if axis in ("optimizer", "name"):
        if value not in OPTIMIZERS:
            raise SpecError(f"{where}: {value!r} is not one of {', '.join(OPTIMIZERS)}")
    elif axis == "form":
        if value not in FORMS:
            raise SpecError(f"{where}: {value!r} is not one of {', '.join(FORMS)}")
    elif axis in ("nesterov", "centered"):
        if not isinstance(value, bool):
            raise SpecError(f"{where}: expected true or false, got {value!r}")
    elif axis in ("batch_size", "epochs"):
        _integer(value, where, minimum=1)
    elif axis == "activation":
        _activation(value, where)
    elif axis in ("dampening", "nu", "alpha"):
        if not (_is_number(value) and 0 <= value <= 1):
            raise SpecError(f"{where}: expected a number in [0, 1], got {value!r}")
    elif axis in ("beta1", "beta2"):
        if not (_is_number(value) and 0 <= value < 1):
            raise SpecError(f"{where}: expected a number in [0, 1), got {value!r}")
    elif axis == "momentum":
        try:
            check_momentum(value)
        except ValueError as exc:
            raise SpecError(f"{where}: {exc}") from None
    elif axis == "lr":
        if not (_is_number(value) and value > 0):
            raise SpecError(f"{where}: expected a number > 0, got {value!r}")
    elif not (_is_number(value) and value >= 0):
        raise SpecError(f"{where}: expected a number >= 0, got {value!r}")
