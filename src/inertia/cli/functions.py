"""``inertia functions NAME``: every optimizer on a classic 2-D test function, from many starts and noise seeds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from inertia.cli.common import as_typed, floats, out_console, saved
from inertia.paths import check_output_dir

OPTIONS = {"learning_rates": "--lrs", "starts": "--starts", "seeds": "--seeds", "steps": "--steps",
           "noise": "--noise", "tolerance": "--tolerance", "optimizers": "--optimizers", "shown": "--shown"}


def functions_command(
    name: Annotated[str, typer.Argument(
        help="rosenbrock, beale, himmelblau, rastrigin, quadratic (Goh's ill-conditioned one) or valley (seed "
             "003's bumpy valley, in 2-D).")] = "rosenbrock",
    optimizers: Annotated[str | None, typer.Option(
        help="Optimizers, comma-separated, each as inertia.optim.rules.parse reads it (sgd, momentum, qhm, adam, "
             "adamw, rmsprop, with :field=value to set any hyperparameter but lr). Default: sgd, "
             "momentum:momentum=0.9, momentum:momentum=0.9:nesterov=true, qhm, adam, rmsprop.",
        show_default=False)] = None,
    lrs: Annotated[str | None, typer.Option(
        help="Learning-rate grid, comma-separated, tuned per optimizer. Default: 13 rates from 1e-5 to 10, a "
             "factor √10 apart.", show_default=False)] = None,
    starts: Annotated[int, typer.Option(help="Starts drawn uniformly in the function's box, for tuning and "
                                             "again (fresh) for the reported runs.")] = 100,
    seeds: Annotated[int, typer.Option(help="Gradient-noise seeds per start.")] = 10,
    steps: Annotated[int, typer.Option(help="Steps per run (the budget).")] = 1000,
    noise: Annotated[float | None, typer.Option(
        help="Scale of the Gaussian noise added to every gradient. Default: the function's own (1 for "
             "rosenbrock, beale, himmelblau, rastrigin; 0.1 quadratic; 0.01 valley).", show_default=False)] = None,
    tolerance: Annotated[float | None, typer.Option(
        help="ε: a run succeeds at the first step with f − f* ≤ ε. Default: the function's own.",
        show_default=False)] = None,
    seed: Annotated[int, typer.Option(help="Seed of the tuning starts (the reported ones use the next).")] = 0,
    shown: Annotated[int, typer.Option(help="Starts whose paths are drawn on the contour.")] = 3,
    out: Annotated[Path, typer.Option(help="Folder for table.csv, tuning.csv, runs.csv, functions.json, paths.json, "
                                           "the figure and report.html.")] = Path("inertia-out/functions"),
    json_output: Annotated[bool, typer.Option("--json", help="Print functions.json on stdout.")] = False,
) -> None:
    """Every optimizer on a classic 2-D test function, each with its learning rate tuned on one grid.

    All rates × starts × seeds of an optimizer step together as arrays through the update every engine uses. Each
    optimizer takes the rate that reaches ε most often (then soonest) from one set of starts and noise seeds,
    and is reported from fresh ones: its success rate (Wilson 95 % interval) and mean steps to ε among the
    successes (95 % t-interval), and its paths from the first starts drawn on the function's contour.
    """
    check_output_dir(out, "--out")
    from inertia.studies import functions as study_module

    texts = study_module.OPTIMIZERS if optimizers is None else [t.strip() for t in optimizers.split(",") if t.strip()]
    arguments = dict(name=name, optimizers=texts,
                     starts_count=starts, seeds=seeds, steps=steps, noise=noise, tolerance=tolerance, seed=seed,
                     shown=shown, progress=not json_output)
    if lrs is not None:
        arguments["learning_rates"] = floats(lrs)
    try:
        study = study_module.function_study(**arguments)
    except ValueError as exc:  # the option as typed, not the library's field
        raise ValueError(as_typed(str(exc), OPTIONS)) from None
    from inertia.views.functions_report import functions_page

    names = [*study_module.save(study, out), functions_page(out).name]
    if json_output:
        print(json.dumps(study_module.summary(study)))
        return
    c = study.config
    table = Table(title=f"{name}: {c['starts']} fresh starts × {c['seeds']} noise seeds (noise {c['noise']:g}), "
                        f"ε {c['tolerance']:g}, {c['steps']} steps; each optimizer at its tuned rate")
    for header in ("optimizer", "lr", "success (95 % CI)", "steps to ε (95 % CI)", "diverged"):
        table.add_column(header, justify="right")
    for row in study.table():
        steps_text = "—" if row["steps_to_eps"] != row["steps_to_eps"] else (
            f"{row['steps_to_eps']:.0f}" + ("" if row["steps_low"] != row["steps_low"] else
                                            f" ({row['steps_low']:.0f}–{row['steps_high']:.0f})"))
        table.add_row(study_module.label(row["optimizer"]),
                      f"{row['lr']:.3g}" + (" (grid edge)" if row["lr_at_edge"] else ""),
                      f"{row['success']:.3f} ({row['success_low']:.3f}–{row['success_high']:.3f})", steps_text,
                      f"{row['diverged']}/{row['runs']}")
    out_console.print(table)
    saved(out, names)
