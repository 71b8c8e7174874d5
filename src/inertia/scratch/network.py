"""``Network``: layers in sequence, a loss, and a full-batch training loop that logs like seed 004."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

from inertia.scratch.layers import Dense, ReLU, as_rng
from inertia.scratch.losses import SoftmaxCrossEntropy


class Network:
    """``layers`` applied in order, trained against ``loss`` (fused softmax cross-entropy by default)."""

    def __init__(self, layers: Sequence, loss=None):
        self.layers = list(layers)
        self.loss = loss if loss is not None else SoftmaxCrossEntropy()
        self.params, self.grads = pack(self.layers)

    @classmethod
    def mlp(cls, widths: Sequence[int], *, rng=None, dtype=np.float32, activation=ReLU) -> Network:
        """Dense layers of ``widths`` with ``activation`` between them, e.g. ``[2, 64, 3]`` for seed 004."""
        rng, layers = as_rng(rng), []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(widths)):
            layers.append(Dense(n_in, n_out, rng=rng, dtype=dtype))
            if i < len(widths) - 2:
                layers.append(activation())
        return cls(layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self) -> None:
        d = self.loss.backward()
        for layer in reversed(self.layers[1:]):
            d = layer.backward(d)
        self.layers[0].backward(d, input_grad=False)

    def fit(self, x: np.ndarray, y: np.ndarray, optimizer, epochs: int,
            log: Callable[[str], None] | None = None, log_every: int = 100) -> dict[str, np.ndarray]:
        """Full-batch training: per epoch forward, loss, accuracy, backward, update (seed 004's loop).
        Returns per-epoch ``loss`` and ``accuracy`` measured before that epoch's update."""
        dtype = self.layers[0].weights.dtype
        x = np.ascontiguousarray(x, dtype=dtype)
        losses, accuracies = np.empty(epochs), np.empty(epochs)
        for epoch in range(epochs):
            losses[epoch] = self.loss.forward(self.forward(x), y)
            accuracies[epoch] = np.count_nonzero(self.loss.output.argmax(axis=1) == y) / len(y)
            if log is not None and epoch % log_every == 0:
                log(f"epoch: {epoch}, acc: {accuracies[epoch]:.3f}, loss: {losses[epoch]:.3f}, "
                    f"lr: {optimizer.current_learning_rate}")
            self.backward()
            optimizer.step([self.params], [self.grads])
        return {"loss": losses, "accuracy": accuracies}


def pack(layers) -> tuple[np.ndarray, np.ndarray]:
    """Move every layer's parameters and gradients into two flat vectors and make the layers' arrays views of
    them, so an optimizer updates the whole network with one vectorized step."""
    arrays = [(layer, name, value) for layer in layers for name, value in layer.parameters().items()]
    if not arrays:
        return np.empty(0), np.empty(0)
    dtype = np.result_type(*(value.dtype for _, _, value in arrays))
    total = sum(value.size for _, _, value in arrays)
    params, grads = np.empty(total, dtype=dtype), np.zeros(total, dtype=dtype)
    offset = 0
    for layer, name, value in arrays:
        view = slice(offset, offset + value.size)
        params[view] = value.ravel()
        setattr(layer, name, params[view].reshape(value.shape))
        layer.grads[name] = grads[view].reshape(value.shape)
        offset += value.size
    return params, grads
