"""Data sets for momentum experiments, and validation of user data.

Every loader returns a :class:`Dataset`: float32 features ``x`` of shape (N, D), int64 labels ``y`` in
``0..classes-1``, the number of ``classes`` and a ``name``. Generators take a ``seed``: an int for a private,
reproducible stream, or ``None`` to draw from NumPy's (or for :func:`random_binary`, torch's) global random
state, which is what the seed notebooks do after ``np.random.seed(1)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


class DataError(ValueError):
    """User data that cannot be used as a classification data set."""


@dataclass(frozen=True)
class Dataset:
    """A classification data set: ``x`` (N, D) float32, ``y`` (N,) int64 in ``0..classes-1``; ``test``, where
    the data set has one, is its held-out split (a :class:`Dataset` of the same features and classes), which
    training never sees."""

    x: np.ndarray
    y: np.ndarray
    classes: int
    name: str
    test: Dataset | None = None

    def __post_init__(self) -> None:
        x = np.ascontiguousarray(self.x, dtype=np.float32)
        y = np.ascontiguousarray(self.y, dtype=np.int64)
        if x.ndim != 2:
            raise DataError(f"{self.name}: x must be 2-D (samples, features), got shape {x.shape}")
        if y.shape != (x.shape[0],):
            raise DataError(f"{self.name}: y must have shape ({x.shape[0]},) to match x, got {y.shape}")
        _check_finite(x, self.name)
        _check_labels(y, self.classes, self.name)
        if self.test is not None and (self.test.features != x.shape[1] or self.test.classes != self.classes):
            raise DataError(f"{self.name}: the test split has {self.test.features} features and {self.test.classes} "
                            f"classes, the training split {x.shape[1]} and {self.classes}")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    def __len__(self) -> int:
        return len(self.y)

    @property
    def features(self) -> int:
        return self.x.shape[1]

    def tensors(self, device="cpu", dtype=None):
        """``(x, y)`` as torch tensors on ``device`` (x in ``dtype``, float32 by default)."""
        import torch

        x = torch.from_numpy(self.x).to(device=device, dtype=dtype or torch.float32)
        return x, torch.from_numpy(self.y).to(device)


def _check_finite(x: np.ndarray, name: str, columns: list[str] | None = None) -> None:
    bad = ~np.isfinite(x)
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        where = f"column {columns[col]!r}" if columns else f"feature {col}"
        raise DataError(
            f"{name}: {int(bad.sum())} value(s) are NaN or infinite; the first is at row {row}, {where}. "
            "Remove or impute them before training."
        )


def _check_labels(y: np.ndarray, classes: int, name: str) -> None:
    if classes < 2:
        raise DataError(f"{name}: a classification data set needs at least 2 classes, got {classes}")
    present = np.unique(y)
    if present.size and (present[0] < 0 or present[-1] >= classes):
        raise DataError(
            f"{name}: labels must be integers in 0..{classes - 1}; found {_preview(present)}"
        )


def _preview(values: np.ndarray, limit: int = 8) -> str:
    shown = ", ".join(str(v) if isinstance(v, (int, float, np.number)) else repr(str(v)) for v in values[:limit])
    return f"[{shown}{', ...' if len(values) > limit else ''}]"


def _rng(seed: int | np.random.RandomState | None) -> np.random.RandomState:
    """NumPy's legacy stream: ``RandomState(s)`` draws exactly what ``np.random.seed(s)`` would."""
    if seed is None:
        return np.random.mtrand._rand
    if isinstance(seed, np.random.RandomState):
        return seed
    return np.random.RandomState(seed)


def _check_counts(classes: int, points: int) -> None:
    if not isinstance(classes, (int, np.integer)) or classes < 2:
        raise DataError(f"classes must be an integer >= 2, got {classes!r}")
    if not isinstance(points, (int, np.integer)) or points < 1:
        raise DataError(f"points must be a positive integer (points per class), got {points!r}")


def spiral(classes: int = 3, points: int = 500, noise: float = 0.2, turns: float = 1.0, seed=None) -> Dataset:
    """The lab's spiral: ``classes`` arms of ``points`` each (cs231n's generator, as in the seed notebooks).

    For arm j: radius ``r = linspace(0, 1, points)``, angle ``t = linspace(4j, 4(j+1), points) + noise·N(0,1)``,
    point ``(r·sin(turns·t), r·cos(turns·t))``. ``turns=2.5`` is seed 004's tighter variant.
    """
    _check_counts(classes, points)
    if noise < 0:
        raise DataError(f"noise must be >= 0, got {noise}")
    rng = _rng(seed)
    x = np.zeros((points * classes, 2))
    y = np.zeros(points * classes, dtype=np.int64)
    for j in range(classes):
        ix = slice(points * j, points * (j + 1))
        r = np.linspace(0.0, 1, points)
        t = np.linspace(j * 4, (j + 1) * 4, points) + rng.randn(points) * noise
        x[ix] = np.c_[r * np.sin(t * turns), r * np.cos(t * turns)]
        y[ix] = j
    return Dataset(x, y, classes, "spiral")


def moons(points: int = 500, noise: float = 0.1, seed=None) -> Dataset:
    """Two interleaving half circles, ``points`` per class, with Gaussian ``noise``."""
    _check_counts(2, points)
    rng = _rng(seed)
    angle = np.linspace(0, np.pi, points)
    upper = np.c_[np.cos(angle), np.sin(angle)]
    lower = np.c_[1 - np.cos(angle), 0.5 - np.sin(angle)]
    x = np.vstack([upper, lower]) + rng.randn(2 * points, 2) * noise
    return Dataset(x, np.repeat([0, 1], points), 2, "moons")


def circles(points: int = 500, noise: float = 0.05, factor: float = 0.5, seed=None) -> Dataset:
    """Two concentric circles (outer class 0, inner class 1 at radius ``factor``)."""
    _check_counts(2, points)
    if not 0 < factor < 1:
        raise DataError(f"factor must be in (0, 1), got {factor}")
    rng = _rng(seed)
    angle = np.linspace(0, 2 * np.pi, points, endpoint=False)
    ring = np.c_[np.cos(angle), np.sin(angle)]
    x = np.vstack([ring, factor * ring]) + rng.randn(2 * points, 2) * noise
    return Dataset(x, np.repeat([0, 1], points), 2, "circles")


def blobs(classes: int = 3, points: int = 500, std: float = 1.0, features: int = 2, seed=None) -> Dataset:
    """Isotropic Gaussian blobs with centres drawn uniformly in [-10, 10]^features."""
    _check_counts(classes, points)
    rng = _rng(seed)
    centres = rng.uniform(-10, 10, size=(classes, features))
    x = np.repeat(centres, points, axis=0) + rng.randn(classes * points, features) * std
    return Dataset(x, np.repeat(np.arange(classes), points), classes, "blobs")


def random_binary(dim: int = 1000, seed=None) -> Dataset:
    """Seed 003's task: ``dim`` samples of ``dim`` standard-normal features, the first half labelled 0.

    Drawn with torch (``torch.randn((dim, dim), dtype=float64)``, as the seed does) so that a torch seed
    reproduces the seed's tensor exactly; ``seed=None`` uses torch's global generator.
    """
    import torch

    if not isinstance(dim, (int, np.integer)) or dim < 2:
        raise DataError(f"dim must be an integer >= 2, got {dim!r}")
    generator = None if seed is None else torch.Generator().manual_seed(int(seed))
    x = torch.randn((dim, dim), dtype=torch.float64, generator=generator).numpy()
    y = np.r_[np.zeros(dim // 2), np.ones(dim - dim // 2)]
    return Dataset(x, y, 2, "random_binary")


def digits() -> Dataset:
    """scikit-learn's 8×8 handwritten digits (1797 samples, 64 features scaled to [0, 1], 10 classes)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("digits() needs scikit-learn: pip install 'inertia[digits]'") from exc
    bunch = load_digits()
    return Dataset(bunch.data / 16.0, bunch.target, 10, "digits")


def mnist1d(samples: int = 5000, train_split: float = 0.8, seed: int = 42) -> Dataset:
    """MNIST-1D (Greydanus 2020), generated here with the reference generator's parameters
    (:mod:`inertia.mnist1d`): 40 features, 10 classes; by default 4,000 training examples and a held-out
    ``test`` split of 1,000."""
    from inertia import mnist1d as generator

    x, y, x_test, y_test = generator.generate(generator.Settings(num_samples=samples, train_split=train_split,
                                                                 seed=seed))
    return Dataset(x, y, 10, "mnist1d", test=Dataset(x_test, y_test, 10, "mnist1d (test)"))


def load_table(path: str | Path, label: str = "label") -> Dataset:
    """A data set from a CSV file (one column named ``label``, the rest numeric features) or an NPZ file
    (arrays ``x`` and ``label``, or ``x`` and ``y``). Labels must be integers ``0..K-1`` with K >= 2."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        x, y, columns = _read_npz(path, label)
    elif suffix in (".csv", ".tsv"):
        x, y, columns = _read_csv(path, label)
    else:
        raise DataError(f"{path}: unsupported file type {suffix!r}; use .csv, .tsv or .npz")
    name = path.stem
    if x.shape[0] == 0:
        raise DataError(f"{path}: the file has no rows")
    _check_finite(x, name, columns)
    y = _integer_labels(y, name, label)
    classes = int(y.max()) + 1 if y.size else 0
    if np.unique(y).size < 2:
        raise DataError(f"{name}: a classification data set needs at least 2 classes; found {_preview(np.unique(y))}")
    return Dataset(x, y, classes, name)


def _read_csv(path: Path, label: str):
    import pandas as pd

    try:
        frame = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc})") from exc
    if label not in frame.columns:
        raise DataError(
            f"{path}: no label column {label!r}; columns are {list(frame.columns)}. Pass label=<column name>."
        )
    if frame.empty:
        raise DataError(f"{path}: the file has no rows")
    features = frame.drop(columns=[label])
    if features.shape[1] == 0:
        raise DataError(f"{path}: no feature columns besides the label column {label!r}")
    non_numeric = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if non_numeric:
        raise DataError(
            f"{path}: feature columns must be numeric; non-numeric: {non_numeric}. Encode or drop them."
        )
    return features.to_numpy(dtype=np.float64), frame[label].to_numpy(), [str(c) for c in features.columns]


def _read_npz(path: Path, label: str):
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable NPZ file ({exc})") from exc
    keys = set(archive.files)
    label_key = label if label in keys else "y" if "y" in keys else None
    if "x" not in keys or label_key is None:
        raise DataError(f"{path}: an NPZ data set needs arrays 'x' and {label!r} (or 'y'); found {sorted(keys)}")
    x = archive["x"]
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{path}: array 'x' must be numeric, got dtype {x.dtype}")
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise DataError(f"{path}: array 'x' must be 2-D (samples, features), got shape {x.shape}")
    y = archive[label_key]
    if y.shape != (x.shape[0],):
        raise DataError(f"{path}: labels must have shape ({x.shape[0]},) to match 'x', got {y.shape}")
    return x.astype(np.float64), y, None


def _integer_labels(y: np.ndarray, name: str, label: str) -> np.ndarray:
    if not np.issubdtype(y.dtype, np.number):
        raise DataError(
            f"{name}: label column {label!r} must hold integers 0..K-1; found non-numeric values "
            f"{_preview(np.unique(y.astype(str)))}"
        )
    if np.issubdtype(y.dtype, np.floating):
        if not np.isfinite(y).all():
            raise DataError(f"{name}: label column {label!r} has missing (NaN) values")
        if not np.equal(np.mod(y, 1), 0).all():
            raise DataError(f"{name}: label column {label!r} must hold integers 0..K-1; found fractional values")
    y = y.astype(np.int64)
    present = np.unique(y)
    if present[0] != 0 or present[-1] != present.size - 1:
        raise DataError(
            f"{name}: labels must be the integers 0..K-1 with every class present; found {_preview(present)}"
        )
    return y


GENERATORS = {"spiral": spiral, "moons": moons, "circles": circles, "blobs": blobs}
NAMES = (*GENERATORS, "digits", "mnist1d")


def get(name: str, seed=None) -> Dataset:
    """A data set by name (``spiral``, ``moons``, ``circles``, ``blobs``, ``digits``, ``mnist1d``) or a CSV/NPZ
    path. ``seed`` applies to the generated 2-D sets; ``digits`` and ``mnist1d`` are fixed data sets (``mnist1d`` is
    the reference's own, seed 42: :func:`mnist1d` makes others)."""
    if name in GENERATORS:
        return GENERATORS[name](seed=seed)
    if name == "digits":
        return digits()
    if name == "mnist1d":
        return mnist1d()
    if Path(name).suffix.lower() in (".csv", ".tsv", ".npz"):
        return load_table(name)
    raise DataError(f"unknown dataset {name!r}; choose one of {[*NAMES]} or a .csv/.npz path")
