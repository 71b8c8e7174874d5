import numpy as np
import pytest
import torch
from tolerances import F32_EVALUATION, F32_TRAJECTORY
from torch.func import functional_call
from torch.nn.functional import cross_entropy
from torch.utils.data import DataLoader, TensorDataset

from inertia import data, outcome, shuffle
from inertia.models import MLP
from inertia.optim import schedules
from inertia.train import fit


@pytest.fixture
def tiny():
    return data.spiral(classes=3, points=4, seed=0)  # 12 points


def by_hand(model, dataset, batches, lr):
    """Plain SGD written out: returns per-batch losses (before each update) and the final parameters."""
    x, y = dataset.tensors()
    params = {k: v.detach().clone().requires_grad_() for k, v in model.named_parameters()}
    losses = []
    for index in batches:
        loss = cross_entropy(functional_call(model, params, (x[index],)), y[index])
        grads = torch.autograd.grad(loss, list(params.values()))
        params = {k: (v - lr * g).detach().requires_grad_() for (k, v), g in zip(params.items(), grads)}
        losses.append(loss.item())
    with torch.no_grad():
        logits = functional_call(model, params, (x,))
    full_loss = cross_entropy(logits, y).item()
    accuracy = float(np.mean(logits.argmax(1).numpy() == dataset.y))
    return losses, full_loss, accuracy


def test_one_full_batch_epoch_matches_hand_computation(tiny):
    model = MLP([2, 8, 3], seed=0)
    reference = MLP([2, 8, 3], seed=0)
    losses, full_loss, accuracy = by_hand(reference, tiny, [torch.arange(12)], lr=0.5)
    history = fit(model, tiny, torch.optim.SGD(model.parameters(), lr=0.5), epochs=1, batch_size=12, shuffle=False)
    assert history.batch_loss_last[0] == pytest.approx(losses[0], rel=F32_EVALUATION)
    assert history.batch_loss_mean[0] == pytest.approx(losses[0], rel=F32_EVALUATION)
    assert history.loss[0] == pytest.approx(full_loss, rel=F32_TRAJECTORY)
    assert history.accuracy[0] == accuracy


def test_minibatch_metrics_with_a_short_last_batch(tiny):
    model, reference = MLP([2, 8, 3], seed=1), MLP([2, 8, 3], seed=1)
    batches = [torch.arange(0, 5), torch.arange(5, 10), torch.arange(10, 12)]
    losses, full_loss, accuracy = by_hand(reference, tiny, batches, lr=0.3)
    history = fit(model, tiny, torch.optim.SGD(model.parameters(), lr=0.3), epochs=1, batch_size=5, shuffle=False)
    assert history.batch_loss_mean[0] == pytest.approx(np.mean(losses), rel=F32_TRAJECTORY)
    assert history.batch_loss_last[0] == pytest.approx(losses[-1], rel=F32_TRAJECTORY)
    assert history.loss[0] == pytest.approx(full_loss, rel=F32_TRAJECTORY)
    assert history.accuracy[0] == accuracy


def test_shuffled_order_comes_from_the_seed(tiny):
    order = torch.from_numpy(shuffle.order(5, 0, 12))
    model, reference = MLP([2, 8, 3], seed=2), MLP([2, 8, 3], seed=2)
    losses, full_loss, _ = by_hand(reference, tiny, order.split(4), lr=0.2)
    history = fit(model, tiny, torch.optim.SGD(model.parameters(), lr=0.2), epochs=1, batch_size=4, seed=5)
    assert history.batch_loss_mean[0] == pytest.approx(np.mean(losses), rel=F32_TRAJECTORY)
    assert history.loss[0] == pytest.approx(full_loss, rel=F32_TRAJECTORY)


def test_same_seed_same_history_other_seed_other_history(tiny):
    def run(seed):
        model = MLP([2, 8, 3], seed=0)
        return fit(model, tiny, torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.5), 5, 4, seed=seed)

    a, b, c = run(1), run(1), run(2)
    np.testing.assert_array_equal(a.loss, b.loss)
    assert not np.array_equal(a.batch_loss_mean, c.batch_loss_mean)


def test_loader_replaces_batching(tiny):
    x, y = tiny.tensors()
    a, b = MLP([2, 8, 3], seed=0), MLP([2, 8, 3], seed=0)
    own = fit(a, tiny, torch.optim.SGD(a.parameters(), lr=0.1, momentum=0.4), 3, 5, shuffle=False)
    loader = DataLoader(TensorDataset(x, y), batch_size=5)
    loaded = fit(b, tiny, torch.optim.SGD(b.parameters(), lr=0.1, momentum=0.4), 3, loader=loader)
    np.testing.assert_array_equal(own.loss, loaded.loss)
    np.testing.assert_array_equal(own.batch_loss_last, loaded.batch_loss_last)


def test_divergence_stops_training_and_is_recorded(tiny):
    model = MLP([2, 8, 3], seed=0)
    history = fit(model, tiny, torch.optim.SGD(model.parameters(), lr=1e30, momentum=0.9), epochs=20, batch_size=4)
    assert history.diverged and history.diverged_at < 19
    at = history.diverged_at
    assert np.isnan(history.loss[at + 1 :]).all() and np.isfinite(history.loss[:at]).all()
    # the epoch that diverged keeps the numbers that made the rule fire
    assert outcome.diverging(history.loss[at], history.batch_loss_mean[at], history.initial_loss)
    frame = history.to_frame()
    assert list(frame.columns) == ["loss", "accuracy", "batch_loss_mean", "batch_loss_last"]
    assert frame.index[0] == 1 and len(frame) == 20


def test_on_epoch_callback_sees_each_epoch(tiny):
    seen = []
    model = MLP([2, 8, 3], seed=0)
    fit(model, tiny, torch.optim.SGD(model.parameters(), lr=0.1), 3, 4, on_epoch=lambda e, h: seen.append(e))
    assert seen == [0, 1, 2]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"epochs": 0}, "epochs must be a positive integer"),
    ({"batch_size": -2}, "batch_size must be a positive integer"),
    ({"epochs": 1.5}, "epochs must be a positive integer"),
])
def test_argument_errors(tiny, kwargs, message):
    model = MLP([2, 8, 3], seed=0)
    with pytest.raises(ValueError, match=message):
        fit(model, tiny, torch.optim.SGD(model.parameters(), lr=0.1), **kwargs)


def test_schedule_sets_the_learning_rate_of_each_update(tiny):
    """Update t uses schedule(t): compare with plain SGD stepped by hand at those rates."""
    schedule = schedules.Step(0.5, every=2, gamma=0.1)
    model, reference = MLP([2, 8, 3], seed=4), MLP([2, 8, 3], seed=4)
    fit(model, tiny, torch.optim.SGD(model.parameters(), lr=99.0), epochs=1, batch_size=3, shuffle=False,
        schedule=schedule)
    x, y = tiny.tensors()
    for t, index in enumerate(torch.arange(12).split(3)):
        reference.zero_grad()
        torch.nn.functional.cross_entropy(reference(x[index]), y[index]).backward()
        with torch.no_grad():
            for p in reference.parameters():
                p -= schedule(t) * p.grad
    for a, b in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(a, b)
