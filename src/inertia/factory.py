"""A model of your own: ``factory(seed)`` returns any ``torch.nn.Module``, and the comparison trains it.

:func:`load` reads a ``module:function`` text (the CLI's ``--model``); :func:`check` builds the first seed's model
and refuses, with one line naming what is wrong, a factory whose model is not an ``nn.Module``, has no trainable
parameters, does not map the data's ``(N, features)`` rows to ``(N, classes)`` logits, or differs from one call
to the next. :func:`build` is how every run gets its model: with torch's global generator seeded by ``seed``
(and restored afterwards), so a factory that leaves initialisation to torch still gives one set of initial
weights per seed, and the momenta of one seed start from the same point.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from inertia.data import Dataset


class FactoryError(ValueError):
    """A model factory that cannot be used, with why."""


def name(factory: Callable) -> str:
    """``module:function`` for ``factory``, as ``--model`` takes it (a lambda or a local function keeps its name
    but cannot be imported back)."""
    return f"{getattr(factory, '__module__', '?')}:{getattr(factory, '__qualname__', type(factory).__name__)}"


def load(spec: str, option: str = "--model") -> Callable:
    """The callable ``spec`` (``package.module:function``) names, imported with the current folder on the path."""
    module_name, colon, attribute = str(spec).partition(":")
    if not colon or not module_name or not attribute:
        raise FactoryError(f"{option} must be module:function (e.g. mymodels:cnn, for a function cnn(seed) in "
                           f"mymodels.py), got {spec!r}")
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise FactoryError(f"{option} {spec}: cannot import {module_name!r} from the current folder or the "
                           f"Python path ({error})") from error
    target = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise FactoryError(f"{option} {spec}: module {module_name!r} has no {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise FactoryError(f"{option} {spec}: {attribute!r} is not callable; it must be a function of the seed "
                           "that returns a torch nn.Module")
    return target


def build(factory: Callable, seed: int):
    """``factory(seed)`` with torch's global generator seeded by ``seed`` for the call (its state restored)."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory(seed)


def check(factory: Callable, dataset: Dataset, seed: int):
    """The first model ``factory`` builds, checked against ``dataset`` (see the module's doc); raises
    :class:`FactoryError` saying what is wrong."""
    import torch

    if not callable(factory):
        raise FactoryError(f"model must be a function of the seed that returns a torch nn.Module, got "
                           f"{type(factory).__name__}")
    label = name(factory)
    model = build(factory, seed)
    if not isinstance(model, torch.nn.Module):
        raise FactoryError(f"model {label}({seed}) returned {type(model).__name__}, not a torch nn.Module")
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise FactoryError(f"model {label}({seed}) has no trainable parameters")
    first = parameters[0]
    x, _ = dataset.tensors(first.device, first.dtype)
    try:
        with torch.no_grad():
            logits = model(x[:2])
    except Exception as error:  # the user's forward pass: say where it failed
        raise FactoryError(f"model {label}({seed}) fails on a batch of 2 rows of {dataset.name!r} (shape "
                           f"{tuple(x[:2].shape)}): {type(error).__name__}: {error}") from error
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (2, dataset.classes):
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise FactoryError(f"model {label}({seed}) must map (N, {dataset.features}) inputs to (N, "
                           f"{dataset.classes}) logits for {dataset.name!r}; a batch of 2 gave {shape}")
    again = build(factory, seed)
    same = len(list(again.parameters())) == len(list(model.parameters())) and all(
        np.array_equal(a.detach().cpu().numpy(), b.detach().cpu().numpy())
        for a, b in zip(model.parameters(), again.parameters()))
    if not same:
        raise FactoryError(f"model {label}({seed}) gives different initial weights on each call; make them a "
                           "function of the seed (torch's global generator is seeded with it for the call) so "
                           "every momentum starts from the same point")
    return model
