"""The seed lab exactly as its notebook runs it, and a check of its conclusions under a sounder protocol.

The notebook ("Neural Networks with Momentum") seeds NumPy and torch with 1 once, generates the spiral,
then for momentum 0, 0.1, 0.2, 0.4, 0.5 in turn builds ``Net([2, 50, 3])``, ``SGD(lr=0.1, momentum=m)`` and an
unshuffled ``DataLoader(batch_size=20)``, trains 100 epochs and records per epoch the *last minibatch's* loss
and the full-data accuracy. Each ``DataLoader`` pass draws one number from torch's global generator, which
shifts the next model's initial weights; :func:`lab` keeps that by using a real ``DataLoader``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from scipy import stats as _scipy
from torch.utils.data import DataLoader, TensorDataset

from inertia.data import Dataset, spiral
from inertia.models import MLP
from inertia.stats import mean_ci
from inertia.studies.comparison.config import LAB_MOMENTA
from inertia.studies.comparison.result import Comparison
from inertia.train import History, fit

LAB_SEED = 1


@dataclass
class LabResult:
    """The notebook's run: its ``Results`` dict, plus the histories and trained models behind it."""

    dataset: Dataset
    histories: dict[float, History]
    models: dict[float, MLP] = field(repr=False)

    @property
    def results(self) -> dict[str, dict[str, list[float]]]:
        """Keyed like the notebook's ``Results``: ``{"momentum 0.1": {"Loss": [...], "Accuracy": [...]}}``."""
        return {
            f"momentum {m:g}": {"Loss": h.batch_loss_last.tolist(), "Accuracy": h.accuracy.tolist()}
            for m, h in self.histories.items()
        }


def lab(momenta=LAB_MOMENTA, epochs: int = 100, on_epoch=None) -> LabResult:
    """Run the seed lab's notebook protocol exactly; the caller's global random state is left untouched.
    ``on_epoch(momentum)`` is called after every epoch of every model (e.g. for a progress bar)."""
    numpy_state = np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[]):
            np.random.seed(LAB_SEED)
            torch.manual_seed(LAB_SEED)
            dataset = spiral(classes=3, points=500, seed=None)
            x, y = dataset.tensors()
            histories, models = {}, {}
            for momentum in momenta:
                model = MLP([2, 50, 3])
                optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=momentum)
                loader = DataLoader(TensorDataset(x, y), batch_size=20)
                report = None if on_epoch is None else (lambda epoch, history, m=momentum: on_epoch(m))
                histories[momentum] = fit(model, dataset, optimizer, epochs, loader=loader, on_epoch=report)
                models[momentum] = model
    finally:
        np.random.set_state(numpy_state)
    return LabResult(dataset, histories, models)


# The notebook's conclusions, each with the metric it was read from and the direction it claims.
CLAIMS = (
    ("momentum 0.2 reaches the smallest value for the cost", "lowest_best_loss", 0.2),
    ("the cost decreases proportionally to the momentum term", "final_loss", -1),
    ("larger momentum terms lead to larger oscillations", "oscillation", +1),
    ("the accuracy is proportional to the momentum term", "final_accuracy", +1),
)


def oscillation(curve: np.ndarray) -> float:
    """Mean absolute epoch-to-epoch change over the second half of a loss curve."""
    tail = np.asarray(curve)[(len(curve) - 1) // 2 :]
    return float(np.mean(np.abs(np.diff(tail))))


def _metrics(loss: np.ndarray, accuracy: np.ndarray) -> dict[str, float]:
    return {"best_loss": float(np.min(loss)), "final_loss": float(loss[-1]),
            "oscillation": oscillation(loss), "final_accuracy": float(accuracy[-1])}


def _rho(momenta, values) -> float:
    """Spearman's ρ; NaN where it is undefined (a constant or non-finite metric)."""
    values = np.asarray(values, dtype=float)
    if not np.isfinite(values).all() or np.ptp(values) == 0:
        return np.nan
    return float(_scipy.spearmanr(momenta, values).statistic)


def check_claims(notebook: LabResult | None, sound: Comparison | pd.DataFrame) -> pd.DataFrame:
    """Each of the notebook's conclusions, as its single run shows it and as ``sound`` (several seeds,
    full-data metrics; a :class:`Comparison` or its ``curves()`` table) shows it. Ordering claims use
    Spearman's ρ between momentum and the metric; a claim holds under the sounder protocol when ρ of the seed
    means has the claimed sign with |ρ| ≥ 0.8 and at least 80 % of seeds agree in sign. The lowest-cost claim
    holds when 0.2 has the lowest mean best loss. Without ``notebook`` its column reads "not run"."""
    curves = sound.curves() if isinstance(sound, Comparison) else sound
    available = sorted(curves["momentum"].unique())
    seeds = sorted(curves["seed"].unique())
    momenta = [m for m in notebook.histories if m in available] if notebook is not None else available
    runs = {}
    for (m, s), group in curves.groupby(["momentum", "seed"]):
        group = group.sort_values("epoch")
        runs[m, s] = _metrics(group["loss"].to_numpy(), group["accuracy"].to_numpy())
    if notebook is not None:
        book = {m: _metrics(h.batch_loss_last, h.accuracy) for m, h in notebook.histories.items()}
    rows = []
    for claim, metric, direction in CLAIMS:
        if metric == "lowest_best_loss":
            means = {m: mean_ci([runs[m, s]["best_loss"] for s in seeds]) for m in momenta}
            sound_best = min(momenta, key=lambda m: means[m].mean)
            wins = sum(min(momenta, key=lambda m, s=s: runs[m, s]["best_loss"]) == direction for s in seeds)
            if notebook is not None:
                book_best = min(momenta, key=lambda m: book[m]["best_loss"])
            rows.append((
                claim,
                f"lowest at {book_best:g} ({book[book_best]['best_loss']:.3f})" if notebook is not None
                else "not run",
                f"lowest at {sound_best:g} ({means[sound_best]}); {direction:g} lowest in {wins}/{len(seeds)} seeds",
                sound_best == direction,
            ))
            continue
        book_rho = _rho(momenta, [book[m][metric] for m in momenta]) if notebook is not None else None
        mean_values = [np.mean([runs[m, s][metric] for s in seeds]) for m in momenta]
        mean_rho = _rho(momenta, mean_values)
        agree = sum(np.sign(_rho(momenta, [runs[m, s][metric] for m in momenta])) == direction for s in seeds)
        holds = np.sign(mean_rho) == direction and abs(mean_rho) >= 0.8 and agree >= 0.8 * len(seeds)
        rows.append((
            claim,
            f"ρ = {book_rho:+.2f}" if notebook is not None else "not run",
            f"ρ = {mean_rho:+.2f} on means; sign agrees in {agree}/{len(seeds)} seeds",
            bool(holds),
        ))
    columns = ["claim", "notebook (1 run, last-minibatch loss)", f"inertia ({len(seeds)} seeds, full data)", "holds"]
    return pd.DataFrame(rows, columns=columns)
