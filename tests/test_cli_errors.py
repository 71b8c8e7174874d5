"""Every command against bad input: exit status 2, one plain line on stderr, no traceback, and no file created
or changed. Also: user text is printed literally, and compare owns the files it writes."""

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys

import pytest
import torch
from typer.testing import CliRunner

from inertia.cli import app
from inertia.sweeps.run import sweep

TINY = {"data": {"name": "spiral", "points": 10, "seed": 1}, "model": {"layers": [2, 4, 3]},
        "train": {"epochs": 1, "batch_size": 10, "seeds": 2}, "grid": {"momentum": [0.0, 0.9]}}
SPEC = """[data]
name = "spiral"
points = 10
[train]
epochs = 1
seeds = 1
"""
SHORT_ONECYCLE = SPEC.replace("epochs = 1", "epochs = 3") + """[schedule]
kind = "onecycle"
total_steps = 5
"""
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")

# (arguments, what the one line on stderr says); paths are relative to the workspace below.
CASES = [
    (["compare", "--out", "afile.txt"], "--out: afile.txt exists and is not a folder"),
    (["compare", "--out", "afile.txt/sub"], "--out: cannot create afile.txt/sub"),
    (["compare", "--momenta", "1.5"], "Invalid momentum value: 1.5 (allowed: 0 <= momentum < 1)"),
    (["compare", "--momenta", "0,abc"], "expected comma-separated numbers"),
    (["compare", "--lr", "abc"], "Invalid value for '--lr'"),
    (["compare", "--lr", "-1"], "Invalid learning rate: -1"),
    (["compare", "--layers", "2,x,3"], "expected comma-separated integers"),
    (["compare", "--layers", "3,10,3"], "layers[0] is 3"),
    (["compare", "--dataset", "bad.csv"], "feature columns must be numeric; non-numeric: ['b']"),
    (["compare", "--dataset", "nope"], "unknown dataset 'nope'"),
    (["compare", "--seeds", "0"], "seeds must be a positive count"),
    (["compare", "--form", "bogus"], "Invalid form: 'bogus'"),
    (["compare", "--engine", "warp"], "unknown engine 'warp'"),
    (["compare", "--device", "tpu"], "Invalid device: 'tpu'"),
    pytest.param(["compare", "--device", "cuda"], "device 'cuda' is not available", marks=NO_CUDA),
    (["compare", "--tensorboard", "afile.txt"], "--tensorboard: afile.txt exists and is not a folder"),
    (["compare", "--divergence-factor", "0.5"], "Invalid divergence_factor: 0.5"),
    (["compare", "--bogus"], "No such option: --bogus"),
    (["compare", "--baselines", "adam,lion"], "unknown optimizer 'lion' in 'lion'"),
    (["compare", "--baselines", "adam:lr=-1"], "Invalid learning rate: -1.0"),
    (["compare", "--baselines", "adam:gamma=2"], "expected adam:field=value with a field of lr, beta1"),
    (["compare", "--schedule", "onecycle:pct_start=0"], "Invalid onecycle pct_start: 0 (allowed: 0 < pct_start < 1)"),
    (["compare", "--schedule", "onecycle:total_steps=70"],
     "Invalid schedule total_steps: 70 (allowed: at least the 7500 updates of training)"),
    (["compare", "--momentum-schedules", "sutskever:mu_max=1"], "Invalid sutskever mu_max: 1 (allowed: 0 <= mu_max"),
    (["compare", "--momentum-schedules", "ramp"], "Invalid momentum schedule: 'ramp' (allowed: sutskever, demon)"),
    (["sweep", "short.toml"], "schedule: Invalid schedule total_steps: 5 (allowed: at least the 6 updates"),
    (["velocity", "--batch-size", "0"], "batch_size must be an integer >= 1, got 0"),
    (["velocity", "--dim", "1"], "dim must be an integer >= 2, got 1"),
    (["velocity", "--momentum", "1"], "Invalid momentum value: 1.0"),
    (["velocity", "--out", "afile.txt"], "--out: afile.txt exists and is not a folder"),
    pytest.param(["velocity", "--device", "cuda"], "device 'cuda' is not available", marks=NO_CUDA),
    (["ball", "--form", "bogus"], "Invalid form: 'bogus'"),
    (["ball", "--momentum", "1"], "Invalid momentum value: 1.0 (allowed: 0 <= momentum < 1)"),
    (["ball", "--out", "afile.txt"], "--out: afile.txt exists and is not a folder"),
    (["theory", "--out", "afile.txt"], "--out: afile.txt exists and is not a folder"),
    (["theory", "--lambda-min", "-1"], "need 0 < lambda_min <= lambda_max"),
    (["scratch", "--dtype", "float16"], "--dtype must be float32 or float64"),
    (["scratch", "--momentum", "1.5"], "Invalid momentum value: 1.5"),
    (["reproduce", "lab", "--seeds", "0"], "--seeds must be a positive count, got 0"),
    (["sweep", "binary.toml"], "is not a text (TOML) file"),
    (["sweep", "empty.toml"], "the spec is empty"),
    (["sweep", "missing.toml"], "cannot read spec 'missing.toml'"),
    (["sweep", "spec.toml", "--store", "adir"], "adir is a folder"),
    (["sweep", "spec.toml", "--store", "afile.txt/s.db"], "afile.txt is not a folder"),
    (["sweep", "spec.toml", "--store", "theirs.db"], "theirs.db is not an inertia store"),
    (["sweep", "spec.toml", "--executor", "dask"], "unknown executor 'dask'"),
    (["sweep", "spec.toml", "--tensorboard", "afile.txt"], "--tensorboard: afile.txt exists and is not a folder"),
    pytest.param(["sweep", "spec.toml", "--device", "cuda"], "device 'cuda' is not available", marks=NO_CUDA),
    (["results", "theirs.db"], "theirs.db is not an inertia store (it is an SQLite database with tables notes)"),
    (["results", "empty.db"], "empty.db is not an inertia store (it is an empty file)"),
    (["results", "missing.db"], "no store at missing.db"),
    (["results", "adir"], "adir is a folder, not a store"),
    (["results", "store.db", "--csv", "adir"], "--csv: adir is a folder"),
    (["results", "store.db", "--out", "afile.txt"], "--out: afile.txt exists and is not a folder"),
    (["results", "store.db", "--metric", "f1"], "--metric must be one of"),
    (["results", "store.db", "--baseline", "beta=1"], "baseline names ['beta']"),
    (["report", "adir"], "adir has no summary.json and curves.csv"),
    (["tune", "spec.toml"], "spec.toml: the spec has nothing to search"),
    (["tune", "tune.toml", "--quantile", "0.7"], r"--quantile must be in (0, 0.5], got 0.7"),
    (["tune", "tune.toml", "--method", "halving", "--budget", "1"], "--budget 1 member-epochs buys less than one"),
    (["tune", "tune.toml", "--method", "halving", "--reduction-factor", "1"], "--reduction-factor must be greater"),
    (["tune", "tune.toml", "--retrain-seeds", "1"], "--retrain-seeds must be 0 or at least 2"),
    (["tune", "tune.toml", "--out", "afile.txt"], "--out: afile.txt exists and is not a folder"),
    (["tune", "tune.toml", "--checkpoint-every", "-1"], "--checkpoint-every must be a number of seconds >= 0, got -1"),
    (["tune", "tune.toml", "--store", "afile.txt"], "afile.txt"),
    (["tune", "grid.toml"], "grid.toml: grid.batch_size: is the population's"),
    (["report", "store.db", "--out", "adir"], "--out: adir is a folder"),
    (["report", "missing.db"], "missing.db is neither a compare output folder nor a sweep store"),
]


def digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()} | {
            p.relative_to(folder).as_posix() + "/": "" for p in folder.rglob("*") if p.is_dir()}


@pytest.fixture(scope="module")
def store_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "store.db"
    sweep(TINY, str(path))
    return path


@pytest.fixture
def workspace(tmp_path, store_file, monkeypatch):
    (tmp_path / "afile.txt").write_text("not a folder\n")
    (tmp_path / "adir").mkdir()
    (tmp_path / "bad.csv").write_text("a,b,label\n1,2,0\n3,x,1\n")
    (tmp_path / "binary.toml").write_bytes(bytes(range(256)))
    (tmp_path / "empty.toml").touch()
    (tmp_path / "spec.toml").write_text(SPEC)
    (tmp_path / "tune.toml").write_text(SPEC + "[random]\ncount = 1\nlr = { log_uniform = [0.01, 1.0] }\n")
    (tmp_path / "grid.toml").write_text(SPEC + "[grid]\nbatch_size = [5, 10]\n")
    (tmp_path / "short.toml").write_text(SHORT_ONECYCLE)
    (tmp_path / "empty.db").touch()
    theirs = sqlite3.connect(tmp_path / "theirs.db")
    theirs.execute("CREATE TABLE notes (text TEXT)")
    theirs.commit()
    theirs.close()
    shutil.copy(store_file, tmp_path / "store.db")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("args", "message"), CASES,
                         ids=[" ".join((c.values if hasattr(c, "values") else c)[0]) for c in CASES])
def test_bad_input_exits_2_with_one_plain_line_and_touches_nothing(workspace, args, message):
    before = digest(workspace)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.output and result.stdout == ""
    assert digest(workspace) == before


def test_user_text_is_printed_literally_never_as_markup(tmp_path, monkeypatch):
    from inertia import data

    def missing(*args, **kwargs):
        raise ImportError("digits() needs scikit-learn: pip install 'inertia[digits]'")

    monkeypatch.setattr(data, "digits", missing)
    result = CliRunner().invoke(app, ["compare", "--dataset", "digits", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "pip install 'inertia[digits]'" in result.stderr
    odd = tmp_path / "we[/]ird [bold]path"
    result = CliRunner().invoke(app, ["compare", "--momenta", "0", "--seeds", "1", "--epochs", "1", "--no-plots",
                                      "--no-report", "--out", str(odd)])
    assert result.exit_code == 0, result.output
    assert "we[/]ird [bold]path" in " ".join(result.stdout.split()) and (odd / "table.csv").is_file()


def test_compare_replaces_its_own_files_and_leaves_others_alone(tmp_path):
    args = ["compare", "--momenta", "0,0.5", "--seeds", "1", "--epochs", "2", "--out", str(tmp_path)]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert {"loss.png", "decision_regions.png", "report.html"} <= {p.name for p in tmp_path.iterdir()}
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "extra.png").write_text("also mine")
    assert CliRunner().invoke(app, [*args, "--no-plots", "--no-report"]).exit_code == 0
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {"table.csv", "curves.csv", "summary.json", "regions.json", "notes.txt", "extra.png",
                    ".inertia.json"}
    manifest = json.loads((tmp_path / ".inertia.json").read_text())
    assert manifest == {"kind": "compare", "files": ["curves.csv", "regions.json", "summary.json", "table.csv"]}
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert sorted(summary["files"]) == ["curves", "regions", "summary", "table"]


LIGHT = """
import sys
from inertia.cli import app
code = app({args!r}, standalone_mode=False)
print(code, sorted(m for m in ("torch", "numba", "matplotlib") if m in sys.modules))
"""


@pytest.mark.parametrize("args", [["compare", "--lr", "-1"], ["compare", "--layers", "3,10,3"],
                                  ["batch-study", "--lrs", "0.1,-1"],
                                  ["schedule-study", "--test-seeds", "1"], ["functions", "beale", "--steps", "0"],
                                  ["landscape", "--grid", "1"], ["landscape", "no-such-run-folder"],
                                  ["velocity", "--momentum", "2"], ["tune", "no-such.toml"],
                                  ["tune", "x.toml", "--method", "bayes"],
                                  ["compare", "--dataset", "nope"]], ids=" ".join)
def test_a_bad_argument_is_refused_before_torch_loads(args):
    """What a newcomer mistypes is refused in well under a second: before torch, numba or matplotlib load."""
    out = subprocess.run([sys.executable, "-c", LIGHT.format(args=args)], capture_output=True, text=True, timeout=60)
    assert out.stdout.split("\n")[0] == "2 []", (out.stdout, out.stderr)
    assert out.stderr.startswith("Error: ") and out.stderr.count("\n") == 1


def test_a_piped_command_says_what_it_does_in_plain_lines_and_nothing_under_json(tmp_path):
    args = [sys.executable, "-m", "inertia", "compare", "--epochs", "3", "--seeds", "2", "--momenta", "0,0.5",
            "--no-plots", "--no-report", "--out", str(tmp_path)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=300)
    lines = out.stderr.splitlines()
    assert lines[0] == "inertia compare: 2 momenta × 2 seeds × 3 epochs on spiral", out.stderr
    assert any(line.endswith(" s") and "of 12 epochs (" in line for line in lines[1:]), out.stderr
    quiet = subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 0 and "epochs (" not in quiet.stderr and "inertia compare:" not in quiet.stderr
