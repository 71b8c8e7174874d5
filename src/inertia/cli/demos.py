"""The seeds' smaller experiments and the theory behind them: ``inertia scratch`` (seed 004's NumPy network),
``velocity`` (seed 003's momentum by hand), ``ball`` (the ball in the bumpy valley) and ``theory`` (heavy-ball
momentum on a quadratic)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from inertia.cli.common import out_console, saved
from inertia.folders import writing
from inertia.paths import check_output_dir


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
    """Train a NumPy network from scratch, as seed 004 (an nnfs-style tutorial) does, and print its log lines.

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
    """Momentum three ways, as seed 003 (a momentum tutorial): none, a velocity by hand, torch.optim.SGD.

    No momentum, a hand-written velocity dictionary, and torch.optim.SGD(momentum) on seed 003's random binary
    task.

    All three start from the same weights and see the same minibatches; the two momentum ways must agree.
    The default run (1000 × 1000, 80 epochs per way) takes about 20 seconds on 2 CPU cores.
    """
    from inertia.progress import progress_bar, status
    from inertia.studies.velocity import WAYS, check_arguments, train_three_ways

    if full:
        dim, epochs = 1000, 2000
    check_arguments(dim, epochs, lr, momentum, batch_size)
    if device not in ("auto", "cpu"):  # a GPU's presence is torch's to say
        from inertia.models import resolve_device

        resolve_device(device)
    check_output_dir(out, "--out")
    status(f"inertia velocity: seed 003's task ({dim} × {dim}) three ways, {epochs} epochs each", not json_output)
    with writing(out, kind="velocity") as folder:
        with progress_bar(len(WAYS) * max(epochs, 0), not json_output) as advance:
            result = train_three_ways(dim=dim, epochs=epochs, lr=lr, momentum=momentum, batch_size=batch_size,
                                      seed=seed, device=device, on_epoch=lambda way, epoch: advance(way))
        from inertia import plots

        figure = plots.named_curves(result.losses, "mean minibatch BCE loss (nats)",
                                    f"Seed 003's task ({dim}×{dim}), lr {lr:g}, momentum {momentum:g}")
        figure.savefig(folder.path / "velocity_losses.png", dpi=120)
        summary = {"device": result.device, "dim": dim, "epochs": epochs, "agree": result.agree,
                   "max_loss_gap": result.max_loss_gap, "max_weight_gap": result.max_weight_gap,
                   "final_loss": {way: float(values[-1]) for way, values in result.losses.items()}}
        (folder.path / "velocity.json").write_text(json.dumps(summary, indent=2) + "\n")
    if json_output:
        print(json.dumps(summary))
        return
    for way, values in result.losses.items():
        out_console.print(f"{way:28s} final loss {values[-1]:.5f}")
    verdict = "[green]agree[/]" if result.agree else "[red]disagree[/]"
    out_console.print(f"velocity dictionary vs torch.optim.SGD(momentum): {verdict} (largest weight gap "
                      f"{result.max_weight_gap:.2e}, largest loss gap {result.max_loss_gap:.2e}) on "
                      f"{escape(result.device)}")
    saved(out, ["velocity_losses.png", "velocity.json"])


def ball(
    momentum: Annotated[float, typer.Option(help="Momentum β of the EMA velocity, in [0, 1).")] = 0.6,
    epochs: Annotated[int, typer.Option(help="Epochs (the ball runs epochs + 1 steps, as in seed 003).")] = 50,
    lr: Annotated[float, typer.Option(help="Learning rate for the continuous functions' trajectories.")] = 0.1,
    form: Annotated[str, typer.Option(help="Update form for the trajectories: polyak, pytorch or ema.")] = "polyak",
    out: Annotated[Path, typer.Option(help="Folder for the figures and the GIF.")] = Path("inertia-out/ball"),
    json_output: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")] = False,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Save figures and the animation.")] = True,
) -> None:
    """The ball in the bumpy valley (seed 003's picture): plain descent stops at the bump, momentum rolls over.

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
        with writing(out, kind="ball") as folder, progress_bar(len(figures) + 1, not json_output) as advance:
            for name, draw in figures:
                advance(f"drawing {name}", 0)
                draw().savefig(folder.path / name, dpi=120)
                advance()
            advance("drawing ball.gif", 0)
            valley.save_animation(folder.path / "ball.gif", momentum, epochs)
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
        saved(out, [*(n for n, _ in figures), "ball.gif"])


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
    with writing(out, kind="theory") as folder:
        if edge:
            from inertia import data
            from inertia.studies import stability

            summary["edge"] = stability.edges(data.spiral(seed=0), [2, 50, 3], progress=not json_output)
        theory_module.rate_figure(lambda_min, lambda_max).savefig(folder.path / "rate.png", dpi=120)
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
        calm = summary["edge"]["calm_epochs"]
        for header in ("momentum", "predicted 2(1+β)/λ_max", f"measured: loss below its start for {calm} epochs",
                       "trains at all (ends below its start)"):
            rows.add_column(header, justify="right")
        for row in summary["edge"]["rows"]:
            edges = ("none" if row[key] is None else f"{row[key]:.3g}" for key in ("measured_lr", "surviving_lr"))
            rows.add_row(f"{row['momentum']:g}", f"{row['predicted_lr']:.3g}", *edges)
        out_console.print(rows)
        out_console.print("Past the predicted edge the loss first rises (the dynamics at initialization are unstable, "
                          "as on a quadratic); the network then lowers its own curvature and settles, so it still "
                          "trains far beyond it (a catapult), which the quadratic theory does not describe.",
                          markup=False, highlight=False)
    saved(out, ["rate.png"])
