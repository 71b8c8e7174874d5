"""A progress bar over epochs for long work, on stderr so stdout stays clean for --json."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def progress_bar(total: int, enabled: bool = True):
    """Yields ``advance(description=None, steps=1)`` driving a rich progress bar on stderr, or a no-op. The bar
    appears at the first ``advance``, so work that fails its checks before then prints nothing."""
    if not enabled:
        yield lambda description=None, steps=1: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("epochs"),
               TimeRemainingColumn())
    bar = Progress(*columns, console=Console(stderr=True), transient=True)
    task = None

    def advance(description=None, steps=1):
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task(description or "training", total=total)
        bar.update(task, advance=steps, **({"description": description} if description else {}))

    try:
        yield advance
    finally:
        if task is not None:
            bar.stop()
