"""The ``inertia`` command line: thin commands over the library (parse, call, print or save)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="inertia: a laboratory for momentum in gradient descent. Start with `inertia compare`.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)
reproduce_app = typer.Typer(help="Re-run a seed notebook exactly as written.", no_args_is_help=True)
app.add_typer(reproduce_app, name="reproduce")

out_console = Console()
err_console = Console(stderr=True)


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated numbers such as 0,0.1,0.5; got {text!r}") from None


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers such as 2,50,3; got {text!r}") from None


def _fail(message: str) -> None:
    err_console.print(f"[bold red]Error:[/] {message}")
    raise typer.Exit(code=2)


@app.command()
def compare(
    momenta: Annotated[str, typer.Option(help="Momentum values to compare, comma-separated.")] = "0,0.1,0.2,0.4,0.5",
    lr: Annotated[float, typer.Option(help="SGD learning rate (> 0).")] = 0.1,
    layers: Annotated[str | None, typer.Option(
        help="Layer widths, input first and classes last, e.g. 2,50,3. Default: features,50,classes.")] = None,
    activation: Annotated[str, typer.Option(help="Hidden activation: relu, tanh, sigmoid, gelu, elu, ...")] = "relu",
    batch_size: Annotated[int, typer.Option(help="Minibatch size.")] = 20,
    epochs: Annotated[int, typer.Option(help="Passes over the data.")] = 100,
    seeds: Annotated[int, typer.Option(help="Independent seeds per momentum (0..N-1); runs are paired by seed.")] = 5,
    dataset: Annotated[str, typer.Option(
        help="spiral, moons, circles, blobs, digits, or a .csv/.npz file with a 'label' column.")] = "spiral",
    data_seed: Annotated[int, typer.Option(help="Seed of the generated data set (fixed across runs).")] = 0,
    shuffle: Annotated[bool, typer.Option(help="Reshuffle minibatches every epoch (the seed lab does not).")] = True,
    out: Annotated[Path, typer.Option(help="Folder for table.csv, curves.csv, summary.json and figures.")] = Path(
        "inertia-out/compare"),
    json_output: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")] = False,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Save PNG figures.")] = True,
) -> None:
    """Train the seed lab's network at several momenta over several seeds and compare them.

    Defaults are the seed lab's: spiral 3 × 500, [2, 50, 3] ReLU, SGD lr 0.1, batch 20, 100 epochs, momenta
    0, 0.1, 0.2, 0.4, 0.5; metrics are on the full data set, as mean ± 95 % CI over seeds.
    """
    from inertia.comparison import compare as run_compare

    try:
        comparison = run_compare(
            momenta=_floats(momenta), dataset=dataset, layers=_ints(layers) if layers else None, lr=lr,
            batch_size=batch_size, epochs=epochs, seeds=seeds, shuffle=shuffle, activation=activation,
            data_seed=data_seed, progress=True,
        )
    except (ValueError, ImportError) as exc:
        _fail(str(exc))
    files = comparison.save(out, plots=plots)
    if json_output:
        summary = comparison.summary() | {"files": {k: str(v) for k, v in files.items()}}
        print(json.dumps(summary, allow_nan=False))
        return
    out_console.print(comparison_table(comparison))
    out_console.print(f"Saved to [bold]{out}[/]: " + ", ".join(p.name for p in files.values()))


def comparison_table(comparison) -> Table:
    """The comparison's table for the terminal: mean ± 95 % CI half-width over seeds."""
    config = comparison.config
    frame = comparison.table()
    target = f"{config.target_accuracy:.0%}"
    table = Table(title=f"{comparison.dataset.name}, layers {list(config.layers)}, lr {config.lr:g}, "
                        f"batch {config.batch_size}, {config.epochs} epochs\n"
                        f"mean ± 95 % CI over {len(config.seeds)} seeds, full-data metrics")
    headers = ("momentum", "final loss", "best loss", "final acc", f"epochs to {target} acc (reached)", "diverged")
    for header in headers:
        table.add_column(header, justify="right")
    for momentum, row in zip(frame.index, frame.to_dict("records")):
        table.add_row(
            f"{momentum:g}",
            _pm(row, "final_loss", "{:.3f}"),
            _pm(row, "best_loss", "{:.3f}"),
            _pm(row, "final_accuracy", "{:.3f}"),
            _pm(row, "epochs_to_target", "{:.1f}") + f" ({row['reached_target']}/{row['runs']})",
            f"{row['diverged']}/{row['runs']}",
        )
    return table


def _pm(row, name: str, fmt: str) -> str:
    mean, low, high = row[name], row[f"{name}_low"], row[f"{name}_high"]
    if not math.isfinite(mean):
        return "—"
    if not math.isfinite(low):
        return fmt.format(mean)
    return f"{fmt.format(mean)}±{fmt.format((high - low) / 2)}"


@reproduce_app.command("lab")
def reproduce_lab(
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print only the notebook's Results dict ({'momentum 0': {'Loss': [...], 'Accuracy': [...]}}).")
    ] = False,
    seeds: Annotated[int, typer.Option(help="Seeds for the sounder protocol run beside the notebook's.")] = 5,
    check: Annotated[bool, typer.Option(
        "--check/--no-check", help="Also run the sounder protocol and test the notebook's conclusions.")] = True,
) -> None:
    """Re-run the seed lab "Neural Networks with Momentum" exactly as its notebook does.

    Same seeds (numpy and torch seeded with 1 once), same order, no shuffling, last-minibatch loss and full-data
    accuracy per epoch. Then, unless --no-check, the same momenta under inertia's protocol (several seeds,
    shuffled minibatches, full-data metrics), and whether each of the notebook's conclusions holds.
    """
    from inertia import reproduce
    from inertia.comparison import compare as run_compare

    result = reproduce.lab()
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

