"""Sweep results: statistics against scipy and hand computation, paired comparisons, time-to-target, the CLI."""

import json

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from inertia.cli import app
from inertia.sweeps.results import Results, parse_baseline
from inertia.sweeps.store import Record, Store

LOSSES = {  # final loss per (momentum, seed)
    0.0: [0.50, 0.60, 0.55, 0.70],
    0.9: [0.30, 0.45, 0.20, 0.75],
}


def config(momentum, seed, lr=0.1):
    return {"optimizer": {"name": "momentum", "lr": lr, "momentum": momentum}, "train": {"epochs": 3},
            "model": {"layers": [2, 4, 3]}, "data": {"name": "spiral"}, "schedule": {"kind": "constant"},
            "seed": seed}


@pytest.fixture
def path(tmp_path):
    path = tmp_path / "s.db"
    with Store(path) as db:
        db.add_spec({"targets": {"accuracy": 0.8}})
        records = []
        for momentum, losses in LOSSES.items():
            for seed, loss in enumerate(losses):
                accuracy = [0.5, 0.85, 0.9] if momentum == 0.9 else [0.5, 0.6, 0.81 if seed % 2 else 0.7]
                records.append(Record(f"{momentum}-{seed}", config(momentum, seed), "ok",
                                      {"final_loss": loss, "best_loss": loss, "final_accuracy": accuracy[-1],
                                       "best_accuracy": max(accuracy)},
                                      {"loss": [1.0, 0.8, loss], "accuracy": accuracy}, 0.1))
        db.record(records)
    return path


def test_summary_matches_scipy(path):
    summary = Results.load(path).summary().set_index("momentum")
    for momentum, losses in LOSSES.items():
        row = summary.loc[momentum]
        low, high = stats.t.interval(0.95, len(losses) - 1, loc=np.mean(losses), scale=stats.sem(losses))
        assert row["final_loss"] == pytest.approx(np.mean(losses))
        assert (row["final_loss_low"], row["final_loss_high"]) == pytest.approx((low, high))
        assert row["final_loss_n"] == len(losses) and row["runs"] == len(losses) and row["ok"] == len(losses)


def test_paired_comparison_by_hand(path):
    paired = Results.load(path).paired({"momentum": 0.0}).iloc[0]
    differences = np.subtract(LOSSES[0.9], LOSSES[0.0])  # -0.2, -0.15, -0.35, +0.05
    half = stats.t.ppf(0.975, 3) * differences.std(ddof=1) / 2
    assert paired["momentum"] == 0.9
    assert paired["difference"] == pytest.approx(-0.1625)
    assert (paired["low"], paired["high"]) == pytest.approx((-0.1625 - half, -0.1625 + half))
    assert (paired["pairs"], paired["better_in"]) == (4, 3)


def test_time_to_target_and_best(path):
    results = Results.load(path)
    runs = results.runs.set_index("id")
    assert runs.loc["0.9-0", "epochs_to_accuracy"] == 2
    assert runs.loc["0.0-1", "epochs_to_accuracy"] == 3 and np.isnan(runs.loc["0.0-0", "epochs_to_accuracy"])
    best = results.best().set_index("metric")
    assert best.loc["final_loss", "setting"] == "momentum=0.9"
    assert best.loc["epochs_to_accuracy", "setting"] == "momentum=0.9"  # all 4 seeds reach it, against 2 of 4
    assert best.loc["epochs_to_accuracy", "n"] == 4


def test_baseline_parsing_and_errors(path):
    assert parse_baseline("momentum=0, form=pytorch,nesterov=false") == {"momentum": 0.0, "form": "pytorch",
                                                                         "nesterov": False}
    with pytest.raises(ValueError, match="expected axis=value pairs"):
        parse_baseline("momentum")
    with pytest.raises(ValueError, match=r"baseline names \['lr'\], which do not vary"):
        Results.load(path).paired({"lr": 0.1})


def test_results_command(path, tmp_path):
    runner = CliRunner()
    out = runner.invoke(app, ["results", str(path), "--json", "--baseline", "momentum=0", "--out", str(tmp_path / "f"),
                              "--csv", str(tmp_path / "summary.csv")])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert payload["axes"] == ["momentum"] and payload["targets"] == {"accuracy": 0.8}
    assert payload["paired"][0]["better_in"] == 3
    assert (tmp_path / "summary.csv").read_text().startswith("momentum,runs,ok,no_progress,diverged,failed")
    # lr does not vary: no lr × momentum heatmap, but the effective lr lr / (1 − momentum) does
    assert [p.split("/")[-1] for p in payload["figures"]] == ["heatmap_effective_lr_momentum.png",
                                                              "parallel_coordinates.png"]
    missing = runner.invoke(app, ["results", str(tmp_path / "nope.db")])
    assert missing.exit_code == 2 and "no store at" in missing.output


def test_sweep_command_dry_run_and_errors(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('[data]\nname = "spiral"\npoints = 20\n[train]\nseeds = 2\nepochs = 2\n[grid]\nlr = [0.1, 1.0]\n')
    runner = CliRunner()
    listed = runner.invoke(app, ["sweep", str(spec), "--dry-run", "--json"])
    assert listed.exit_code == 0 and len(json.loads(listed.stdout)) == 4
    ran = runner.invoke(app, ["sweep", str(spec), "--store", str(tmp_path / "s.db"), "--json"])
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.stdout)["recorded"] == 4
    spec.write_text("[grid]\nlr = [-1]\n")
    bad = runner.invoke(app, ["sweep", str(spec)])
    assert bad.exit_code == 2 and "grid.lr[0]: expected a number > 0, got -1" in bad.output


def grid_store(tmp_path, data="spiral"):
    """lr × momentum × batch size, two seeds; final loss lr + momentum at batch 20, 10 × that at batch 1500."""
    path = tmp_path / "grid.db"
    with Store(path) as db:
        db.add_spec({"data": {"name": data}})
        records = []
        for lr in (0.1, 0.3):
            for momentum in (0.0, 0.9):
                for batch in (20, 1500):
                    for seed in (0, 1):
                        c = config(momentum, seed, lr)
                        c["train"] = {"epochs": 3, "batch_size": batch}
                        c["data"] = {"name": data}
                        loss = (lr + momentum) * (1 if batch == 20 else 10) + 0.01 * seed
                        records.append(Record(f"{lr}-{momentum}-{batch}-{seed}", c, "ok",
                                              {"final_loss": loss, "best_loss": loss, "final_accuracy": 0.5,
                                               "best_accuracy": 0.5, "diverged_at": None},
                                              {"loss": [1.0, loss], "accuracy": [0.4, 0.5]}, 0.1))
        db.record(records)
    return path


def test_figures_and_reports_never_average_over_an_axis_they_do_not_show(tmp_path):
    """With batch size swept beside lr and momentum, every heatmap (the PNG's and the report's) has one panel
    per batch size whose cells are that batch size's means, never the mean over both."""
    from inertia.views.sweep_report import sweep_heatmaps

    results = Results.load(grid_store(tmp_path))
    panels = results.panels()
    assert [selection for selection, _ in panels] == [{"batch_size": 20}, {"batch_size": 1500}]
    heats = sweep_heatmaps(results, [{}])
    assert [title for title, _ in heats] == ["batch_size=20", "batch_size=1500"]
    for (_, heat), scale in zip(heats, (1, 10)):
        cell = heat["data"][0]["customdata"][0][0]  # momentum 0, lr 0.1
        assert cell[1:] == [0.1, 0.0] and cell[0] == pytest.approx(0.1 * scale + 0.005)


def test_the_figures_follow_the_metric_and_counts_are_integers(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    titles = []
    real = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: (titles.append(fig.get_suptitle()),
                                                                  real(fig, *a, **k))[1])
    store = grid_store(tmp_path)
    out = CliRunner().invoke(app, ["results", str(store), "--metric", "final_accuracy", "--out", str(tmp_path / "f")],
                             env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert titles and all("final accuracy" in t and "loss" not in t.split("\n")[0] for t in titles if t)
    assert "momentum=0, batch_size=20 " in out.stdout and "20.0" not in out.stdout and "n = 2)" in out.stdout
    assert "n = 2.0" not in out.stdout


def test_results_json_writes_null_for_nan_and_leaves_names_alone(tmp_path):
    store = grid_store(tmp_path, data="NaNa.csv")
    with Store(store) as db:
        c = config(0.5, 0, 0.2)
        db.record([Record("diverged", c, "diverged", {"final_loss": float("nan"), "diverged_at": 1},
                          {"loss": [1.0, float("inf")], "accuracy": [0.4, 0.3]}, 0.1)])
    out = CliRunner().invoke(app, ["results", str(store), "--json", "--no-plots"])
    assert out.exit_code == 0, out.output

    def refuse(token):
        raise ValueError(f"not JSON: {token}")

    payload = json.loads(out.stdout, parse_constant=refuse)
    assert "NaNa.csv" in out.stdout and "nulla" not in out.stdout
    assert any(row["final_loss"] is None for row in payload["summary"])


def test_parallel_coordinates_label_every_axis_and_put_diverged_runs_above_it(tmp_path, monkeypatch):
    import pandas as pd
    from matplotlib.figure import Figure

    from inertia.views.sweep_plots import NO_VALUE, _coordinate, parallel_coordinates

    # a learning rate spanning decades: a log axis, every value labelled where it lies
    placed, ticks = _coordinate("lr", pd.Series([0.01, 0.1, 1.0, 0.1]))
    assert placed.tolist() == pytest.approx([0, 0.5, 1, 0.5])
    assert ticks == [(0.0, "0.01"), (0.5, "0.1"), (1.0, "1")]
    # a loss with diverged runs (NaN, inf): those go above the axis, labelled, and no tick reads "nan"
    placed, ticks = _coordinate("final_loss", pd.Series([0.5, np.nan, np.inf, 2.0]))
    assert placed.tolist() == pytest.approx([0, NO_VALUE, NO_VALUE, 1])
    assert ticks[-1] == (NO_VALUE, "diverged") and all("nan" not in label for _, label in ticks)
    # many values: five evenly spaced labels; categories: every one, in order
    assert len(_coordinate("momentum", pd.Series(np.linspace(0, 0.99, 20)))[1]) == 5
    assert _coordinate("form", pd.Series(["pytorch", "classic"]))[1] == [(0.0, "classic"), (1.0, "pytorch")]

    # the figure of a store where one lr diverged in every seed
    path = tmp_path / "d.db"
    with Store(path) as db:
        db.add_spec({})
        db.record([Record(f"{lr}-{seed}", config(0.9, seed, lr), "ok" if lr < 1 else "diverged",
                          {"final_loss": 0.3 + lr if lr < 1 else float("nan"), "best_loss": 0.3,
                           "final_accuracy": 0.5, "best_accuracy": 0.5, "diverged_at": None if lr < 1 else 2},
                          {"loss": [1.0], "accuracy": [0.5]}, 0.1)
                   for lr in (0.01, 0.1, 10.0) for seed in (0, 1)])
    texts = []
    real = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: (
        texts.extend(t.get_text() for t in fig.axes[0].texts), real(fig, *a, **k))[1])
    assert parallel_coordinates(Results.load(path), tmp_path / "p.png") is not None
    assert "diverged" in texts and "nan" not in texts and {"0.01", "0.1", "10"} <= set(texts)
