import json

import numpy as np
import pytest
import torch
from tolerances import F32_EVALUATION, F32_TRAJECTORY

import inertia
from inertia import data
from inertia.optim import Momentum
from inertia.shuffle import order as shuffle_order
from inertia.stats import mean_ci
from inertia.studies import comparison
from inertia.studies.comparison import training
from inertia.views.conclusions import effective_lr_sentences


@pytest.fixture(scope="module")
def small():
    dataset = data.spiral(points=30, seed=0)
    return inertia.compare(momenta=[0, 0.5, 0.9], dataset=dataset, epochs=4, seeds=3, batch_size=10)


def test_runs_are_paired_by_seed(monkeypatch):
    """Within a seed every momentum starts from the same weights and sees the same minibatch order."""
    seen = []
    real_fit = training.fit

    def spy(model, dataset, optimizer, epochs, batch_size, shuffle, seed, **kwargs):
        weights = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        order = torch.from_numpy(shuffle_order(seed, 0, len(dataset)))
        seen.append((optimizer.param_groups[0]["momentum"], seed, weights, order))
        assert isinstance(optimizer, Momentum) and optimizer.param_groups[0]["form"] == "pytorch"
        return real_fit(model, dataset, optimizer, epochs, batch_size, shuffle, seed, **kwargs)

    monkeypatch.setattr(training, "fit", spy)
    inertia.compare(momenta=[0, 0.4], dataset=data.spiral(points=10, seed=0), epochs=1, seeds=[3, 8], engine="loop")
    by_seed = {}
    for momentum, seed, weights, order in seen:
        by_seed.setdefault(seed, []).append((momentum, weights, order))
    assert sorted(by_seed) == [3, 8]
    for runs in by_seed.values():
        assert [m for m, _, _ in runs] == [0, 0.4]
        assert torch.equal(runs[0][1], runs[1][1]) and torch.equal(runs[0][2], runs[1][2])
    assert not torch.equal(by_seed[3][0][1], by_seed[8][0][1])


def test_table_matches_the_curves(small):
    table, curves = small.table(), small.curves()
    assert list(table.index) == [0, 0.5, 0.9]
    for momentum in table.index:
        runs = curves[curves["momentum"] == momentum]
        final = runs[runs["epoch"] == 4]["loss"].to_numpy()
        best = runs.groupby("seed")["loss"].min().to_numpy()
        expected = mean_ci(final)
        assert table.loc[momentum, "final_loss"] == pytest.approx(expected.mean)
        assert table.loc[momentum, "final_loss_low"] == pytest.approx(expected.low)
        assert table.loc[momentum, "best_loss"] == pytest.approx(best.mean())
        assert table.loc[momentum, "runs"] == 3 and table.loc[momentum, "diverged"] == 0
        acc = runs.pivot(index="epoch", columns="seed", values="accuracy")
        reached = [(acc[s] >= 0.9).to_numpy().nonzero()[0] for s in acc]
        assert table.loc[momentum, "reached_target"] == sum(len(r) > 0 for r in reached)


def test_defaults_are_the_seed_lab():
    config = comparison.CompareConfig()
    assert config.momenta == (0, 0.1, 0.2, 0.4, 0.5)
    assert (config.lr, config.batch_size, config.epochs, len(config.seeds)) == (0.1, 20, 100, 5)
    assert config.dataset == "spiral"


def test_default_layers_follow_the_dataset():
    result = inertia.compare(momenta=[0.0], dataset=data.blobs(classes=4, points=5, features=3, seed=0),
                             epochs=1, seeds=1)
    assert result.config.layers == (3, 50, 4)


def test_save_writes_table_curves_summary_and_figures(small, tmp_path):
    files = small.save(tmp_path)
    for key in ("table", "curves", "summary", "loss_png", "accuracy_png", "loss_accuracy_png",
                "decision_regions_png"):
        assert files[key].is_file() and files[key].stat().st_size > 0, key
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["config"]["momenta"] == [0, 0.5, 0.9]
    assert [row["momentum"] for row in summary["table"]] == [0, 0.5, 0.9]


def test_no_decision_regions_for_more_than_two_features(tmp_path):
    result = inertia.compare(momenta=[0.0, 0.5], dataset=data.blobs(points=5, features=3, seed=0), epochs=1,
                             seeds=1)
    assert "decision_regions_png" not in result.save(tmp_path)
    with pytest.raises(ValueError, match="need 2 input features"):
        result.plot_decision_regions()


def test_diverged_runs_are_counted_not_averaged():
    result = inertia.compare(momenta=[0.0, 0.9], dataset=data.spiral(points=10, seed=0), lr=1e30, epochs=6,
                             seeds=2, batch_size=5)
    table = result.table()
    assert table.loc[0.9, "diverged"] == 2
    assert np.isnan(table.loc[0.9, "final_loss"])
    json.dumps(result.summary(), allow_nan=False)  # NaN is written as null


CONFIG_ERRORS = [
    ("negative momentum", {"momenta": [0, -0.1]}, "Invalid momentum value: -0.1"),
    ("no momenta", {"momenta": []}, "at least one value"),
    ("duplicate momenta", {"momenta": [0.1, 0.1]}, "must be distinct"),
    ("zero lr", {"lr": 0}, "Invalid learning rate: 0"),
    ("negative lr", {"lr": -0.1}, "Invalid learning rate: -0.1"),
    ("zero seeds", {"seeds": 0}, "seeds must be a positive count"),
    ("duplicate seeds", {"seeds": [1, 1]}, "distinct integers"),
    ("zero epochs", {"epochs": 0}, "epochs must be a positive integer"),
    ("fractional batch", {"batch_size": 2.5}, "batch_size must be a positive integer"),
    ("bad target", {"target_accuracy": 1.5}, "target_accuracy must be in (0, 1]"),
    ("input width", {"layers": [3, 10, 3]}, "layers[0] is 3 but dataset 'spiral' has 2 features"),
    ("output width", {"layers": [2, 10, 4]}, "layers[-1] is 4 but dataset 'spiral' has 3 classes"),
    ("unknown dataset", {"dataset": "swirl"}, "unknown dataset 'swirl'"),
    ("unknown activation", {"activation": "swish"}, "unknown activation 'swish'"),
    ("unknown form", {"form": "adam"}, "Invalid form: 'adam' (allowed: pytorch, polyak, ema)"),
    ("unknown hold", {"hold": "step"}, "hold must be one of ['lr', 'effective-lr'], got 'step'"),
]


@pytest.mark.parametrize(("description", "kwargs", "message"), CONFIG_ERRORS, ids=[e[0] for e in CONFIG_ERRORS])
def test_config_errors(description, kwargs, message):
    with pytest.raises(ValueError) as info:
        inertia.compare(**{"epochs": 1, "seeds": 1, **kwargs})
    assert message in str(info.value), description


def test_ema_form_at_scaled_lr_reproduces_the_pytorch_form():
    """The forms' equivalence, end to end: ema at (lr, m) trains exactly like pytorch at (lr·(1−m), m)."""
    dataset = data.spiral(points=20, seed=0)
    pytorch = inertia.compare(momenta=[0.5], dataset=dataset, lr=0.05, epochs=3, seeds=1, form="pytorch")
    ema = inertia.compare(momenta=[0.5], dataset=dataset, lr=0.1, epochs=3, seeds=1, form="ema")
    np.testing.assert_allclose(ema.runs[0].history.loss, pytorch.runs[0].history.loss, rtol=F32_TRAJECTORY)
    assert ema.config.form == "ema"


def test_population_engine_gives_the_loop_engines_numbers():
    dataset = data.spiral(points=20, seed=0)
    kwargs = dict(momenta=[0.0, 0.9], dataset=dataset, epochs=5, seeds=2, batch_size=10)
    loop = inertia.compare(engine="loop", **kwargs)
    population = inertia.compare(engine="population", **kwargs)
    for a, b in zip(loop.runs, population.runs):
        assert (a.momentum, a.seed) == (b.momentum, b.seed)
        np.testing.assert_allclose(b.history.loss, a.history.loss, rtol=F32_TRAJECTORY)
        for p, q in zip(a.model.parameters(), b.model.parameters()):
            torch.testing.assert_close(q, p.detach(), rtol=1e-4, atol=1e-5)


def test_auto_engine_falls_back_to_the_loop_for_other_activations():
    result = inertia.compare(momenta=[0.5], dataset=data.spiral(points=10, seed=0), epochs=1, seeds=1,
                             activation="gelu")
    assert result.runs[0].history.epochs == 1
    with pytest.raises(ValueError, match="unknown engine 'fast'"):
        inertia.compare(momenta=[0.5], epochs=1, seeds=1, engine="fast")


@pytest.mark.parametrize("engine", ["population", "loop"])
def test_baselines_train_like_their_torch_optimizers_over_the_same_seeds(engine):
    """Each baseline run is fit() with torch.optim's optimizer from the same initial weights and minibatches
    as the momentum runs of its seed, so the comparison is paired."""
    from inertia import data as data_module
    from inertia.models import MLP
    from inertia.train import fit

    dataset = data_module.spiral(points=30, seed=2)
    result = inertia.compare(momenta=[0.0, 0.9], seeds=2, epochs=4, dataset=dataset, layers=[2, 8, 3], batch_size=15,
                             baselines=["adam:lr=0.01", "rmsprop"], engine=engine)
    assert list(result.baseline_table().index) == ["adam:lr=0.01", "rmsprop"]
    references = {"adam:lr=0.01": lambda p: torch.optim.Adam(p, lr=0.01), "rmsprop": lambda p: torch.optim.RMSprop(p)}
    for run in result.baseline_runs:
        model = MLP([2, 8, 3], seed=run.seed)
        expected = fit(model, dataset, references[run.label](model.parameters()), 4, 15, seed=run.seed)
        np.testing.assert_allclose(run.history.loss, expected.loss, rtol=F32_TRAJECTORY)
        momentum_run = result.run(0.0, run.seed)
        assert run.history.initial_loss == pytest.approx(momentum_run.history.initial_loss, rel=F32_EVALUATION)
    paired = result.paired()
    assert len(paired) == 2 * 2 and set(paired["pairs"]) == {2}
    summary = result.summary()
    assert [b["optimizer"] for b in summary["baselines"]] == ["adam:lr=0.01", "rmsprop"]
    assert set(result.curves()["optimizer"]) == {"momentum", "adam:lr=0.01", "rmsprop"}


@pytest.mark.parametrize("engine", ["population", "loop"])
def test_schedules_in_a_comparison_train_like_torch_with_its_scheduler(engine):
    """Every momentum under one-cycle equals torch.optim.SGD stepped by torch's OneCycleLR (momentum left alone);
    each momentum schedule is an arm of its own over the same seeds, equal to torch.optim.SGD under the same
    OneCycleLR with its momentum set before every update from the schedule's formula."""
    from inertia.models import MLP
    from inertia.train import fit

    dataset = data.spiral(points=30, seed=2)
    epochs, batch, updates = 4, 15, 4 * 6
    result = inertia.compare(momenta=[0.0, 0.9], seeds=2, epochs=epochs, dataset=dataset, layers=[2, 8, 3],
                             batch_size=batch, schedule="onecycle:max_lr=0.2", engine=engine,
                             momentum_schedules=["demon:beta0=0.9", "sutskever:mu_max=0.95:every=5"])
    assert list(result.baseline_table().index) == ["demon:beta0=0.9", "sutskever:mu_max=0.95:every=5"]
    assert len(result.paired()) == 2 * 2

    def reference(seed, momentum, ramp=None):
        model = MLP([2, 8, 3], seed=seed)
        sgd = torch.optim.SGD(model.parameters(), lr=0.2, momentum=momentum)
        onecycle = torch.optim.lr_scheduler.OneCycleLR(sgd, max_lr=0.2, total_steps=updates, cycle_momentum=False)
        return fit(model, dataset, sgd, epochs, batch, seed=seed, scheduler=onecycle, momentum_schedule=ramp)

    for run in result.runs:
        np.testing.assert_allclose(run.history.loss, reference(run.seed, run.momentum).loss, rtol=F32_TRAJECTORY)
    ramps = {"demon:beta0=0.9": lambda t: 0.9 * (1 - t / updates) / (0.1 + 0.9 * (1 - t / updates)),
             "sutskever:mu_max=0.95:every=5": lambda t: min(1 - 2.0 ** (-1 - np.log2(t // 5 + 1)), 0.95)}
    for run in result.baseline_runs:
        ramp = ramps[run.label]
        expected = reference(run.seed, ramp(0), ramp)
        np.testing.assert_allclose(run.history.loss, expected.loss, rtol=F32_TRAJECTORY, err_msg=run.label)


@pytest.mark.parametrize(("text", "expected"), [
    ("adam", "Adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0.0, maximize=False)"),
    ("rmsprop:lr=0.003:centered=true", "RMSprop(lr=0.003, alpha=0.99, eps=1e-08, weight_decay=0.0, momentum=0.0, "
                                       "centered=True, maximize=False)"),
    ("qhm:nu=0.9:beta=0.99", "QHM(lr=0.1, beta=0.99, nu=0.9, weight_decay=0.0, maximize=False)"),
    ("sgd:lr=0.05", "Momentum(lr=0.05, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, "
                    "maximize=False, form='pytorch')"),
])
def test_baseline_texts(text, expected):
    from inertia.optim import rules

    assert repr(rules.parse(text)) == expected


@pytest.mark.parametrize("engine", ["population", "loop"])
def test_equal_effective_lr_runs_are_fit_at_lr_times_one_minus_beta(engine):
    """Each held run is exactly fit() with torch.optim.SGD at lr·(1 − β), from its seed's weights and minibatches."""
    from inertia.models import MLP
    from inertia.train import fit

    dataset = data.spiral(points=20, seed=0)
    result = inertia.compare(momenta=[0, 0.5, 0.9], dataset=dataset, lr=0.2, epochs=3, seeds=2, batch_size=10,
                             hold="effective-lr", engine=engine)
    assert sorted((r.momentum, r.seed) for r in result.held_runs) == [(0.5, 0), (0.5, 1), (0.9, 0), (0.9, 1)]
    for run in result.held_runs:
        assert run.lr == pytest.approx(0.2 * (1 - run.momentum))
        model = MLP(result.config.layers, seed=run.seed)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.2 * (1 - run.momentum), momentum=run.momentum)
        history = fit(model, dataset, optimizer, 3, 10, True, seed=run.seed)
        np.testing.assert_allclose(run.history.loss, history.loss, rtol=F32_TRAJECTORY)
    table = result.effective_lr_table()
    assert table.loc[0.9, "lr"] == pytest.approx(0.02) and table.loc[0.0, "lr"] == pytest.approx(0.2)
    assert table.loc[0.0, "final_loss"] == result.table().loc[0.0, "final_loss"]  # the same SGD runs


def test_gains_pair_by_seed_at_equal_lr_and_equal_effective_lr():
    from scipy import stats

    dataset = data.spiral(points=30, seed=0)
    result = inertia.compare(momenta=[0, 0.5], dataset=dataset, lr=0.1, epochs=6, seeds=4, batch_size=10,
                             hold="effective-lr")
    result.held_runs.reverse()  # pairing is by seed, not by position
    gains = result.gains().set_index("momentum")

    def final(runs, momentum):
        return np.array([next(r.history.loss[-1] for r in runs if r.momentum == momentum and r.seed == s)
                         for s in range(4)])

    sgd = final(result.runs, 0.0)
    for name, runs in (("equal_lr", result.runs), ("equal_effective_lr", result.held_runs)):
        difference = final(runs, 0.5) - sgd
        half = stats.t.ppf(0.975, 3) * difference.std(ddof=1) / 2
        assert gains.loc[0.5, f"{name}_difference"] == pytest.approx(difference.mean())
        assert gains.loc[0.5, f"{name}_low"] == pytest.approx(difference.mean() - half)
        assert gains.loc[0.5, f"{name}_better_in"] == int((difference < 0).sum())
    assert gains.loc[0.5, "held_lr"] == pytest.approx(0.05)
    assert bool(gains.loc[0.5, "gain"]) == bool(gains.loc[0.5, "equal_lr_high"] < 0)
    survives = gains.loc[0.5, "gain"] and gains.loc[0.5, "equal_effective_lr_high"] < 0
    assert bool(gains.loc[0.5, "survives"]) == bool(survives)


def test_effective_lr_sentences_say_what_the_intervals_say():
    rows = [{"momentum": 0.5, "lr": 0.1, "held_lr": 0.05, "gain": gain, "survives": survives,
             **{f"{n}_{k}": v for n, (d, lo, hi) in (("equal_lr", (-0.1, -0.2, -0.05)), ("equal_effective_lr", eff))
                for k, v in zip(("difference", "low", "high"), (d, lo, hi))},
             "equal_lr_better_in": 5, "equal_lr_pairs": 5, "equal_effective_lr_better_in": 2,
             "equal_effective_lr_pairs": 5}
            for gain, survives, eff in [(True, True, (-0.1, -0.2, -0.01)), (True, False, (0.0, -0.1, 0.1)),
                                        (True, False, (0.1, 0.05, 0.2)), (False, False, (0.0, -0.1, 0.1))]]
    sentences = effective_lr_sentences(__import__("pandas").DataFrame(rows))
    assert "survives" in sentences[0] and "momentum's own" in sentences[0]
    assert "it was the larger step" in sentences[1]
    assert "does worse" in sentences[2]
    assert "no clear gain at equal lr" in sentences[3]


def test_hold_effective_lr_from_the_command_line(tmp_path):
    from typer.testing import CliRunner

    from inertia.cli import app

    out = CliRunner().invoke(app, ["compare", "--momenta", "0,0.5", "--epochs", "3", "--seeds", "2", "--hold",
                                   "effective-lr", "--out", str(tmp_path), "--no-plots"])
    assert out.exit_code == 0, out.output
    assert "at equal effective lr (lr 0.05)" in out.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["config"]["hold"] == "effective-lr" and len(summary["effective_lr"]["gains"]) == 1
    assert (tmp_path / "effective_lr.csv").exists()
    html = (tmp_path / "report.html").read_text()
    assert "Is it momentum, or the larger step?" in html and "--hold effective-lr" in html


@pytest.mark.parametrize("engine", ["population", "loop"])
def test_nesterov_is_torch_sgds_nesterov_for_every_nonzero_momentum(engine):
    from inertia.models import MLP
    from inertia.train import fit

    dataset = data.spiral(points=20, seed=0)
    result = inertia.compare(momenta=[0, 0.5, 0.9], dataset=dataset, epochs=3, seeds=2, batch_size=10,
                             nesterov=True, engine=engine)
    for run in result.runs:
        model = MLP(result.config.layers, seed=run.seed)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=run.momentum, nesterov=run.momentum > 0)
        history = fit(model, dataset, optimizer, 3, 10, True, seed=run.seed)
        np.testing.assert_allclose(run.history.loss, history.loss, rtol=F32_TRAJECTORY)
    from inertia.views.report import command_line

    assert "--nesterov" in command_line(result.summary()["config"])


def test_on_metrics_streams_every_run_every_epoch():
    seen = {}
    dataset = data.spiral(points=20, seed=0)
    result = inertia.compare(momenta=[0, 0.5], dataset=dataset, epochs=4, seeds=2, batch_size=10, hold="effective-lr",
                             on_metrics=lambda epoch, rows: seen.setdefault(epoch, []).extend(rows))
    assert sorted(seen) == [0, 1, 2, 3]
    for kind, runs in (("momentum", result.runs), ("held", result.held_runs)):
        for run in runs:
            streamed = [loss for epoch in range(4) for k, m, s, loss, _ in seen[epoch]
                        if (k, m, s) == (kind, run.momentum, run.seed)]
            np.testing.assert_allclose(streamed, run.history.loss, rtol=1e-12)
