"""Checks of the arguments every layer takes: counts, flags, seeds and layer widths, each with one message (the
one the command line prints). Nothing heavy is imported here, so a command refuses a bad argument before it loads
torch or the compiled kernels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SEED_RANGE = (-(2**63), 2**63 - 1)  # seeds are int64 (folded to 32 bits where they are used)
# The activations every population engine runs, in the order of the codes its compiled kernels branch on.
POPULATION_ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "identity")


def check_positive_int(name: str, value) -> int:
    """``value`` as an int if it is a positive integer, else a ``ValueError`` naming ``name``."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_bool(name: str, value) -> bool:
    """``value`` if it is a bool (NumPy's too), else a ``ValueError`` naming ``name``: a string such as ``"no"``
    would otherwise read as true."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_seed(seed, name: str = "seed") -> int:
    """``seed`` as an int if it is an integer int64 can hold, else a ``ValueError`` naming ``name``."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
        raise ValueError(f"{name} must be an integer from -2**63 to 2**63 - 1, got {seed!r}")
    return int(seed)


def check_layers(layers: Sequence[int]) -> list[int]:
    """``layers`` as a list of positive ints (input width first, classes last), or a clear error."""
    layers = list(layers)
    if len(layers) < 2:
        raise ValueError(f"layers must list at least an input and an output width, got {layers}")
    if not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in layers):
        raise ValueError(f"layers must be positive integers, got {layers}")
    return layers


def layers_for(dataset, layers: Sequence[int] | None = None) -> list[int]:
    """``layers`` checked against ``dataset``: the input width must be its features and the output width its
    classes; ``None`` means ``[features, 50, classes]``, the lab's network for that data."""
    layers = [dataset.features, 50, dataset.classes] if layers is None else check_layers(layers)
    for index, have, what in ((0, dataset.features, "features"), (-1, dataset.classes, "classes")):
        if layers[index] != have:
            raise ValueError(f"layers {layers} do not fit dataset {dataset.name!r}: layers[{index}] is {layers[index]} "
                             f"but dataset {dataset.name!r} has {have} {what}")
    return layers
