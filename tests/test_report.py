"""The HTML report (content, and in a real headless Chromium), TensorBoard event files, the example notebook."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from browser import toolbars_cover_nothing
from matplotlib.colors import to_hex
from tolerances import F32_EVALUATION
from typer.testing import CliRunner

import inertia
from inertia import plots
from inertia.cli import app
from inertia.stats import paired_difference
from inertia.sweeps.run import sweep
from inertia.views.conclusions import conclusions
from inertia.views.report import write_report

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare")
    comparison = inertia.compare(seeds=3, epochs=12)
    comparison.save(folder, plots=False)
    return comparison, folder


def test_conclusions_carry_their_statistic(compared):
    comparison, _ = compared
    curves = comparison.curves()
    sentences = conclusions(curves, baseline=0.0)
    assert len(sentences) == 4
    final = {(r.momentum, r.seed): r.history.loss[-1] for r in comparison.runs}
    ours, base = [final[0.4, s] for s in (0, 1, 2)], [final[0.0, s] for s in (0, 1, 2)]
    difference = paired_difference(ours, base)
    wins = sum(a < b for a, b in zip(ours, base))
    expected = (f"momentum 0.4 ends with lower full-data loss than 0 in {wins} of 3 seeds; mean difference "
                f"{difference.mean:+.3g}, 95 % CI [{difference.low:+.3g}, {difference.high:+.3g}]")
    assert any(s.startswith(expected) for s in sentences), sentences


def test_the_compare_report_is_one_offline_file(compared):
    _, folder = compared
    page = write_report(folder).read_text()
    assert "<script src=" not in page and "http://" not in page.split("<script>")[0]
    assert "Do the seed notebook&#x27;s conclusions hold?" in page
    assert "inertia compare --momenta 0,0.1,0.2,0.4,0.5" in page
    for chart in ("'loss'", "'accuracy'", "'ball'", "'regions-0'", "'regions-4'"):
        assert f"id={chart}" in page
    regions = json.loads((folder / "regions.json").read_text())
    assert list(regions["classes"]) == ["1", "3", "6", "12"]


def test_a_report_of_schedules_draws_them_and_its_command_reproduces_them(tmp_path):
    """The learning rate and every arm's momentum per update, as the schedules' formulas give them, and the
    command line that trains the same comparison again."""
    from typer.testing import CliRunner

    from inertia import data
    from inertia.cli import app

    dataset = data.spiral(points=30, seed=0)
    comparison = inertia.compare(momenta=[0.0, 0.9], seeds=2, epochs=3, dataset=dataset, batch_size=15,
                                 schedule="cosine:warmup=4:warmup_factor=0.5",
                                 momentum_schedules=["demon:beta0=0.9", "sutskever:mu_max=0.9:every=3"])
    comparison.save(tmp_path / "first", plots=False)
    page = write_report(tmp_path / "first").read_text()
    assert "id='lr'" in page and "id='beta'" in page
    steps = json.loads((tmp_path / "first" / "summary.json").read_text())["schedules"]
    updates = 3 * 6
    t = np.array(steps["update"])
    assert t[0] == 0 and t[-1] == updates - 1
    ramp = np.minimum(0.5 + 0.5 * t / 4, 1.0)
    np.testing.assert_allclose(steps["lr"], 0.1 * (1 + np.cos(np.pi * t / updates)) / 2 * ramp, rtol=1e-12)
    np.testing.assert_allclose(steps["momentum"]["demon:beta0=0.9"],
                               0.9 * (1 - t / updates) / (0.1 + 0.9 * (1 - t / updates)), rtol=1e-12)
    np.testing.assert_allclose(steps["momentum"]["sutskever:mu_max=0.9:every=3"],
                               np.minimum(1 - 2.0 ** (-1 - np.log2(t // 3 + 1)), 0.9), rtol=1e-12)
    assert steps["momentum"]["momentum 0.9"] == [0.9] * len(t)
    command = page.split("<pre class='command'>")[1].split("</pre>")[0]
    assert "--schedule cosine:warmup=4:warmup_factor=0.5" in command
    assert "--momentum-schedules demon:beta0=0.9,sutskever:mu_max=0.9:every=3" in command
    csv = tmp_path / "points.csv"  # the same data as a table the command line reads
    csv.write_text("x0,x1,label\n" + "\n".join(f"{a},{b},{c}" for (a, b), c in
                                                 zip(dataset.x.tolist(), dataset.y.tolist())))
    arguments = command.split()[2:]
    arguments[arguments.index("--dataset") + 1] = str(csv)
    result = CliRunner().invoke(app, ["compare", *arguments, "--out", str(tmp_path / "again"), "--no-plots",
                                      "--no-report", "--json"])
    assert result.exit_code == 0, result.output
    again = json.loads(result.stdout)
    first = json.loads((tmp_path / "first" / "summary.json").read_text())
    for ours, theirs in zip(first["baselines"], again["baselines"]):
        assert ours["optimizer"] == theirs["optimizer"]
        assert ours["final_loss"] == pytest.approx(theirs["final_loss"], rel=F32_EVALUATION)


def test_the_sweep_report_has_the_heatmap_and_the_theory_edge(tmp_path):
    spec = {"data": {"name": "spiral", "points": 30}, "model": {"layers": [2, 8, 3]},
            "train": {"epochs": 3, "batch_size": 10, "seeds": 2},
            "grid": {"lr": [0.1, 1.0, 10.0, 1e30], "momentum": [0.0, 0.9]}}
    store = tmp_path / "s.db"
    sweep(spec, str(store))
    page = write_report(store).read_text()
    charts = json.loads(page.split("const charts = ")[1].split(";for (const")[0])
    names = [trace.get("name", "") for trace in charts["heatmap-0"]["data"]]
    assert "diverged or failed" in names
    assert any(n.startswith("theory edge 2(1+β)/λ_max") for n in names)


def test_figures_and_reports_share_one_class_colour_map(compared):
    """Class k is one colour in the PNG, the report and the lab: its points in ``points[k]``, its region in
    ``regions[k]`` (that colour lightened), whichever view draws them."""
    comparison, folder = compared
    points, regions = plots.class_colors(3)
    assert points[0] != points[1] != points[2] and all(
        all(int(r[i:i + 2], 16) > int(p[i:i + 2], 16) or p[i:i + 2] == "ff" for i in (1, 3, 5))
        for p, r in zip(points, regions))  # each region shade is its class colour, lighter
    figure = comparison.plot_decision_regions()
    ax = figure.axes[0]
    (shading,) = ax.images
    assert [to_hex(c) for c in shading.cmap.colors] == regions
    assert [to_hex(dots.get_facecolor()[0]) for dots in ax.collections] == points
    page = write_report(folder).read_text()
    charts = json.loads(page.split("const charts = ")[1].split(";for (const")[0])
    drawn = charts["regions-0"]["data"]
    assert [color for _, color in drawn[0]["colorscale"]] == regions
    assert [trace["marker"]["color"] for trace in drawn[1:]] == points


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")
def test_the_report_in_headless_chromium(compared, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    _, folder = compared
    drawn = CliRunner().invoke(app, ["landscape", str(folder), "--grid", "11"])  # the landscape's section too
    assert drawn.exit_code == 0, drawn.output
    report = write_report(folder)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors, requests = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 11")
        assert errors == []
        assert requests == [report.as_uri()]  # nothing but the file itself
        # every chart is drawn, with data
        charts = page.evaluate("""[...document.querySelectorAll('.js-plotly-plot')].map(d => ({id: d.id,
            traces: d.data.length, marks: d.querySelectorAll('.main-svg path, .main-svg image, canvas').length}))""")
        assert {c["id"] for c in charts} >= {"loss", "accuracy", "ball", "regions-0", "landscape-surface",
                                             "landscape-gaps", "landscape-lines"}
        paths = page.evaluate("document.getElementById('landscape-surface').data.map(t => t.name).filter(Boolean)")
        assert paths == [f"momentum {m:g}" for m in (0, 0.1, 0.2, 0.4, 0.5)]
        assert all(c["traces"] > 0 and c["marks"] > 0 for c in charts), charts
        # the toolbars cover no title, legend or plot, here and in a narrow window
        assert toolbars_cover_nothing(page) == []
        page.set_viewport_size({"width": 700, "height": 900})
        page.wait_for_timeout(300)
        assert toolbars_cover_nothing(page) == []
        page.set_viewport_size({"width": 1200, "height": 900})
        # the slider moves the ball
        stuck = page.evaluate("document.getElementById('ball').data[1].x.slice(-1)[0]")
        page.fill("#ball-beta", "0")
        page.dispatch_event("#ball-beta", "input")
        plain = page.evaluate("document.getElementById('ball').data[1].x.slice(-1)[0]")
        assert plain < 0.3 < stuck and "stuck before the bump" in page.inner_text("#ball-verdict")
        # the epoch slider redraws the regions
        before = page.evaluate("JSON.stringify(document.getElementById('regions-0').data[0].z)")
        page.fill("#regions-epoch", "0")
        page.dispatch_event("#regions-epoch", "input")
        assert page.evaluate("JSON.stringify(document.getElementById('regions-0').data[0].z)") != before
        # hiding a legend entry hides the series (mean and band together)
        entry = page.locator("#loss g.traces", has=page.locator(".legendtext", has_text="momentum 0.5"))
        entry.locator(".legendtoggle").click()
        page.wait_for_timeout(1000)  # plotly waits out its double-click delay before toggling
        visible = page.evaluate("document.getElementById('loss').data.map(t => [t.legendgroup, t.visible])")
        assert all(v == "legendonly" for group, v in visible if group == "momentum 0.5"), visible
        assert all(v in (None, True) for group, v in visible if group != "momentum 0.5")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert (tmp_path / "report.png").stat().st_size > 50_000


def test_tensorboard_events_read_back(compared, tmp_path):
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    from inertia.views.tensorboard import write_comparison, write_store

    comparison, _ = compared
    write_comparison(comparison, tmp_path / "tb")
    run = comparison.run(0.4, 1)
    events = accumulator.EventAccumulator(str(tmp_path / "tb" / "momentum_0.4_seed_1"))
    events.Reload()
    losses = [e.value for e in events.Scalars("loss/full_data")]
    np.testing.assert_allclose(losses, run.history.loss, rtol=F32_EVALUATION)
    assert [e.step for e in events.Scalars("accuracy/full_data")] == list(range(1, 13))
    assert {"_hparams_/experiment", "_hparams_/session_start_info"} <= set(events.PluginTagToContent("hparams"))
    assert events.Scalars("hparam/final_loss")[0].value == pytest.approx(run.history.loss[-1])

    spec = {"data": {"name": "spiral", "points": 20}, "model": {"layers": [2, 8, 3]},
            "train": {"epochs": 2, "batch_size": 10, "seeds": 1}, "grid": {"momentum": [0.0, 0.9]}}
    sweep(spec, str(tmp_path / "s.db"))
    folders = write_store(tmp_path / "s.db", tmp_path / "tb-sweep")
    assert len(folders) == 2
    events = accumulator.EventAccumulator(str(folders[0]))
    events.Reload()
    assert len(events.Scalars("loss/full_data")) == 2 and "_hparams_/experiment" in events.PluginTagToContent("hparams")


@pytest.mark.slow
def test_the_example_notebook_runs(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(ROOT / "examples" / "lab.ipynb", as_version=4)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    assert (tmp_path / "lab-out" / "report.html").exists()
    figures = [c for c in notebook.cells if c.cell_type == "code" and ".plot_" in c.source]
    assert len(figures) == 2 and all(any("image/png" in o.get("data", {}) for o in c.outputs) for c in figures)
