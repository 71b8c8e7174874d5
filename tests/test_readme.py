"""The README as a newcomer runs it: every command and Python snippet in it, read from the README itself, run in a
fresh folder; every result it quotes regenerated and compared; every time it quotes taken from the benchmark that
measured it.

Commands are the lines of ```bash blocks (one block's commands in order, in one folder holding a copy of
``examples/``) and every `inertia ...` span in the text. ``pip install`` lines are what CI runs (checked against
``.ci/run``), and the test command is this suite; the spans in SKIPPED are not run, each for the reason given.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()

# `inertia ...` spans of the README's prose that are not run here, and why.
SKIPPED = {
    "inertia lab": "serves until stopped; tests/test_lab.py drives it in a browser",
    "inertia sweep --retry-failed": "a flag of `inertia sweep SPEC`; tests/test_sweep.py runs it",
    "inertia results": "the command's name; its use is in a block above",
    "inertia batch-study": "a block above runs it (with --out runs/spiral)",
    "inertia schedule-study": "a block above runs it (with --out runs/schedules-spiral)",
    "inertia functions rosenbrock": "a block below runs it (with --out runs/functions)",
    "inertia landscape": "a block below runs it (with --out runs/landscape)",
    "inertia tune-study": "a block below runs it (with --out runs/tune-spiral)",
}


def fenced(language: str) -> list[tuple[int, str]]:
    """The README's ```language blocks: (line number, text)."""
    blocks, lines = [], README.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == f"```{language}":
            start = i + 1
            i += 1
            while lines[i].strip() != "```":
                i += 1
            blocks.append((start + 1, "\n".join(lines[start:i])))
        i += 1
    return blocks


def commands(block: str) -> list[str]:
    """A bash block's commands: continuation lines joined, comments dropped, ``a && b`` split."""
    joined = re.sub(r"\\\n\s*", " ", block)
    out = []
    for line in joined.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line and not line.startswith("#"):
            out += [part.strip() for part in line.split("&&")]
    return out


def spans() -> list[str]:
    """Every `inertia ...` code span of the prose that is a whole command (no PLACEHOLDER in capitals)."""
    prose = re.sub(r"```.*?```", "", README, flags=re.S)
    found = []
    for span in re.findall(r"`(inertia [^`]+)`", prose):
        if re.search(r"\b[A-Z]{2,}\b", span) or span in found:
            continue
        found.append(span)
    return found


BASH = fenced("bash")
PYTHON = fenced("python")
SPANS = spans()


@pytest.fixture
def folder(tmp_path):
    """A fresh working folder with the examples, as in a clone."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    return tmp_path


def run(command: str, cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    argv = shlex.split(command)
    if argv[0] == "inertia":
        argv = [sys.executable, "-m", "inertia", *argv[1:]]
    elif argv[:1] == ["python"]:
        argv[0] = sys.executable
    env = {**os.environ, "PYTHONPATH": str(cwd)}  # a --model module:function in the folder imports, as from a shell
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def run_and_check(command: str, folder: Path) -> None:
    """Run ``command`` and every check of what the README says it gives (CHECKS, below)."""
    done = run(command, folder)
    for check in CHECKS.get(command, ()):
        check(done, folder)


def test_the_readme_has_what_this_test_reads():
    assert len(BASH) >= 4 and len(PYTHON) >= 4 and len(SPANS) >= 10
    assert "inertia compare --lr 1e6" in SPANS and "inertia lab" in SPANS
    assert set(SKIPPED) <= set(SPANS), set(SKIPPED) - set(SPANS)


def test_install_lines_are_what_ci_runs():
    """The first screen installs torch 2.13.0 first, then the package; CI does the same, then the test command."""
    ci = (ROOT / ".ci" / "run").read_text()
    first = commands(BASH[0][1])
    installs = [c for c in first if c.startswith("pip install")]
    assert installs == ["pip install torch==2.13.0 -e .", "pip install torch==2.13.0 -e '.[dev]'"]
    assert "pip install --quiet torch==2.13.0" in ci and "-e '.[dev" in ci
    test_command = next(c for c in first if "pytest" in c)
    assert test_command == 'python -m pytest -m "not slow"'
    assert 'python -m pytest -q -m "not slow"' in ci


@pytest.mark.slow
@pytest.mark.parametrize("line, block", BASH, ids=[f"line-{line}" for line, _ in BASH])
def test_every_command_block_runs(line, block, folder):
    for command in commands(block):
        if command.startswith("pip install") or "pytest" in command:
            continue  # test_install_lines_are_what_ci_runs
        run_and_check(command, folder)


IN_BLOCKS = {c for _, block in BASH for c in commands(block)}


@pytest.mark.slow
@pytest.mark.parametrize("command", [s for s in SPANS if s not in SKIPPED and s not in IN_BLOCKS])
def test_every_command_in_the_text_runs(command, folder):
    run_and_check(command, folder)


@pytest.mark.slow
@pytest.mark.parametrize("line, snippet", PYTHON, ids=[f"line-{line}" for line, _ in PYTHON])
def test_every_python_snippet_runs(line, snippet, folder):
    script = folder / "snippet.py"
    script.write_text(snippet)
    run(f"python {script}", folder)


# What the README says a command gives, checked against what it gave.


def _quoted_block(after: str) -> str:
    """The README's plain ``` block that follows the text ``after``."""
    rest = README.split(after, 1)[1]
    return rest.split("```\n", 1)[1].split("\n```", 1)[0]


NUMBER = r"[-+]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?"


def figures_match(quoted: str, text: str) -> None:
    """``quoted`` appears in ``text`` word for word (spacing aside), with every number equal to the precision it
    is quoted to (a last digit may round either way on another CPU)."""
    quoted, text = " ".join(quoted.split()), " ".join(text.split())
    pattern = "".join(f"({NUMBER})" if i % 2 else re.escape(part)
                      for i, part in enumerate(re.split(f"({NUMBER})", quoted)))
    candidates = list(re.finditer(pattern, text))  # the same words may recur with other numbers (another momentum)
    assert candidates, f"the README quotes\n  {quoted}\nwhich is not in\n  {text[:3000]}"
    numbers = re.findall(NUMBER, quoted)
    off = [[(a, b) for a, b in zip(numbers, found.groups()) if not _within_last_digit(a, b)] for found in candidates]
    assert any(not o for o in off), f"README {quoted}\nnow (README figure, now): {min(off, key=len)}"


def _within_last_digit(a: str, b: str) -> bool:
    """Whether ``b`` equals ``a`` to the precision ``a`` is written with, give or take one in the last digit."""
    x, y = (float(v.replace(",", "")) for v in (a, b))
    mantissa = a.lower().split("e")[0]
    places = len(mantissa.split(".")[1]) if "." in mantissa else 0
    scale = 10.0 ** int(a.lower().split("e")[1]) if "e" in a.lower() else 1.0
    return abs(x - y) <= 10.0**-places * scale * 1.0001


def _effective_lr_sentences(done, folder):
    figures_match(_quoted_block("On the lab's own setting none does"), done.stdout)


def _report_sentence(done, folder):
    readme = " ".join(README.split())
    sentence = re.search(r'\("(momentum 0\.4 ends with lower full-data loss[^"]+)"\)', readme).group(1)
    figures_match(sentence, (folder / "inertia-out" / "compare" / "report.html").read_text())


def _diverged(done, folder):
    assert "5/5" in done.stdout and "diverged" in done.stdout


def _claims_table(header: str, results: list[list[dict]]):
    """The README table under ``header``: row i, column j+1 is 'holds: evidence' of results[j][i]."""
    table = README.split(header, 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    assert len(table) == len(results[0])
    for row, claims in zip(table, zip(*results)):
        cells = [c.strip() for c in row.strip("|").split("|")][1:]
        assert len(cells) == len(claims), row
        for cell, claim in zip(cells, claims):
            verdict = "holds" if claim["holds"] else "**does not hold**"
            figures_match(cell, f"{verdict}: {claim['evidence']}")


def _nqm(done, folder):
    claims = json.loads((folder / "inertia-out" / "nqm" / "nqm.json").read_text())["claims"]
    _claims_table("| the paper's claim | on the NQM |", [[{"holds": v["holds"], "evidence": v["evidence"]}
                                                           for v in claims.values()]])


def _batch_studies(done, folder):
    results = [json.loads((folder / "runs" / name / "batch_study.json").read_text())["claims"]
               for name in ("spiral", "mnist1d")]
    _claims_table("| the NQM's prediction |", results)


CHECKS = {
    "inertia compare --hold effective-lr": [_effective_lr_sentences],
    "inertia compare": [_report_sentence],
    "inertia compare --lr 1e6": [_diverged],
    "inertia reproduce nqm": [_nqm],
}


def _after_both_studies(done, folder):
    if (folder / "runs" / "spiral" / "batch_study.json").exists():
        _batch_studies(done, folder)


for _command in (c for _, b in BASH for c in commands(b) if c.startswith("inertia batch-study --dataset mnist1d")):
    CHECKS[_command] = [_after_both_studies]


SCHEDULE_TABLE = "| schedule, held-out metric |"


def _schedule_studies(done, folder):
    """The README's table of schedule studies: every difference the studies give now lies in the interval quoted
    (a statistical tolerance: another CPU's float32 rounding moves a run, not the conclusion), the references are
    the ones named, and the sentences about overfitting on MNIST-1D still describe the full-data columns."""
    spiral, mnist1d = (json.loads((folder / "runs" / f"schedules-{name}" / "schedule_study.json").read_text())
                       for name in ("spiral", "mnist1d"))
    assert (spiral["best_constant"], spiral["hindsight_constant"]) == ("β = 0.5", "β = 0.9")
    assert mnist1d["best_constant"] == mnist1d["hindsight_constant"] == "β = 0.9"
    columns = [(spiral, "validation"), (spiral, "hindsight"), (mnist1d, "validation")]
    rows = README.split(SCHEDULE_TABLE, 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    assert len(rows) == 6
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        arm, metric = (part.strip() for part in cells[0].split(","))
        for cell, (study, chosen_by) in zip(cells[1:], columns, strict=True):
            _, low, high = (float(v) for v in re.findall(NUMBER, cell))
            now = next(p for p in study["paired"] if p["arm"] == arm and p["chosen_by"] == chosen_by
                       and p["metric"] == f"test_{metric}")
            scale = 100 if metric == "accuracy" else 1
            assert low <= scale * now["difference"] <= high, (arm, metric, chosen_by, cell, now)
    table = {row["arm"]: row for row in mnist1d["table"]}
    gaps = [row["train_accuracy"] - row["test_accuracy"] for row in table.values()]
    assert min(gaps) >= 0.10 and max(gaps) <= 0.30, gaps  # "full-data accuracy 10–30 points above held-out"
    assert max(table, key=lambda arm: table[arm]["train_accuracy"]) == "Demon"
    assert max(("one-cycle", "Sutskever", "Demon"), key=lambda arm: table[arm]["test_loss"]) == "Demon"


for _command in (c for _, b in BASH for c in commands(b) if c.startswith("inertia schedule-study --dataset mnist1d")):
    CHECKS[_command] = [_schedule_studies]


def _functions_table(done, folder):
    """The README's Rosenbrock table is the command's (float64 NumPy arithmetic: the same bits on any x86-64 CPU),
    and SGD's tuning runs stay under 5 % at every rate."""
    summary = json.loads((folder / "runs" / "functions" / "functions.json").read_text())
    from inertia.studies.functions import label

    rows = README.split("| optimizer | lr | success (95 % CI) |", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    assert len(rows) == len(summary["table"])
    for quoted, row in zip(rows, summary["table"], strict=True):
        steps = f"{row['steps_to_eps']:.0f} ({row['steps_low']:.0f}–{row['steps_high']:.0f})"
        now = (f"| {label(row['optimizer'])} | {row['lr']:.3g} | {row['success']:.3f} ({row['success_low']:.3f}–"
               f"{row['success_high']:.3f}) | {steps} | {row['diverged']}/{row['runs']} |")
        figures_match(quoted, now)
    assert max(summary["tuning"]["sgd"]) < 0.05


CHECKS["inertia functions rosenbrock --out runs/functions"] = [_functions_table]


def _landscape(done, folder):
    """The README's landscape figures are the command's, each within 5 % (float32 training: another CPU's
    rounding moves the run a little, not the picture), and the line from SGD's solution to momentum's falls
    all the way."""
    summary = json.loads((folder / "runs" / "landscape" / "landscape.json").read_text())
    text = " ".join(README.split("inertia landscape --out runs/landscape", 1)[1].split("![", 1)[0].split())
    quoted = re.search(r"explain ([\d.]+) % and ([\d.]+) %.*median gaps ([\d.]+) and ([\d.]+) nats.*SGD's less "
                       r"so \(([\d.]+)\); all three start ([\d.]+) nats off.*falls all the way \(([\d.]+) to "
                       r"([\d.]+) nats", text)
    gaps, final = summary["gaps"], summary["final_loss"]
    now = [100 * summary["explained"][0], 100 * summary["explained"][1], gaps["momentum"]["median"],
           gaps["Nesterov"]["median"], gaps["SGD"]["median"], gaps["SGD"]["max"], final["SGD"], final["momentum"]]
    for said, value in zip(quoted.groups(), now, strict=True):
        assert float(said) == pytest.approx(value, rel=0.05), (said, value)
    line = summary["lines"]["SGD's solution → momentum's"]
    between = [v for a, v in zip(line["alpha"], line["loss"], strict=True) if 0 <= a <= 1]
    assert all(later < earlier for earlier, later in itertools.pairwise(between))  # "falls all the way"
    assert np.load(folder / "runs" / "landscape" / "surface.npz")["checkpoints_SGD"].shape[0] == 51
    trajectories = (folder / "runs" / "landscape" / "trajectories.csv").read_text().splitlines()
    assert len(trajectories) == 1 + 3 * 51


CHECKS["inertia landscape --out runs/landscape"] = [_landscape]


def _run_landscape(done, folder):
    """A comparison's landscape: every momentum's first-seed run traced again as the folder's curves say it went,
    drawn into the folder, whose report gains the section."""
    run = folder / "runs" / "short"
    summary = json.loads((run / "landscape" / "landscape.json").read_text())
    assert set(summary["config"]["reproduced"]) == {f"momentum {m:g}" for m in (0, 0.1, 0.2, 0.4, 0.5)}
    assert max(summary["config"]["reproduced"].values()) <= 1e-4 and "differs from" not in done.stdout
    assert "The loss landscape the runs travel" in (run / "report.html").read_text()


CHECKS["inertia landscape runs/short"] = [_run_landscape]


def _tunings_listed(done, folder):
    """The two tunings the block ran are in the store, finished, each with every decision it made."""
    assert "runs/tune.db: 2 tunings" in done.stdout, done.stdout
    for name in ("pbt", "halving"):
        made = json.loads((folder / "inertia-out" / "tune" / f"tune-{name}" / "tune.json").read_text())
        assert made["id"] in done.stdout and len(made["records"]) > 1


CHECKS["inertia results runs/tune.db"] = [_tunings_listed]


def _benchmark(name: str) -> dict:
    return json.loads((ROOT / "benchmarks" / "results" / f"{name}.json").read_text())


def _row(result: dict, name: str) -> dict:
    return next(row for row in result["rows"] if row["name"] == name)


# Each figure the README quotes from a benchmark: a label, the text around it (a regular expression whose group is
# the figure) and the benchmark's value.
STUDIES, OWN, LAB, POPULATION = "studies-cpu", "own_model-cpu", "lab-cpu", "population-cpu-xeon"
HOST, FUNCTIONS, LANDSCAPE = "host_work-cpu", "functions-cpu", "landscape-cpu"
MODULE_PATH = "landscape-module-cpu"


def _study(name: str, key: str = "seconds"):
    return lambda: _row(_benchmark(STUDIES), name)[key]


def _speedup(data: str):
    rate = lambda engine: _row(_benchmark(OWN), f"mlp on {data}, {engine}")["model_epochs_per_second"]  # noqa: E731
    return lambda: rate("population") / rate("loop")


FIGURES = [
    ("compare --hold", r"\(([\d.]+) s for the 45 runs", _study("compare_hold")),
    ("compare", r"against ([\d.]+) s for the 25 of a plain `compare`", _study("compare")),
    ("compare bare", r"takes a plain `compare` down to ([\d.]+) s", _study("compare_bare")),
    ("nqm", r"exactly \(([\d.]+) s, [\d.]+ s of it the search\)", _study("nqm")),
    ("nqm search", r"exactly \([\d.]+ s, ([\d.]+) s of it the search\)",
     lambda: _benchmark(STUDIES)["nqm_search_seconds"]),
    ("sweep", r"configurations\) runs in ([\d.]+) s", _study("sweep")),
    ("velocity", r"epochs per way\) takes ([\d.]+) s", _study("velocity")),
    ("batch-study model-epochs", r"The first trains ([\d,]+) model-epochs", _study("batch_study", "model_epochs")),
    ("batch-study", r"model-epochs in ([\d.]+) s \(report included\)", _study("batch_study")),
    ("schedule study, spiral", r"The first \(100 epochs, batch 20\) takes ([\d.]+) s", _study("schedule_study")),
    ("schedule study, MNIST-1D", r"a deeper network\) ([\d.]+) s", _study("schedule_study_mnist1d")),
    ("functions study", r"`function_study\(\"rosenbrock\"\)` takes ([\d.]+) s here",
     lambda: _benchmark(FUNCTIONS)["study_s"]),
    ("functions workload", r"1,000 steps\) take ([\d.]+) s, which", lambda: _benchmark(FUNCTIONS)["workload_s"]),
    ("functions torch loop", r"would take about ([\d,]+) s for", lambda: _benchmark(FUNCTIONS)["torch_loop_s_scaled"]),
    ("functions speedup", r"for \(([\d,]+)× faster", lambda: _benchmark(FUNCTIONS)["speedup"]),
    ("landscape lab", r"The surface alone takes ([\d.]+) s for this network",
     lambda: _benchmark(LANDSCAPE)["rows"]["lab"]["surface_s"]),
    ("landscape mnist1d", r"s for this network and ([\d.]+) s for `\[40, 100, 100, 10\]`",
     lambda: _benchmark(LANDSCAPE)["rows"]["mnist1d"]["surface_s"]),
    ("landscape lab loop", r"against ([\d.]+) s and [\d.]+ s one model at a time",
     lambda: _benchmark(LANDSCAPE)["rows"]["lab"]["loop_s_scaled"]),
    ("landscape mnist1d loop", r"against [\d.]+ s and ([\d.]+) s one model at a time",
     lambda: _benchmark(LANDSCAPE)["rows"]["mnist1d"]["loop_s_scaled"]),
    ("landscape, any module, lab", r"that path takes ([\d.]+)× the MLP path's time",
     lambda: _benchmark(MODULE_PATH)["rows"]["lab"]["slowdown"]),
    ("landscape, any module, mnist1d", r"the MLP path's time for the lab's network and ([\d.]+)× for",
     lambda: _benchmark(MODULE_PATH)["rows"]["mnist1d"]["slowdown"]),
    ("cnn rate", r"CNN trains ([\d.]+) model-epochs per second",
     lambda: _row(_benchmark(OWN), "cnn on digits")["model_epochs_per_second"]),
    ("population vs loop, digits", r"it is (\d+)× faster on the digits", _speedup("digits")),
    ("population vs loop, spiral", r"and (\d+)× on the spiral", _speedup("spiral")),
    ("cnn example", r"so the 150 model-epochs above take about (\d+) s",
     lambda: 150 / _row(_benchmark(OWN), "cnn on digits")["model_epochs_per_second"]),
    ("lab first curves", r"the first curves are drawn ([\d.]+) s after a change",
     lambda: _benchmark(LAB)["browser"]["first_redraw_s"]["median"]),
    ("lab complete", r"regions and table drawn, after ([\d.]+) s",
     lambda: _benchmark(LAB)["browser"]["finished_s"]["median"]),
    ("lab server", r"the server has it all sent after ([\d.]+) s", lambda: _benchmark(LAB)["wire"]["done_s"]["median"]),
    ("population, seed lab", r"lab's five runs take ([\d.]+) s",
     lambda: _benchmark(POPULATION)["notebook"]["inertia_compare_s"]),
    ("notebook, seed lab", r"instead of the notebook's ([\d.]+) s",
     lambda: _benchmark(POPULATION)["notebook"]["notebook_protocol_s"]),
    ("host work", r"100,000 lab members cost ([\d.]+) µs each on the host",
     lambda: next(r for r in _benchmark(HOST)["members"] if r["size"] == 100_000)["columns"]["host_us_per_member"]),
    ("population rate", r"a population of 1,000 members trains ([\d,]+) model-epochs per second",
     lambda: next(r for r in _benchmark(POPULATION)["scaling"] if r["size"] == 1000)["model_epochs_per_s"]),
]


@pytest.mark.parametrize("label, pattern, value", FIGURES, ids=[label for label, _, _ in FIGURES])
def test_figures_quoted_are_the_benchmarks(label, pattern, value):
    """Each time and rate the README quotes is what the benchmark that measured it wrote, to the digits quoted."""
    found = re.search(pattern, " ".join(README.split()))
    assert found, pattern
    quoted = found.group(1).replace(",", "")
    places = len(quoted.split(".")[1]) if "." in quoted else 0
    assert float(quoted) == round(value(), places), (pattern, quoted, value())


def test_the_machine_the_times_were_taken_on_is_named():
    for name in (STUDIES, OWN, LAB, POPULATION, HOST):
        result = _benchmark(name)
        machine = result.get("machine") or result.get("cpu")
        assert (machine["cpu"] if isinstance(machine, dict) else machine) in README


TUNE_TABLE = "| tuner | spiral: held-out loss | spiral: held-out accuracy |"


def _tune_studies(done, folder):
    """The README's table of tuners: every mean the studies give now lies in the 95 % interval quoted (a statistical
    tolerance: another CPU's float32 rounding can move a ranking, and so a choice, not the conclusion)."""
    studies = [json.loads((folder / "runs" / f"tune-{name}" / "tune_study.json").read_text())
               for name in ("spiral", "mnist1d")]
    rows = README.split(TUNE_TABLE, 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    assert len(rows) == 3
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        method = cells[0]
        for cell, (study, metric) in zip(cells[1:], itertools.product(studies, ("loss", "accuracy")), strict=True):
            _, low, high = (float(v) for v in re.findall(NUMBER, cell))
            now = next(r for r in study["table"] if r["method"] == method)[metric]
            assert low <= now <= high, (method, metric, cell, now)
    for study in studies:  # PBT's choice best; every winner's effective rate lr / (1 - β) ends lower than it began
        table = {r["method"]: r for r in study["table"]}
        assert table["pbt"]["loss_high"] < table["random"]["loss_low"]
        assert table["pbt"]["loss"] == min(row["loss"] for row in table.values())
        for run in (r for r in study["runs"] if r["method"] == "pbt"):
            first, last = run["schedule"][0], run["schedule"][-1]
            assert last["lr"] / (1 - last["momentum"]) < first["lr"] / (1 - first["momentum"]), run


for _command in (c for _, b in BASH for c in commands(b) if c.startswith("inertia tune-study --dataset mnist1d")):
    CHECKS[_command] = [_tune_studies]


TUNE, OPTUNA = "tune-cpu", "tune-optuna-cpu"
OPTUNA_TABLE = "| data set | tuner | held-out loss (95 % CI) | held-out accuracy (95 % CI) |"


def test_the_tuning_figures_are_the_benchmarks():
    """The bookkeeping shares and the Optuna table the README quotes are what the benchmarks wrote; a tuning's
    bookkeeping is under 2 % of its wall time in each case."""
    rows = _benchmark(TUNE)["rows"]
    quoted = re.search(r"PBT ([\d.]+) %, recorded in a store as the command does it ([\d.]+) %, checkpointed after "
                       r"every round ([\d.]+) %, halving ([\d.]+) %; the same members trained straight through, "
                       r"([\d.]+) %", " ".join(README.split()))
    for said, name in zip(quoted.groups(), ("pbt", "pbt+store", "pbt+every", "halving", "straight"), strict=True):
        assert float(said) == round(100 * rows[name]["bookkeeping_share"], 1), (name, said)
        assert rows[name]["bookkeeping_share"] < 0.02, name
    coarse = [round(100 * row["outside_engine_share"], 1) for name, row in rows.items() if name != "straight"]
    assert re.search(r"counted in: ([\d.]+)–([\d.]+) %", " ".join(README.split())).groups() == (
        str(min(coarse)), str(max(coarse)))
    result = _benchmark(OPTUNA)
    table = README.split(OPTUNA_TABLE, 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    expected = []
    for name, data_set in result["datasets"].items():
        for method, row in data_set["rows"].items():
            expected.append(f"| {'spiral' if name == 'spiral' else 'MNIST-1D'} | {method} | {row['loss']:.4f} "
                            f"[{row['loss_low']:.4f}, {row['loss_high']:.4f}] | {row['accuracy']:.4f} "
                            f"[{row['accuracy_low']:.4f}, {row['accuracy_high']:.4f}] | {row['seconds']:.2f} | "
                            f"{row['trials']:.0f} |")
    assert table == expected
    ratios = {name: [data_set["rows"]["optuna"]["seconds"] / data_set["rows"][m]["seconds"]
                     for m in ("random", "halving", "pbt")] for name, data_set in result["datasets"].items()}
    assert min(ratios["spiral"]) > 100, ratios
    assert (round(min(ratios["mnist1d"]), 1), round(max(ratios["mnist1d"]), 1)) == tuple(float(v) for v in re.search(
        r"and ([\d.]+)–([\d.]+)× on MNIST-1D, where", " ".join(README.split())).groups()), ratios
