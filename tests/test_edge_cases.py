"""Every command on the runs that go wrong (all diverged, none reaching a target, one seed): it still prints its
table and writes the figures it can, saying what it left out."""

import json

from typer.testing import CliRunner

from inertia.cli import app

SPEC = """
[data]
name = "spiral"
points = 20
[train]
epochs = 2
seeds = 2
[grid]
lr = [1e30, 1e31]
momentum = [0.0, 0.9]
"""


def invoke(*args):
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result


def test_compare_when_every_run_diverges_at_once(tmp_path):
    """lr 1e30: every run is NaN after its first epoch, so no figure has a finite value to draw."""
    result = invoke("compare", "--lr", "1e30", "--epochs", "2", "--seeds", "2", "--out", tmp_path / "all")
    assert result.stdout.count("2/2") >= 5  # every momentum: 2 of 2 runs diverged
    assert {"loss.png", "accuracy.png", "report.html", "table.csv"} <= {p.name for p in (tmp_path / "all").iterdir()}
    one = invoke("compare", "--lr", "1e6", "--epochs", "2", "--seeds", "1", "--out", tmp_path / "one", "--json")
    assert {row["diverged"] for row in json.loads(one.stdout)["table"]} == {1}


def test_a_batch_study_whose_target_no_run_reaches(tmp_path):
    result = invoke("batch-study", "--batch-sizes", "8,64", "--lrs", "1e30", "--momenta", "0.9", "--seeds", "2",
                    "--target", "accuracy=0.99", "--max-steps", "100", "--max-epochs", "3", "--out", tmp_path)
    assert "no critical batch size" in result.stdout and "not testable" in result.stdout
    assert "nan" not in result.stdout and (tmp_path / "batch_study.png").exists()
    assert (tmp_path / "report.html").exists()


def test_results_and_report_of_a_sweep_whose_runs_all_diverged(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    store = tmp_path / "s.db"
    invoke("sweep", spec, "--store", store)
    result = invoke("results", store, "--out", tmp_path / "figures")
    assert "0/0/2/0" in result.stdout and "Figures:" in result.stdout
    invoke("report", store)
    assert (tmp_path / "s.html").exists()
