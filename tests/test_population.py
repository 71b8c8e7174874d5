"""The population engine against the one-model path: fit() with inertia.optim.Momentum, member by member."""

import re

import numpy as np
import pytest
import torch
from tolerances import F32_TRAJECTORY, F64_OPERATION, F64_TRAJECTORY, TIES, TRAJECTORY

from inertia import data, outcome
from inertia.models import MLP
from inertia.optim import Momentum, checks, rules, schedules, update
from inertia.population import Member, Members, chunk_sizes, member_bytes, train_population, triton_runs_on
from inertia.train import fit

# 60 points, batch 6: 10 updates per epoch, 20 epochs = 200 updates.
DATA = data.spiral(classes=3, points=20, seed=0)
EPOCHS, BATCH = 20, 6

# (description, shared population settings, members)
CASES = [
    ("pytorch form, several momenta and seeds", {}, [Member(0.1, m, seed=s) for m in (0, 0.5, 0.9) for s in (0, 1)]),
    ("dampening, including with zero momentum", {},
     [Member(0.1, 0.9, dampening=0.5, seed=2), Member(0.1, 0.0, dampening=0.3, seed=3), Member(0.05, 0.7, 0.7)]),
    ("nesterov", {"nesterov": True}, [Member(0.05, 0.9, seed=1), Member(0.1, 0.5, seed=4)]),
    ("weight decay", {}, [Member(0.1, 0.9, weight_decay=1e-2, seed=5), Member(0.1, 0.0, weight_decay=0.1)]),
    ("polyak form", {"form": "polyak"}, [Member(0.1, 0.9, seed=6), Member(0.2, 0.5, dampening=0.2, seed=7)]),
    ("ema form", {"form": "ema"}, [Member(0.5, 0.9, seed=8), Member(0.3, 0.0, seed=9)]),
    ("schedules of every kind", {}, [
        Member(momentum=0.9, seed=10, schedule=schedules.InverseTime(0.2, 1e-2)),
        Member(momentum=0.5, seed=11, schedule=schedules.Step(0.2, every=30, gamma=0.5)),
        Member(momentum=0.8, seed=12, schedule=schedules.Cosine(0.2, total=200, floor=0.01)),
        Member(lr=0.1, momentum=0.8, seed=13),
        Member(momentum=0.9, seed=40, schedule=schedules.Constant(0.2, warmup=40, warmup_factor=0.1)),
        Member(momentum=0.9, seed=41, schedule=schedules.Cosine(0.2, total=200, warmup=30))]),
    ("polyak under a changing lr", {"form": "polyak"},
     [Member(momentum=0.9, seed=14, schedule=schedules.Step(0.1, every=25, gamma=0.3))]),
    ("maximize", {"maximize": True}, [Member(0.01, 0.5, seed=15)]),
    ("no shuffling", {"shuffle": False}, [Member(0.1, 0.9, seed=16), Member(0.1, 0.0, seed=17)]),
    ("tanh, two hidden layers", {"activation": "tanh", "layers": [2, 8, 8, 3]},
     [Member(0.1, 0.9, seed=18), Member(0.2, 0.5, seed=19)]),
    ("sigmoid", {"activation": "sigmoid"}, [Member(0.5, 0.9, seed=20)]),
    ("leaky relu", {"activation": "leaky_relu"}, [Member(0.1, 0.9, seed=21)]),
    # The compiled kernels pad the hidden width to whole vector registers; the padding must not show.
    ("width 50", {"layers": [2, 50, 3]},
     [Member(0.1, 0.9, weight_decay=1e-2, seed=22), Member(0.05, 0.5, seed=23)]),
    ("sigmoid at width 50", {"activation": "sigmoid", "layers": [2, 50, 3]}, [Member(0.5, 0.9, seed=24)]),
    # Deeper networks, odd widths: weights held transposed where a layer widens and as nn.Linear holds them
    # where it narrows, every width padded inside the CPU kernel.
    ("relu, depth 2, odd widths", {"layers": [2, 7, 9, 3]},
     [Member(0.1, 0.9, weight_decay=1e-2, seed=25), Member(0.05, 0.0, seed=26)]),
    ("sigmoid, depth 3, odd widths", {"activation": "sigmoid", "layers": [2, 5, 33, 17, 3]},
     [Member(0.5, 0.9, seed=27)]),
    ("leaky relu, depth 3, nesterov", {"activation": "leaky_relu", "layers": [2, 19, 18, 4, 3], "nesterov": True},
     [Member(0.05, 0.9, seed=28), Member(0.05, 0.5, seed=29)]),
    ("identity, depth 2, polyak", {"activation": "identity", "layers": [2, 3, 21, 3], "form": "polyak"},
     [Member(0.05, 0.9, seed=30)]),
]


FLOAT32 = ("pytorch form, several momenta and seeds", "ema form", "schedules of every kind")


def one_model(member, settings, dtype, epochs=EPOCHS):
    layers = settings.get("layers", [2, 16, 3])
    model = MLP(layers, settings.get("activation", "relu"), seed=member.seed).to(dtype)
    optimizer = Momentum(model.parameters(), lr=member.lr, momentum=member.momentum, dampening=member.dampening,
                         weight_decay=member.weight_decay, nesterov=settings.get("nesterov", False),
                         maximize=settings.get("maximize", False), form=settings.get("form", "pytorch"))
    history = fit(model, DATA, optimizer, epochs, BATCH, shuffle=settings.get("shuffle", True), seed=member.seed,
                  schedule=member.schedule)
    return history, model


# The Triton engine runs on a GPU when there is one, else in Triton's interpreter (see conftest.py), which is
# slow: its tests are marked slow and there cover fewer epochs (40 updates) and float32 on fewer cases.
TRITON_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
INTERPRETED_EPOCHS = 4
needs_triton = pytest.mark.skipif(not triton_runs_on(torch.device(TRITON_DEVICE)), reason="needs Triton")
ENGINES = ["torch", "kernel", "lanes", pytest.param("triton", marks=[needs_triton, pytest.mark.slow])]


def epochs_for(engine):
    return INTERPRETED_EPOCHS if engine == "triton" and TRITON_DEVICE == "cpu" else EPOCHS


def population(members, settings, dtype, **extra):
    settings = dict(settings)
    layers = settings.pop("layers", [2, 16, 3])
    device = TRITON_DEVICE if extra.get("engine") == "triton" else "cpu"
    return train_population(DATA, layers, members, epochs=epochs_for(extra.get("engine")), batch_size=BATCH,
                            dtype=dtype, device=device, **settings, **extra)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, F64_TRAJECTORY), (torch.float32, F32_TRAJECTORY)],
                         ids=["float64", "float32"])
@pytest.mark.parametrize(("description", "settings", "members"), CASES, ids=[c[0] for c in CASES])
def test_each_member_matches_the_one_model_path(description, settings, members, dtype, tolerance, engine):
    if engine == "triton" and TRITON_DEVICE == "cpu" and dtype == torch.float32 and description not in FLOAT32:
        pytest.skip("in the interpreter, float32 is checked on a few cases only")
    result = population(members, settings, dtype, engine=engine)
    for i, member in enumerate(members):
        expected, model = one_model(member, settings, dtype, epochs_for(engine))
        got = result.histories[i]
        for metric in ("loss", "batch_loss_mean", "batch_loss_last", "initial_loss"):
            np.testing.assert_allclose(getattr(got, metric), getattr(expected, metric), rtol=tolerance,
                                       atol=tolerance, err_msg=f"{description}: member {i} {metric}")
        assert got.status == expected.status, description
        np.testing.assert_allclose(got.accuracy, expected.accuracy, rtol=0, atol=TIES / len(DATA),
                                   err_msg=description)
        for a, b in zip(result.model(i).parameters(), model.parameters()):
            torch.testing.assert_close(a, b.detach(), rtol=tolerance * 10, atol=tolerance * 10)


# Shapes beyond the small cases: the lab's [2, 50, 3] with a last minibatch shorter than the others (150
# points, batch 20); wider inputs and more classes, in odd minibatches (the kernel back-propagates samples in
# pairs); both with more points than one block of the kernel's full-data evaluation.
SHAPES = {  # data, layers, activation, batch size, learning rate
    "lab": (data.spiral(classes=3, points=50, seed=1), [2, 50, 3], "relu", 20, 0.2),
    "7 features, 5 classes, batch 7": (data.blobs(classes=5, points=40, features=7, std=4.0, seed=2), [7, 20, 5],
                                       "leaky_relu", 7, 0.02),
    "narrowing from the input, depth 3": (data.blobs(classes=5, points=40, features=19, std=4.0, seed=3),
                                          [19, 6, 11, 6, 5], "tanh", 7, 0.02),
    "the lab's shape, two hidden layers": (data.spiral(classes=3, points=50, seed=1), [2, 50, 50, 3], "relu", 20,
                                           0.1),
    "784 inputs, widths 256 and 100, 10 classes": (data.blobs(classes=10, points=6, features=784, std=1.0, seed=4),
                                                   [784, 256, 100, 10], "relu", 8, 0.01),
}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("shape", SHAPES)
def test_kernel_on_other_shapes_matches_fit(shape, dtype):
    dataset, layers, activation, batch, lr = SHAPES[shape]
    members = [Member(lr, m, seed=s) for m, s in ((0.0, 0), (0.9, 1))]
    result = train_population(dataset, layers, members, epochs=3, batch_size=batch, dtype=dtype, engine="kernel",
                              activation=activation)
    tolerance = TRAJECTORY[dtype]
    for i, (member, got) in enumerate(zip(members, result.histories)):
        model = MLP(layers, activation, seed=member.seed).to(dtype)
        expected = fit(model, dataset, Momentum(model.parameters(), lr=member.lr, momentum=member.momentum), 3,
                       batch, seed=member.seed)
        for metric in ("loss", "batch_loss_mean", "batch_loss_last"):
            np.testing.assert_allclose(getattr(got, metric), getattr(expected, metric), rtol=tolerance,
                                       atol=tolerance, err_msg=metric)
        np.testing.assert_allclose(got.accuracy, expected.accuracy, rtol=0, atol=TIES / len(dataset))
        for a, b in zip(result.model(i).parameters(), model.parameters()):
            torch.testing.assert_close(a, b.detach(), rtol=tolerance * 10, atol=tolerance * 10)


DEPTHS = {"one hidden layer": [2, 16, 3], "three hidden layers": [2, 9, 13, 6, 3]}


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("engine", ENGINES)
def test_a_diverging_member_leaves_the_others_bit_for_bit_unchanged(engine, depth):
    settings = {"layers": DEPTHS[depth]}
    calm = [Member(0.1, 0.9, seed=1), Member(0.1, 0.5, seed=2)]
    with_calm = population([*calm, Member(0.1, 0.0, seed=3)], settings, torch.float32, engine=engine)
    with_wild = population([*calm, Member(1e30, 0.99, seed=3)], settings, torch.float32, engine=engine)
    wild = with_wild.histories[2]
    assert wild.diverged and wild.diverged_at < epochs_for(engine) - 1
    at = wild.diverged_at
    assert np.isnan(wild.loss[at + 1 :]).all() and np.isfinite(wild.loss[:at]).all()
    assert outcome.diverging(wild.loss[at], wild.batch_loss_mean[at], wild.initial_loss)
    for i in range(2):
        assert not with_wild.histories[i].diverged
        for metric in ("loss", "accuracy", "batch_loss_mean", "batch_loss_last"):
            np.testing.assert_array_equal(getattr(with_wild.histories[i], metric),
                                          getattr(with_calm.histories[i], metric))


@pytest.mark.parametrize("engine", ENGINES)
def test_divergence_epoch_matches_fit(engine):
    member = Member(1e30, 0.99, seed=3)
    expected, _ = one_model(member, {}, torch.float32, epochs_for(engine))
    got = population([member], {}, torch.float32, engine=engine).histories[0]
    assert got.diverged_at == expected.diverged_at


@pytest.mark.parametrize("engine", ENGINES)
def test_a_finite_blow_up_is_divergence_in_every_engine_as_in_fit(engine):
    """lr 1e4 sends the loss far above its start while it stays finite: the factor rule, not NaN, stops it."""
    wild, calm = Member(1e4, 0.0, seed=3), Member(0.1, 0.9, seed=1)
    expected, _ = one_model(wild, {}, torch.float32, epochs_for(engine))
    assert expected.diverged
    model = MLP([2, 16, 3], seed=3)
    unguarded = fit(model, DATA, torch.optim.SGD(model.parameters(), lr=1e4), epochs_for(engine), BATCH, seed=3,
                    divergence_factor=1e300)
    assert np.isfinite(unguarded.loss[: expected.diverged_at + 1]).all()
    assert unguarded.loss[expected.diverged_at] > 10 * unguarded.initial_loss
    result = population([calm, wild], {}, torch.float32, engine=engine)
    got = result.histories[1]
    assert (got.diverged_at, got.status) == (expected.diverged_at, "diverged")
    # the record keeps the loss that crossed the rule, as fit's does (float32 engines against fit)
    at = got.diverged_at
    assert got.loss[at] > 10 * got.initial_loss and np.isnan(got.loss[at + 1 :]).all()
    np.testing.assert_allclose(got.loss[at], expected.loss[at], rtol=10 * F32_TRAJECTORY)  # a diverging run amplifies
    np.testing.assert_allclose(got.accuracy[at], expected.accuracy[at], atol=TIES / len(DATA))
    assert result.histories[0].status == "ok"
    summary = got.summary()
    assert np.isnan([summary[k] for k in ("final_loss", "best_loss", "final_accuracy", "best_accuracy")]).all()


@pytest.mark.parametrize("engine", ["torch", "kernel", "lanes"])
def test_chunking_by_memory_budget_changes_nothing(engine):
    members = [Member(0.1, m, seed=s) for m in (0.0, 0.9) for s in range(3)]
    whole = population(members, {}, torch.float64, engine=engine)
    budget = 2 * member_bytes([2, 16, 3], len(DATA), BATCH, torch.float64)[0]  # two members per chunk
    assert chunk_sizes([2, 16, 3], len(DATA), BATCH, 6, torch.device("cpu"), torch.float64, budget)[0] == 2
    chunked = population(members, {}, torch.float64, memory_budget=budget, engine=engine)
    for a, b in zip(whole.histories, chunked.histories):
        np.testing.assert_allclose(a.loss, b.loss, rtol=F64_OPERATION)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"members": []}, "at least one member"),
    ({"members": [Member(-0.1)]}, "member 0: Invalid learning rate: -0.1"),
    ({"members": [Member(0.1, 0.9), Member(0.1, 0.9, dampening=0.5)], "nesterov": True},
     "member 1: Nesterov momentum requires a momentum and zero dampening"),
    ({"activation": "gelu"}, "use the loop engine"),
    ({"layers": [3, 8, 3]}, "do not fit dataset 'spiral'"),
    ({"engine": "jax"}, "unknown population engine 'jax'"),
    ({"engine": "kernel", "device": "meta"}, "the kernel engine runs on the CPU, not 'meta'"),
    ({"engine": "triton", "device": "meta"}, "the triton engine runs on a CUDA device"),
    ({"matmul_precision": "bf16"}, "matmul_precision must be 'ieee' or 'tf32', got 'bf16'"),
    ({"matmul_precision": "tf32", "engine": "kernel"}, "applies to float32 on the triton engine"),
])
def test_errors(kwargs, message):
    arguments = {"members": [Member()], "layers": [2, 8, 3], **kwargs}
    with pytest.raises(ValueError, match=message):
        train_population(DATA, arguments.pop("layers"), arguments.pop("members"), epochs=1, **arguments)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():  # pragma: no cover - run on a GPU machine
    members = [Member(0.1, m, seed=s) for m in (0.0, 0.9) for s in range(2)]
    cpu = population(members, {}, torch.float64)
    gpu = train_population(DATA, [2, 16, 3], members, epochs=EPOCHS, batch_size=BATCH, dtype=torch.float64,
                           device="cuda")
    for a, b in zip(cpu.histories, gpu.histories):
        np.testing.assert_allclose(a.loss, b.loss, rtol=10 * F64_TRAJECTORY)  # cuBLAS sums in its own order


UPDATE_RULES = [
    rules.Momentum(0.1, 0.0, weight_decay=1e-2, maximize=True),
    *(rules.Momentum(0.1, 0.9, 0.0 if nesterov or form == "ema" else 0.3, 1e-2, nesterov, True, form)
      for form in checks.FORMS for nesterov in (False, True)),
    rules.QHM(0.1, 0.9, 0.7, 1e-2), rules.Adam(0.01, 0.8, 0.99, 1e-6, 1e-2, maximize=True), rules.AdamW(0.01),
    rules.RMSprop(0.01, 0.9, 1e-6, 1e-2), rules.RMSprop(0.01, 0.9, 1e-6, 0.0, 0.5),
    rules.RMSprop(0.01, 0.9, 1e-6, 0.0, 0.5, True), rules.RMSprop(0.01, 0.95, 1e-6, 1e-2, 0.0, True),
]


@pytest.mark.parametrize("rule", UPDATE_RULES, ids=repr)
def test_triton_update_equals_rules(rule):
    """The Triton engine's update alone (gpu_kernels._update, launched on one vector), on random state,
    against inertia.optim.update.apply, step by step under a changing learning rate."""
    pytest.importorskip("triton")
    if not triton_runs_on(torch.device(TRITON_DEVICE)):
        pytest.skip("needs Triton on CUDA or its interpreter")
    from inertia.population import gpu_kernels

    rng = np.random.default_rng(0)
    size, slots = 7, rule.slots
    params, grads = rng.standard_normal(size), rng.standard_normal((12, size))
    ours = torch.tensor(params, device=TRITON_DEVICE)
    state = torch.zeros((max(len(slots), 1), size), dtype=torch.float64, device=TRITON_DEVICE)
    rows = [slots.index(s) if s in slots else -1 for s in update.SLOTS]
    theirs, their_state = params.copy(), update.initial_state(params, slots)
    for t, g in enumerate(grads):
        step = rule.update(0.1 / (1 + t), t)
        row = torch.tensor([float(getattr(step, name)) for name in update.UPDATE_FIELDS], dtype=torch.float64,
                           device=TRITON_DEVICE)
        gpu_kernels.apply_update(ours, state, torch.tensor(g, device=TRITON_DEVICE), row, rows, rule.m_after_den)
        theirs, their_state = update.apply(theirs, g, their_state, step, slots, rule.m_after_den)
        np.testing.assert_allclose(ours.cpu().numpy(), theirs, rtol=1e-13, atol=1e-14)
        for slot in slots:
            np.testing.assert_allclose(state[slots.index(slot)].cpu().numpy(), their_state[slot], rtol=1e-13,
                                       atol=1e-14)


@pytest.mark.parametrize("rule", UPDATE_RULES, ids=repr)
def test_kernel_update_equals_rules(rule):
    """The CPU kernel's update alone, on random state, against inertia.optim.update.apply, step by step under a
    changing learning rate."""
    from inertia.population import kernels

    rng = np.random.default_rng(0)
    params, grads = rng.standard_normal(7), rng.standard_normal((30, 7))
    slots = rule.slots
    ours, state = params.copy(), np.zeros((len(slots), 7))
    rows = [slots.index(s) if s in slots else -1 for s in update.SLOTS]
    theirs, their_state = params.copy(), update.initial_state(params, slots)
    for t, g in enumerate(grads):
        step = rule.update(0.1 / (1 + t), t)
        row = np.array([float(getattr(step, name)) for name in update.UPDATE_FIELDS])
        kernels.apply_update(ours, state, g, row, *rows, rule.m_after_den)
        theirs, their_state = update.apply(theirs, g, their_state, step, slots, rule.m_after_den)
        np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-14)
        for slot in slots:
            np.testing.assert_allclose(state[slots.index(slot)], their_state[slot], rtol=1e-13, atol=1e-14)


def torch_optimizer(rule, params):
    """The independent reference for a rule: torch.optim's own optimizer (inertia.optim's for momentum forms
    and QHM, which tests/test_rules.py and tests/test_optimizers.py hold to torch.optim.SGD and the paper)."""
    from inertia.optim import QHM as QHMOptimizer

    if isinstance(rule, rules.Momentum):
        return Momentum(params, lr=rule.lr, momentum=rule.momentum, dampening=rule.dampening,
                        weight_decay=rule.weight_decay, nesterov=rule.nesterov, maximize=rule.maximize, form=rule.form)
    if isinstance(rule, rules.QHM):
        return QHMOptimizer(params, lr=rule.lr, beta=rule.beta, nu=rule.nu, weight_decay=rule.weight_decay)
    if isinstance(rule, rules.RMSprop):
        return torch.optim.RMSprop(params, lr=rule.lr, alpha=rule.alpha, eps=rule.eps, weight_decay=rule.weight_decay,
                                   momentum=rule.momentum, centered=rule.centered, maximize=rule.maximize)
    optimizer = torch.optim.AdamW if isinstance(rule, rules.AdamW) else torch.optim.Adam
    return optimizer(params, lr=rule.lr, betas=(rule.beta1, rule.beta2), eps=rule.eps,
                     weight_decay=rule.weight_decay, maximize=rule.maximize)


def random_rules(kind, count, seed, adam_lr=(1e-3, 3e-2), eps_exponent=(-8, -4)):
    """``count`` rules of ``kind`` with every hyperparameter drawn at random, per member."""
    rng = np.random.default_rng(seed)
    lr = lambda low, high: float(np.exp(rng.uniform(np.log(low), np.log(high))))  # noqa: E731
    out = []
    for _ in range(count):
        if kind == "qhm":
            out.append(rules.QHM(lr(0.05, 0.5), rng.uniform(0.5, 0.99), rng.uniform(0, 1), rng.uniform(0, 1e-2)))
        elif kind in ("adam", "adamw"):
            out.append(rules.OPTIMIZERS[kind](lr(*adam_lr), rng.uniform(0.5, 0.95), rng.uniform(0.9, 0.999),
                                              float(10 ** rng.uniform(*eps_exponent)), rng.uniform(0, 0.1)))
        else:
            out.append(rules.RMSprop(lr(1e-3, 1e-2), rng.uniform(0.9, 0.99), float(10 ** rng.uniform(*eps_exponent)),
                                     rng.uniform(0, 1e-2), rng.choice([0.0, rng.uniform(0.1, 0.9)]),
                                     bool(rng.integers(2))))
    return out


OPTIMIZER_KINDS = ["qhm", "adam", "adamw", "rmsprop"]


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, F64_TRAJECTORY), (torch.float32, F32_TRAJECTORY)],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("shuffle", [True, False], ids=["shuffled", "in order"])
@pytest.mark.parametrize("kind", OPTIMIZER_KINDS)
def test_every_optimizer_matches_torch_optim_member_by_member(kind, shuffle, dtype, tolerance, engine, depth):
    layers = DEPTHS[depth]
    # Adam's step is about lr·sign(g) wherever |g| >> eps: a gradient component near zero (a unit that barely
    # learns, or a plateau) moves by ±lr on a float32 round-off difference between batched and one-model
    # gradients (a GPU's fused multiply-adds round differently again), and the runs part by 1e-4 within 200
    # steps. Float64 covers the wide ranges; float32 checks Adam where the network learns, and Adam and RMSprop
    # with eps >= 1e-6 (RMSprop's step is as sign-like where eps is small).
    wide = dtype == torch.float64
    members = [Member(seed=s, optimizer=rule) for s, rule in enumerate(random_rules(
        kind, 4, seed=len(kind), adam_lr=(1e-3, 3e-2) if wide else (1e-3, 1e-2),
        eps_exponent=(-8, -4) if wide else (-6, -4)))]
    epochs = epochs_for(engine)
    result = population(members, {"shuffle": shuffle, "layers": layers}, dtype, engine=engine)
    for i, member in enumerate(members):
        model = MLP(layers, seed=member.seed).to(dtype)
        expected = fit(model, DATA, torch_optimizer(member.optimizer, model.parameters()), epochs, BATCH,
                       shuffle=shuffle, seed=member.seed)
        got = result.histories[i]
        for metric in ("loss", "batch_loss_mean", "batch_loss_last"):
            np.testing.assert_allclose(getattr(got, metric), getattr(expected, metric), rtol=tolerance,
                                       atol=tolerance, err_msg=f"{kind}: member {i} {metric}")
        for a, b in zip(result.model(i).parameters(), model.parameters()):
            torch.testing.assert_close(a, b.detach(), rtol=tolerance * 10, atol=tolerance * 10)


# (description, train_population keyword arguments, the message: the one fit and the command line give)
BAD_ARGUMENTS = [
    ("no epochs", {"epochs": 0}, "epochs must be a positive integer, got 0"),
    ("negative epochs", {"epochs": -2}, "epochs must be a positive integer, got -2"),
    ("fractional epochs", {"epochs": 2.5}, "epochs must be a positive integer, got 2.5"),
    ("empty batches", {"batch_size": 0}, "batch_size must be a positive integer, got 0"),
    ("negative batches", {"batch_size": -3}, "batch_size must be a positive integer, got -3"),
    ("half precision", {"dtype": torch.float16}, "dtype must be torch.float32 or torch.float64"),
    ("bfloat16", {"dtype": torch.bfloat16}, "dtype must be torch.float32 or torch.float64"),
    ("shuffle as text", {"shuffle": "no"}, "shuffle must be True or False, got 'no'"),
    ("nesterov as a number", {"nesterov": 1}, "nesterov must be True or False, got 1"),
    ("negative budget", {"memory_budget": -5}, "memory_budget must be a positive integer, got -5"),
    ("seed beyond int64", {"members": [Member(seed=2**70)]}, "member 0: seed must be an integer from -2**63"),
    ("seed as text", {"members": [Member(seed="1")]}, "member 0: seed must be an integer"),
]


@pytest.mark.parametrize(("description", "arguments", "message"), BAD_ARGUMENTS, ids=[b[0] for b in BAD_ARGUMENTS])
def test_bad_arguments_are_refused_before_any_work_with_the_fields_named(description, arguments, message):
    arguments = {"members": [Member()], "epochs": 1, **arguments}
    with pytest.raises(ValueError, match=re.escape(message)):
        train_population(DATA, [2, 8, 3], arguments.pop("members"), **arguments)


def test_fit_and_the_model_refuse_what_the_population_refuses():
    with pytest.raises(ValueError, match=re.escape("seed must be an integer from -2**63")):
        MLP([2, 8, 3], seed=2**70)
    model = MLP([2, 8, 3], seed=0)
    with pytest.raises(ValueError, match="shuffle must be True or False, got 'no'"):
        fit(model, DATA, Momentum(model.parameters(), lr=0.1), 1, 5, shuffle="no")
    with pytest.raises(ValueError, match=re.escape("seed must be an integer from -2**63")):
        fit(model, DATA, Momentum(model.parameters(), lr=0.1), 1, 5, seed=-(2**64))


# The GPU engine's tiled kernel (gpu_tiles) against fit, on what the register kernel would otherwise take:
# minibatches longer than one tile of rows (the interpreter's tiles are 32 rows), a last minibatch shorter
# than the others, every activation, inputs wider than one tile, and one output class per row of a tile.
TILED = {  # data, layers, activation, batch size, members
    "relu, batch 40 over two row tiles": (data.spiral(classes=3, points=30, seed=5), [2, 16, 3], "relu", 40,
                                          [Member(0.1, 0.9, seed=1), Member(0.05, 0.0, weight_decay=1e-2, seed=2)]),
    "sigmoid, 37 inputs, 5 classes": (data.blobs(classes=5, points=12, features=37, std=4.0, seed=6), [37, 11, 5],
                                      "sigmoid", 7, [Member(0.5, 0.9, seed=3)]),
    "tanh, 70 inputs, widths 65 and 3": (data.blobs(classes=4, points=8, features=70, std=4.0, seed=7),
                                         [70, 65, 3, 4], "tanh", 9, [Member(0.05, 0.5, seed=4)]),
}


@needs_triton
@pytest.mark.slow
@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, F64_TRAJECTORY), (torch.float32, F32_TRAJECTORY)],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("case", TILED)
def test_gpu_tiles_match_fit(case, dtype, tolerance, monkeypatch):
    from inertia.population import triton_engine

    monkeypatch.setattr(triton_engine, "REGISTER_WEIGHTS", 0)  # the tiled kernel for every network
    dataset, layers, activation, batch, members = TILED[case]
    epochs = epochs_for("triton")
    result = train_population(dataset, layers, members, epochs=epochs, batch_size=batch, dtype=dtype,
                              device=TRITON_DEVICE, activation=activation, engine="triton")
    for i, member in enumerate(members):
        model = MLP(layers, activation, seed=member.seed).to(dtype)
        optimizer = Momentum(model.parameters(), lr=member.lr, momentum=member.momentum,
                             weight_decay=member.weight_decay)
        expected = fit(model, dataset, optimizer, epochs, batch, seed=member.seed)
        got = result.histories[i]
        for metric in ("loss", "batch_loss_mean", "batch_loss_last", "initial_loss"):
            np.testing.assert_allclose(getattr(got, metric), getattr(expected, metric), rtol=tolerance,
                                       atol=tolerance, err_msg=f"{case}: member {i} {metric}")
        np.testing.assert_allclose(got.accuracy, expected.accuracy, rtol=0, atol=TIES / len(dataset))
        for a, b in zip(result.model(i).parameters(), model.parameters()):
            torch.testing.assert_close(a, b.detach(), rtol=tolerance * 10, atol=tolerance * 10)


@needs_triton
@pytest.mark.slow
def test_gpu_coefficients_are_float64_for_hyperparameters_given_once():
    """Adam's β₂ given once for the whole table (a number, not an array): its power of the step count is
    float64 on the device as on the CPU, so the GPU engine equals the CPU kernel to float64 round-off."""
    members = Members.table(seed=np.arange(2), optimizer="adam", lr=0.01)
    gpu = population(members, {}, torch.float64, engine="triton")
    cpu = population(members, {}, torch.float64, engine="kernel")
    np.testing.assert_allclose(gpu.metrics["loss"][:, :epochs_for("triton")],
                               cpu.metrics["loss"][:, :epochs_for("triton")], rtol=F64_TRAJECTORY, atol=0)


@needs_triton
@pytest.mark.slow
def test_tf32_reaches_the_tiled_kernel_and_only_in_float32(monkeypatch):
    from inertia.population import gpu_tiles, triton_engine

    monkeypatch.setattr(triton_engine, "REGISTER_WEIGHTS", 0)
    seen = []
    launch = gpu_tiles.train_epoch
    monkeypatch.setattr(gpu_tiles, "train_epoch", lambda *a, **k: seen.append(k["precision"]) or launch(*a, **k))
    population([Member(0.1, 0.9)], {}, torch.float32, engine="triton", matmul_precision="tf32")
    assert seen and set(seen) == {"tf32"}
    with pytest.raises(ValueError, match=r"applies to float32 on the triton engine \(CUDA\), not triton in float64"):
        population([Member(0.1, 0.9)], {}, torch.float64, engine="triton", matmul_precision="tf32")
