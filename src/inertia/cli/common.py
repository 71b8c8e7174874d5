"""What every command shares: the one error boundary, the console, and parsing and printing helpers."""

from __future__ import annotations

import logging
import os
import sys

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

# User errors: what the library raises for bad input (ValueError and its SpecError / DataError), paths that
# cannot be read or written (OSError), and optional packages that are missing (ImportError).
USER_ERRORS = (ValueError, OSError, ImportError)
# Click's exceptions as the installed typer raises them (typer >= 0.22 carries its own copy of click).
_UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
_NoArgsIsHelp = getattr(sys.modules[_UsageError.__module__], "NoArgsIsHelpError", ())
_Abort = getattr(sys.modules[_UsageError.__module__], "Abort", typer.Abort)
_type_of = typer.core.TyperOption.display_type_rich


def _type_of_a_value(option, ctx):
    """The type column of --help for options that take a value; a flag (--json, --plots/--no-plots, --help) takes
    none, where typer would print <bool>."""
    return None if option.is_flag else _type_of(option, ctx)


typer.core.TyperOption.display_type_rich = _type_of_a_value


class _Interrupted(Exception):
    """Ctrl-C inside a command, carried past click (which would print a blank line and abort) with what it
    left unchanged."""


class Boundary(TyperGroup):
    """The app's one error boundary: every user error, from option parsing to the library's own checks, ends
    here as one plain line on stderr (never read as markup) and exit status 2, with no traceback; Ctrl-C as one
    line (what it left unchanged, where a command was writing) and exit status 130."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise _Interrupted(str(exc) or "Interrupted.") from None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        show_library_notes()
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _NoArgsIsHelp as exc:
            if exc.format_message().strip():  # typer's rich mode has printed it already
                print(exc.format_message())
            code = 0
        except _UsageError as exc:
            command = exc.ctx.command_path if exc.ctx else "inertia"
            code = error(f"{exc.format_message()} (see `{command} --help`)")
        except _Interrupted as exc:
            sys.stderr.write(f"{exc}\n")
            code = 130
        except (_Abort, typer.Abort, KeyboardInterrupt):
            sys.stderr.write("Interrupted.\n")
            code = 130
        except USER_ERRORS as exc:
            code = error(str(exc) or type(exc).__name__)
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


def show_library_notes() -> None:
    """The library's notes on what takes time before results appear (compiling a kernel for this machine),
    on stderr, so that ``--json`` output stays clean."""
    logger = logging.getLogger("inertia")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def error(message: str) -> int:
    sys.stderr.write("Error: " + " ".join(message.splitlines()) + "\n")
    sys.stderr.flush()
    return 2


def _results_console() -> Console:
    """Rich's console for results: as wide as the terminal; into a file or a pipe (no width to fit) wide enough
    that no table cell is cut short, unless COLUMNS says otherwise."""
    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return Console()
    return Console(width=160)


out_console = _results_console()


def floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated numbers such as 0,0.1,0.5; got {text!r}") from None


def ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers such as 2,50,3; got {text!r}") from None


def as_typed(message: str, options: dict[str, str]) -> str:
    """A library error's message with the field it starts with named as the option a user typed
    (``options`` maps fields to options, e.g. ``learning_rates`` → ``--lrs``); others unchanged."""
    for field, option in options.items():
        if message.startswith((f"{field} ", f"{field}:")):
            return option + message[len(field):]
    return message


def saved(folder, names) -> None:
    """``Saved to FOLDER: a, b`` with the folder in bold and nothing read as markup."""
    out_console.print(Text.assemble("Saved to ", (str(folder), "bold"), ": " + ", ".join(names)))


def plus_minus(row, name: str, spec: str) -> str:
    from inertia.stats import format_estimate

    return format_estimate(row, name, spec, separator="±")


def claims_table(claims, title: str) -> Table:
    table = Table(title=title)
    for header in ("claim", "verdict", "evidence"):
        table.add_column(header)
    for claim in claims:
        table.add_row(claim.name, "[green]holds[/]" if claim.holds else "[red]does not hold[/]", claim.evidence)
    return table
