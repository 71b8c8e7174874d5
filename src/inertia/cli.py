"""The ``inertia`` command line: thin commands over the library (parse, call, print or save)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from inertia.paths import check_output_dir, check_output_file

# User errors: what the library raises for bad input (ValueError and its SpecError / DataError), paths that
# cannot be read or written (OSError), and optional packages that are missing (ImportError).
USER_ERRORS = (ValueError, OSError, ImportError)
# Click's exceptions as the installed typer raises them (typer >= 0.22 carries its own copy of click).
_UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
_NoArgsIsHelp = getattr(sys.modules[_UsageError.__module__], "NoArgsIsHelpError", ())


class _Boundary(TyperGroup):
    """The app's one error boundary: every user error, from option parsing to the library's own checks, ends
    here as one plain line on stderr (never read as markup) and exit status 2, with no traceback."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        _show_library_notes()
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _NoArgsIsHelp as exc:
            if exc.format_message().strip():  # typer's rich mode has printed it already
                print(exc.format_message())
            code = 0
        except _UsageError as exc:
            command = exc.ctx.command_path if exc.ctx else "inertia"
            code = _error(f"{exc.format_message()} (see `{command} --help`)")
        except typer.Abort:
            sys.stderr.write("Interrupted.\n")
            code = 130
        except USER_ERRORS as exc:
            code = _error(str(exc) or type(exc).__name__)
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


def _show_library_notes() -> None:
    """The library's notes on what takes time before results appear (compiling a kernel for this machine),
    on stderr, so that ``--json`` output stays clean."""
    logger = logging.getLogger("inertia")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def _error(message: str) -> int:
    sys.stderr.write("Error: " + " ".join(message.splitlines()) + "\n")
    sys.stderr.flush()
    return 2


app = typer.Typer(
    cls=_Boundary,
    help="inertia: a laboratory for momentum in gradient descent. Start with `inertia compare`.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)
reproduce_app = typer.Typer(help="Re-run a seed notebook exactly as written, or a paper's model exactly as it is "
                                 "defined.", no_args_is_help=True)
app.add_typer(reproduce_app, name="reproduce")

out_console = Console()


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


def _saved(folder, names) -> None:
    """``Saved to FOLDER: a, b`` with the folder in bold and nothing read as markup."""
    out_console.print(Text.assemble("Saved to ", (str(folder), "bold"), ": " + ", ".join(names)))


@app.command()
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
             "adam,rmsprop:lr=0.003:centered=true.")] = "",
    nesterov: Annotated[bool, typer.Option(
        "--nesterov", help="Nesterov's momentum for every nonzero momentum (plain SGD stays plain).")] = False,
    hold: Annotated[str, typer.Option(
        help="lr: every momentum at --lr. effective-lr: also train every momentum β at lr·(1−β), the effective "
             "step lr/(1−β) of plain SGD at --lr, and say whether each momentum's gain survives.")] = "lr",
) -> None:
    """Train the seed lab's network at several momenta over several seeds and compare them.

    Defaults are the seed lab's: spiral 3 × 500, [2, 50, 3] ReLU, SGD lr 0.1, batch 20, 100 epochs, momenta
    0, 0.1, 0.2, 0.4, 0.5; metrics are on the full data set, as mean ± 95 % CI over seeds. Diverged runs
    are counted and left out of the means; runs that ended no better than they started are counted as "no
    progress" and kept in them.
    """
    from inertia.studies.comparison import compare as run_compare

    check_output_dir(out, "--out")
    if tensorboard:
        from inertia.views.tensorboard import check_available

        check_output_dir(tensorboard, "--tensorboard")
        check_available()
    comparison = run_compare(
        momenta=_floats(momenta), dataset=dataset, layers=_ints(layers) if layers else None, lr=lr,
        batch_size=batch_size, epochs=epochs, seeds=seeds, shuffle=shuffle, activation=activation,
        data_seed=data_seed, form=form, engine=engine, device=device, progress=not json_output,
        divergence_factor=divergence_factor, baselines=[b for b in baselines.split(",") if b.strip()], hold=hold,
        nesterov=nesterov,
    )
    files = comparison.save(out, plots=plots)
    if report:
        from inertia.views.report import write_report

        files["report"] = write_report(out)
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
    _saved(out, [p.name for p in files.values()])


def comparison_table(comparison) -> Table:
    """The comparison's table for the terminal: mean ± 95 % CI half-width over seeds."""
    config = comparison.config
    frame = comparison.table()
    target = f"{config.target_accuracy:.0%}"
    form = "" if config.form == "pytorch" else f", {config.form} form"
    table = Table(title=f"{escape(comparison.dataset.name)}, layers {list(config.layers)}, lr {config.lr:g}{form}, "
                        f"batch {config.batch_size}, {config.epochs} epochs\n"
                        f"mean ± 95 % CI over {len(config.seeds)} seeds, full-data metrics "
                        "(diverged runs left out)")
    first = "momentum or optimizer" if config.baselines else "momentum"
    headers = (first, "final loss", "best loss", "final acc", f"epochs to {target} acc (reached)", "diverged",
               "no progress")
    for header in headers:
        table.add_column(header, justify="right")
    rows = [(f"{m:g}", row) for m, row in zip(frame.index, frame.to_dict("records"))]
    if config.baselines:
        baselines = comparison.baseline_table()
        rows += [(label, row) for label, row in zip(baselines.index, baselines.to_dict("records"))]
    for label, row in rows:
        table.add_row(
            Text(label),
            _pm(row, "final_loss", ".3f"),
            _pm(row, "best_loss", ".3f"),
            _pm(row, "final_accuracy", ".3f"),
            _pm(row, "epochs_to_target", ".1f") + f" ({row['reached_target']}/{row['runs']})",
            f"{row['diverged']}/{row['runs']}",
            f"{row['no_progress']}/{row['runs']}",
        )
    return table


def _pm(row, name: str, spec: str) -> str:
    from inertia.stats import format_estimate

    return format_estimate(row, name, spec, separator="±")


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
    from inertia.progress import progress_bar
    from inertia.studies import reproduce
    from inertia.studies.comparison import compare as run_compare

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


@app.command()
def scratch(
    epochs: Annotated[int, typer.Option(help="Full-batch epochs (seed 004 runs 10001).")] = 10001,
    lr: Annotated[float, typer.Option(help="Initial learning rate.")] = 1.0,
    decay: Annotated[float, typer.Option(help="Inverse-time decay: lr_t = lr / (1 + decay·t).")] = 1e-3,
    momentum: Annotated[float, typer.Option(help="Momentum.")] = 0.9,
    form: Annotated[str, typer.Option(help="Momentum form: polyak (the seed's), pytorch or ema.")] = "polyak",
    hidden: Annotated[int, typer.Option(help="Hidden width.")] = 64,
    points: Annotated[int, typer.Option(help="Points per class of the spiral (turns 2.5, 3 classes).")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the data and the initial weights.")] = 0,
    dtype: Annotated[str, typer.Option(help="float32 or float64.")] = "float32",
    log_every: Annotated[int, typer.Option(help="Print a log line every N epochs.")] = 100,
) -> None:
    """Train seed 004's NumPy network from scratch and print its log lines.

    Spiral 100 × 3 (turns 2.5), [2, 64, 3] ReLU, softmax cross-entropy, full batch, SGD lr 1 with decay 1e-3
    and momentum 0.9, 10001 epochs; the update comes from inertia.optim.rules.
    """
    import numpy as np

    from inertia import data
    from inertia.scratch import SGD, Network

    if dtype not in ("float32", "float64"):
        raise ValueError(f"--dtype must be float32 or float64, got {dtype!r}")
    if epochs < 1 or log_every < 1:
        raise ValueError("--epochs and --log-every must be positive integers")
    task = data.spiral(classes=3, points=points, turns=2.5, seed=seed)
    net = Network.mlp([2, hidden, 3], rng=seed, dtype=np.dtype(dtype))
    optimizer = SGD(lr=lr, momentum=momentum, decay=decay, form=form)
    history = net.fit(task.x, task.y, optimizer, epochs, log=print, log_every=log_every)
    print(f"final: acc: {history['accuracy'][-1]:.3f}, loss: {history['loss'][-1]:.3f}")


@app.command()
def velocity(
    dim: Annotated[int, typer.Option(help="Samples and features of the random binary task (dim × dim).")] = 1000,
    epochs: Annotated[int, typer.Option(help="Epochs per way (seed 003 runs 2000; see --full).")] = 80,
    full: Annotated[bool, typer.Option(
        "--full", help="Seed 003's whole run: 1000 × 1000, 2000 epochs per way (about 6 minutes on 2 idle CPU "
                       "cores, 25 times the default; sets --dim and --epochs).")] = False,
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 1e-5,
    momentum: Annotated[float, typer.Option(help="Momentum of the two momentum ways, in (0, 1).")] = 0.9,
    batch_size: Annotated[int, typer.Option(help="Minibatch size.")] = 64,
    seed: Annotated[int, typer.Option(help="Seed of the data, the initial weights and the minibatch order.")] = 0,
    device: Annotated[str, typer.Option(help="auto (CUDA when available), cpu or cuda.")] = "auto",
    out: Annotated[Path, typer.Option(help="Folder for velocity_losses.png and velocity.json.")] = Path(
        "inertia-out/velocity"),
    json_output: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")] = False,
) -> None:
    """Seed 003's experiment: no momentum, a hand-written velocity dictionary, and torch.optim.SGD(momentum).

    All three start from the same weights and see the same minibatches; the two momentum ways must agree.
    The default run (1000 × 1000, 80 epochs per way) takes about 20 seconds on 2 CPU cores.
    """
    from inertia import plots
    from inertia.progress import progress_bar
    from inertia.studies.velocity import WAYS, train_three_ways

    if full:
        dim, epochs = 1000, 2000
    check_output_dir(out, "--out")
    with progress_bar(len(WAYS) * max(epochs, 0), not json_output) as advance:
        result = train_three_ways(dim=dim, epochs=epochs, lr=lr, momentum=momentum, batch_size=batch_size,
                                  seed=seed, device=device, on_epoch=lambda way, epoch: advance(way))
    out.mkdir(parents=True, exist_ok=True)
    figure = plots.named_curves(result.losses, "mean minibatch BCE loss (nats)",
                                f"Seed 003's task ({dim}×{dim}), lr {lr:g}, momentum {momentum:g}")
    figure.savefig(out / "velocity_losses.png", dpi=120)
    summary = {"device": result.device, "dim": dim, "epochs": epochs, "agree": result.agree,
               "max_loss_gap": result.max_loss_gap, "max_weight_gap": result.max_weight_gap,
               "final_loss": {way: float(values[-1]) for way, values in result.losses.items()}}
    (out / "velocity.json").write_text(json.dumps(summary, indent=2) + "\n")
    if json_output:
        print(json.dumps(summary))
        return
    for way, values in result.losses.items():
        out_console.print(f"{way:28s} final loss {values[-1]:.5f}")
    verdict = "[green]agree[/]" if result.agree else "[red]disagree[/]"
    out_console.print(f"velocity dictionary vs torch.optim.SGD(momentum): {verdict} (largest weight gap "
                      f"{result.max_weight_gap:.2e}, largest loss gap {result.max_loss_gap:.2e}) on "
                      f"{escape(result.device)}")
    _saved(out, ["velocity_losses.png", "velocity.json"])


@app.command()
def ball(
    momentum: Annotated[float, typer.Option(help="Momentum β of the EMA velocity, in [0, 1).")] = 0.6,
    epochs: Annotated[int, typer.Option(help="Epochs (the ball runs epochs + 1 steps, as in seed 003).")] = 50,
    lr: Annotated[float, typer.Option(help="Learning rate for the continuous functions' trajectories.")] = 0.1,
    form: Annotated[str, typer.Option(help="Update form for the trajectories: polyak, pytorch or ema.")] = "polyak",
    out: Annotated[Path, typer.Option(help="Folder for the figures and the GIF.")] = Path("inertia-out/ball"),
    json_output: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")] = False,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Save figures and the animation.")] = True,
) -> None:
    """Seed 003's ball in the bumpy valley: plain descent stops at the bump, momentum rolls over it.

    Also runs inertia.optim.rules on the continuous valley, an ill-conditioned quadratic, Rosenbrock and Beale.
    """
    from inertia.optim.checks import FORMS
    from inertia.progress import progress_bar
    from inertia.studies import valley

    if form not in FORMS:
        raise ValueError(f"Invalid form: {form!r} (allowed: {', '.join(FORMS)})")
    if not lr > 0:
        raise ValueError(f"Invalid learning rate: {lr} (allowed: lr > 0)")
    if plots:
        check_output_dir(out, "--out")
    run, plain = valley.roll(momentum, epochs), valley.roll(0.0, epochs)
    _, span = valley.memory(momentum)
    summary = {"momentum": momentum, "reached_bottom": run.reached_bottom, "final_index": run.final_index,
               "steps": run.steps, "plain": {"reached_bottom": plain.reached_bottom, "final_index": plain.final_index,
                                             "steps": plain.steps},
               "effective_memory": span}
    if plots:
        rates = {"valley": lr, "quadratic": 0.03, "rosenbrock": 1e-3, "beale": 1e-2}
        figures = [("ball.png", lambda: valley.ball_figure(momentum, epochs))]
        figures += [(f"{name}.png", lambda name=name, rate=rate: valley.trajectories_figure(
            name, rate, steps=2000 if name in ("rosenbrock", "beale") else 200, form=form))
            for name, rate in rates.items()]
        figures.append(("phase.png", lambda: valley.phase_figure(lr, form=form)))
        out.mkdir(parents=True, exist_ok=True)
        with progress_bar(len(figures) + 1, not json_output) as advance:
            for name, draw in figures:
                advance(f"drawing {name}", 0)
                draw().savefig(out / name, dpi=120)
                advance()
            advance("drawing ball.gif", 0)
            valley.save_animation(out / "ball.gif", momentum, epochs)
            advance()
        summary["files"] = sorted(str(out / name) for name in [*(n for n, _ in figures), "ball.gif"])
    if json_output:
        print(json.dumps(summary))
        return
    out_console.print(f"plain descent: stops at index {plain.final_index} after {plain.steps} steps "
                      f"({'bottom' if plain.reached_bottom else 'stuck before the bump'})")
    out_console.print(f"momentum {momentum:g}: stops at index {run.final_index} after {run.steps} steps "
                      f"({'bottom' if run.reached_bottom else 'stuck before the bump'}); "
                      f"effective memory 1/(1 - β) = {span:.1f} steps")
    if plots:
        _saved(out, [*(n for n, _ in figures), "ball.gif"])


@app.command()
def theory(
    lambda_min: Annotated[float, typer.Option(help="Smallest Hessian eigenvalue λ₁ (> 0).")] = 1.0,
    lambda_max: Annotated[float, typer.Option(help="Largest Hessian eigenvalue λₙ.")] = 100.0,
    edge: Annotated[bool, typer.Option(help="Also measure the largest stable lr per momentum on the spiral network "
                                            "and compare with 2(1 + β)/λ_max.")] = False,
    out: Annotated[Path, typer.Option(help="Folder for rate.png.")] = Path("inertia-out/theory"),
    json_output: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")] = False,
) -> None:
    """Heavy-ball momentum on a quadratic: optimal α and β, rates against gradient descent, and the rate map."""
    from inertia.studies import theory as theory_module

    summary = theory_module.optimal(lambda_min, lambda_max)
    check_output_dir(out, "--out")
    if edge:
        from inertia import data
        from inertia.studies import stability

        summary["edge"] = stability.edges(data.spiral(seed=0), [2, 50, 3], progress=not json_output)
    out.mkdir(parents=True, exist_ok=True)
    theory_module.rate_figure(lambda_min, lambda_max).savefig(out / "rate.png", dpi=120)
    if json_output:
        print(json.dumps(summary))
        return
    table = Table(title=f"Heavy ball on a quadratic, λ ∈ [{lambda_min:g}, {lambda_max:g}], κ = {summary['kappa']:g}")
    for header in ("", "learning rate", "momentum", "rate per step"):
        table.add_column(header, justify="right")
    table.add_row("optimal momentum", f"{summary['alpha_opt']:.4g}", f"{summary['beta_opt']:.4g}",
                  f"{summary['rate_opt']:.4f}")
    table.add_row("best gradient descent", f"{summary['alpha_gd']:.4g}", "0", f"{summary['rate_gd']:.4f}")
    out_console.print(table)
    if edge:
        rows = Table(title=f"Largest stable lr on the spiral network (λ_max ≈ {summary['edge']['lambda_max']:.3g} "
                           f"at initialization, full batch, {summary['edge']['epochs']} epochs)")
        for header in ("momentum", "predicted 2(1+β)/λ_max", "measured"):
            rows.add_column(header, justify="right")
        for row in summary["edge"]["rows"]:
            measured = "none stable" if row["measured_lr"] is None else f"{row['measured_lr']:.3g}"
            rows.add_row(f"{row['momentum']:g}", f"{row['predicted_lr']:.3g}", measured)
        out_console.print(rows)
    _saved(out, ["rate.png"])


@app.command(name="sweep")
def sweep_command(
    spec: Annotated[Path, typer.Argument(help="Sweep spec (TOML): data, model, optimizer, train, grid, random, "
                                              "targets. See `inertia.sweeps.spec`.")],
    store: Annotated[Path | None, typer.Option(
        help="SQLite store for the results (default: runs/<spec name>.db). Re-running resumes.")] = None,
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

    Configurations that one population can train (same data, model, form and training settings) are trained
    together; adam, adamw, rmsprop and sgd baselines run one by one. Several processes may share one store:
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


@app.command()
def results(
    store: Annotated[Path, typer.Argument(help="A store written by `inertia sweep` (opened read-only).")],
    baseline: Annotated[str | None, typer.Option(
        help="Setting to compare against, paired by seed, e.g. momentum=0 (other axes matched).")] = None,
    metric: Annotated[str, typer.Option(
        help="Metric for comparisons and figures: final_loss, best_loss, final_accuracy, best_accuracy.")
    ] = "final_loss",
    csv: Annotated[Path | None, typer.Option(help="Write the per-setting summary as CSV here.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Folder for the figures (default: <store>-figures beside the store, when that can be written).")
    ] = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Save heatmaps and parallel coordinates.")] = True,
    json_output: Annotated[bool, typer.Option("--json", help="Print the tables as JSON on stdout.")] = False,
) -> None:
    """Summarize a sweep: each setting over seeds (mean, 95 % CI, n), the best setting per metric,
    time-to-target, paired comparisons against a baseline, and figures (lr × momentum heatmaps, plain and at
    equal effective lr, and parallel coordinates). Diverged runs are counted and left out of the means; runs
    that made no progress are counted and kept in them."""
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
    found = Results.load(store)
    if found.runs.empty:
        raise ValueError(f"{store} holds no finished runs yet")
    summary, best = found.summary(), found.best()
    paired = found.paired(parse_baseline(baseline), metric) if baseline else None
    if csv:
        summary.to_csv(csv, index=False)
    figures = []
    if figures_folder is not None:
        from inertia.views import sweep_plots

        figures = sweep_plots.save_all(found, figures_folder)
    if json_output:
        payload = {"axes": found.axes, "targets": found.targets, "summary": summary.to_dict("records"),
                   "best": best.to_dict("records"), "figures": [str(f) for f in figures]}
        if paired is not None:
            payload["paired"] = paired.to_dict("records")
        print(json.dumps(payload, default=str).replace("NaN", "null"))
        return
    axes = found.axes
    table = Table(title=f"{escape(str(store))}: {len(found.runs)} runs, {len(summary)} settings (mean ± 95 % CI "
                        "over seeds; diverged runs left out)")
    for column in ("setting", "n", "ok/no progress/diverged/failed runs", "final loss", "final accuracy",
                   *(f"epochs to {t}" for t in found.targets)):
        table.add_column(column, justify="left" if column == "setting" else "right")
    for _, row in summary.iterrows():
        table.add_row(Text(describe(row, axes) or "all"), str(row["runs"]),
                      f"{row['ok']}/{row['no_progress']}/{row['diverged']}/{row['failed']}",
                      _pm(row, "final_loss", ".4g"), _pm(row, "final_accuracy", ".3f"),
                      *(_pm(row, f"epochs_to_{t}", ".1f") + f" ({row[f'epochs_to_{t}_n']}/{row['runs']})"
                        for t in found.targets))
    out_console.print(table)
    for _, row in best.iterrows():
        out_console.print(f"best {row['metric']}: {row['setting']} ({row['mean']:.4g}, n = {row['n']})",
                          markup=False, highlight=False)
    if paired is not None:
        if paired.empty:
            out_console.print(f"no setting shares seeds with the baseline {baseline}", markup=False)
        for _, row in paired.iterrows():
            out_console.print(f"{describe(row, axes)}: {metric} − baseline = {row['difference']:+.4g} "
                              f"[{row['low']:+.4g}, {row['high']:+.4g}], better in {row['better_in']} of "
                              f"{row['pairs']} seeds", markup=False, highlight=False)
    if figures:
        out_console.print("Figures: " + ", ".join(str(f) for f in figures), markup=False, highlight=False)


@app.command(name="report")
def report_command(
    path: Annotated[Path, typer.Argument(
        help="A folder written by `inertia compare` or `inertia batch-study`, or a sweep store (.db).")],
    out: Annotated[Path | None, typer.Option(
        help="The HTML file (default: report.html in the folder, or <store>.html beside the store).")] = None,
) -> None:
    """Write one self-contained HTML report: tables, conclusions with their statistics, interactive charts,
    decision regions across epochs, the ball in the valley with a momentum slider. It works offline."""
    from inertia.views.report import default_output, write_report

    check_output_file(out or default_output(path), "--out")
    written = write_report(path, out)
    out_console.print(Text.assemble("Report: ", (str(written), "bold")))


from inertia import cli_studies  # noqa: E402, F401 - registers reproduce nqm and batch-study on the app
