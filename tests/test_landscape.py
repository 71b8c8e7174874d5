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


def test_a_model_of_ones_own_is_evaluated_as_inertias_mlp_is():
    """The vectorized path for any nn.Module (functional_call under vmap) against the MLP's batched products, on
    points of one plane; filter normalisation reads the module's own parameter shapes."""
    model = MLP(LAYERS, seed=3)
    centre = L.flatten(model)
    d = L.filter_normalized(centre, model, seed=2)
    assert torch.equal(d, L.filter_normalized(centre, LAYERS, seed=2))
    points = L.plane_points(L.Basis(centre, d, L.filter_normalized(centre, LAYERS, 5)), np.linspace(-1, 1, 40),
                            np.linspace(1, -1, 40))
    x, y = DATA.tensors()
    ours_loss, ours_accuracy = L.evaluate(points, model, "ignored", x, y)
    loss, accuracy = L.evaluate(points, LAYERS, "relu", x, y)
    np.testing.assert_allclose(ours_loss, loss, rtol=F32_EVALUATION)
    np.testing.assert_array_equal(ours_accuracy, accuracy)


def _compare(folder, *options):
    out = CliRunner().invoke(app, ["compare", "--epochs", "4", "--seeds", "2", "--momenta", "0,0.9", "--no-plots",
                                   "--out", str(folder), *options])
    assert out.exit_code == 0, out.output


def test_a_comparisons_folder_is_drawn_from_its_own_runs(tmp_path):
    """``inertia landscape RUN_FOLDER``: the first seed's runs traced again equal the folder's curves and an
    independent fit epoch by epoch; the plane goes through the best run's end; the comparison's report gains the
    section, and a new comparison in the folder takes the stale landscape away with its other results."""
    folder = tmp_path / "run"
    _compare(folder, "--layers", "2,8,3")
    out = CliRunner().invoke(app, ["landscape", str(folder), "--grid", "9", "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert set(summary["config"]["reproduced"]) == {"momentum 0", "momentum 0.9"}
    assert max(summary["config"]["reproduced"].values()) <= 1e-6  # the same engine, the same machine
    saved = np.load(folder / "landscape" / "surface.npz")
    spiral = data.spiral(seed=0)
    for momentum in (0.0, 0.9):
        model = MLP([2, 8, 3], seed=0)
        kept = [L.flatten(model)]
        fit(model, spiral, Momentum(model.parameters(), lr=0.1, momentum=momentum), 4, 20, seed=0,
            on_epoch=lambda e, h, model=model, kept=kept: kept.append(L.flatten(model)))
        np.testing.assert_allclose(saved[f"checkpoints_momentum {momentum:g}"], torch.stack(kept),
                                   rtol=F32_TRAJECTORY, atol=F32_TRAJECTORY)
    best = min(summary["final_loss"], key=summary["final_loss"].get)
    assert summary["config"]["centre"] == best
    np.testing.assert_array_equal(saved["centre"], saved[f"checkpoints_{best}"][-1])
    assert "The loss landscape the runs travel" in (folder / "report.html").read_text()
    assert "landscape" in json.loads((folder / ".inertia.json").read_text())["files"]
    _compare(folder, "--layers", "2,8,3", "--no-report")
    assert not (folder / "landscape").exists() and not (folder / "report.html").exists()


def test_a_comparison_of_ones_own_model_is_drawn_too(tmp_path):
    (tmp_path / "owned.py").write_text("from torch import nn\n\ndef net(seed):\n"
                                       "    return nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 3))\n")
    import os

    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        _compare(tmp_path / "run", "--model", "owned:net", "--no-report")
        out = CliRunner().invoke(app, ["landscape", str(tmp_path / "run"), "--grid", "5", "--basis", "filter",
                                       "--out", str(tmp_path / "drawn"), "--json"])
    finally:
        os.chdir(here)
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert summary["config"]["model"] == "owned:net" and max(summary["config"]["reproduced"].values()) <= 1e-6
    assert (tmp_path / "drawn" / "report.html").is_file() and not (tmp_path / "run" / "landscape").exists()


def test_a_folder_without_a_run_or_options_beside_one_are_refused_in_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    for args in (["landscape", str(tmp_path / "empty")], ["landscape", str(tmp_path / "none")]):
        out = CliRunner().invoke(app, args)
        assert out.exit_code == 2 and ("holds no compare run" in out.output or "does not exist" in out.output)
        assert out.output.count("\n") == 1, out.output
    _compare(tmp_path / "run", "--layers", "2,8,3", "--no-report")
    out = CliRunner().invoke(app, ["landscape", str(tmp_path / "run"), "--epochs", "3"])
    assert out.exit_code == 2 and "Error: --epochs does not apply with RUN_FOLDER" in out.output, out.output


def test_a_saved_model_is_drawn_around_its_own_weights(tmp_path, monkeypatch):
    """A state dict file: the surface's centre is the file's weights, its directions are filter-normalised, and
    any point is the model loaded and evaluated there (inertia's MLP, or a network of one's own through vmap)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "saved_net.py").write_text("from torch import nn\n\ndef net(seed):\n"
                                           "    return nn.Sequential(nn.Linear(2, 7), nn.Tanh(), nn.Linear(7, 3))\n")
    import saved_net

    spiral = data.spiral(seed=0)
    x, y = spiral.tensors()
    for name, network, options in (("mlp.pt", MLP([2, 8, 3], seed=5), ["--layers", "2,8,3"]),
                                   ("own.pt", saved_net.net(0), ["--model", "saved_net:net"])):
        torch.save(network.state_dict(), tmp_path / name)
        out = CliRunner().invoke(app, ["landscape", name, *options, "--grid", "7", "--out", str(tmp_path / name[:3]),
                                       "--json"])
        assert out.exit_code == 0, out.output
        assert json.loads(out.stdout)["config"]["weights"] == name
        saved = np.load(tmp_path / name[:3] / "surface.npz")
        np.testing.assert_array_equal(saved["centre"], L.flatten(network).numpy())
        for d in (saved["d1"], saved["d2"]):
            at = 0
            for p in network.parameters():
                part, own = d[at : at + p.numel()], p.detach().double().reshape(p.shape[0], -1)
                if p.dim() > 1:
                    np.testing.assert_allclose(np.linalg.norm(part.reshape(own.shape), axis=1), own.norm(dim=1),
                                               rtol=1e-12)
                else:
                    assert (part == 0).all()
                at += p.numel()
        for i, j in ((1, 5), (6, 0), (3, 3)):
            theta = torch.from_numpy(saved["centre"] + saved["xs"][j] * saved["d1"] + saved["ys"][i] * saved["d2"])
            with torch.no_grad():
                loss = torch.nn.functional.cross_entropy(_load(network, theta)(x), y).item()
            assert saved["loss"][i, j] == pytest.approx(loss, rel=F32_EVALUATION)
        assert (tmp_path / name[:3] / "report.html").is_file()
    (tmp_path / "junk.pt").write_text("not a tensor")
    for args, says in ((["mlp.pt", "--layers", "2,9,3"], "is not a state dict of an MLP [2, 9, 3] (relu): size "
                                                         "mismatch"),
                       (["junk.pt"], "is not a file torch.save wrote"),
                       (["mlp.pt", "--basis", "pca"], "--basis pca needs a run's checkpoints"),
                       (["mlp.pt", "--epochs", "3"], "--epochs does not apply to a saved model"),
                       (["own.pt", "--model", "saved_net:net", "--layers", "2,7,3"], "--layers does not apply with"),
                       (["--model", "saved_net:net"], "--model applies to a saved model")):
        out = CliRunner().invoke(app, ["landscape", *args, "--out", str(tmp_path / "refused")])
        assert out.exit_code == 2 and says in out.output and out.output.count("\n") == 1, (args, out.output)
    assert not (tmp_path / "refused").exists()
