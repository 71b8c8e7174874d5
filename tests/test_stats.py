import numpy as np
import pytest
from scipy import stats

from inertia.stats import by_epoch, epochs_to_target, format_interval, mean_ci, mean_ci_rows, paired_difference


def test_mean_ci_matches_scipy_t_interval():
    values = np.array([0.31, 0.27, 0.35, 0.30, 0.29])
    low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    estimate = mean_ci(values)
    assert estimate.n == 5
    assert estimate.mean == pytest.approx(values.mean())
    assert (estimate.low, estimate.high) == pytest.approx((low, high))


def test_mean_ci_by_hand_for_two_values():
    # n = 2: t_{0.975, 1} = 12.7062; sd of (1, 3) is sqrt(2); half-width = 12.7062 * sqrt(2) / sqrt(2).
    estimate = mean_ci([1.0, 3.0])
    assert estimate.mean == 2.0
    assert estimate.half_width == pytest.approx(12.7062, abs=1e-4)


def test_mean_ci_ignores_nan_and_handles_small_n():
    assert mean_ci([np.nan, 2.0, np.nan]).n == 1
    assert np.isnan(mean_ci([2.0]).low)
    assert mean_ci([]).n == 0 and np.isnan(mean_ci([]).mean)
    assert str(mean_ci([])) == "n/a"


def test_paired_difference_uses_pairs():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    b = a - 0.5 + np.array([0.01, -0.01, 0.02, -0.02])
    estimate = paired_difference(a, b)
    assert estimate.mean == pytest.approx(0.5)
    assert estimate.high - estimate.low < 0.1  # pairing removes the spread of a and b themselves


def test_epochs_to_target():
    assert epochs_to_target([0.5, 0.89, 0.9, 0.95], 0.9) == 3
    assert np.isnan(epochs_to_target([0.5, 0.6], 0.9))


def test_mean_ci_rows_is_scipys_t_interval_of_each_row():
    rng = np.random.default_rng(3)
    values = rng.normal(size=(40, 6))
    values[rng.random(values.shape) < 0.2] = np.nan
    values[3] = np.nan                      # no finite value
    values[4, 1:] = np.inf                  # one
    values[5, :2] = [1.0, 1.0]              # two equal values, the rest finite too
    mean, low, high, n = mean_ci_rows(values)
    for i, row in enumerate(values):
        finite = row[np.isfinite(row)]
        assert n[i] == finite.size
        centre = finite.mean() if finite.size else np.nan
        half = stats.t.ppf(0.975, finite.size - 1) * stats.sem(finite) if finite.size > 1 else np.nan
        np.testing.assert_allclose([mean[i], low[i], high[i]], [centre, centre - half, centre + half],
                                   rtol=1e-12, equal_nan=True)
        one = mean_ci(row)  # the one-row case
        np.testing.assert_array_equal([one.n, one.mean, one.low, one.high], [n[i], mean[i], low[i], high[i]])


def test_by_epoch_pads_epochs_with_fewer_runs():
    import pandas as pd

    frame = pd.DataFrame({"epoch": [2, 1, 1, 2, 3], "loss": [0.5, 1.0, 0.9, 0.4, 0.3]})
    epochs, table = by_epoch(frame, "loss")
    assert epochs.tolist() == [1, 2, 3]
    np.testing.assert_array_equal(table, [[1.0, 0.9], [0.5, 0.4], [0.3, np.nan]])


def test_proportions_take_the_wilson_interval():
    """Against the interval's closed form worked by hand (z = 1.959964): 5 of 10 is 0.2366–0.7634, 81 of 263 is
    0.2553–0.3662, and at 0 or n successes it stays inside [0, 1] where the normal approximation collapses."""
    from inertia.stats import proportion_ci

    for successes, n, low, high in ((5, 10, 0.2366, 0.7634), (81, 263, 0.2553, 0.3662), (0, 10, 0.0, 0.2775),
                                    (10, 10, 0.7225, 1.0)):
        estimate = proportion_ci(successes, n)
        assert estimate.mean == successes / n and estimate.n == n
        assert estimate.low == pytest.approx(low, abs=5e-5) and estimate.high == pytest.approx(high, abs=5e-5)
    for successes, n in ((0, 7), (3, 7), (7, 7), (123, 1000), (999, 1000)):
        reference = stats.binomtest(successes, n).proportion_ci(0.95, method="wilson")
        estimate = proportion_ci(successes, n)
        assert estimate.low == pytest.approx(reference.low, abs=1e-12)
        assert estimate.high == pytest.approx(reference.high, abs=1e-12)
    assert np.isnan(proportion_ci(0, 0).mean)


def test_an_interval_is_written_mean_low_high_with_a_dash_for_no_mean():
    row = {"loss": 0.123456, "loss_low": 0.1, "loss_high": 0.15, "steps": 12.0, "lo": 10.0, "hi": None}
    assert format_interval(row, "loss", ".3f") == "0.123 [0.100, 0.150]"
    assert format_interval(row, "steps", ".0f", "lo", "hi") == "12"  # no upper bound: the mean alone
    assert format_interval({**row, "loss": float("nan")}, "loss") == "—"
    assert format_interval({**row, "loss": None}, "loss") == "—"
    assert format_interval({**row, "loss_low": float("nan")}, "loss", ".2f") == "0.12"
