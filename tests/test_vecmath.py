"""The compiled kernels' float32 exp and log against NumPy's (computed in float64 and rounded)."""

import math

import numpy as np
import pytest
from numba import njit

from inertia.population import vecmath


@njit(fastmath=vecmath.FAST)
def _exp_all(x, out):
    for i in range(x.shape[0]):
        out[i] = vecmath.exp(x[i])


@njit(fastmath=vecmath.FAST)
def _log_all(x, out):
    for i in range(x.shape[0]):
        out[i] = vecmath.log(x[i])


def ulps(got: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """Distance in units in the last place of float32 between ``got`` and the exact value rounded."""
    return np.abs(got.astype(np.float64) - exact) / np.spacing(np.abs(exact.astype(np.float32))).astype(np.float64)


def apply(function, x):
    out = np.empty_like(x)
    function(x, out)
    return out


def test_exp32_is_within_one_ulp_down_to_subnormals_and_overflows_to_inf():
    x = np.concatenate([np.linspace(-104, 89, 400_001), np.linspace(-1e-3, 1e-3, 2001)]).astype(np.float32)
    got = apply(_exp_all, x)
    assert got.dtype == np.float32
    exact = np.exp(x.astype(np.float64))
    finite = exact < np.finfo(np.float32).max
    assert ulps(got[finite], exact[finite]).max() <= 1
    assert np.isinf(got[~finite]).all() and (~finite).any()


def test_log32_is_within_one_ulp_on_positive_normals():
    x = np.concatenate([np.geomspace(1.2e-38, 3e38, 400_001), np.linspace(0.5, 2.0, 100_001)]).astype(np.float32)
    got = apply(_log_all, x)
    assert got.dtype == np.float32
    exact = np.log(x.astype(np.float64))
    near_one = np.abs(exact) < 1e-30  # log(1) = 0 exactly: no ulp to measure against
    assert (got[near_one] == 0).all()
    assert ulps(got[~near_one], exact[~near_one]).max() <= 1


def test_special_values_keep_divergence_visible():
    e = apply(_exp_all, np.array([np.nan, np.inf, -np.inf, -1e30, 1e30], dtype=np.float32))
    assert np.isnan(e[0]) and e[1] == np.inf and e[2] == 0 and e[3] == 0 and e[4] == np.inf
    lg = apply(_log_all, np.array([np.nan, np.inf, 1.0], dtype=np.float32))
    assert np.isnan(lg[0]) and lg[1] == np.inf and lg[2] == 0


@pytest.mark.parametrize("function,reference", [(_exp_all, math.exp), (_log_all, math.log)])
def test_float64_is_the_c_library_function(function, reference):
    x = np.linspace(0.1, 30, 1001)
    np.testing.assert_array_equal(apply(function, x), [reference(v) for v in x])


def test_like_types_a_constant_as_the_value():
    @njit
    def half_of(x):
        return vecmath.like(x, 0.5) * x

    assert half_of(np.float32(3)) == 1.5 and half_of(3.0) == 1.5
    returns = {str(sig.args[0]): str(sig.return_type) for sig in half_of.nopython_signatures}
    assert returns == {"float32": "float32", "float64": "float64"}  # a Python 0.5 would make both float64
