"""Layers: each ``forward(x)`` returns its output and remembers what ``backward`` needs; ``backward(d)``
takes the gradient of the loss with respect to the output and returns it with respect to the input."""

from __future__ import annotations

import numpy as np


def as_rng(seed) -> np.random.RandomState | np.random.Generator:
    """``None`` → NumPy's global stream (what seed 004 draws from), an int → a private legacy stream."""
    if seed is None:
        return np.random.mtrand._rand
    if isinstance(seed, (np.random.RandomState, np.random.Generator)):
        return seed
    return np.random.RandomState(seed)


class Dense:
    """``y = x·W + b`` with ``W`` of shape (inputs, outputs), drawn as ``0.01·N(0, 1)``, and ``b = 0``."""

    def __init__(self, n_inputs: int, n_outputs: int, *, rng=None, dtype=np.float32, scale: float = 0.01):
        self.weights = (scale * as_rng(rng).standard_normal((n_inputs, n_outputs))).astype(dtype)
        self.biases = np.zeros((1, n_outputs), dtype=dtype)
        self.grads = {name: np.zeros_like(value) for name, value in self.parameters().items()}

    def parameters(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights, "biases": self.biases}

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.inputs = x
        out = x @ self.weights
        out += self.biases
        return out

    def backward(self, d: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Write the parameters' gradients into ``grads`` (in place, so a :class:`Network` can keep them in one
        flat vector); return the input's gradient unless ``input_grad`` is False (the first layer's input is the
        data, whose gradient nobody needs). The bias gradient, ``d`` summed over samples, is a product with a
        row of ones: one BLAS call, several times faster than ``sum(axis=0)`` on row-major data."""
        if getattr(self, "_ones", None) is None or self._ones.shape[1] != len(d):
            self._ones = np.ones((1, len(d)), dtype=d.dtype)
        np.matmul(self.inputs.T, d, out=self.grads["weights"])
        np.matmul(self._ones, d, out=self.grads["biases"])
        # A contiguous copy of the small Wᵀ makes the large product faster than multiplying by the view.
        return d @ np.ascontiguousarray(self.weights.T) if input_grad else None


class ReLU:
    """``max(0, x)``, computed as ``x·[x > 0]`` so the mask serves backward too: the gradient passes where the
    input was positive."""

    parameters = staticmethod(dict)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.mask = x > 0
        return x * self.mask

    def backward(self, d: np.ndarray) -> np.ndarray:
        return d * self.mask


class Sigmoid:
    """``1 / (1 + e^-x)``; derivative ``σ(1 − σ)``."""

    parameters = staticmethod(dict)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.output = 1 / (1 + np.exp(-x))
        return self.output

    def backward(self, d: np.ndarray) -> np.ndarray:
        return d * self.output * (1 - self.output)


class Tanh:
    """``tanh(x)``; derivative ``1 − tanh²``."""

    parameters = staticmethod(dict)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.output = np.tanh(x)
        return self.output

    def backward(self, d: np.ndarray) -> np.ndarray:
        return d * (1 - self.output * self.output)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by each row's maximum. The row reductions run across the few class columns
    (a column-wise maximum and a product with ones), which NumPy does several times faster than
    ``max(axis=1)`` and ``sum(axis=1)`` over short rows."""
    top = z[:, 0].copy()
    for j in range(1, z.shape[1]):
        np.maximum(top, z[:, j], out=top)
    e = np.exp(z - top[:, None])
    e /= e @ np.ones((z.shape[1], 1), dtype=z.dtype)
    return e


class Softmax:
    """Row-wise ``e^x / Σ e^x`` (shifted by the row maximum for stability).

    Backward is the Jacobian-vector product for all rows at once: ``s ⊙ (d − Σ_j d_j s_j)``, which is what
    seed 004 computes one sample at a time with ``diagflat(s) − s·sᵀ``.
    """

    parameters = staticmethod(dict)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.output = softmax(x)
        return self.output

    def backward(self, d: np.ndarray) -> np.ndarray:
        s = self.output
        return s * (d - (d * s).sum(axis=1, keepdims=True))
