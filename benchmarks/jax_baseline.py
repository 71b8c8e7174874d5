"""The strongest outside recipe for training many small MLPs at once: JAX, ``jit(vmap(epoch))`` with a
``lax.scan`` over minibatches. Each member has its own learning rate, momentum (torch's form: v = m·v + g,
p −= lr·v), initial weights (nn.Linear's distribution) and shuffled order every epoch; after each epoch its
full-data loss and accuracy, as inertia's population engine reports them. ``lax.scan`` needs minibatches of one
size, so an epoch here is ``n // batch`` full minibatches (inertia also trains on the short last one: 1 % more
work on digits, none on the spiral).

    python benchmarks/jax_baseline.py --layers 2,50,3 --size 1000 --epochs 3
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path


def available() -> bool:
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


def run(x, y, layers, size: int, epochs: int, batch: int = 20, seed: int = 0) -> dict:
    """Train ``size`` members for ``epochs``; returns seconds end to end (initial weights, compilation, every
    epoch, results on the host), the compilation, and per epoch once running."""
    import jax
    import jax.numpy as jnp

    started = time.perf_counter()
    x, y = jnp.asarray(x), jnp.asarray(y)
    n = x.shape[0]
    steps = n // batch
    keys = jax.random.split(jax.random.PRNGKey(seed), size)
    lr = jnp.full(size, 0.05, dtype=jnp.float32)
    momentum = jnp.asarray([(0.0, 0.5, 0.9)[i % 3] for i in range(size)], dtype=jnp.float32)

    def init(key):
        params = []
        for n_in, n_out in itertools.pairwise(layers):
            key, kw, kb = jax.random.split(key, 3)
            bound = 1.0 / n_in**0.5
            params.append((jax.random.uniform(kw, (n_in, n_out), minval=-bound, maxval=bound),
                           jax.random.uniform(kb, (n_out,), minval=-bound, maxval=bound)))
        return params

    def forward(params, a):
        for w, b in params[:-1]:
            a = jax.nn.relu(a @ w + b)
        w, b = params[-1]
        return a @ w + b

    def loss(params, bx, by):
        logp = jax.nn.log_softmax(forward(params, bx))
        return -jnp.take_along_axis(logp, by[:, None], axis=1).mean()

    def epoch(params, velocity, key, lr, momentum):
        order = jax.random.permutation(key, n)[: steps * batch].reshape(steps, batch)

        def step(carry, index):
            params, velocity = carry
            value, grads = jax.value_and_grad(loss)(params, x[index], y[index])
            velocity = jax.tree_util.tree_map(lambda v, g: momentum * v + g, velocity, grads)
            params = jax.tree_util.tree_map(lambda p, v: p - lr * v, params, velocity)
            return (params, velocity), value

        (params, velocity), values = jax.lax.scan(step, (params, velocity), order)
        logits = forward(params, x)
        full = -jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1).mean()
        correct = (logits.argmax(axis=1) == y).sum()
        return params, velocity, values.mean(), full, correct

    train = jax.jit(jax.vmap(epoch))
    params = jax.jit(jax.vmap(init))(keys)
    velocity = jax.tree_util.tree_map(jnp.zeros_like, params)
    compiled_at = time.perf_counter()
    compiled = train.lower(params, velocity, keys, lr, momentum).compile()
    compile_s = time.perf_counter() - compiled_at
    marks = []
    fold = jax.jit(jax.vmap(jax.random.fold_in, in_axes=(0, None)))
    for e in range(epochs):
        keys = fold(keys, e)
        params, velocity, mean, full, correct = compiled(params, velocity, keys, lr, momentum)
        jax.device_get((mean, full, correct))  # each epoch's records on the host, as inertia's
        marks.append(time.perf_counter())
    seconds = time.perf_counter() - started
    per_epoch = (marks[-1] - marks[0]) / (len(marks) - 1) if len(marks) > 1 else float("nan")
    return {"seconds": seconds, "compile_s": compile_s, "epoch_seconds": per_epoch,
            "device": str(jax.devices()[0].platform)}


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks.* importable when run as a script
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", default="2,50,3")
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    from benchmarks.common import dataset_for

    layers = [int(w) for w in args.layers.split(",")]
    dataset = dataset_for(layers)
    print(json.dumps(run(dataset.x, dataset.y, layers, args.size, args.epochs)))


if __name__ == "__main__":
    main()
