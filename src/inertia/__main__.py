"""``python -m inertia`` and the ``inertia`` command: the command line of :mod:`inertia.cli`, with Ctrl-C during
its first imports answered like one during a command (one line, exit status 130)."""

import sys


def main() -> None:
    try:
        from inertia.cli import app
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        sys.exit(130)
    app(prog_name="inertia")


if __name__ == "__main__":
    main()
