import json

import pytest
from typer.testing import CliRunner

from inertia.cli import app

runner = CliRunner()


COMMANDS = [[], ["compare"], ["reproduce"], ["reproduce", "lab"], ["reproduce", "nqm"], ["scratch"], ["velocity"],
            ["ball"], ["theory"], ["sweep"], ["results"], ["report"], ["batch-study"], ["schedule-study"],
            ["functions"], ["landscape"], ["lab"], ["tune"], ["tune-study"]]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "inertia")
def test_every_help_shows_every_word_on_an_80_column_terminal(args):
    """Nothing cut with an ellipsis, no type shown for a flag, no placeholder swallowed as markup."""
    result = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0 and "Usage" in result.output, args
    assert "…" not in result.output and "<bool>" not in result.output
    assert "/.db" not in result.output and "(default: -figures" not in result.output


def test_help_names_its_placeholders_and_explains_the_seeds():
    assert "runs/SPEC.db, SPEC being the spec file's name" in " ".join(
        runner.invoke(app, ["sweep", "--help"], env={"COLUMNS": "200"}).output.split())
    assert "STORE-figures" in runner.invoke(app, ["results", "--help"], env={"COLUMNS": "200"}).output
    assert "the seed lab is the classic" in " ".join(runner.invoke(app, ["--help"]).output.split())


def test_compare_end_to_end_json(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["compare", "--momenta", "0,0.5", "--epochs", "3", "--seeds", "2",
                                 "--batch-size", "50", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [row["momentum"] for row in summary["table"]] == [0, 0.5]
    assert summary["config"]["seeds"] == [0, 1] and summary["config"]["shuffle"] is True
    for name in ("table.csv", "curves.csv", "summary.json", "loss.png", "accuracy.png", "loss_accuracy.png",
                 "decision_regions.png"):
        assert (out / name).is_file(), name


def test_compare_prints_a_table_and_respects_no_plots(tmp_path):
    result = runner.invoke(app, ["compare", "--momenta", "0.1", "--epochs", "1", "--seeds", "1", "--no-shuffle",
                                 "--layers", "2,8,3", "--out", str(tmp_path), "--no-plots", "--engine", "loop"])
    assert result.exit_code == 0, result.output
    assert "momentum" in result.stdout and "0.1" in result.stdout
    assert not list(tmp_path.glob("*.png"))


def test_compare_on_a_csv_file(tmp_path):
    csv = tmp_path / "xor.csv"
    csv.write_text("a,b,label\n" + "".join(f"{i % 2},{i // 2 % 2},{(i % 2) ^ (i // 2 % 2)}\n" for i in range(40)))
    result = runner.invoke(app, ["compare", "--dataset", str(csv), "--momenta", "0,0.9", "--epochs", "2",
                                 "--seeds", "1", "--out", str(tmp_path / "o"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["config"]["layers"] == [2, 50, 2]


@pytest.mark.parametrize(("args", "message"), [
    (["--momenta", "0,abc"], "comma-separated numbers"),
    (["--momenta", "0,-0.5"], "Invalid momentum value: -0.5"),
    (["--lr", "-1"], "Invalid learning rate: -1"),
    (["--layers", "2,x,3"], "comma-separated integers"),
    (["--layers", "3,10,3"], "layers[0] is 3"),
    (["--dataset", "nope"], "unknown dataset 'nope'"),
    (["--seeds", "0"], "seeds must be a positive count"),
    (["--schedule", "onecycle:pct_start=1.5"], "Invalid onecycle pct_start: 1.5 (allowed: 0 < pct_start < 1)"),
    (["--schedule", "onecycle:total_steps=10"], "Invalid schedule total_steps: 10 (allowed: at least the 75 updates"),
    (["--schedule", "warp"], "Invalid schedule: 'warp' (allowed: constant, inverse_time, step, cosine, onecycle)"),
    (["--momentum-schedules", "sutskever:mu_max=1.2"], "Invalid sutskever mu_max: 1.2 (allowed: 0 <= mu_max < 1)"),
    (["--momentum-schedules", "demon:beta=0.9"], "Invalid demon field 'beta' (allowed: beta0, total)"),
    (["--momentum-schedules", "demon:beta0=0.9:total=20"], "Invalid momentum schedule total: 20"),
])
def test_compare_errors_name_the_field(tmp_path, args, message):
    result = runner.invoke(app, ["compare", "--epochs", "1", "--out", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
