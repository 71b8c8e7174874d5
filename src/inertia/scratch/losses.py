"""Losses: ``forward(prediction, y)`` returns the mean loss; ``backward()`` its gradient with respect to the
prediction (averaged over samples). Labels are class indices (int arrays), or 0/1 for binary."""

from __future__ import annotations

import numpy as np

from inertia.scratch.layers import softmax

EPS = 1e-7  # probabilities are clipped to [EPS, 1 − EPS] before the log, as in seed 004


class CategoricalCrossEntropy:
    """``−mean log p[y]`` over probabilities ``p`` (e.g. a Softmax output)."""

    def forward(self, p: np.ndarray, y: np.ndarray) -> float:
        self.p, self.y = p, y
        picked = np.clip(p[np.arange(len(y)), y], EPS, 1 - EPS)
        return float(-np.log(picked).mean())

    def backward(self) -> np.ndarray:
        n = len(self.y)
        d = np.zeros_like(self.p)
        d[np.arange(n), self.y] = -1 / (np.clip(self.p[np.arange(n), self.y], EPS, 1 - EPS) * n)
        return d


class BinaryCrossEntropy:
    """``−mean[y log p + (1 − y) log(1 − p)]`` over probabilities ``p`` (e.g. a Sigmoid output)."""

    def forward(self, p: np.ndarray, y: np.ndarray) -> float:
        self.p, self.y = np.clip(p, EPS, 1 - EPS), y.reshape(p.shape).astype(p.dtype)
        return float(-(self.y * np.log(self.p) + (1 - self.y) * np.log(1 - self.p)).mean())

    def backward(self) -> np.ndarray:
        return (self.p - self.y) / (self.p * (1 - self.p) * self.p.size)


class SoftmaxCrossEntropy:
    """Softmax and categorical cross-entropy fused: from logits, with the short backward
    ``(softmax(z) − onehot(y)) / n`` instead of two Jacobian products."""

    def forward(self, z: np.ndarray, y: np.ndarray) -> float:
        self.output = softmax(z)  # the probabilities, for predictions and backward
        if getattr(self, "y", None) is not y:  # flat positions of the true classes, reused while y is
            self.y, self.picks = y, np.arange(len(y)) * z.shape[1] + y
        picked = np.take(self.output, self.picks)
        return float(-np.log(np.minimum(np.maximum(picked, EPS), 1 - EPS)).sum() / len(y))

    def backward(self) -> np.ndarray:
        d = self.output.copy()
        d.reshape(-1)[self.picks] -= 1
        d /= len(self.y)
        return d
