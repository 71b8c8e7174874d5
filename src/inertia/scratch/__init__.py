"""Momentum from scratch in NumPy: seed 004's network (dense layers, activations, softmax cross-entropy,
SGD with momentum and decay), vectorized, with the update math taken from :mod:`inertia.optim.rules`."""

from inertia.scratch.layers import Dense, ReLU, Sigmoid, Softmax, Tanh
from inertia.scratch.losses import BinaryCrossEntropy, CategoricalCrossEntropy, SoftmaxCrossEntropy
from inertia.scratch.network import Network
from inertia.scratch.optim import SGD

__all__ = ["SGD", "BinaryCrossEntropy", "CategoricalCrossEntropy", "Dense", "Network", "ReLU", "Sigmoid",
           "Softmax", "SoftmaxCrossEntropy", "Tanh"]
