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

A store is marked as inertia's by SQLite's ``application_id`` (:data:`APPLICATION_ID`, with the schema's
version in ``user_version``). Opening for writing refuses any other non-empty file before touching it;
``readonly=True`` (what ``inertia results`` and ``inertia report`` use) never writes, so it works on stores in
read-only folders. While a process trains, :meth:`Store.heartbeat` renews its claims from a background
thread, so a live worker never loses a claim, however long a run takes, and a dead one's lapse after one lease.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from inertia.outcome import STATUSES
from inertia.paths import check_output_file
from inertia.sweeps.spec import canonical, config_id, flatten

APPLICATION_ID = 0x494E5254  # "INRT"
SCHEMA_VERSION = 1

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


def _translated(method):
    """``method`` with SQLite's faults as one-line errors that name the store: a full disk (what was recorded
    before is safe), a damaged file, or anything else SQLite says."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.DatabaseError, json.JSONDecodeError) as exc:
            text = str(exc)
            if "full" in text:
                raise OSError(errno.ENOSPC, f"{self.path}: no space left to record runs (SQLite: {text}); every run "
                                            "recorded before is safe: free some space and run the sweep again to "
                                            "resume") from None
            if isinstance(exc, sqlite3.OperationalError) and "decode" not in text:
                raise OSError(f"{self.path}: {text}") from None
            raise ValueError(f"{self.path} is damaged: a record does not read ({text[:200]}); nothing was written "
                             "to it") from None

    return wrapper


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
    """A sweep's results in a SQLite file (created on first use). One instance per process.

    Raises ``ValueError`` when ``path`` is not an inertia store (nothing is written to it), and ``OSError``
    when it cannot be opened (``readonly``: when it does not exist)."""

    def __init__(self, path: str | Path, *, lease: float = 600.0, readonly: bool = False):
        self.path = Path(path)
        self.lease, self.readonly = lease, readonly
        self.worker = uuid.uuid4().hex[:12]
        self.host, self.pid = socket.gethostname(), os.getpid()
        check_store_path(self.path, write=not readonly)
        try:
            self.db = _connect(self.path, readonly)
        except sqlite3.DatabaseError as exc:
            raise _unreadable(self.path, exc) from None
        try:
            application_id = self.db.execute("PRAGMA application_id").fetchone()[0]
            tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise _unreadable(self.path, exc) from None
        ours = application_id == APPLICATION_ID or (application_id == 0 and {"runs", "claims"} <= tables)
        if not ours and (tables or application_id or readonly):
            self.db.close()
            raise ValueError(f"{self.path} is not an inertia store (it is {_describe(application_id, tables)}); "
                             "nothing was changed")
        if tables:
            self._check_integrity()
        if not readonly:
            try:
                _write_ahead(self.db)
                self.db.execute("PRAGMA synchronous=NORMAL")
                # The tables and the mark in one transaction, so that no other process sees a half-made store.
                self.db.executescript(f"BEGIN IMMEDIATE; {SCHEMA} PRAGMA application_id={APPLICATION_ID}; "
                                      f"PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")
            except sqlite3.DatabaseError as exc:
                self.db.close()
                raise OSError(f"{self.path}: cannot open the store for writing (SQLite: {exc})") from None

    def _check_integrity(self) -> None:
        """SQLite's quick check of the whole file, before anything is written to it: a damaged store (truncated,
        a byte changed) is refused as it is, never rewritten."""
        try:
            verdict = self.db.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            verdict = str(exc)
        if verdict != "ok":
            self.db.close()
            raise ValueError(f"{self.path} is damaged (SQLite's check says: {verdict}); nothing was written to it. "
                             "Copy what it still holds with `sqlite3 STORE .recover`, or start a new store")

    def close(self) -> None:
        if not self.readonly:
            # Back to a rollback journal when no other process has the store open (else this is a no-op), so
            # that readers later open a single file and create no -wal or -shm beside it.
            with contextlib.suppress(sqlite3.DatabaseError):
                self.db.execute("PRAGMA journal_mode=DELETE")
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- writing -------------------------------------------------------------------------------------------

    @_translated
    def add_spec(self, spec: dict) -> None:
        text = canonical(spec)
        self.db.execute("INSERT OR IGNORE INTO specs VALUES (?, ?, ?)", (config_id(spec), text, time.time()))

    @_translated
    def claim(self, ids: Sequence[str], limit: int | None = None, retry_failed: bool = False) -> list[str]:
        """Claim up to ``limit`` of ``ids`` that are neither finished nor claimed by a live process, in order.
        With ``retry_failed``, runs recorded as ``failed`` count as not finished."""
        with self._transaction():
            self._drop_stale_claims()
            finished = "SELECT id FROM runs" + (" WHERE status != 'failed'" if retry_failed else "")
            taken = {row[0] for row in self.db.execute(f"{finished} UNION SELECT id FROM claims")}
            chosen = [i for i in dict.fromkeys(ids) if i not in taken][: limit if limit is not None else None]
            expires = time.time() + self.lease
            self.db.executemany("INSERT INTO claims VALUES (?, ?, ?, ?, ?)",
                                [(i, self.worker, self.host, self.pid, expires) for i in chosen])
            now = time.time()
            self.db.executemany("INSERT INTO attempts VALUES (?, ?, ?)", [(i, self.worker, now) for i in chosen])
        return chosen

    @contextlib.contextmanager
    def heartbeat(self, every: float | None = None):
        """While the ``with`` block runs, renew this instance's claims every ``every`` seconds (default: a
        third of the lease) from a background thread with its own connection."""
        every = self.lease / 3 if every is None else every
        stop = threading.Event()

        def beat():
            db = sqlite3.connect(self.path, timeout=120, isolation_level=None)
            try:
                while not stop.wait(every):
                    with contextlib.suppress(sqlite3.DatabaseError):  # a full disk: the next record says so
                        self._renew(db)
            finally:
                db.close()

        thread = threading.Thread(target=beat, name="inertia-store-heartbeat", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()

    @_translated
    def record(self, records: Iterable[Record]) -> int:
        """Write finished runs and release their claims, all in one transaction. Returns how many were new
        (a run recorded as ``failed`` is replaced by a new result; any other is kept)."""
        rows = [(r.id, canonical(r.config), r.status, r.error, json.dumps(r.summary, allow_nan=True),
                 json.dumps(r.history, allow_nan=True), r.seconds, time.time(), self.worker) for r in records]
        for r in rows:
            if r[2] not in STATUSES:
                raise ValueError(f"status must be one of {STATUSES}, got {r[2]!r}")
        with self._transaction():
            before = self.db.total_changes
            self.db.executemany(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "config = excluded.config, status = excluded.status, error = excluded.error, "
                "summary = excluded.summary, history = excluded.history, seconds = excluded.seconds, "
                "finished = excluded.finished, worker = excluded.worker WHERE runs.status = 'failed'", rows)
            new = self.db.total_changes - before
            self.db.executemany("DELETE FROM claims WHERE id = ? AND worker = ?", [(r[0], self.worker) for r in rows])
        return new

    @_translated
    def release(self) -> None:
        """Give up every claim this instance still holds (its runs will be picked up again)."""
        with self._transaction():
            self.db.execute("DELETE FROM claims WHERE worker = ?", (self.worker,))

    # --- reading -------------------------------------------------------------------------------------------

    @_translated
    def finished_ids(self, retry_failed: bool = False) -> set[str]:
        """Ids of recorded runs (with ``retry_failed``, not counting the failed ones)."""
        where = " WHERE status != 'failed'" if retry_failed else ""
        return {row[0] for row in self.db.execute("SELECT id FROM runs" + where)}

    @_translated
    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    @_translated
    def specs(self) -> list[dict]:
        return [json.loads(row[0]) for row in self.db.execute("SELECT spec FROM specs ORDER BY added")]

    @_translated
    def attempts(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT id, worker, started FROM attempts ORDER BY started", self.db)

    @_translated
    def runs(self) -> pd.DataFrame:
        """One row per finished run: id, status, error, seconds, the configuration's columns
        (:func:`inertia.sweeps.spec.flatten`) and the summary's (``final_loss``, ``final_accuracy``, ...)."""
        rows = []
        for id_, config, status, error, summary, seconds in self.db.execute(
                "SELECT id, config, status, error, summary, seconds FROM runs ORDER BY rowid"):
            rows.append({"id": id_, "status": status, "error": error, "seconds": seconds,
                         **flatten(json.loads(config)), **json.loads(summary)})
        return pd.DataFrame(rows)

    @_translated
    def history(self, run_id: str) -> pd.DataFrame:
        """Per-epoch metrics of one run (index: epoch from 1)."""
        row = self.db.execute("SELECT history FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"no finished run with id {run_id!r} in {self.path}")
        frame = pd.DataFrame(json.loads(row[0]))
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="epoch")
        return frame

    @_translated
    def histories(self) -> dict[str, dict]:
        return {i: json.loads(h) for i, h in self.db.execute("SELECT id, history FROM runs")}

    @_translated
    def config(self, run_id: str) -> dict:
        row = self.db.execute("SELECT config FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"no finished run with id {run_id!r} in {self.path}")
        return json.loads(row[0])

    # --- internals -----------------------------------------------------------------------------------------

    def _transaction(self):
        return _Transaction(self.db)

    def _renew(self, db: sqlite3.Connection) -> None:
        db.execute("UPDATE claims SET expires = ? WHERE worker = ?", (time.time() + self.lease, self.worker))

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
        if not kind:
            self.db.execute("COMMIT")
        elif self.db.in_transaction:  # SQLite ends the transaction itself on some errors (a full disk)
            self.db.execute("ROLLBACK")


def _unreadable(path: Path, exc: sqlite3.DatabaseError) -> ValueError:
    """A file SQLite cannot read as a database: a damaged store (its pages malformed), or no database at all."""
    if "malformed" in str(exc):
        return ValueError(f"{path} is damaged (SQLite: {exc}); nothing was written to it. Copy what it still holds "
                          "with `sqlite3 STORE .recover`, or start a new store")
    return ValueError(f"{path} is not an inertia store (SQLite said: {exc}); nothing was changed")


def check_store_path(path: Path, write: bool = True) -> None:
    """Refuse, before anything is created, a store path that cannot work: a folder, a missing file (when
    reading), or (when writing) a file or folder that cannot be created or written."""
    if not write:
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a folder, not a store")
        if not path.exists():
            raise FileNotFoundError(f"no store at {path}")
        return
    check_output_file(path, "store")
    if path.exists() and not os.access(path.parent, os.W_OK | os.X_OK):
        raise PermissionError(f"store: cannot write beside {path} in {path.parent} (SQLite needs its journal "
                              "there); read it with `inertia results`")


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if not readonly:
        path.parent.mkdir(parents=True, exist_ok=True)
        return sqlite3.connect(path, timeout=120, isolation_level=None)
    uri = Path(os.path.abspath(path)).as_uri()
    db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=120, isolation_level=None)
    try:
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        # A WAL store in a folder this process cannot write: read the file as it is (no -shm can be made).
        db.close()
        db = sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)
    return db


def _write_ahead(db: sqlite3.Connection, patience: float = 120.0) -> None:
    """Switch to write-ahead logging. Changing the journal mode needs the file to itself and SQLite answers
    "database is locked" at once, without waiting, while another process holds it (opening, or closing and
    switching back): so try again until ``patience`` seconds have passed."""
    deadline = time.monotonic() + patience
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _describe(application_id: int, tables: set[str]) -> str:
    if application_id:
        return f"an SQLite file of another application (application_id {application_id:#x})"
    if tables:
        return f"an SQLite database with tables {', '.join(sorted(tables))}"
    return "an empty file"


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


def open(path: str | Path, readonly: bool = False) -> Store:
    """Open (or create) a store: ``inertia.sweeps.open("runs/sweep.db").runs()`` is a pandas DataFrame."""
    return Store(path, readonly=readonly)
