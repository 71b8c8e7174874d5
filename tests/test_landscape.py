"""Loss landscapes against independent references: filter norms, a model evaluated at θ + a·d₁ + b·d₂, a
least-squares projection and scikit-learn's PCA written in the test, fit's own trajectory, and the saved files."""

import json

import numpy as np
import pytest
import torch
from tolerances import F32_EVALUATION, F32_TRAJECTORY
from typer.testing import CliRunner

from inertia import data
from inertia.cli import app
from inertia.models import MLP
from inertia.optim import Momentum
from inertia.studies import landscape as L
from inertia.train import fit

LAYERS = [2, 12, 3]
DATA = data.spiral(points=60, seed=0)


def _load(model: MLP, theta: torch.Tensor) -> MLP:
    """``theta`` (flat, float64) into ``model``'s parameters, in parameters() order."""
    at = 0
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(theta[at : at + p.numel()].view_as(p))
            at += p.numel()
    return model


def _loss(theta: torch.Tensor) -> float:
    x, y = DATA.tensors()
    with torch.no_grad():
        return torch.nn.functional.cross_entropy(_load(MLP(LAYERS), theta)(x), y).item()


def test_filter_normalized_directions_match_each_filters_norm_and_leave_biases_out():
    centre = L.flatten(MLP([2, 50, 10, 3], seed=4))
    d = L.filter_normalized(centre, [2, 50, 10, 3], seed=7)
    at = 0
    for shape in L.shapes_of([2, 50, 10, 3]):
        size = int(np.prod(shape))
        part, own = d[at : at + size].view(shape), centre[at : at + size].view(shape)
        if len(shape) == 2:
            np.testing.assert_allclose(part.norm(dim=1), own.norm(dim=1), rtol=1e-12)
        else:
            assert (part == 0).all()
        at += size
    assert torch.equal(d, L.filter_normalized(centre, [2, 50, 10, 3], seed=7))
    assert not torch.equal(d, L.filter_normalized(centre, [2, 50, 10, 3], seed=8))


def test_surface_points_are_the_model_evaluated_there():
    centre = L.flatten(MLP(LAYERS, seed=1))
    basis = L.Basis(centre, L.filter_normalized(centre, LAYERS, 0), L.filter_normalized(centre, LAYERS, 1))
    xs, ys = np.linspace(-1, 1, 7), np.linspace(-0.5, 1.5, 5)
    x, y = DATA.tensors()
    surface = L.surface(basis, xs, ys, LAYERS, "relu", x, y)
    rng = np.random.default_rng(0)
    for _ in range(8):
        i, j = rng.integers(len(ys)), rng.integers(len(xs))
        theta = centre + xs[j] * basis.d1 + ys[i] * basis.d2
        assert surface.loss[i, j] == pytest.approx(_loss(theta), rel=F32_EVALUATION)


def test_projection_is_least_squares_and_pca_is_scikit_learns():
    from sklearn.decomposition import PCA

    generator = torch.Generator().manual_seed(0)
    checkpoints = torch.randn(20, 40, generator=generator, dtype=torch.float64).cumsum(dim=0)
    basis = L.pca_basis(checkpoints)
    reference = PCA(n_components=2).fit((checkpoints - checkpoints[-1]).numpy())
    for ours, theirs in zip((basis.d1, basis.d2), reference.components_, strict=True):
        np.testing.assert_allclose(abs(float(ours @ torch.from_numpy(theirs))), 1.0, rtol=1e-10)
    np.testing.assert_allclose(basis.explained, reference.explained_variance_ratio_, rtol=1e-10)
    tilted = L.Basis(checkpoints[-1], basis.d1 + 0.3 * basis.d2, 2 * basis.d2)  # not orthogonal, not unit
    got = L.project(checkpoints, tilted)
    span = np.stack([tilted.d1.numpy(), tilted.d2.numpy()], axis=1)
    expected = np.linalg.lstsq(span, (checkpoints - checkpoints[-1]).numpy().T, rcond=None)[0].T
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def study():
    return L.landscape_study(DATA, LAYERS, lr=0.1, momentum=0.9, epochs=6, batch_size=10, grid=9)


def test_checkpoints_are_fits_trajectories_and_gaps_are_the_losses_difference(study):
    for arm, settings in {"SGD": {"momentum": 0.0}, "momentum": {"momentum": 0.9},
                          "Nesterov": {"momentum": 0.9, "nesterov": True}}.items():
        model = MLP(LAYERS, seed=0)
        kept = [L.flatten(model)]
        fit(model, DATA, Momentum(model.parameters(), lr=0.1, **settings), 6, 10, seed=0,
            on_epoch=lambda e, h, model=model, kept=kept: kept.append(L.flatten(model)))
        np.testing.assert_allclose(study.checkpoints[arm], torch.stack(kept), rtol=F32_TRAJECTORY,
                                   atol=F32_TRAJECTORY)
        basis = study.surface.basis
        for t in (0, 3, 6):
            a, b = study.coordinates[arm][t]
            gap = abs(_loss(study.checkpoints[arm][t]) - _loss(basis.centre + a * basis.d1 + b * basis.d2))
            assert study.gaps[arm][t] == pytest.approx(gap, rel=1e-4, abs=1e-6)
    assert torch.equal(study.surface.basis.centre, study.checkpoints["momentum"][-1])
    alphas, values = study.lines["SGD's solution → momentum's"]
    middle = int(np.argmin(abs(alphas - 0.5)))
    mixed = (1 - alphas[middle]) * study.checkpoints["SGD"][-1] + alphas[middle] * study.checkpoints["momentum"][-1]
    assert values[middle] == pytest.approx(_loss(mixed), rel=F32_EVALUATION)


@pytest.mark.parametrize("kwargs, field", [({"grid": 1}, "grid"), ({"span": -1.0}, "span"),
                                           ({"basis": "random"}, "basis"), ({"momentum": 0.0}, "momentum")])
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=f"^{field}"):
        L.landscape_study(DATA, LAYERS, epochs=1, **kwargs)


def test_the_command_saves_what_recomputes_any_point(tmp_path):
    out = CliRunner().invoke(app, ["landscape", "--epochs", "3", "--grid", "11", "--layers", "2,8,3", "--basis",
                                   "filter", "--out", str(tmp_path), "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert summary["config"]["basis"] == "filter" and summary["explained"] is None and summary["grid"] == [11, 11]
    saved = np.load(tmp_path / "surface.npz")
    spiral = data.spiral(seed=0)  # the command's --data-seed
    x, y = spiral.tensors()
    i, j = 3, 8
    theta = torch.from_numpy(saved["centre"] + saved["xs"][j] * saved["d1"] + saved["ys"][i] * saved["d2"])
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(_load(MLP([2, 8, 3]), theta)(x), y).item()
    assert saved["loss"][i, j] == pytest.approx(loss, rel=F32_EVALUATION)
    assert saved["checkpoints_SGD"].shape == (4, 2 * 8 + 8 + 8 * 3 + 3)
    assert (tmp_path / "trajectories.csv").read_text().count("\n") == 1 + 3 * 4
    for option, value in (("--grid", "1"), ("--span", "0"), ("--basis", "random")):
        bad = CliRunner().invoke(app, ["landscape", option, value, "--out", str(tmp_path / "x")])
        assert bad.exit_code == 2 and f"Error: {option}" in bad.output, bad.output
    assert not (tmp_path / "x").exists()
