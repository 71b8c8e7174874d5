"""What a long command says while it works, on stderr so that stdout stays clean for --json: a progress bar on a
terminal, plain lines (at most one every few seconds) when stderr is piped or written to a file, nothing when
disabled (``--json``)."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

PLAIN_EVERY = 5.0  # seconds between plain progress lines


def status(message: str, enabled: bool = True) -> None:
    """One line on stderr saying what starts now (shown before anything slow, such as loading torch)."""
    if enabled:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()


@contextmanager
def progress_bar(total: int, enabled: bool = True, *, done: int = 0, unit: str = "epochs"):
    """Yields ``advance(description=None, steps=1)`` driving a rich progress bar on stderr, plain lines when
    stderr is not a terminal, or a no-op; ``done`` of the ``total`` (counted in ``unit``) are done already.
    The bar appears at the first ``advance``, so work that fails its checks before then prints nothing."""
    if not enabled:
        yield lambda description=None, steps=1: None
        return
    if not sys.stderr.isatty():
        with _plain(total, done, unit) as advance:
            yield advance
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
               TimeRemainingColumn())
    bar = Progress(*columns, console=Console(stderr=True), transient=True)
    task = None

    def advance(description=None, steps=1):
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task(description or "training", total=total, completed=done)
        bar.update(task, advance=steps, **({"description": description} if description else {}))

    try:
        yield advance
    finally:
        if task is not None:
            bar.stop()


@contextmanager
def _plain(total: int, done: int, unit: str):
    state = {"done": float(done), "said": None, "told": None, "what": "training", "started": time.monotonic()}

    def say():
        elapsed = time.monotonic() - state["started"]
        share = state["done"] / total if total else 1.0
        sys.stderr.write(f"{state['what']}: {state['done']:,.0f} of {total:,} {unit} ({share:.0%}), "
                         f"{elapsed:.0f} s\n")
        sys.stderr.flush()
        state["said"], state["told"] = time.monotonic(), state["done"]

    def advance(description=None, steps=1):
        state["done"] += steps
        state["what"] = description or state["what"]
        if state["said"] is None or time.monotonic() - state["said"] >= PLAIN_EVERY:
            say()

    yield advance
    if state["said"] is not None and state["done"] != state["told"]:
        say()  # where it ended
