"""The compiled inner loop of :mod:`inertia.studies.nqm`: expected losses of the noisy quadratic model at given
step counts.

Per curvature, the mean dynamics ``A = [[a00, a01], [a10, a11]]`` are raised to ``A^(2^m)`` by squaring, and
the first row ``(p, q)`` of ``A^k`` is the product of those whose bit is set in k; then
``E[x²] = p² + (m00 − (p, q) M (p, q)ᵀ) / B`` with ``M = [[m00, m01], [m01, m11]]`` the stationary covariance
at batch size 1. Kept apart from :mod:`inertia.studies.nqm` so that the shipped compiled code depends on this file only.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from inertia import jit  # noqa: F401 - the target and cache of inertia's compiled code, set before any compiles


@njit(cache=True)
def expected_losses(a00, a01, a10, a11, m00, m01, m11, scale, steps, batch, out):
    """``out[j]``: ``Σᵢ scaleᵢ E[xᵢ²]`` after ``steps[j]`` steps at batch size ``batch[j]``."""
    top = 0
    for j in range(steps.shape[0]):
        top = max(top, steps[j])
        out[j] = 0.0
    bits = 0
    while (top >> bits) > 0:
        bits += 1
    powers = np.empty((max(bits, 1), 4))
    for i in range(a00.shape[0]):
        b00, b01, b10, b11 = a00[i], a01[i], a10[i], a11[i]
        for m in range(bits):
            powers[m, 0], powers[m, 1], powers[m, 2], powers[m, 3] = b00, b01, b10, b11
            b00, b01, b10, b11 = (b00 * b00 + b01 * b10, b00 * b01 + b01 * b11,
                                  b10 * b00 + b11 * b10, b10 * b01 + b11 * b11)
        for j in range(steps.shape[0]):
            p, q = 1.0, 0.0
            k = steps[j]
            for m in range(bits):
                if (k >> m) & 1:
                    p, q = p * powers[m, 0] + q * powers[m, 2], p * powers[m, 1] + q * powers[m, 3]
            held = p * p * m00[i] + 2.0 * p * q * m01[i] + q * q * m11[i]
            out[j] += scale[i] * (p * p + (m00[i] - held) / batch[j])
