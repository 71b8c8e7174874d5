"""``inertia reproduce``: a seed notebook exactly as written (``lab``), or a paper's model exactly as it is
defined (``nqm``, the noisy quadratic model of Zhang et al. 2019), with their claims checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from inertia.cli.common import claims_table, out_console, saved
from inertia.cli.compare import comparison_table
from inertia.folders import writing
from inertia.paths import check_output_dir


def reproduce_lab(
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print only the notebook's Results dict ({'momentum 0': {'Loss': [...], 'Accuracy': [...]}}).")
    ] = False,
    seeds: Annotated[int, typer.Option(help="Seeds for the sounder protocol run beside the notebook's.")] = 5,
    check: Annotated[bool, typer.Option(
        "--check/--no-check", help="Also run the sounder protocol and test the notebook's conclusions.")] = True,
) -> None:
    """Re-run the seed lab, the "Neural Networks with Momentum" notebook, exactly as it runs.

    Same seeds (numpy and torch seeded with 1 once), same order, no shuffling, last-minibatch loss and full-data
    accuracy per epoch. Then, unless --no-check, the same momenta under inertia's protocol (several seeds,
    shuffled minibatches, full-data metrics), and whether each of the notebook's conclusions holds.
    """
    from inertia.progress import progress_bar
    from inertia.studies import reproduce
    from inertia.studies.comparison.training import compare as run_compare

    if check and seeds < 1:
        raise ValueError(f"--seeds must be a positive count, got {seeds}")
    with progress_bar(len(reproduce.LAB_MOMENTA) * 100, not json_output) as advance:
        result = reproduce.lab(on_epoch=lambda momentum: advance(f"notebook protocol, momentum {momentum:g}"))
    if json_output:
        print(json.dumps(result.results))
        return
    table = Table(title="Seed lab, notebook protocol (seed 1, no shuffle): after 100 epochs")
    for header in ("momentum", "last-minibatch loss", "lowest last-minibatch loss", "full-data loss", "accuracy"):
        table.add_column(header, justify="right")
    for momentum, history in result.histories.items():
        table.add_row(f"{momentum:g}", f"{history.batch_loss_last[-1]:.4f}", f"{history.batch_loss_last.min():.4f}",
                      f"{history.loss[-1]:.4f}", f"{history.accuracy[-1]:.3f}")
    out_console.print(table)
    if not check:
        return
    sound = run_compare(momenta=list(result.histories), seeds=seeds, progress=True)
    out_console.print(comparison_table(sound))
    claims = reproduce.check_claims(result, sound)
    verdicts = Table(title="The notebook's conclusions, checked")
    for header in claims.columns:
        verdicts.add_column(header)
    for row in claims.itertuples(index=False):
        *cells, holds = row
        verdicts.add_row(*cells, "[green]holds[/]" if holds else "[red]does not hold[/]")
    out_console.print(verdicts)


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

    Loss ½ Σ hᵢxᵢ² with hᵢ = 1/i, gradient noise variance hᵢ/B, x₀ ~ N(0, I). For batch sizes 2¹ to 2²⁰: the
    fewest steps to reach the target, over the grids of the paper's notebook: 100 learning rates log-spaced in
    [10⁻⁵, 10^0.5] (plain SGD); 100 in [10⁻⁸, 10] × 20 momenta 1 − β log-spaced in [10⁻⁵, 1] (momentum). Then
    the paper's claims, checked one by one.
    """
    from inertia.progress import progress_bar
    from inertia.studies import nqm

    check_output_dir(out, "--out")
    problem = nqm.problem(dimensions, resolution)
    points = len(nqm.SGD_LEARNING_RATES) + len(nqm.LEARNING_RATES) * len(nqm.MOMENTA)
    with writing(out, kind="reproduce nqm") as folder:
        with progress_bar(points, not json_output, unit="grid points") as advance:
            result = nqm.batch_scaling(problem, target, on_point=lambda: advance("noisy quadratic"))
        claims = nqm.check_claims(result)
        summary = result.to_json() | {"claims": {c.name: {"holds": c.holds, "evidence": c.evidence}
                                                 for c in claims}}
        (folder.path / "nqm.json").write_text(json.dumps(summary, indent=2) + "\n")
        result.plot().savefig(folder.path / "nqm.png", dpi=120)
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
    out_console.print(claims_table(claims, "The paper's claims about momentum, checked"))
    saved(out, ["nqm.png", "nqm.json"])


def _count(value: float) -> str:
    return f"{int(value):,}" if value == value and value != float("inf") else "not reached"
