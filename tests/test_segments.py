"""A population trained in stretches (inertia.population.Population): paused and continued, narrowed, one member
taking over another's run, hyperparameters changed — against the same members trained straight through (bit for
bit, every engine) and against fit's one-model path with torch.optim where hyperparameters change mid-run."""

import numpy as np
import pytest
import torch
from test_population import BATCH, DATA, ENGINES, TRITON_DEVICE, random_rules, torch_optimizer
from tolerances import F64_TRAJECTORY

from inertia import data
from inertia.models import MLP
from inertia.optim import Momentum, schedules
from inertia.population import Member, Members, Population, chunk_sizes, member_bytes, train_population
from inertia.train import fit

STRETCHES = (2, 1, 1)  # 4 epochs: 40 updates in three stretches, the first update and the changes of stretch apart


def device_of(engine):
    return TRITON_DEVICE if engine == "triton" else "cpu"


def assert_same_run(got, expected, rows=None):
    """Every record, the weights and the initial loss bit for bit; ``rows``: expected's rows got holds."""
    rows = np.arange(len(expected)) if rows is None else np.asarray(rows)
    for name, values in expected.metrics.items():
        np.testing.assert_array_equal(got.metrics[name], values[rows], err_msg=name)
    np.testing.assert_array_equal(got.initial_loss, expected.initial_loss[rows])
    np.testing.assert_array_equal(got.diverged_at, expected.diverged_at[rows])
    for (w, b), (ew, eb) in zip(got.stacked_weights(), expected.stacked_weights()):
        torch.testing.assert_close(w, ew[rows], rtol=0, atol=0, equal_nan=True)
        torch.testing.assert_close(b, eb[rows], rtol=0, atol=0, equal_nan=True)


# (description, layers, shared settings, members): what the update count, the data order and the optimizer state
# reach — schedules with warm-up and one-cycle momentum, a momentum ramp, Adam's bias correction, RMSprop's
# three slots, depths 1 to 3, no shuffling, a held-out split.
CASES = [
    ("momentum, pytorch form", [2, 16, 3], {}, [Member(0.1, m, seed=s) for m in (0, 0.5, 0.9) for s in (0, 1)]),
    ("nesterov, dampening-free", [2, 7, 9, 3], {"nesterov": True}, [Member(0.05, 0.9, seed=1), Member(0.1, 0.5)]),
    ("polyak, no shuffling", [2, 16, 3], {"form": "polyak", "shuffle": False}, [Member(0.1, 0.9, 0.2, seed=2)]),
    ("schedules", [2, 5, 33, 17, 3], {"activation": "tanh"}, [
        Member(momentum=0.9, seed=3, schedule=schedules.Constant(0.2, warmup=15, warmup_factor=0.1)),
        Member(momentum=0.9, seed=4, schedule=schedules.OneCycle(0.3, total_steps=40)),
        Member(0.1, seed=5, momentum_schedule=schedules.Sutskever(0.99, every=7))]),
    ("adam", [2, 16, 3], {}, [Member(seed=s, optimizer=r) for s, r in enumerate(random_rules("adam", 3, 1))]),
    ("rmsprop", [2, 9, 13, 6, 3], {},
     [Member(seed=s, optimizer=r) for s, r in enumerate(random_rules("rmsprop", 3, 2))]),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize(("description", "layers", "settings", "members"), CASES, ids=[c[0] for c in CASES])
def test_stretches_equal_one_run_bit_for_bit(description, layers, settings, members, dtype, engine):
    if engine == "triton" and TRITON_DEVICE == "cpu" and description not in ("momentum, pytorch form", "adam"):
        pytest.skip("in the interpreter, two cases")
    held_out = data.spiral(classes=3, points=10, seed=7)
    common = dict(batch_size=BATCH, engine=engine, dtype=dtype, device=device_of(engine), held_out=held_out,
                  **settings)
    whole = train_population(DATA, layers, members, epochs=sum(STRETCHES), **common)
    population = Population(DATA, layers, members, **common)
    for epochs in STRETCHES:
        population.train(epochs)
    assert population.epoch == sum(STRETCHES) and population.state.steps == 40
    assert_same_run(population.result(), whole)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_narrowed_and_reordered_population_goes_on_as_its_members_would(engine):
    """Members dropped and the rest in another order (in the lanes engine, other lanes of other groups): each
    survivor's run is the one it has in the whole population."""
    members = [Member(0.1 + 0.02 * i, 0.9 if i % 2 else 0.0, seed=i) for i in range(20)]
    common = dict(batch_size=BATCH, engine=engine, device=device_of(engine))
    whole = train_population(DATA, [2, 16, 3], members, epochs=3, **common)
    kept = [17, 3, 4, 0, 11]
    population = Population(DATA, [2, 16, 3], members, **common).train(2).keep(kept).train(1)
    assert_same_run(population.result(), whole, kept)
    np.testing.assert_array_equal(population.origin, kept)
    assert [m.seed for m in population.result().members] == kept


@pytest.mark.parametrize("engine", ["torch", "kernel", "lanes"])
def test_chunks_by_memory_budget_change_nothing_across_stretches(engine):
    """Members in several chunks, whose rules keep different slots (a chunk without momentum has none): joined
    after each stretch and cut again for the next, every member goes on as train_population trains it in the
    same chunks. (A chunk of members all without momentum applies plain SGD, no buffer: the same steps to within
    round-off as with one, so the chunks, not only the members, must match for bit-for-bit equality.)"""
    members = [Member(0.1, 0.0, seed=s) for s in range(8)] + [Member(0.1, 0.9, seed=s) for s in range(8, 20)]
    budget = 3 * member_bytes([2, 16, 3], len(DATA), BATCH, torch.float64, engine)[0]
    common = dict(batch_size=BATCH, engine=engine, dtype=torch.float64)
    assert chunk_sizes([2, 16, 3], len(DATA), BATCH, 20, torch.device("cpu"), torch.float64, budget, engine)[0] <= 8
    whole = train_population(DATA, [2, 16, 3], members, epochs=3, memory_budget=budget, **common)
    population = Population(DATA, [2, 16, 3], members, memory_budget=budget, **common)
    assert_same_run(population.train(1).train(2).result(), whole)
    assert set(population.state.slots) == {"m"}  # the chunks without it joined as zeros


@pytest.mark.parametrize("engine", ["torch", "kernel", "lanes"])
def test_narrowing_chunks_copies_the_rows_kept_as_joining_them_first_would(engine):
    """``keep`` right after a stretch trained in several chunks gathers the kept rows from the chunks' states
    (without joining them): the same weights, slots (zeros from a chunk without momentum) and initial losses as
    joining first and taking the rows, and the same training after."""
    members = [Member(0.1, 0.0, seed=s) for s in range(8)] + [Member(0.1, 0.9, seed=s) for s in range(8, 20)]
    budget = 3 * member_bytes([2, 16, 3], len(DATA), BATCH, torch.float64, engine)[0]
    common = dict(batch_size=BATCH, engine=engine, dtype=torch.float64, memory_budget=budget)
    kept = [19, 3, 3, 12, 0, 7, 8, 15, 15]  # across the chunks, out of order, repeated
    joined, gathered = (Population(DATA, [2, 16, 3], members, **common).train(2) for _ in range(2))
    assert joined.state is not None  # joined now, before narrowing
    joined.keep(kept)
    gathered.keep(kept)
    assert set(gathered.state.slots) == {"m"}
    assert torch.equal(gathered.state.flat, joined.state.flat)
    np.testing.assert_array_equal(gathered.state.initial_loss, joined.state.initial_loss)
    assert torch.equal(gathered.state.flat_slots["m"], joined.state.flat_slots["m"])
    assert not gathered.state.flat_slots["m"][1].any() and gathered.state.flat_slots["m"][0].any()
    assert_same_run(gathered.train(1).result(), joined.train(1).result())


@pytest.mark.parametrize("engine", ENGINES)
def test_a_member_diverged_in_one_stretch_stays_frozen_in_the_next(engine):
    members = [Member(0.1, 0.9, seed=1), Member(1e30, 0.99, seed=3), Member(0.1, 0.5, seed=2)]
    common = dict(batch_size=BATCH, engine=engine, device=device_of(engine))
    whole = train_population(DATA, [2, 16, 3], members, epochs=4, **common)
    assert whole.diverged_at[1] == 0
    population = Population(DATA, [2, 16, 3], members, **common).train(1).train(3)
    assert_same_run(population.result(), whole)
    assert population.result().histories[1].status == "diverged"


@pytest.mark.parametrize("engine", ENGINES)
def test_a_copied_run_is_its_source_run_weights_and_optimizer_state(engine):
    """After ``copy`` the target holds the source's weights and optimizer state exactly; given the source's seed
    (its data order) too, it then trains exactly as the source does, which only an exact optimizer state allows."""
    members = [Member(0.1, 0.9, seed=5), Member(0.2, 0.5, seed=6), Member(0.05, 0.0, seed=5)]
    common = dict(batch_size=BATCH, engine=engine, device=device_of(engine))
    population = Population(DATA, [2, 16, 3], members, **common).train(2)
    before = population.state.take([0])
    population.copy([0], [2])
    state = population.state
    for (w, b), (sw, sb) in zip(state.weights, before.weights):
        assert torch.equal(w[2], sw[0]) and torch.equal(b[2], sb[0])
    assert torch.equal(state.slots["m"][0][0][2], before.slots["m"][0][0][0])
    assert population.members.member(2) == Member(0.1, 0.9, seed=5)
    result = population.train(2).result()
    for (w, b) in result.stacked_weights():
        assert torch.equal(w[2], w[0]) and torch.equal(b[2], b[0])
    np.testing.assert_array_equal(result.metrics["loss"][2, 2:], result.metrics["loss"][0, 2:])
    assert not np.array_equal(result.metrics["loss"][2, :2], result.metrics["loss"][0, :2])  # its own records


@pytest.mark.parametrize("engine", ["torch", "kernel", "lanes"])
def test_copy_without_hyperparameters_keeps_the_targets(engine):
    members = [Member(0.1, 0.9, seed=1), Member(0.3, 0.2, seed=2)]
    population = Population(DATA, [2, 16, 3], members, batch_size=BATCH, engine=engine).train(1)
    population.copy([0], [1], hyperparameters=False)
    assert population.members.member(1) == Member(0.3, 0.2, seed=2)
    assert torch.equal(population.state.weights[0][0][1], population.state.weights[0][0][0])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("field", "before", "after"), [("lr", 0.1, 0.03), ("momentum", 0.5, 0.9)])
def test_a_hyperparameter_set_between_stretches_is_torch_optims_change_at_that_step(engine, field, before, after):
    """The reference: fit with torch's optimizer whose lr (or momentum) changes at the same update."""
    settings = {"lr": 0.1, "momentum": 0.5, field: before}
    member = Member(**settings, seed=9)
    switch = 2 * len(DATA) // BATCH  # two epochs of updates
    population = Population(DATA, [2, 16, 3], [member, Member(0.2, 0.0, seed=1)], batch_size=BATCH,
                            engine=engine, dtype=torch.float64, device=device_of(engine))
    got = population.train(2).set([0], **{field: after}).train(2).result()
    assert getattr(got.members[0], field) == after and got.members[1] == Member(0.2, 0.0, seed=1)
    model = MLP([2, 16, 3], seed=9).to(torch.float64)
    optimizer = Momentum(model.parameters(), lr=settings["lr"], momentum=settings["momentum"])
    changed = {f"{'' if field == 'lr' else 'momentum_'}schedule": lambda t: before if t < switch else after}
    expected = fit(model, DATA, optimizer, 4, BATCH, seed=9, **changed)
    np.testing.assert_allclose(got.history(0).loss, expected.loss, rtol=F64_TRAJECTORY, atol=F64_TRAJECTORY)
    for a, b in zip(got.model(0).parameters(), model.parameters()):
        torch.testing.assert_close(a, b.detach(), rtol=F64_TRAJECTORY * 10, atol=F64_TRAJECTORY * 10)


def test_momentum_set_up_from_zero_starts_its_buffer_at_the_gradient():
    """A population whose members all train without momentum keeps no buffer; one set to momentum later starts
    its buffer at zero, so the first update with it is a plain gradient step: torch.optim.SGD's first step."""
    population = Population(DATA, [2, 16, 3], [Member(0.1, 0.0, seed=4)], batch_size=BATCH, engine="kernel",
                            dtype=torch.float64).train(1)
    assert population.state.slots == {}
    got = population.set([0], momentum=0.9).train(1).result()
    model = MLP([2, 16, 3], seed=4).to(torch.float64)
    fit(model, DATA, torch.optim.SGD(model.parameters(), lr=0.1), 1, BATCH, seed=4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)  # a fresh buffer, as after an edit
    from inertia import shuffle

    x, y = DATA.tensors("cpu", torch.float64)
    order = torch.from_numpy(shuffle.orders(np.array([4]), 1, len(DATA))[0])
    for lo in range(0, len(DATA), BATCH):
        index = order[lo : lo + BATCH]
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x[index]), y[index]).backward()
        optimizer.step()
    for a, b in zip(got.model(0).parameters(), model.parameters()):
        torch.testing.assert_close(a, b.detach(), rtol=1e-10, atol=1e-12)


def test_every_optimizer_state_is_carried_for_torch_optims_optimizers():
    """Adam's two moments and its step count through a pause: the same as torch.optim.Adam straight through."""
    rule = random_rules("adam", 1, 3)[0]
    population = Population(DATA, [2, 16, 3], [Member(seed=2, optimizer=rule)], batch_size=BATCH, engine="lanes",
                            dtype=torch.float64)
    got = population.train(1).train(2).result()
    model = MLP([2, 16, 3], seed=2).to(torch.float64)
    expected = fit(model, DATA, torch_optimizer(rule, model.parameters()), 3, BATCH, seed=2)
    np.testing.assert_allclose(got.history(0).loss, expected.loss, rtol=F64_TRAJECTORY, atol=F64_TRAJECTORY)


def test_columns_take_and_set():
    members = Members.table(seed=np.arange(4), lr=[0.1, 0.2, 0.3, 0.4], momentum=0.9)
    taken = members.take([3, 1, 1])
    assert [m.lr for m in (taken[0], taken[1], taken[2])] == [0.4, 0.2, 0.2]
    assert list(taken.seeds) == [3, 1, 1]
    edited = members.with_values([0, 2], lr=[1.0, 2.0])
    assert list(edited.rule.lr) == [1.0, 0.2, 2.0, 0.4] and list(members.rule.lr) == [0.1, 0.2, 0.3, 0.4]
    scheduled = Members.of([Member(0.1, seed=0), Member(seed=1, schedule=schedules.Step(0.5, every=3))])
    assert scheduled.take([1, 0, 1]).member(2).schedule == schedules.Step(0.5, every=3)
    assert scheduled.take([1, 0, 1]).member(1).schedule is None
    with pytest.raises(ValueError, match="member 1: its lr follows a schedule"):
        scheduled.with_values([1], lr=0.3)


@pytest.mark.parametrize(("change", "message"), [
    (lambda p: p.keep([]), "index keeps no member"),
    (lambda p: p.keep([0, 5]), "index names member 5 of 3"),
    (lambda p: p.keep([0.5]), "index must be member numbers"),
    (lambda p: p.copy([0, 1], [2]), "source and target must pair up, got 2 and 1"),
    (lambda p: p.copy([0, 1], [2, 2]), "target names a member twice"),
    (lambda p: p.set([1], lr=-0.1), "member 1: Invalid learning rate: -0.1"),
    (lambda p: p.set([1], momentum=1.5), "member 1: .*momentum"),
    (lambda p: p.set([0], beta1=0.5), "momentum has no hyperparameter beta1 to set"),
    (lambda p: p.set([0], lr="fast"), "lr must be a number"),
    (lambda p: p.result(), "not been trained yet"),
    (lambda p: p.train(0), "epochs must be a positive integer, got 0"),
])
def test_bad_changes_name_what_is_wrong(change, message):
    population = Population(DATA, [2, 16, 3], [Member(seed=s) for s in range(3)], batch_size=BATCH, engine="kernel")
    with pytest.raises(ValueError, match=message):
        change(population)
    assert len(population) == 3 and population.epoch == 0  # nothing changed


def test_population_takes_the_settings_of_train_population_and_refuses_the_rest():
    with pytest.raises(TypeError, match="Population takes no epochs"):
        Population(DATA, [2, 16, 3], [Member()], epochs=3)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        Population(DATA, [2, 16, 3], [Member()], batch_size=0)
    with pytest.raises(ValueError, match="schedule"):  # a schedule that ends before the next stretch does
        Population(DATA, [2, 16, 3], [Member(schedule=schedules.OneCycle(0.1, total_steps=10))],
                   batch_size=BATCH).train(2)
