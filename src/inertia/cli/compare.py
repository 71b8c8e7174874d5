"""``inertia compare``: the seed lab's comparison over momenta and seeds, as a table, files and a report."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from inertia.cli.common import floats, ints, out_console, plus_minus, saved
from inertia.paths import check_output_dir


def compare(
    momenta: Annotated[str, typer.Option(help="Momentum values to compare, comma-separated.")] = "0,0.1,0.2,0.4,0.5",
    lr: Annotated[float, typer.Option(help="SGD learning rate (> 0).")] = 0.1,
    form: Annotated[str, typer.Option(
        help="Momentum form: pytorch (torch.optim.SGD), polyak (v = m·v − lr·g) or ema (v = m·v + (1−m)·g).")
    ] = "pytorch",
    layers: Annotated[str | None, typer.Option(
        help="Layer widths, input first and classes last, e.g. 2,50,3. Default: features,50,classes.")] = None,
    activation: Annotated[str, typer.Option(help="Hidden activation: relu, tanh, sigmoid, gelu, elu, ...")] = "relu",
    batch_size: Annotated[int, typer.Option(help="Minibatch size.")] = 20,
    epochs: Annotated[int, typer.Option(help="Passes over the data.")] = 100,
    seeds: Annotated[int, typer.Option(help="Independent seeds per momentum (0..N-1); runs are paired by seed.")] = 5,
    dataset: Annotated[str, typer.Option(
        help="spiral, moons, circles, blobs, digits, mnist1d (4,000 training signals of 40 points), or a .csv/.npz "
             "file with a 'label' column.")] = "spiral",
    data_seed: Annotated[int, typer.Option(help="Seed of the generated data set (fixed across runs).")] = 0,
    shuffle: Annotated[bool, typer.Option(help="Reshuffle minibatches every epoch (the seed lab does not).")] = True,
    out: Annotated[Path, typer.Option(help="Folder for table.csv, curves.csv, summary.json and figures.")] = Path(
        "inertia-out/compare"),
    engine: Annotated[str, typer.Option(
        help="population: all runs trained at once (fast); loop: one model at a time with fit(); auto.")
    ] = "auto",
    device: Annotated[str, typer.Option(help="auto (CUDA when available), cpu or cuda; population engine.")] = "auto",
    json_output: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")] = False,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Save PNG figures.")] = True,
    report: Annotated[bool, typer.Option(
        "--report/--no-report", help="Write report.html: one self-contained, interactive page.")] = True,
    tensorboard: Annotated[Path | None, typer.Option(
        help="Also write TensorBoard event files (scalars per run, and hparams) into this folder.")] = None,
    divergence_factor: Annotated[float, typer.Option(
        help="A run diverged when its full-data loss exceeds this many times its initial loss (or turns "
             "non-finite); see inertia.outcome.")] = 10.0,
    baselines: Annotated[str, typer.Option(
        help="Other optimizers to train beside the momenta, over the same seeds (paired), comma-separated: sgd, "
             "qhm, adam, adamw, rmsprop at torch.optim's defaults, or with settings as name:field=value, e.g. "
             "adam,rmsprop:lr=0.003 (several settings: adam:lr=0.01:beta1=0.8).")] = "",
    schedule: Annotated[str | None, typer.Option(
        help="Learning-rate schedule of the momenta, as kind or kind:field=value:...: onecycle (torch's OneCycleLR "
             "fields; max_lr defaults to --lr, total_steps to the whole training; momentum is left alone), cosine "
             "(total, floor), step (every, gamma), inverse_time (decay), constant; each but onecycle with a linear "
             "warm-up (warmup: updates, warmup_factor: the first one's fraction of the rate), e.g. "
             "onecycle:max_lr=0.2 or cosine:warmup=300.")] = None,
    momentum_schedules: Annotated[str, typer.Option(
        help="Momentum schedules, each trained as an arm of its own beside the momenta (SGD at --lr and "
             "--schedule, over the same seeds), comma-separated: sutskever:mu_max=0.99 (every, the steps between "
             "rises: 250), demon:beta0=0.9 (total: the whole training).")] = "",
    nesterov: Annotated[bool, typer.Option(
        "--nesterov", help="Nesterov's momentum for every nonzero momentum (plain SGD stays plain).")] = False,
    hold: Annotated[str, typer.Option(
        help="lr: every momentum at --lr. effective-lr: also train every momentum β at lr·(1−β), the effective "
             "step lr/(1−β) of plain SGD at --lr, and say whether each momentum's gain survives.")] = "lr",
    model: Annotated[str | None, typer.Option(
        help="Your own network instead of the MLP, as module:function: function(seed) in module (imported from "
             "the current folder or the Python path) returns a torch nn.Module mapping (N, features) rows to "
             "(N, classes) logits. Trains one model at a time (the loop engine); --layers and --activation do "
             "not apply.")] = None,
) -> None:
    """Train a network at several momenta over several seeds and compare them (by default, the seed lab's).

    The seed lab is the classic "neural networks with momentum" notebook inertia grew from. Defaults are its:
    spiral 3 × 500, [2, 50, 3] ReLU, SGD lr 0.1, batch 20, 100 epochs, momenta 0, 0.1, 0.2, 0.4, 0.5; metrics
    are on the full data set, as mean ± 95 % CI over seeds. Diverged runs are counted and left out of the
    means; runs that ended no better than they started are counted as "no progress" and kept in them.
    """
    from inertia import data
    from inertia.arguments import layers_for
    from inertia.folders import writing
    from inertia.optim.schedules import parse_momentum
    from inertia.outcome import check_factor
    from inertia.progress import status
    from inertia.studies.comparison.config import CompareConfig

    arguments = dict(momenta=floats(momenta), dataset=dataset, layers=ints(layers) if layers else None, lr=lr,
                     batch_size=batch_size, epochs=epochs, seeds=seeds, shuffle=shuffle, activation=activation,
                     data_seed=data_seed, form=form, baselines=[b for b in baselines.split(",") if b.strip()],
                     hold=hold, nesterov=nesterov, schedule=schedule,
                     momentum_schedules=[m for m in momentum_schedules.split(",") if m.strip()])
    config = CompareConfig.of(**arguments, model=model)  # every argument checked before torch loads
    loaded = data.get(config.dataset, seed=config.data_seed)
    if model is None:
        layers_for(loaded, config.layers)
    elif engine == "population":
        raise ValueError("--engine population trains inertia's MLPs (--layers); --model trains on the loop engine")
    else:
        from inertia import factory

        factory.check(factory.load(model), loaded, config.seeds[0])  # imports, shapes, one set of weights per seed
    arguments["dataset"] = dataclasses.replace(loaded, name=config.dataset)  # read once; named as typed
    updates = config.epochs * -(-len(loaded) // config.batch_size)
    config.lr_schedule(updates)  # the schedules against the training's own length, before any training
    for text in config.momentum_schedules:
        parse_momentum(text, updates)
    check_factor(divergence_factor)
    if engine not in ("auto", "population", "loop"):
        raise ValueError(f"unknown engine {engine!r}; choose auto, population or loop")
    if device not in ("auto", "cpu"):  # a GPU's presence is torch's to say
        from inertia.models import resolve_device

        resolve_device(device)
    check_output_dir(out, "--out")
    if tensorboard:
        from inertia.views.tensorboard import check_available

        check_output_dir(tensorboard, "--tensorboard")
        check_available()
    status(f"inertia compare: {len(config.momenta)} momenta × {len(config.seeds)} seeds × {config.epochs} epochs on "
           f"{config.dataset}{' (and every momentum at lr·(1 − β))' if hold == 'effective-lr' else ''}",
           not json_output)
    with writing(out, kind="compare") as folder:  # --out is ours from here on: a second writer is refused
        from inertia.studies.comparison.training import compare as run_compare

        comparison = run_compare(**arguments, engine=engine, device=device, progress=not json_output,
                                 divergence_factor=divergence_factor, model=model)
        if plots or report:
            what = " and the ".join(name for name, wanted in (("figures", plots), ("report", report)) if wanted)
            status(f"inertia compare: drawing the {what} into {out}", not json_output)
        files = comparison.save(folder.path, plots=plots)
        if report:
            from inertia.views.report import write_report

            files["report"] = write_report(folder.path)
    if tensorboard:
        from inertia.views.tensorboard import write_comparison

        write_comparison(comparison, tensorboard)
        files["tensorboard"] = tensorboard
    if json_output:
        summary = comparison.summary() | {"files": {k: str(v) for k, v in files.items()}}
        print(json.dumps(summary, allow_nan=False))
        return
    out_console.print(comparison_table(comparison))
    for _, row in comparison.paired().iterrows():
        out_console.print(f"{row['optimizer']} − momentum {row['momentum']:g}: final loss {row['difference']:+.4g} "
                          f"[{row['low']:+.4g}, {row['high']:+.4g}], lower in {row['better_in']} of {row['pairs']} "
                          "seeds", markup=False, highlight=False)
    from inertia.views.conclusions import effective_lr_sentences

    for sentence in effective_lr_sentences(comparison.gains()):
        out_console.print(sentence, markup=False, highlight=False)
    saved(out, [p.name for p in files.values()])


def comparison_table(comparison) -> Table:
    """The comparison's table for the terminal: mean ± 95 % CI half-width over seeds."""
    config = comparison.config
    frame = comparison.table()
    target = f"{config.target_accuracy:.0%}"
    form = "" if config.form == "pytorch" else f", {config.form} form"
    network = f"model {config.model}" if config.model else f"layers {list(config.layers)}"
    table = Table(title=f"{escape(comparison.dataset.name)}, {escape(network)}, lr {config.lr:g}{form}, "
                        f"batch {config.batch_size}, {config.epochs} epochs\n"
                        f"mean ± 95 % CI over {len(config.seeds)} seeds, full-data metrics "
                        "(diverged runs left out)")
    first = "momentum or optimizer" if config.arms else "momentum"
    headers = (first, "final loss", "best loss", "final acc", f"epochs to {target} acc (reached)", "diverged",
               "no progress")
    for header in headers:
        table.add_column(header, justify="right")
    rows = [(f"{m:g}", row) for m, row in zip(frame.index, frame.to_dict("records"))]
    if config.arms:
        baselines = comparison.baseline_table()
        rows += [(label, row) for label, row in zip(baselines.index, baselines.to_dict("records"))]
    for label, row in rows:
        table.add_row(
            Text(label),
            plus_minus(row, "final_loss", ".3f"),
            plus_minus(row, "best_loss", ".3f"),
            plus_minus(row, "final_accuracy", ".3f"),
            plus_minus(row, "epochs_to_target", ".1f") + f" ({row['reached_target']}/{row['runs']})",
            f"{row['diverged']}/{row['runs']}",
            f"{row['no_progress']}/{row['runs']}",
        )
    return table
