"""Populations as columns: members given as arrays train exactly as the same members given one by one, the vector
checks reject exactly what each member's own check rejects, and the columnar results equal the per-member ones."""

import itertools

import numpy as np
import pandas as pd
import pytest
import torch

from inertia import data, init, outcome
from inertia.optim import rules, schedules
from inertia.population import Member, Members, train_population
from inertia.population.layout import ONE_HIDDEN, flat_weights, forms

DATA = data.spiral(classes=3, points=10, seed=0)
LAB = [2, 7, 3]


def _same_results(a, b) -> None:
    assert len(a.histories) == len(b.histories)
    for x, y in zip(a.histories, b.histories):
        for name in ("loss", "accuracy", "batch_loss_mean", "batch_loss_last", "test_loss", "test_accuracy"):
            np.testing.assert_array_equal(getattr(x, name), getattr(y, name), err_msg=name)
        assert (x.diverged_at, x.initial_loss) == (y.diverged_at, y.initial_loss)
    for x, y in zip(a.weights, b.weights):
        for (wx, bx), (wy, by) in zip(x, y):
            assert torch.equal(wx, wy) and torch.equal(bx, by)


@pytest.mark.parametrize("engine", ["kernel", "torch"])
def test_columns_train_exactly_as_a_list_of_members(engine):
    lrs, momenta, seeds = [0.05, 0.3], [0.0, 0.5, 0.9], [0, 1]
    grid = Members.grid(lr=lrs, momentum=momenta, seed=seeds)
    listed = [Member(lr, m, seed=s) for lr, m, s in itertools.product(lrs, momenta, seeds)]
    assert len(grid) == 12
    settings = {"epochs": 4, "batch_size": 6, "engine": engine, "nesterov": False}
    _same_results(train_population(DATA, LAB, grid, **settings), train_population(DATA, LAB, listed, **settings))


def test_other_optimizers_and_schedules_as_columns():
    lr = np.array([1e-3, 3e-3, 1e-2])
    table = Members.table(seed=[3, 4, 5], optimizer="adam", lr=lr, beta1=[0.8, 0.9, 0.95],
                          schedule=schedules.Cosine(lr, total=np.array([10, 20, 30]), floor=0.0))
    listed = [Member(seed=s, optimizer=rules.Adam(lr=a, beta1=b), schedule=schedules.Cosine(a, total=t))
              for s, a, b, t in zip([3, 4, 5], lr, [0.8, 0.9, 0.95], [10, 20, 30])]
    _same_results(train_population(DATA, LAB, table, epochs=3, batch_size=5),
                  train_population(DATA, LAB, listed, epochs=3, batch_size=5))
    assert table.member(1) == Member(seed=4, optimizer=rules.Adam(lr=3e-3, beta1=0.9),
                                     schedule=schedules.Cosine(3e-3, total=20, floor=0.0))


def test_chunks_split_mixed_schedules_exactly():
    """Rows of a table with several kinds of schedule, trained in chunks of two, equal one chunk."""
    listed = [Member(0.1, 0.9, seed=0), Member(momentum=0.5, seed=1, schedule=schedules.Step(0.2, every=4)),
              Member(0.2, 0.0, seed=2), Member(momentum=0.8, seed=3, schedule=schedules.InverseTime(0.3, 0.1)),
              Member(momentum=0.7, seed=4, schedule=schedules.Step(0.1, every=3, gamma=0.5))]
    members = Members.of(listed)
    assert [members[i] for i in range(5)] == listed and members[-1] == listed[-1]
    assert [members[1:4][i] for i in range(3)] == listed[1:4]
    whole = train_population(DATA, LAB, members, epochs=3, batch_size=4)
    size = 2 * train_population.__globals__["member_bytes"](LAB, len(DATA), 4, torch.float32, "kernel")[0]
    _same_results(train_population(DATA, LAB, members, epochs=3, batch_size=4, memory_budget=size), whole)


def test_from_frame_and_frame_round_trip():
    frame = pd.DataFrame({"seed": [7, 8], "lr": [0.1, 0.2], "momentum": [0.9, 0.5]})
    members = Members.from_frame(frame)
    back = members.frame()
    pd.testing.assert_frame_equal(back[["seed", "lr", "momentum"]], frame, check_dtype=False)
    assert members.member(1) == Member(0.2, 0.5, seed=8)


# --- checks: the vector checks reject exactly the members each member's own check rejects ---------------------

EDGES = [0.0, 0.5, 1.0, -0.1, 1.5, np.nan, np.inf, -np.inf, 1e-300, 0.999999]
FIELDS = {
    rules.Momentum: ("lr", "momentum", "dampening", "weight_decay"),
    rules.QHM: ("lr", "beta", "nu", "weight_decay"),
    rules.Adam: ("lr", "beta1", "beta2", "eps", "weight_decay"),
    rules.AdamW: ("lr", "beta1", "beta2", "eps", "weight_decay"),
    rules.RMSprop: ("lr", "alpha", "eps", "weight_decay", "momentum"),
}
SHARED = {rules.Momentum: [{"form": f, "nesterov": n} for f in ("pytorch", "polyak", "ema") for n in (False, True)]}


def _rejects(rule) -> bool:
    try:
        rule.check()
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("kind", list(FIELDS), ids=lambda k: k.kind)
def test_vector_checks_match_each_members_own_check(kind):
    names = FIELDS[kind]
    rng = np.random.default_rng(0)
    values = {name: rng.choice(EDGES, 4000) for name in names}
    for shared in SHARED.get(kind, [{}]):
        stacked = kind(**values, **shared)
        expected = np.array([not _rejects(rules.row(stacked, i)) for i in range(4000)])
        assert 0 < expected.sum() < 4000
        np.testing.assert_array_equal(stacked.invalid(), expected)


def test_bad_columns_name_the_member_and_the_rule():
    with pytest.raises(ValueError, match=r"^member 1: Invalid learning rate: -1.0$"):
        Members.table(seed=[0, 1, 2], lr=[0.1, -1.0, 0.1])
    with pytest.raises(ValueError, match=r"^member 2: Invalid momentum value: 1.0 \(allowed"):
        Members.table(seed=0, lr=0.1, momentum=[0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="member 0: Nesterov momentum requires a momentum"):
        train_population(DATA, LAB, Members.table(seed=[0, 1], momentum=[0.0, 0.9]), nesterov=True, epochs=1)
    with pytest.raises(ValueError, match=r"momentum has no hyperparameter beta1 \(allowed: seed, lr, momentum"):
        Members.table(seed=0, beta1=0.9)
    with pytest.raises(ValueError, match="member 1: seed must be an integer"):
        Members.table(seed=[0, 1.5], lr=0.1)
    with pytest.raises(ValueError, match="lr must be numbers"):
        Members.table(seed=[0, 1], lr=["a", "b"])
    with pytest.raises(ValueError, match=r"nesterov is the population's: train_population\(\.\.\., nesterov="):
        Members.table(seed=0, momentum=0.9, nesterov=True)
    nesterov = Members.table(seed=[0, 1], optimizer="momentum", momentum=0.9, nesterov=True)
    assert nesterov.settled("pytorch", False, False).nesterov
    with pytest.raises(ValueError, match="unknown optimizer 'lion'"):
        Members.table(seed=0, optimizer="lion")
    with pytest.raises(ValueError, match="a grid needs a seed axis"):
        Members.grid(lr=[0.1])


def test_a_list_of_members_keeps_each_values_own_check():
    """Values that are not plain numbers go member by member, as each member's rule checks them."""
    with pytest.raises(ValueError, match=r"^member 1: Invalid momentum value: True"):
        Members.of([Member(0.1, 0.5), Member(0.1, True)])
    with pytest.raises(ValueError, match=r"^member 0: Invalid momentum value: 0.5 \(allowed"):
        Members.of([Member(0.1, "0.5")])
    tensor = Members.of([Member(torch.tensor(0.2), 0.5, seed=np.int64(3))])  # checked as torch.optim.SGD would
    assert tensor.rule.lr[0] == np.float32(0.2) and tensor.seeds[0] == 3
    with pytest.raises(ValueError, match="one optimizer kind"):
        Members.of([Member(0.1), Member(optimizer=rules.Adam())])


# --- results as columns -----------------------------------------------------------------------------------------


def _first_epoch(curve, reached) -> float:
    hits = [epoch for epoch, value in enumerate(curve, 1) if reached(value)]
    return float(hits[0]) if hits else np.nan


def test_summaries_equal_each_histories_summary():
    """Diverged, stopped early and finished members, held-out metrics included: the columnar summaries equal
    :func:`inertia.outcome.summarize` of each member's history (which is the same rule for one run), and both
    equal the definitions worked out from the history's own curves."""
    digits = data.mnist1d(samples=300, seed=0)
    members = Members.table(seed=np.arange(6), lr=[0.05, 0.5, 40.0, 0.05, 0.5, 40.0], momentum=0.9)
    result = train_population(digits, [40, 16, 10], members, epochs=6, batch_size=50, held_out=digits.test,
                              until=("accuracy", 0.35))
    statuses = {h.status for h in result.histories}
    assert "diverged" in statuses and len(set(result.epochs_run)) > 1
    targets = {"accuracy": 0.3, "test_loss": 2.2}
    columns = result.summaries(targets)
    for i, history in enumerate(result.histories):
        expected = outcome.summarize(history, targets)
        diverged, end = history.diverged, history.diverged_at if history.diverged else history.epochs
        by_hand = {"initial_loss": history.initial_loss,
                   "final_loss": np.nan if diverged else history.loss[-1],
                   "best_loss": np.nan if diverged else min(history.loss),
                   "final_accuracy": np.nan if diverged else history.accuracy[-1],
                   "best_accuracy": np.nan if diverged else max(history.accuracy),
                   "final_batch_loss": np.nan if diverged else history.batch_loss_last[-1],
                   "epochs_to_accuracy": _first_epoch(history.accuracy[:end], lambda v: v >= 0.3),
                   "epochs_to_test_loss": _first_epoch(history.test_loss[:end], lambda v: v <= 2.2)}
        for key, value in by_hand.items():
            np.testing.assert_equal(expected[key], value, err_msg=key)
        assert columns["status"][i] == expected.pop("status")
        assert columns["diverged_at"][i] == (-1 if expected.pop("diverged_at") is None else history.diverged_at)
        for key, value in expected.items():
            np.testing.assert_equal(columns[key][i], value, err_msg=key)
    frame = result.summary_frame(targets)
    assert list(frame["status"]) == [h.status for h in result.histories]
    long = result.frame()
    assert len(long) == sum(h.epochs for h in result.histories)
    first = long[long.member == 2]
    np.testing.assert_array_equal(first["loss"], result.histories[2].loss)
    assert (first["lr"] == 40.0).all()


def test_snapshots_and_stacked_weights_match_per_member_weights():
    members = Members.table(seed=np.arange(5), lr=0.1, momentum=0.9)
    size = 2 * train_population.__globals__["member_bytes"](LAB, len(DATA), 5, torch.float32, "kernel")[0]
    result = train_population(DATA, LAB, members, epochs=3, batch_size=5, snapshots=[1], memory_budget=size)
    assert len(result.blocks) == 3
    stacked = result.stacked_weights()
    early = result.stacked_weights(epoch=1)
    for i in range(5):
        for layer, (w, b) in enumerate(result.member_weights(i)):
            assert torch.equal(stacked[layer][0][i], w) and torch.equal(stacked[layer][1][i], b)
            assert torch.equal(result.weights[i][layer][0], w)
        assert torch.equal(early[0][0][i], result.snapshots[1][i][0][0])
        assert not torch.equal(early[0][0][i], stacked[0][0][i])
        assert torch.equal(result.model(i, epoch=1).hidden[0].weight.detach(), early[0][0][i])


@pytest.mark.parametrize("layers", [[2, 7, 3], [2, 5, 9, 3], [40, 6, 10]])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_initial_weights_written_in_place_equal_the_stacked_ones(layers, dtype):
    seeds = [0, 5, -3, 2**40]
    stacked = init.population_weights(layers, seeds)
    for rows in (forms(layers), (False,) * (len(layers) - 1), (True,) * (len(layers) - 1)):
        if len(layers) == 3:
            rows = ONE_HIDDEN if rows == forms(layers) else rows
        flat = init.flat_population_weights(layers, seeds, rows, dtype)
        assert flat.dtype == dtype
        np.testing.assert_array_equal(flat, flat_weights(stacked, rows).numpy().astype(dtype))
