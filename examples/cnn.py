"""A small CNN for scikit-learn's 8×8 digits, to compare momenta on a network of your own:

    inertia compare --model examples.cnn:cnn --dataset digits --momenta 0,0.5,0.9 --epochs 10 --batch-size 32

``cnn(seed)`` returns the network; inertia calls it once per run with torch's generator seeded by ``seed``, so
every momentum of one seed starts from the same weights. Each row of the digits is the 64 pixels of one image.
"""

from torch import nn


def cnn(seed: int) -> nn.Module:
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),                    # 64 pixels -> one 8×8 channel
        nn.Conv2d(1, 8, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 8 × 4×4
        nn.Conv2d(8, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 16 × 2×2
        nn.Flatten(), nn.Linear(16 * 2 * 2, 10),       # logits of the 10 digits
    )
