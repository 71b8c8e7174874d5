"""The ``inertia`` command line (:data:`app`), one module per command group over :mod:`inertia.cli.common`:
:mod:`~inertia.cli.compare`, :mod:`~inertia.cli.reproduce`, :mod:`~inertia.cli.demos` (scratch, velocity,
ball, theory), :mod:`~inertia.cli.sweeps` (sweep, results), :mod:`~inertia.cli.report`,
:mod:`~inertia.cli.batch_study` and :mod:`~inertia.cli.lab`, assembled in :mod:`~inertia.cli.app`."""

from inertia.cli.app import app

__all__ = ["app"]
