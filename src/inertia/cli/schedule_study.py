"""``inertia schedule-study``: does a momentum schedule beat a well-tuned constant momentum?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from inertia.cli.common import as_typed, floats, ints, out_console, saved
from inertia.paths import check_output_dir

OPTIONS = {"learning_rates": "--lrs", "tune_seeds": "--tune-seeds", "test_seeds": "--test-seeds",
           "batch_size": "--batch-size", "epochs": "--epochs", "activation": "--activation", "layers": "--layers"}


def schedule_study_command(
    dataset: Annotated[str, typer.Option(
        help="spiral, moons, circles, blobs, digits, mnist1d, or a .csv/.npz file with a 'label' column.")] = "spiral",
    layers: Annotated[str | None, typer.Option(
        help="Layer widths, input first and classes last, e.g. 2,50,3. Default: features,50,classes.")] = None,
    activation: Annotated[str, typer.Option(help="Hidden activation (the population engine's).")] = "relu",
    epochs: Annotated[int, typer.Option(help="Epochs per run, tuning and final alike.")] = 100,
    batch_size: Annotated[int, typer.Option(help="Minibatch size.")] = 20,
    lrs: Annotated[str, typer.Option(
        help="Learning-rate grid, comma-separated, tuned per arm (one-cycle: its peak rate).")
    ] = "0.0003,0.001,0.003,0.01,0.03,0.1,0.3,1,3",
    tune_seeds: Annotated[int, typer.Option(help="Seeds per arm and rate in the tuning stage (0..N-1).")] = 10,
    test_seeds: Annotated[int, typer.Option(
        help="Fresh seeds for the final runs at the tuned rates, paired across arms (at least 2).")] = 10,
    data_seed: Annotated[int, typer.Option(
        help="Seed of the generated data set and of the 80/20 tuning split; generated data's held-out split is "
             "the draw with the next seed.")] = 0,
    device: Annotated[str, typer.Option(help="auto (CUDA when available), cpu or cuda.")] = "auto",
    out: Annotated[Path, typer.Option(help="Folder for the tables, schedule_study.json and the figure.")] = Path(
        "inertia-out/schedule-study"),
    json_output: Annotated[bool, typer.Option("--json", help="Print schedule_study.json on stdout.")] = False,
) -> None:
    """Does a momentum schedule beat a well-tuned constant momentum? Constant β (0, 0.5, 0.9, 0.99) against
    one-cycle, Sutskever's ramp and Demon.

    Each arm's learning rate is tuned on the same grid by mean validation loss (80/20 split of the training set,
    --tune-seeds seeds); then every arm trains on the whole training set at its rate over fresh paired seeds and
    is scored on held-out data. Each schedule is compared with the best constant momentum by paired differences
    with 95 % intervals: a claim holds when its interval excludes zero.
    """
    check_output_dir(out, "--out")
    from inertia.folders import writing
    from inertia.progress import status

    arguments = dict(dataset=dataset, layers=ints(layers) if layers else None, activation=activation, epochs=epochs,
                     batch_size=batch_size, learning_rates=floats(lrs), tune_seeds=tune_seeds,
                     test_seeds=test_seeds, data_seed=data_seed)
    from inertia.studies.schedule_study import check, schedule_study

    try:  # every argument checked before torch loads, named as typed
        check(arguments["learning_rates"], epochs, batch_size, tune_seeds, test_seeds, activation)
    except ValueError as exc:
        raise ValueError(as_typed(str(exc), OPTIONS)) from None
    status(f"inertia schedule-study: 7 arms × {len(arguments['learning_rates'])} rates × {tune_seeds} seeds to "
           f"tune, then 7 × {test_seeds} final runs, {epochs} epochs each", not json_output)
    with writing(out, kind="schedule-study") as folder:  # --out is ours from here on
        try:
            study = schedule_study(**arguments, device=device, progress=not json_output)
        except ValueError as exc:
            raise ValueError(as_typed(str(exc), OPTIONS)) from None
        files = study.save(folder.path)
    if json_output:
        print(json.dumps(study.summary()))
        return
    table = Table(title=f"{study.dataset}, layers {study.layers}, {epochs} epochs: each arm at its tuned rate, mean "
                        f"over {test_seeds} seeds (± half the 95 % interval)")
    for header in ("arm", "lr", "held-out accuracy", "held-out loss", "full-data accuracy", "full-data loss",
                   "diverged"):
        table.add_column(header, justify="right")
    for arm, row in study.table().iterrows():
        table.add_row(arm, f"{row['lr']:g}" + (" (grid edge)" if row["lr_at_edge"] else ""),
                      *(f"{row[m]:.4f} ± {row[m + '_ci']:.4f}" for m in ("test_accuracy", "test_loss",
                                                                          "train_accuracy", "train_loss")),
                      str(row["diverged"]))
    out_console.print(table)
    paired = study.paired()
    for chosen_by, against, how in (("validation", study.best_constant(), "chosen by validation loss"),
                                    ("hindsight", study.hindsight_constant(), "the best on held-out data, in "
                                                                              "hindsight")):
        rows = paired[paired["chosen_by"] == chosen_by]
        if rows.empty:  # the constant chosen by validation is also the best in hindsight
            continue
        verdicts = Table(title=f"each schedule minus {against} ({how}), paired by seed, 95 % interval")
        for header in ("schedule", "metric", "difference", "interval", "verdict"):
            verdicts.add_column(header)
        for row in rows.itertuples():
            color = {"better": "green", "worse": "red"}.get(row.verdict, "default")
            verdicts.add_row(row.arm, row.metric.replace("test_", "held-out "), f"{row.difference:+.4f}",
                             f"{row.low:+.4f} to {row.high:+.4f}", f"[{color}]{row.verdict}[/]")
        out_console.print(verdicts)
    saved(out, [p.name for p in files.values()])

