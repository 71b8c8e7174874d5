"""The one divergence rule and the one run summary, and that compare and a sweep report a run alike."""

import math

import numpy as np
import pytest
import torch
from tolerances import F32_EVALUATION

from inertia import data, outcome
from inertia.models import MLP
from inertia.optim import Momentum
from inertia.studies.comparison import compare
from inertia.sweeps import store
from inertia.sweeps.run import sweep
from inertia.train import fit

DATA = data.spiral(points=40, seed=0)


def train(lr, momentum=0.0, epochs=10, **kwargs):
    model = MLP([2, 16, 3], seed=0)
    maximize = kwargs.pop("maximize", False)
    optimizer = Momentum(model.parameters(), lr=lr, momentum=momentum, maximize=maximize)
    return fit(model, DATA, optimizer, epochs, 20, seed=0, **kwargs)


def test_the_rule_fires_on_a_finite_blow_up_non_finite_values_and_bad_weights():
    fires = outcome.diverging(loss=[1.0, 12.0, np.nan, 1.0, 1.0], batch_loss_mean=[1.0, 1.0, 1.0, np.inf, 1.0],
                              initial_loss=1.1, factor=10, finite_weights=[True, True, True, True, False])
    assert fires.tolist() == [False, True, True, True, True]
    assert not outcome.diverging(10.9, 10.9, 1.1, factor=10)


def test_a_finite_blow_up_is_divergence_where_it_used_to_pass_as_a_result():
    unguarded = train(1e6, divergence_factor=1e300)  # only NaN or infinity would stop it: the old rule
    assert not unguarded.diverged and np.isfinite(unguarded.loss).all()
    assert unguarded.loss[-1] > 1000 * unguarded.initial_loss
    guarded = train(1e6)
    assert guarded.status == "diverged" and guarded.diverged_at == 0
    # the record keeps the loss that crossed the rule (the unguarded run's, to the bit), NaN only after it
    assert guarded.loss[0] == unguarded.loss[0] > 10 * guarded.initial_loss and np.isnan(guarded.loss[1:]).all()
    np.testing.assert_allclose(guarded.initial_loss, unguarded.initial_loss)


def test_initial_loss_is_the_full_data_loss_of_the_initial_weights():
    model = MLP([2, 16, 3], seed=0)
    x, y = DATA.tensors()
    with torch.no_grad():
        expected = float(torch.nn.functional.cross_entropy(model(x), y))
    assert train(0.1, epochs=1).initial_loss == pytest.approx(expected, rel=F32_EVALUATION)


def test_no_progress_is_a_finished_run_that_ends_no_better_than_it_started():
    climbing = train(0.01, maximize=True)  # gradient ascent: the loss rises, but not ten-fold
    assert not climbing.diverged and climbing.loss[-1] > climbing.initial_loss
    summary = climbing.summary()
    assert summary["status"] == "no_progress"
    assert summary["final_loss"] == climbing.loss[-1] and summary["best_loss"] == np.nanmin(climbing.loss)
    assert train(0.1).status == "ok"


def test_a_summary_counts_time_to_target_before_a_divergence():
    history = train(0.5, epochs=3)
    history.accuracy[:] = [0.5, 0.95, np.nan]
    history.diverged_at = 2
    summary = outcome.summarize(history, {"accuracy": 0.9, "loss": 1e-9})
    assert summary["status"] == "diverged" and math.isnan(summary["final_accuracy"])
    assert summary["epochs_to_accuracy"] == 2 and math.isnan(summary["epochs_to_loss"])


def test_the_epoch_a_run_diverged_at_never_reaches_a_target():
    """Its metrics are kept as evidence, not as a result: a target met only there is not reached."""
    history = train(0.5, epochs=3)
    history.accuracy[:] = [0.5, 0.6, 0.95]
    history.diverged_at = 2
    assert math.isnan(outcome.epochs_to(history, "accuracy", 0.9))
    curves = {"accuracy": [0.5, 0.6, 0.95]}
    assert math.isnan(outcome.epochs_to(curves, "accuracy", 0.9, diverged_at=2))
    assert outcome.epochs_to(curves, "accuracy", 0.9) == 3 == outcome.epochs_to(curves, "accuracy", 0.9, float("nan"))


@pytest.mark.parametrize("factor", [1, 0.5, -3, float("nan"), float("inf"), "10", True])
def test_bad_factors_are_refused_with_the_field_named(factor):
    with pytest.raises(ValueError, match="Invalid divergence_factor"):
        outcome.check_factor(factor)
    with pytest.raises(ValueError, match="Invalid divergence_factor"):
        train(0.1, epochs=1, divergence_factor=factor)


def test_compare_counts_diverged_and_no_progress_runs_apart_and_leaves_diverged_ones_out_of_means():
    result = compare(momenta=[0.0, 0.5], lr=1e6, seeds=3, epochs=3, dataset=DATA, layers=[2, 8, 3])
    table = result.table()
    assert table["diverged"].tolist() == [3, 3] and table["no_progress"].tolist() == [0, 0]
    assert table["final_loss"].isna().all() and table["best_loss"].isna().all()


def test_compare_and_a_sweep_summarize_the_same_runs_the_same_way(tmp_path):
    """One run, one summary: the sweep's record holds what compare's table is built from."""
    lrs = [0.1, 30.0]
    spec = {"data": {"name": "spiral", "points": 40, "seed": 0}, "model": {"layers": [2, 8, 3]},
            "train": {"epochs": 6, "batch_size": 20, "seeds": 2}, "grid": {"lr": lrs, "momentum": [0.0, 0.9]}}
    sweep(spec, str(tmp_path / "s.db"))
    runs = store.open(tmp_path / "s.db", readonly=True).runs()
    assert set(runs["status"]) <= set(outcome.STATUSES)
    for lr in lrs:
        result = compare(momenta=[0.0, 0.9], lr=lr, seeds=2, epochs=6, dataset=DATA, layers=[2, 8, 3])
        for run in result.runs:
            row = runs[(runs["lr"] == lr) & (runs["momentum"] == run.momentum) & (runs["seed"] == run.seed)].iloc[0]
            expected = run.history.summary()
            assert row["status"] == expected["status"]
            for key in ("final_loss", "best_loss", "final_accuracy", "best_accuracy", "initial_loss"):
                np.testing.assert_allclose(row[key], expected[key], rtol=F32_EVALUATION, err_msg=key)
    assert (runs["status"] != "ok").any(), "lr 30 at momentum 0.9 should not end as a plain result"
