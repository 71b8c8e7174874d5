"""The SQLite store: claims that never overlap, stale claims that lapse, atomic and first-wins records."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from inertia.sweeps import store as store_module
from inertia.sweeps.store import Record, Store


def config(seed):
    return {"optimizer": {"name": "momentum", "lr": 0.1, "momentum": 0.9}, "train": {"epochs": 2},
            "model": {"layers": [2, 4, 3]}, "data": {"name": "spiral"}, "schedule": {"kind": "constant"}, "seed": seed}


def record(i, loss=0.5, status="ok"):
    return Record(f"id{i}", config(i), status, {"final_loss": loss}, {"loss": [1.0, loss]}, 0.1)


def test_claims_skip_finished_and_claimed_runs(tmp_path):
    path = tmp_path / "s.db"
    with Store(path) as a, Store(path) as b:
        assert a.claim(["id0", "id1", "id2"], limit=2) == ["id0", "id1"]
        assert b.claim(["id0", "id1", "id2", "id3"]) == ["id2", "id3"]  # a's claims are live (same process)
        assert a.record([record(0)]) == 1
        assert b.claim(["id0", "id1"]) == []
        a.release()
        assert b.claim(["id0", "id1"]) == ["id1"]  # released by a; id0 is finished


def test_a_dead_process_claims_lapse_at_once(tmp_path):
    path = tmp_path / "s.db"
    code = f"from inertia.sweeps.store import Store; s = Store({str(path)!r}); print(s.claim(['id0', 'id1']))"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)  # claims, then exits
    with Store(path) as db:
        assert db.claim(["id0", "id1"]) == ["id0", "id1"]


def test_expired_leases_lapse(tmp_path):
    path = tmp_path / "s.db"
    holder = Store(path, lease=0.05)
    assert holder.claim(["id0"]) == ["id0"]
    holder.host = "elsewhere"  # a process on another machine: only its lease can tell
    holder.db.execute("UPDATE claims SET host = 'elsewhere'")
    with Store(path) as db:
        assert db.claim(["id0"]) == []
        time.sleep(0.1)
        assert db.claim(["id0"]) == ["id0"]
    holder.close()


def test_the_first_result_is_kept_and_claims_are_released_with_it(tmp_path):
    with Store(tmp_path / "s.db") as db:
        db.claim(["id0"])
        assert db.record([record(0, loss=0.25)]) == 1
        assert db.record([record(0, loss=9.0)]) == 0
        assert db.runs().loc[0, "final_loss"] == 0.25
        assert db.db.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
        assert list(db.history("id0")["loss"]) == [1.0, 0.25]
        with pytest.raises(KeyError, match="no finished run with id 'nope'"):
            db.history("nope")


def test_a_failed_write_records_nothing(tmp_path):
    with Store(tmp_path / "s.db") as db:
        with pytest.raises(ValueError, match="status must be one of"):
            db.record([record(0), record(1, status="weird")])
        assert db.count() == 0


def test_runs_frame_and_open(tmp_path):
    path = tmp_path / "s.db"
    with Store(path) as db:
        nan = float("nan")
        db.record([Record("a", config(3), "diverged", {"final_loss": nan}, {"loss": [1.0, nan]}, 0.2)])
    frame = store_module.open(path).runs()
    row = frame.iloc[0]
    assert (row["lr"], row["momentum"], row["seed"], row["status"]) == (0.1, 0.9, 3, "diverged")
    assert row["final_loss"] != row["final_loss"]  # NaN survives the round trip


def test_a_file_that_is_not_a_store(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("hello, this is not SQLite" * 100)
    with pytest.raises(ValueError, match="is not an inertia store"):
        Store(path)


def digest(folder):
    """Every file under ``folder`` with its bytes' hash: what a read must leave as it was."""
    import hashlib

    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_live_claim_is_renewed_while_its_work_runs_and_lapses_after(tmp_path):
    path = tmp_path / "s.db"
    with Store(path, lease=0.3) as worker, Store(path) as other:
        worker.host = other.host = "elsewhere"  # only the lease can tell, as between machines
        worker.db.execute("UPDATE claims SET host = 'elsewhere'")
        assert worker.claim(["id0"]) == ["id0"]
        worker.db.execute("UPDATE claims SET host = 'elsewhere'")
        with worker.heartbeat(every=0.05):
            time.sleep(1.0)  # three leases long
            assert other.claim(["id0"]) == []
        time.sleep(0.5)
        assert other.claim(["id0"]) == ["id0"]


def test_a_failed_run_may_be_replaced_and_a_result_never(tmp_path):
    with Store(tmp_path / "s.db") as db:
        db.record([record(0, status="failed"), record(1)])
        assert db.claim(["id0", "id1"]) == []
        assert db.claim(["id0", "id1"], retry_failed=True) == ["id0"]
        assert db.record([record(0, loss=0.125), record(1, loss=9.0)]) == 1
        runs = db.runs().set_index("id")
        assert runs.loc["id0", "status"] == "ok" and runs.loc["id0", "final_loss"] == 0.125
        assert runs.loc["id1", "final_loss"] == 0.5
        assert db.finished_ids(retry_failed=True) == {"id0", "id1"}


def test_a_store_marks_itself_and_refuses_any_other_sqlite_file_untouched(tmp_path):
    import sqlite3

    with Store(tmp_path / "ours.db") as db:
        assert db.db.execute("PRAGMA application_id").fetchone()[0] == store_module.APPLICATION_ID
    other = tmp_path / "theirs.db"
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE notes (text TEXT)")
    connection.commit()
    connection.close()
    before = digest(tmp_path)
    for readonly in (False, True):
        with pytest.raises(ValueError, match=r"theirs.db is not an inertia store \(it is an SQLite database with "
                                             r"tables notes\); nothing was changed"):
            Store(other, readonly=readonly)
    assert digest(tmp_path) == before


def test_an_empty_file_is_a_new_store_to_write_but_no_store_to_read(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(ValueError, match=r"not an inertia store \(it is an empty file\)"):
        Store(empty, readonly=True)
    assert empty.stat().st_size == 0 and digest(tmp_path) == {"empty.db": digest(tmp_path)["empty.db"]}
    with Store(empty) as db:
        db.record([record(0)])
    with Store(empty, readonly=True) as db:
        assert db.count() == 1


def test_reading_a_store_writes_nothing(tmp_path):
    path = tmp_path / "s.db"
    with Store(path) as db:
        db.record([record(0), record(1, status="diverged")])
    before = digest(tmp_path)
    with Store(path, readonly=True) as db:
        assert len(db.runs()) == 2 and db.finished_ids() == {"id0", "id1"}
        with pytest.raises(Exception, match="readonly"):
            db.record([record(2)])
    assert digest(tmp_path) == before


def test_a_store_in_a_read_only_folder_can_be_read_not_written(read_only_folder):
    from inertia.sweeps.results import Results

    rw, ro = read_only_folder
    with Store(rw / "s.db") as db:
        db.record([record(0), record(1)])
    before = digest(rw)
    assert len(Results.load(ro / "s.db").runs) == 2
    with Store(ro / "s.db", readonly=True) as db:
        assert db.count() == 2
    with pytest.raises(PermissionError, match="not writable"):
        Store(ro / "s.db")
    with pytest.raises(PermissionError, match="cannot write in"):
        Store(ro / "new.db")
    assert digest(rw) == before


def test_many_processes_creating_the_same_stores_at_once(tmp_path):
    """Eight processes open the same new stores in the same order, as concurrent sweeps do: the first
    connections to a new file race to switch it to write-ahead logging, and SQLite answers one of them
    "database is locked" at once (a deadlock it will not wait out). Opening must try again, not fail."""
    code = ("import sys, time; from inertia.sweeps.store import Record, Store\n"
            "time.sleep(max(0.0, float(sys.argv[3]) - time.time()))  # all start together, imports done\n"
            "for i in range(40):\n"
            "    with Store(f'{sys.argv[1]}/s{i}.db') as db:\n"
            "        run = f'{sys.argv[2]}'\n"
            "        db.claim([run])\n"
            "        db.record([Record(run, {}, 'ok', {}, {}, 0.0)])\n")
    start = str(time.time() + 8)
    processes = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(k), start], stderr=subprocess.PIPE,
                                  text=True) for k in range(8)]
    errors = [p.communicate(timeout=300)[1] for p in processes]
    assert all(p.returncode == 0 for p in processes), [e[-300:] for e in errors if e]
    for i in range(40):
        with Store(tmp_path / f"s{i}.db", readonly=True) as db:
            assert db.count() == 8


SPEC = """
[data]
name = "spiral"
points = 20
[model]
layers = [2, 4, 3]
[train]
epochs = 2
batch_size = 10
seeds = 3
[grid]
lr = [0.05, 0.1, 0.2, 0.4]
momentum = [0.0, 0.9]
"""


def damaged(path: Path, how: str) -> Path:
    """A copy of the store at ``path``: cut in half, or with the first byte of a page three quarters in (its
    b-tree page type) changed, or with one byte changed inside a record's text."""
    data = bytearray(path.read_bytes())
    copy = path.with_name(f"{how}.db")
    if how == "truncated":
        data = data[: len(data) // 2]
    elif how == "flipped":
        data[len(data) // 4096 * 3 // 4 * 4096] ^= 0xFF
    else:
        at = data.index(b'"final_loss": ') + len(b'"final_loss": ')
        data[at] = ord("x")  # the number becomes invalid JSON
    copy.write_bytes(bytes(data))
    return copy


@pytest.mark.parametrize("how", ["truncated", "flipped"])
def test_a_damaged_store_is_one_line_everywhere_and_never_written(tmp_path, how):
    from typer.testing import CliRunner

    from inertia.cli import app

    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    good = tmp_path / "good.db"
    assert CliRunner().invoke(app, ["sweep", str(spec), "--store", str(good)]).exit_code == 0
    bad = damaged(good, how)
    before = bad.read_bytes()
    for args in (["results", str(bad), "--no-plots"], ["report", str(bad)], ["sweep", str(spec), "--store", str(bad)]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1, result.output
        assert f"{bad} is damaged" in result.stderr and "nothing was written" in result.stderr, result.stderr
        assert bad.read_bytes() == before and not bad.with_suffix(".db-wal").exists()


def the_error(stderr):
    """The one line that says what went wrong: the last line on stderr, after any status and progress lines the
    command printed before it found the fault."""
    lines = stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], stderr
    return errors[0]


def test_a_record_that_does_not_read_is_one_line(tmp_path):
    """One byte changed inside a record's text leaves SQLite's structure sound: reading the store says which
    store is damaged, in one line."""
    from typer.testing import CliRunner

    from inertia.cli import app

    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    good = tmp_path / "good.db"
    assert CliRunner().invoke(app, ["sweep", str(spec), "--store", str(good)]).exit_code == 0
    bad = damaged(good, "record")
    for args in (["results", str(bad), "--no-plots"], ["report", str(bad)]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2 and "Traceback" not in result.output, (args, result.output)
        assert f"{bad} is damaged: a record does not read" in the_error(result.stderr)


def test_a_full_disk_is_one_line_and_what_was_recorded_resumes_exactly_once(tmp_path, monkeypatch):
    """SQLite's own limit on the file's size stands in for a full disk: the sweep stops with one line naming the
    store; with room again it records every configuration, each once."""
    from typer.testing import CliRunner

    from inertia.cli import app

    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    path = tmp_path / "s.db"
    connect = store_module._connect

    def small(path, readonly):
        db = connect(path, readonly)
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {max(pages, 8) + 2}")
        return db

    monkeypatch.setattr(store_module, "_connect", small)
    result = CliRunner().invoke(app, ["sweep", str(spec), "--store", str(path), "--group-size", "4"])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    error = the_error(result.stderr)
    assert "no space left to record runs" in error and "recorded before is safe" in error and str(path) in error
    monkeypatch.setattr(store_module, "_connect", connect)
    with Store(path, readonly=True) as db:
        recorded = db.count()
    assert recorded < 24
    assert CliRunner().invoke(app, ["sweep", str(spec), "--store", str(path)]).exit_code == 0
    with Store(path, readonly=True) as db:
        runs = db.runs()
    assert len(runs) == 24 and runs["id"].is_unique
