"""The schedule study's protocol, checked against a plain restatement: each arm's rate is the one with the lowest
mean validation loss, the final runs use fresh seeds on the whole training set and are what fit gives, and the
paired differences are those of the runs."""

import numpy as np
import pytest
import torch
from tolerances import F32_TRAJECTORY

from inertia import data
from inertia.models import MLP
from inertia.optim import Momentum
from inertia.optim.schedules import Demon
from inertia.stats import paired_difference
from inertia.studies.schedule_study import SCHEDULED, arms, schedule_study
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
            assert history.epochs == 6


def test_paired_differences_are_the_runs_differences(study):
    base = study.best_constant()
    paired = study.paired()
    assert set(paired["arm"]) == set(SCHEDULED) and set(paired["against"]) == {base}
    ref = study.final[study.final["arm"] == base].set_index("seed")["test_accuracy"]
    for arm in SCHEDULED:
        ours = study.final[study.final["arm"] == arm].set_index("seed")["test_accuracy"].loc[ref.index]
        expected = paired_difference(ours.to_numpy(), ref.to_numpy())
        row = paired[(paired["arm"] == arm) & (paired["metric"] == "test_accuracy")].iloc[0]
        assert row["difference"] == pytest.approx(expected.mean) and row["low"] == pytest.approx(expected.low)
        verdict = "better" if expected.low > 0 else "worse" if expected.high < 0 else "no difference"
        assert row["verdict"] == verdict
