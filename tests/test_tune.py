"""Tuning inside the population (inertia.sweeps.tune): halving against a plain reimplementation over runs trained
straight through, PBT's exploit and explore as documented, reproducibility from the seed, a tuning killed and
resumed, and bad settings refused before any training."""

import json
import math
import pickle
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from inertia import data
from inertia.population import Members, train_population
from inertia.population.state import State
from inertia.sweeps import tunings
from inertia.sweeps.spec import SpecError, load_spec
from inertia.sweeps.store import Store
from inertia.sweeps.tune import tune

EPOCHS = 12
SPEC = {"data": {"name": "spiral", "points": 30, "seed": 1}, "model": {"layers": [2, 16, 3]},
        "train": {"epochs": EPOCHS, "batch_size": 10},
        "random": {"count": 1, "seed": 0, "lr": {"log_uniform": [0.01, 1.0]}, "momentum": {"uniform": [0.0, 0.95]}}}


def straight_through(tuning):
    """Every starting member trained all the epochs in one population: the runs halving's cuts are read from."""
    values = tuning.trajectory[0]
    members = Members.table(seed=tuning.seeds, lr=values["lr"], momentum=values["momentum"])
    return train_population(data.spiral(points=30, seed=1), [2, 16, 3], members, epochs=EPOCHS, batch_size=10)


def test_halving_keeps_exactly_the_members_successive_halving_keeps():
    tuning = tune(SPEC, method="halving", budget=EPOCHS * 16, reduction_factor=3, min_epochs=1, seed=4)
    # the plain algorithm: rungs 1, 3, 9 epochs and the end; the best third (rounded down) goes on from each
    plan, eta = [1, 3, 9, EPOCHS], 3
    cost = lambda n: sum(max(1, n // eta**k) * (b - a) for k, (a, b) in enumerate(zip([0, *plan], plan)))  # noqa
    start = len(tuning.seeds)
    assert cost(start) <= EPOCHS * 16 < cost(start + 1), "as many members as the budget pays for"
    assert tuning.member_epochs == cost(start)
    losses = straight_through(tuning).metrics["loss"]
    alive = np.arange(start)
    for k, rung in enumerate(plan):
        record = tuning.records[k]
        assert record["epoch"] == rung and record["members"] == alive.tolist()
        at = losses[alive, rung - 1]
        np.testing.assert_array_equal(record["scores"], at)  # the same runs, bit for bit
        if rung < EPOCHS:
            ranked = sorted(range(len(alive)), key=lambda i: (np.nan_to_num(at[i], nan=np.inf), i))
            alive = alive[ranked[: max(1, len(alive) // eta)]]
            assert record["kept"] == alive.tolist()
    assert len(tuning.result) == len(alive)
    best = alive[np.nanargmin(losses[alive, -1])]
    assert tuning.best["lr"] == tuning.trajectory[0]["lr"][best]


def test_random_search_trains_budget_over_epochs_members_to_the_end():
    tuning = tune(SPEC, method="random", budget=EPOCHS * 10 + 5, seed=2)
    assert len(tuning.result) == 10 and tuning.member_epochs == EPOCHS * 10 and len(tuning.records) == 1
    losses = straight_through(tuning).metrics["loss"]
    np.testing.assert_array_equal(tuning.records[0]["scores"], losses[:, -1])


def pbt(store=None, seed=3, **extra):
    settings = dict(method="pbt", budget=EPOCHS * 16, interval=3, seed=seed, **extra)
    return tune(SPEC, store=store, **settings)


def test_pbt_exploits_copy_the_source_run_and_explore_by_the_documented_factors(tmp_path, monkeypatch):
    """At each round the checkpoint (the population as the round left it) holds every exploited member with its
    source's weights and optimizer state; its new hyperparameters are the source's times 1.2 or 0.8, kept in the
    space (no resampling here), and the population trains with them."""
    seen, save = [], tunings.Checkpoints.save
    # each checkpoint written before on_decision reads it
    monkeypatch.setattr(tunings.Checkpoints, "save", lambda self, saved: (save(self, saved), self.wait()))

    def check(tuning):
        with open(tmp_path / "tune.tunings" / f"{tuning.id}.pickle", "rb") as file:
            saved = pickle.load(file)
        state, members = State.from_arrays(saved["population"]["state"]), saved["population"]["members"]
        exploited = tuning.records[-1].get("exploited", [])
        for target, source in exploited:
            for (w, b), slot in zip(state.weights, state.slots["m"]):
                assert torch.equal(w[target], w[source]) and torch.equal(b[target], b[source])
                assert torch.equal(slot[0][target], slot[0][source])
        for row in tuning.lineage[len(seen) and sum(len(s) for s in seen):]:
            for name, (low, high) in {"lr": (0.01, 1.0), "momentum": (0.0, 0.95)}.items():
                allowed = {min(max(row[f"{name}_copied"] * f, low), high) for f in (1.2, 0.8)}
                assert row[name] in allowed
                assert getattr(members.rule, name)[row["member"]] == row[name]
        seen.append(exploited)

    tuning = pbt(tmp_path / "tune.db", checkpoint_every=0, resample_probability=0.0, on_decision=check)
    assert len(seen) == EPOCHS // 3 and all(len(s) == math.ceil(16 * 0.25) for s in seen[:-1]) and seen[-1] == []
    assert len(tuning.lineage) == 4 * 3 and tuning.member_epochs == 16 * EPOCHS
    for row in tuning.lineage:  # a source comes from the top quarter of its round, a target from the bottom
        scores = np.asarray(tuning.records[row["round"]]["scores"])
        order = np.argsort(np.where(np.isnan(scores), np.inf, scores), kind="stable")
        assert row["source"] in order[:4] and row["member"] in order[-4:]


def test_pbt_resamples_from_the_space_when_told_to():
    tuning = pbt(resample_probability=1.0)
    for row in tuning.lineage:
        assert 0.01 <= row["lr"] <= 1.0 and 0.0 <= row["momentum"] <= 0.95
        assert row["lr"] not in {row["lr_copied"] * 1.2, row["lr_copied"] * 0.8}


def test_a_pbt_run_is_reproducible_from_its_seed_and_differs_with_another():
    a, b, c = pbt(seed=5), pbt(seed=5), pbt(seed=6)
    assert a.lineage == b.lineage and a.records == b.records
    for name in a.result.metrics:
        np.testing.assert_array_equal(a.result.metrics[name], b.result.metrics[name])
    assert a.lineage != c.lineage


class Killed(Exception):
    pass


def assert_same_tuning(a, b):
    assert a.records == b.records and a.lineage == b.lineage and a.member_epochs == b.member_epochs
    for name in b.result.metrics:
        np.testing.assert_array_equal(a.result.metrics[name], b.result.metrics[name])


def stored(path, key):
    """The decisions tuning ``key`` recorded in the store at ``path``: (number, epoch) rows and summaries."""
    with Store(path, readonly=True) as db:
        numbers = db.db.execute("SELECT number, epoch FROM decisions WHERE tuning = ? ORDER BY number",
                                (key,)).fetchall()
        return numbers, tunings.decisions(db, key)


@pytest.mark.parametrize("every", [0, 1e9])
@pytest.mark.parametrize("method", ["halving", "pbt"])
def test_a_tuning_killed_mid_way_resumes_to_the_result_of_one_run(tmp_path, method, every):
    """Killed after its second decision, the same call on the same store goes on from its checkpoint (the second
    decision's; with checkpoints far apart, none: from the start) to the straight run's result, every decision
    recorded in the store once; another seed is another tuning in that store."""
    settings = dict(method=method, budget=EPOCHS * 16, interval=3, reduction_factor=3, seed=7)
    whole = tune(SPEC, **settings)
    path = tmp_path / "tune.db"

    def kill(tuning):
        if len(tuning.records) == 2:
            raise Killed(tuning.id)

    with pytest.raises(Killed) as killed:
        tune(SPEC, store=path, on_decision=kill, checkpoint_every=every, **settings)
    assert (path.parent / "tune.tunings" / f"{killed.value.args[0]}.pickle").exists() == (every == 0)
    assert len(stored(path, killed.value.args[0])[0]) == 2
    from typer.testing import CliRunner

    from inertia.cli import app

    listed = CliRunner().invoke(app, ["results", str(path)])  # the killed tuning: 2 decisions, not finished
    assert listed.exit_code == 0, listed.output
    assert re.search(rf"{killed.value.args[0]} .* {method} .* 2 .* no .* — .* — ", listed.output), listed.output
    resumed = tune(SPEC, store=path, checkpoint_every=every, **settings)
    assert_same_tuning(resumed, whole)
    numbers, rows = stored(path, resumed.id)
    assert numbers == [(k, record["epoch"]) for k, record in enumerate(whole.records)]
    for (summary, arrays), record in zip(rows, whole.records):
        assert arrays["members"].tolist() == record["members"] and arrays["scores"].tolist() == record["scores"]
        assert summary["members"] == len(record["members"])
    other = tune(SPEC, store=path, **{**settings, "seed": 8})
    assert other.id != resumed.id
    with Store(path, readonly=True) as db:
        listed = tunings.tunings(db)
    assert listed["id"].tolist() == [resumed.id, other.id] and listed["finished"].notna().all()
    assert listed["best_score"].tolist() == [whole.best["score"], other.best["score"]]


def test_a_decision_recorded_but_not_checkpointed_is_made_again_and_recorded_once(tmp_path, monkeypatch):
    """A kill between a decision's record and its checkpoint: the resumed tuning makes that decision again from
    the checkpoint before it, and the store still holds one row per decision, the straight run's."""
    settings = dict(method="pbt", budget=EPOCHS * 16, interval=3, seed=9)
    whole = tune(SPEC, **settings)
    path, saved = tmp_path / "tune.db", tunings.Checkpoints.save
    calls = []

    def dies_on_the_third(self, checkpoint):
        calls.append(1)
        if len(calls) == 3:
            raise Killed
        saved(self, checkpoint)

    monkeypatch.setattr(tunings.Checkpoints, "save", dies_on_the_third)
    with pytest.raises(Killed):
        tune(SPEC, store=path, checkpoint_every=0, **settings)
    monkeypatch.setattr(tunings.Checkpoints, "save", saved)
    with Store(path, readonly=True) as db:
        (key,) = tunings.tunings(db)["id"]
        with open(tunings.checkpoint_path(db, key), "rb") as file:
            assert pickle.load(file)["decisions"] == 2  # the second decision's, written out in full
    assert len(stored(path, key)[0]) == 3  # the third decision recorded, its checkpoint never written
    resumed = tune(SPEC, store=path, **settings)
    assert_same_tuning(resumed, whole)
    numbers, rows = stored(path, resumed.id)
    assert [n for n, _ in numbers] == list(range(len(whole.records)))
    assert [arrays["scores"].tolist() for _, arrays in rows] == [r["scores"] for r in whole.records]


def test_a_checkpoint_that_cannot_be_written_stops_the_tuning_with_the_reason(tmp_path):
    """Checkpoints are written in the background; a write that fails (here: a file where the checkpoints' folder
    goes) is raised by the tuning, not lost with its thread."""
    (tmp_path / "tune.tunings").write_text("not a folder")
    with pytest.raises(FileExistsError, match=r"tune\.tunings"):
        tune(SPEC, store=tmp_path / "tune.db", checkpoint_every=0, method="pbt", budget=EPOCHS * 16, interval=3)


def test_a_second_process_on_the_same_tuning_is_refused(tmp_path):
    settings, path = dict(method="halving", budget=EPOCHS * 16, seed=1), tmp_path / "tune.db"
    key = tune(SPEC, store=path, **settings).id
    with Store(path) as other:  # another worker holding the tuning's claim
        assert other.claim([key]) == [key]
        with pytest.raises(OSError, match=f"another process is running this tuning \\({key}\\)"):
            tune(SPEC, store=path, **settings)
        other.release()
    assert tune(SPEC, store=path, **settings).id == key


@pytest.mark.parametrize(("change", "message"), [
    ({"budget": EPOCHS}, "budget 12 member-epochs buys less than one comparison: pbt needs at least 24"),
    ({"method": "halving", "budget": 3}, "halving needs at least"),
    ({"method": "halving", "reduction_factor": 1}, "reduction_factor must be greater than 1, got 1"),
    ({"quantile": 0.6}, r"quantile must be in \(0, 0.5\], got 0.6"),
    ({"quantile": 0}, r"quantile must be in \(0, 0.5\], got 0"),
    ({"method": "bayes"}, "method must be one of random, halving, pbt, got 'bayes'"),
    ({"interval": 0}, "interval must be a whole number of epochs >= 1, got 0"),
])
def test_bad_settings_are_refused_before_any_training(change, message):
    with pytest.raises(ValueError, match=message):
        tune(SPEC, **{"method": "pbt", **change})


@pytest.mark.parametrize(("spec", "message"), [
    ({**SPEC, "random": {}}, "the spec has nothing to search"),
    ({**SPEC, "grid": {"batch_size": [10, 20]}}, "grid.batch_size: is the population's"),
    ({**SPEC, "grid": {"lr": [0.1]}, "random": {}}, "the spec has nothing to search"),
    ({**SPEC, "optimizer": {"name": "adam"}}, "random.momentum: is not a hyperparameter of adam"),
    ({**SPEC, "schedule": {"kind": "step", "every": 5}}, "tune searches constant hyperparameters"),
])
def test_specs_a_population_cannot_search_are_refused(spec, message):
    with pytest.raises(SpecError, match=message):
        tune(spec, method="random")


SPEC_TOML = """[data]
name = "spiral"
points = 30
seed = 1
[model]
layers = [2, 16, 3]
[train]
epochs = 12
batch_size = 10
[random]
count = 1
lr = { log_uniform = [0.01, 1.0] }
[grid]
momentum = [0.0, 0.5, 0.9]
"""


def test_the_command_tunes_saves_and_resumes(tmp_path):
    """inertia tune writes the tuning, the winner's schedule and its retrained interval; run again with the same
    store it goes on from the checkpoint (all done: no member trained again) to the same result."""
    from typer.testing import CliRunner

    from inertia.cli import app

    (tmp_path / "space.toml").write_text(SPEC_TOML)
    out, store = tmp_path / "tuned", tmp_path / "runs.db"
    args = ["tune", str(tmp_path / "space.toml"), "--method", "pbt", "--budget", "192", "--interval", "4",
            "--retrain-seeds", "3", "--out", str(out), "--store", str(store)]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "The winner's schedule" in first.output
    summary = json.loads((out / "tune.json").read_text())
    assert summary["members"] == 16 and summary["member_epochs"] == 192
    assert [row["start"] for row in summary["schedule"]] == [0, 4, 8]
    assert all(row["momentum"] in (0.0, 0.5, 0.9) for row in summary["schedule"])  # a list moves along itself
    again = summary["retrained"]
    assert again["seeds"] == 3 and again["loss_low"] <= again["loss_mean"] <= again["loss_high"]
    names = {p.name for p in out.iterdir()}
    assert {"tune.json", "members.csv", "lineage.csv", "trajectory.csv", "report.html"} <= names
    assert (tmp_path / "runs.tunings" / f"{summary['id']}.pickle").is_file() and f"as {summary['id']}" in first.output
    page = (out / "report.html").read_text()
    assert "id='retrained'" in page and "The winner trained again: training loss per fresh seed" in page
    lineage = pd.read_csv(out / "lineage.csv")
    assert len(lineage) == 2 * 4 and set(lineage["round"]) == {0, 1}
    second = CliRunner().invoke(app, args)
    assert second.exit_code == 0, second.output
    assert json.loads((out / "tune.json").read_text())["records"] == summary["records"]
    listed = CliRunner().invoke(app, ["results", str(store), "--json"])
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.output)["tunings"]
    assert row["id"] == summary["id"] and row["decisions"] == 3 and row["best_score"] == summary["best"]["score"]
    table = CliRunner().invoke(app, ["results", str(store)])
    assert "1 tuning " in table.output and summary["id"] in table.output


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")
@pytest.mark.parametrize("method", ["halving", "pbt"])
def test_the_tuning_page_in_headless_chromium(tmp_path, method):
    from browser import toolbars_cover_nothing
    from playwright.sync_api import sync_playwright

    from inertia.sweeps import tuned
    from inertia.views.tune_report import tune_page

    tuning = tune(SPEC, method=method, budget=EPOCHS * 16, interval=3, reduction_factor=3, seed=1)
    again = tuned.retrain(load_spec(SPEC), tuning, 3)
    tuned.save(tuning, tmp_path, again)
    report = tune_page(tmp_path)
    expected = {"scores", "retrained"} | ({"trajectory-0", "trajectory-1", "lineage"} if method == "pbt" else set())
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.as_uri())
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length >= {len(expected)}")
        charts = page.evaluate("""[...document.querySelectorAll('.js-plotly-plot')].map(d => ({id: d.id,
            traces: d.data.length, points: d.data.reduce((n, t) => n + (t.x ? t.x.length : 0), 0)}))""")
        assert errors == [] and {c["id"] for c in charts} == expected
        assert all(c["traces"] > 0 and c["points"] > 0 for c in charts), charts
        assert toolbars_cover_nothing(page) == []
        text = page.inner_text("body")
        assert "Trained again from 3 fresh seeds" in text and "95 % CI" in text
        seeds = page.evaluate("document.getElementById('retrained').data[0].y")
        assert seeds == again["loss"]  # each fresh seed's own result
        if method == "pbt":
            winner = page.evaluate("document.getElementById('lineage').data[1].y")
            assert winner[-1] == tuning.best["member"]
        browser.close()


def test_the_winners_schedule_follows_its_lineage_back():
    """ancestry: walking the lineage rows back from the winner (who took over whose run, round by round) gives the
    rows that held its run; each stretch's values are that row's after the round before (none: the start)."""
    from inertia.sweeps.tuned import ancestry

    tuning = pbt(seed=11)
    path = ancestry(tuning)
    row, rows = tuning.best["member"], []
    lineage = pd.DataFrame(tuning.lineage)
    for k in range(len(tuning.records) - 1, -1, -1):
        rows.append(row)
        if k:
            took = lineage[(lineage["round"] == k - 1) & (lineage["member"] == row)]
            row = int(took["source"].iloc[0]) if len(took) else row
    assert [r["member"] for r in path] == rows[::-1]
    assert [(r["start"], r["end"]) for r in path] == [(0, 3), (3, 6), (6, 9), (9, 12)]
    for k, stretch in enumerate(path):
        took = lineage[(lineage["round"] == k - 1) & (lineage["member"] == stretch["member"])]
        expected = (took["lr"].iloc[0] if len(took) else tuning.trajectory[max(k - 1, 0)]["lr"][stretch["member"]]) \
            if k else tuning.trajectory[0]["lr"][stretch["member"]]
        assert stretch["lr"] == expected


def test_a_schedule_trained_again_follows_it():
    """train_again sets each stretch's values before training it: a two-stretch schedule equals a population
    trained with those values set between the stretches, and the held-out split is the data set's."""
    from inertia.population import Population
    from inertia.sweeps.tuned import train_again

    spec = {**SPEC, "data": {**SPEC["data"], "held_out": 10}}
    schedule = [{"start": 0, "end": 5, "lr": 0.3, "momentum": 0.5}, {"start": 5, "end": 12, "lr": 0.05,
                                                                     "momentum": 0.9}]
    again = train_again(load_spec(spec), schedule, 3)
    assert again["split"] == "held-out" and again["seeds"] == 3
    held = data.spiral(points=10, seed=1 + 1_000_000)
    population = Population(data.spiral(points=30, seed=1), [2, 16, 3], Members.table(
        seed=np.arange(3), lr=0.3, momentum=0.5), batch_size=10, held_out=held)
    population.train(5).set([0, 1, 2], lr=0.05, momentum=0.9).train(7)
    np.testing.assert_array_equal(again["loss"], population.metrics["test_loss"][:, -1])


def test_the_study_judges_every_tuners_choice_on_held_out_data():
    from inertia.sweeps.tune_study import tune_study

    spec = {**SPEC, "data": {**SPEC["data"], "held_out": 10}}
    study = tune_study("tiny", spec=spec, tuner_seeds=2, retrain_seeds=2, budget=EPOCHS * 8)
    assert [(r["method"], r["tuner_seed"]) for r in study.runs] == [(m, s) for m in ("random", "halving", "pbt")
                                                                   for s in range(2)]
    assert all(r["split"] == "held-out" and r["member_epochs"] <= EPOCHS * 8 for r in study.runs)
    table = study.table()
    assert [row["method"] for row in table] == ["random", "halving", "pbt"]
    for row in table:
        losses = [r["loss"] for r in study.runs if r["method"] == row["method"]]
        assert row["loss"] == pytest.approx(np.mean(losses)) and row["loss_low"] <= row["loss"] <= row["loss_high"]
    with pytest.raises(ValueError, match="tuner_seeds and retrain_seeds must be at least 2"):
        tune_study("spiral", tuner_seeds=1)


def test_a_held_out_split_is_drawn_for_generated_data_only():
    from inertia.sweeps.run import dataset_of
    from inertia.sweeps.spec import canonical

    spec = load_spec({"data": {"name": "moons", "seed": 3, "held_out": 40}})
    dataset = dataset_of(canonical(spec.data))
    assert len(dataset.test) == 80 and dataset.test.classes == dataset.classes
    np.testing.assert_array_equal(dataset.test.x, data.moons(points=40, seed=1_000_003).x)
    with pytest.raises(SpecError, match=r"data\.held_out: a held-out split is drawn for spiral, moons, circles"):
        load_spec({"data": {"name": "blobs", "held_out": 40}})
    with pytest.raises(SpecError, match=r"data\.held_out"):
        load_spec({"data": {"name": "spiral", "held_out": 0}})
