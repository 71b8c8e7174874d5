"""The results store: one SQLite file per sweep (or shared by several), safe to kill and to share.

Tables:

- ``runs``: one row per finished configuration (id, config, status ``ok`` / ``diverged`` / ``failed``, error,
  summary, per-epoch history, seconds). A row is written in the same transaction that releases its claim, so
  a run is either wholly recorded or not at all; ``INSERT OR IGNORE`` on the id keeps the first result.
- ``claims``: which process is running which configuration. A process claims configurations in one
  ``BEGIN IMMEDIATE`` transaction (SQLite lets one writer in at a time), so two processes never claim the
  same one. A claim lapses when its lease expires or when its process is gone (same host), so a run killed
  mid-way is run again on resume, and never counted twice.
- ``attempts``: every claim ever made, for auditing (how often a configuration was started).
- ``specs``: the specs swept into this store, for reports.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from inertia.experiment import canonical, config_id, flatten

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, config TEXT NOT NULL, status TEXT NOT NULL, error TEXT, summary TEXT NOT NULL,
    history TEXT NOT NULL, seconds REAL, finished REAL NOT NULL, worker TEXT
);
CREATE TABLE IF NOT EXISTS claims (
    id TEXT PRIMARY KEY, worker TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL, expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (id TEXT NOT NULL, worker TEXT NOT NULL, started REAL NOT NULL);
CREATE TABLE IF NOT EXISTS specs (hash TEXT PRIMARY KEY, spec TEXT NOT NULL, added REAL NOT NULL);
"""
STATUSES = ("ok", "diverged", "failed")


@dataclass
class Record:
    """A finished run, ready to store."""

    id: str
    config: dict
    status: str
    summary: dict
    history: dict
    seconds: float
    error: str | None = None


class Store:
    """A sweep's results in a SQLite file (created on first use). One instance per process."""

    def __init__(self, path: str | Path, *, lease: float = 600.0):
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lease = lease
        self.worker = uuid.uuid4().hex[:12]
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.db = sqlite3.connect(self.path, timeout=120, isolation_level=None)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{self.path} is not an inertia store (SQLite said: {exc})") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- writing -------------------------------------------------------------------------------------------

    def add_spec(self, spec: dict) -> None:
        text = canonical(spec)
        self.db.execute("INSERT OR IGNORE INTO specs VALUES (?, ?, ?)", (config_id(spec), text, time.time()))

    def claim(self, ids: Sequence[str], limit: int | None = None) -> list[str]:
        """Claim up to ``limit`` of ``ids`` that are neither finished nor claimed by a live process, in order."""
        with self._transaction():
            self._drop_stale_claims()
            taken = {row[0] for row in self.db.execute("SELECT id FROM runs UNION SELECT id FROM claims")}
            chosen = [i for i in dict.fromkeys(ids) if i not in taken][: limit if limit is not None else None]
            expires = time.time() + self.lease
            self.db.executemany("INSERT INTO claims VALUES (?, ?, ?, ?, ?)",
                                [(i, self.worker, self.host, self.pid, expires) for i in chosen])
            now = time.time()
            self.db.executemany("INSERT INTO attempts VALUES (?, ?, ?)", [(i, self.worker, now) for i in chosen])
        return chosen

    def renew(self) -> None:
        """Extend the lease of every claim this instance holds (call while its runs are still going)."""
        with self._transaction():
            self.db.execute("UPDATE claims SET expires = ? WHERE worker = ?", (time.time() + self.lease, self.worker))

    def record(self, records: Iterable[Record]) -> int:
        """Write finished runs and release their claims, all in one transaction. Returns how many were new."""
        rows = [(r.id, canonical(r.config), r.status, r.error, json.dumps(r.summary, allow_nan=True),
                 json.dumps(r.history, allow_nan=True), r.seconds, time.time(), self.worker) for r in records]
        for r in rows:
            if r[2] not in STATUSES:
                raise ValueError(f"status must be one of {STATUSES}, got {r[2]!r}")
        with self._transaction():
            before = self.db.total_changes
            self.db.executemany("INSERT OR IGNORE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            new = self.db.total_changes - before
            self.db.executemany("DELETE FROM claims WHERE id = ? AND worker = ?", [(r[0], self.worker) for r in rows])
        return new

    def release(self) -> None:
        """Give up every claim this instance still holds (its runs will be picked up again)."""
        with self._transaction():
            self.db.execute("DELETE FROM claims WHERE worker = ?", (self.worker,))

    # --- reading -------------------------------------------------------------------------------------------

    def finished_ids(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT id FROM runs")}

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    def specs(self) -> list[dict]:
        return [json.loads(row[0]) for row in self.db.execute("SELECT spec FROM specs ORDER BY added")]

    def attempts(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT id, worker, started FROM attempts ORDER BY started", self.db)

    def runs(self) -> pd.DataFrame:
        """One row per finished run: id, status, error, seconds, the configuration's columns
        (:func:`inertia.experiment.flatten`) and the summary's (``final_loss``, ``final_accuracy``, ...)."""
        rows = []
        for id_, config, status, error, summary, seconds in self.db.execute(
                "SELECT id, config, status, error, summary, seconds FROM runs ORDER BY rowid"):
            rows.append({"id": id_, "status": status, "error": error, "seconds": seconds,
                         **flatten(json.loads(config)), **json.loads(summary)})
        return pd.DataFrame(rows)

    def history(self, run_id: str) -> pd.DataFrame:
        """Per-epoch metrics of one run (index: epoch from 1)."""
        row = self.db.execute("SELECT history FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"no finished run with id {run_id!r} in {self.path}")
        frame = pd.DataFrame(json.loads(row[0]))
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="epoch")
        return frame

    def histories(self) -> dict[str, dict]:
        return {i: json.loads(h) for i, h in self.db.execute("SELECT id, history FROM runs")}

    def config(self, run_id: str) -> dict:
        row = self.db.execute("SELECT config FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"no finished run with id {run_id!r} in {self.path}")
        return json.loads(row[0])

    # --- internals -----------------------------------------------------------------------------------------

    def _transaction(self):
        return _Transaction(self.db)

    def _drop_stale_claims(self) -> None:
        now = time.time()
        stale = [row[0] for row in self.db.execute(
            "SELECT id FROM claims WHERE expires < ? AND worker != ?", (now, self.worker))]
        for id_, host, pid in self.db.execute("SELECT id, host, pid FROM claims WHERE worker != ?", (self.worker,)):
            if host == self.host and not _alive(pid):
                stale.append(id_)
        self.db.executemany("DELETE FROM claims WHERE id = ?", [(i,) for i in stale])


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (or ``ROLLBACK`` on an exception): one writer at a time."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, value, traceback):
        self.db.execute("ROLLBACK" if kind else "COMMIT")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped) holds its pid but runs nothing
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def open(path: str | Path) -> Store:
    """Open (or create) a store: ``inertia.store.open("runs/sweep.db").runs()`` is a pandas DataFrame."""
    return Store(path)
