"""The 2-D test functions against finite differences and their known minima, every optimizer's iterates on them
against a plain loop of torch.optim on a 2-element Parameter, and the study's choices against a restatement."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from inertia.cli import app
from inertia.optim import rules
from inertia.optim.torch_optimizers import for_rule
from inertia.stats import proportion_ci
from inertia.studies import functions as F


@pytest.mark.parametrize("name", list(F.FUNCTIONS))
def test_gradients_are_the_values_slopes_and_vanish_at_the_minima(name):
    f = F.FUNCTIONS[name]
    points = F.starts(f, 50, seed=3)
    h = 1e-6
    for axis in range(2):
        step = np.zeros(2)
        step[axis] = h
        slope = (f.value(points + step) - f.value(points - step)) / (2 * h)
        np.testing.assert_allclose(f.gradient(points)[:, axis], slope, rtol=1e-5, atol=1e-5)
    minima = np.array(f.minima)
    np.testing.assert_allclose(f.value(minima), f.minimum, atol=1e-9)  # Himmelblau's three given to 6 decimals
    np.testing.assert_allclose(f.gradient(minima), 0, atol=1e-4 if name == "himmelblau" else 1e-9)


def _torch_loop(f, rule, lr, start, noise, scale, steps):
    """torch.optim (SGD, Adam, AdamW, RMSprop; QHM through inertia's torch optimizer) on a Parameter of size 2,
    float64, its gradient the function's plus the same noise: every iterate."""
    param = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
    if isinstance(rule, rules.Momentum):
        optimizer = torch.optim.SGD([param], lr=lr, momentum=rule.momentum, nesterov=rule.nesterov)
    else:
        optimizer = for_rule(replace(rule, lr=lr), [param])
    path = [param.detach().numpy().copy()]
    for t in range(steps):
        optimizer.zero_grad()
        grad = f.gradient(param.detach().numpy()) + scale * noise[t]
        param.grad = torch.tensor(grad, dtype=torch.float64)
        optimizer.step()
        path.append(param.detach().numpy().copy())
    return np.array(path)


@pytest.mark.parametrize("text", [*F.OPTIMIZERS, "adamw", "rmsprop:momentum=0.5:centered=true"])
def test_iterates_equal_torch_optim_on_a_two_element_parameter(text):
    f = F.function("rosenbrock")
    rule = rules.parse(text)
    lrs = [1e-4, 3e-4] if isinstance(rule, (rules.Momentum, rules.QHM)) else [1e-2, 0.1]  # none diverges
    points = F.starts(f, 3, seed=0)
    noise = F.noise_draws([5, 6], 200, 3)
    got = F.descend(f, rule, lrs, points, noise, 0.5, 200, keep=True).positions
    for i, lr in enumerate(lrs):
        for run in range(3):
            for seed in range(2):
                expected = _torch_loop(f, rule, lr, points[run], noise[:, run, seed], 0.5, 200)
                np.testing.assert_allclose(got[:, i, run, seed], expected, rtol=1e-12, atol=1e-12,
                                           err_msg=f"{text} lr {lr} start {run} seed {seed}")


def test_steps_to_epsilon_is_the_first_iterate_within_it():
    f = F.function("quadratic")
    rule = rules.parse("momentum:momentum=0.9")
    points = F.starts(f, 20, seed=1)
    noise = F.noise_draws([0], 300, 20)
    run = F.descend(f, rule, [0.01, 0.05, 0.1], points, noise, 0.05, 300, keep=True)
    gaps = f.value(run.positions) - f.minimum  # (steps + 1, rates, starts, seeds)
    within = gaps <= f.tolerance
    first = np.where(within.any(axis=0), within.argmax(axis=0), -1)
    np.testing.assert_array_equal(run.steps_to, first)
    assert (first > 0).any() and (first < 0).sum() < first.size


@pytest.fixture(scope="module")
def study():
    return F.function_study("himmelblau", optimizers=("sgd", "momentum:momentum=0.9", "adam"),
                            learning_rates=(1e-4, 1e-3, 1e-2, 0.1), starts_count=20, seeds=3, steps=150)


def test_each_optimizer_takes_the_rate_that_succeeds_most_then_soonest(study):
    f = study.function
    tune = F.starts(f, 20, 0)
    noise = F.noise_draws(range(3), 150, 20)
    lrs = study.config["learning_rates"]
    for text in study.config["optimizers"]:
        success, cost = [], []
        for lr in lrs:
            run = F.descend(f, rules.parse(text), [lr], tune, noise, f.noise, 150)
            success.append((run.steps_to >= 0).mean())
            cost.append(np.where(run.steps_to >= 0, run.steps_to, 150).mean())
        best = max(success)
        assert study.chosen[text] == min((c, lr) for s, c, lr in zip(success, cost, lrs) if s == best)[1]


def test_the_table_reports_fresh_starts_and_seeds_at_the_chosen_rate(study):
    f = study.function
    fresh, noise = F.starts(f, 20, 1), F.noise_draws(range(3, 6), 150, 20)
    for row in study.table():
        run = F.descend(f, rules.parse(row["optimizer"]), [row["lr"]], fresh, noise, f.noise, 150)
        hits = run.steps_to[run.steps_to >= 0]
        expected = proportion_ci(hits.size, run.steps_to.size)
        assert row["success"] == expected.mean and row["success_low"] == expected.low and row["runs"] == 60
        assert row["steps_to_eps"] == pytest.approx(hits.mean()) if hits.size else np.isnan(row["steps_to_eps"])
        assert study.trajectories[row["optimizer"]].shape == (151, 3, 2)


@pytest.mark.parametrize("kwargs, field", [({"name": "sphere"}, "function"),
                                           ({"optimizers": ("sgd", "lion")}, "optimizers"),
                                           ({"optimizers": ("sgd", "sgd")}, "optimizers"),
                                           ({"learning_rates": (0.1, -1)}, "learning_rates"),
                                           ({"noise": -1.0}, "noise"), ({"steps": 0}, "steps"),
                                           ({"starts_count": 0}, "starts"), ({"tolerance": 0.0}, "tolerance")])
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=f"^{field}"):
        F.function_study(**{"steps": 5, "starts_count": 2, "seeds": 1, **kwargs})


def test_the_command_writes_its_folder_and_refuses_bad_options(tmp_path):
    out = CliRunner().invoke(app, ["functions", "beale", "--starts", "10", "--seeds", "2", "--steps", "100",
                                   "--lrs", "0.001,0.01", "--out", str(tmp_path), "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert summary["function"] == "beale" and [r["optimizer"] for r in summary["table"]] == list(F.OPTIMIZERS)
    for name in ("table.csv", "tuning.csv", "runs.csv", "functions.json", "paths.json", "beale.png", "report.html"):
        assert (tmp_path / name).exists(), name
    runs = (tmp_path / "runs.csv").read_text().splitlines()
    assert len(runs) == 1 + len(F.OPTIMIZERS) * 10 * 2
    printed = CliRunner().invoke(app, ["functions", "quadratic", "--starts", "5", "--seeds", "2", "--steps", "50",
                                       "--out", str(tmp_path / "q")])
    assert printed.exit_code == 0 and "success" in printed.stdout and "steps to ε" in printed.stdout
    for option, value in (("--lrs", "0.1,-1"), ("--steps", "0"), ("--noise", "-1"), ("--optimizers", "lion")):
        bad = CliRunner().invoke(app, ["functions", "rosenbrock", option, value, "--out", str(tmp_path / "x")])
        assert bad.exit_code == 2 and f"Error: {option}" in bad.output, bad.output
    bad = CliRunner().invoke(app, ["functions", "sphere", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "function must be one of rosenbrock" in bad.output
    assert not (tmp_path / "x").exists()


def test_the_page_draws_the_paths_the_study_took(tmp_path):
    """paths.json and the page: heavy ball's drawn path is a plain loop of v ← βv + ∇f, x ← x − lr·v from the first
    fresh start (noise 0), at the rate the table says; the page names every optimizer with its interval."""
    out = CliRunner().invoke(app, ["functions", "himmelblau", "--starts", "6", "--seeds", "1", "--steps", "60",
                                   "--noise", "0", "--shown", "2", "--optimizers", "sgd,momentum:momentum=0.9",
                                   "--out", str(tmp_path), "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    paths = json.loads((tmp_path / "paths.json").read_text())
    f, lr = F.function("himmelblau"), summary["chosen"]["momentum:momentum=0.9"]
    drawn = np.array(paths["momentum:momentum=0.9"][0], dtype=float)
    x, v = F.starts(f, 6, 1)[0], np.zeros(2)
    assert len(paths["sgd"]) == 2 and drawn.shape == (61, 2)
    for t in range(61):
        np.testing.assert_allclose(drawn[t], x, rtol=0, atol=5.1e-6)  # paths.json keeps 5 decimals
        v = 0.9 * v + f.gradient(x)
        x = x - lr * v
    page = (tmp_path / "report.html").read_text()
    assert "id='contour'" in page and "id='tuning'" in page and "momentum 0.9" in page
    table = summary["table"][1]
    assert f"{table['success']:.3f} [{table['success_low']:.3f}, {table['success_high']:.3f}]" in page
