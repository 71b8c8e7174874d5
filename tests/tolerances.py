"""Every tolerance the tests compare numbers with, and why it holds on any x86-64 CPU.

Two computations of one quantity agree to round-off, not to the bit, whenever they add in different orders.
torch's CPU kernels choose their blocking and vector width (AVX-512 or AVX2, with or without FMA) by CPU
model, so one program gives different last bits on an Intel Xeon and on an AMD EPYC. Each bound below is the
round-off its comparisons can accumulate, with a margin of ten or more over what was measured on both; none is
fitted to one machine. A test that needs another bound derives it beside the assertion (the optimizer
trajectories measure torch's own round-off, for instance, and centered RMSprop's cancellation is bounded
from its state). The literal bounds elsewhere are of three other kinds, each said where it stands: float64
closed forms against one another (1e-9 to 1e-15: only the arrangement of a few operations differs, which no
CPU changes), sampling bounds (a number of standard deviations), and convergence (an iteration's distance from
its limit after a fixed number of steps).
"""

import torch

EXACT = 0.0
"""The same operations in the same order (one code path run twice, a state saved and restored, integer-valued
data): bit for bit, on any machine."""

F64_OPERATION = 1e-12
"""float64, one formula arranged differently (a rule against torch.optim's step, a layer against autograd),
up to a few hundred operations per number: each rounds by 1.1e-16, so they agree to about 1e-14."""

F64_TRAJECTORY = 1e-10
"""float64 training runs by two implementations over up to 200 updates of a network: round-off of 1e-16 per
operation, amplified by the training dynamics' sensitivity to it (below 1e-12 measured)."""

F32_EVALUATION = 1e-6
"""float32, one evaluation by two implementations (a full-data loss, the initial loss): sums of at most 10⁴
terms each rounded by 6e-8, which agree to about 1e-7."""

F32_TRAJECTORY = 1e-5
"""float32 training runs by two implementations (population engines against fit, an engine against
torch.optim, a model of one's own against fit by hand) over up to 200 updates: round-off of 6e-8 per operation
compounded by the dynamics (about 1e-6 measured)."""

TRAJECTORY = {torch.float64: F64_TRAJECTORY, torch.float32: F32_TRAJECTORY}

TIES = 2
"""Points whose class may differ between two runs that agree to round-off: a point within round-off of the
decision boundary takes either side, so accuracies may differ by TIES / N (two such points)."""

FINITE_DIFFERENCE = 1e-5
"""Relative error of a central difference with step 1e-6 in float64: truncation O(h²) and round-off
eps / h ≈ 1e-10, well inside 1e-5 against an analytic gradient."""

MEASURED_RATE = 0.01
"""A convergence rate measured from a few thousand iterations against its closed form: the transient of the
faster directions and the finite horizon leave under 1 % (relative)."""
