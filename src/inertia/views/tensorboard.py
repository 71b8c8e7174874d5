"""TensorBoard event files for a comparison or a sweep: per-epoch scalars for every run, and its
hyperparameters with final metrics (the HParams dashboard). Needs the ``tensorboard`` package."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

SCALARS = {"loss": "loss/full_data", "accuracy": "accuracy/full_data", "batch_loss_mean": "loss/minibatch_mean",
           "batch_loss_last": "loss/last_minibatch"}


def check_available() -> None:
    """``ImportError`` with the fix when the tensorboard package is missing (checked before any training)."""
    if importlib.util.find_spec("tensorboard") is None:
        raise ImportError("--tensorboard needs the tensorboard package: pip install 'inertia[tensorboard]'")


def _writer(folder: Path):
    check_available()
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(folder))


def write_run(folder: Path, curves: dict, hparams: dict, finals: dict) -> None:
    """One run: ``curves`` (metric → per-epoch values, NaN after a divergence is left out), ``hparams``
    (numbers, strings or bools) and ``finals`` (metric → number) for the HParams view."""
    writer = _writer(folder)
    try:
        for metric, tag in SCALARS.items():
            for epoch, value in enumerate(curves.get(metric, []), start=1):
                if value is not None and math.isfinite(value):
                    writer.add_scalar(tag, value, epoch)
        clean = {k: v for k, v in finals.items() if v is not None and math.isfinite(v)}
        writer.add_hparams(hparams, {f"hparam/{k}": v for k, v in clean.items()}, run_name=".")
    finally:
        writer.close()


def write_comparison(comparison, folder: str | Path) -> list[Path]:
    """Every (momentum, seed) run of an :func:`inertia.compare` result, one folder each."""
    folder = Path(folder)
    config = comparison.config
    written = []
    for run in [*comparison.runs, *comparison.baseline_runs]:
        momentum = run.label == "momentum"
        setting = f"momentum_{run.momentum:g}" if momentum else run.label.replace(":", "_")
        target = folder / f"{setting}_seed_{run.seed}"
        history, summary = run.history, run.history.summary()
        hparams = {"optimizer": run.label, "seed": run.seed, "batch_size": config.batch_size,
                   "dataset": config.dataset, "status": summary["status"]}
        if momentum:
            hparams |= {"momentum": run.momentum, "lr": config.lr, "form": config.form}
        write_run(target, {name: list(map(float, getattr(history, name))) for name in SCALARS}, hparams,
                  {"final_loss": summary["final_loss"], "final_accuracy": summary["final_accuracy"]})
        written.append(target)
    return written


def write_store(store_path: str | Path, folder: str | Path) -> list[Path]:
    """Every finished run of a sweep store, one folder per run id."""
    from inertia.sweeps.store import Store

    folder = Path(folder)
    written = []
    with Store(store_path, readonly=True) as db:
        runs, histories = db.runs(), db.histories()
    for _, row in runs.iterrows():
        hparams = {k: row[k] for k in ("optimizer", "lr", "momentum", "form", "nesterov", "dampening",
                                       "weight_decay", "batch_size", "seed", "status")
                   if k in row and not (isinstance(row[k], float) and math.isnan(row[k]))}
        hparams = {k: (v.item() if hasattr(v, "item") else v) for k, v in hparams.items()}
        target = folder / row["id"]
        write_run(target, histories[row["id"]], hparams,
                  {"final_loss": float(row["final_loss"]), "final_accuracy": float(row["final_accuracy"])})
        written.append(target)
    return written
