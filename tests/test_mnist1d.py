"""MNIST-1D: generated here, checked against the reference generator (the ``mnist1d`` package) where installed."""

import numpy as np
import pytest

from inertia import data
from inertia.mnist1d import Settings, generate, templates


def test_defaults_are_the_reference_shape():
    d = data.mnist1d()
    assert d.name == "mnist1d" and d.classes == 10
    assert d.x.shape == (4000, 40) and d.test.x.shape == (1000, 40)
    assert d.x.dtype == np.float32 and d.test.y.dtype == np.int64
    counts = np.bincount(np.r_[d.y, d.test.y], minlength=10)
    assert (counts == 500).all()  # 500 per class before the split
    whole = np.r_[d.x, d.test.x].astype(np.float64)
    assert abs(whole.mean()) < 1e-6 and abs(whole.std() - 1) < 1e-5


@pytest.mark.parametrize("seed,samples,split", [(42, 5000, 0.8), (3, 1000, 0.7)])
def test_equals_the_reference_generator(seed, samples, split):
    reference = pytest.importorskip("mnist1d.data")
    args = reference.get_dataset_args()
    args.seed, args.num_samples, args.train_split = seed, samples, split
    expected = reference.make_dataset(args)
    x, y, x_test, y_test = generate(Settings(num_samples=samples, train_split=split, seed=seed))
    np.testing.assert_allclose(x, expected["x"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(x_test, expected["x_test"], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(y, expected["y"])
    np.testing.assert_array_equal(y_test, expected["y_test"])
    np.testing.assert_allclose(templates(), expected["templates"]["x"], rtol=0, atol=1e-15)


def test_seeds_give_different_data_and_the_same_seed_the_same():
    a, b, c = data.mnist1d(samples=200, seed=1), data.mnist1d(samples=200, seed=1), data.mnist1d(samples=200, seed=2)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)


def test_classes_are_learnable_but_not_trivial():
    """Nearest class mean on the raw signals: well above chance (10 %), well below perfect (MNIST-1D is built so
    that linear models reach ~30-40 % and MLPs ~70 %)."""
    d = data.mnist1d()
    means = np.stack([d.x[d.y == k].mean(0) for k in range(10)])
    predicted = np.argmin(((d.test.x[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    accuracy = (predicted == d.test.y).mean()
    assert 0.15 < accuracy < 0.6


@pytest.mark.parametrize("field,value", [("num_samples", 5), ("train_split", 1.0), ("padding", (10, 5)),
                                         ("max_translation", 0), ("final_seq_length", 1)])
def test_bad_settings_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        Settings(**{field: value})


def test_by_name_in_get_and_in_sweep_specs():
    from inertia.sweeps.run import canonical, dataset_of

    assert data.get("mnist1d").x.shape == (4000, 40)
    assert "mnist1d" in data.NAMES
    small = dataset_of(canonical({"name": "mnist1d", "samples": 300, "seed": 5}))
    assert len(small) == 240 and len(small.test) == 60


def test_test_split_must_match_the_training_split():
    d = data.spiral(points=10, seed=0)
    with pytest.raises(data.DataError, match="test split"):
        data.Dataset(d.x, d.y, 3, "s", test=data.Dataset(np.zeros((4, 3)), np.array([0, 1, 2, 0]), 3, "t"))
