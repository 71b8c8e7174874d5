"""Theory against measurement on a real network: the largest stable learning rate per momentum.

On a quadratic, heavy-ball momentum converges iff ``lr·λ_max < 2(1 + β)`` (:mod:`inertia.studies.theory`). For the
spiral network we estimate λ_max, the top eigenvalue of the full-data loss's Hessian at initialization, by
power iteration on Hessian-vector products, and measure the edge directly: full-batch training (one update
per epoch, as the theory assumes) of a population over a grid of learning rates for each momentum.

Two edges are measured, because a network is not a quadratic. The theory's edge is where the dynamics linearized
at initialization turn unstable: past it the loss rises above where it started. A network then lowers its own
curvature and settles (a "catapult", Lewkowycz et al. 2020), so it survives well past that edge, up to a learning
rate the quadratic theory does not describe. ``measured_lr`` is the largest rate whose loss stays below its start
through the first ``calm_epochs`` epochs (the theory's edge: on the spiral network 1.6, 1.9, 2.2 against 1.2,
1.7, 2.2 predicted for β = 0, 0.5, 0.9); ``surviving_lr`` the largest whose run is ``ok`` at the end
(:mod:`inertia.outcome`: it neither diverged nor ended at or above its starting loss; about 6.3 at every β).
"""

from __future__ import annotations

import numpy as np
import torch

from inertia.data import Dataset
from inertia.models import MLP
from inertia.population import Members, train_population
from inertia.progress import progress_bar


def hessian_lambda_max(model: torch.nn.Module, dataset: Dataset, iterations: int = 100, seed: int = 0,
                       on_iteration=None) -> float:
    """Top Hessian eigenvalue of the full-data cross-entropy at ``model``'s weights (float64 power iteration);
    ``on_iteration()`` is called after each iteration."""
    model = model.double()
    params = [p for p in model.parameters() if p.requires_grad]
    x, y = dataset.tensors(dtype=torch.float64)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    generator = torch.Generator().manual_seed(seed)
    vector = [torch.randn(p.shape, generator=generator, dtype=torch.float64) for p in params]
    estimate = 0.0
    for _ in range(iterations):
        norm = torch.sqrt(sum((v * v).sum() for v in vector))
        vector = [v / norm for v in vector]
        product = torch.autograd.grad(grads, params, grad_outputs=vector, retain_graph=True)
        estimate = float(sum((p * v).sum() for p, v in zip(product, vector)))
        vector = [p.detach() for p in product]
        if on_iteration is not None:
            on_iteration()
    return estimate


def edges(dataset: Dataset, layers, betas=(0.0, 0.5, 0.9), lrs=None, epochs: int = 50, seed: int = 0,
          iterations: int = 100, progress: bool = False, calm_epochs: int = 20) -> dict:
    """Predicted and measured largest stable learning rate for each momentum in ``betas`` (both edges of the
    module docstring); with ``progress``, a progress bar on stderr."""
    if lrs is None:
        lrs = np.geomspace(0.05, 50, 41)
    lrs = np.asarray(lrs, dtype=float)
    members = Members.grid(momentum=list(betas), lr=lrs, seed=seed)
    with progress_bar(iterations + epochs, progress) as advance:
        lam = hessian_lambda_max(MLP(layers, seed=seed), dataset, iterations=iterations, seed=seed,
                                 on_iteration=lambda: advance("Hessian power iteration"))
        result = train_population(dataset, layers, members, epochs=epochs, batch_size=len(dataset),
                                  shuffle=False, dtype=torch.float64, device="cpu",
                                  on_epoch=lambda done: advance(f"{len(members)} runs, full batch",
                                                                done / len(members)))
    x, y = dataset.tensors()
    with torch.no_grad():
        start = float(torch.nn.functional.cross_entropy(MLP(layers, seed=seed)(x), y))
    # one row of the grid per momentum, one column per learning rate
    shape = (len(betas), len(lrs))
    with np.errstate(invalid="ignore"):
        below = (result.metrics["loss"][:, :calm_epochs] < result.initial_loss[:, None]).all(axis=1)
    calm = ((result.diverged_at < 0) & below).reshape(shape)
    surviving = (result.summaries()["status"] == "ok").reshape(shape)
    rows = []
    for beta, calm_row, ok_row in zip(betas, calm, surviving):
        rows.append({"momentum": beta, "predicted_lr": 2 * (1 + beta) / lam,
                     "measured_lr": float(lrs[calm_row].max()) if calm_row.any() else None,
                     "surviving_lr": float(lrs[ok_row].max()) if ok_row.any() else None})
    return {"lambda_max": lam, "epochs": epochs, "calm_epochs": calm_epochs, "initial_loss": start, "rows": rows}
