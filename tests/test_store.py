"""The SQLite store: claims that never overlap, stale claims that lapse, atomic and first-wins records."""

import subprocess
import sys
import time

import pytest

from inertia import store as store_module
from inertia.store import Record, Store


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
    code = f"from inertia.store import Store; s = Store({str(path)!r}); print(s.claim(['id0', 'id1']))"
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
