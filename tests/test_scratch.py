"""The NumPy engine: gradients against torch autograd and finite differences, training against seed 004's code."""

import numpy as np
import pytest
import torch
from notebook_lab import spiral_data
from seed004_network import Activation_Softmax, Layer_Dense, train
from tolerances import FINITE_DIFFERENCE

from inertia import data
from inertia.scratch import (
    SGD,
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    Dense,
    Network,
    ReLU,
    Sigmoid,
    Softmax,
    SoftmaxCrossEntropy,
    Tanh,
)

RNG = np.random.default_rng(0)
X = RNG.standard_normal((7, 4))
UPSTREAM = RNG.standard_normal((7, 5))

ACTIVATIONS = [
    ("relu", ReLU, torch.relu),
    ("sigmoid", Sigmoid, torch.sigmoid),
    ("tanh", Tanh, torch.tanh),
    ("softmax", Softmax, lambda t: torch.softmax(t, dim=1)),
]


@pytest.mark.parametrize(("name", "layer", "reference"), ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_forward_and_backward_match_autograd(name, layer, reference):
    x = RNG.standard_normal((6, 5))
    d = RNG.standard_normal((6, 5))
    ours = layer()
    out = ours.forward(x)
    dx = ours.backward(d)
    t = torch.tensor(x, requires_grad=True)
    expected = reference(t)
    expected.backward(torch.tensor(d))
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=name)
    np.testing.assert_allclose(dx, t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_softmax_backward_equals_the_seeds_per_sample_jacobian():
    z, d = RNG.standard_normal((9, 4)), RNG.standard_normal((9, 4))
    seed = Activation_Softmax()
    seed.forward(z)
    seed.backward(d)
    ours = Softmax()
    np.testing.assert_allclose(ours.forward(z), seed.output, rtol=1e-14)
    np.testing.assert_allclose(ours.backward(d), seed.dinputs, rtol=1e-10, atol=1e-14)


def test_dense_gradients_match_autograd():
    layer = Dense(4, 5, rng=1, dtype=np.float64)
    out = layer.forward(X)
    dx = layer.backward(UPSTREAM)
    w = torch.tensor(layer.weights, requires_grad=True)
    b = torch.tensor(layer.biases, requires_grad=True)
    x = torch.tensor(X, requires_grad=True)
    expected = x @ w + b
    expected.backward(torch.tensor(UPSTREAM))
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.grads["weights"], w.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.grads["biases"], b.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(dx, x.grad.numpy(), rtol=1e-12)
    assert layer.backward(UPSTREAM, input_grad=False) is None


LOSSES = [
    ("categorical cross-entropy", CategoricalCrossEntropy, "probabilities",
     lambda p, y: torch.nn.functional.nll_loss(torch.log(p), y)),
    ("softmax cross-entropy (fused)", SoftmaxCrossEntropy, "logits", torch.nn.functional.cross_entropy),
]


@pytest.mark.parametrize(("name", "loss", "space", "reference"), LOSSES, ids=[c[0] for c in LOSSES])
def test_classification_losses_match_autograd(name, loss, space, reference):
    z = RNG.standard_normal((8, 3))
    y = np.array([0, 2, 1, 1, 0, 2, 2, 1])
    inputs = Softmax().forward(z) if space == "probabilities" else z
    ours = loss()
    value = ours.forward(inputs, y)
    grad = ours.backward()
    t = torch.tensor(inputs, requires_grad=True)
    expected = reference(t, torch.tensor(y))
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_binary_cross_entropy_matches_autograd():
    p = 1 / (1 + np.exp(-RNG.standard_normal((10, 1))))
    y = RNG.integers(0, 2, 10)
    ours = BinaryCrossEntropy()
    value = ours.forward(p, y)
    t = torch.tensor(p, requires_grad=True)
    expected = torch.nn.functional.binary_cross_entropy(t, torch.tensor(y, dtype=torch.float64).reshape(-1, 1))
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(ours.backward(), t.grad.numpy(), rtol=1e-10)


def test_network_gradient_matches_finite_differences():
    x = RNG.standard_normal((12, 2))
    y = RNG.integers(0, 3, 12)
    net = Network([Dense(2, 6, rng=3, dtype=np.float64, scale=0.5), Tanh(), Dense(6, 3, rng=4, dtype=np.float64)])
    net.loss.forward(net.forward(x), y)
    net.backward()
    analytic = net.grads.copy()
    numeric = np.empty_like(analytic)
    h = 1e-6
    for i in range(net.params.size):
        saved = net.params[i]
        net.params[i] = saved + h
        up = net.loss.forward(net.forward(x), y)
        net.params[i] = saved - h
        down = net.loss.forward(net.forward(x), y)
        net.params[i] = saved
        numeric[i] = (up - down) / (2 * h)
    np.testing.assert_allclose(analytic, numeric, rtol=FINITE_DIFFERENCE, atol=1e-9)


def test_float64_training_matches_seed_004_code_to_round_off():
    np.random.seed(0)
    x, y = spiral_data(samples=100, classes=3)
    np.random.seed(1)
    dense1, dense2 = Layer_Dense(2, 64), Layer_Dense(64, 3)
    reference = np.array(train(x, y, dense1, dense2, epochs=150))
    net = Network.mlp([2, 64, 3], rng=1, dtype=np.float64)
    ours = net.fit(x, y, SGD(lr=1.0, momentum=0.9, decay=1e-3), epochs=150)
    np.testing.assert_allclose(ours["loss"], reference[:, 0], rtol=1e-11)
    np.testing.assert_array_equal(ours["accuracy"], reference[:, 1])
    np.testing.assert_allclose(net.layers[0].weights, dense1.weights, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reaches_seed_004_accuracy_on_its_task(seed):
    # Seed 004 logs 0.87-0.91 accuracy by epoch 1300-1600 of 10001.
    task = data.spiral(classes=3, points=100, turns=2.5, seed=seed)
    net = Network.mlp([2, 64, 3], rng=seed)
    history = net.fit(task.x, task.y, SGD(lr=1.0, momentum=0.9, decay=1e-3), epochs=10001)
    assert history["accuracy"][-1] >= 0.9


def test_log_lines_have_the_seeds_format():
    task = data.spiral(classes=3, points=20, turns=2.5, seed=0)
    lines = []
    Network.mlp([2, 8, 3], rng=0).fit(task.x, task.y, SGD(lr=1.0, momentum=0.9, decay=1e-3), 201, log=lines.append)
    assert len(lines) == 3
    assert lines[0].startswith("epoch: 0, acc: ") and lines[0].endswith("lr: 1.0")
    # Like the seed, a line shows the rate of the latest update: 99 updates precede epoch 100's line.
    assert lines[1].endswith(f"lr: {1.0 * (1.0 / (1 + 1e-3 * 99))}")


def test_sgd_keeps_buffers_itself_and_uses_the_form():
    params = [np.ones(3)]
    sgd = SGD(lr=0.5, momentum=0.9, form="pytorch")
    sgd.step(params, [np.ones(3)])
    sgd.step(params, [np.ones(3)])
    # pytorch form: b1 = g = 1, b2 = 0.9 + 1 = 1.9; p = 1 - 0.5·1 - 0.5·1.9
    np.testing.assert_allclose(params[0], 1 - 0.5 - 0.95)
    assert not hasattr(params[0], "weight_momentums")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"lr": -1.0}, "Invalid learning rate: -1.0"),
    ({"momentum": -0.1}, "Invalid momentum value: -0.1"),
    ({"decay": -1e-3}, "Invalid decay value: -0.001"),
    ({"momentum": 0.9, "dampening": 0.1, "nesterov": True}, "Nesterov momentum requires"),
])
def test_sgd_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SGD(**kwargs)
