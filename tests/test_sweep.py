"""Sweeps: results equal to the one-model path, failures recorded while the rest go on, resume after SIGKILL,
no duplicates between concurrent processes, and the process and Ray executors."""

import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from tolerances import F32_EVALUATION, F32_TRAJECTORY

from inertia import data
from inertia.models import MLP
from inertia.optim import Momentum
from inertia.sweeps import store
from inertia.sweeps.run import plan, run_configs, sweep
from inertia.sweeps.spec import config_id, load_spec
from inertia.train import fit

SMALL = {"data": {"name": "spiral", "points": 20, "seed": 1}, "model": {"layers": [2, 8, 3]},
         "train": {"epochs": 4, "batch_size": 10, "seeds": 2},
         "grid": {"lr": [0.05, 0.5], "momentum": [0.0, 0.9]}}


def with_grid(**grid):
    return {**SMALL, "grid": {**SMALL["grid"], **grid}}


def test_a_sweep_records_every_configuration_once_with_fits_numbers(tmp_path):
    path = tmp_path / "s.db"
    report = sweep(with_grid(optimizer=["momentum", "adam"]), str(path))
    configs = load_spec(with_grid(optimizer=["momentum", "adam"])).expand()
    ids = {config_id(c) for c in configs}
    assert report.recorded == report.total == len(ids) == 2 * 2 * 2 + 2 * 2  # adam has no momentum axis
    runs = store.open(path).runs()
    assert sorted(runs["id"]) == sorted(ids)
    dataset = data.spiral(points=20, seed=1)
    for _, row in runs.iterrows():  # each against a plain fit() with the same seed
        model = MLP([2, 8, 3], seed=int(row["seed"]))
        if row["optimizer"] == "momentum":
            optimizer = Momentum(model.parameters(), lr=row["lr"], momentum=row["momentum"])
        else:
            optimizer = torch.optim.Adam(model.parameters(), lr=row["lr"], weight_decay=0.0)
        history = fit(model, dataset, optimizer, 4, 10, shuffle=True, seed=int(row["seed"]))
        np.testing.assert_allclose(row["final_loss"], history.loss[-1], rtol=F32_TRAJECTORY)
        np.testing.assert_allclose(store.open(path).history(row["id"])["loss"], history.loss, rtol=F32_TRAJECTORY)


def test_diverging_and_invalid_runs_are_recorded_while_the_rest_finish(tmp_path):
    spec = {**SMALL, "optimizer": {"nesterov": False},
            "grid": {"lr": [0.1, 1e30], "momentum": [0.0, 0.99], "dampening": [0.0, 0.5], "nesterov": [False, True]}}
    path = tmp_path / "s.db"
    report = sweep(spec, str(path))
    runs = store.open(path).runs()
    assert len(runs) == report.total == 2 * 2 * 2 * 2 * 2
    invalid = runs["nesterov"] & ((runs["dampening"] > 0) | (runs["momentum"] == 0))
    assert (runs.loc[invalid, "status"] == "failed").all()
    assert runs.loc[invalid, "error"].str.contains("Nesterov momentum requires a momentum and zero dampening").all()
    wild = ~invalid & (runs["lr"] == 1e30) & (runs["momentum"] == 0.99)
    assert wild.any() and (runs.loc[wild, "status"] == "diverged").all()
    calm = ~invalid & (runs["lr"] == 0.1)
    assert (runs.loc[calm, "status"] == "ok").all() and np.isfinite(runs.loc[calm, "final_loss"]).all()


def test_a_failure_in_a_group_is_isolated_to_its_run(monkeypatch):
    from inertia import population

    real = population.train_population

    def fragile(dataset, layers, members, **kwargs):
        if ((members.rule.lr == 0.5) & (members.rule.momentum == 0.9)).any():  # a group's members, as columns
            raise RuntimeError("out of memory")
        return real(dataset, layers, members, **kwargs)

    monkeypatch.setattr(population, "train_population", fragile)
    records = run_configs(load_spec(SMALL).expand())
    failed = [r for r in records if r.status == "failed"]
    assert {(r.config["optimizer"]["lr"], r.config["optimizer"]["momentum"]) for r in failed} == {(0.5, 0.9)}
    assert all(r.error == "RuntimeError: out of memory" for r in failed)
    assert sum(r.status == "ok" for r in records) == len(records) - 2


def test_plan_groups_what_one_population_can_train():
    configs = load_spec(with_grid(form=["pytorch", "polyak"], optimizer=["momentum", "sgd"])).expand()
    groups = plan(configs, group_size=3)
    for group in groups:
        assert len({(c["optimizer"]["name"], c["optimizer"].get("form")) for c in group}) == 1
        assert len(group) <= 3
    assert any(len(g) > 1 and g[0]["optimizer"]["name"] == "sgd" for g in groups), "baselines train together too"
    assert sorted(config_id(c) for g in groups for c in g) == sorted(config_id(c) for c in configs)


def test_resume_runs_only_what_is_missing(tmp_path):
    path = tmp_path / "s.db"
    sweep(SMALL, str(path))
    bigger = with_grid(momentum=[0.0, 0.9, 0.5])
    report = sweep(bigger, str(path))
    assert (report.already_done, report.recorded) == (8, 4)
    attempts = store.open(path).attempts()
    assert attempts["id"].is_unique


# --- processes -----------------------------------------------------------------------------------------------

# Two hidden layers: the batched torch engine, slow enough (a few tenths of a second a group) for kills to land
# mid-sweep; on the compiled kernel the whole sweep ends in less time than a kill takes.
KILL_SPEC = """
[data]
name = "spiral"
points = 2500  # 7,500 samples in minibatches of 2,500 for 200 epochs: enough work per configuration that the
[model]        # kills below land mid-sweep on the compiled kernel, in few enough updates (600) that float32
layers = [2, 8, 8, 3]  # round-off stays near 1e-6
[train]
epochs = 200
batch_size = 2500
seeds = 3
[grid]
optimizer = ["momentum", "adam"]
lr = [0.01, 0.1, 1.0]
momentum = [0.0, 0.5, 0.9]
"""


def start_sweep(spec_path, store_path, *extra):
    return subprocess.Popen([sys.executable, "-m", "inertia", "sweep", str(spec_path), "--store", str(store_path),
                             "--group-size", "2", "--json", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def kill_spec(tmp_path):
    """The spec file of the process tests, and its configuration ids."""
    spec_path = tmp_path / "spec.toml"
    spec_path.write_text(KILL_SPEC)
    return spec_path, {config_id(c) for c in load_spec(spec_path).expand()}


def rows(path):
    with store.Store(path) as db:
        return {i: (s, h, st) for i, s, h, st in db.db.execute("SELECT id, summary, history, status FROM runs")}


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_loses_and_repeats_nothing(tmp_path, kill_spec):
    spec_path, ids = kill_spec
    path = tmp_path / "killed.db"
    chance = random.Random(0)
    seen = {}
    for _ in range(4):
        process = start_sweep(spec_path, path)
        # kill at a random moment once this process has recorded something (or after 60 s regardless)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not path.exists() or len(rows(path)) == len(seen)):
            time.sleep(0.02)
        time.sleep(chance.uniform(0.0, 0.4))
        process.send_signal(signal.SIGKILL)
        process.wait()
        now = rows(path) if path.exists() else {}
        for i, value in seen.items():  # what was finished stays as it was
            assert now[i] == value
        seen = now
    assert 0 < len(seen) < len(ids), "the kills should land mid-sweep"
    process = start_sweep(spec_path, path)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    final = rows(path)
    assert set(final) == ids
    for i, value in seen.items():
        assert final[i] == value
    clean = tmp_path / "clean.db"
    subprocess.run([sys.executable, "-m", "inertia", "sweep", str(spec_path), "--store", str(clean), "--json"],
                   check=True, capture_output=True)
    reference = rows(clean)
    for i in ids:  # the same numbers as a sweep that was never interrupted
        assert json.loads(final[i][0]) == pytest.approx(json.loads(reference[i][0]), nan_ok=True)


@pytest.mark.slow
def test_two_processes_on_one_store_never_run_a_configuration_twice(tmp_path, kill_spec):
    spec_path, ids = kill_spec
    path = tmp_path / "shared.db"
    first, second = start_sweep(spec_path, path), start_sweep(spec_path, path)
    reports = [json.loads(p.communicate(timeout=300)[0]) for p in (first, second)]
    assert set(rows(path)) == ids
    attempts = store.open(path).attempts()
    assert attempts["id"].is_unique and set(attempts["id"]) == ids
    assert sum(r["recorded"] for r in reports) == len(ids)
    assert all(r["recorded"] > 0 for r in reports), "both processes should have taken part"


@pytest.mark.slow
def test_the_process_executor_gives_the_local_results(tmp_path):
    local, pooled = tmp_path / "local.db", tmp_path / "pool.db"
    sweep(SMALL, str(local))
    report = sweep(SMALL, str(pooled), executor="process", workers=2, group_size=2)
    assert report.recorded == 8
    a, b = store.open(local).runs().set_index("id"), store.open(pooled).runs().set_index("id")
    np.testing.assert_allclose(b.loc[a.index, "final_loss"], a["final_loss"], rtol=F32_EVALUATION)


@pytest.mark.slow
def test_the_ray_executor_on_a_local_ray_instance(tmp_path):
    ray = pytest.importorskip("ray")
    local, remote = tmp_path / "local.db", tmp_path / "ray.db"
    sweep(SMALL, str(local))
    try:
        report = sweep(SMALL, str(remote), executor="ray", workers=2, group_size=2)
    finally:
        ray.shutdown()
    assert report.recorded == 8
    a, b = store.open(local).runs().set_index("id"), store.open(remote).runs().set_index("id")
    np.testing.assert_allclose(b.loc[a.index, "final_loss"], a["final_loss"], rtol=F32_EVALUATION)


def test_unknown_executor_and_bad_data():
    with pytest.raises(ValueError, match="unknown executor 'dask'"):
        sweep(SMALL, ":memory:", executor="dask")
    with pytest.raises(ValueError, match=r"data: .*unexpected keyword argument 'pionts'"):
        sweep({**SMALL, "data": {"name": "spiral", "pionts": 3}}, ":memory:")
    with pytest.raises(ValueError, match=r"model.layers: \[2, 8, 5\] do not fit data set 'spiral'"):
        sweep({**SMALL, "model": {"layers": [2, 8, 5]}}, ":memory:")



def test_a_missing_device_is_found_before_anything_is_claimed_or_written(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    path = tmp_path / "s.db"
    with pytest.raises(ValueError, match="device 'cuda' is not available"):
        sweep(SMALL, str(path), device="cuda")
    assert not path.exists()


def test_retry_failed_runs_failures_again_and_keeps_every_result(tmp_path, monkeypatch):
    import inertia.population

    path = tmp_path / "s.db"
    spec = with_grid(optimizer=["momentum", "adam"])
    real = inertia.population.train_population

    def broken(dataset, layers, members, **kwargs):  # momentum groups fail; adam's train
        if members.rule.kind == "momentum":
            raise RuntimeError("out of device memory")
        return real(dataset, layers, members, **kwargs)

    monkeypatch.setattr(inertia.population, "train_population", broken)
    first = sweep(spec, str(path))
    assert first.statuses == {"failed": 8, "ok": 4}  # the momentum runs failed, adam's did not
    kept = store.open(path, readonly=True).runs().set_index("id")
    monkeypatch.setattr(inertia.population, "train_population", real)
    assert sweep(spec, str(path)).recorded == 0  # failures count as finished unless asked
    again = sweep(spec, str(path), retry_failed=True)
    assert (again.already_done, again.recorded) == (4, 8) and "failed" not in again.statuses
    runs = store.open(path, readonly=True).runs().set_index("id")
    assert len(runs) == 12 and not (runs["status"] == "failed").any() and runs["error"].isna().all()
    adam = kept.index[kept["optimizer"] == "adam"]
    assert runs.loc[adam, "final_loss"].equals(kept.loc[adam, "final_loss"])
    attempts = store.open(path, readonly=True).attempts()
    assert attempts["id"].value_counts().to_dict() == {i: 2 if kept.loc[i, "status"] == "failed" else 1
                                                        for i in kept.index}


LEASE_SPEC = {"data": {"name": "spiral", "points": 100, "seed": 1}, "model": {"layers": [2, 32, 32, 3]},
              "optimizer": {"name": "adam", "lr": 0.01}, "train": {"epochs": 1000, "batch_size": 10, "seeds": 3}}


@pytest.mark.slow
def test_runs_longer_than_the_lease_are_never_started_twice(tmp_path):
    """Each run (1,000 epochs of a two-hidden-layer network) takes about a second; the lease is a fifth of
    that. Two processes share the store: without renewal each would take the other's runs over as soon as
    their lease lapsed."""
    path = tmp_path / "s.db"
    code = ("import json, sys; from inertia.sweeps.run import sweep; "
            "print(sweep(json.loads(sys.argv[1]), sys.argv[2], lease=0.2, group_size=1).recorded)")
    processes = [subprocess.Popen([sys.executable, "-c", code, json.dumps(LEASE_SPEC), str(path)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    attempts = store.open(path, readonly=True).attempts()
    assert len(attempts) == 3 and attempts["id"].is_unique
    assert sum(int(out) for out, _ in outputs) == 3
    seconds = store.open(path, readonly=True).runs()["seconds"]
    assert (seconds > 0.2).all(), "each run should outlast the lease for this test to mean anything"


def descendants(pid):
    """Every live process below ``pid``, from /proc."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


@pytest.mark.slow
def test_process_workers_end_when_their_driver_is_killed(tmp_path, kill_spec):
    spec_path, _ = kill_spec
    driver = start_sweep(spec_path, tmp_path / "s.db", "--executor", "process", "--workers", "2")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(descendants(driver.pid)) < 2:
        time.sleep(0.1)
    workers = descendants(driver.pid)
    assert len(workers) >= 2, "the pool should have started"
    time.sleep(1.0)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.1)
    alive = [w for w in workers if Path(f"/proc/{w}").exists() and
             Path(f"/proc/{w}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
    assert not alive, f"workers {alive} outlived their driver"


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_ray_node(*args):
    """``ray start --block`` in a session of its own: everything it starts is below it, for kill_tree."""
    environment = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    return subprocess.Popen(["ray", "start", "--block", "--node-ip-address=127.0.0.1", "--num-cpus=1",
                             "--disable-usage-stats", *args], start_new_session=True, env=environment,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def kill_tree(process):
    for pid in [*descendants(process.pid), process.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait()


@pytest.mark.slow
def test_a_ray_cluster_losing_a_node_mid_sweep_still_runs_everything_exactly_once(tmp_path, monkeypatch):
    pytest.importorskip("ray")
    if shutil.which("ray") is None:
        pytest.skip("the ray command is not on PATH")
    # One authentication mode for every process of this cluster (nodes, probe, driver): left unset, Ray turns
    # token authentication on for `ray start` whenever an earlier local instance left ~/.ray/auth_token behind,
    # and a driver that does not send the token is refused.
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    port = free_port()
    head = start_ray_node("--head", f"--port={port}", "--include-dashboard=false")
    second = None
    try:
        time.sleep(2)
        second = start_ray_node(f"--address=127.0.0.1:{port}")
        spec = {**LEASE_SPEC, "train": {**LEASE_SPEC["train"], "seeds": 8}}
        spec_path = tmp_path / "spec.json"
        ids = {config_id(c) for c in load_spec(spec).expand()}
        code = ("import json, sys, ray; ray.init(address=sys.argv[1], log_to_driver=False); "
                "deadline = __import__('time').monotonic() + 60\n"
                "while ray.cluster_resources().get('CPU', 0) < 2 and __import__('time').monotonic() < deadline:\n"
                "    __import__('time').sleep(0.2)\n"
                "print(ray.cluster_resources().get('CPU', 0))")
        ready = subprocess.run([sys.executable, "-c", code, f"127.0.0.1:{port}"], capture_output=True, text=True,
                               timeout=120)
        assert ready.stdout.strip().endswith("2.0"), ready.stderr[-2000:]
        spec_path.write_text(json.dumps(spec))
        path = tmp_path / "s.db"
        driver = subprocess.Popen(
            [sys.executable, "-c", "import json, sys; from inertia.sweeps.run import sweep; "
             "print('recorded', sweep(json.load(open(sys.argv[1])), sys.argv[2], executor='ray', "
             "address=sys.argv[3], group_size=1).recorded)", str(spec_path), str(path), f"127.0.0.1:{port}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not path.exists() or not rows(path)):
            time.sleep(0.05)
        finished = rows(path)
        assert 0 < len(finished) < len(ids), "the node should be lost mid-sweep"
        kill_tree(second)
        out, err = driver.communicate(timeout=300)
        assert driver.returncode == 0, err[-3000:]
        final = rows(path)
        # Ray may print its own notes on the lost node to stdout after the count: find the count's line.
        recorded = re.search(r"^recorded (\d+)$", out, re.MULTILINE)
        assert set(final) == ids and recorded and int(recorded.group(1)) == len(ids), out[-2000:]
        for i, value in finished.items():  # nothing finished was lost or redone
            assert final[i] == value
        attempts = store.open(path, readonly=True).attempts()
        assert attempts["id"].is_unique and set(attempts["id"]) == ids
    finally:
        if second is not None:
            kill_tree(second)
        kill_tree(head)
        current = Path("/tmp/ray/ray_current_cluster")  # where `ray start --head` names its cluster
        with contextlib.suppress(OSError):
            if current.read_text().strip().endswith(f":{port}"):
                current.unlink()


def test_a_missing_ray_is_found_before_the_store_is_touched(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails, as where it is not installed
    path = tmp_path / "s.db"
    with pytest.raises(ImportError, match=r"the ray executor needs Ray: pip install 'inertia\[ray\]'"):
        sweep(SMALL, str(path), executor="ray")
    assert not path.exists()


# --- schedules -----------------------------------------------------------------------------------------------


def test_configuration_ids_of_specs_without_the_new_schedules_are_unchanged():
    """Ids computed before one-cycle and momentum schedules entered specs: a store keeps recognising its runs."""
    cosine = {**SMALL, "schedule": {"kind": "cosine", "total": 40}, "train": {**SMALL["train"], "seeds": 1},
              "grid": {"lr": [0.05], "momentum": [0.9]}}
    assert [config_id(c) for c in load_spec(cosine).expand()] == ["adeb2a607f3920a1"]
    assert [config_id(c) for c in load_spec({"grid": {"lr": [0.1]}}).expand()][:2] == ["b3d51442b6f5add7",
                                                                                          "ce1c053265ba5bff"]


def test_onecycle_and_momentum_schedules_in_a_spec_train_like_torch_and_resume(tmp_path):
    """kind = "onecycle" with torch's names (max_lr from the optimizer's lr, total_steps the whole training)
    equals torch.optim.SGD stepped by torch's OneCycleLR, momentum cycled; a [momentum_schedule] (Demon) equals
    torch.optim.SGD with its momentum set from Demon's formula before every update. Both resume like any sweep."""
    updates = 4 * 6  # 60 points in minibatches of 10, 4 epochs
    cycled = {**SMALL, "schedule": {"kind": "onecycle", "pct_start": 0.25, "anneal_strategy": "linear"}}
    demon = {**SMALL, "momentum_schedule": {"kind": "demon", "beta0": 0.9},
             "schedule": {"kind": "constant", "warmup": 6, "warmup_factor": 0.5}}
    dataset = data.spiral(points=20, seed=1)
    for spec, name in ((cycled, "cycled.db"), (demon, "demon.db")):
        path = tmp_path / name
        report = sweep(spec, str(path))
        assert report.recorded == report.total == 8
        assert sweep(spec, str(path)).already_done == 8  # resumed: nothing trained again
        runs = store.open(path).runs()
        for _, row in runs.iterrows():
            model = MLP([2, 8, 3], seed=int(row["seed"]))
            sgd = torch.optim.SGD(model.parameters(), lr=row["lr"], momentum=0.9 if spec is demon else row["momentum"])
            if spec is cycled:  # torch cycles the momentum (0.95 → 0.85 → 0.95) whatever SGD was made with
                scheduler = torch.optim.lr_scheduler.OneCycleLR(sgd, max_lr=row["lr"], total_steps=updates,
                                                                pct_start=0.25, anneal_strategy="linear")
                history = fit(model, dataset, sgd, 4, 10, seed=int(row["seed"]), scheduler=scheduler)
            else:  # with a warm-up: torch's LinearLR over the first 6 updates
                ramp = lambda t: 0.9 * (1 - t / updates) / (0.1 + 0.9 * (1 - t / updates))  # noqa: E731
                scheduler = torch.optim.lr_scheduler.LinearLR(sgd, start_factor=0.5, total_iters=6)
                history = fit(model, dataset, sgd, 4, 10, seed=int(row["seed"]), momentum_schedule=ramp,
                              scheduler=scheduler)
            np.testing.assert_allclose(store.open(path).history(row["id"])["loss"], history.loss,
                                       rtol=F32_TRAJECTORY, err_msg=f"{name} {dict(row)}")
        assert set(runs["schedule"]) == {"onecycle" if spec is cycled else "constant"}
        if spec is demon:
            assert set(runs["momentum_schedule"]) == {"demon"}
