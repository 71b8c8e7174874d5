"""The memory model: how many members fit in a chunk, from each engine's working set per member."""

from __future__ import annotations

import itertools

import torch

from inertia.population.layout import lanes_per_vector


def member_bytes(layers, n, batch_size, dtype, engine="torch") -> tuple[int, int]:
    """Estimated working set of one member: while training (parameters, buffers, gradients and update
    temporaries; a minibatch's activations; its data order) and while evaluating on all ``n`` points. The
    Triton engine keeps activations and gradients in registers or in a scratch per program, not per member:
    parameters, buffers, data order and rates."""
    item = torch.empty((), dtype=dtype).element_size()
    params = sum((a + 1) * b for a, b in itertools.pairwise(layers))
    if engine == "triton":
        training = item * (2 * params + -(-n // batch_size)) + 4 * n + 16
        return training, training
    training = item * (6 * params + 6 * batch_size * sum(layers)) + 8 * n
    return training, item * 3 * n * sum(layers[1:])


def chunk_sizes(layers, n, batch_size, members, device, dtype, budget, engine="torch") -> tuple[int, int]:
    """Members per training chunk and per evaluation pass that fit in ``budget`` bytes."""
    if budget is None:
        budget = torch.cuda.mem_get_info(device)[0] // 2 if device.type == "cuda" else 1 << 30
    training, evaluating = member_bytes(layers, n, batch_size, dtype, engine)
    chunk = max(1, min(members, budget // training))
    if engine == "lanes" and chunk < members:  # whole groups of lanes (16 float32 members, 8 float64)
        group = lanes_per_vector(dtype)
        chunk = max(group, chunk // group * group)
    return chunk, max(1, min(members, budget // evaluating))


