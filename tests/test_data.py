import numpy as np
import pytest
import torch
from notebook_lab import Data, spiral_data

from inertia import data
from inertia.data import DataError, Dataset

GENERATED = [
    ("spiral", lambda s: data.spiral(seed=s), 1500, 2, 3),
    ("spiral 4 classes x 10", lambda s: data.spiral(classes=4, points=10, seed=s), 40, 2, 4),
    ("moons", lambda s: data.moons(points=100, seed=s), 200, 2, 2),
    ("circles", lambda s: data.circles(points=100, seed=s), 200, 2, 2),
    ("blobs", lambda s: data.blobs(classes=5, points=20, features=3, seed=s), 100, 3, 5),
    ("random_binary", lambda s: data.random_binary(dim=50, seed=s), 50, 50, 2),
]


@pytest.mark.parametrize(("name", "make", "n", "features", "classes"), GENERATED, ids=[g[0] for g in GENERATED])
def test_generators_shape_dtype_and_determinism(name, make, n, features, classes):
    a, b, other = make(3), make(3), make(4)
    assert isinstance(a, Dataset)
    assert a.x.shape == (n, features) and a.x.dtype == np.float32
    assert a.y.shape == (n,) and a.y.dtype == np.int64
    assert a.classes == classes and set(np.unique(a.y)) == set(range(classes))
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, other.x)


def test_spiral_is_the_seed_lab_data_exactly():
    np.random.seed(1)
    notebook = Data()
    ours = data.spiral(seed=1)
    np.testing.assert_array_equal(ours.x, notebook.x.numpy())
    np.testing.assert_array_equal(ours.y, notebook.y.numpy())


def test_spiral_without_seed_draws_from_numpy_global_state_like_the_notebook():
    np.random.seed(7)
    notebook = Data(K=3, N=50)
    np.random.seed(7)
    ours = data.spiral(points=50)
    np.testing.assert_array_equal(ours.x, notebook.x.numpy())


@pytest.mark.parametrize("seed", [0, 5])
def test_spiral_turns_2_5_is_seed_004s_variant(seed):
    np.random.seed(seed)
    x, y = spiral_data(samples=100, classes=3)
    ours = data.spiral(classes=3, points=100, turns=2.5, seed=seed)
    np.testing.assert_array_equal(ours.x, x.astype(np.float32))
    np.testing.assert_array_equal(ours.y, y)


def test_spiral_formula_without_noise():
    d = data.spiral(classes=2, points=5, noise=0.0, seed=0)
    r = np.linspace(0, 1, 5)
    t = np.linspace(4, 8, 5)  # arm 1
    np.testing.assert_allclose(d.x[5:], np.c_[r * np.sin(t), r * np.cos(t)], rtol=1e-6)


def test_random_binary_matches_seed_003_tensor():
    torch.manual_seed(11)
    x = torch.randn((20, 20), dtype=float)
    y = torch.cat((torch.zeros(20 // 2, dtype=float), torch.ones(20 // 2, dtype=float)))
    ours = data.random_binary(dim=20, seed=11)
    np.testing.assert_array_equal(ours.x, x.numpy().astype(np.float32))
    np.testing.assert_array_equal(ours.y, y.numpy())


def test_digits_is_scikit_learns_shipped_set():
    pytest.importorskip("sklearn")
    d = data.digits()
    assert d.x.shape == (1797, 64) and d.classes == 10
    assert d.x.min() >= 0.0 and d.x.max() <= 1.0


def test_get_by_name_and_unknown_name():
    assert data.get("moons", seed=0).name == "moons"
    with pytest.raises(DataError, match="unknown dataset 'spirals'"):
        data.get("spirals")


def test_load_table_csv_and_npz(tmp_path):
    csv = tmp_path / "points.csv"
    csv.write_text("a,b,label\n0.5,1,0\n-1,2,1\n3,0.25,2\n1,1,1\n")
    d = data.load_table(csv)
    assert d.x.shape == (4, 2) and d.classes == 3 and d.name == "points"
    np.testing.assert_array_equal(d.y, [0, 1, 2, 1])

    npz = tmp_path / "arrays.npz"
    np.savez(npz, x=np.arange(8.0).reshape(4, 2), y=np.array([1, 0, 1, 0]))
    d = data.load_table(npz)
    assert d.x.shape == (4, 2) and d.classes == 2


def test_load_table_other_label_column(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("target,f\n0,1.0\n1,2.0\n")
    assert data.load_table(csv, label="target").classes == 2


CSV_ERRORS = [
    ("NaN feature", "a,b,label\n1,,0\n2,3,1\n", "label", "NaN or infinite; the first is at row 0, column 'b'"),
    ("infinite feature", "a,label\ninf,0\n2,1\n", "label", "NaN or infinite"),
    ("non-numeric feature", "a,colour,label\n1,red,0\n2,blue,1\n", "label", "non-numeric: ['colour']"),
    ("missing label column", "a,b\n1,2\n3,4\n", "label", "no label column 'label'; columns are ['a', 'b']"),
    ("labels not starting at 0", "a,label\n1,1\n2,2\n3,3\n", "label",
     "0..K-1 with every class present; found [1, 2, 3]"),
    ("a class missing", "a,label\n1,0\n2,2\n", "label", "found [0, 2]"),
    ("negative label", "a,label\n1,-1\n2,0\n", "label", "found [-1, 0]"),
    ("one class", "a,label\n1,0\n2,0\n", "label", "at least 2 classes"),
    ("fractional labels", "a,label\n1,0.5\n2,1\n", "label", "fractional values"),
    ("string labels", "a,label\n1,cat\n2,dog\n", "label", "non-numeric values ['cat', 'dog']"),
    ("missing label", "a,label\n1,\n2,1\n3,0\n", "label", "missing (NaN) values"),
    ("no feature columns", "label\n0\n1\n", "label", "no feature columns"),
    ("no rows", "a,label\n", "label", "no rows"),
]


@pytest.mark.parametrize(("description", "text", "label", "message"), CSV_ERRORS, ids=[e[0] for e in CSV_ERRORS])
def test_load_table_errors(tmp_path, description, text, label, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        data.load_table(path, label=label)
    assert message in str(info.value), description


def test_load_table_file_errors(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        data.load_table(tmp_path / "absent.csv")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(DataError, match=r"unsupported file type '\.json'"):
        data.load_table(tmp_path / "x.json")
    np.savez(tmp_path / "bad.npz", features=np.zeros((2, 2)))
    with pytest.raises(DataError, match="needs arrays 'x' and 'label'"):
        data.load_table(tmp_path / "bad.npz")
    np.savez(tmp_path / "short.npz", x=np.zeros((3, 2)), y=np.array([0, 1]))
    with pytest.raises(DataError, match=r"labels must have shape \(3,\)"):
        data.load_table(tmp_path / "short.npz")


DATASET_ERRORS = [
    ("1-D x", np.zeros(3), np.zeros(3), 2, "x must be 2-D"),
    ("y length", np.zeros((3, 2)), np.zeros(2), 2, "y must have shape (3,)"),
    ("NaN in x", np.array([[np.nan], [0.0]]), np.array([0, 1]), 2, "NaN or infinite"),
    ("label beyond classes", np.zeros((2, 1)), np.array([0, 2]), 2, "labels must be integers in 0..1"),
    ("one class", np.zeros((2, 1)), np.array([0, 0]), 1, "at least 2 classes"),
]


@pytest.mark.parametrize(("description", "x", "y", "classes", "message"), DATASET_ERRORS,
                         ids=[e[0] for e in DATASET_ERRORS])
def test_dataset_validation(description, x, y, classes, message):
    with pytest.raises(DataError) as info:
        Dataset(x, y, classes, "d")
    assert message in str(info.value), description


@pytest.mark.parametrize(("call", "message"), [
    (lambda: data.spiral(classes=1), "classes must be an integer >= 2"),
    (lambda: data.spiral(points=0), "points must be a positive integer"),
    (lambda: data.spiral(noise=-1), "noise must be >= 0"),
    (lambda: data.circles(factor=1.5), "factor must be in (0, 1)"),
    (lambda: data.random_binary(dim=1), "dim must be an integer >= 2"),
])
def test_generator_argument_errors(call, message):
    with pytest.raises(DataError) as info:
        call()
    assert message in str(info.value)
