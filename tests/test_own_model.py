"""A model of your own in compare: the same runs as fit() by hand with torch.optim.SGD, the same seeds and
pairing, figures and report, and one-line refusals of factories that cannot be used."""

import json
import textwrap

import numpy as np
import pytest
import torch
from tolerances import F32_EVALUATION, F32_TRAJECTORY, TIES
from torch import nn
from typer.testing import CliRunner

import inertia
from inertia import data
from inertia.cli import app
from inertia.factory import FactoryError
from inertia.train import fit
from inertia.views.report import write_report


def cnn(seed):
    """A small CNN for the 8×8 digits, whose rows are the 64 pixels."""
    return nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(6 * 4 * 4, 10))


def mlp(seed):
    """A user's MLP for 2-D data, initialised by torch (the comparison seeds torch's generator for the call)."""
    return nn.Sequential(nn.Linear(2, 24), nn.Tanh(), nn.Linear(24, 24), nn.Tanh(), nn.Linear(24, 3))


def by_hand(factory, dataset, momentum, seed, lr, epochs, batch_size):
    """What compare should do for one run: the factory under torch.manual_seed(seed), torch.optim.SGD, fit."""
    torch.manual_seed(seed)
    model = factory(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    return fit(model, dataset, optimizer, epochs, batch_size, shuffle=True, seed=seed)


@pytest.mark.parametrize("factory, name, epochs, batch_size", [(cnn, "digits", 2, 32), (mlp, "spiral", 3, 50)])
def test_every_run_is_fit_by_hand_with_torch_sgd(factory, name, epochs, batch_size):
    dataset = data.get(name, seed=0)
    result = inertia.compare(model=factory, dataset=dataset, momenta=[0, 0.9], seeds=[0, 3], epochs=epochs,
                             batch_size=batch_size, lr=0.05)
    assert result.config.model == f"{__name__}:{factory.__qualname__}" and result.config.layers is None
    for run in result.runs:
        expected = by_hand(factory, dataset, run.momentum, run.seed, 0.05, epochs, batch_size)
        # the same minibatches and initial weights; inertia's Momentum against torch.optim.SGD: float32 round-off
        np.testing.assert_allclose(run.history.loss, expected.loss, rtol=F32_TRAJECTORY)
        np.testing.assert_allclose(run.history.accuracy, expected.accuracy, atol=TIES / len(dataset.y))
        assert run.history.initial_loss == pytest.approx(expected.initial_loss, rel=F32_EVALUATION)
    # the table is the same statistics over those runs
    table = result.table()
    finals = [r.history.loss[-1] for r in result.runs if r.momentum == 0.9]
    assert table.loc[0.9, "final_loss"] == pytest.approx(np.mean(finals))


def test_momenta_of_one_seed_start_from_one_point_and_seeds_differ():
    made = []

    def recording(seed):
        model = mlp(seed)
        made.append((seed, torch.cat([p.detach().flatten() for p in model.parameters()])))
        return model

    inertia.compare(model=recording, dataset="spiral", momenta=[0, 0.5, 0.9], seeds=2, epochs=1, batch_size=100,
                    baselines=["adam"])
    by_seed = {}
    for seed, weights in made:
        by_seed.setdefault(seed, []).append(weights)
    assert sorted(by_seed) == [0, 1] and all(len(v) >= 4 for v in by_seed.values())  # 3 momenta + adam (+ checks)
    for weights in by_seed.values():
        assert all(torch.equal(w, weights[0]) for w in weights)
    assert not torch.equal(by_seed[0][0], by_seed[1][0])


def test_figures_report_and_baselines_for_a_model_of_ones_own(tmp_path):
    result = inertia.compare(model=mlp, dataset="spiral", momenta=[0, 0.9], seeds=2, epochs=3, batch_size=50,
                             baselines=["adam"], hold="effective-lr")
    assert set(result.baseline_table().index) == {"adam"} and len(result.held_runs) == 2
    files = result.save(tmp_path, plots=True)
    assert {"decision_regions_png", "regions", "loss_png"} <= set(files)
    regions = json.loads(files["regions"].read_text())
    assert list(regions["classes"]["3"]) == ["0", "0.9"]
    page = write_report(tmp_path).read_text()
    assert f"--model {__name__}:mlp" in page and "--layers" not in page


def test_unusable_factories_and_arguments_are_refused_with_what_is_wrong():
    spiral = data.spiral(points=60, seed=0)
    with pytest.raises(FactoryError, match=r"returned int, not a torch nn\.Module"):
        inertia.compare(model=lambda seed: 3, dataset=spiral, seeds=1, epochs=1)
    with pytest.raises(FactoryError, match=r"must map \(N, 2\) inputs to \(N, 3\) logits .* gave \(2, 5\)"):
        inertia.compare(model=lambda seed: nn.Linear(2, 5), dataset=spiral, seeds=1, epochs=1)
    with pytest.raises(FactoryError, match="fails on a batch of 2 rows"):
        inertia.compare(model=lambda seed: nn.Linear(7, 3), dataset=spiral, seeds=1, epochs=1)

    def unseeded(seed):
        layer = nn.Linear(2, 3)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(np.random.default_rng().normal(size=(3, 2))))
        return layer

    with pytest.raises(FactoryError, match="different initial weights on each call"):
        inertia.compare(model=unseeded, dataset=spiral, seeds=1, epochs=1)
    with pytest.raises(ValueError, match="layers and model are exclusive"):
        inertia.compare(model=mlp, layers=[2, 8, 3], dataset=spiral, seeds=1, epochs=1)
    with pytest.raises(ValueError, match="engine 'population' trains inertia's MLPs"):
        inertia.compare(model=mlp, engine="population", dataset=spiral, seeds=1, epochs=1)
    with pytest.raises(FactoryError, match="must be module:function"):
        inertia.compare(model="nocolon", dataset=spiral, seeds=1, epochs=1)


MODULE = """
from torch import nn


def cnn(seed):
    return nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(6 * 4 * 4, 10))
"""


def test_the_model_option_on_the_command_line(tmp_path, monkeypatch):
    (tmp_path / "mymodels.py").write_text(textwrap.dedent(MODULE))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    out = runner.invoke(app, ["compare", "--model", "mymodels:cnn", "--dataset", "digits", "--momenta", "0,0.9",
                              "--seeds", "2", "--epochs", "2", "--batch-size", "32", "--lr", "0.05", "--json",
                              "--no-plots", "--out", "o"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert summary["config"]["model"] == "mymodels:cnn" and summary["config"]["layers"] is None
    final = {r["momentum"]: r["final_loss"] for r in summary["table"]}
    import mymodels

    for momentum in (0.0, 0.9):
        expected = np.mean([by_hand(mymodels.cnn, data.digits(), momentum, seed, 0.05, 2, 32).loss[-1]
                            for seed in (0, 1)])
        assert final[momentum] == pytest.approx(expected, rel=F32_TRAJECTORY)
    assert "--model mymodels:cnn" in (tmp_path / "o" / "report.html").read_text()
    for arguments, message in [
            (["--model", "nomodule:cnn"], "--model nomodule:cnn: cannot import 'nomodule'"),
            (["--model", "mymodels:rnn"], "--model mymodels:rnn: module 'mymodels' has no 'rnn'"),
            (["--model", "mymodels:cnn", "--layers", "64,10"], "layers and model are exclusive"),
            (["--model", "mymodels:cnn", "--engine", "population"], "--engine population trains inertia's MLPs"),
            (["--model", "mymodels:cnn"], "mymodels:cnn(0) fails on a batch of 2 rows of 'spiral' (shape (2, 2))")]:
        bad = runner.invoke(app, ["compare", *arguments, "--out", "bad"])
        assert bad.exit_code == 2 and message in bad.output, (arguments, bad.output)
        assert not (tmp_path / "bad").exists()
