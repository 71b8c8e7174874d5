"""Running a sweep: a spec's configurations trained in groups and recorded in a store as each group ends.

Configurations that differ only in what a population member may vary (every hyperparameter of its optimizer,
and the seed) are trained together by :func:`inertia.population.train_population`, whatever the optimizer:
momentum, sgd, qhm, adam, adamw and rmsprop are all rules of :mod:`inertia.optim.rules`. A group is claimed in the store
before it starts and recorded (with its claims released) in one transaction when it ends, so killing a sweep
loses at most the groups in flight and resuming runs exactly what is missing.

Executors: ``local`` (this process), ``process`` (a pool of worker processes) and ``ray`` (tasks on a Ray
cluster, or a local Ray instance). Workers only train; the process that runs :func:`sweep` claims and records,
so every executor writes to the same store the same way.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from inertia.outcome import DIVERGENCE_FACTOR, SUMMARY_KEYS
from inertia.progress import progress_bar
from inertia.sweeps.schedule_tables import momentum_schedule_of, schedule_of
from inertia.sweeps.spec import HELD_OUT_SEED, Spec, SpecError, canonical, config_id, load_spec
from inertia.sweeps.store import Record, Store

EXECUTORS = ("local", "process", "ray")
# What a population member may vary; the rest of [optimizer] (name, form, nesterov) a group shares.
MEMBER_KEYS = ("lr", "momentum", "dampening", "weight_decay", "effective_lr", "nu", "beta1", "beta2", "eps", "alpha",
               "centered")


@dataclass
class SweepReport:
    """What one call of :func:`sweep` did: configurations in the spec, already finished before it started,
    and recorded by it, by status."""

    total: int
    already_done: int
    recorded: int
    statuses: dict
    seconds: float

    def __str__(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items())) or "nothing new"
        return (f"{self.total} configurations: {self.already_done} already finished, {self.recorded} recorded "
                f"now ({counts}) in {self.seconds:.1f} s")


def sweep(spec: Spec | dict | str, store: str, *, executor: str = "local", workers: int | None = None,
          address: str | None = None, group_size: int | None = None, device: str = "cpu",
          progress: bool = False, on_record: Callable[[int], None] | None = None, retry_failed: bool = False,
          lease: float = 600.0) -> SweepReport:
    """Run every configuration of ``spec`` not yet in ``store`` (a path); see the module docstring.
    ``group_size`` caps the members of one population run (default 256 on the CPU, 100,000 on a GPU).
    ``on_record(n)`` is called after each group is stored, with the number of runs it added. With
    ``retry_failed``, runs recorded as failed are run again (diverged runs are results and stay). Claims
    last ``lease`` seconds and are renewed while this process runs.

    What can be checked without training is checked before anything is claimed or written: the spec, the
    data, the device, the executor's package and the store (``ValueError``, ``OSError`` or ``ImportError``)."""
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    spec = spec if isinstance(spec, Spec) else load_spec(spec)
    started = time.perf_counter()
    configs = spec.expand()
    by_id = {config_id(c): c for c in configs}
    _check_data(spec, configs)
    check_environment(executor, device)
    group_size = group_size or (100_000 if str(device).startswith("cuda") else 256)
    statuses: dict[str, int] = {}
    with Store(store, lease=lease) as db:
        db.add_spec(spec.to_dict())
        already = len(by_id.keys() & db.finished_ids(retry_failed))
        runner = _executor(executor, workers, address, device, retry_failed)
        try:
            with db.heartbeat(), progress_bar(len(by_id), progress, done=already, unit="runs") as advance:
                while True:
                    finished = db.finished_ids(retry_failed)
                    pending = [i for i in by_id if i not in finished]
                    if not pending:
                        break
                    added = runner(db, plan([by_id[i] for i in pending], group_size), statuses, advance,
                                   on_record)
                    if not added:  # what is left is claimed by other live processes
                        break
        finally:
            db.release()
    return SweepReport(len(by_id), already, sum(statuses.values()), statuses, time.perf_counter() - started)


def check_environment(executor: str, device: str) -> None:
    """Problems that would fail every run, found before any is claimed: an unavailable device, Ray missing."""
    from inertia.models import resolve_device

    resolve_device(device)
    if executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ImportError("the ray executor needs Ray: pip install 'inertia[ray]'") from None


def plan(configs: Sequence[dict], group_size: int) -> list[list[dict]]:
    """Configurations in groups that one population run can train, at most ``group_size`` each, in order."""
    groups: dict[str, list[dict]] = {}
    for config in configs:
        groups.setdefault(group_key(config), []).append(config)
    return [group[i : i + group_size] for group in groups.values() for i in range(0, len(group), group_size)]


def group_key(config: dict) -> str:
    """Equal for configurations one population can train together: everything but the member's own values."""
    shared = {k: v for k, v in config["optimizer"].items() if k not in MEMBER_KEYS}
    return canonical({**config, "optimizer": shared, "seed": None})


def run_configs(configs: Sequence[dict], device: str = "cpu") -> list[Record]:
    """Train ``configs`` (grouped as :func:`plan` would) and return their records; never raises: a run that
    cannot be trained is recorded as ``failed`` with its error, and the others go on."""
    records = []
    for group in plan(configs, len(configs) or 1):
        records += _run_group(group, device)
    return records


# --- training ------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def dataset_of(data_json: str):
    """The data set a spec's ``[data]`` table (as canonical JSON) describes, built once per process."""
    from inertia import data

    spec = json.loads(data_json)
    if spec.get("name") == "mnist1d":  # a fixed data set: the reference's seed unless the spec names one
        spec.pop("name")
        return data.mnist1d(**spec)
    name, seed, held_out = spec.pop("name"), spec.pop("seed", 0), spec.pop("held_out", None)
    if name in data.GENERATORS:
        drawn = data.GENERATORS[name](seed=seed, **spec)
        if held_out is None:
            return drawn
        # the same generator, another seed: independent points of the same distribution
        test = data.GENERATORS[name](seed=seed + HELD_OUT_SEED, **{**spec, "points": held_out})
        return data.Dataset(drawn.x, drawn.y, drawn.classes, drawn.name, test=data.Dataset(
            test.x, test.y, test.classes, f"{drawn.name} (held out)"))
    if name == "digits":
        return data.digits()
    return data.load_table(name, **spec)


def _check_data(spec: Spec, configs: Sequence[dict]) -> None:
    """The data set, the layers against it, and every configuration's schedules against its training's length."""
    try:
        dataset = dataset_of(canonical(spec.data))
    except TypeError as exc:
        raise SpecError(f"data: {exc}") from None
    except ValueError as exc:
        raise SpecError(f"data: {exc}") from None
    layers = spec.model.get("layers")
    if layers and (layers[0] != dataset.features or layers[-1] != dataset.classes):
        raise SpecError(f"model.layers: {layers} do not fit data set {dataset.name!r} ({dataset.features} "
                        f"features, {dataset.classes} classes); use [{dataset.features}, ..., {dataset.classes}]")
    for config in configs:
        updates = _updates(config, dataset)
        try:
            schedule_of(config["schedule"], config["optimizer"]["lr"], updates)
        except ValueError as exc:
            raise SpecError(f"schedule: {exc}") from None
        try:
            momentum_schedule_of(config.get("momentum_schedule", {}), updates)
        except ValueError as exc:
            raise SpecError(f"momentum_schedule: {exc}") from None


def _updates(config: dict, dataset) -> int:
    """How many updates a configuration's training takes."""
    return config["train"]["epochs"] * -(-len(dataset) // config["train"]["batch_size"])


def _layers(config: dict, dataset) -> list[int]:
    return config["model"].get("layers") or [dataset.features, 50, dataset.classes]


def _run_group(group: list[dict], device: str) -> list[Record]:
    started = time.perf_counter()
    try:
        dataset = dataset_of(canonical(group[0]["data"]))
    except Exception as exc:
        return [_failed(c, exc, 0.0) for c in group]
    import numpy as np

    from inertia.optim import rules
    from inertia.population import Members, train_population
    from inertia.population.columns import vectorized

    valid, records, checked, scheduled, ramped = [], [], [], [], []
    for config in group:  # each configuration's own check, so that a bad one is recorded and the others go on
        try:
            rule = rule_of(config)
            rule.check()
            updates = _updates(config, dataset)
            schedule = schedule_of(config["schedule"], config["optimizer"]["lr"], updates)
            ramp = momentum_schedule_of(config.get("momentum_schedule", {}), updates)
        except ValueError as exc:
            records.append(_failed(config, exc, 0.0))
            continue
        valid.append(config)
        checked.append(rule)
        if schedule is not None:
            scheduled.append((len(valid) - 1, schedule))
        if ramp is not None:
            ramped.append((len(valid) - 1, ramp))
    if not valid:
        return records
    first = valid[0]
    try:
        members = Members(rules.stack(checked), np.array([c["seed"] for c in valid], dtype=np.int64),
                          vectorized([s for _, s in scheduled], [i for i, _ in scheduled]),
                          momentum_schedules=vectorized([r for _, r in ramped], [i for i, _ in ramped]))
        result = train_population(
            dataset, _layers(first, dataset), members, epochs=first["train"]["epochs"],
            batch_size=first["train"]["batch_size"], shuffle=first["train"]["shuffle"],
            activation=first["model"]["activation"], device=device, divergence_factor=_divergence_factor(first))
    except Exception as exc:
        if len(valid) == 1:
            return [*records, _failed(first, exc, time.perf_counter() - started)]
        return records + [r for config in valid for r in _run_group([config], device)]
    seconds = (time.perf_counter() - started) / len(valid)
    return records + _records(valid, result, seconds)


def rule_of(config: dict):
    """The :mod:`inertia.optim.rules` optimizer a configuration names, with torch.optim's defaults for what it leaves
    out (``sgd`` is momentum in the pytorch form: ``torch.optim.SGD``)."""
    from inertia.optim import rules

    o, name = config["optimizer"], config["optimizer"]["name"]
    if name in ("momentum", "sgd"):
        return rules.Momentum(o["lr"], o["momentum"], o.get("dampening", 0.0), o["weight_decay"],
                              o.get("nesterov", False), False, o.get("form", "pytorch"))
    if name == "qhm":
        return rules.QHM(o["lr"], o["momentum"], o.get("nu", 0.7), o["weight_decay"])
    if name == "rmsprop":
        return rules.RMSprop(o["lr"], o.get("alpha", 0.99), o.get("eps", 1e-8), o["weight_decay"], o["momentum"],
                             o.get("centered", False))
    return rules.OPTIMIZERS[name](o["lr"], o.get("beta1", 0.9), o.get("beta2", 0.999), o.get("eps", 1e-8),
                                  o["weight_decay"])


def _records(configs: list[dict], result, seconds: float) -> list[Record]:
    """A record per configuration from a population's columnar results: its curves and its summary
    (:func:`inertia.outcome.summarize_columns`, as :func:`inertia.outcome.summarize` gives it)."""
    from inertia.train import METRICS

    columns = result.summaries()
    records = []
    for i, config in enumerate(configs):
        end = int(result.epochs_run[i])
        curves = {name: result.metrics[name][i, :end].tolist() for name in METRICS}
        at = int(columns["diverged_at"][i])
        summary = {key: (None if at < 0 else at) if key == "diverged_at" else float(values[i])
                   for key, values in columns.items() if key != "status"}
        records.append(Record(config_id(config), config, str(columns["status"][i]), summary, curves, seconds))
    return records


def _failed(config: dict, exc: Exception, seconds: float) -> Record:
    summary = {key: float("nan") for key in SUMMARY_KEYS if key not in ("status", "diverged_at")}
    summary["diverged_at"] = None
    return Record(config_id(config), config, "failed", summary, {}, seconds, f"{type(exc).__name__}: {exc}")


def _divergence_factor(config: dict) -> float:
    return config["train"].get("divergence_factor", DIVERGENCE_FACTOR)


# --- executors -----------------------------------------------------------------------------------------------


def _store_group(db: Store, records, statuses, advance, on_record) -> int:
    added = db.record(records)
    for r in records:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    advance("sweep", len(records))
    if on_record is not None:
        on_record(added)
    return len(records)


def _executor(name: str, workers: int | None, address: str | None, device: str, retry_failed: bool):
    if name == "local":
        return functools.partial(_run_local, device=device, retry=retry_failed)
    if name == "process":
        return functools.partial(_run_pool, workers=workers, device=device, retry=retry_failed)
    return functools.partial(_run_ray, workers=workers, address=address, device=device, retry=retry_failed)


def _run_local(db: Store, groups, statuses, advance, on_record, *, device, retry) -> int:
    done = 0
    for group in groups:
        claimed = set(db.claim([config_id(c) for c in group], retry_failed=retry))
        if claimed:
            records = run_configs([c for c in group if config_id(c) in claimed], device)
            done += _store_group(db, records, statuses, advance, on_record)
    return done


def _run_pool(db: Store, groups, statuses, advance, on_record, *, workers, device, retry) -> int:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    workers = workers or os.cpu_count() or 1
    context = multiprocessing.get_context("spawn")
    done, queue, running = 0, list(groups), set()
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_pool_worker, initargs=(os.getpid(),)) as pool:
        while queue or running:
            while queue and len(running) < 2 * workers:
                group = queue.pop(0)
                claimed = set(db.claim([config_id(c) for c in group], retry_failed=retry))
                if claimed:
                    running.add(pool.submit(run_configs, [c for c in group if config_id(c) in claimed], device))
            if not running:
                break
            finished, running = wait(running, timeout=30, return_when=FIRST_COMPLETED)
            for future in finished:
                done += _store_group(db, future.result(), statuses, advance, on_record)
    return done


def _run_ray(db: Store, groups, statuses, advance, on_record, *, workers, address, device, retry) -> int:
    import ray  # present: check_environment saw to it
    if not ray.is_initialized():
        # Without an address, a new local instance: never whatever cluster this machine last ran.
        options = {"address": address} if address else {"address": "local", "num_cpus": workers}
        log = logging.getLogger("inertia")
        if address:
            log.info("Connecting to the Ray cluster at %s...", address)
        else:
            log.info("Starting a local Ray instance (a few seconds)...")
        ray.init(include_dashboard=False, log_to_driver=False, **options)
    task = ray.remote(num_cpus=1)(_ray_task)
    done, queue, running = 0, list(groups), {}
    capacity = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    while queue or running:
        while queue and len(running) < 2 * capacity:
            group = queue.pop(0)
            claimed = set(db.claim([config_id(c) for c in group], retry_failed=retry))
            if claimed:
                chosen = [c for c in group if config_id(c) in claimed]
                running[task.remote(chosen, device)] = chosen
        if not running:
            break
        finished, _ = ray.wait(list(running), num_returns=1, timeout=30)
        for ref in finished:
            chosen = running.pop(ref)
            try:
                records = ray.get(ref)
            except ray.exceptions.RayError:
                # The task's node or worker died (after Ray's own retries): train the group again elsewhere;
                # its claims are still held, so no other process starts it meanwhile.
                running[task.remote(chosen, device)] = chosen
                continue
            done += _store_group(db, records, statuses, advance, on_record)
    return done


def _ray_task(configs, device):
    _single_threaded()
    return run_configs(configs, device)


def _pool_worker(driver: int) -> None:
    """A pool worker: one thread, and it ends when its driver process does (even a SIGKILLed one)."""
    import threading

    def watch():
        while True:
            time.sleep(0.5)
            if os.getppid() != driver:
                os._exit(1)

    _single_threaded()
    threading.Thread(target=watch, name="inertia-driver-watch", daemon=True).start()


def _single_threaded() -> None:
    """Workers of a pool share the machine: one thread each."""
    import numba
    import torch

    torch.set_num_threads(1)
    numba.set_num_threads(1)
