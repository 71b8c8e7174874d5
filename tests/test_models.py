import pytest
import torch
from notebook_lab import Net
from tolerances import EXACT

from inertia.models import MLP


def test_shapes_and_parameter_names_match_the_notebook_net():
    model = MLP([2, 50, 3])
    assert [tuple(p.shape) for p in model.parameters()] == [(50, 2), (50,), (3, 50), (3,)]
    assert list(model.state_dict()) == list(Net([2, 50, 3]).state_dict())
    assert model(torch.zeros(7, 2)).shape == (7, 3)


def test_same_global_seed_gives_the_notebooks_initial_weights_and_outputs():
    torch.manual_seed(1)
    net = Net([2, 50, 3])
    torch.manual_seed(1)
    model = MLP([2, 50, 3])
    for a, b in zip(net.parameters(), model.parameters()):
        torch.testing.assert_close(a, b, rtol=EXACT, atol=EXACT)
    x = torch.randn(10, 2)
    torch.testing.assert_close(model(x), net(x), rtol=EXACT, atol=EXACT)


def test_private_seed_is_deterministic_and_leaves_global_state_alone():
    state = torch.random.get_rng_state()
    a, b, c = MLP([4, 8, 8, 2], seed=3), MLP([4, 8, 8, 2], seed=3), MLP([4, 8, 8, 2], seed=4)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    assert not torch.equal(a.hidden[0].weight, c.hidden[0].weight)
    # nn.Linear's default distribution: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    assert a.hidden[1].weight.abs().max() <= 1 / 8**0.5
    # Constructing the layers draws from the global generator; the seeded redraw must not.
    torch.random.set_rng_state(state)
    MLP([4, 8, 8, 2])
    after_plain = torch.random.get_rng_state()
    torch.random.set_rng_state(state)
    MLP([4, 8, 8, 2], seed=9)
    assert torch.equal(torch.random.get_rng_state(), after_plain)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "gelu", "elu", "leaky_relu", "identity"])
def test_activations(activation):
    model = MLP([3, 5, 2], activation=activation, seed=0)
    x = torch.randn(4, 3)
    hidden = model.hidden[0](x)
    expected = {
        "relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
        "gelu": torch.nn.functional.gelu, "elu": torch.nn.functional.elu,
        "leaky_relu": torch.nn.functional.leaky_relu, "identity": lambda t: t,
    }[activation](hidden)
    torch.testing.assert_close(model(x), model.hidden[1](expected))


@pytest.mark.parametrize(("layers", "activation", "message"), [
    ([2], "relu", "at least an input and an output width"),
    ([2, 0, 3], "relu", "positive integers"),
    ([2, 2.5, 3], "relu", "positive integers"),
    ([2, 3], "swish", "unknown activation 'swish'"),
])
def test_errors(layers, activation, message):
    with pytest.raises(ValueError, match=message):
        MLP(layers, activation)
