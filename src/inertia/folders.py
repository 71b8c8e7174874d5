"""Writing a folder of results as one unit, so that nobody ever sees it half-written.

Every command that writes a folder (``compare``, ``batch-study``, ``report``, ``results``, ``ball``, ``theory``,
``velocity``, ``reproduce nqm``) writes into a staging folder beside it and swaps it in with one atomic rename
(Linux's ``renameat2(RENAME_EXCHANGE)``): whoever looks sees the complete earlier result or the complete new one,
never a mix, whenever the command is stopped (Ctrl-C, SIGKILL, a full disk, an error).

- **What else the folder holds** is carried over: files by hard link before the swap, folders moved in right
  after it. A hidden manifest, ``.inertia.json``, says which command's results the folder holds and which files
  are theirs: a new run of that command removes those it no longer writes (figures after ``--no-plots``), and a
  different command refuses to mix its results in.
- **Two writers of one folder**: the second is refused at once (a lock on the folder, taken when the command
  starts and freed by the system if its process dies).
- **Interrupted** before the swap, the folder is as it was and the staging folder is removed (after a SIGKILL,
  by the next write of that folder). Folders the command created and left empty are removed.
- Where the exchange is not available (another system, a file system without it) the swap is two renames, with
  an instant in between where the folder does not exist.

Usage::

    with writing(out, kind="compare") as folder:
        (folder.path / "table.csv").write_text(...)    # write into folder.path; folder.final is out
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = ".inertia.json"
STAGING = ".inertia-"  # staging and previous folders are named ".<folder>.inertia-<what>-..." beside the folder
STAGE_MARK = ".inertia-staging"  # in a staging folder until it is swapped in: a leftover with it was never used
# Folders written before the manifest existed, known by their own summary file.
LEGACY = {"batch_study.json": "batch-study", "nqm.json": "reproduce nqm", "velocity.json": "velocity",
          "summary.json": "compare"}


class FolderError(OSError):
    """A result folder that cannot be written as asked: busy, holding another command's results, or failing."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C while a folder was being written: the message says the folder is unchanged."""


@dataclass
class Writing:
    """A folder being written: ``path`` is where to write, ``final`` where it will be."""

    path: Path
    final: Path
    kind: str
    add: bool
    written: set[str] = field(default_factory=set)


_active: dict[Path, Writing] = {}  # staging folder -> its transaction, so that writers can nest


@contextlib.contextmanager
def writing(out: str | Path, kind: str, *, add: bool = False) -> Iterator[Writing]:
    """Write the folder ``out`` as one unit (see the module docstring). ``kind`` names the command whose results
    it holds; with ``add`` the files of an earlier run of that kind stay (e.g. a report added to a comparison),
    otherwise those not written again are removed. Inside another ``writing`` of the same folder (``out`` its
    staging folder) this is that one."""
    out = Path(out)
    nested = _active.get(out.absolute())
    if nested is not None:
        yield nested
        return
    final = out.resolve()
    if _cwd().is_relative_to(final):
        raise FolderError(f"{out} holds the current directory: inertia replaces a result folder as a whole, so "
                          f"give a folder inside it (e.g. {out / 'results'}) or run from elsewhere")
    created = [folder for folder in (final, *final.parents) if not folder.exists()]
    final.mkdir(parents=True, exist_ok=True)
    lock = _lock(final, out)
    stage = None
    try:
        earlier = _manifest(final)
        if earlier["kind"] not in (None, kind):
            raise FolderError(f"{out} holds the results of `inertia {earlier['kind']}`; writing `inertia {kind}`'s "
                              "there would mix the two: choose another folder (or remove it)")
        _recover(final)
        stage = Path(tempfile.mkdtemp(prefix=f".{final.name}{STAGING}stage-{os.getpid()}-", dir=final.parent))
        os.chmod(stage, final.stat().st_mode & 0o7777)
        (stage / STAGE_MARK).touch()
        transaction = Writing(stage, final, kind, add)
        _active[stage] = transaction
        try:
            yield transaction
        except KeyboardInterrupt:
            raise Interrupted(f"Interrupted: {out} is unchanged.") from None
        except OSError as exc:
            if exc.filename and str(exc.filename).startswith(str(stage)):
                raise FolderError(exc.errno, f"{exc.strerror} while writing {out}; {out} is unchanged") from None
            raise
        finally:
            _active.pop(stage, None)
        _commit(stage, final, kind, earlier["files"] if add else set(), earlier["files"])
        stage = None
    finally:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
        os.close(lock)
        for folder in created:  # what this call created and nothing filled, deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()


@contextlib.contextmanager
def writing_file(path: str | Path) -> Iterator[Path]:
    """Write one file as a unit: into a temporary file beside it, renamed over it at the end (never a partial
    file, even on a full disk)."""
    path = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}{STAGING}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    except KeyboardInterrupt:
        raise Interrupted(f"Interrupted: {path} is unchanged.") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _cwd() -> Path:
    try:
        return Path.cwd().resolve()
    except OSError:  # a working directory that was removed
        return Path("/nonexistent-working-directory")


def _lock(final: Path, out: Path) -> int:
    fd = os.open(final, os.O_RDONLY)
    try:
        import fcntl
    except ImportError:  # no advisory locks here: concurrent writers still end with one complete result
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise FolderError(f"{out} is being written by another inertia command; wait for it to finish or choose "
                          "another folder") from None
    return fd


def _manifest(folder: Path) -> dict:
    """The kind and files of the results ``folder`` holds, from its manifest (or, for a folder written before
    manifests, from its own summary file)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        return {"kind": str(manifest["kind"]), "files": set(manifest["files"])}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    for name, kind in LEGACY.items():
        if (folder / name).is_file():
            files = {name}
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
                files |= {Path(p).name for p in json.loads((folder / name).read_text())["files"].values()}
            return {"kind": kind, "files": files}
    return {"kind": None, "files": set()}


def _commit(stage: Path, final: Path, kind: str, kept: set[str], earlier: set[str]) -> None:
    """Carry over what ``final`` holds that the new result does not replace or drop, write the manifest, swap."""
    written = {p.name for p in stage.iterdir()} - {STAGE_MARK}
    folders = []
    for entry in os.scandir(final):
        if entry.name in written or entry.name == MANIFEST or (entry.name in earlier and entry.name not in kept):
            continue
        if entry.is_dir(follow_symlinks=False):
            folders.append(entry.name)
            continue
        try:
            os.link(entry.path, stage / entry.name, follow_symlinks=False)
        except OSError:  # a file system without hard links
            shutil.copy2(entry.path, stage / entry.name, follow_symlinks=False)
    ours = sorted(written | {name for name in kept if (stage / name).exists()})
    (stage / MANIFEST).write_text(json.dumps({"kind": kind, "files": ours}) + "\n")
    with _locked(stage):  # the new folder stays locked until what follows the swap is done
        previous = _swap(stage, final)
        (final / STAGE_MARK).unlink(missing_ok=True)
        for name in folders:
            with contextlib.suppress(FileNotFoundError):
                os.rename(previous / name, final / name)
        shutil.rmtree(previous, ignore_errors=True)


@contextlib.contextmanager
def _locked(folder: Path):
    fd = os.open(folder, os.O_RDONLY)
    try:
        with contextlib.suppress(ImportError):
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _swap(stage: Path, final: Path) -> Path:
    """Put ``stage`` where ``final`` is; returns where the earlier ``final`` now is."""
    if _exchange(stage, final):
        return stage
    previous = Path(tempfile.mkdtemp(prefix=f".{final.name}{STAGING}previous-{os.getpid()}-", dir=final.parent))
    os.rmdir(previous)
    os.rename(final, previous)
    os.rename(stage, final)
    return previous


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False where not available."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_cwd, exchange = -100, 2
    if renameat2(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _recover(final: Path) -> None:
    """Clear what an earlier writer of ``final`` left when it was killed (the lock says none is running): a
    staging folder (marked as such) is dropped; a previous result, moved aside by a swap that did not finish,
    gives back what is not its own result's (the user's files and folders), then goes."""
    (final / STAGE_MARK).unlink(missing_ok=True)
    for leftover in final.parent.glob(f".{final.name}{STAGING}*"):
        if not leftover.is_dir():
            leftover.unlink(missing_ok=True)
            continue
        if not (leftover / STAGE_MARK).exists():
            theirs = _manifest(leftover)["files"] | {MANIFEST}
            for entry in os.scandir(leftover):
                if entry.name not in theirs and not (final / entry.name).exists():
                    os.rename(entry.path, final / entry.name)
        shutil.rmtree(leftover, ignore_errors=True)
