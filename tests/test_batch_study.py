"""The batch-size study: its steps to target against fit(), the choice of the best grid point and its bootstrap,
the critical batch size, early stopping at the target in the population engine, bad input, the command."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from tolerances import F32_EVALUATION, F32_TRAJECTORY
from typer.testing import CliRunner

from inertia import data, outcome
from inertia.cli import app
from inertia.models import MLP
from inertia.population import Member, train_population
from inertia.studies.batch_study import BatchStudy, StudyConfig, batch_study
from inertia.train import fit

SMALL = dict(batch_sizes=[4, 30], learning_rates=[0.1, 0.5], momenta=[0.9], seeds=2, target="accuracy",
             target_value=0.6, max_steps=600, max_epochs=40)


@pytest.fixture(scope="module")
def dataset():
    return data.spiral(points=40, seed=0)


@pytest.fixture(scope="module")
def study(dataset):
    return batch_study(dataset, **SMALL)


def test_steps_to_target_are_fits_epochs_to_target_times_steps_per_epoch(study, dataset):
    """Every trial against fit() with torch.optim.SGD at the same lr, momentum and seed (same initial weights and
    minibatches): the same first epoch at the target, counted in steps of ⌈N/B⌉ per epoch."""
    assert len(study.trials) == 2 * 2 * 2 * 2  # batch sizes × lrs × (SGD, momentum) × seeds
    reached = 0
    for row in study.trials.itertuples():
        model = MLP(study.config.layers, seed=row.seed)
        optimizer = torch.optim.SGD(model.parameters(), lr=row.lr, momentum=row.momentum)
        history = fit(model, dataset, optimizer, row.epochs, row.batch_size, True, seed=row.seed)
        expected = outcome.epochs_to(history, "accuracy", 0.6)
        assert row.steps_per_epoch == math.ceil(len(dataset) / row.batch_size)
        if np.isnan(expected):
            assert row.steps == np.inf
        else:
            assert row.epochs_to_target == expected and row.steps == expected * row.steps_per_epoch
            reached += 1
    assert reached >= 8


def test_the_population_stops_each_member_at_its_target(dataset):
    members = [Member(lr=lr, momentum=m, seed=1) for lr in (0.02, 0.3) for m in (0.0, 0.9)]
    for engine in ("kernel", "torch"):
        full = train_population(dataset, [2, 20, 3], members, epochs=30, batch_size=8, engine=engine)
        early = train_population(dataset, [2, 20, 3], members, epochs=30, batch_size=8, engine=engine,
                                 until=("accuracy", 0.6))
        for a, b in zip(full.histories, early.histories):
            at = outcome.epochs_to(a, "accuracy", 0.6)
            assert outcome.epochs_to(b, "accuracy", 0.6) == at or (np.isnan(at) and np.isnan(
                outcome.epochs_to(b, "accuracy", 0.6)))
            assert b.epochs == (30 if np.isnan(at) else int(at))
            np.testing.assert_allclose(b.loss, a.loss[: b.epochs], rtol=F32_EVALUATION)
        assert any(h.epochs < 30 for h in early.histories)
    with pytest.raises(ValueError, match="until"):
        train_population(dataset, [2, 20, 3], members, epochs=2, until=("error", 0.1))


def _trials(steps: dict) -> pd.DataFrame:
    """Trials from {(batch, lr, momentum): [steps per seed]}."""
    rows = [{"batch_size": b, "lr": lr, "momentum": m, "seed": s, "steps": v}
            for (b, lr, m), values in steps.items() for s, v in enumerate(values)]
    return pd.DataFrame(rows)


def test_the_best_grid_point_needs_every_seed_and_has_a_bootstrap_interval(dataset):
    config = StudyConfig(layers=(2, 50, 3), batch_sizes=(8,), learning_rates=(0.1, 0.2, 0.4), momenta=(0.9,),
                         seeds=(0, 1, 2))
    trials = _trials({(8, 0.1, 0.0): [100, 110, 120], (8, 0.2, 0.0): [50, np.inf, 40],  # fast, but one seed fails
                      (8, 0.4, 0.0): [90, 95, 130], (8, 0.1, 0.9): [np.inf] * 3, (8, 0.2, 0.9): [np.inf] * 3,
                      (8, 0.4, 0.9): [30, 60, 45]})
    best = BatchStudy(config, dataset, trials).best().set_index("optimizer")
    assert best.loc["sgd", "lr"] == 0.4 and best.loc["sgd", "steps"] == pytest.approx(105)
    assert best.loc["sgd", "reached"] == 2 and best.loc["sgd", "lr_at_edge"]
    assert best.loc["momentum", "steps"] == 45 and best.loc["momentum", "effective_lr"] == pytest.approx(4.0)
    # the bootstrap redoes the choice: the lower bound may come from another grid point (lr 0.1 at its best)
    assert best.loc["sgd", "low"] <= 100 and best.loc["sgd", "high"] <= 130 and best.loc["sgd", "high"] >= 105
    assert best.loc["momentum", "low"] == pytest.approx(30, abs=1) and best.loc["momentum", "high"] <= 60


def test_critical_batch_size_is_where_perfect_scaling_ends(dataset):
    sizes = (1, 2, 4, 8, 16, 32)
    config = StudyConfig(layers=(2, 50, 3), batch_sizes=sizes, learning_rates=(0.1,), momenta=(0.9,), seeds=(0, 1))
    sgd = [1000, 500, 260, 200, 190, 185]  # steps·B: 1000, 1000, 1040, 1600, 3040 -> ends at 8
    heavy = [1000, 500, 250, 125, 70, 60]  # 1000 ... 1120, 1920 -> ends at 32
    trials = _trials({**{(b, 0.1, 0.0): [s, s] for b, s in zip(sizes, sgd)},
                      **{(b, 0.1, 0.9): [s, s] for b, s in zip(sizes, heavy)}})
    critical = BatchStudy(config, dataset, trials).critical_batch_sizes()
    assert critical["sgd"] == {"critical_batch_size": 8.0, "low": 8.0, "high": 8.0, "at_least": False}
    assert critical["momentum"]["critical_batch_size"] == 32.0 and critical["momentum"]["at_least"]


@pytest.mark.parametrize("kwargs,field", [
    ({"batch_sizes": [0, 4]}, "batch_sizes"), ({"learning_rates": [-1.0]}, "learning_rates"),
    ({"momenta": [1.0]}, "momenta"), ({"target": "error"}, "target"), ({"target_value": 2.0}, "target_value"),
    ({"max_steps": 0}, "max_steps"), ({"batch_sizes": [4, 1000]}, "exceed"), ({"layers": [3, 10, 3]}, "layers"),
    ({"activation": "swish"}, "activation"),
])
def test_bad_input_names_the_field(dataset, kwargs, field):
    with pytest.raises(ValueError, match=field):
        batch_study(dataset, **{**SMALL, **kwargs})


def test_batch_study_command_json_files_and_report(tmp_path):
    out = CliRunner().invoke(app, [
        "batch-study", "--batch-sizes", "8,64", "--lrs", "0.1,0.5", "--momenta", "0.9", "--seeds", "2",
        "--target", "accuracy=0.6", "--max-steps", "400", "--max-epochs", "20", "--out", str(tmp_path), "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert summary["config"]["batch_sizes"] == [8, 64] and len(summary["best"]) == 4
    assert set(summary["critical_batch_sizes"]) == {"sgd", "momentum"} and len(summary["claims"]) == 3
    for name in ("trials.csv", "best.csv", "batch_study.json", "batch_study.png", "report.html"):
        assert (tmp_path / name).exists(), name
    html = (tmp_path / "report.html").read_text()
    assert "noisy quadratic model" in html and "inertia batch-study --dataset spiral" in html
    from inertia.studies.batch_study import BatchStudy

    again = BatchStudy.load(tmp_path)
    pd.testing.assert_frame_equal(again.best(), pd.DataFrame(summary["best"]), check_dtype=False)
    (tmp_path / "report.html").unlink()
    assert CliRunner().invoke(app, ["report", str(tmp_path)]).exit_code == 0 and (tmp_path / "report.html").exists()
    bad = CliRunner().invoke(app, ["batch-study", "--target", "accuracy", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "--target" in bad.output
    for option, value in (("--lrs", "0.1,-1"), ("--batch-sizes", "4,0"), ("--momenta", "0.9,1"), ("--max-steps", "0")):
        bad = CliRunner().invoke(app, ["batch-study", option, value, "--out", str(tmp_path / "x")])
        assert bad.exit_code == 2 and f"Error: {option} must" in bad.output, bad.output
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_the_study_report_in_headless_chromium(study, tmp_path):
    import shutil

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    playwright = pytest.importorskip("playwright.sync_api")
    if chromium is None:
        pytest.skip("needs Debian's chromium")
    from inertia.views.study_report import write_study_report

    study.save(tmp_path)
    files = {"report": write_study_report(tmp_path)}
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        errors, requests = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(files["report"].as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 2")
        traces = page.evaluate("['study', 'model'].map(id => document.getElementById(id).data.length)")
        text = page.inner_text("body")
        browser.close()
    assert errors == [] and requests == [files["report"].as_uri()]
    assert all(n >= 4 for n in traces), traces  # per optimizer: line, perfect-scaling guide (and a band)
    assert "critical batch size" in text and "noisy quadratic model" in text


def test_held_out_metrics_in_the_population_are_fits_and_a_study_can_target_them():
    """train_population(held_out=...) records the held-out split's loss and accuracy after every epoch, as
    fit(held_out=...) does (kernel engines of both depths, batched torch); a study's test_ target uses them."""
    dataset = data.mnist1d(samples=400)
    members = [Member(lr=0.1, momentum=m, seed=s) for m in (0.0, 0.9) for s in (0, 1)]
    for engine, layers in (("kernel", [40, 16, 10]), ("kernel", [40, 12, 12, 10]), ("torch", [40, 16, 10])):
        result = train_population(dataset, layers, members, epochs=4, batch_size=16, engine=engine,
                                  held_out=dataset.test)
        for member, history in zip(members, result.histories):
            model = MLP(layers, seed=member.seed)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=member.momentum)
            reference = fit(model, dataset, optimizer, 4, 16, True, seed=member.seed, held_out=dataset.test)
            np.testing.assert_allclose(history.test_loss, reference.test_loss, rtol=F32_TRAJECTORY)
            np.testing.assert_allclose(history.test_accuracy, reference.test_accuracy, atol=1e-9)
    study = batch_study(dataset, layers=[40, 16, 10], batch_sizes=[16, 64], learning_rates=[0.1, 0.4], seeds=2,
                        target="test_accuracy", target_value=0.3, max_steps=300, max_epochs=30)
    assert study.summary()["target"] == "held-out accuracy >= 0.3"
    for row in study.trials.itertuples():
        model = MLP([40, 16, 10], seed=row.seed)
        optimizer = torch.optim.SGD(model.parameters(), lr=row.lr, momentum=row.momentum)
        history = fit(model, dataset, optimizer, row.epochs, row.batch_size, True, seed=row.seed,
                      held_out=dataset.test)
        expected = outcome.epochs_to(history, "test_accuracy", 0.3)
        assert (row.steps == np.inf) if np.isnan(expected) else (row.steps == expected * row.steps_per_epoch)
    with pytest.raises(ValueError, match="has none"):
        batch_study(data.spiral(points=20, seed=0), target="test_loss", target_value=0.5, **{
            k: v for k, v in SMALL.items() if k not in ("target", "target_value")})


@pytest.mark.slow
def test_held_out_metrics_on_the_triton_engine():
    from inertia.population import triton_runs_on

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if not triton_runs_on(torch.device(device)):
        pytest.skip("needs Triton (on a GPU, or its interpreter)")
    dataset = data.mnist1d(samples=100)
    members = [Member(lr=0.1, momentum=m, seed=1) for m in (0.0, 0.9)]
    result = train_population(dataset, [40, 8, 10], members, epochs=2, batch_size=20, engine="triton",
                              device=device, held_out=dataset.test)
    for member, history in zip(members, result.histories):
        model = MLP([40, 8, 10], seed=member.seed)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=member.momentum)
        reference = fit(model, dataset, optimizer, 2, 20, True, seed=member.seed, held_out=dataset.test)
        np.testing.assert_allclose(history.test_loss, reference.test_loss, rtol=F32_TRAJECTORY)
