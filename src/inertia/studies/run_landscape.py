"""The loss landscape of a saved comparison (the folder ``inertia compare`` wrote): its first seed's run of every
momentum traced again epoch by epoch through the comparison's own code path, checked against the curves the folder
holds, and drawn on one plane (:func:`inertia.studies.landscape.draw`).

A comparison saves metrics, not weights; its runs are deterministic (the same seeds, minibatch order and engine),
so the folder's configuration is enough to trace them again. How closely they match is measured, not assumed:
``config["reproduced"]`` is, per run, the largest difference between the traced run's full-data loss and the
folder's ``curves.csv`` over the epochs, relative to the loss (float32 round-off, about 1e-7, on the machine
and engine that made the folder; more where the runs' chaos amplified another machine's round-off). A run that
diverged is left out of the picture and named in ``config["left_out"]``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from inertia.studies.plane import check_plane

REPRODUCED = 1e-4  # a traced run whose loss differs from the folder's by more than this (relative) is reported


class RunFolderError(ValueError):
    """A folder that holds no comparison to draw."""


def read_run(folder: str | Path) -> tuple[dict, object]:
    """The comparison saved in ``folder``: its ``summary.json`` (a dict) and ``curves.csv`` (a DataFrame).
    :class:`RunFolderError`, naming the folder, when it holds none."""
    import pandas as pd

    folder = Path(folder)
    how = f"give the folder `inertia compare --out {folder}` wrote"
    if not folder.exists():
        raise RunFolderError(f"RUN_FOLDER {folder} does not exist: {how}, or a saved state dict (.pt)")
    if not folder.is_dir():
        raise RunFolderError(f"RUN_FOLDER {folder} is not a folder: {how}")
    summary_file, curves_file = folder / "summary.json", folder / "curves.csv"
    if not summary_file.is_file() or not curves_file.is_file():
        raise RunFolderError(f"RUN_FOLDER {folder} holds no compare run (no summary.json and curves.csv): {how}")
    try:
        summary = json.loads(summary_file.read_text())
        missing = {"momenta", "seeds", "epochs", "lr"} - set(summary["config"])
        curves = pd.read_csv(curves_file)
        missing |= {"momentum", "seed", "epoch", "loss"} - set(curves.columns)
        if missing:
            raise KeyError(", ".join(sorted(missing)))
    except (ValueError, KeyError, TypeError) as exc:
        raise RunFolderError(f"RUN_FOLDER {folder} holds no readable compare run ({type(exc).__name__}: {exc})") \
            from None
    return summary, curves


def run_landscape(folder: str | Path, basis: str = "pca", grid: int = 51, span: float = 1.25,
                  direction_seed: int = 0, device: str | None = None, progress: bool = False):
    """The landscape of the comparison saved in ``folder`` (:func:`comparison_landscape` of what it holds, with
    its folder named in the study's configuration)."""
    check_plane(basis, grid, span)
    summary, curves = read_run(folder)
    return comparison_landscape(summary, curves, basis, grid, span, direction_seed, device, progress,
                                source=str(folder))


def trace(summary: dict, momenta=None, seeds=None, device: str | None = None, progress: bool = False,
          dataset=None):
    """The comparison of ``summary`` (its ``config`` and ``trained_on``) trained again with every epoch's model of
    its first seed kept (:attr:`Comparison.snapshots`, epoch 0 the initial weights): its own momenta and seeds,
    or ``momenta`` and ``seeds`` instead, on its engine and device (the CPU where that GPU is absent), its data set
    read again by name unless ``dataset`` gives it; the baselines, momentum schedules and equal-effective-lr runs
    are not trained."""
    import torch

    from inertia.studies.comparison.training import compare

    c = summary["config"]
    engine = summary.get("trained_on", {}).get("engine", "auto")
    if device is None:
        device = summary.get("trained_on", {}).get("device", "auto")
        device = "cpu" if device.startswith("cuda") and not torch.cuda.is_available() else device
    if seeds is None:
        seeds = c["seeds"] if engine != "loop" else c["seeds"][:1]  # the loop trains each run on its own
    return compare(
        momenta=c["momenta"] if momenta is None else momenta, dataset=c["dataset"] if dataset is None else dataset,
        layers=c["layers"], lr=c["lr"],
        batch_size=c["batch_size"], epochs=c["epochs"], seeds=seeds, shuffle=c["shuffle"],
        activation=c["activation"], data_seed=c["data_seed"], form=c["form"], engine=engine, device=device,
        progress=progress, nesterov=c["nesterov"], schedule=c.get("schedule"), model=c.get("model"),
        keep=range(c["epochs"] + 1))


def checkpoints_of(comparison, momentum: float):
    """The first seed's run of ``momentum`` as (epochs + 1, D) flat weights, from its snapshots."""
    import torch

    from inertia.studies.landscape import flatten

    snapshots = comparison.snapshots
    return torch.stack([flatten(snapshots[e][momentum]) for e in range(comparison.config.epochs + 1)])


def comparison_landscape(summary: dict, curves, basis: str = "pca", grid: int = 51, span: float = 1.25,
                         direction_seed: int = 0, device: str | None = None, progress: bool = False,
                         source: str = "the comparison", dataset=None):
    """The landscape of a comparison, given its ``summary`` (:meth:`Comparison.summary`) and ``curves``
    (:meth:`Comparison.curves`): every momentum's run of its first seed :func:`trace`-d again (the whole population
    as the comparison trained it, on its engine), checked against ``curves``, and drawn on one plane through the
    final weights of the run with the lowest final loss, with the 1-D line from the smallest momentum's solution
    to the largest's. ``dataset`` is the comparison's data set where its name cannot be read again (an upload);
    ``basis``, ``grid``, ``span`` and ``direction_seed`` as in :func:`~inertia.studies.landscape.draw`. Returns a
    :class:`~inertia.studies.landscape.LandscapeStudy`."""
    from inertia.studies.landscape import draw

    check_plane(basis, grid, span)
    started = time.perf_counter()
    comparison = trace(summary, device=device, progress=progress, dataset=dataset)
    config = comparison.config
    seed = config.seeds[0]
    if "optimizer" in curves:
        curves = curves[curves["optimizer"] == "momentum"]
    checkpoints, reproduced, left_out, finals = {}, {}, [], {}
    for m in config.momenta:
        run, name = comparison.run(m, seed), f"momentum {m:g}"
        if run.history.diverged:
            left_out.append(name)
            continue
        checkpoints[name] = checkpoints_of(comparison, m)
        saved = curves[np.isclose(curves["momentum"], m) & (curves["seed"] == seed)].sort_values("epoch")
        traced = np.asarray(run.history.loss, dtype=np.float64)
        saved = saved["loss"].to_numpy(dtype=np.float64)
        reproduced[name] = (float(np.max(np.abs(traced - saved) / np.maximum(1.0, np.abs(saved))))
                            if len(saved) == len(traced) else float("inf"))
        finals[name] = float(traced[-1])
    if not checkpoints:
        raise ValueError(f"every run of seed {seed} in {source} diverged: there is no path to draw")
    names = list(checkpoints)
    network = list(config.layers) if config.model is None else comparison.snapshots[0][config.momenta[0]]
    x, y = comparison.dataset.tensors()
    described = {"run": source, "dataset": comparison.dataset.name,
                 "layers": None if config.layers is None else list(config.layers), "model": config.model,
                 "activation": config.activation, "lr": config.lr, "momenta": [float(m) for m in config.momenta],
                 "nesterov": config.nesterov, "schedule": config.schedule, "epochs": config.epochs,
                 "batch_size": config.batch_size, "seed": seed, "engine": comparison.trained_on["engine"],
                 "reproduced": reproduced, "left_out": left_out}
    return draw(checkpoints, min(finals, key=finals.get), (names[0], names[-1]) if len(names) > 1 else None,
                network, config.activation, x, y, described, basis, grid, span, direction_seed, started)


def faithful(config: dict) -> list[str]:
    """Sentences for each traced run of a study's ``config`` that does not match the folder's curves (empty when
    all do, or when nothing was traced)."""
    return [f"{name}: traced again here, its loss differs from {config['run']}'s curves by up to "
            f"{difference:.2g} (relative): the folder was made on another machine, engine or version, and the path "
            "drawn is this machine's" for name, difference in config.get("reproduced", {}).items()
            if not difference <= REPRODUCED]


def saved_model_landscape(weights: str | Path, dataset="spiral", layers=None, activation: str = "relu",
                          model: str | None = None, grid: int = 51, span: float = 1.25, direction_seed: int = 0,
                          data_seed: int = 0, progress: bool = False):
    """The loss surface around a saved model (Li et al.'s use): the state dict in the file ``weights`` (what
    ``torch.save(model.state_dict(), path)`` writes) loaded into inertia's MLP of ``layers`` and ``activation``,
    or into ``model(0)`` for a ``"module:function"`` of one's own; drawn on two filter-normalised directions
    (seeded by ``direction_seed``) over [−span, span], with the 1-D lines θ − d₁ → θ + d₁ and θ − d₂ → θ + d₂.
    There is no trajectory, so no PCA plane; the saved weights are the one point drawn. ``progress`` says on
    stderr what starts once the file has loaded."""
    import torch

    from inertia import data as data_module
    from inertia import factory as factories
    from inertia.arguments import layers_for
    from inertia.models import MLP
    from inertia.studies import landscape as L

    check_plane("filter", grid, span)
    weights = Path(weights)
    if not weights.is_file():
        raise RunFolderError(f"RUN_FOLDER {weights} is neither a folder nor a file: give a compare folder or a saved "
                             "state dict (.pt)")
    full = data_module.get(dataset, seed=data_seed) if isinstance(dataset, str) else dataset
    if model is None:
        layers = layers_for(full, layers)
        network = MLP(layers, activation)
    else:
        factory = factories.load(model)
        factories.check(factory, full, 0)
        network = factories.build(factory, 0)
    what = f"model {model}" if model else f"an MLP {list(layers)} ({activation})"
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise RunFolderError(f"RUN_FOLDER {weights} is not a file torch.save wrote ({type(exc).__name__}); give a "
                             f"state dict of {what}") from None
    try:
        network.load_state_dict(state)
    except (RuntimeError, ValueError, TypeError, AttributeError) as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise RunFolderError(f"RUN_FOLDER {weights} is not a state dict of {what}: "
                             f"{' '.join(lines[1:2] or lines[:1]) or type(exc).__name__}") from None
    from inertia.progress import status

    status(f"inertia landscape: a {grid} × {grid} surface around the saved weights of {weights}", progress)
    started = time.perf_counter()
    centre = L.flatten(network)
    x, y = full.tensors()
    shape = list(layers) if model is None else network
    described = {"weights": str(weights), "dataset": full.name, "layers": list(layers) if model is None else None,
                 "model": model, "activation": activation}
    return L.draw({"saved model": centre[None, :]}, "saved model", None, shape, activation, x, y, described,
                  "filter", grid, span, direction_seed, started)
