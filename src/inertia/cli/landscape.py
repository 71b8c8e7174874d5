"""``inertia landscape``: the loss surface that SGD, momentum and Nesterov travel from one start, and how faithful
its picture is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from inertia.cli.common import as_typed, ints, out_console, saved
from inertia.paths import check_output_dir


def landscape_command(
    dataset: Annotated[str, typer.Option(
        help="spiral, moons, circles, blobs, digits, mnist1d, or a .csv/.npz file with a 'label' column.")] = "spiral",
    layers: Annotated[str | None, typer.Option(
        help="Layer widths, input first and classes last, e.g. 2,50,3. Default: features,50,classes.")] = None,
    activation: Annotated[str, typer.Option(help="Hidden activation.")] = "relu",
    lr: Annotated[float, typer.Option(help="Learning rate of all three runs.")] = 0.05,
    momentum: Annotated[float, typer.Option(help="β of the momentum and Nesterov runs (SGD has none).")] = 0.9,
    epochs: Annotated[int, typer.Option(help="Epochs; every epoch's weights are a checkpoint.")] = 50,
    batch_size: Annotated[int, typer.Option(help="Minibatch size.")] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the shared initial weights and minibatch order.")] = 0,
    basis: Annotated[str, typer.Option(
        help="pca: the top two principal directions of the three runs' checkpoints; filter: Li et al.'s "
             "filter-normalised random directions.")] = "pca",
    grid: Annotated[int, typer.Option(help="Points on each axis of the surface (grid × grid evaluations).")] = 51,
    span: Annotated[float, typer.Option(
        help="Half-width of the surface: a multiple of the farthest projected checkpoint (pca), or of the "
             "directions' length (filter).")] = 1.25,
    direction_seed: Annotated[int, typer.Option(help="Seed of the filter-normalised directions.")] = 0,
    data_seed: Annotated[int, typer.Option(help="Seed of the generated data set.")] = 0,
    out: Annotated[Path, typer.Option(help="Folder for surface.npz, trajectories.csv, landscape.json and the "
                                           "figure.")] = Path("inertia-out/landscape"),
    json_output: Annotated[bool, typer.Option("--json", help="Print landscape.json on stdout.")] = False,
) -> None:
    """The loss surface SGD, momentum and Nesterov travel from one initialisation, drawn on one plane.

    Every epoch's weights of the three runs are projected (least squares) onto a plane through momentum's final
    weights; each grid point is a full-data evaluation, all of them stacked as one population. The picture says
    how faithful it is: the variance the two PCA directions explain, and per checkpoint the gap between its own
    loss and the surface's at its projection. 1-D interpolations run from each start to its end and between
    SGD's and momentum's solutions. surface.npz holds the centre, both directions and every checkpoint.
    """
    check_output_dir(out, "--out")
    from inertia.studies import landscape as study_module

    try:
        study = study_module.landscape_study(
            dataset, ints(layers) if layers else None, activation, lr, momentum, epochs, batch_size, seed, basis,
            grid, span, direction_seed, data_seed)
    except ValueError as exc:  # the option as typed, not the library's field
        raise ValueError(as_typed(str(exc), {field: "--" + field.replace("_", "-") for field in (
            "basis", "grid", "span", "momentum", "lr", "epochs", "batch_size")})) from None
    names = study_module.save(study, out)
    summary = study.summary()
    if json_output:
        print(json.dumps(summary))
        return
    explained = summary["explained"]
    if explained:
        out_console.print(f"plane: the top two principal directions, {100 * explained[0]:.1f} % and "
                          f"{100 * explained[1]:.1f} % of the checkpoints' variance", markup=False, highlight=False)
    for arm, gap in summary["gaps"].items():
        out_console.print(f"{arm}: final loss {summary['final_loss'][arm]:.4f}; the drawn path is off its own loss by "
                          f"{gap['median']:.3g} (median over epochs), at most {gap['max']:.3g}", markup=False,
                          highlight=False)
    saved(out, names)
