"""Every optimizer of inertia.optim.rules against torch.optim, and QHM against its published update and its exact
conversions to SGD. The rules run through one generic update (update.apply)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from inertia.optim import QHM as QHMOptimizer
from inertia.optim import forms, rules, schedules, update

STEPS = 100


def quadratic(seed, n=6):
    """f(p) = ½ pᵀAp − bᵀp + ¼‖p‖⁴: gradients that change direction and scale, so moments matter."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = q @ np.diag(np.linspace(0.1, 2.0, n)) @ q.T
    return a, rng.standard_normal(n), rng.standard_normal(n)


def gradient(a, b, p):
    return a @ p - b + (p @ p) * p


def rules_trajectory(rule, a, b, p0, steps=STEPS, schedule=None):
    p, state = p0.copy(), update.initial_state(p0, rule.slots)
    out = []
    for t in range(steps):
        lr = schedule(t) if schedule else rule.lr
        p, state = update.apply(p, gradient(a, b, p), state, rule.update(lr, t), rule.slots, rule.m_after_den)
        out.append(p.copy())
    return np.array(out)


def torch_trajectory(make, a, b, p0, steps=STEPS, schedule=None, jitter=None):
    """torch.optim's trajectory; with ``jitter`` (a seed) every update's result is nudged by one ulp, up or down
    at random per coordinate."""
    p = torch.tensor(p0, requires_grad=True)
    optimizer = make([p])
    at, bt = torch.tensor(a), torch.tensor(b)
    rng = None if jitter is None else np.random.default_rng(jitter)
    out = []
    for t in range(steps):
        optimizer.zero_grad()
        loss = 0.5 * p @ at @ p - bt @ p + 0.25 * (p @ p) ** 2
        loss.backward()
        if schedule:
            optimizer.param_groups[0]["lr"] = schedule(t)
        optimizer.step()
        if rng is not None:
            with torch.no_grad():
                p.mul_(torch.from_numpy(1 + rng.choice([-1.0, 1.0], p.shape) * np.finfo(float).eps))
        out.append(p.detach().numpy().copy())
    return np.array(out)


def relative_gap(ours, theirs) -> float:
    return float(np.max(np.abs(ours - theirs) / (np.abs(theirs) + 1e-12)))


def assert_matches_to_roundoff(ours, make, a, b, p0, schedule=None):
    """``ours`` follows torch.optim's trajectory as closely as round-off allows on this problem. The allowance is
    measured, not fixed: torch's own trajectory with every update nudged by one ulp (three random patterns)
    shows how far round-off alone carries it. Most cases here stay within a few ulps; some amplify round-off to
    ~1e-9 over 100 updates, by an amount that varies with the CPU's kernels, which no fixed tolerance follows.
    A wrong coefficient moves the trajectory by far more (1e-3 and up)."""
    expected = torch_trajectory(make, a, b, p0, schedule=schedule)
    floor = max(relative_gap(torch_trajectory(make, a, b, p0, schedule=schedule, jitter=seed), expected)
                for seed in range(3))
    gap = relative_gap(ours, expected)
    assert gap <= 4 * floor, f"relative gap {gap:.3g} against torch.optim; round-off alone reaches {floor:.3g}"


# (description, rule, the torch.optim optimizer that must match it)
CASES = [
    ("adam", rules.Adam(lr=0.05), lambda p: torch.optim.Adam(p, lr=0.05)),
    ("adam, betas, eps, weight decay, maximize", rules.Adam(0.02, 0.8, 0.99, 1e-3, 0.1, maximize=True),
     lambda p: torch.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.1, maximize=True)),
    ("adamw", rules.AdamW(lr=0.05, weight_decay=0.1),
     lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.1)),
    ("adamw, betas", rules.AdamW(0.03, 0.5, 0.9, 1e-6, 0.3),
     lambda p: torch.optim.AdamW(p, lr=0.03, betas=(0.5, 0.9), eps=1e-6, weight_decay=0.3)),
    ("rmsprop", rules.RMSprop(lr=0.01), lambda p: torch.optim.RMSprop(p, lr=0.01)),
    ("rmsprop centered", rules.RMSprop(lr=0.01, centered=True),
     lambda p: torch.optim.RMSprop(p, lr=0.01, centered=True)),
    ("rmsprop with momentum", rules.RMSprop(lr=0.005, momentum=0.9),
     lambda p: torch.optim.RMSprop(p, lr=0.005, momentum=0.9)),
    # (At alpha 0.9 this problem's steady gradients make v − a² cancel to ~1e-7 of v, and torch's lerp and
    # the rule's affine average then differ by 1e-7 relative after 100 steps: round-off, magnified.)
    ("rmsprop centered, momentum, decay, alpha, eps", rules.RMSprop(0.003, 0.95, 1e-4, 0.05, 0.5, True),
     lambda p: torch.optim.RMSprop(p, lr=0.003, alpha=0.95, eps=1e-4, weight_decay=0.05, momentum=0.5,
                                   centered=True)),
    ("momentum through apply", rules.Momentum(0.05, 0.9, 0.1, 1e-2),
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=1e-2)),
    ("nesterov through apply", rules.Momentum(0.05, 0.9, nesterov=True),
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
]


@pytest.mark.parametrize(("description", "rule", "make"), CASES, ids=[c[0] for c in CASES])
def test_rules_match_torch_optim(description, rule, make):
    a, b, p0 = quadratic(1)
    assert_matches_to_roundoff(rules_trajectory(rule, a, b, p0), make, a, b, p0)


@pytest.mark.parametrize(("description", "rule", "make"), CASES[:6], ids=[c[0] for c in CASES[:6]])
def test_rules_match_torch_optim_under_a_schedule(description, rule, make):
    a, b, p0 = quadratic(2)
    schedule = schedules.Cosine(rule.lr, total=80, floor=rule.lr / 10)
    assert_matches_to_roundoff(rules_trajectory(rule, a, b, p0, schedule=schedule), make, a, b, p0, schedule)


# torch.optim's state, named by the rule's slots.
TORCH_SLOTS = {"m": ("exp_avg", "momentum_buffer"), "v": ("exp_avg_sq", "square_avg"), "a": ("grad_avg",)}


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(["adam", "adamw", "rmsprop"]), lr=st.floats(1e-4, 0.1), beta1=st.floats(0, 0.99),
       beta2=st.floats(0.5, 0.9999), eps=st.floats(1e-10, 1e-2), weight_decay=st.floats(0, 0.5),
       momentum=st.floats(0, 0.95), centered=st.booleans(), maximize=st.booleans(), seed=st.integers(0, 50))
def test_random_configurations_match_torch_optim_step_by_step(kind, lr, beta1, beta2, eps, weight_decay, momentum,
                                                             centered, maximize, seed):
    """Each of 40 updates from torch's own parameters and state: one update.apply against one optimizer.step.
    (Whole trajectories are compared above; step by step, round-off cannot compound, so any configuration
    must agree to round-off.)"""
    if kind == "rmsprop":
        rule = rules.RMSprop(lr, beta2, eps, weight_decay, momentum, centered, maximize)
        make = lambda p: torch.optim.RMSprop(p, lr=lr, alpha=beta2, eps=eps, weight_decay=weight_decay,  # noqa: E731
                                             momentum=momentum, centered=centered, maximize=maximize)
    else:
        rule = rules.OPTIMIZERS[kind](lr, beta1, beta2, eps, weight_decay, maximize)
        optimizer = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        make = lambda p: optimizer(p, lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay,  # noqa: E731
                                   maximize=maximize)
    a, b, p0 = quadratic(seed)
    p = torch.tensor(p0, requires_grad=True)
    opt = make([p])
    at, bt = torch.tensor(a), torch.tensor(b)
    for t in range(40):
        opt.zero_grad()
        (0.5 * p @ at @ p - bt @ p + 0.25 * (p @ p) ** 2).backward()
        before = p.detach().numpy().copy()
        torch_state = opt.state[p]
        state = {slot: (torch_state[name].numpy().copy() if (name := next(
                 (n for n in TORCH_SLOTS[slot] if n in torch_state), None)) else np.zeros_like(p0))
                 for slot in rule.slots}
        ours, ours_state = update.apply(before, p.grad.numpy().copy(), state, rule.update(lr, t), rule.slots,
                                       rule.m_after_den)
        opt.step()
        # Centered RMSprop divides by sqrt(v - a²), which cancels where the gradient barely varies: both sides
        # round v - a² to within an ulp of v, so the step can differ by about eps · v / (v - a²) of itself.
        step = np.abs(p.detach().numpy() - before)
        cancellation = 0.0
        if kind == "rmsprop" and centered:
            v, a_ = opt.state[p]["square_avg"].numpy(), opt.state[p]["grad_avg"].numpy()
            cancellation = 8 * np.finfo(float).eps * np.max(v / np.maximum(v - a_ * a_, np.finfo(float).tiny))
        np.testing.assert_allclose(ours, p.detach().numpy(), rtol=1e-12, atol=1e-15 + cancellation * step.max(),
                                   err_msg=f"update {t}")
        for slot in rule.slots:
            name = next((n for n in TORCH_SLOTS[slot] if n in opt.state[p]), None)
            if name is not None:
                theirs = opt.state[p][name].numpy()
                # RMSprop's momentum buffer is the step over lr: the same cancellation, relative to itself
                allowed = cancellation * np.abs(theirs).max() if name == "momentum_buffer" else 0.0
                np.testing.assert_allclose(ours_state[slot], theirs, rtol=1e-12, atol=1e-15 + allowed,
                                           err_msg=f"{name}, update {t}")


def test_rules_work_on_torch_tensors_and_arrays_of_members():
    a, b, p0 = quadratic(3)
    members = [rules.Adam(0.01, 0.9, 0.99), rules.Adam(0.05, 0.5, 0.999, 1e-4, 0.1)]
    stacked = rules.stack(members)
    p = np.stack([p0, p0])
    state = update.initial_state(p, stacked.slots)
    for t in range(30):
        grads = np.stack([gradient(a, b, row) for row in p])
        p, state = update.apply(p, grads, state, stacked.update(stacked.lr, t).broadcast((-1, 1)), stacked.slots)
    for row, rule in zip(p, members):
        np.testing.assert_allclose(row, rules_trajectory(rule, a, b, p0, steps=30)[-1], rtol=1e-12)
    tensor = torch.tensor(p0)
    new, _ = update.apply(tensor, tensor, update.initial_state(tensor, ("m", "v")), members[0].update(0.01, 0),
                         ("m", "v"))
    assert isinstance(new, torch.Tensor)


def published_qhm(lr, beta, nu, a, b, p0, steps=STEPS):
    """Ma & Yarats (2019), Algorithm 1: g_avg ← β·g_avg + (1 − β)·∇; θ ← θ − α·[(1 − ν)·∇ + ν·g_avg]."""
    p, g_avg = p0.copy(), np.zeros_like(p0)
    out = []
    for _ in range(steps):
        grad = gradient(a, b, p)
        g_avg = beta * g_avg + (1 - beta) * grad
        p = p - lr * ((1 - nu) * grad + nu * g_avg)
        out.append(p.copy())
    return np.array(out)


@pytest.mark.parametrize(("lr", "beta", "nu"), [(0.1, 0.9, 0.7), (0.5, 0.999, 0.7), (0.05, 0.5, 0.3)])
def test_qhm_is_the_published_update_in_rules_and_in_the_optimizer(lr, beta, nu):
    a, b, p0 = quadratic(4)
    expected = published_qhm(lr, beta, nu, a, b, p0)
    np.testing.assert_allclose(rules_trajectory(rules.QHM(lr, beta, nu), a, b, p0), expected, rtol=1e-12)
    np.testing.assert_allclose(torch_trajectory(lambda p: QHMOptimizer(p, lr=lr, beta=beta, nu=nu), a, b, p0),
                               expected, rtol=1e-12)


@pytest.mark.parametrize(("nu", "nesterov"), [(1.0, False), (0.9, True)])
def test_qhm_at_nu_one_is_momentum_and_at_nu_beta_is_nesterov(nu, nesterov):
    lr, beta = 0.3, 0.9
    converted = forms.qhm_to_sgd(lr, beta, nu)
    assert converted == {"lr": pytest.approx(lr * (1 - beta)), "momentum": beta, "nesterov": nesterov}
    a, b, p0 = quadratic(5)
    sgd = torch_trajectory(lambda p: torch.optim.SGD(p, **converted), a, b, p0)
    np.testing.assert_allclose(rules_trajectory(rules.QHM(lr, beta, nu), a, b, p0), sgd, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(torch_trajectory(lambda p: QHMOptimizer(p, lr=lr, beta=beta, nu=nu), a, b, p0), sgd,
                               rtol=1e-12, atol=1e-14)


def test_qhm_mixes_no_sgd_can_reproduce():
    with pytest.raises(forms.NoEquivalent, match="No SGD hyperparameters give that mix"):
        forms.qhm_to_sgd(0.1, 0.9, 0.7)
    assert forms.qhm_to_sgd(0.1, 0.9, 0.0) == {"lr": 0.1, "momentum": 0.0, "nesterov": False}


# (rule, message): torch's wording where torch.optim says the same
ERRORS = [
    (rules.Adam(lr=-1), "Invalid learning rate: -1"),
    (rules.Adam(beta1=1.0), "Invalid beta parameter at index 0: 1.0"),
    (rules.Adam(beta2=-0.1), "Invalid beta parameter at index 1: -0.1"),
    (rules.AdamW(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (rules.RMSprop(alpha=1.5), "Invalid alpha value: 1.5"),
    (rules.RMSprop(momentum=1.0), "Invalid momentum value: 1.0 (allowed: 0 <= momentum < 1)"),
    (rules.QHM(nu=1.5), "Invalid nu: 1.5"),
    (rules.QHM(beta=1.0), "Invalid momentum value: 1.0"),
    (rules.Momentum(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum requires"),
]


@pytest.mark.parametrize(("rule", "message"), ERRORS, ids=[m for _, m in ERRORS])
def test_bad_hyperparameters_are_refused(rule, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        rule.check()


def test_a_population_has_one_kind_and_shares_what_the_kind_shares():
    with pytest.raises(ValueError, match="one optimizer kind; got adam, rmsprop"):
        rules.stack([rules.Adam(), rules.RMSprop()])
    with pytest.raises(ValueError, match="shares form"):
        rules.stack([rules.Momentum(form="ema"), rules.Momentum()])
    stacked = rules.stack([rules.RMSprop(centered=True), rules.RMSprop(momentum=0.5)])
    assert stacked.slots == ("v", "a", "m") and stacked.momentum.tolist() == [0.0, 0.5]
