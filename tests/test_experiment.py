"""Sweep specs: validation (a table of bad specs and their messages), expansion, stable ids."""

import json
import subprocess
import sys

import numpy as np
import pytest

from inertia.sweeps.spec import SpecError, config_id, load_spec, parse_spec

GOOD = {"data": {"name": "spiral", "points": 20}, "model": {"layers": [2, 8, 3]},
        "train": {"epochs": 2, "batch_size": 10, "seeds": 2}, "grid": {"lr": [0.1, 0.5], "momentum": [0.0, 0.9]}}


def spec(**tables):
    raw = json.loads(json.dumps(GOOD))
    for name, table in tables.items():
        if table is None:
            raw.pop(name, None)
        else:
            raw[name] = table
    return raw


BAD = [
    ("unknown table", {**GOOD, "trian": {}}, "spec: unknown key 'trian'"),
    ("a table that is not a table", spec(model=[2, 8, 3]), "model: expected a table"),
    ("unknown optimizer key", spec(optimizer={"lerning_rate": 0.1}), "optimizer: unknown key 'lerning_rate'"),
    ("negative learning rate", spec(optimizer={"lr": -0.1}), r"optimizer.lr: expected a number > 0, got -0.1"),
    ("optimizer not offered", spec(optimizer={"name": "lion"}), "optimizer.name: 'lion' is not one of momentum"),
    ("unknown form", spec(optimizer={"form": "nag"}), "optimizer.form: 'nag' is not one of pytorch, polyak, ema"),
    ("dampening above one", spec(optimizer={"dampening": 1.5}), r"optimizer.dampening: expected a number in \[0, 1\]"),
    ("nesterov not a bool", spec(optimizer={"nesterov": "yes"}), "optimizer.nesterov: expected true or false"),
    ("bad layers", spec(model={"layers": [2, 0, 3]}), "model.layers: expected a list of at least two positive"),
    ("unknown activation", spec(model={"activation": "swish"}), "model.activation: 'swish' is not one of"),
    ("zero epochs", spec(train={"epochs": 0}), r"train.epochs: expected an integer >= 1, got 0"),
    ("float batch size", spec(train={"batch_size": 2.5}), r"train.batch_size: expected an integer >= 1"),
    ("repeated seeds", spec(train={"seeds": [1, 1]}), "train.seeds: seeds must be distinct"),
    ("negative seed in a list", spec(train={"seeds": [0, -1]}), r"train.seeds\[1\]: expected an integer >= 0"),
    ("unknown grid axis", spec(grid={"beta": [0.9]}), "grid.beta: unknown axis"),
    ("empty grid axis", spec(grid={"lr": []}), "grid.lr: expected a non-empty list"),
    ("bad value inside a grid axis", spec(grid={"momentum": [0.9, "high"]}),
     r"grid.momentum\[1\]: Invalid momentum value: high \(allowed: 0 <= momentum < 1\)"),
    ("momentum of one in a grid", spec(grid={"momentum": [0.9, 1.0]}),
     r"grid.momentum\[1\]: Invalid momentum value: 1.0 \(allowed: 0 <= momentum < 1\)"),
    ("divergence factor of one", spec(train={"divergence_factor": 1}),
     r"train.divergence_factor: expected a finite number > 1, got 1"),
    ("grid lr of zero", spec(grid={"lr": [0.0]}), r"grid.lr\[0\]: expected a number > 0"),
    ("random without count", spec(random={"lr": {"log_uniform": [1e-3, 1]}}), "random.count: expected an integer"),
    ("random on a grid axis", spec(random={"count": 2, "lr": {"uniform": [0.1, 1]}}),
     "random.lr: lr is also a grid axis"),
    ("random law unknown", spec(grid={}, random={"count": 2, "lr": {"normal": [0, 1]}}),
     "random.lr: expected { uniform"),
    ("log-uniform from zero", spec(grid={}, random={"count": 2, "lr": {"log_uniform": [0, 1]}}),
     r"random.lr.log_uniform: expected \[low, high\] with low <= high and low > 0"),
    ("random with no axis", spec(grid={}, random={"count": 2}), "random: a count but no axis"),
    ("unknown schedule", spec(schedule={"kind": "warmup"}), "schedule.kind: 'warmup' is not one of"),
    ("schedule key of another kind", spec(schedule={"kind": "step", "decay": 0.1}),
     r"schedule \(kind 'step'\): unknown key 'decay'"),
    ("one-cycle pct_start of one", spec(schedule={"kind": "onecycle", "pct_start": 1.0}),
     r"schedule: Invalid onecycle pct_start: 1.0 \(allowed: 0 < pct_start < 1\)"),
    ("one-cycle anneal unknown", spec(schedule={"kind": "onecycle", "anneal_strategy": "exp"}),
     r"schedule: Invalid onecycle anneal_strategy: 'exp' \(allowed: 'cos' or 'linear'\)"),
    ("one-cycle key of torch's not ours", spec(schedule={"kind": "onecycle", "epochs": 3}),
     r"schedule \(kind 'onecycle'\): unknown key 'epochs'"),
    ("unknown momentum schedule", spec(momentum_schedule={"kind": "nesterov"}),
     "momentum_schedule.kind: 'nesterov' is not one of sutskever, demon"),
    ("sutskever mu_max of one", spec(momentum_schedule={"kind": "sutskever", "mu_max": 1.0}),
     r"momentum_schedule: Invalid sutskever mu_max: 1.0 \(allowed: 0 <= mu_max < 1\)"),
    ("demon without beta0", spec(momentum_schedule={"kind": "demon"}), "momentum_schedule: Invalid demon: beta0 is"),
    ("momentum schedule key unknown", spec(momentum_schedule={"kind": "demon", "beta0": 0.9, "mu": 1}),
     r"momentum_schedule \(kind 'demon'\): unknown key 'mu'"),
    ("one-cycle cycling beside a momentum schedule",
     spec(schedule={"kind": "onecycle"}, momentum_schedule={"kind": "demon", "beta0": 0.9}),
     "momentum_schedule: a one-cycle \\[schedule\\] cycles the momentum too"),
    ("accuracy target above one", spec(targets={"accuracy": 90}), r"targets.accuracy: expected a number in \(0, 1\]"),
    ("unknown target", spec(targets={"f1": 0.9}), "targets: unknown key 'f1'"),
]


@pytest.mark.parametrize(("description", "raw", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_specs_name_the_key_and_what_is_allowed(description, raw, message):
    with pytest.raises(SpecError, match=message):
        load_spec(raw)


def test_toml_errors_and_missing_files():
    with pytest.raises(SpecError, match="not valid TOML"):
        parse_spec("[grid\nlr = 1")
    with pytest.raises(SpecError, match="cannot read spec"):
        load_spec("/nonexistent/spec.toml")


def test_grid_times_seeds_in_order():
    configs = load_spec(GOOD).expand()
    assert len(configs) == 2 * 2 * 2
    got = [(c["optimizer"]["lr"], c["optimizer"]["momentum"], c["seed"]) for c in configs]
    assert got == [(lr, m, s) for lr in (0.1, 0.5) for m in (0.0, 0.9) for s in (0, 1)]
    assert len({config_id(c) for c in configs}) == len(configs)


def test_effective_lr_is_held_fixed_across_momenta():
    configs = load_spec(spec(optimizer={"effective_lr": True})).expand()
    for c in configs:
        o = c["optimizer"]
        assert o["lr"] == pytest.approx(o["effective_lr"] * (1 - o["momentum"]))
        assert o["lr"] / (1 - o["momentum"]) == pytest.approx(o["effective_lr"])


def test_random_axes_are_drawn_from_their_law_reproducibly():
    raw = spec(grid={"momentum": [0.0, 0.9]}, random={"count": 50, "seed": 3, "lr": {"log_uniform": [1e-3, 1.0]},
                                                      "weight_decay": {"uniform": [0.0, 0.01]}})
    a, b = load_spec(raw).expand(), load_spec(raw).expand()
    assert [config_id(c) for c in a] == [config_id(c) for c in b]
    lrs = np.array([c["optimizer"]["lr"] for c in a])
    assert len(a) == 50 * 2 * 2 and lrs.min() >= 1e-3 and lrs.max() <= 1.0
    assert 0.3 < np.mean(np.log10(lrs) < -1.5) < 0.7  # log-uniform: half the draws below 10^-1.5
    other_seed = load_spec({**raw, "random": {**raw["random"], "seed": 4}}).expand()
    assert {config_id(c) for c in other_seed}.isdisjoint(config_id(c) for c in a)


def test_baselines_drop_what_they_do_not_take():
    configs = load_spec(spec(grid={"optimizer": ["momentum", "adam", "sgd"]})).expand()
    names = {c["optimizer"]["name"]: c["optimizer"] for c in configs}
    assert "form" in names["momentum"] and "nesterov" in names["momentum"]
    assert "momentum" not in names["adam"] and "form" not in names["adam"]
    assert "momentum" in names["sgd"] and "dampening" not in names["sgd"]


def test_ids_do_not_depend_on_key_order_or_process():
    configs = load_spec(GOOD).expand()
    reordered = dict(reversed(list(configs[0].items())))
    assert config_id(reordered) == config_id(configs[0])
    raw = json.dumps(json.dumps(GOOD))
    code = ("import json, sys; from inertia.sweeps.spec import load_spec, config_id;"
            f"print(json.dumps([config_id(c) for c in load_spec(json.loads({raw})).expand()]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": ""})
    assert json.loads(out.stdout) == [config_id(c) for c in configs]
