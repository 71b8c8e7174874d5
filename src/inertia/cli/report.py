"""``inertia report``: the self-contained HTML page of a compare folder, a batch study or a sweep store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from inertia.cli.common import out_console
from inertia.paths import check_output_file


def report_command(
    path: Annotated[Path, typer.Argument(
        help="A folder written by `inertia compare`, `inertia batch-study`, `inertia functions` or `inertia "
             "landscape --out`, or a sweep store (.db).")],
    out: Annotated[Path | None, typer.Option(
        help="The HTML file (default: report.html in the folder, or STORE.html beside the store STORE.db).")
] = None,
) -> None:
    """Write one self-contained HTML report: tables, conclusions with their statistics, interactive charts,
    decision regions across epochs, the ball in the valley with a momentum slider, the loss landscape where
    `inertia landscape` drew one. It works offline."""
    from inertia.views.report import default_output, write_report

    check_output_file(out or default_output(path), "--out")
    if path.is_file():  # a store: its page takes a few seconds (the Hessian for the theory's edge)
        from inertia.progress import status
        from inertia.sweeps.store import Store

        Store(path, readonly=True).close()  # a file that is not a store is refused first
        status(f"inertia report: {path}")
    written = write_report(path, out)
    out_console.print(Text.assemble("Report: ", (str(written), "bold")))
