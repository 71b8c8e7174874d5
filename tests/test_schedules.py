"""Momentum schedules and one-cycle: torch's OneCycleLR step for step, the ramp and Demon against their
definitions, populations under them equal to fit driven by torch's own scheduler in every engine, torch's
schedulers driving inertia's optimizers as they drive torch's, and bad schedules refused with the field named."""

import math
import re

import numpy as np
import pytest
import torch
from tolerances import F32_TRAJECTORY, F64_TRAJECTORY

from inertia import data
from inertia.models import MLP
from inertia.optim import QHM, Momentum, rules, schedules
from inertia.population import Member, Members, train_population, triton_runs_on
from inertia.train import fit

STEPS = 1000


def torch_sequence(optimizer, scheduler, steps=STEPS):
    """The lr and momentum (or β₁) torch's ``scheduler`` sets on ``optimizer`` before each of ``steps`` updates."""
    lrs, momenta = [], []
    for _ in range(steps):
        group = optimizer.param_groups[0]
        lrs.append(group["lr"])
        momenta.append(group["betas"][0] if "betas" in group else group["momentum"])
        optimizer.step()
        scheduler.step()
    return np.array(lrs), np.array(momenta)


ONE_CYCLES = [dict(), dict(anneal_strategy="linear"), dict(three_phase=True), dict(three_phase=True,
              anneal_strategy="linear", pct_start=0.4, div_factor=10.0, final_div_factor=100.0, base_momentum=0.8,
              max_momentum=0.99)]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("settings", ONE_CYCLES, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "torch")
def test_one_cycle_sets_what_torch_sets_for_a_thousand_steps(settings, optimizer):
    param = [torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))]
    opt = torch.optim.SGD(param, lr=0.1, momentum=0.9) if optimizer == "sgd" else torch.optim.Adam(param, lr=0.1)
    lrs, momenta = torch_sequence(opt, torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.2, total_steps=STEPS,
                                                                          **settings))
    ours = schedules.OneCycle(0.2, STEPS, **settings)
    t = np.arange(STEPS)
    np.testing.assert_allclose(ours(t), lrs, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours.momentum(t), momenta, rtol=1e-12, atol=1e-15)
    # one member at a time and every member at once (array fields, an array of steps) agree
    both = schedules.OneCycle(np.array([0.2, 0.5]), np.array([STEPS, 2 * STEPS]), **settings)
    np.testing.assert_allclose(both(t[:, None])[:, 0], lrs, rtol=1e-12, atol=1e-15)


def test_sutskevers_ramp_and_demon_follow_their_definitions():
    ramp = schedules.Sutskever(mu_max=0.99, every=250)
    for t in (0, 249, 250, 499, 500, 1000, 20_000, 10**6):
        assert ramp(t) == pytest.approx(min(1 - 2 ** (-1 - math.log2(t // 250 + 1)), 0.99), rel=1e-15)
    assert ramp(0) == 0.5 and ramp(250) == 0.75 and ramp(10**6) == 0.99
    demon = schedules.Demon(beta0=0.9, total=1000)
    for t in (0, 1, 500, 999, 1000):
        left = 1 - t / 1000
        assert demon(t) == pytest.approx(0.9 * left / ((1 - 0.9) + 0.9 * left), rel=1e-15, abs=1e-300)
    assert demon(0) == pytest.approx(0.9) and demon(1000) == 0


DATA = data.spiral(classes=3, points=20, seed=0)
EPOCHS, BATCH = 20, 6
UPDATES = EPOCHS * -(-len(DATA) // BATCH)  # 200
needs_triton = pytest.mark.skipif(not triton_runs_on(torch.device("cuda" if torch.cuda.is_available() else "cpu")),
                                  reason="needs Triton")
ENGINES = ["torch", "kernel", "lanes", pytest.param("triton", marks=[needs_triton, pytest.mark.slow])]


def scheduled_members():
    return [
        Member(0.1, 0.9, seed=0, schedule=schedules.OneCycle(0.3, UPDATES)),
        Member(0.1, 0.9, seed=1, schedule=schedules.OneCycle(0.2, UPDATES, three_phase=True, anneal_strategy="linear")),
        Member(0.1, 0.9, seed=2, schedule=schedules.OneCycle(0.2, UPDATES, cycle_momentum=False)),
        Member(0.05, 0.0, seed=3, momentum_schedule=schedules.Sutskever(0.95, every=30)),
        Member(0.05, 0.9, seed=4, momentum_schedule=schedules.Demon(0.95, UPDATES)),
        Member(0.05, 0.9, seed=5, schedule=schedules.Cosine(0.1, total=UPDATES),
               momentum_schedule=schedules.Demon(0.9, UPDATES + 50)),
        Member(0.1, 0.5, seed=6),  # a constant member beside them
    ]


REFERENCES = {}


def torch_reference(member, dtype, epochs):
    """fit with torch.optim.SGD driven by torch's OneCycleLR where the member has a one-cycle schedule, and by
    plain assignment of its momentum schedule's values otherwise (once per member, dtype and epochs)."""
    key = (member.seed, dtype, epochs)
    if key not in REFERENCES:
        REFERENCES[key] = _torch_reference(member, dtype, epochs)
    return REFERENCES[key]


def _torch_reference(member, dtype, epochs):
    model = MLP([2, 16, 3], seed=member.seed).to(dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=member.lr, momentum=member.momentum)
    if isinstance(member.schedule, schedules.OneCycle):
        s = member.schedule
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=s.max_lr, total_steps=s.total_steps, anneal_strategy=s.anneal_strategy,
            three_phase=s.three_phase, cycle_momentum=s.cycle_momentum)
        history = fit(model, DATA, optimizer, epochs, BATCH, seed=member.seed, scheduler=scheduler)
    else:
        history = fit(model, DATA, optimizer, epochs, BATCH, seed=member.seed, schedule=member.schedule,
                      momentum_schedule=member.momentum_schedule)
    return history, model


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, F64_TRAJECTORY), (torch.float32, F32_TRAJECTORY)],
                         ids=["float64", "float32"])
def test_members_under_schedules_equal_fit_driven_by_torchs_scheduler(dtype, tolerance, engine):
    device = "cuda" if engine == "triton" and torch.cuda.is_available() else "cpu"
    epochs = 4 if engine == "triton" and device == "cpu" else EPOCHS
    members = scheduled_members()
    result = train_population(DATA, [2, 16, 3], members, epochs=epochs, batch_size=BATCH, dtype=dtype,
                              engine=engine, device=device)
    for i, member in enumerate(members):
        expected, model = torch_reference(member, dtype, epochs)
        got = result.histories[i]
        for metric in ("loss", "batch_loss_mean", "batch_loss_last"):
            np.testing.assert_allclose(getattr(got, metric), getattr(expected, metric), rtol=tolerance,
                                       atol=tolerance, err_msg=f"member {i} {metric}")
        for a, b in zip(result.model(i).parameters(), model.parameters()):
            torch.testing.assert_close(a.cpu(), b.detach(), rtol=tolerance * 10, atol=tolerance * 10)


def test_adam_under_one_cycle_cycles_beta1_as_torch_does():
    rule = rules.Adam(lr=1e-2, beta1=0.9, beta2=0.99)
    member = Member(seed=7, optimizer=rule, schedule=schedules.OneCycle(2e-2, UPDATES))
    result = train_population(DATA, [2, 16, 3], [member], epochs=EPOCHS, batch_size=BATCH, dtype=torch.float64)
    model = MLP([2, 16, 3], seed=7).double()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.9, 0.99))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-2, total_steps=UPDATES)
    expected = fit(model, DATA, optimizer, EPOCHS, BATCH, seed=7, scheduler=scheduler)
    np.testing.assert_allclose(result.histories[0].loss, expected.loss, rtol=F64_TRAJECTORY, atol=F64_TRAJECTORY)


@pytest.mark.parametrize("make", [
    lambda p: torch.optim.lr_scheduler.OneCycleLR(p, max_lr=0.3, total_steps=STEPS),
    lambda p: torch.optim.lr_scheduler.CyclicLR(p, base_lr=0.01, max_lr=0.2, step_size_up=70, cycle_momentum=True),
], ids=["OneCycleLR", "CyclicLR"])
def test_torchs_schedulers_drive_inertias_momentum_as_they_drive_sgd(make):
    """inertia.optim.Momentum (pytorch form) under a torch scheduler that cycles momentum: the same steps as
    torch.optim.SGD under the same scheduler, 1,000 of them."""
    torch.manual_seed(0)
    start, target = torch.randn(5, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    trajectories = []
    for kind in (torch.optim.SGD, Momentum):
        param = torch.nn.Parameter(start.clone())
        optimizer = kind([param], lr=0.1, momentum=0.9)
        scheduler = make(optimizer)
        for _ in range(STEPS):
            optimizer.zero_grad()
            ((param - target) ** 2 * torch.arange(1.0, 6.0, dtype=torch.float64)).sum().backward()
            optimizer.step()
            scheduler.step()
        trajectories.append(param.detach().clone())
    torch.testing.assert_close(trajectories[1], trajectories[0], rtol=1e-12, atol=1e-14)


def test_a_momentum_schedule_sets_each_optimizers_own_momentum():
    model = MLP([2, 4, 3], seed=0).double()
    for optimizer, read in ((Momentum(model.parameters(), lr=0.1, momentum=0.5), lambda g: g["momentum"]),
                            (QHM(model.parameters(), lr=0.1), lambda g: g["beta"]),
                            (torch.optim.Adam(model.parameters()), lambda g: g["betas"][0])):
        fit(model, DATA, optimizer, 1, BATCH, seed=0, momentum_schedule=schedules.Sutskever(0.99, every=3))
        assert read(optimizer.param_groups[0]) == schedules.Sutskever(0.99, every=3)(len(DATA) // BATCH - 1)


BAD = [
    (lambda: schedules.OneCycle(0.1, 100, pct_start=1.5),
     "Invalid onecycle pct_start: 1.5 (allowed: 0 < pct_start < 1)"),
    (lambda: schedules.OneCycle(0.1, 100, pct_start=0.0), "Invalid onecycle pct_start: 0.0"),
    (lambda: schedules.OneCycle(0.1, 0), "Invalid onecycle total_steps: 0 (allowed: a whole number >= 1)"),
    (lambda: schedules.OneCycle(0.1, 100, anneal_strategy="exp"), "Invalid onecycle anneal_strategy: 'exp'"),
    (lambda: schedules.OneCycle(0.1, 100, max_momentum=1.0), "Invalid onecycle max_momentum: 1.0"),
    (lambda: schedules.Sutskever(mu_max=1.0), "Invalid sutskever mu_max: 1.0 (allowed: 0 <= mu_max < 1)"),
    (lambda: schedules.Sutskever(0.9, every=0), "Invalid sutskever every: 0"),
    (lambda: schedules.Demon(beta0=-0.1, total=10), "Invalid demon beta0: -0.1"),
    (lambda: schedules.momentum_schedule("nesterov", mu=0.9), "Invalid momentum schedule: 'nesterov' (allowed: "
                                                              "sutskever, demon)"),
    (lambda: schedules.momentum_schedule("demon", beta=0.9, total=5),
     "Invalid demon field 'beta' (allowed: beta0, total)"),
    (lambda: schedules.schedule("onecycle", 0.1, total=5), "Invalid onecycle field 'total' (allowed: total_steps,"),
    (lambda: schedules.momentum_schedule("sutskever"), "Invalid sutskever: mu_max is required"),
    (lambda: schedules.Step(0.1, every=0), "Invalid step every: 0 (allowed: a whole number >= 1)"),
    (lambda: schedules.Cosine(0.1, total=2.5), "Invalid cosine total: 2.5"),
    (lambda: schedules.InverseTime(0.1, decay=-1.0), "Invalid inverse_time decay: -1.0 (allowed: decay >= 0)"),
    (lambda: schedules.Cosine(0.1, total=10, warmup=2.5), "Invalid cosine warmup: 2.5 (allowed: a whole number >= 0)"),
    (lambda: schedules.Constant(0.1, warmup=5, warmup_factor=0.0),
     "Invalid constant warmup_factor: 0.0 (allowed: 0 < warmup_factor <= 1)"),
    (lambda: schedules.parse("onecycle:warmup=10", 0.1, 100), "Invalid onecycle field 'warmup'"),
    (lambda: schedules.parse("onecycle:max_lr=0.2:pct_start=1.5", 0.1, 100),
     "Invalid onecycle pct_start: 1.5 (allowed: 0 < pct_start < 1)"),
    (lambda: schedules.parse("onecycle:total_steps=50", 0.1, 100),
     "Invalid schedule total_steps: 50 (allowed: at least the 100 updates of training)"),
    (lambda: schedules.parse("onecycle:pct_start", 0.1, 100), "expected onecycle:field=value, got 'pct_start'"),
    (lambda: schedules.parse_momentum("demon:beta0=0.9:total=99", 100),
     "Invalid momentum schedule total: 99 (allowed: at least the 100 updates of training)"),
    (lambda: Members.table(seed=[0, 1], lr=0.1, momentum_schedule=schedules.Sutskever(np.array([0.9, 1.2]))),
     "Invalid sutskever mu_max: 1.2 (member 1)"),
]


@pytest.mark.parametrize(("make", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_schedules_are_refused_with_the_field_named(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_a_schedule_shorter_than_training_is_refused_before_any_training():
    for member, message in ((Member(schedule=schedules.OneCycle(0.1, UPDATES - 1)),
                             f"Invalid schedule total_steps: {UPDATES - 1} (allowed: at least the {UPDATES} updates"),
                            (Member(momentum_schedule=schedules.Demon(0.9, 10)),
                             f"Invalid momentum_schedule total: 10 (allowed: at least the {UPDATES} updates")):
        with pytest.raises(ValueError, match=re.escape(message)):
            train_population(DATA, [2, 4, 3], [member], epochs=EPOCHS, batch_size=BATCH)
        model = MLP([2, 4, 3], seed=0)  # fit too, before its first update
        before = [p.detach().clone() for p in model.parameters()]
        with pytest.raises(ValueError, match=re.escape(message)):
            fit(model, DATA, Momentum(model.parameters(), lr=0.1, momentum=0.9), EPOCHS, BATCH, seed=0,
                schedule=member.schedule,
                momentum_schedule=member.momentum_schedule)
        assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_members_keep_their_schedules_through_rows_and_back():
    members = Members.of(scheduled_members())
    assert members.member(3).momentum_schedule == schedules.Sutskever(0.95, every=30)
    assert members.member(0).schedule == schedules.OneCycle(0.3, UPDATES)
    part = members.rows(3, 6)
    assert part.member(1).momentum_schedule == schedules.Demon(0.95, UPDATES)
    assert [len(index) for index, *_ in part.momenta()] == [1, 2]


def test_schedules_from_text_take_the_training_length_and_rate_unless_told():
    """The command line's and sweep specs' text: one-cycle lasts the training and peaks at the given rate unless the
    text sets total_steps or max_lr; numbers written as integers stay integers; true/false are booleans."""
    assert schedules.parse("onecycle", 0.1, 600) == schedules.OneCycle(0.1, 600)
    assert schedules.parse("onecycle:max_lr=0.2:three_phase=true:total_steps=900", 0.1, 600) == \
        schedules.OneCycle(0.2, 900, three_phase=True)
    assert schedules.parse("cosine:floor=0.001", 0.05, 300) == schedules.Cosine(0.05, 300, 0.001)
    assert schedules.parse("step:every=100:gamma=0.5", 0.1, 300) == schedules.Step(0.1, 100, 0.5)
    assert schedules.parse("constant:lr=0.3", 0.1, 300) == schedules.Constant(0.3)
    assert schedules.parse_momentum("sutskever:mu_max=0.99:every=50", 300) == schedules.Sutskever(0.99, 50)
    assert schedules.parse_momentum("demon:beta0=0.9", 300) == schedules.Demon(0.9, 300)
    assert isinstance(schedules.parse_momentum("sutskever:mu_max=0.99:every=50", 300).every, int)


def test_warm_up_equals_torch_linear_lr_chained_with_the_schedule():
    """For 1,000 updates, the rate equals what torch's LinearLR (alone, or chained with StepLR) sets on
    torch.optim.SGD; without a warm-up a schedule is what it was, bit for bit."""
    from torch.optim.lr_scheduler import ChainedScheduler, LinearLR, StepLR

    cases = [(schedules.Constant(0.1, warmup=50, warmup_factor=0.1),
              lambda o: LinearLR(o, start_factor=0.1, total_iters=50)),
             (schedules.Step(0.1, every=200, gamma=0.5, warmup=80, warmup_factor=0.2),
              lambda o: ChainedScheduler([LinearLR(o, start_factor=0.2, total_iters=80), StepLR(o, 200, 0.5)]))]
    for ours, make in cases:
        sgd = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
        theirs = make(sgd)
        for t in range(1000):
            assert float(ours(t)) == pytest.approx(sgd.param_groups[0]["lr"], rel=1e-12, abs=0), (ours, t)
            sgd.step()
            theirs.step()
    steps = np.arange(500)
    assert (schedules.Cosine(0.1, 300)(steps) == schedules.Cosine(0.1, 300, warmup=0)(steps)).all()
    after = steps[50:]
    np.testing.assert_array_equal(schedules.Cosine(0.1, 300, warmup=50)(after), schedules.Cosine(0.1, 300)(after))


@pytest.mark.parametrize("form, nesterov", [("pytorch", False), ("pytorch", True), ("polyak", False), ("ema", True)])
def test_the_kernels_coefficient_table_is_the_plain_one_epoch_after_epoch(form, nesterov):
    """The table the compiled engines read, computed member by member in their dtype into one buffer reused every
    epoch (only what changes with the step written again), equals the plain (steps, members) float64 table,
    transposed and cast, at every epoch; for an optimizer of every kind too."""
    from inertia.population.chunk import Chunk
    from inertia.population.layout import Task

    x, y = DATA.tensors()
    task = Task([2, 4, 3], "relu", x, y, BATCH, True, form=form, nesterov=nesterov)
    adam = Members.table(seed=[0, 1, 2], optimizer="adam", lr=[1e-3, 2e-3, 3e-3],
                         momentum_schedule=schedules.Demon(0.9, UPDATES))
    qhm = Members.table(seed=[0, 1], optimizer="qhm", beta=[0.8, 0.9],
                        schedule=schedules.OneCycle(0.3, UPDATES, cycle_momentum=False))
    for members in (Members.of(scheduled_members()), adam, qhm):
        chunk = Chunk(members, task)
        per_epoch = -(-len(DATA) // BATCH)
        buffer = None
        for epoch in range(4):
            steps = np.arange(epoch * per_epoch, (epoch + 1) * per_epoch)
            buffer = chunk.coefficients(steps, by_member=True, dtype=np.float32, out=buffer)
            plain = chunk.coefficients(steps).transpose(1, 0, 2).astype(np.float32)
            np.testing.assert_array_equal(buffer, plain, err_msg=f"epoch {epoch}")
