"""The live lab: its settings, the event stream against compare(), cancellation, uploads, export, and the page in
headless Chromium (controls, URL round-trip, bad input, no console errors, no request leaving the machine)."""

import json
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from browser import toolbars_cover_nothing
from lab_stream import read_events
from tolerances import F32_EVALUATION

import inertia
from inertia import data, plots
from inertia.lab.settings import LabSettings, SettingsError

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


TOKEN = [""]  # the token of the page the module's lab serves


def signed(url: str) -> str:
    """``url`` with the page's token, as the page sends it."""
    return f"{url}{'&' if '?' in url else '?'}token={TOKEN[0]}"


@pytest.fixture(scope="module")
def lab():
    """The lab's app served by uvicorn on a free local port, for the whole module."""
    import uvicorn

    from inertia.lab.server import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app()
    TOKEN[0] = app.token
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


def events(url: str, timeout: float = 60) -> list[tuple[str, dict]]:
    return read_events(signed(url), timeout)


def test_settings_read_check_and_write_back():
    settings = LabSettings.from_query({"momenta": "0, 0.5,0.9", "lr": "0.05", "nesterov": "1", "epochs": "30"})
    assert settings.momenta == (0.0, 0.5, 0.9) and settings.nesterov and settings.epochs == 30
    from urllib.parse import parse_qsl

    assert LabSettings.from_query(dict(parse_qsl(settings.to_query(), keep_blank_values=True))) == settings
    for query, words in [({"lr": "-1"}, "learning rate"), ({"lr": "fast"}, "lr must be a number"),
                         ({"momenta": "0,1.2"}, "momentum must be in [0, 1)"), ({"epochs": "0"}, "epochs"),
                         ({"form": "adam"}, "form"), ({"nesterov": "1", "form": "ema"}, "Nesterov"),
                         ({"layers": "2,x,3"}, "layers"), ({"dataset": "upload"}, "CSV"),
                         ({"color": "red"}, "unknown")]:
        with pytest.raises(SettingsError, match=words.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
            LabSettings.from_query(query)
    with pytest.raises(SettingsError, match=r"work one change may start.*command line: inertia compare --x"):
        LabSettings(seeds=20, epochs=2000).check_work(1500, 303, "inertia compare --x")


def test_the_stream_is_the_comparison_epoch_by_epoch(lab):
    got = events(f"{lab}/api/run?momenta=0,0.5&epochs=6&seeds=3&client=stream")
    kinds = [e for e, _ in got]
    assert kinds[0] == "start" and kinds[-1] == "done" and kinds.count("epoch") == 6
    start, done = got[0][1], got[-1][1]
    assert start["command"] == ("inertia compare --momenta 0,0.5 --lr 0.1 --layers 2,50,3 --activation relu "
                                "--batch-size 20 --epochs 6 --seeds 3 --dataset spiral --shuffle --form pytorch")
    assert len(start["rates"]["points"]) == 2 and set(start["ball"]["balls"]) == {"0", "0.5"}
    reference = inertia.compare(momenta=[0, 0.5], epochs=6, seeds=3).table()
    last = got[-2][1]["series"]
    for momentum in (0.0, 0.5):
        series = last[f"{momentum:g}"]["loss"]
        assert series[0] == pytest.approx(reference.loc[momentum, "final_loss"], rel=F32_EVALUATION)
        assert series[1] == pytest.approx(reference.loc[momentum, "final_loss_low"], rel=F32_EVALUATION)
    assert len(done["regions"]["classes"]) == 2 and len(done["regions"]["classes"]["0.5"]) == 60
    nesterov = events(f"{lab}/api/run?momenta=0,0.5&epochs=2&seeds=2&lr=0.05&nesterov=1")
    assert nesterov[0][1]["command"].endswith("--lr 0.05 --layers 2,50,3 --activation relu --batch-size 20 "
                                              "--epochs 2 --seeds 2 --dataset spiral --shuffle --form pytorch "
                                              "--nesterov") and nesterov[-1][0] == "done"


def test_equal_effective_lr_streams_both_and_says_whether_the_gain_survives(lab):
    got = events(f"{lab}/api/run?momenta=0,0.5&epochs=5&seeds=3&hold=effective-lr&client=held")
    keys = set().union(*(set(p["series"]) for e, p in got if e == "epoch"))
    assert keys == {"0", "0.5", "0.5 held"}
    assert "at equal effective lr (lr 0.05)" in got[-1][1]["verdicts"][0]


def test_schedules_stream_as_curves_of_their_own_and_come_back_per_update(lab):
    """A momentum schedule is streamed epoch by epoch as compare() trains it, its row joins the table, and the
    learning rate and every curve's β per update come with the result."""
    query = "momenta=0,0.9&epochs=4&seeds=2&schedule=cosine&momentum_schedules=demon:beta0%3D0.9&client=sched"
    got = events(f"{lab}/api/run?{query}")
    start, done = got[0][1], got[-1][1]
    assert got[-1][0] == "done" and start["arms"] == ["demon:beta0=0.9"]
    assert start["command"].endswith("--schedule cosine --momentum-schedules demon:beta0=0.9")
    reference = inertia.compare(momenta=[0, 0.9], epochs=4, seeds=2, schedule="cosine",
                                momentum_schedules=["demon:beta0=0.9"])
    last = [p["series"] for e, p in got if e == "epoch" and "demon:beta0=0.9" in p["series"]][-1]
    arm = reference.baseline_table().loc["demon:beta0=0.9"]
    assert last["demon:beta0=0.9"]["loss"][0] == pytest.approx(arm["final_loss"], rel=F32_EVALUATION)
    assert [row["momentum"] for row in done["table"]] == [0, 0.9, "demon:beta0=0.9"]
    curves = reference.schedule_curves(points=200)
    assert done["schedules"]["update"] == curves["update"]
    assert done["schedules"]["lr"] == pytest.approx(curves["lr"], abs=1e-6)
    assert done["schedules"]["momentum"]["demon:beta0=0.9"] == pytest.approx(
        curves["momentum"]["demon:beta0=0.9"], abs=1e-5)
    plain = events(f"{lab}/api/run?momenta=0,0.5&epochs=2&seeds=2")[-1][1]
    assert "schedules" not in plain
    for query, words in (("schedule=onecycle:pct_start%3D2", "learning-rate schedule: Invalid onecycle pct_start"),
                         ("momentum_schedules=demon", "momentum schedules: Invalid demon: beta0 is required"),
                         ("schedule=cosine&hold=effective-lr", "learning-rate schedule: comparing at equal"),
                         ("schedule=onecycle:total_steps%3D10", "Invalid schedule total_steps: 10 (allowed: at "
                                                               "least the 7500 updates of training)")):
        assert words in events(f"{lab}/api/run?{query}")[-1][1]["message"], query


def test_a_new_change_cancels_the_one_in_flight_and_other_tabs_are_untouched(lab):
    results = {}

    def listen(name, url):
        results[name] = events(url)

    slow = threading.Thread(target=listen, args=("slow", f"{lab}/api/run?epochs=1500&seeds=1&client=tab1"))
    other = threading.Thread(target=listen, args=("other", f"{lab}/api/run?epochs=40&seeds=2&client=tab2"))
    slow.start()
    time.sleep(0.8)
    other.start()
    newer = events(f"{lab}/api/run?epochs=5&seeds=2&client=tab1")
    slow.join(60)
    other.join(60)
    assert results["slow"][-1][0] == "cancelled"
    assert newer[-1][0] == "done" and results["other"][-1][0] == "done"
    assert sum(e == "epoch" for e, _ in results["other"]) == 40


def test_bad_input_gets_a_message_and_the_server_keeps_serving(lab):
    assert events(f"{lab}/api/run?lr=-0.1")[-1] == ("error", {"message": "learning rate must be a finite number > 0, "
                                                                         "got -0.1"})
    assert "do not fit dataset 'spiral'" in events(f"{lab}/api/run?layers=3,10,3")[-1][1]["message"]
    refused = events(f"{lab}/api/run?seeds=20&epochs=2000")[-1][1]["message"]
    assert "work one change may start" in refused and "command line: inertia compare --momenta" in refused
    assert events(f"{lab}/api/run?epochs=2&seeds=2")[-1][0] == "done"


def upload(lab, body: bytes, name="points.csv"):
    request = urllib.request.Request(f"{lab}/api/upload", data=body, method="POST",
                                     headers={"X-Filename": name, "X-Inertia-Token": TOKEN[0]})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_uploads_are_checked_then_trained_on(lab):
    status, body = upload(lab, b"a,b,label\n1,2,0\n3,x,1\n")
    assert status == 200 and "non-numeric" in body["error"] and "points.csv" in body["error"]
    assert upload(lab, b"")[1]["error"] == "points.csv: the file is empty"
    assert upload(lab, b"a,b\n1,2\n")[1]["error"].startswith("points.csv: no label column")
    moons = data.moons(points=30, seed=0)
    csv = "x1,x2,label\n" + "".join(f"{a},{b},{y}\n" for (a, b), y in zip(moons.x, moons.y))
    status, body = upload(lab, csv.encode())
    assert status == 200 and "error" not in body and body["classes"] == 2 and body["samples"] == 60
    got = events(f"{lab}/api/run?dataset=upload&upload={body['id']}&epochs=3&seeds=2")
    assert got[-1][0] == "done" and got[0][1]["dataset"] == "points"
    assert "upload it again" in events(f"{lab}/api/run?dataset=upload&upload=gone")[-1][1]["message"]


def test_export_is_the_report_compare_writes(lab):
    with urllib.request.urlopen(signed(f"{lab}/api/export?momenta=0,0.5&epochs=4&seeds=2")) as response:
        html = response.read().decode()
        assert "attachment" in response.headers["Content-Disposition"]
    assert "inertia compare: momentum on spiral" in html and "--momenta 0,0.5" in html
    try:
        urllib.request.urlopen(signed(f"{lab}/api/export?lr=0"))
    except urllib.error.HTTPError as error:
        assert error.code == 400 and "learning rate" in json.loads(error.read())["error"]
    else:
        raise AssertionError("a bad export was accepted")


def fetch(url: str) -> dict:
    with urllib.request.urlopen(signed(url)) as response:
        return json.loads(response.read())


def test_a_test_functions_paths_follow_the_beta_dragged(lab):
    """The lab's function view: heavy ball's path at the β asked for is a plain loop of v ← βv + ∇f, x ← x − lr·v
    from the same start; another β moves it; a bad β is a message."""
    import numpy as np

    from inertia.studies import functions as F

    first, second = (fetch(f"{lab}/api/functions?name=rosenbrock&beta={b}&lr=0.0002") for b in (0.5, 0.9))
    f = F.function("rosenbrock")
    for view, beta in ((first, 0.5), (second, 0.9)):
        path = np.array(view["paths"][f"momentum β {beta:g}"][1], dtype=float)
        x, v = F.starts(f, 5, 0)[1], np.zeros(2)
        for t in range(40):
            assert np.allclose(path[t], x, rtol=0, atol=5.1e-6), t  # the view sends 5 decimals
            v = beta * v + f.gradient(x)
            x = x - 0.0002 * v
        assert view["paths"]["SGD"] == first["paths"]["SGD"] and len(path) == view["steps"] + 1
    assert first["paths"]["momentum β 0.5"] != second["paths"]["momentum β 0.9"]
    assert fetch(f"{lab}/api/functions?name=beale&beta=0.9")["lr"] in F.LEARNING_RATES  # tuned on the grid
    assert fetch(f"{lab}/api/functions?name=rosenbrock&beta=1")["error"].startswith("beta must be in [0, 1)")
    assert fetch(f"{lab}/api/functions?name=nope&beta=0.5")["error"].startswith("function must be one of")
    assert fetch(f"{lab}/api/functions?name=beale&lr=fast")["error"] == "lr must be a number; got 'fast'"


def test_the_comparisons_landscape_draws_the_dragged_run_on_its_own_plane(lab):
    """The lab's comparison view: the comparison's first-seed runs on its surface, and the run at the dragged β
    traced on its own and projected onto the same plane: dragged onto one of the comparison's momenta, it lands
    on that run's path."""
    import numpy as np

    query = f"{lab}/api/landscape?momenta=0,0.5&epochs=4&seeds=2&layers=2,8,3"
    moved = fetch(f"{query}&beta=0.9")
    assert list(moved["runs"]) == ["momentum 0", "momentum 0.5"] and len(moved["path"]) == 5
    assert len(moved["z"]) == len(moved["y"]) and len(moved["z"][0]) == len(moved["x"])
    onto = fetch(f"{query}&beta=0.5")
    np.testing.assert_allclose(onto["path"], onto["runs"]["momentum 0.5"], rtol=1e-4, atol=1e-4)
    assert onto["z"] == moved["z"] and not np.allclose(moved["path"], onto["path"])
    assert "learning rate" in fetch(f"{lab}/api/landscape?lr=-1&beta=0.5")["error"]


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")
def test_the_page_in_headless_chromium(lab, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        errors, outside = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))

        def guard(route):
            if route.request.url.startswith(lab):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", guard)
        page.goto(f"{lab}/?epochs=40&seeds=3")
        done = "() => window.labTimings.length >= {}"
        page.wait_for_function(done.format(1), timeout=30_000)
        assert page.evaluate("document.getElementById('loss').data.length") == 10  # band + mean per momentum
        # one class→colour map: each class's points in its colour, its region in that colour lightened, as in
        # every PNG and report
        points, regions = plots.class_colors(3)
        drawn = page.evaluate("""(() => { const [map, dots] = document.getElementById('region-0').data;
            return {scale: map.colorscale.map(s => s[1]), dots: dots.marker.color, labels: dots.customdata}; })()""")
        assert drawn["scale"] == list(regions)
        assert set(zip(drawn["labels"], drawn["dots"])) == {(k, points[k]) for k in range(3)}
        # the toolbars cover no title, legend or plot, wide or narrow
        assert toolbars_cover_nothing(page) == []
        page.set_viewport_size({"width": 900, "height": 1000})
        page.wait_for_timeout(300)
        assert toolbars_cover_nothing(page) == []
        page.set_viewport_size({"width": 1400, "height": 1000})
        before = page.evaluate("JSON.stringify(document.getElementById('region-4').data[0].z)")
        first_loss = page.evaluate("document.getElementById('loss').data[9].y.slice(-1)[0]")
        # drag the momentum: the largest momentum becomes 0.9, the URL follows, curves and regions change
        page.fill("#beta", "0.9")
        page.dispatch_event("#beta", "input")
        page.wait_for_function(done.format(2), timeout=30_000)
        assert "momenta=0%2C0.1%2C0.2%2C0.4%2C0.9" in page.url
        names = page.evaluate("document.getElementById('loss').data.map(t => t.name).filter(Boolean)")
        assert "β 0.9" in names and "β 0.5" not in names
        assert page.evaluate("document.getElementById('loss').data[9].y.slice(-1)[0]") != first_loss
        assert page.evaluate("JSON.stringify(document.getElementById('region-4').data[0].z)") != before
        command = page.inner_text("#command")
        assert "--momenta 0,0.1,0.2,0.4,0.9" in command
        # the landscape view: a test function's paths move with the β dragged; the comparison's own surface
        surface = "document.getElementById('surface-chart').data"
        page.wait_for_function(f"{surface} && {surface}.length > 3", timeout=30_000)
        path = f"JSON.stringify({surface}.filter(t => t.name && t.name.startsWith('momentum β'))[0].x)"
        before_path = page.evaluate(path)
        page.fill("#surface-beta", "0.5")
        page.dispatch_event("#surface-beta", "input")
        page.wait_for_function(f"{path} !== {json.dumps(before_path)}", timeout=30_000)
        assert "momentum β 0.5" in page.evaluate(f"{surface}.map(t => t.name)")
        page.select_option("#surface", "comparison")
        page.wait_for_function(f"{surface}.some(t => t.name === 'β 0.5 (dragged)')", timeout=60_000)
        assert page.evaluate(f"{surface}[0].type") == "contour" and "off its own loss" in page.inner_text(
            "#surface-note")
        page.select_option("#surface", "rosenbrock")
        # the URL round-trip: the same address, a fresh page, the same lab
        again = browser.new_page()
        again.route("**/*", guard)
        again.goto(page.url)
        again.wait_for_function(done.format(1), timeout=30_000)
        assert again.input_value("#momenta") == "0,0.1,0.2,0.4,0.9" and again.inner_text("#command") == command
        # bad input: a message in the page, and the next good change still runs
        page.fill("#lr", "-1")
        page.dispatch_event("#lr", "input")
        page.wait_for_selector("#message.shown", timeout=10_000)
        assert "learning rate must be a finite number > 0" in page.inner_text("#message")
        page.fill("#lr", "0.2")
        page.dispatch_event("#lr", "input")
        page.wait_for_function(done.format(3), timeout=30_000)
        assert not page.is_visible("#message")
        # a long run cancelled by the next change: only the newer one finishes and is drawn
        count = page.evaluate("window.labTimings.length")
        page.fill("#epochs", "400")
        page.dispatch_event("#epochs", "input")
        page.wait_for_function("document.getElementById('status').textContent.includes('epoch')", timeout=10_000)
        page.fill("#beta", "0.8")
        page.dispatch_event("#beta", "input")
        page.wait_for_function(done.format(count + 1), timeout=60_000)
        page.wait_for_timeout(300)
        assert page.evaluate("window.labTimings.length") == count + 1
        names = page.evaluate("document.getElementById('loss').data.map(t => t.name).filter(Boolean)")
        assert "β 0.8" in names and "β 0.9" not in names
        assert page.evaluate("document.getElementById('loss').data[9].x.slice(-1)[0]") == 400
        # a malformed upload: a message, nothing else changes
        bad = tmp_path / "bad.csv"
        bad.write_text("a,b\n1,2\n")
        page.set_input_files("#file", str(bad))
        page.wait_for_selector("#message.shown", timeout=10_000)
        assert "no label column" in page.inner_text("#message")
        page.fill("#epochs", "30")
        page.dispatch_event("#epochs", "input")
        page.wait_for_function(done.format(count + 2), timeout=60_000)
        # export: the report compare writes
        with page.expect_download() as download:
            page.click("#export")
        path = tmp_path / "report.html"
        download.value.save_as(path)
        assert "--lr 0.2" in path.read_text() and "--epochs 30" in path.read_text()
        # the schedule picker: a one-cycle rate and a momentum schedule as a curve of its own, both drawn per update
        count = page.evaluate("window.labTimings.length")
        page.fill("#schedule", "onecycle")
        page.dispatch_event("#schedule", "input")
        page.fill("#momentum_schedules", "sutskever:mu_max=0.99:every=100")
        page.dispatch_event("#momentum_schedules", "input")
        page.wait_for_function(done.format(count + 1), timeout=60_000)
        page.wait_for_timeout(300)
        names = page.evaluate("document.getElementById('loss').data.map(t => t.name).filter(Boolean)")
        assert "sutskever:mu_max=0.99:every=100" in names and "β 0.8" in names
        assert "schedule=onecycle" in page.url and "momentum_schedules=sutskever" in page.url
        assert "--schedule onecycle --momentum-schedules sutskever:mu_max=0.99:every=100" in page.inner_text(
            "#command")
        assert page.is_visible("#schedules")
        lines = page.evaluate("document.getElementById('schedules').data.map(t => [t.name, t.y[0], Math.max(...t.y)])")
        by_name = {name: (first, top) for name, first, top in lines}  # 200 of the updates: near the peak, not on it
        assert by_name["learning rate"][1] == pytest.approx(0.2, rel=1e-3) and by_name["learning rate"][0] < 0.01
        assert by_name["sutskever:mu_max=0.99:every=100"][0] == pytest.approx(0.5)
        assert "sutskever:mu_max=0.99:every=100" in page.inner_text("#table")
        page.fill("#schedule", "onecycle:pct_start=2")
        page.dispatch_event("#schedule", "input")
        page.wait_for_selector("#message.shown", timeout=10_000)
        assert "learning-rate schedule: Invalid onecycle pct_start: 2" in page.inner_text("#message")
        timings = page.evaluate("window.labTimings")
        browser.close()
    assert errors == [] and outside == []
    assert all(t["firstRedraw"] < t["finished"] for t in timings)
