"""``inertia sweep`` (run a spec's configurations into a store, resumably) and ``inertia results`` (what a
store's runs came to)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from inertia import jsontext
from inertia.cli.common import out_console, plus_minus
from inertia.folders import writing, writing_file
from inertia.paths import check_output_dir, check_output_file


def sweep_command(
    spec: Annotated[Path, typer.Argument(help="Sweep spec (TOML): data, model, optimizer, train, grid, random, "
                                              "targets. See `inertia.sweeps.spec`.")],
    store: Annotated[Path | None, typer.Option(
        help="SQLite store for the results (default: runs/SPEC.db, SPEC being the spec file's name). "
             "Re-running resumes.")] = None,
    executor: Annotated[str, typer.Option(help="local (this process), process (a pool) or ray.")] = "local",
    workers: Annotated[int | None, typer.Option(help="Worker processes or Ray CPUs (default: all cores).")] = None,
    address: Annotated[str | None, typer.Option(
        help="Ray cluster address (default: start a local Ray instance).")] = None,
    group_size: Annotated[int | None, typer.Option(
        help="Most configurations trained as one population (default 256 on the CPU, 100,000 on a GPU).")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda, or auto (CUDA when present).")] = "cpu",
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed", help="Run configurations recorded as failed again (diverged runs are results and "
                               "stay).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list the configurations and their ids.")] = False,
    tensorboard: Annotated[Path | None, typer.Option(
        help="After the sweep, write TensorBoard event files (scalars and hparams per run) here.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")] = False,
) -> None:
    """Run every configuration of a sweep spec into a store; finished runs are skipped, so re-running resumes.

    Configurations that one population can train (same data, model, optimizer and its form, and training
    settings; any hyperparameters and seeds) are trained together, whatever the optimizer: momentum, sgd, qhm,
    adam, adamw, rmsprop. Several processes may share one store:
    none runs a configuration another has claimed. The device, the executor's packages and the store are
    checked before anything is claimed.
    """
    from inertia.sweeps import run as sweep_module
    from inertia.sweeps import spec as experiment

    try:
        parsed = experiment.load_spec(spec)
    except experiment.SpecError as exc:
        raise experiment.SpecError(f"{spec}: {exc}") from None
    configs = parsed.expand()
    if dry_run:
        rows = [{"id": experiment.config_id(c), **experiment.flatten(c)} for c in configs]
        if json_output:
            print(json.dumps(rows))
        else:
            for row in rows:
                out_console.print(row["id"], ", ".join(f"{k}={v}" for k, v in row.items() if k != "id"),
                                  markup=False, highlight=False)
            out_console.print(f"{len(rows)} configurations")
        return
    store = store or Path("runs") / f"{spec.stem}.db"
    if tensorboard:
        from inertia.views.tensorboard import check_available

        check_output_dir(tensorboard, "--tensorboard")
        check_available()
    report = sweep_module.sweep(parsed, str(store), executor=executor, workers=workers, address=address,
                                group_size=group_size, device=device, progress=not json_output,
                                retry_failed=retry_failed)
    if tensorboard:
        from inertia.views.tensorboard import write_store

        write_store(store, tensorboard)
    if json_output:
        print(json.dumps({"store": str(store), "total": report.total, "already_done": report.already_done,
                          "recorded": report.recorded, "statuses": report.statuses, "seconds": report.seconds}))
        return
    out_console.print(Text.assemble(f"{report}. Store: ", (str(store), "bold"),
                                    f" (see `inertia results {store}`)"))


def results(
    store: Annotated[Path, typer.Argument(
        help="A store written by `inertia sweep` or `inertia tune` (opened read-only).")],
    baseline: Annotated[str | None, typer.Option(
        help="Setting to compare against, paired by seed, e.g. momentum=0 (other axes matched).")] = None,
    metric: Annotated[str, typer.Option(
        help="Metric for comparisons and figures: final_loss, best_loss, final_accuracy, best_accuracy.")
    ] = "final_loss",
    csv: Annotated[Path | None, typer.Option(help="Write the per-setting summary as CSV here.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Folder for the figures (default: STORE-figures beside the store STORE, when that can be "
             "written).")
    ] = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Save heatmaps and parallel coordinates.")] = True,
    json_output: Annotated[bool, typer.Option("--json", help="Print the tables as JSON on stdout.")] = False,
) -> None:
    """Summarize a sweep: each setting over seeds (mean, 95 % CI, n), the best setting per metric,
    time-to-target, paired comparisons against a baseline, and figures (lr × momentum heatmaps, plain and at
    equal effective lr, and parallel coordinates). Diverged runs are counted and left out of the means; runs
    that made no progress are counted and kept in them. Tunings recorded in the store (`inertia tune`) are
    listed after, with their best member."""
    from inertia.sweeps.results import METRICS, Results, describe, parse_baseline

    if metric not in METRICS:
        raise ValueError(f"--metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if csv:
        check_output_file(csv, "--csv")
    figures_folder = None
    if plots:
        figures_folder = out or store.with_suffix("").with_name(store.stem + "-figures")
        try:
            check_output_dir(figures_folder, "--out")
        except OSError:
            if out is not None:
                raise
            sys.stderr.write(f"Note: figures not saved: {figures_folder} cannot be written (give --out)\n")
            figures_folder = None
    from inertia.progress import status

    found = Results.load(store)
    if found.runs.empty:
        if _tunings(store, json_output):
            return
        raise ValueError(f"{store} holds no finished runs yet")
    paired = found.paired(parse_baseline(baseline), metric) if baseline else None
    if figures_folder is not None:
        status(f"inertia results: {len(found.runs)} runs; drawing the figures into {figures_folder}",
               not json_output)
    summary, best = found.summary(), found.best()
    if csv:
        with writing_file(csv) as temporary:
            summary.to_csv(temporary, index=False)
    figures = []
    if figures_folder is not None:
        from inertia.views import sweep_plots

        with writing(figures_folder, kind="results") as folder:
            figures = [folder.final / p.name for p in sweep_plots.save_all(found, folder.path, metric)]
    if json_output:
        payload = {"axes": found.axes, "targets": found.targets, "summary": summary.to_dict("records"),
                   "best": best.to_dict("records"), "figures": [str(f) for f in figures]}
        if paired is not None:
            payload["paired"] = paired.to_dict("records")
        print(jsontext.dumps(payload | {"tunings": _found(store).to_dict("records")}))
        return
    axes = found.axes
    table = Table(title=f"{escape(str(store))}: {len(found.runs)} runs, {len(summary)} settings (mean ± 95 % CI "
                        "over seeds; diverged runs left out)")
    for column in ("setting", "n", "ok/no progress/diverged/failed runs", "final loss", "final accuracy",
                   *(f"epochs to {t}" for t in found.targets)):
        table.add_column(column, justify="left" if column == "setting" else "right")
    for row in summary.to_dict("records"):
        table.add_row(Text(describe(row, axes) or "all"), str(row["runs"]),
                      f"{row['ok']}/{row['no_progress']}/{row['diverged']}/{row['failed']}",
                      plus_minus(row, "final_loss", ".4g"), plus_minus(row, "final_accuracy", ".3f"),
                      *(plus_minus(row, f"epochs_to_{t}", ".1f") + f" ({row[f'epochs_to_{t}_n']}/{row['runs']})"
                        for t in found.targets))
    out_console.print(table)
    for row in best.to_dict("records"):
        out_console.print(f"best {row['metric']}: {row['setting']} ({row['mean']:.4g}, n = {row['n']})",
                          markup=False, highlight=False)
    if paired is not None:
        if paired.empty:
            out_console.print(f"no setting shares seeds with the baseline {baseline}", markup=False)
        for row in paired.to_dict("records"):
            out_console.print(f"{describe(row, axes)}: {metric} − baseline = {row['difference']:+.4g} "
                              f"[{row['low']:+.4g}, {row['high']:+.4g}], better in {row['better_in']} of "
                              f"{row['pairs']} seeds", markup=False, highlight=False)
    if figures:
        out_console.print("Figures: " + ", ".join(str(f) for f in figures), markup=False, highlight=False)
    _tunings(store, json_output)


def _tunings(store: Path, json_output: bool) -> bool:
    """The store's tunings (`inertia tune`) as a table, or as JSON where the store holds no runs; False if none."""
    from inertia.stats import format_estimate

    found = _found(store)
    if found.empty:
        return False
    if json_output:
        print(jsontext.dumps({"tunings": found.to_dict("records")}))
        return True
    table = Table(title=f"{escape(str(store))}: {len(found)} tuning{'s' * (len(found) != 1)} (`inertia tune`)")
    for column in ("id", "method", "searched", "decisions", "finished", "best score", "best member's values"):
        table.add_column(column, justify="left" if column in ("id", "method", "searched") else "right")
    for row in found.to_dict("records"):
        values = ", ".join(f"{k.removeprefix('best_')} {format_estimate(row, k)}" for k in row
                           if k.startswith("best_") and k not in ("best_member", "best_score"))
        done = row["finished"] is not None and row["finished"] == row["finished"]
        table.add_row(row["id"], row["method"], row["searched"], str(row["decisions"]), "yes" if done else "no",
                      format_estimate(row, "best_score") if done else "—", values if done else "—")
    out_console.print(table)
    return True


def _found(store: Path):
    from inertia.sweeps import tunings
    from inertia.sweeps.store import Store

    with Store(store, readonly=True) as db:
        return tunings.tunings(db)
