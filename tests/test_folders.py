"""Result folders written as one unit (inertia.folders): whatever stops a command, the folder holds one run's
complete files; other files are kept; two writers never mix; a full disk leaves nothing partial."""

import errno
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inertia.cli import app
from inertia.folders import MANIFEST, STAGE_MARK, FolderError, writing, writing_file


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with a hash of its bytes (folders as entries of their own)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        out[key] = "folder" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.glob(f".{folder.name}.inertia-*"))


def test_a_folder_is_written_whole_and_keeps_what_is_not_its_results(tmp_path):
    out = tmp_path / "out"
    with writing(out, kind="compare") as folder:
        assert not out.exists() or not any(out.iterdir())  # nothing appears until the end
        (folder.path / "table.csv").write_text("first")
        (folder.path / "loss.png").write_text("figure")
    assert json.loads((out / MANIFEST).read_text()) == {"kind": "compare", "files": ["loss.png", "table.csv"]}
    (out / "notes.txt").write_text("mine")
    (out / "tensorboard").mkdir()
    (out / "tensorboard" / "events").write_text("events")
    with writing(out, kind="compare") as folder:
        (folder.path / "table.csv").write_text("second")
    assert {p.name for p in out.iterdir()} == {"table.csv", "notes.txt", "tensorboard", MANIFEST}
    assert (out / "table.csv").read_text() == "second" and (out / "tensorboard" / "events").read_text() == "events"
    assert leftovers(out) == []
    with writing(out, kind="compare", add=True) as folder:  # a report joins the results without replacing them
        (folder.path / "report.html").write_text("page")
    assert json.loads((out / MANIFEST).read_text())["files"] == ["report.html", "table.csv"]


def test_a_run_stopped_before_the_swap_changes_nothing(tmp_path):
    out = tmp_path / "out"
    with writing(out, kind="compare") as folder:
        (folder.path / "table.csv").write_text("first")
    before = snapshot(out)
    with pytest.raises(KeyboardInterrupt, match=r"Interrupted: .* is unchanged"), writing(out, "compare") as f:
        (f.path / "table.csv").write_text("second")
        raise KeyboardInterrupt
    assert snapshot(out) == before and leftovers(out) == []
    with pytest.raises(ValueError, match="bad input"), writing(tmp_path / "new" / "deeper", kind="compare"):
        raise ValueError("bad input")
    assert not (tmp_path / "new").exists()  # folders it created and nothing filled are gone


def test_a_full_disk_leaves_no_partial_file_and_says_the_folder_is_unchanged(tmp_path):
    out = tmp_path / "out"
    with writing(out, kind="compare") as folder:
        (folder.path / "table.csv").write_text("first")
    before = snapshot(out)
    full = r"No space left on device while writing .*out; .*out is unchanged"
    with pytest.raises(FolderError, match=full), writing(out, kind="compare") as folder:
        (folder.path / "table.csv").write_text("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder.path / "curves.csv"))
    assert snapshot(out) == before and leftovers(out) == []
    target = tmp_path / "store.html"
    target.write_text("old")
    with pytest.raises(OSError), writing_file(target) as temporary:
        temporary.write_text("partial")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_second_writer_or_another_command_is_refused(tmp_path):
    out = tmp_path / "out"
    with writing(out, kind="compare") as folder:
        with pytest.raises(FolderError, match="being written by another inertia command"), writing(out, "compare"):
            pass
        with writing(folder.path, kind="compare") as inner:  # a writer inside the same unit joins it
            assert inner is folder
        (folder.path / "table.csv").write_text("x")
    with pytest.raises(FolderError, match="holds the results of `inertia compare`"), writing(out, "batch-study"):
        pass


def test_the_working_directory_is_never_swapped_away(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FolderError, match="holds the current directory"), writing(".", kind="compare"):
        pass


def test_what_a_killed_writer_left_is_cleared_and_the_users_folders_come_back(tmp_path):
    """A writer killed between the swap and moving the user's folders back left the earlier folder beside the
    new one: the next writer gives the user's entries back and removes the rest."""
    out = tmp_path / "out"
    with writing(out, kind="compare") as folder:
        (folder.path / "table.csv").write_text("new")
    previous = tmp_path / ".out.inertia-stage-1-abc"
    (previous / "tensorboard").mkdir(parents=True)
    (previous / "notes.txt").write_text("mine")
    (previous / "stale.png").write_text("the earlier run's")
    (previous / MANIFEST).write_text(json.dumps({"kind": "compare", "files": ["stale.png"]}))
    unused = tmp_path / ".out.inertia-stage-2-def"  # killed before its swap: never used
    unused.mkdir()
    (unused / STAGE_MARK).touch()
    (unused / "table.csv").write_text("never committed")
    (out / STAGE_MARK).touch()  # killed right after a swap
    with writing(out, kind="compare") as folder:
        (folder.path / "table.csv").write_text("newer")
    assert {p.name for p in out.iterdir()} == {"table.csv", "tensorboard", "notes.txt", MANIFEST}
    assert (out / "table.csv").read_text() == "newer" and leftovers(out) == []


# --- whole commands, stopped at random moments -----------------------------------------------------------------

COMPARE = ["compare", "--seeds", "2", "--epochs", "40"]
STUDY = ["batch-study", "--batch-sizes", "8,64", "--lrs", "0.1,0.5", "--momenta", "0.9", "--seeds", "2",
         "--target", "accuracy=0.6", "--max-steps", "400", "--max-epochs", "20"]


def run(args, **popen):
    return subprocess.Popen([sys.executable, "-m", "inertia", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def compare_run(out: Path) -> tuple:
    """Which comparison ``out`` holds, checked to be one run's complete files: the momenta of its summary, its
    curves and its report agree, and every file its summary lists is there."""
    summary = json.loads((out / "summary.json").read_text())
    momenta = summary["config"]["momenta"]
    assert {Path(p).name for p in summary["files"].values()} <= {p.name for p in out.iterdir()}
    curves = (out / "curves.csv").read_text().splitlines()
    assert {float(line.split(",")[1]) for line in curves[1:]} == set(momenta)
    report = (out / "report.html").read_text()
    assert f"--momenta {','.join(f'{m:g}' for m in momenta)}" in report
    assert json.loads((out / MANIFEST).read_text())["kind"] == "compare"
    return tuple(momenta)


def study_run(out: Path) -> tuple:
    summary = json.loads((out / "batch_study.json").read_text())
    sizes = summary["config"]["batch_sizes"]
    assert f"--batch-sizes {','.join(map(str, sizes))}" in (out / "report.html").read_text()
    trials = (out / "trials.csv").read_text().splitlines()
    column = trials[0].split(",").index("batch_size")
    assert {int(float(line.split(",")[column])) for line in trials[1:]} == set(sizes)
    return tuple(sizes)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["compare", "batch-study"])
def test_a_command_stopped_at_any_moment_leaves_one_runs_complete_files(kind, tmp_path):
    """Over an earlier complete run, the same command with other settings (different at every trial) is stopped
    by SIGINT or SIGKILL at random moments (importing, training, writing): the folder then holds the run that was
    there or the new one, whole, the user's file beside it, and the next run cleans up after a kill."""
    out = tmp_path / "out"
    if kind == "compare":
        settings = [[*COMPARE, "--momenta", f"0,{m}"] for m in ("0.5", "0.9", "0.7")]
        which, held_by = compare_run, [(0.0, 0.5), (0.0, 0.9), (0.0, 0.7)]
    else:
        settings = [[*STUDY[:2], sizes, *STUDY[3:]] for sizes in ("8,64", "4,32", "16,128")]
        which, held_by = study_run, [(8, 64), (4, 32), (16, 128)]
    started = time.perf_counter()
    assert run([*settings[0], "--out", str(out)]).wait() == 0
    duration = time.perf_counter() - started
    (out / "notes.txt").write_text("mine")
    rng = random.Random(0)
    outcomes = []
    for trial in range(8):
        sig = (signal.SIGINT, signal.SIGKILL)[trial % 2]
        current, new = which(out), 1 + trial % 2
        process = run([*settings[new], "--out", str(out)])
        time.sleep(rng.uniform(0.3, duration * 1.1))
        process.send_signal(sig)
        _, err = process.communicate()
        if process.returncode not in (0, -signal.SIGKILL, -signal.SIGINT):  # (-SIGINT: stopped as Python started)
            assert sig == signal.SIGINT and process.returncode == 130, err
            assert err.strip().splitlines()[-1] in ("Interrupted.", f"Interrupted: {out} is unchanged."), err
        held = which(out)
        assert held in (current, held_by[new]) and (out / "notes.txt").read_text() == "mine"
        outcomes.append("unchanged" if held == current else "replaced")
    assert "unchanged" in outcomes, outcomes  # some stops landed before the swap
    assert run([*settings[0], "--out", str(out), "--json"]).wait() == 0
    assert which(out) == held_by[0] and (out / "notes.txt").read_text() == "mine" and leftovers(out) == []


@pytest.mark.slow
def test_a_kill_just_after_the_swap_still_leaves_a_whole_run_and_the_users_files(tmp_path):
    """The one moment the folder is not one unit with its surroundings: the new results are in place and the
    user's folders not yet moved back. A writer killed there leaves a whole run; the next one restores them."""
    out = tmp_path / "out"
    assert run([*COMPARE, "--momenta", "0,0.5", "--out", str(out)]).wait() == 0
    (out / "tensorboard").mkdir()
    (out / "tensorboard" / "events").write_text("events")
    killer = ("import os, signal, inertia.folders as f; swap = f._swap\n"
              "def dying(stage, final):\n    previous = swap(stage, final); os.kill(os.getpid(), signal.SIGKILL)\n"
              "f._swap = dying\nfrom inertia.cli import app\n"
              f"app({[*COMPARE, '--momenta', '0,0.9', '--out', str(out)]!r})")
    assert subprocess.run([sys.executable, "-c", killer], capture_output=True).returncode == -signal.SIGKILL
    assert compare_run(out) == (0.0, 0.9) and not (out / "tensorboard").exists()
    assert run([*COMPARE, "--momenta", "0,0.2", "--out", str(out)]).wait() == 0
    assert compare_run(out) == (0.0, 0.2) and (out / "tensorboard" / "events").read_text() == "events"
    assert leftovers(out) == []


@pytest.mark.slow
def test_three_writers_of_one_folder_end_with_one_whole_run_or_clear_refusals(tmp_path):
    out = tmp_path / "out"
    processes = [run([*COMPARE, "--momenta", f"0,{m}", "--out", str(out)]) for m in (0.2, 0.4, 0.9)]
    results = [(p.wait(), p.stderr.read()) for p in processes]
    refused = [err for code, err in results if code == 2]
    assert all("is being written by another inertia command" in err for err in refused), results
    assert len(refused) < 3 and all(code in (0, 2) for code, _ in results)
    assert compare_run(out) in {(0.0, 0.2), (0.0, 0.4), (0.0, 0.9)} and leftovers(out) == []


def test_compare_refuses_a_folder_holding_a_batch_study(tmp_path):
    (tmp_path / "batch_study.json").write_text("{}")
    result = CliRunner().invoke(app, ["compare", "--seeds", "1", "--epochs", "1", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "holds the results of `inertia batch-study`" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["batch_study.json"]
