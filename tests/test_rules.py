"""inertia.optim.rules and the torch optimizers against torch.optim.SGD, and the forms against each other."""

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tolerances import EXACT, F64_OPERATION

from inertia.optim import Momentum, checks, forms, rules, schedules

STEPS = 120

# (description, SGD keyword arguments)
CONFIGS = [
    ("plain SGD", dict(lr=0.05)),
    ("momentum", dict(lr=0.05, momentum=0.9)),
    ("momentum with dampening", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("dampening equal to momentum", dict(lr=0.05, momentum=0.7, dampening=0.7)),
    ("nesterov", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("weight decay", dict(lr=0.05, momentum=0.5, weight_decay=1e-2)),
    ("nesterov with weight decay", dict(lr=0.02, momentum=0.95, nesterov=True, weight_decay=5e-3)),
    ("maximize", dict(lr=0.05, momentum=0.9, maximize=True)),
    ("everything", dict(lr=0.03, momentum=0.8, dampening=0.1, weight_decay=1e-3, maximize=True)),
    ("momentum near one", dict(lr=1e-3, momentum=0.999)),
]


def quadratic(seed, n=6):
    """f(p) = ½ pᵀAp − bᵀp with eigenvalues of A in [0.1, 1]; gradient A p − b."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = q @ np.diag(np.linspace(0.1, 1.0, n)) @ q.T
    return a, rng.standard_normal(n), rng.standard_normal(n)


def torch_trajectory(kwargs, a, b, p0, steps=STEPS, sgd=torch.optim.SGD):
    p = torch.tensor(p0, requires_grad=True)
    optimizer = sgd([p], **kwargs)
    a, b = torch.tensor(a), torch.tensor(b)
    out = []
    for _ in range(steps):
        optimizer.zero_grad()
        (0.5 * p @ a @ p - b @ p).backward()
        optimizer.step()
        out.append(p.detach().numpy().copy())
    return np.array(out)


def numpy_trajectory(kwargs, a, b, p0, steps=STEPS, schedule=None, **extra):
    p, buf, out = p0.copy(), None, []
    for t in range(steps):
        step_kwargs = {**kwargs, **extra}
        if schedule is not None:
            step_kwargs["lr"] = schedule(t)
        p, buf = rules.momentum_step(p, a @ p - b, buf, **step_kwargs)
        out.append(p)
    return np.array(out)


@pytest.mark.parametrize(("description", "kwargs"), CONFIGS, ids=[c[0] for c in CONFIGS])
def test_numpy_rules_match_torch_sgd(description, kwargs):
    a, b, p0 = quadratic(0)
    expected = torch_trajectory(kwargs, a, b, p0)
    np.testing.assert_allclose(numpy_trajectory(kwargs, a, b, p0), expected, rtol=F64_OPERATION, atol=F64_OPERATION,
                               err_msg=description)


def make_model(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)).double()


def train(model, optimizer, steps=STEPS, scheduler=None):
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 3, generator=gen, dtype=torch.float64), torch.randint(0, 2, (64,), generator=gen)
    for t in range(steps):
        batch = slice(16 * (t % 4), 16 * (t % 4 + 1))
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.parametrize(("description", "kwargs"), CONFIGS, ids=[c[0] for c in CONFIGS])
def test_momentum_optimizer_matches_torch_sgd_on_a_network(description, kwargs):
    reference, ours = make_model(1), make_model(1)
    expected = train(reference, torch.optim.SGD(reference.parameters(), **kwargs))
    got = train(ours, Momentum(ours.parameters(), **kwargs))
    torch.testing.assert_close(got, expected, rtol=F64_OPERATION, atol=F64_OPERATION, msg=description)


def test_param_groups_each_use_their_own_hyperparameters():
    def groups(model):
        return [{"params": model[0].parameters(), "momentum": 0.9, "nesterov": True},
                {"params": model[2].parameters(), "lr": 0.01, "dampening": 0.3, "weight_decay": 0.1}]

    reference, ours = make_model(2), make_model(2)
    expected = train(reference, torch.optim.SGD(groups(reference), lr=0.1, momentum=0.5))
    got = train(ours, Momentum(groups(ours), lr=0.1, momentum=0.5))
    torch.testing.assert_close(got, expected, rtol=F64_OPERATION, atol=F64_OPERATION)


def test_torch_lr_scheduler_drives_momentum_like_sgd():
    reference, ours = make_model(3), make_model(3)
    sgd = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    mine = Momentum(ours.parameters(), lr=0.1, momentum=0.9)
    expected = train(reference, sgd, scheduler=torch.optim.lr_scheduler.StepLR(sgd, 30, gamma=0.5))
    got = train(ours, mine, scheduler=torch.optim.lr_scheduler.StepLR(mine, 30, gamma=0.5))
    torch.testing.assert_close(got, expected, rtol=F64_OPERATION, atol=F64_OPERATION)


def test_state_dict_round_trip_resumes_exactly():
    straight, first, resumed = make_model(4), make_model(4), make_model(4)
    expected = train(straight, Momentum(straight.parameters(), lr=0.1, momentum=0.9, form="polyak"), steps=40)
    optimizer = Momentum(first.parameters(), lr=0.1, momentum=0.9, form="polyak")
    train(first, optimizer, steps=20)
    resumed.load_state_dict(first.state_dict())
    again = Momentum(resumed.parameters(), lr=0.1, momentum=0.9, form="polyak")
    again.load_state_dict(optimizer.state_dict())
    assert again.param_groups[0]["form"] == "polyak"
    # The data cycle has period 4, so 20 + 20 steps see the same batches as 40.
    torch.testing.assert_close(train(resumed, again, steps=20), expected, rtol=EXACT, atol=EXACT)


def test_a_torch_sgd_state_dict_loads_and_resumes_exactly():
    """Mid-run, torch.optim.SGD's state dict (its buffers, its hyperparameters, no form) moves into Momentum,
    which carries on exactly as SGD would have."""
    straight, first, resumed = make_model(5), make_model(5), make_model(5)
    expected = train(straight, torch.optim.SGD(straight.parameters(), lr=0.1, momentum=0.9, nesterov=True), steps=40)
    sgd = torch.optim.SGD(first.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    train(first, sgd, steps=20)
    resumed.load_state_dict(first.state_dict())
    ours = Momentum(resumed.parameters(), lr=0.5)  # the loaded hyperparameters win, as in torch
    ours.load_state_dict(sgd.state_dict())
    assert ours.param_groups[0]["form"] == "pytorch" and ours.param_groups[0]["nesterov"]
    torch.testing.assert_close(train(resumed, ours, steps=20), expected, rtol=F64_OPERATION, atol=F64_OPERATION)


def test_the_arguments_are_torch_sgds_in_its_order_with_its_keywords():
    reference, ours = make_model(6), make_model(6)
    expected = train(reference, torch.optim.SGD(reference.parameters(), 0.05, 0.9, 0.0, 1e-2, True, foreach=False))
    got = train(ours, Momentum(ours.parameters(), 0.05, 0.9, 0.0, 1e-2, True, foreach=True, fused=None))
    torch.testing.assert_close(got, expected, rtol=F64_OPERATION, atol=F64_OPERATION)
    with pytest.raises(ValueError, match="differentiable=True is not supported"):
        Momentum(ours.parameters(), lr=0.1, differentiable=True)


def test_a_tensor_learning_rate_is_taken_as_torch_takes_it():
    reference, ours = make_model(7), make_model(7)
    expected = train(reference, torch.optim.SGD(reference.parameters(), lr=torch.tensor(0.05), momentum=0.9))
    got = train(ours, Momentum(ours.parameters(), lr=torch.tensor(0.05), momentum=0.9))
    torch.testing.assert_close(got, expected, rtol=F64_OPERATION, atol=F64_OPERATION)
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        Momentum(ours.parameters(), lr=torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"Invalid learning rate: -0\.5"):
        Momentum(ours.parameters(), lr=torch.tensor(-0.5))


def test_first_buffer_does_not_alias_the_gradient():
    p = torch.zeros(3, requires_grad=True)
    optimizer = Momentum([p], lr=0.1, momentum=0.9)
    p.grad = torch.ones(3)
    optimizer.step()
    p.grad.zero_()  # zero_grad(set_to_none=False) zeroes in place
    assert torch.equal(optimizer.state[p]["momentum_buffer"], torch.ones(3))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():  # pragma: no cover - run on a GPU machine
    cpu, gpu = make_model(5), make_model(5).cuda()
    expected = train(cpu, Momentum(cpu.parameters(), lr=0.1, momentum=0.9, nesterov=True))
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=gen, dtype=torch.float64).cuda()
    y = torch.randint(0, 2, (64,), generator=gen).cuda()
    optimizer = Momentum(gpu.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    for t in range(STEPS):
        batch = slice(16 * (t % 4), 16 * (t % 4 + 1))
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(gpu(x[batch]), y[batch]).backward()
        optimizer.step()
    got = torch.cat([p.detach().flatten() for p in gpu.parameters()]).cpu()
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    lr=st.floats(1e-4, 0.3),
    momentum=st.one_of(st.just(0.0), st.floats(0.0, 0.99)),
    dampening=st.floats(0.0, 1.0),
    nesterov=st.booleans(),
    weight_decay=st.one_of(st.just(0.0), st.floats(0.0, 0.1)),
    maximize=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_random_configurations_match_torch_sgd(lr, momentum, dampening, nesterov, weight_decay, maximize, seed):
    if nesterov:
        momentum, dampening = max(momentum, 0.01), 0.0
    kwargs = dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov, weight_decay=weight_decay,
                  maximize=maximize)
    a, b, p0 = quadratic(seed, n=4)
    expected = torch_trajectory(kwargs, a, b, p0, steps=100)
    scale = 1 + np.abs(expected).max(axis=1, keepdims=True)  # maximize may run away from the optimum
    np.testing.assert_allclose(numpy_trajectory(kwargs, a, b, p0, steps=100) / scale, expected / scale,
                               rtol=0, atol=1e-11)
    np.testing.assert_allclose(torch_trajectory(kwargs, a, b, p0, steps=100, sgd=Momentum) / scale,
                               expected / scale, rtol=0, atol=1e-11)


# (description, Momentum keyword arguments, message, whether torch.optim.SGD says the same)
ERRORS = [
    ("negative lr", dict(lr=-0.1), "Invalid learning rate: -0.1", True),
    ("negative momentum", dict(lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5", True),
    ("momentum of one", dict(lr=0.1, momentum=1.0), "Invalid momentum value: 1.0 (allowed: 0 <= momentum < 1)",
     False),
    ("momentum above one", dict(lr=0.1, momentum=1.05), "Invalid momentum value: 1.05 (allowed: 0 <= momentum < 1)",
     False),
    ("negative weight decay", dict(lr=0.1, weight_decay=-1e-4), "Invalid weight_decay value: -0.0001", True),
    ("nesterov without momentum", dict(lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero "
     "dampening", True),
    ("nesterov with dampening", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     "Nesterov momentum requires a momentum and zero dampening", True),
    ("NaN lr", dict(lr=float("nan")), "Invalid learning rate: nan", False),
    ("dampening above one", dict(lr=0.1, momentum=0.9, dampening=1.5), "Invalid dampening value: 1.5", False),
    ("unknown form", dict(lr=0.1, form="adam"), "Invalid form: 'adam' (allowed: pytorch, polyak, ema)", False),
    ("ema with dampening", dict(lr=0.1, momentum=0.9, dampening=0.5, form="ema"), "dampening must be 0", False),
]


@pytest.mark.parametrize(("description", "kwargs", "message", "torch_too"), ERRORS, ids=[e[0] for e in ERRORS])
def test_invalid_hyperparameters(description, kwargs, message, torch_too):
    params = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match=re.escape(message)):
        Momentum(params, **kwargs)
    if torch_too:
        with pytest.raises(ValueError, match=re.escape(message)):
            torch.optim.SGD(params, **kwargs)


def test_invalid_param_group_is_rejected():
    optimizer = Momentum([torch.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="Invalid momentum value: -1"):
        optimizer.add_param_group({"params": [torch.zeros(2, requires_grad=True)], "momentum": -1})


# --- the forms against each other ------------------------------------------------------------------------


def gradients(seed, steps=60, n=5):
    """A fixed gradient sequence (independent of the parameters), so buffers can be compared in closed form."""
    return np.random.default_rng(seed).standard_normal((steps, n))


def run_on(grads, lr_at, **kwargs):
    p, buf, ps, bufs = np.zeros(grads.shape[1]), None, [], []
    for t, g in enumerate(grads):
        p, buf = rules.momentum_step(p, g, buf, lr=lr_at(t), **kwargs)
        ps.append(p)
        bufs.append(buf)
    return np.array(ps), np.array(bufs)


SCHEDULES = [schedules.Constant(0.1), schedules.Step(0.1, every=7, gamma=0.5), schedules.Cosine(0.1, total=60),
             schedules.InverseTime(0.1, decay=0.05)]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("nesterov", [False, True])
def test_ema_equals_pytorch_at_scaled_lr_under_any_schedule(schedule, nesterov):
    m, grads = 0.8, gradients(0)
    ema, _ = run_on(grads, schedule, momentum=m, nesterov=nesterov, form="ema")
    pytorch, _ = run_on(grads, lambda t: schedule(t) * (1 - m), momentum=m, nesterov=nesterov)
    np.testing.assert_allclose(ema, pytorch, rtol=1e-12, atol=1e-13)
    converted = forms.convert("ema", "pytorch", lr=0.1, momentum=m, constant_lr=False)
    assert converted["lr"] == pytest.approx(0.1 * (1 - m))


@pytest.mark.parametrize("nesterov", [False, True])
def test_polyak_equals_pytorch_at_constant_lr(nesterov):
    grads = gradients(1)
    polyak, _ = run_on(grads, lambda t: 0.1, momentum=0.9, nesterov=nesterov, form="polyak")
    pytorch, _ = run_on(grads, lambda t: 0.1, momentum=0.9, nesterov=nesterov)
    np.testing.assert_allclose(polyak, pytorch, rtol=1e-12, atol=1e-13)


def test_polyak_and_pytorch_differ_by_the_predicted_amount_when_lr_changes():
    m, schedule, grads = 0.9, schedules.Step(0.1, every=10, gamma=0.3), gradients(2)
    polyak, _ = run_on(grads, schedule, momentum=m, form="polyak")
    pytorch, _ = run_on(grads, schedule, momentum=m)
    # Step t moves polyak by -Σ_k m^(t-k)·lr_k·g_k and pytorch by -lr_t·Σ_k m^(t-k)·g_k.
    lrs = np.array([schedule(t) for t in range(len(grads))])
    gap = np.zeros(grads.shape[1])
    for t in range(len(grads)):
        weights = m ** (t - np.arange(t + 1))
        gap += ((weights * (lrs[t] - lrs[: t + 1]))[:, None] * grads[: t + 1]).sum(axis=0)
        np.testing.assert_allclose(polyak[t] - pytorch[t], gap, rtol=1e-9, atol=1e-12)
    assert np.abs(gap).max() > 1e-2  # a real difference, not round-off
    with pytest.raises(forms.NoEquivalent, match="agree only while lr is constant"):
        forms.convert("polyak", "pytorch", lr=0.1, momentum=m, constant_lr=False)


def test_pytorch_dampening_differs_from_ema_on_the_first_step_by_m_to_the_t():
    m, grads = 0.7, gradients(3)
    _, pytorch = run_on(grads, lambda t: 0.1, momentum=m, dampening=m)
    _, ema = run_on(grads, lambda t: 0.1, momentum=m, form="ema")
    for t in range(len(grads)):  # b_t - v_t = m^(t-1)·d·g_1 with d = m, i.e. m^t·g_1 (t counted from 1)
        np.testing.assert_allclose(pytorch[t] - ema[t], m ** (t + 1) * grads[0], rtol=1e-9, atol=1e-14)
    with pytest.raises(forms.NoEquivalent, match=re.escape("decays as 0.7^t")):
        forms.convert("pytorch", "ema", lr=0.1, momentum=m, dampening=m)


@pytest.mark.parametrize(("source", "target"), [(s, t) for s in checks.FORMS for t in checks.FORMS])
def test_every_conversion_reproduces_the_source_updates(source, target):
    m, d, grads = 0.85, 0.0 if source != "polyak" else 0.2, gradients(4)
    if source == "ema":
        d = 0.0
    converted = forms.convert(source, target, lr=0.05, momentum=m, dampening=d)
    expected, _ = run_on(grads, lambda t: 0.05, momentum=m, dampening=d, form=source)
    got, _ = run_on(grads, lambda t: converted["lr"], momentum=converted["momentum"],
                    dampening=converted["dampening"], form=target)
    np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-13)


def test_schedules_by_formula():
    assert schedules.schedule("constant", 0.5)(100) == 0.5
    assert schedules.schedule("inverse_time", 1.0, decay=1e-3)(100) == pytest.approx(1 / 1.1)
    assert schedules.schedule("step", 1.0, every=10, gamma=0.5)(25) == 0.25
    cosine = schedules.schedule("cosine", 1.0, total=100, floor=0.1)
    assert cosine(0) == 1.0 and cosine(50) == pytest.approx(0.55) and cosine(100) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="Invalid schedule: 'linear'"):
        schedules.schedule("linear", 1.0)
    with pytest.raises(ValueError, match="Invalid step: every is required"):
        schedules.schedule("step", 1.0)


def test_rules_work_on_torch_tensors_too():
    p, g = torch.ones(3, dtype=torch.float64), torch.full((3,), 0.5, dtype=torch.float64)
    new_p, buf = rules.momentum_step(p, g, None, lr=0.1, momentum=0.9, form="polyak")
    assert isinstance(new_p, torch.Tensor) and isinstance(buf, torch.Tensor)
    torch.testing.assert_close(new_p, torch.full((3,), 0.95, dtype=torch.float64))
    assert torch.equal(p, torch.ones(3, dtype=torch.float64))  # nothing in place
