"""A store's tunings (:mod:`inertia.sweeps.tune`): each tuning and every decision it made, recorded once, in the
same SQLite file as a sweep's runs (:mod:`inertia.sweeps.store`); the population as its last decision left it in a
checkpoint file beside the store (``runs/spec.db`` → ``runs/spec.tunings/ID.pickle``), written by a background
thread while the population trains on (:class:`Checkpoints`).

Tables (made when a store first holds a tuning):

- ``tunings``: one row per tuning (its id hashes the spec, the tuner's settings and the engine, so the same
  command finds its tuning again and another setting starts another): the spec and settings as JSON, when it
  started and finished, and when finished a summary (the best member, the member-epochs spent, the seconds).
- ``decisions``: one row per decision (a rung's cut, a PBT round), keyed by tuning and number: its epoch, a short
  JSON summary (members, best score, survivors or exploits, member-epochs and seconds so far) and its arrays as
  NumPy's ``.npz`` bytes (``members``, ``scores``, ``kept``; PBT's exploits as columns ``exploit_member``,
  ``exploit_source``, ...; every hyperparameter after the decision as ``value_NAME``), exact and quick to write
  at thousands of members, where JSON's text for floats is not.

A decision is recorded before the checkpoint that follows it is written, and a resumed tuning rebuilds what it
decided from these rows up to its checkpoint's, so the store and the checkpoint never disagree: a decision made
again after a kill replaces its row (one row per decision, always). While a process tunes it holds the tuning's
claim in the store (renewed from a background thread): a second process on the same tuning is refused.
"""

from __future__ import annotations

import copy
import io
import json
import pickle
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from inertia.folders import writing_file
from inertia.sweeps.space import space_of
from inertia.sweeps.spec import canonical, config_id, load_spec
from inertia.sweeps.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS tunings (
    id TEXT PRIMARY KEY, spec TEXT NOT NULL, settings TEXT NOT NULL, engine TEXT NOT NULL, started REAL NOT NULL,
    finished REAL, summary TEXT
);
CREATE TABLE IF NOT EXISTS decisions (
    tuning TEXT NOT NULL, number INTEGER NOT NULL, epoch INTEGER NOT NULL, summary TEXT NOT NULL,
    arrays BLOB NOT NULL, recorded REAL NOT NULL, PRIMARY KEY (tuning, number)
);
"""


def tuning_id(identity: dict) -> str:
    """The id of a tuning: ``tune-`` and the hash of its spec, settings, engine and device."""
    return "tune-" + config_id(identity)


def begin(store: Store, identity: dict) -> str:
    """Record the tuning ``identity`` describes (once) and claim it for this process; returns its id. A
    ``OSError`` when another live process holds the claim."""
    key = tuning_id(identity)
    store.db.executescript(f"BEGIN IMMEDIATE; {SCHEMA} COMMIT;")
    store.db.execute("INSERT OR IGNORE INTO tunings (id, spec, settings, engine, started) VALUES (?, ?, ?, ?, ?)",
                     (key, canonical(identity["spec"]), canonical(identity["settings"]),
                      f"{identity['engine']} on {identity['device']}", time.time()))
    if not store.claim([key]):
        raise OSError(f"{store.path}: another process is running this tuning ({key}); wait for it, or give "
                           "another store")
    return key


def record(store: Store, key: str, number: int, epoch: int, summary: dict, arrays: dict[str, np.ndarray]) -> None:
    """Record decision ``number`` of tuning ``key`` (replacing the row of a decision made again after a kill)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    store.db.execute("INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, ?, ?, ?)",
                     (key, number, epoch, json.dumps(summary), buffer.getvalue(), time.time()))


def finish(store: Store, key: str, summary: dict) -> None:
    """Mark tuning ``key`` finished with its ``summary`` and give up its claim."""
    from inertia import jsontext

    store.db.execute("UPDATE tunings SET finished = ?, summary = ? WHERE id = ?",
                     (time.time(), jsontext.dumps(summary), key))
    store.release()


def decisions(store: Store, key: str, before: int | None = None) -> list[tuple[dict, dict]]:
    """Tuning ``key``'s decisions in order (those numbered below ``before`` where given): (summary, arrays)."""
    if not _has_tables(store):
        return []
    limit = " AND number < ?" if before is not None else ""
    rows = store.db.execute(f"SELECT summary, arrays FROM decisions WHERE tuning = ?{limit} ORDER BY number",
                            (key,) if before is None else (key, before))
    out = []
    for summary, blob in rows:
        with np.load(io.BytesIO(blob)) as arrays:
            out.append((json.loads(summary), {name: arrays[name] for name in arrays.files}))
    return out


def tunings(store: Store) -> pd.DataFrame:
    """One row per tuning in the store: id, method, the space searched, decisions made, when it started and
    finished, and (finished) its best member's score and hyperparameters."""
    if not _has_tables(store):
        return pd.DataFrame(columns=["id", "method", "searched", "decisions", "started", "finished"])
    rows = []
    for key, settings, spec, started, finished, summary, count in store.db.execute(
            "SELECT id, settings, spec, started, finished, summary, (SELECT COUNT(*) FROM decisions WHERE "
            "tuning = tunings.id) FROM tunings ORDER BY started"):
        settings, searched = json.loads(settings), space_of(load_spec(json.loads(spec))).names
        best = json.loads(summary)["best"] if summary else {}
        rows.append({"id": key, "method": settings["method"], "searched": ", ".join(searched), "decisions": count,
                     "started": started, "finished": finished,
                     **{f"best_{name}": value for name, value in best.items()}})
    return pd.DataFrame(rows)


def checkpoint_path(store: Store, key: str) -> Path:
    """Where tuning ``key``'s checkpoint lives: ``STORE.tunings/ID.pickle`` beside the store."""
    return store.path.with_name(store.path.stem + ".tunings") / f"{key}.pickle"


class Checkpoints:
    """Writes tuning ``key``'s checkpoints beside ``store``, each as one unit (a kill while writing leaves the
    previous one), in the background: :meth:`save` takes a copy of the checkpoint (the population trains on
    meanwhile) and returns while a thread writes it, one write at a time and in order; :meth:`wait` returns once
    the last is written (raising what a write raised, e.g. a full disk), and :meth:`close` waits without raising,
    for a tuning already stopping on an error of its own."""

    def __init__(self, store: Store, key: str):
        self.path = checkpoint_path(store, key)
        self._writing: threading.Thread | None = None
        self._failed: BaseException | None = None

    def save(self, checkpoint: dict) -> None:
        checkpoint = copy.deepcopy(checkpoint)  # its arrays copied: 6x quicker than pickling them here
        self.wait()
        self._writing = threading.Thread(target=self._write, args=(checkpoint,), name="inertia-checkpoint")
        self._writing.start()

    def wait(self) -> None:
        self.close()
        failed, self._failed = self._failed, None
        if failed is not None:
            raise failed

    def close(self) -> None:
        if self._writing is not None:
            self._writing.join()
            self._writing = None

    def _write(self, checkpoint: dict) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with writing_file(self.path) as temporary, open(temporary, "wb") as file:
                pickle.dump(checkpoint, file, protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as error:  # handed to the tuning's thread by wait()
            self._failed = error


def load_checkpoint(store: Store, key: str) -> dict | None:
    path = checkpoint_path(store, key)
    if not path.exists():
        return None
    with open(path, "rb") as file:
        return pickle.load(file)


def _has_tables(store: Store) -> bool:
    return store.db.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'decisions'").fetchone()[0] > 0
