"""Commands about batch size: ``inertia reproduce nqm`` (the noisy quadratic model of Zhang et al. 2019) and
``inertia batch-study`` (steps to a target against batch size on a real network). Registered on the app of
:mod:`inertia.cli`, which imports this module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from inertia.cli import _floats, _ints, _saved, app, out_console, reproduce_app
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
    fewest steps to reach the target, over the grids of the paper's notebook: 100 learning rates log-spaced in
    [10⁻⁵, 10^0.5] (plain SGD); 100 in [10⁻⁸, 10] × 20 momenta 1 − β log-spaced in [10⁻⁵, 1] (momentum). Then
    the paper's claims, checked one by one.
    """
    from inertia.progress import progress_bar
    from inertia.studies import nqm

    check_output_dir(out, "--out")
    problem = nqm.problem(dimensions, resolution)
    points = len(nqm.SGD_LEARNING_RATES) + len(nqm.LEARNING_RATES) * len(nqm.MOMENTA)
    with progress_bar(points, not json_output) as advance:
        result = nqm.batch_scaling(problem, target, on_point=lambda: advance("noisy quadratic: grid points"))
    claims = nqm.check_claims(result)
    summary = result.to_json() | {"claims": {c.name: {"holds": c.holds, "evidence": c.evidence} for c in claims}}
    out.mkdir(parents=True, exist_ok=True)
    (out / "nqm.json").write_text(json.dumps(summary, indent=2) + "\n")
    result.plot().savefig(out / "nqm.png", dpi=120)
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


STUDY_OPTIONS = {"learning_rates": "--lrs", "batch_sizes": "--batch-sizes", "target_value": "--target value",
                 "max_steps": "--max-steps", "max_epochs": "--max-epochs", "momenta": "--momenta", "seeds": "--seeds",
                 "target": "--target", "activation": "--activation", "layers": "--layers"}


@app.command(name="batch-study")
def batch_study_command(
    dataset: Annotated[str, typer.Option(
        help="spiral, moons, circles, blobs, digits, mnist1d, or a .csv/.npz file with a 'label' column.")] = "spiral",
    layers: Annotated[str | None, typer.Option(
        help="Layer widths, input first and classes last, e.g. 2,50,3. Default: features,50,classes.")] = None,
    activation: Annotated[str, typer.Option(help="Hidden activation (the population engine's).")] = "relu",
    batch_sizes: Annotated[str, typer.Option(help="Batch sizes, comma-separated.")] = "1,2,4,8,16,32,64,128,256,"
                                                                                          "512,1024",
    lrs: Annotated[str, typer.Option(help="Learning-rate grid, comma-separated; tuned per batch size.")] = (
        "0.0025,0.005,0.01,0.02,0.04,0.08,0.16,0.32,0.64,1.28,2.56,5.12,10.24"),
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
    from inertia.studies.batch_study import batch_study

    check_output_dir(out, "--out")
    metric, _, value = target.partition("=")
    try:
        target_value = float(value)
    except ValueError:
        raise typer.BadParameter(f"--target must be accuracy=V or loss=V, e.g. loss=0.2; got {target!r}") from None
    try:
        study = batch_study(
            dataset=dataset, layers=_ints(layers) if layers else None, batch_sizes=_ints(batch_sizes),
            learning_rates=_floats(lrs), momenta=_floats(momenta), seeds=seeds, target=metric.strip(),
            target_value=target_value, max_steps=max_steps, max_epochs=max_epochs, activation=activation,
            data_seed=data_seed, device=device, progress=not json_output)
    except ValueError as exc:  # name the options as typed, not the library's fields
        message = str(exc)
        for field, option in STUDY_OPTIONS.items():
            message = message.replace(f"{field} ", f"{option} ", 1) if message.startswith(field) else message
        raise ValueError(message) from None
    files = study.save(out)
    if report:
        from inertia.views.study_report import write_study_report

        files["report"] = write_study_report(out)
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
        table.add_row(f"{b:,}", _steps(sgd), _lr(sgd), _steps(heavy), _lr(heavy), f"{heavy.momentum:g}",
                      f"{heavy.effective_lr:.3g}")
    out_console.print(table)
    for name, c in study.critical_batch_sizes().items():
        more = " or more (still near-perfect scaling at the largest batch size tried)" if c["at_least"] else ""
        out_console.print(f"{'SGD' if name == 'sgd' else 'momentum'}: critical batch size {c['critical_batch_size']:g}"
                          f"{more} (95 % interval {c['low']:g} to {c['high']:g})", markup=False, highlight=False)
    out_console.print(_claims_table(study.claims(), "The noisy quadratic model's predictions, on this network"))
    _saved(out, [p.name for p in files.values()])


def _steps(row) -> str:
    if row.steps == float("inf"):
        return "not reached"
    interval = "" if row.low != row.low else f" ({row.low:,.0f}–{row.high:,.0f})"
    return f"{row.steps:,.0f}{interval}"


def _lr(row) -> str:
    return "—" if row.lr != row.lr else f"{row.lr:.3g}" + (" (grid edge)" if row.lr_at_edge else "")


@app.command(name="lab")
def lab_command(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    host: Annotated[str, typer.Option(
        help="Address to listen on. The default serves this machine only; 0.0.0.0 would serve the network.")
    ] = "127.0.0.1",
    browser: Annotated[bool, typer.Option("--browser/--no-browser", help="Open the lab in the default browser.")
                       ] = True,
) -> None:
    """A live lab in the browser: change the momenta, the learning rate, the data or the network, and the whole
    comparison (5 momenta × 5 seeds × 100 epochs by default) retrains and streams in as it goes — loss and
    accuracy with 95 % CI bands, decision regions per momentum, the ball in the valley and the rate map for the
    same learning rate and momenta. The address keeps the settings; "export" writes the report `inertia compare`
    would. Runs locally; nothing is fetched from the network.
    """
    from inertia.lab.server import serve

    if not 1 <= port <= 65535:
        raise typer.BadParameter(f"--port must be from 1 to 65535, got {port}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        out_console.print(f"Serving on {host}: anyone who can reach this machine can use the lab.", style="yellow")
    serve(host, port, browser)
