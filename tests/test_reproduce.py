import json

import numpy as np
import pytest
import torch
from notebook_lab import run_notebook
from typer.testing import CliRunner

import inertia
from inertia.cli import app
from inertia.studies import reproduce


def test_short_lab_equals_the_notebook_value_for_value():
    assert reproduce.lab(epochs=3).results == run_notebook(epochs=3)


def test_lab_leaves_global_random_state_untouched():
    np.random.seed(123)
    torch.manual_seed(123)
    expected = (np.random.rand(), torch.rand(1).item())
    np.random.seed(123)
    torch.manual_seed(123)
    reproduce.lab(epochs=1)
    assert (np.random.rand(), torch.rand(1).item()) == expected


def test_results_are_keyed_like_the_notebook():
    results = reproduce.lab(epochs=2).results
    assert list(results) == ["momentum 0", "momentum 0.1", "momentum 0.2", "momentum 0.4", "momentum 0.5"]
    assert all(list(v) == ["Loss", "Accuracy"] and len(v["Loss"]) == 2 for v in results.values())


@pytest.mark.slow
def test_reproduce_lab_json_equals_the_notebook_run_independently():
    result = CliRunner().invoke(app, ["reproduce", "lab", "--json"])
    assert result.exit_code == 0, result.output
    ours = json.loads(result.stdout)
    notebook = run_notebook()
    assert list(ours) == list(notebook)
    for key in notebook:
        assert len(ours[key]["Loss"]) == len(ours[key]["Accuracy"]) == 100
        assert ours[key]["Loss"] == notebook[key]["Loss"], key
        assert ours[key]["Accuracy"] == notebook[key]["Accuracy"], key


def test_oscillation_is_mean_absolute_change_of_the_second_half():
    assert reproduce.oscillation(np.array([9.0, 9.0, 1.0, 2.0, 1.0, 2.0])) == pytest.approx(1.0)


def test_check_claims_reports_each_claim():
    notebook = reproduce.lab(epochs=2)
    sound = inertia.compare(epochs=2, seeds=2, batch_size=100)
    claims = reproduce.check_claims(notebook, sound)
    assert list(claims["claim"]) == [c[0] for c in reproduce.CLAIMS]
    assert claims["holds"].map(type).eq(bool).all()
    assert claims.iloc[0, 1].startswith("lowest at ")
