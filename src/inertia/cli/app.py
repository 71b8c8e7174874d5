"""The ``inertia`` command: the Typer app and every command on it, in the order ``inertia --help`` lists them.
Each command lives in the module of its group, thin over the library below (parse, call, print or save); this
module only assembles them."""

from __future__ import annotations

import typer

from inertia.cli import (
    batch_study,
    compare,
    demos,
    functions,
    lab,
    landscape,
    report,
    reproduce,
    schedule_study,
    sweeps,
    tune,
)
from inertia.cli.common import Boundary

app = typer.Typer(
    cls=Boundary,
    help="inertia: a laboratory for momentum in gradient descent. Start with `inertia compare`.\n\nThe seeds are "
         "the notebooks inertia grew from; the seed lab is the classic \"neural networks with momentum\" one: a "
         "[2, 50, 3] network on a spiral, SGD at momenta 0 to 0.5.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)
reproduce_app = typer.Typer(help="Re-run a seed notebook exactly as written, or a paper's model exactly as it is "
                                 "defined.", no_args_is_help=True)

app.command("compare")(compare.compare)
app.command("scratch")(demos.scratch)
app.command("velocity")(demos.velocity)
app.command("ball")(demos.ball)
app.command("theory")(demos.theory)
app.command("sweep")(sweeps.sweep_command)
app.command("results")(sweeps.results)
app.command("tune")(tune.tune_command)
app.command("tune-study")(tune.tune_study_command)
app.command("report")(report.report_command)
app.command("batch-study")(batch_study.batch_study_command)
app.command("schedule-study")(schedule_study.schedule_study_command)
app.command("functions")(functions.functions_command)
app.command("landscape")(landscape.landscape_command)
app.command("lab")(lab.lab_command)
app.add_typer(reproduce_app, name="reproduce")
reproduce_app.command("lab")(reproduce.reproduce_lab)
reproduce_app.command("nqm")(reproduce.reproduce_nqm)
