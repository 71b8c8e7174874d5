"""``inertia batch-study``: does momentum help at my batch size? Steps to a target against batch size."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from inertia.cli.common import as_typed, claims_table, floats, ints, out_console, saved
from inertia.paths import check_output_dir

STUDY_OPTIONS = {"learning_rates": "--lrs", "batch_sizes": "--batch-sizes", "target_value": "--target value",
                 "max_steps": "--max-steps", "max_epochs": "--max-epochs", "momenta": "--momenta", "seeds": "--seeds",
                 "target": "--target", "activation": "--activation", "layers": "--layers"}


def batch_study_command(
    dataset: Annotated[str, typer.Option(
        help="spiral, moons, circles, blobs, digits, mnist1d, or a .csv/.npz file with a 'label' column.")] = "spiral",
    layers: Annotated[str | None, typer.Option(
        help="Layer widths, input first and classes last, e.g. 2,50,3. Default: features,50,classes.")] = None,
    activation: Annotated[str, typer.Option(help="Hidden activation (the population engine's).")] = "relu",
    batch_sizes: Annotated[str, typer.Option(help="Batch sizes, comma-separated.")] = "1,2,4,8,16,32,64,128,256,"
                                                                                          "512,1024",
    lrs: Annotated[str, typer.Option(
        help="Learning-rate grid, comma-separated; tuned per batch size. Default: 13 rates doubling from 0.0025 "
             "to 10.24.", show_default=False)] = "0.0025,0.005,0.01,0.02,0.04,0.08,0.16,0.32,0.64,1.28,2.56,5.12,10.24",
    momenta: Annotated[str, typer.Option(
        help="Momentum grid for the momentum optimizer (tuned with lr when more than one); plain SGD is momentum 0.")
    ] = "0.9",
    seeds: Annotated[int, typer.Option(help="Seeds per grid point (0..N-1).")] = 3,
    target: Annotated[str, typer.Option(
        help="accuracy=V (full-data training accuracy at least V), loss=V (training loss at most V), or "
             "test_accuracy=V / test_loss=V on the data set's held-out split (mnist1d has one).")
    ] = "loss=0.1",
    max_steps: Annotated[int, typer.Option(help="Step budget per run (within --max-epochs).")] = 60_000,
    max_epochs: Annotated[int, typer.Option(help="Epoch budget per run.")] = 3_000,
    data_seed: Annotated[int, typer.Option(help="Seed of the generated data set.")] = 0,
    device: Annotated[str, typer.Option(help="auto (CUDA when available), cpu or cuda.")] = "auto",
    out: Annotated[Path, typer.Option(help="Folder for the tables, figure, batch_study.json and report.html.")] = Path(
        "inertia-out/batch-study"),
    report: Annotated[bool, typer.Option("--report/--no-report", help="Write report.html (with the noisy quadratic "
                                                                       "model's predictions beside).")] = True,
    json_output: Annotated[bool, typer.Option("--json", help="Print batch_study.json on stdout.")] = False,
) -> None:
    """Does momentum help at my batch size? Steps to a target against batch size, for plain SGD and momentum,
    with the learning rate (and momentum, when given several) tuned per batch size, over several seeds.

    Every batch size trains its whole grid at once on the population engine. Reports the best grid point per batch
    size with a bootstrap 95 % interval, the critical batch size of each optimizer (the end of near-perfect
    scaling), and whether the noisy quadratic model's predictions (`inertia reproduce nqm`) hold on this network.
    """
    from inertia.studies.batch_study import StudyConfig

    check_output_dir(out, "--out")
    metric, _, value = target.partition("=")
    try:
        target_value = float(value)
    except ValueError:
        raise typer.BadParameter(f"--target must be accuracy=V or loss=V, e.g. loss=0.2; got {target!r}") from None
    from inertia.folders import writing
    from inertia.progress import status

    arguments = dict(dataset=dataset, layers=ints(layers) if layers else None, batch_sizes=ints(batch_sizes),
                     learning_rates=floats(lrs), momenta=floats(momenta), seeds=seeds, target=metric.strip(),
                     target_value=target_value, max_steps=max_steps, max_epochs=max_epochs, activation=activation,
                     data_seed=data_seed)
    try:  # every argument checked before torch loads
        config = StudyConfig.of(**arguments)
    except ValueError as exc:  # name the options as typed, not the library's fields
        raise ValueError(as_typed(str(exc), STUDY_OPTIONS)) from None
    grid = len(config.learning_rates) * (1 + len(config.momenta)) * len(config.seeds)
    status(f"inertia batch-study: {len(config.batch_sizes)} batch sizes, {grid} runs each, to {config.target} "
           f"{config.target_value:g}", not json_output)
    with writing(out, kind="batch-study") as folder:  # --out is ours from here on: a second writer is refused
        from inertia.studies.batch_study import batch_study
        from inertia.views.study_report import write_study_report

        study = batch_study(**arguments, device=device, progress=not json_output)
        status(f"inertia batch-study: drawing the figures{' and the report' if report else ''} into {out}",
               not json_output)
        files = study.save(folder.path)
        if report:
            files["report"] = write_study_report(folder.path)
    if json_output:
        print(json.dumps(study.summary()))
        return
    best = study.best()
    table = Table(title=f"{study.dataset.name}, layers {list(study.config.layers)}: steps to "
                        f"{study.target_text(symbols=True)}\nbest grid point per batch size, mean over "
                        f"{len(study.config.seeds)} seeds (95 % bootstrap interval)")
    for header in ("batch size", "SGD steps", "SGD lr", "momentum steps", "momentum lr", "β", "lr/(1−β)"):
        table.add_column(header, justify="right")
    for b in study.config.batch_sizes:
        sgd = best[(best.optimizer == "sgd") & (best.batch_size == b)].iloc[0]
        heavy = best[(best.optimizer == "momentum") & (best.batch_size == b)].iloc[0]
        table.add_row(f"{b:,}", _steps(sgd), _lr(sgd), _steps(heavy), _lr(heavy), _number(heavy.momentum, "g"),
                      _number(heavy.effective_lr, ".3g"))
    out_console.print(table)
    for name, c in study.critical_batch_sizes().items():
        label = "SGD" if name == "sgd" else "momentum"
        if math.isnan(c["critical_batch_size"]):  # no batch size reached the target
            out_console.print(f"{label}: no critical batch size: the target was not reached at the smallest batch "
                              "size", markup=False, highlight=False)
            continue
        more = " or more (still near-perfect scaling at the largest batch size tried)" if c["at_least"] else ""
        out_console.print(f"{label}: critical batch size {c['critical_batch_size']:g}{more} (95 % interval "
                          f"{c['low']:g} to {c['high']:g})", markup=False, highlight=False)
    out_console.print(claims_table(study.claims(), "The noisy quadratic model's predictions, on this network"))
    saved(out, [p.name for p in files.values()])


def _steps(row) -> str:
    if row.steps == float("inf"):
        return "not reached"
    interval = "" if row.low != row.low else f" ({row.low:,.0f}–{row.high:,.0f})"
    return f"{row.steps:,.0f}{interval}"


def _number(value: float, spec: str) -> str:
    return "—" if value != value else format(value, spec)


def _lr(row) -> str:
    return "—" if row.lr != row.lr else f"{row.lr:.3g}" + (" (grid edge)" if row.lr_at_edge else "")
