"""``inertia tune SPEC``: random search, successive halving or population-based training over a sweep spec's
search space, inside one population, then the best configuration trained again from fresh seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from inertia import jsontext
from inertia.cli.common import as_typed, floats, out_console, saved
from inertia.paths import check_output_dir

OPTIONS = {"method": "--method", "budget": "--budget", "reduction_factor": "--reduction-factor",
           "min_epochs": "--min-epochs", "interval": "--interval", "quantile": "--quantile",
           "resample_probability": "--resample-probability", "factors": "--factors", "metric": "--metric"}


def tune_command(
    spec: Annotated[Path, typer.Argument(
        help="Sweep spec (TOML): [data], [model], [optimizer] and [train] as every member shares them; [random] "
             "ranges (lr = { log_uniform = [0.001, 1.0] }) and [grid] lists are the space searched.")],
    method: Annotated[str, typer.Option(help="random, halving (successive halving) or pbt (population-based "
                                             "training).")] = "halving",
    budget: Annotated[int | None, typer.Option(
        help="Member-epochs every method spends (default: 32 full trainings).", show_default=False)] = None,
    seed: Annotated[int, typer.Option(help="The tuner's seed: draws, initial weights, PBT's choices.")] = 0,
    reduction_factor: Annotated[float, typer.Option(help="Halving: η, one member in η goes on at each rung.")] = 4.0,
    min_epochs: Annotated[int, typer.Option(help="Halving: the first rung, in epochs (then ×η).")] = 1,
    interval: Annotated[int | None, typer.Option(
        help="PBT: epochs between exploit/explore rounds (default: a tenth of the training).",
        show_default=False)] = None,
    quantile: Annotated[float, typer.Option(help="PBT: the fraction that exploits (bottom) and is copied "
                                                 "(top).")] = 0.25,
    resample_probability: Annotated[float, typer.Option(
        help="PBT: the chance a hyperparameter is drawn afresh instead of perturbed.")] = 0.25,
    factors: Annotated[str, typer.Option(help="PBT: perturbation factors, comma-separated.")] = "1.2,0.8",
    metric: Annotated[str, typer.Option(
        help="loss or accuracy, on the held-out split where the data set has one.")] = "loss",
    retrain_seeds: Annotated[int, typer.Option(
        help="Fresh seeds the best configuration is trained again from (0: none).")] = 10,
    engine: Annotated[str, typer.Option(help="auto, kernel, lanes, triton or torch.")] = "auto",
    device: Annotated[str, typer.Option(help="cpu, cuda, or auto.")] = "cpu",
    store: Annotated[Path | None, typer.Option(
        help="SQLite store the tuning and each decision are recorded in, with its checkpoint beside it in "
             "STORE.tunings/ (default: runs/SPEC.db, as `inertia sweep`); re-run, the same tuning goes on from its "
             "last checkpoint.", show_default=False)] = None,
    checkpoint_every: Annotated[float, typer.Option(
        help="Seconds between checkpoints of the population (0: after every decision); a killed tuning goes on "
             "from its last and makes the decisions after it again.")] = 60.0,
    out: Annotated[Path | None, typer.Option(
        help="Folder for tune.json, members.csv, lineage.csv, trajectory.csv and report.html (default: "
             "inertia-out/tune/SPEC-METHOD).", show_default=False)] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print tune.json on stdout.")] = False,
) -> None:
    """Tune momentum, learning rate and the rest of a spec's search space inside one population.

    halving drops members at each rung, PBT copies the weights and optimizer state of the best quarter onto the
    worst quarter every interval and perturbs their hyperparameters: no trial processes, no checkpoint files
    between members. Every method spends the same budget of member-epochs. Each decision is recorded in the
    store and the population checkpointed beside it every minute, so a killed tuning re-run with the same
    arguments goes on from its last checkpoint, making the decisions after it again.
    """
    from inertia.progress import status
    from inertia.stats import format_interval
    from inertia.sweeps import tune as tuner
    from inertia.sweeps.space import space_of
    from inertia.sweeps.spec import SpecError, load_spec
    from inertia.sweeps.store import Store, check_store_path

    if not checkpoint_every >= 0:
        raise ValueError(f"--checkpoint-every must be a number of seconds >= 0, got {checkpoint_every}")
    if retrain_seeds < 0 or (retrain_seeds == 1):
        raise ValueError(f"--retrain-seeds must be 0 or at least 2 (for an interval), got {retrain_seeds}")
    try:
        parsed = load_spec(spec)
        space = space_of(parsed)
        tuner._check_spec(parsed)
    except SpecError as exc:
        raise SpecError(f"{spec}: {exc}") from None
    settings = dict(method=method, budget=budget, seed=seed, reduction_factor=reduction_factor,
                    min_epochs=min_epochs, interval=interval, quantile=quantile,
                    resample_probability=resample_probability, factors=tuple(floats(factors)), metric=metric)
    epochs = parsed.train["epochs"]
    try:
        chosen = tuner.Settings(**settings).checked(epochs)
    except ValueError as exc:
        raise ValueError(as_typed(str(exc), OPTIONS)) from None
    out = out or Path("inertia-out/tune") / f"{spec.stem}-{method}"
    store = store or Path("runs") / f"{spec.stem}.db"
    check_output_dir(out, "--out")
    check_store_path(store)
    if store.exists():  # another file there is refused before any training
        Store(store, readonly=True).close()
    status(f"inertia tune: {method} over {', '.join(space.names)}, {chosen.members(epochs)} members to start, "
           f"{chosen.budget:,} member-epochs of {epochs}-epoch training", not json_output)

    def said(tuning):
        record = tuning.records[-1]
        best = min((s for s in record["scores"] if s is not None and s == s),
                   key=lambda s: s if metric == "loss" else -s, default=float("nan"))
        went = f"; {len(record['kept'])} go on" if "kept" in record else ""
        went += f"; {len(record['exploited'])} take over better runs" if record.get("exploited") else ""
        status(f"  epoch {record['epoch']}/{epochs}: {len(record['members'])} members, best {metric} {best:.4g}"
               f"{went}", not json_output)

    tuning = tuner.tune(parsed, store=store, checkpoint_every=checkpoint_every, engine=engine, device=device,
                         on_decision=said, **settings)
    retrained = None
    if retrain_seeds:
        from inertia.sweeps.tuned import retrain

        status(f"  training the best configuration again from {retrain_seeds} fresh seeds", not json_output)
        retrained = retrain(parsed, tuning, retrain_seeds, engine=engine, device=device)
    from inertia.sweeps.tuned import save, summary
    from inertia.views.tune_report import tune_page

    names = [*save(tuning, out, retrained), tune_page(out).name]
    if json_output:
        print(jsontext.dumps(summary(tuning, retrained)))
        return
    best = tuning.best
    table = Table(title=f"{method}: {len(tuning.records[0]['members'])} members, {tuning.member_epochs:,} "
                        f"member-epochs, {tuning.seconds['training']:.1f} s training + "
                        f"{tuning.seconds['deciding']:.2f} s deciding")
    last = " (at the end)" if method == "pbt" else ""
    for header in ("best member", *(n + last for n in space.names), f"its {metric}", "retrained (95 % CI)"):
        table.add_column(header, justify="right")
    again = "—"
    if retrained is not None:
        again = format_interval(retrained, f"{metric}_mean", ".4g", f"{metric}_low", f"{metric}_high")
        low = retrained[f"{metric}_low"]
        again += f" over {retrained['seeds']} seeds" if low == low else ""  # an interval: the seeds it is over
    table.add_row(str(best["member"]), *(f"{best[n]:.4g}" for n in space.names), f"{best['score']:.4g}", again)
    out_console.print(table)
    if method == "pbt":  # the schedule its lineage discovered
        from inertia.sweeps.tuned import ancestry

        steps = Table(title="The winner's schedule, back through the runs it took over")
        for header in ("epochs", "run of member", *space.names):
            steps.add_column(header, justify="right")
        for row in ancestry(tuning):
            steps.add_row(f"{row['start']}–{row['end']}", str(row["member"]), *(f"{row[n]:.4g}" for n in space.names))
        out_console.print(steps)
    out_console.print(Text.assemble("Recorded in ", (str(store), "bold"), f" as {tuning.id} (see `inertia results "
                                    f"{store}`)"))
    saved(out, names)


def tune_study_command(
    dataset: Annotated[str, typer.Option(
        help="spiral (the lab's [2, 50, 3], a held-out spiral from another seed) or mnist1d ([40, 100, 100, 10], "
             "its held-out split).")] = "spiral",
    methods: Annotated[str, typer.Option(help="Tuners, comma-separated: random, halving, pbt.")] = "random,halving,pbt",
    tuner_seeds: Annotated[int, typer.Option(help="Tunings per method, each from its own seed.")] = 10,
    budget: Annotated[int | None, typer.Option(
        help="Member-epochs per tuning (default: 32 full trainings of 20 epochs).", show_default=False)] = None,
    retrain_seeds: Annotated[int, typer.Option(
        help="Fresh seeds each chosen configuration is trained again from.")] = 10,
    out: Annotated[Path | None, typer.Option(
        help="Folder for tune_study.json, runs.csv and table.csv (default: inertia-out/tune-study/DATASET).",
        show_default=False)] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print tune_study.json on stdout.")] = False,
) -> None:
    """Random search, successive halving and PBT at one budget, each from several tuner seeds.

    lr (log-uniform on [0.003, 3]) and momentum (uniform on [0, 0.99]) are searched; every configuration a tuner
    chooses (PBT's: the schedule its winner's lineage followed) is trained again from fresh seeds and judged on
    held-out data. The table gives each method's held-out loss and accuracy, mean over tuner seeds with a 95 %
    interval, and what one tuning costs.
    """
    from inertia.stats import format_interval
    from inertia.sweeps import tune_study as study_module

    names = [m.strip() for m in methods.split(",") if m.strip()]
    if dataset not in study_module.SPECS:
        raise ValueError(f"--dataset must be one of {', '.join(study_module.SPECS)}, got {dataset!r}")
    for method in names:
        if method not in ("random", "halving", "pbt"):
            raise ValueError(f"--methods must be among random, halving, pbt, got {method!r}")
    for option, value in (("--tuner-seeds", tuner_seeds), ("--retrain-seeds", retrain_seeds)):
        if value < 2:
            raise ValueError(f"{option} must be at least 2 (for an interval), got {value}")
    out = out or Path("inertia-out/tune-study") / dataset
    check_output_dir(out, "--out")
    study = study_module.tune_study(dataset, methods=names, tuner_seeds=tuner_seeds, budget=budget,
                                    retrain_seeds=retrain_seeds, progress=not json_output)
    saved_names = study_module.save(study, out)
    if json_output:
        print(jsontext.dumps(study_module.summary(study)))
        return
    c = study.config
    table = Table(title=f"{dataset}: {c['tuner_seeds']} tuner seeds per method, {c['budget']:,} member-epochs per "
                        f"tuning; each choice trained again from {c['retrain_seeds']} seeds, held-out")
    for header in ("method", "held-out loss (95 % CI)", "held-out accuracy (95 % CI)", "s per tuning"):
        table.add_column(header, justify="right")
    for row in study.table():
        table.add_row(row["method"], format_interval(row, "loss", ".4f"), format_interval(row, "accuracy", ".4f"),
                      f"{row['seconds']:.2f}")
    out_console.print(table)
    saved(out, saved_names)
