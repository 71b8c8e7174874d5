"""The schedule study's protocol, checked against a plain restatement: each arm's rate is the one with the lowest
mean validation loss, the final runs use fresh seeds on the whole training set and are what fit gives, and the
paired differences are those of the runs."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from tolerances import F32_TRAJECTORY
from typer.testing import CliRunner

from inertia import data
from inertia.cli import app
from inertia.models import MLP
from inertia.optim import Momentum
from inertia.optim.schedules import Demon
from inertia.stats import paired_difference
from inertia.studies.schedule_study import OUTPUT_FILES, SCHEDULED, arms, schedule_study
from inertia.train import fit


@pytest.fixture(scope="module")
def study():
    return schedule_study(data.spiral(points=40, seed=0), epochs=6, learning_rates=(0.03, 0.3), tune_seeds=3,
                          test_seeds=3, test=data.spiral(points=40, seed=1))


def test_each_arm_takes_the_rate_of_lowest_mean_validation_loss(study):
    for arm in arms():
        rows = study.trials[study.trials["arm"] == arm]
        means = {lr: rows[rows["lr"] == lr]["val_loss"].fillna(np.inf).mean() for lr in (0.03, 0.3)}
        assert study.chosen[arm] == min(means, key=means.get)
        assert sorted(rows["seed"].unique()) == [0, 1, 2]


def test_final_runs_are_fit_on_the_whole_training_set_over_fresh_seeds(study):
    full = data.spiral(points=40, seed=0)
    test = data.spiral(points=40, seed=1)
    assert sorted(study.final["seed"].unique()) == [3, 4, 5]
    updates = 6 * -(-len(full) // 20)
    for arm in ("β = 0.9", "Demon"):
        lr = study.chosen[arm]
        for _, row in study.final[study.final["arm"] == arm].iterrows():
            model = MLP([2, 50, 3], seed=int(row["seed"]))
            optimizer = Momentum(model.parameters(), lr=lr, momentum=0.9)
            ramp = Demon(0.9, updates) if arm == "Demon" else None
            history = fit(model, full, optimizer, 6, 20, seed=int(row["seed"]), momentum_schedule=ramp)
            with torch.no_grad():
                x, y = test.tensors()
                loss = torch.nn.functional.cross_entropy(model(x), y).item()
            np.testing.assert_allclose(row["test_loss"], loss, rtol=F32_TRAJECTORY)
            np.testing.assert_allclose(row["train_loss"], history.loss[-1], rtol=F32_TRAJECTORY)
            np.testing.assert_allclose(row["train_accuracy"], history.accuracy[-1], atol=1 / len(full) + 1e-9)
            assert history.epochs == 6


def test_paired_differences_are_the_runs_differences(study):
    base = study.best_constant()
    paired = study.paired().query("chosen_by == 'validation'")
    assert set(paired["arm"]) == set(SCHEDULED) and set(paired["against"]) == {base}
    means = study.final.groupby("arm")["test_accuracy"].mean()
    hindsight = study.paired().query("chosen_by == 'hindsight'")
    assert study.hindsight_constant() == means[[a for a in arms() if a.startswith("β")]].idxmax()
    assert set(hindsight["against"]) == ({study.hindsight_constant()} if study.hindsight_constant() != base else set())
    ref = study.final[study.final["arm"] == base].set_index("seed")["test_accuracy"]
    for arm in SCHEDULED:
        ours = study.final[study.final["arm"] == arm].set_index("seed")["test_accuracy"].loc[ref.index]
        expected = paired_difference(ours.to_numpy(), ref.to_numpy())
        row = paired[(paired["arm"] == arm) & (paired["metric"] == "test_accuracy")].iloc[0]
        assert row["difference"] == pytest.approx(expected.mean) and row["low"] == pytest.approx(expected.low)
        verdict = "better" if expected.low > 0 else "worse" if expected.high < 0 else "no difference"
        assert row["verdict"] == verdict


def test_the_table_flags_a_rate_chosen_at_an_end_of_the_grid(study):
    table = study.table()
    for arm, row in table.iterrows():
        assert row["lr"] == study.chosen[arm]
        assert row["lr_at_edge"] == (row["lr"] in (0.03, 0.3))  # a two-rate grid: every choice is an edge
        runs = study.final[study.final["arm"] == arm]
        assert row["test_accuracy"] == pytest.approx(runs["test_accuracy"].mean())
    middle = schedule_study(data.spiral(points=20, seed=0), epochs=2, learning_rates=(0.001, 0.03, 30.0),
                            tune_seeds=1, test_seeds=2, test=data.spiral(points=20, seed=1))
    flags = middle.table()["lr_at_edge"]
    assert all(flags[arm] == (middle.chosen[arm] != 0.03) for arm in arms())
    assert not flags.all()  # 30 diverges and 0.001 barely moves in two epochs: the middle rate wins somewhere


@pytest.mark.parametrize("kwargs, field", [({"learning_rates": (0.1, -1)}, "learning_rates"),
                                           ({"learning_rates": ()}, "learning_rates"),
                                           ({"test_seeds": 1}, "test_seeds"), ({"epochs": 0}, "epochs"),
                                           ({"activation": "gelu"}, "activation"),
                                           ({"batch_size": 1000}, "batch_size")])
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=f"^{field} must"):
        schedule_study(data.spiral(points=20, seed=0), **{"epochs": 1, **kwargs}, test=data.spiral(points=20))


def test_the_command_writes_its_folder_and_refuses_bad_options(tmp_path):
    out = CliRunner().invoke(app, ["schedule-study", "--epochs", "3", "--lrs", "0.1,0.3", "--tune-seeds", "2",
                                   "--test-seeds", "2", "--out", str(tmp_path), "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert [row["arm"] for row in summary["table"]] == arms() and len(summary["paired"]) in (2 * len(SCHEDULED),
                                                                                          4 * len(SCHEDULED))
    assert summary["config"]["learning_rates"] == [0.1, 0.3] and summary["best_constant"] in arms()[:4]
    for name in OUTPUT_FILES:
        assert (tmp_path / name).exists(), name
    final = pd.read_csv(tmp_path / "final.csv")
    assert len(final) == 2 * len(arms()) and sorted(final["seed"].unique()) == [2, 3]
    printed = CliRunner().invoke(app, ["schedule-study", "--epochs", "2", "--lrs", "0.1,0.3", "--tune-seeds", "1",
                                       "--test-seeds", "2", "--out", str(tmp_path)])
    assert printed.exit_code == 0 and "grid edge" in printed.stdout and "chosen by validation loss" in printed.stdout
    for option, value in (("--lrs", "0.1,-1"), ("--test-seeds", "1"), ("--epochs", "0"), ("--batch-size", "0")):
        bad = CliRunner().invoke(app, ["schedule-study", option, value, "--out", str(tmp_path / "x")])
        assert bad.exit_code == 2 and f"Error: {option} must" in bad.output, bad.output
    assert not (tmp_path / "x").exists()


def test_a_data_set_without_a_held_out_split_keeps_a_fifth_of_itself_out():
    """digits, a file or a Dataset with no test split: the final runs train on four fifths and are scored on the
    other fifth (drawn with the next data seed), never on examples they trained on."""
    whole = data.spiral(points=40, seed=0)
    study = schedule_study(whole, epochs=2, learning_rates=(0.1,), tune_seeds=1, test_seeds=2)
    order = np.random.default_rng(1).permutation(len(whole))
    held, kept = order[: len(whole) // 5], order[len(whole) // 5 :]
    assert study.config["test_samples"] == len(held) and study.config["train_samples"] == len(kept)
    row = study.final[(study.final["arm"] == "β = 0.5") & (study.final["seed"] == 1)].iloc[0]
    model = MLP([2, 50, 3], seed=1)
    train = data.Dataset(whole.x[kept], whole.y[kept], whole.classes, "kept")
    fit(model, train, Momentum(model.parameters(), lr=0.1, momentum=0.5), 2, 20, seed=1)
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(model(torch.as_tensor(whole.x[held], dtype=torch.float32)),
                                                 torch.as_tensor(whole.y[held])).item()
    np.testing.assert_allclose(row["test_loss"], loss, rtol=F32_TRAJECTORY)
