"""The momentum comparison: the seed lab as one call, over several seeds, with paired runs and statistics.

Within one seed every momentum starts from the same initial weights and sees the same minibatch order, so
differences between momenta are paired; across seeds both change. :mod:`~inertia.studies.comparison.config` holds
what determines a comparison (:class:`CompareConfig`), :mod:`~inertia.studies.comparison.training` runs one
(:func:`compare`), :mod:`~inertia.studies.comparison.result` is what it returns (:class:`Comparison`).
"""

from inertia.studies.comparison.config import HOLDS, LAB_MOMENTA, CompareConfig
from inertia.studies.comparison.result import OUTPUT_FILES, TABLE_METRICS, Comparison, Run
from inertia.studies.comparison.training import compare, snapshot_epochs

__all__ = ["HOLDS", "LAB_MOMENTA", "OUTPUT_FILES", "TABLE_METRICS", "CompareConfig", "Comparison", "Run", "compare",
           "snapshot_epochs"]
