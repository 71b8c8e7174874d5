"""Heavy-ball momentum on quadratics, exactly (after Goh, "Why Momentum Really Works", Distill 2017).

On ``f(x) = ½ xᵀAx`` every eigen-direction of ``A`` (eigenvalue λ) evolves on its own. With the PyTorch form,
dampening 0 (equal to Polyak's form at a constant learning rate α) and momentum β, the state (x, b) of one
direction follows ``b ← β·b + λ·x``, ``x ← x − α·b``, i.e. the iteration matrix

    M = [[1 − αλ, −αβ],
         [λ,       β  ]]      with trace 1 − αλ + β and determinant β.

Its spectral radius is the per-step convergence rate of that direction. Closed forms:

- convergence region (0 ≤ β < 1): ``0 < αλ < 2 + 2β``;
- critical damping (the two eigenvalues meet): ``β = (1 − √(αλ))²``;
- optimal parameters for eigenvalues in [λ₁, λₙ], κ = λₙ/λ₁: ``α* = (2 / (√λ₁ + √λₙ))²``,
  ``β* = ((√κ − 1)/(√κ + 1))²``, rate ``(√κ − 1)/(√κ + 1)``; gradient descent's best is ``(κ − 1)/(κ + 1)``
  at ``α = 2/(λ₁ + λₙ)``.
"""

from __future__ import annotations

import math

import numpy as np


def iteration_matrix(alpha: float, beta: float, lam: float) -> np.ndarray:
    """The 2×2 matrix mapping one eigen-direction's (x, b) to the next step's."""
    return np.array([[1 - alpha * lam, -alpha * beta], [lam, beta]])


def rate(alpha, beta, lam):
    """Spectral radius of the iteration matrix: the roots of ``z² − (1 − αλ + β)·z + β``. Broadcasts."""
    alpha, beta, lam = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (alpha, beta, lam)))
    trace = 1 - alpha * lam + beta
    root = np.sqrt((trace * trace - 4 * beta).astype(complex))
    radius = np.maximum(np.abs((trace + root) / 2), np.abs((trace - root) / 2))
    return radius if radius.ndim else float(radius)


def worst_rate(alpha, beta, lam_min: float, lam_max: float, samples: int = 65):
    """The slowest direction's rate over eigenvalues spread across [λ_min, λ_max] (endpoints included)."""
    lams = np.geomspace(lam_min, lam_max, samples)
    alpha, beta = np.asarray(alpha, dtype=float), np.asarray(beta, dtype=float)
    return np.max(rate(alpha[..., None], beta[..., None], lams), axis=-1)


def stable_alpha(beta, lam):
    """The edge of the convergence region: the largest α with rate < 1 is ``(2 + 2β)/λ``."""
    return (2 + 2 * np.asarray(beta, dtype=float)) / lam


def critical_beta(alpha, lam):
    """The momentum at which the direction is critically damped: ``(1 − √(αλ))²``."""
    return (1 - np.sqrt(np.asarray(alpha, dtype=float) * lam)) ** 2


def gd_rate(kappa: float) -> float:
    """Gradient descent's best rate at condition number κ: ``(κ − 1)/(κ + 1)``."""
    return (kappa - 1) / (kappa + 1)


def optimal(lam_min: float, lam_max: float) -> dict[str, float]:
    """Optimal heavy-ball parameters and rates for eigenvalues in [λ_min, λ_max]."""
    if not 0 < lam_min <= lam_max or not math.isfinite(lam_max):
        raise ValueError(f"need 0 < lambda_min <= lambda_max < inf, got {lam_min} and {lam_max}")
    kappa = lam_max / lam_min
    root = math.sqrt(kappa)
    return {
        "lambda_min": lam_min,
        "lambda_max": lam_max,
        "kappa": kappa,
        "alpha_opt": (2 / (math.sqrt(lam_min) + math.sqrt(lam_max))) ** 2,
        "beta_opt": ((root - 1) / (root + 1)) ** 2,
        "rate_opt": (root - 1) / (root + 1),
        "alpha_gd": 2 / (lam_min + lam_max),
        "rate_gd": gd_rate(kappa),
    }


def measured_rate(eigenvalues, alpha: float, beta: float, steps: int = 2000, seed: int = 0, form: str = "pytorch"):
    """Run :func:`inertia.optim.rules.momentum_step` on ``f(x) = ½ xᵀAx`` (A with ``eigenvalues`` in a random basis)
    and return the observed per-step contraction of the state (x, buffer), averaged over the second half of
    ``steps``. The update is linear, so the state is rescaled to norm 1 after every step (the logarithms of
    the factors add up) and nothing underflows however fast it converges."""
    from inertia.optim.rules import momentum_step

    rng = np.random.default_rng(seed)
    n = len(eigenvalues)
    basis, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = basis @ np.diag(eigenvalues) @ basis.T
    x, buf = rng.standard_normal(n), None
    lr = alpha if form != "ema" else alpha / (1 - beta)
    logs = []
    for _ in range(steps):
        x, buf = momentum_step(x, a @ x, buf, lr=lr, momentum=beta, form=form)
        size = math.hypot(np.linalg.norm(x), 0.0 if buf is None else np.linalg.norm(buf))
        x, buf = x / size, None if buf is None else buf / size
        logs.append(math.log(size))
    return math.exp(np.mean(logs[steps // 2 :]))


def rate_figure(lam_min: float, lam_max: float, resolution: int = 160):
    """The slowest direction's rate over (α, β), with the convergence edge and the optimum marked."""
    from matplotlib import colormaps, colors

    from inertia.plots import Figure

    best = optimal(lam_min, lam_max)
    alphas = np.linspace(1e-4, 2.2 * 2 / lam_max, resolution)  # up to past the β = 1 edge
    betas = np.linspace(0, 0.999, resolution)
    grid = worst_rate(alphas[None, :], betas[:, None], lam_min, lam_max)
    figure = Figure(figsize=(7.2, 6.0), layout="constrained")
    ax = figure.add_subplot()
    cmap = colormaps["viridis"].with_extremes(over="lightgray")
    mesh = ax.pcolormesh(alphas, betas, grid, cmap=cmap, shading="auto",
                         norm=colors.Normalize(vmin=best["rate_opt"], vmax=1.0))
    figure.colorbar(mesh, ax=ax, extend="max",
                    label="convergence rate per step, slowest direction (grey: ≥ 1, diverges)")
    levels = sorted({round(v, 3) for v in (best["rate_opt"] + (1 - best["rate_opt"]) * f for f in (0.2, 0.5, 0.8))})
    lines = ax.contour(alphas, betas, grid, levels=levels, colors="white", linewidths=0.8, alpha=0.8)
    ax.clabel(lines, fontsize=7, fmt="%.3g")
    ax.plot(stable_alpha(betas, lam_max), betas, "--", color="tab:cyan", lw=1.5,
            label=r"edge $\alpha\lambda_{\max} = 2 + 2\beta$ (past it: diverges)")
    ax.plot([best["alpha_opt"]], [best["beta_opt"]], "*", color="tab:green", ms=14,
            label=f"optimum α*={best['alpha_opt']:.3g}, β*={best['beta_opt']:.3g}: rate {best['rate_opt']:.3f}")
    ax.plot([best["alpha_gd"]], [0], "o", color="tab:blue", ms=8,
            label=f"best gradient descent: rate {best['rate_gd']:.3f}")
    ax.set_xlim(alphas[0], alphas[-1])
    ax.set_ylim(0, 1)
    ax.set_xlabel("learning rate α")
    ax.set_ylabel("momentum β")
    ax.set_title(f"Heavy-ball rate on a quadratic, λ ∈ [{lam_min:g}, {lam_max:g}] (κ = {best['kappa']:g})")
    # below the axes, where it covers no contour
    figure.legend(loc="outside lower center", ncols=1, fontsize=8, frameon=False)
    return figure
