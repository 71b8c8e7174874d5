import json

import numpy as np
import pytest
from tolerances import MEASURED_RATE
from typer.testing import CliRunner

from inertia import data
from inertia.cli import app
from inertia.studies import stability, theory

KAPPAS = [10.0, 100.0, 1000.0]


@pytest.mark.parametrize("kappa", KAPPAS)
def test_optimal_rate_matches_matrix_eigenvalues_and_simulation(kappa):
    best = theory.optimal(1.0, kappa)
    lams = np.geomspace(1.0, kappa, 7)
    by_matrix = max(np.abs(np.linalg.eigvals(theory.iteration_matrix(best["alpha_opt"], best["beta_opt"], lam))).max()
                    for lam in lams)
    assert by_matrix == pytest.approx(best["rate_opt"], rel=1e-6)
    assert theory.measured_rate(lams, best["alpha_opt"], best["beta_opt"], steps=3000) == pytest.approx(
        best["rate_opt"], rel=MEASURED_RATE)
    assert theory.measured_rate(lams, best["alpha_gd"], 0.0, steps=3000) == pytest.approx(
        best["rate_gd"], rel=MEASURED_RATE)
    assert best["rate_opt"] < best["rate_gd"]


@pytest.mark.parametrize("form", ["pytorch", "polyak", "ema"])
def test_every_form_converges_at_the_predicted_rate(form):
    best = theory.optimal(1.0, 100.0)
    measured = theory.measured_rate([1.0, 10.0, 100.0], best["alpha_opt"], best["beta_opt"], steps=3000, form=form)
    assert measured == pytest.approx(best["rate_opt"], rel=MEASURED_RATE)


@pytest.mark.parametrize(("alpha", "beta", "lam"), [(0.1, 0.5, 3.0), (0.01, 0.9, 50.0), (0.5, 0.0, 1.0)])
def test_rate_is_the_spectral_radius(alpha, beta, lam):
    expected = np.abs(np.linalg.eigvals(theory.iteration_matrix(alpha, beta, lam))).max()
    assert theory.rate(alpha, beta, lam) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("beta", [0.0, 0.3, 0.9])
def test_convergence_region_edge(beta):
    edge = theory.stable_alpha(beta, 2.0)
    assert edge == pytest.approx((2 + 2 * beta) / 2.0)
    assert theory.rate(edge * 0.99, beta, 2.0) < 1 < theory.rate(edge * 1.01, beta, 2.0)


@pytest.mark.parametrize(("alpha", "lam"), [(0.01, 4.0), (0.1, 2.0)])
def test_critical_damping_is_where_the_eigenvalues_meet(alpha, lam):
    beta = theory.critical_beta(alpha, lam)
    trace = 1 - alpha * lam + beta
    assert trace**2 == pytest.approx(4 * beta, rel=1e-9)
    # Below it the eigenvalues are real, above it complex with modulus sqrt(beta).
    assert theory.rate(alpha, beta + 0.05, lam) == pytest.approx(np.sqrt(beta + 0.05), rel=1e-9)


def test_optimal_rejects_bad_eigenvalues():
    with pytest.raises(ValueError, match="0 < lambda_min <= lambda_max"):
        theory.optimal(0.0, 1.0)


def test_theory_cli_json(tmp_path):
    result = CliRunner().invoke(app, ["theory", "--lambda-min", "1", "--lambda-max", "100", "--json", "--out",
                                      str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["alpha_opt"] == pytest.approx((2 / 11) ** 2)
    assert summary["beta_opt"] == pytest.approx((9 / 11) ** 2)
    assert summary["rate_opt"] == pytest.approx(9 / 11) and summary["rate_gd"] == pytest.approx(99 / 101)
    assert (tmp_path / "rate.png").is_file()


def test_hessian_power_iteration_on_a_known_quadratic():
    import torch

    # A linear model's cross-entropy Hessian at zero weights: checked against the dense Hessian by autograd.
    task = data.blobs(classes=2, points=10, features=2, seed=0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 2)).double()
    estimate = stability.hessian_lambda_max(model, task, iterations=200)
    params = torch.cat([p.detach().flatten() for p in model.parameters()])
    x, y = task.tensors(dtype=torch.float64)

    def loss(flat):
        w, b = flat[:4].reshape(2, 2), flat[4:]
        return torch.nn.functional.cross_entropy(x @ w.T + b, y)

    dense = torch.autograd.functional.hessian(loss, params)
    assert estimate == pytest.approx(torch.linalg.eigvalsh(dense).max().item(), rel=1e-6)


@pytest.mark.slow
def test_stability_edge_prediction_and_measurement_side_by_side():
    """On the lab's network the rate past which the loss first rises above its start is the quadratic theory's
    edge 2(1 + β)/λ_max within 40 % at every momentum, while runs still train (a catapult) well past it."""
    report = stability.edges(data.spiral(seed=0), [2, 50, 3], betas=(0.0, 0.5, 0.9))
    assert report["lambda_max"] > 0
    for row in report["rows"]:
        assert row["predicted_lr"] == pytest.approx(2 * (1 + row["momentum"]) / report["lambda_max"])
        assert 0.7 < row["measured_lr"] / row["predicted_lr"] < 1.4, row
        assert row["surviving_lr"] > 2 * row["measured_lr"], row


def test_the_rate_figure_legend_covers_no_contour_and_its_math_is_typeset():
    figure = theory.rate_figure(0.1, 10.0, resolution=40)
    figure.canvas.draw()
    axes = figure.axes[0].get_window_extent()
    (legend,) = figure.legends
    assert not legend.get_window_extent().overlaps(axes)  # drawn outside the axes, below them
    labels = [t.get_text() for t in legend.get_texts()]
    # an underscore only inside $…$, where matplotlib sets it as a subscript
    assert all("_" not in part for label in labels for part in label.split("$")[::2]), labels
    assert any(r"\lambda_{\max}" in label for label in labels)
