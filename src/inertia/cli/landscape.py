"""``inertia landscape``: the loss surface that SGD, momentum and Nesterov travel from one start, and how faithful
its picture is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from inertia.cli.common import as_typed, ints, out_console, saved
from inertia.paths import check_output_dir

TRAINING = {"dataset": "spiral", "layers": None, "activation": "relu", "lr": 0.05, "momentum": 0.9, "epochs": 50,
            "batch_size": 20, "seed": 0, "data_seed": 0}  # the runs' settings when no RUN_FOLDER gives them
OPTIONS = {field: "--" + field.replace("_", "-") for field in ("basis", "grid", "span", "model", *TRAINING)}
SAVED = ("dataset", "layers", "activation", "data_seed")  # what a saved model's surface takes


def landscape_command(
    run: Annotated[Path | None, typer.Argument(
        metavar="RUN_FOLDER",
        help="A folder `inertia compare` wrote: its first seed's run of every momentum is traced again (checked "
             "against the folder's curves) and drawn. Or a saved model: a state dict file (torch.save(model."
             "state_dict(), path)) of an MLP of --layers, or of --model, drawn on filter-normalised directions. "
             "Without it, SGD, momentum and Nesterov are trained from the options below.", show_default=False)] = None,
    model: Annotated[str | None, typer.Option(
        help="With a saved model: its network as module:function (function(seed) returns the nn.Module the state "
             "dict fits). Default: inertia's MLP of --layers.", show_default=False)] = None,
    dataset: Annotated[str | None, typer.Option(
        help="spiral, moons, circles, blobs, digits, mnist1d, or a .csv/.npz file with a 'label' column. "
             "Default: spiral.", show_default=False)] = None,
    layers: Annotated[str | None, typer.Option(
        help="Layer widths, input first and classes last, e.g. 2,50,3. Default: features,50,classes.",
        show_default=False)] = None,
    activation: Annotated[str | None, typer.Option(help="Hidden activation. Default: relu.",
                                                   show_default=False)] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate of all three runs. Default: 0.05.",
                                             show_default=False)] = None,
    momentum: Annotated[float | None, typer.Option(
        help="β of the momentum and Nesterov runs (SGD has none). Default: 0.9.", show_default=False)] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs; every epoch's weights are a checkpoint. Default: 50.",
                                               show_default=False)] = None,
    batch_size: Annotated[int | None, typer.Option(help="Minibatch size. Default: 20.", show_default=False)] = None,
    seed: Annotated[int | None, typer.Option(
        help="Seed of the shared initial weights and minibatch order. Default: 0.", show_default=False)] = None,
    data_seed: Annotated[int | None, typer.Option(help="Seed of the generated data set. Default: 0.",
                                                  show_default=False)] = None,
    basis: Annotated[str | None, typer.Option(
        help="pca: the top two principal directions of the runs' checkpoints; filter: Li et al.'s "
             "filter-normalised random directions. Default: pca (filter for a saved model).",
        show_default=False)] = None,
    grid: Annotated[int, typer.Option(help="Points on each axis of the surface (grid × grid evaluations).")] = 51,
    span: Annotated[float, typer.Option(
        help="Half-width of the surface: a multiple of the farthest projected checkpoint (pca), or of the "
             "directions' length (filter).")] = 1.25,
    direction_seed: Annotated[int, typer.Option(help="Seed of the filter-normalised directions.")] = 0,
    out: Annotated[Path | None, typer.Option(
        help="Folder for surface.npz, trajectories.csv, landscape.json, the figure and report.html. Default: "
             "RUN_FOLDER/landscape (its report.html gains the landscape's section), else inertia-out/landscape.",
        show_default=False)] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print landscape.json on stdout.")] = False,
) -> None:
    """The loss surface runs travel from one initialisation, drawn on one plane, and how faithful the picture is.

    Every epoch's weights of the runs are projected (least squares) onto a plane through the final weights of
    the best run (momentum's, without RUN_FOLDER); each grid point is a full-data evaluation, all of them stacked
    as one population. The picture says how faithful it is: the variance the two PCA directions explain, and per
    checkpoint the gap between its own loss and the surface's at its projection. 1-D interpolations run from
    each start to its end and between two runs' solutions. surface.npz holds the centre, both directions and
    every checkpoint: enough to recompute any point. A saved model (a state dict file) is drawn Li et al.'s way:
    the surface around its weights on filter-normalised directions, and the lines through it along both.
    """
    from inertia.progress import status
    from inertia.studies.plane import check_plane

    given = {"dataset": dataset, "layers": layers, "activation": activation, "lr": lr, "momentum": momentum,
             "epochs": epochs, "batch_size": batch_size, "seed": seed, "data_seed": data_seed}
    saved_model = run is not None and run.is_file()
    if saved_model and basis == "pca":
        raise ValueError("--basis pca needs a run's checkpoints; a saved model is drawn on filter-normalised "
                         "directions (--basis filter)")
    basis = basis or ("filter" if saved_model else "pca")
    try:
        check_plane(basis, grid, span)
    except ValueError as exc:
        raise ValueError(as_typed(str(exc), OPTIONS)) from None
    if model is not None and not saved_model:
        raise ValueError("--model applies to a saved model (RUN_FOLDER a state dict file): a comparison's folder "
                         "knows its own network")
    settings = {field: TRAINING[field] if value is None else value for field, value in given.items()}
    if saved_model:
        for field, value in given.items():
            if value is not None and field not in SAVED:
                raise ValueError(f"{OPTIONS[field]} does not apply to a saved model: it is drawn as it was saved")
            if value is not None and model is not None and field in ("layers", "activation"):
                raise ValueError(f"{OPTIONS[field]} does not apply with --model: the network is the function's")
        place, what = out or Path("inertia-out/landscape"), ""
    elif run is not None:
        from inertia.studies.run_landscape import read_run

        for field, value in given.items():
            if value is not None:
                raise ValueError(f"{OPTIONS[field]} does not apply with RUN_FOLDER: the runs are the folder's own, "
                                 "with its settings")
        summary, curves = read_run(run)
        place = out or run / "landscape"
        what = (f"tracing the first seed's {len(summary['config']['momenta'])} runs of {run} again, then a "
                f"{grid} × {grid} surface")
    else:
        place = out or Path("inertia-out/landscape")
        what = (f"SGD, momentum {settings['momentum']:g} and Nesterov on {settings['dataset']} for "
                f"{settings['epochs']} epochs, then a {grid} × {grid} surface")
    if run is None or saved_model or out is not None:
        check_output_dir(place, "--out")
    status(f"inertia landscape: {what}", not json_output and not saved_model)  # a saved model's: once it loads
    from inertia.studies import landscape as study_module

    widths = ints(settings["layers"]) if settings["layers"] else None
    try:
        if saved_model:
            from inertia.studies.run_landscape import saved_model_landscape

            study = saved_model_landscape(run, settings["dataset"], widths, settings["activation"], model, grid,
                                          span, direction_seed, settings["data_seed"], progress=not json_output)
        elif run is not None:
            from inertia.studies.run_landscape import comparison_landscape

            study = comparison_landscape(summary, curves, basis, grid, span, direction_seed,
                                         progress=not json_output, source=str(run))
        else:
            study = study_module.landscape_study(
                settings["dataset"], widths, settings["activation"], settings["lr"], settings["momentum"],
                settings["epochs"], settings["batch_size"], settings["seed"], basis, grid, span, direction_seed,
                settings["data_seed"])
    except ValueError as exc:  # the option as typed, not the library's field
        raise ValueError(as_typed(str(exc), OPTIONS)) from None
    names, report = _save(study, run, out, place)
    summary = study.summary()
    if json_output:
        print(json.dumps(summary))
        return
    from inertia.studies.run_landscape import faithful

    for sentence in faithful(study.config):
        out_console.print(sentence, markup=False, highlight=False)
    explained = summary["explained"]
    if explained:
        out_console.print(f"plane: the top two principal directions, {100 * explained[0]:.1f} % and "
                          f"{100 * explained[1]:.1f} % of the checkpoints' variance", markup=False, highlight=False)
    if "weights" in study.config:
        out_console.print(f"the saved model's loss {summary['final_loss']['saved model']:.4f}; lowest on the surface "
                          f"{summary['surface_min']:.4f}", markup=False, highlight=False)
    for arm, gap in ({} if "weights" in study.config else summary["gaps"]).items():
        out_console.print(f"{arm}: final loss {summary['final_loss'][arm]:.4f}; the drawn path is off its own loss by "
                          f"{gap['median']:.3g} (median over epochs), at most {gap['max']:.3g}", markup=False,
                          highlight=False)
    saved(place, names)
    if report is not None:
        out_console.print(Text.assemble("Its section added to ", (str(report), "bold")))


def _save(study, run: Path | None, out: Path | None, place: Path) -> tuple[list[str], Path | None]:
    """The landscape's files and page in ``place``; inside RUN_FOLDER (no --out) as part of the comparison's
    folder, whose report, when it has one, gains the landscape's section in the same unit."""
    from inertia.studies.landscape import save
    from inertia.views.landscape_report import landscape_page

    if run is None or run.is_file() or out is not None:
        names = save(study, place)
        return [*names, landscape_page(place).name], None
    from inertia.folders import writing
    from inertia.views.report import compare_report

    report = None
    with writing(run, kind="compare", add=True) as folder:
        names = save(study, folder.path / "landscape")
        if (run / "report.html").exists():
            (folder.path / "report.html").write_text(compare_report(run, folder.path / "landscape"))
            report = run / "report.html"
    return names, report
