"""The noisy quadratic model: the exact recurrences against a Monte Carlo simulation with torch.optim.SGD, the fast
evaluation against step-by-step iteration, the searches against brute force, the claims, the command."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from inertia.cli import app
from inertia.studies import nqm


@pytest.mark.parametrize("lr,momentum,batch", [(0.5, 0.0, 4), (0.3, 0.8, 2), (1.2, 0.5, 16)])
def test_expected_loss_matches_a_monte_carlo_run_of_torch_sgd(lr, momentum, batch):
    """Many independent noisy quadratics trained by torch.optim.SGD: their mean loss per step is the
    recurrence's expected loss within sampling error (4 standard errors at every step)."""
    dims, runs, steps = 20, 20_000, 60
    problem = nqm.problem(dims, resolution=0)
    h = torch.tensor(problem.h)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(runs, dims, generator=generator, dtype=torch.float64).requires_grad_()
    optimizer = torch.optim.SGD([x], lr=lr, momentum=momentum)
    losses = [0.5 * (h * x.detach() ** 2).sum(1)]
    for _ in range(steps):
        noise = torch.randn(runs, dims, generator=generator, dtype=torch.float64) * torch.sqrt(h / batch)
        x.grad = h * x.detach() + noise
        optimizer.step()
        losses.append(0.5 * (h * x.detach() ** 2).sum(1))
    sampled = torch.stack(losses).numpy()
    mean, error = sampled.mean(1), sampled.std(1, ddof=1) / np.sqrt(runs)
    expected = nqm.expected_losses(problem, lr, momentum, batch, steps)
    assert np.all(np.abs(mean - expected) < 4 * error + 1e-12), np.max(np.abs(mean - expected) / error)


@pytest.mark.parametrize("lr,momentum,batch", [(0.3, 0.7, 4), (0.05, 0.99, 64), (1.5, 0.2, 1), (0.9, 0.0, 8)])
def test_any_step_by_squaring_equals_iterating_the_recurrence(lr, momentum, batch):
    problem = nqm.problem(300, resolution=0)
    iterated = nqm.expected_losses(problem, lr, momentum, batch, 600)
    fast = nqm.Dynamics(problem, lr, momentum).losses(np.arange(601), np.full(601, float(batch)))
    np.testing.assert_allclose(fast, iterated, rtol=1e-11, atol=0)


def test_binned_curvatures_match_every_coordinate_on_its_own():
    binned, exact = nqm.problem(), nqm.problem(resolution=0)
    assert len(binned.h) < 1000 and binned.weights.sum() == 10_000
    assert binned.initial_loss == pytest.approx(exact.initial_loss, rel=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(30):
        lr, momentum = 10 ** rng.uniform(-4, 0.2), 1 - 10 ** rng.uniform(-4, 0)
        steps, batch = int(10 ** rng.uniform(0, 6)), 2.0 ** rng.integers(1, 21)
        if not nqm.stable(exact.h, lr, momentum):
            continue
        a = nqm.Dynamics(binned, lr, momentum).losses([steps], [batch])[0]
        b = nqm.Dynamics(exact, lr, momentum).losses([steps], [batch])[0]
        assert a == pytest.approx(b, rel=1e-4)  # the binning's own approximation: nearby curvatures share a bin


def test_steps_to_target_is_the_first_step_below_it():
    """Targets half-way between consecutive losses of a decreasing curve: the search lands on that step."""
    problem = nqm.problem(200, resolution=0)
    rng = np.random.default_rng(1)
    checked = 0
    for lr, momentum, batch in [(0.5, 0.0, 4), (0.05, 0.9, 16), (0.2, 0.5, 256), (0.01, 0.0, 1), (1.0, 0.3, 64)]:
        curve = nqm.expected_losses(problem, lr, momentum, batch, 3000)
        decreasing = np.flatnonzero(np.diff(curve) < 0) + 1
        for step in rng.choice(decreasing[decreasing < 2000], 5):
            if not np.all(np.diff(curve[: step + 1]) < 0):
                continue
            target = (curve[step - 1] + curve[step]) / 2
            found = nqm.Dynamics(problem, lr, momentum).steps_to(target, np.array([batch], float), np.array([3000]))
            assert found[0] == step
            checked += 1
        unreachable = curve.min() * 0.999
        found = nqm.Dynamics(problem, lr, momentum).steps_to(unreachable, np.array([batch], float), np.array([3000]))
        assert found[0] == np.inf
    assert checked >= 15


def test_batch_scaling_is_the_grid_minimum_found_by_brute_force():
    problem = nqm.problem(50, resolution=0)
    rates, momenta, batches, target, longest = np.logspace(-2, 0.5, 9), (0.0, 0.5, 0.9), (1, 4, 16, 64), 0.4, 4000
    result = nqm.batch_scaling(problem, target, batches, rates, momenta)
    for i, batch in enumerate(batches):
        def steps(lr, m, batch=batch):
            if not nqm.stable(problem.h, lr, m):
                return np.inf
            below = nqm.expected_losses(problem, lr, m, batch, longest) < target
            return int(np.argmax(below)) if below.any() else np.inf

        assert result.sgd_steps[i] == min(steps(lr, 0.0) for lr in rates)
        assert result.momentum_steps[i] == min(steps(lr, m) for m in momenta for lr in rates)
        assert steps(result.momentum_lr[i], result.momentum[i]) == result.momentum_steps[i]
        assert steps(result.sgd_lr[i], 0.0) == result.sgd_steps[i]


def _scaling(sgd, momentum, sgd_lr=None, momentum_lr=None, beta=0.9):
    b = 2.0 ** np.arange(1, len(sgd) + 1)
    sgd_lr = np.full(len(b), 0.1) if sgd_lr is None else np.asarray(sgd_lr, float)
    momentum_lr = sgd_lr * (1 - beta) if momentum_lr is None else np.asarray(momentum_lr, float)
    return nqm.BatchScaling(b, 0.01, np.asarray(sgd, float), sgd_lr, np.asarray(momentum, float), momentum_lr,
                            np.full(len(b), beta))


def test_claims_hold_and_fail_on_constructed_results():
    perfect_then_flat = [800, 400, 200, 100, 90, 88, 87]
    longer = [800, 400, 200, 100, 50, 25, 24]
    holds = [c.holds for c in nqm.check_claims(_scaling(perfect_then_flat, longer))]
    assert holds == [True, True, True]
    same = [c.holds for c in nqm.check_claims(_scaling(perfect_then_flat, perfect_then_flat))]
    assert same == [True, False, True]
    faster_small = [c.holds for c in nqm.check_claims(_scaling(perfect_then_flat, [400, 200, 100, 50, 25, 24, 23]))]
    assert faster_small[0] is False
    other_lr = _scaling(perfect_then_flat, longer, momentum_lr=np.full(7, 0.1))  # effective lr 1 vs 0.1
    assert nqm.check_claims(other_lr)[0].holds is False
    still_scaling = [800, 400, 200, 100, 50, 25, 12]
    assert nqm.check_claims(_scaling(perfect_then_flat, still_scaling))[2].holds is False


@pytest.mark.parametrize("kwargs,field", [({"target": 5.0}, "target"), ({"learning_rates": [-0.1]}, "learning_rates"),
                                          ({"momenta": [1.0]}, "momenta"), ({"batch_sizes": [0]}, "batch_sizes")])
def test_bad_settings_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        nqm.batch_scaling(nqm.problem(10, 0), **{"target": 0.1, **kwargs})


def test_an_unstable_learning_rate_is_refused_with_the_limit():
    with pytest.raises(ValueError, match="diverges"):
        nqm.Dynamics(nqm.problem(10), 3.0, 0.0)


def test_reproduce_nqm_json_and_files(tmp_path):
    out = CliRunner().invoke(app, ["reproduce", "nqm", "--dimensions", "2000", "--out", str(tmp_path), "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert summary["batch_sizes"] == [2**k for k in range(1, 21)]
    assert set(summary["sgd"]) >= {"steps", "lr"} and set(summary["momentum"]) >= {"steps", "lr", "momentum"}
    assert len(summary["claims"]) == 3 and all(c["holds"] for c in summary["claims"].values())
    steps = np.array(summary["sgd"]["steps"], float)
    assert np.all(np.diff(steps) <= 0)  # larger batches never need more steps
    assert (tmp_path / "nqm.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "nqm.json").read_text())["target"] == 0.01
