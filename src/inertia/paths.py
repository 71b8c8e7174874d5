"""Checks of output paths, made before any work starts, so a long run never ends in an unwritable path.

Each check creates nothing; it raises an ``OSError`` subclass whose message names the option (``--out``) and
the path and says what is wrong.
"""

from __future__ import annotations

import os
from pathlib import Path


def existing_ancestor(path: str | Path) -> Path:
    """``path`` or its nearest ancestor that exists."""
    path = Path(os.path.abspath(path))
    while not path.exists():
        path = path.parent
    return path


def check_output_dir(path: str | Path, option: str = "--out") -> Path:
    """A folder that exists and is writable, or that can be created (every ancestor up to the first one that
    exists is a folder, and that one is writable). Results are written beside the folder and swapped in
    (:mod:`inertia.folders`), so the folder that holds it must be writable too."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{option}: {path} exists and is not a folder")
    _check_writable(existing_ancestor(path), path, option)
    if path.exists() and not os.access(Path(os.path.abspath(path)).parent, os.W_OK | os.X_OK):
        raise PermissionError(f"{option}: cannot write beside {path} (permission denied): results are written "
                              "next to the folder and swapped in whole")
    return path


def check_output_file(path: str | Path, option: str = "--out") -> Path:
    """A file that can be written: not a folder; writable if it exists, else creatable in its folder."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{option}: {path} is a folder; give a file name")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise PermissionError(f"{option}: {path} is not writable")
        return path
    _check_writable(existing_ancestor(path.parent), path, option)
    return path


def _check_writable(ancestor: Path, path: Path, option: str) -> None:
    if not ancestor.is_dir():
        raise NotADirectoryError(f"{option}: cannot create {path}: {ancestor} is not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise PermissionError(f"{option}: cannot write in {ancestor} (permission denied)")
