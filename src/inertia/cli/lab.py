"""``inertia lab``: the live lab in the browser."""

from __future__ import annotations

from typing import Annotated

import typer

from inertia.cli.common import out_console


def lab_command(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    host: Annotated[str, typer.Option(
        help="Address to listen on. The default serves this machine only; 0.0.0.0 would serve the network.")
    ] = "127.0.0.1",
    browser: Annotated[bool, typer.Option("--browser/--no-browser", help="Open the lab in the default browser.")
                       ] = True,
) -> None:
    """A live lab in the browser: change the momenta, the learning rate, the data or the network, and the whole
    comparison (5 momenta × 5 seeds × 100 epochs by default) retrains and streams in as it goes — loss and
    accuracy with 95 % CI bands, decision regions per momentum, the ball in the valley and the rate map for the
    same learning rate and momenta. The address keeps the settings; "export" writes the report `inertia compare`
    would. Runs locally; nothing is fetched from the network.
    """
    from inertia.lab.server import serve

    if not 1 <= port <= 65535:
        raise typer.BadParameter(f"--port must be from 1 to 65535, got {port}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        out_console.print(f"Serving on {host}: anyone who can reach this machine can use the lab.", style="yellow")
    serve(host, port, browser)
