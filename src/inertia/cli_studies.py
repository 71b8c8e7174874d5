"""Commands about batch size: ``inertia reproduce nqm`` (the noisy quadratic model of Zhang et al. 2019) and
``inertia batch-study`` (steps to a target against batch size on a real network). Registered on the app of
:mod:`inertia.cli`, which imports this module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from inertia.cli import _floats, _saved, app, out_console, reproduce_app
from inertia.paths import check_output_dir


def _claims_table(claims, title: str) -> Table:
    table = Table(title=title)
    for header in ("claim", "verdict", "evidence"):
        table.add_column(header)
    for claim in claims:
        table.add_row(claim.name, "[green]holds[/]" if claim.holds else "[red]does not hold[/]", claim.evidence)
    return table


@reproduce_app.command("nqm")
def reproduce_nqm(
    target: Annotated[float, typer.Option(help="Target expected loss (the initial loss is 4.89).")] = 0.01,
    dimensions: Annotated[int, typer.Option(help="Curvatures 1/i for i = 1..N.")] = 10_000,
    resolution: Annotated[float, typer.Option(
        help="Curvatures within this relative width share a bin (0: every coordinate on its own, ~10x slower).")
    ] = 0.005,
    out: Annotated[Path, typer.Option(help="Folder for nqm.png and nqm.json.")] = Path("inertia-out/nqm"),
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
) -> None:
    """The noisy quadratic model of Zhang et al. 2019 ("Which Algorithmic Choices Matter at Which Batch
    Sizes?"), solved exactly from its expected-loss recurrences (no sampling).

    Loss ½ Σ hᵢxᵢ² with hᵢ = 1/i, gradient noise variance hᵢ/B, x₀ ~ N(0, I). For batch sizes 2¹ … 2²⁰: the
    fewest steps to reach the target, over 100 learning rates log-spaced in [10⁻⁵, 10] (plain SGD) and those
    × 17 momenta 1 − β log-spaced in [10⁻⁴, 1] (momentum). Then the paper's claims, checked one by one.
    """
    from inertia import nqm, plots
    from inertia.progress import progress_bar

    check_output_dir(out, "--out")
    problem = nqm.problem(dimensions, resolution)
    points = len(nqm.LEARNING_RATES) * (1 + len(nqm.MOMENTA))
    with progress_bar(points, not json_output) as advance:
        result = nqm.batch_scaling(problem, target, on_point=lambda: advance("noisy quadratic: grid points"))
    claims = nqm.check_claims(result)
    summary = result.to_json() | {"claims": {c.name: {"holds": c.holds, "evidence": c.evidence} for c in claims}}
    out.mkdir(parents=True, exist_ok=True)
    (out / "nqm.json").write_text(json.dumps(summary, indent=2) + "\n")
    figure = plots.batch_scaling(
        {"SGD": {"batch_sizes": result.batch_sizes, "steps": result.sgd_steps, "lr": result.sgd_lr},
         "momentum": {"batch_sizes": result.batch_sizes, "steps": result.momentum_steps, "lr": result.momentum_lr,
                      "effective_lr": result.momentum_effective_lr}},
        f"Noisy quadratic model: steps to expected loss {target:g}", lr_label="best learning rate")
    figure.savefig(out / "nqm.png", dpi=120)
    if json_output:
        print(json.dumps(summary))
        return
    table = Table(title=f"Noisy quadratic model ({dimensions:,} curvatures 1/i), steps to expected loss {target:g}")
    for header in ("batch size", "SGD steps", "SGD lr", "momentum steps", "momentum lr", "β", "lr/(1−β)"):
        table.add_column(header, justify="right")
    for i, b in enumerate(result.batch_sizes):
        table.add_row(f"{int(b):,}", _count(result.sgd_steps[i]), f"{result.sgd_lr[i]:.3g}",
                      _count(result.momentum_steps[i]), f"{result.momentum_lr[i]:.3g}", f"{result.momentum[i]:.4g}",
                      f"{result.momentum_effective_lr[i]:.3g}")
    out_console.print(table)
    out_console.print(_claims_table(claims, "The paper's claims about momentum, checked"))
    _saved(out, ["nqm.png", "nqm.json"])


def _count(value: float) -> str:
    return f"{int(value):,}" if value == value and value != float("inf") else "not reached"


_ = (_floats, app)  # the batch study registers on app below
