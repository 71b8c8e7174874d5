"""MNIST-1D (Greydanus 2020), generated procedurally: ten 1-D digit templates of 12 points, each example padded,
dilated, scaled, translated, given correlated and i.i.d. noise, sheared and resampled to 40 points.

The parameters and defaults are the reference generator's (``mnist1d.data.get_dataset_args``): 5,000 examples,
the first 80 % (4,000) for training and the rest (1,000) held out, seed 42. With the same seed the numbers are
the reference's to float round-off (tested against ``mnist1d.data.make_dataset`` where that package is
installed): the draws come from NumPy's legacy stream in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The ten templates (digits 0-9), 12 points each, as the reference draws them.
TEMPLATES = np.array([
    [5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5],
    [5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5],
    [5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5],
    [5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5],
    [5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5],
    [5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5],
    [5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5],
    [5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5],
])


@dataclass(frozen=True)
class Settings:
    """The generator's parameters (the reference's names and defaults)."""

    num_samples: int = 5000
    train_split: float = 0.8
    template_len: int = 12
    padding: tuple[int, int] = (36, 60)
    scale_coeff: float = 0.4
    max_translation: int = 48
    corr_noise_scale: float = 0.25
    iid_noise_scale: float = 2e-2
    shear_scale: float = 0.75
    final_seq_length: int = 40
    seed: int = 42

    def __post_init__(self) -> None:
        if not isinstance(self.num_samples, (int, np.integer)) or self.num_samples < 20:
            raise ValueError(f"num_samples must be an integer >= 20 (10 classes, two splits), got {self.num_samples!r}")
        if not 0 < self.train_split < 1:
            raise ValueError(f"train_split must be in (0, 1), got {self.train_split}")
        low, high = self.padding
        if not 0 <= low <= high:
            raise ValueError(f"padding must be (low, high) with 0 <= low <= high, got {self.padding}")
        if not 1 <= self.max_translation <= self.template_len + high:
            raise ValueError(f"max_translation must be in 1..{self.template_len + high}, got {self.max_translation}")
        if self.final_seq_length < 2:
            raise ValueError(f"final_seq_length must be >= 2, got {self.final_seq_length}")


def templates() -> np.ndarray:
    """The templates whitened, starting and ending at 0, scaled by 1/6 (10 x 12)."""
    x = TEMPLATES - TEMPLATES.mean(1, keepdims=True)
    x /= x.std(1, keepdims=True)
    x -= x[:, :1]
    return x / 6.0


def generate(settings: Settings = Settings()) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_test, y_test)``: float64 signals of ``final_seq_length`` (the whole set centred
    and scaled to unit standard deviation) and int64 labels 0-9."""
    from scipy.ndimage import gaussian_filter1d

    rng = np.random.RandomState(settings.seed)
    shapes = templates()
    per_class = settings.num_samples // len(shapes)
    length = settings.template_len + settings.padding[1]
    xs = np.empty((per_class * len(shapes), settings.final_seq_length))
    for label, template in enumerate(shapes):
        for i in range(per_class):
            low, high = settings.padding
            pad = low + int(rng.rand() * (high - low + 1))
            signal = _resample(np.concatenate([template + 1e-8, np.zeros(pad)]), length)
            signal *= 1 + settings.scale_coeff * (rng.rand() - 0.5)
            k = rng.choice(settings.max_translation)
            signal = np.concatenate([signal[-k:], signal[:-k]])  # k = 0 keeps the signal as it is
            noise = gaussian_filter1d(settings.corr_noise_scale * rng.randn(length), 2)
            signal = np.where(signal != 0, signal, noise)
            signal = signal + settings.iid_noise_scale * rng.randn(length)
            signal = signal - settings.shear_scale * (rng.rand() - 0.5) * np.linspace(-0.5, 0.5, length)
            xs[label * per_class + i] = _resample(signal, settings.final_seq_length)
    ys = np.repeat(np.arange(len(shapes)), per_class)
    order = rng.permutation(len(ys))
    xs, ys = xs[order], ys[order]
    xs = (xs - xs.mean()) / xs.std()
    split = int(len(ys) * settings.train_split)
    return xs[:split], ys[:split], xs[split:], ys[split:]


def _resample(x: np.ndarray, n: int) -> np.ndarray:
    """Linear interpolation of ``x`` (on [0, 1]) at ``n`` evenly spaced points."""
    return np.interp(np.linspace(0, 1, n), np.linspace(0, 1, len(x)), x)
