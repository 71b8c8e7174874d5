"""The loss landscape a run travels: directions, surfaces evaluated many points at once, and how faithful they are.

Weights are flat vectors θ, a model's parameters in ``parameters()`` order (for an :class:`inertia.models.MLP`,
weight (out, in) row-major then bias, layer by layer: :func:`flatten`). A *network* is the layer widths of
inertia's MLP (evaluated on the population engine's batched products) or a ``torch.nn.Module`` of one's own (its
points evaluated many at once with ``torch.func.vmap`` over ``functional_call``).

Around a centre θ₀ a plane θ₀ + a·d₁ + b·d₂ is spanned by two directions:

- **filter-normalised** random directions (Li et al. 2018): Gaussian, then each filter — a row of a weight matrix,
  one output unit — rescaled to the norm of the same row of θ₀; biases left out (zero);
- the **PCA** directions of a run's checkpoints: the top two principal axes of θ_t − θ_final, with the share of
  the variance each explains.

A surface is every grid point's full-data loss and accuracy, all points stacked as one population and evaluated
in batches (:func:`inertia.population.evaluate.full_data_metrics`), not one model at a time. A trajectory is
projected onto the plane by least squares, and its faithfulness is measured, not assumed: for every checkpoint,
the gap |L(θ_t) − L(θ₀ + a_t·d₁ + b_t·d₂)| between its own loss and the loss at its projection.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from inertia.population.evaluate import full_data_metrics


def flatten(model: torch.nn.Module) -> torch.Tensor:
    """The model's parameters as one float64 vector (weight then bias per layer, as ``parameters()`` yields)."""
    return torch.cat([p.detach().reshape(-1).double() for p in model.parameters()])


Network = Sequence[int] | torch.nn.Module


def shapes_of(layers: Network) -> list[tuple[int, ...]]:
    """The parameter shapes of a network: for an MLP of widths ``layers``, per layer (out, in) then (out,)."""
    if isinstance(layers, torch.nn.Module):
        return [tuple(p.shape) for p in layers.parameters()]
    out = []
    for n_in, n_out in itertools.pairwise(layers):
        out += [(n_out, n_in), (n_out,)]
    return out


def filter_normalized(centre: torch.Tensor, layers: Network, seed: int) -> torch.Tensor:
    """Li et al.'s direction: standard normal (generator ``seed``), each filter — a weight row, or a convolution's
    output channel — scaled to the norm of the same filter of ``centre``; biases (every 1-D parameter) zero. A
    float64 vector shaped like ``centre``."""
    generator = torch.Generator().manual_seed(seed)
    d = torch.randn(centre.shape, generator=generator, dtype=torch.float64)
    at = 0
    for shape in shapes_of(layers):
        size = int(np.prod(shape))
        if len(shape) >= 2:
            rows, own = d[at : at + size].view(shape[0], -1), centre[at : at + size].view(shape[0], -1)
            rows.mul_(own.norm(dim=1, keepdim=True) / rows.norm(dim=1, keepdim=True).clamp_min(1e-30))
        else:
            d[at : at + size] = 0
        at += size
    return d


@dataclass
class Basis:
    """A plane θ₀ + a·d₁ + b·d₂; ``explained`` the share of variance of each PCA direction (None for random)."""

    centre: torch.Tensor
    d1: torch.Tensor
    d2: torch.Tensor
    explained: tuple[float, float] | None = None


def pca_basis(checkpoints: torch.Tensor, centre: torch.Tensor | None = None) -> Basis:
    """The top two principal directions of θ_t − θ_final over ``checkpoints`` (T, D), θ_final their last (and
    the plane's centre unless ``centre`` is given) — Li et al.'s construction, whose PCA (scikit-learn's)
    centres those differences on their mean — as unit vectors, with the share of the variance each explains."""
    final = (checkpoints[-1] if centre is None else centre).double()
    spread = checkpoints.double() - final
    spread = spread - spread.mean(dim=0)
    _, s, vh = torch.linalg.svd(spread, full_matrices=False)
    share = [*(s**2 / (s**2).sum()).tolist(), 0.0]
    return Basis(final, vh[0], vh[1], (share[0], share[1]))


def project(points: torch.Tensor, basis: Basis) -> np.ndarray:
    """Coordinates (a, b) of each of ``points`` (T, D) on the plane, by least squares: (T, 2)."""
    span = torch.stack([basis.d1, basis.d2], dim=1)  # (D, 2)
    solution = torch.linalg.lstsq(span, (points.double() - basis.centre).T).solution  # (2, T)
    return solution.T.numpy()


def evaluate(points: torch.Tensor, layers: Network, activation: str, x: torch.Tensor, y: torch.Tensor,
             dtype=torch.float32) -> tuple[np.ndarray, np.ndarray]:
    """Full-data loss and accuracy of every flat weight vector of ``points`` (P, D) at once, as one population
    in ``dtype`` (a module of one's own: ``activation`` unused, a block of points per vectorized call)."""
    points = points.to(dtype)
    if isinstance(layers, torch.nn.Module):
        return _module_metrics(points, layers, x.to(dtype), y)
    stacked, at = [], 0
    for n_in, n_out in itertools.pairwise(layers):
        weight = points[:, at : at + n_in * n_out].view(-1, n_out, n_in)
        at += n_in * n_out
        stacked += [weight.transpose(1, 2).contiguous(), points[:, None, at : at + n_out]]  # (P, in, out) for bmm
        at += n_out
    return full_data_metrics(stacked, activation, x.to(dtype), y)


def _module_metrics(points: torch.Tensor, module: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                    block: int = 32) -> tuple[np.ndarray, np.ndarray]:
    import copy

    from torch.func import functional_call, vmap

    template = copy.deepcopy(module).to(points.dtype).eval()
    named = [(name, tuple(p.shape)) for name, p in template.named_parameters()]

    def metrics(parameters):
        logits = functional_call(template, parameters, (x,))
        hits = (logits.argmax(dim=1) == y).double().mean()
        return torch.nn.functional.cross_entropy(logits, y), hits

    losses, hits = [], []
    with torch.no_grad():
        for part in points.split(block):
            at, parameters = 0, {}
            for name, shape in named:
                size = int(np.prod(shape))
                parameters[name] = part[:, at : at + size].reshape(len(part), *shape)
                at += size
            loss, hit = vmap(metrics)(parameters)
            losses.append(loss)
            hits.append(hit)
    return torch.cat(losses).double().numpy(), torch.cat(hits).double().numpy()


def plane_points(basis: Basis, a: np.ndarray, b: np.ndarray) -> torch.Tensor:
    """θ₀ + a·d₁ + b·d₂ for each pair of the equal-length coordinate arrays ``a`` and ``b``: (len(a), D)."""
    a = torch.as_tensor(np.asarray(a, dtype=np.float64))[:, None]
    b = torch.as_tensor(np.asarray(b, dtype=np.float64))[:, None]
    return basis.centre[None, :] + a * basis.d1[None, :] + b * basis.d2[None, :]


@dataclass
class Surface:
    """Loss and accuracy on the grid ``xs`` × ``ys`` of a plane (arrays (len(ys), len(xs)))."""

    basis: Basis
    xs: np.ndarray
    ys: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray


def surface(basis: Basis, xs: Sequence[float], ys: Sequence[float], layers: Network, activation: str,
            x: torch.Tensor, y: torch.Tensor) -> Surface:
    """Every grid point's full-data loss and accuracy, all of them as one population (see the module docstring)."""
    xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    if xs.ndim != 1 or ys.ndim != 1 or len(xs) < 2 or len(ys) < 2:
        raise ValueError(f"grid must have at least 2 points on each axis; got {len(np.atleast_1d(xs))} × "
                         f"{len(np.atleast_1d(ys))}")
    a, b = np.meshgrid(xs, ys)
    loss, accuracy = evaluate(plane_points(basis, a.ravel(), b.ravel()), layers, activation, x, y)
    return Surface(basis, xs, ys, loss.reshape(a.shape), accuracy.reshape(a.shape))


def interpolation(start: torch.Tensor, end: torch.Tensor, alphas: Sequence[float], layers: Network,
                  activation: str, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Full-data loss along (1 − α)·start + α·end for each α (0: ``start``, 1: ``end``)."""
    alphas = torch.as_tensor(np.asarray(alphas, dtype=np.float64))[:, None]
    points = (1 - alphas) * start.double()[None, :] + alphas * end.double()[None, :]
    return evaluate(points, layers, activation, x, y)[0]


def projection_gaps(checkpoints: torch.Tensor, basis: Basis, layers: Network, activation: str,
                    x: torch.Tensor, y: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each checkpoint's coordinates on the plane (T, 2), its own full-data loss L(θ_t) (T,) and the gap
    |L(θ_t) − L(its projection)| (T,)."""
    coordinates = project(checkpoints, basis)
    own = evaluate(checkpoints, layers, activation, x, y)[0]
    there = evaluate(plane_points(basis, coordinates[:, 0], coordinates[:, 1]), layers, activation, x, y)[0]
    return coordinates, own, np.abs(own - there)


ARMS = ("SGD", "momentum", "Nesterov")


@dataclass
class LandscapeStudy:
    """Runs from one initialisation, their checkpoints after every epoch, the plane they are drawn on and its
    surface, each checkpoint's projection and gap, and the 1-D loss along initial → final for each run and between
    two runs' solutions. ``config`` says what was drawn (for a saved comparison, also its folder and how closely
    the runs traced again match its curves)."""

    config: dict
    checkpoints: dict  # run -> (epochs + 1, D)
    surface: Surface
    coordinates: dict  # run -> (epochs + 1, 2)
    losses: dict  # run -> (epochs + 1,) its own full-data loss
    gaps: dict  # run -> (epochs + 1,) |L(θ_t) − L(projection)|
    lines: dict  # name -> (alphas, losses)
    seconds: float = 0.0

    def summary(self) -> dict:
        basis = self.surface.basis
        return {"config": self.config, "explained": None if basis.explained is None else list(basis.explained),
                "seconds": round(self.seconds, 2),
                "gaps": {arm: {"max": float(g.max()), "median": float(np.median(g)), "final": float(g[-1])}
                         for arm, g in self.gaps.items()},
                "final_loss": {arm: float(v[-1]) for arm, v in self.losses.items()},
                "surface_min": float(np.nanmin(self.surface.loss)), "grid": [len(self.surface.xs),
                                                                              len(self.surface.ys)],
                "lines": {name: {"alpha": alphas.tolist(), "loss": values.tolist()}
                          for name, (alphas, values) in self.lines.items()}}


def draw(checkpoints: dict, centre: str, between: tuple[str, str] | None, layers: Network, activation: str,
         x: torch.Tensor, y: torch.Tensor, config: dict, basis: str = "pca", grid: int = 51, span: float = 1.25,
         direction_seed: int = 0, started: float | None = None) -> LandscapeStudy:
    """Draw runs' ``checkpoints`` (name → (T, D), from one start) on one plane through the final weights of run
    ``centre``: ``basis="pca"`` (the top two principal directions of all the checkpoints) or ``"filter"`` (Li et
    al.'s filter-normalised random directions, seeded by ``direction_seed``). The grid is ``grid`` × ``grid``
    points over ``span`` times the largest projected coordinate (PCA), or [−span, span] in units of the
    directions (filter). 1-D interpolations run from each start to its end and (unless ``between`` is None) from
    run ``between[0]``'s solution to ``between[1]``'s."""
    import time

    from inertia.studies.plane import check_plane

    check_plane(basis, grid, span)
    started = time.perf_counter() if started is None else started
    middle = checkpoints[centre][-1]
    if basis == "pca":
        plane = pca_basis(torch.cat(list(checkpoints.values())), middle)
        extent = max(float(np.abs(project(c, plane)).max()) for c in checkpoints.values())
        axis = np.linspace(-span * extent, span * extent, grid)
    else:
        plane = Basis(middle.double(), filter_normalized(middle, layers, direction_seed),
                      filter_normalized(middle, layers, direction_seed + 1))
        axis = np.linspace(-span, span, grid)
    drawn = surface(plane, axis, axis, layers, activation, x, y)
    coordinates, losses, gaps = {}, {}, {}
    for arm, kept in checkpoints.items():
        coordinates[arm], losses[arm], gaps[arm] = projection_gaps(kept, plane, layers, activation, x, y)
    alphas = np.linspace(-0.25, 1.25, 61)
    lines = {f"{arm}: initial → final": (alphas, interpolation(kept[0], kept[-1], alphas, layers, activation, x, y))
             for arm, kept in checkpoints.items() if len(kept) > 1}
    if not lines:  # one point each (a saved model): the lines through it along the plane's two directions
        lines = {f"θ − {name} → θ + {name}": (alphas, interpolation(middle - d, middle + d, alphas, layers,
                                                                     activation, x, y))
                 for name, d in (("d₁", plane.d1), ("d₂", plane.d2))}
    if between is not None:
        first, second = between
        lines[f"{first}'s solution → {second}'s"] = (alphas, interpolation(
            checkpoints[first][-1], checkpoints[second][-1], alphas, layers, activation, x, y))
    config = {**config, "basis": basis, "grid": grid, "span": span, "direction_seed": direction_seed,
              "centre": centre}
    return LandscapeStudy(config, checkpoints, drawn, coordinates, losses, gaps, lines,
                          time.perf_counter() - started)


def landscape_study(dataset="spiral", layers: Sequence[int] | None = None, activation: str = "relu",
                    lr: float = 0.05, momentum: float = 0.9, epochs: int = 50, batch_size: int = 20, seed: int = 0,
                    basis: str = "pca", grid: int = 51, span: float = 1.25, direction_seed: int = 0,
                    data_seed: int = 0) -> LandscapeStudy:
    """Train SGD, momentum ``momentum`` and Nesterov at rate ``lr`` from the MLP of ``seed`` (the same minibatch
    order; on the population engine, which equals :func:`inertia.train.fit` run by run), keep every epoch's
    weights, and :func:`draw` them on one plane centred on momentum's final weights, with the 1-D line from SGD's
    solution to momentum's. For the runs of a saved comparison see :mod:`inertia.studies.run_landscape`."""
    import time

    from inertia import data as data_module
    from inertia.arguments import layers_for
    from inertia.models import MLP
    from inertia.optim.checks import check_hyperparameters
    from inertia.population import Member, train_population
    from inertia.studies.plane import check_plane

    check_plane(basis, grid, span)
    if momentum == 0:
        raise ValueError("momentum must be > 0: the study draws SGD beside momentum and Nesterov")
    check_hyperparameters(lr, momentum, 0.0, True, 0.0, "pytorch")
    full = data_module.get(dataset, seed=data_seed) if isinstance(dataset, str) else dataset
    layers = layers_for(full, layers)
    x, y = full.tensors()
    started = time.perf_counter()
    checkpoints, epochs_kept = {}, list(range(1, epochs + 1))
    initial = flatten(MLP(layers, activation, seed=seed))
    for arms, nesterov in (({"SGD": 0.0, "momentum": momentum}, False), ({"Nesterov": momentum}, True)):
        members = [Member(lr=lr, momentum=beta, seed=seed) for beta in arms.values()]
        result = train_population(full, layers, members, epochs=epochs, batch_size=batch_size, activation=activation,
                                  nesterov=nesterov, snapshots=epochs_kept, dtype=torch.float32)
        for j, arm in enumerate(arms):
            if result.histories[j].diverged:
                raise ValueError(f"{arm} diverged at lr {lr:g} after epoch {result.histories[j].diverged_at + 1}: "
                                 "choose a smaller lr, whose run the landscape can show")
            checkpoints[arm] = torch.stack([initial] + [flatten(result.model(j, e)) for e in epochs_kept])
    config = {"dataset": full.name, "layers": list(layers), "activation": activation, "lr": lr, "momentum": momentum,
              "epochs": epochs, "batch_size": batch_size, "seed": seed}
    return draw({arm: checkpoints[arm] for arm in ARMS}, "momentum", ("SGD", "momentum"), layers, activation, x, y,
                config, basis, grid, span, direction_seed, started)


def axis_labels(explained) -> tuple[str, str]:
    """What each direction of the plane is, given the share of the variance each PCA direction explains
    (:attr:`Basis.explained`; None for random directions)."""
    if explained:
        return (f"d₁: first principal direction ({100 * explained[0]:.1f} % of the variance)",
                f"d₂: second ({100 * explained[1]:.1f} %)")
    return "d₁: filter-normalised random direction", "d₂: another"


def title(config: dict) -> str:
    """The picture's title: the data, the network and which runs (two lines)."""
    network = config.get("model") or config["layers"]
    if "weights" in config:
        return (f"{config['dataset']} {network}: around the saved weights of {config['weights']}\n"
                f"(filter-normalised directions, seed {config['direction_seed']})")
    if "run" in config:
        return (f"{config['dataset']} {network}: the runs of {config['run']} from one start\n(seed "
                f"{config['seed']}, lr {config['lr']:g}, {config['epochs']} epochs)")
    return (f"{config['dataset']} {network}: three runs from one start\n(lr {config['lr']:g}, β "
            f"{config['momentum']:g}, {config['epochs']} epochs)")


def plot(study: LandscapeStudy):
    """The surface with the projected paths, their gaps per epoch, and the 1-D interpolations."""
    from inertia import plots

    s = study.surface
    return plots.landscape(s.xs, s.ys, s.loss, study.coordinates, study.gaps, study.lines,
                           axis_labels(s.basis.explained), title(study.config))


def save(study: LandscapeStudy, out) -> list[str]:
    """Write ``surface.npz`` (the grid, its loss and accuracy, the centre and both directions, every checkpoint:
    enough to recompute any point), ``trajectories.csv`` (per run and epoch: coordinates, own loss, gap),
    ``landscape.json`` and ``landscape.png`` into ``out`` as one unit; returns the names written."""
    import json

    import pandas as pd

    from inertia.folders import writing

    names = ["surface.npz", "trajectories.csv", "landscape.json", "landscape.png"]
    s = study.surface
    with writing(out, kind="landscape") as folder:
        here = folder.path
        np.savez_compressed(here / names[0], xs=s.xs, ys=s.ys, loss=s.loss, accuracy=s.accuracy,
                            centre=s.basis.centre.numpy(), d1=s.basis.d1.numpy(), d2=s.basis.d2.numpy(),
                            **({"layers": np.array(study.config["layers"])} if study.config.get("layers") else {}),
                            **{f"checkpoints_{arm}": c.numpy() for arm, c in study.checkpoints.items()})
        rows = [{"run": arm, "epoch": t, "a": xy[0], "b": xy[1], "loss": study.losses[arm][t],
                 "gap": study.gaps[arm][t]} for arm, coords in study.coordinates.items()
                for t, xy in enumerate(coords)]
        pd.DataFrame(rows).to_csv(here / names[1], index=False)
        (here / names[2]).write_text(json.dumps(study.summary(), indent=2) + "\n")
        plot(study).savefig(here / names[3], dpi=120)
    return names
