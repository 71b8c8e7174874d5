import json

import numpy as np
import pytest
from typer.testing import CliRunner

from inertia.cli import app
from inertia.studies import valley


def test_plain_descent_stops_at_the_bump_and_momentum_reaches_the_bottom():
    plain, rolling = valley.roll(0.0), valley.roll(0.6)
    assert not plain.reached_bottom and plain.final_index == valley.BUMP_INDEX - 1
    assert rolling.reached_bottom and rolling.final_index >= 50


def test_the_curve_is_the_seeds():
    x, y = valley.bumpy_valley()
    assert len(x) == 100 and x[1] == pytest.approx(0.01)
    assert y[25] == pytest.approx(0.2 * 0.25**2 + 2e-3)
    assert np.argmin(y) == 50


def test_what_the_ball_sees_has_no_bump():
    _, seen = valley.what_the_ball_sees(0.6)
    assert (np.diff(seen[:50]) < 0).all()  # strictly downhill all the way to the bottom
    _, y = valley.bumpy_valley()
    assert (np.diff(y[:50]) > 0).any()  # while the real valley climbs at the bump


def test_memory_decay_and_effective_length():
    weights, span = valley.memory(0.6, 5)
    np.testing.assert_allclose(weights, 0.6 ** np.arange(1, 6))
    assert span == pytest.approx(2.5)


def test_continuous_valley_traps_plain_descent_but_not_momentum():
    assert valley.trajectory("valley", 0.1, 0.0, steps=500).positions[-1, 0] < 0.25
    # after 500 steps momentum has settled at the bottom, 0.5
    assert valley.trajectory("valley", 0.1, 0.6, steps=500).positions[-1, 0] == pytest.approx(0.5, abs=1e-3)


@pytest.mark.parametrize(("name", "lr"), [("quadratic", 0.03), ("rosenbrock", 1e-3), ("beale", 1e-2)])
def test_momentum_finds_the_minimum_of_each_function(name, lr):
    run = valley.trajectory(name, lr, 0.9, steps=3000)
    np.testing.assert_allclose(run.positions[-1], valley.FUNCTIONS[name][3], atol=1e-2)  # within 1 % after 3000


@pytest.mark.parametrize("name", sorted(valley.FUNCTIONS))
def test_gradients_match_finite_differences(name):
    value, gradient, start, _ = valley.FUNCTIONS[name]
    point = start + 0.1
    h = 1e-6
    numeric = [(value(point + h * e) - value(point - h * e)) / (2 * h) for e in np.eye(len(point))]
    np.testing.assert_allclose(gradient(point), numeric, rtol=1e-5, atol=1e-8)


def test_errors():
    with pytest.raises(ValueError, match=r"Invalid momentum value: 1.0 \(allowed: 0 <= momentum < 1\)"):
        valley.roll(1.0)
    with pytest.raises(ValueError, match="unknown function 'himmelblau'"):
        valley.trajectory("himmelblau", 0.1, 0.5)


def test_ball_cli_json_and_files(tmp_path):
    result = CliRunner().invoke(app, ["ball", "--momentum", "0.6", "--json", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["reached_bottom"] is True and summary["final_index"] >= 50 and summary["steps"] > 0
    assert summary["plain"]["reached_bottom"] is False
    for name in ("ball.png", "ball.gif", "phase.png", "rosenbrock.png", "beale.png", "quadratic.png", "valley.png"):
        assert (tmp_path / name).stat().st_size > 0, name


def test_ball_cli_without_momentum_stays_stuck():
    result = CliRunner().invoke(app, ["ball", "--momentum", "0", "--json", "--no-plots"])
    assert result.exit_code == 0 and json.loads(result.stdout)["reached_bottom"] is False
    bad = CliRunner().invoke(app, ["ball", "--momentum", "1.2", "--no-plots"])
    assert bad.exit_code == 2 and "Invalid momentum value: 1.2 (allowed: 0 <= momentum < 1)" in bad.output
