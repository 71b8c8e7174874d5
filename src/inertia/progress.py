"""A progress bar over epochs for long work, on stderr so stdout stays clean for --json."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def progress_bar(total: int, enabled: bool = True):
    """Yields ``advance(description=None, steps=1)`` driving a rich progress bar on stderr, or a no-op."""
    if not enabled:
        yield lambda description=None, steps=1: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("epochs"),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("training", total=total)

        def advance(description=None, steps=1):
            bar.update(task, advance=steps, **({"description": description} if description else {}))

        yield advance
