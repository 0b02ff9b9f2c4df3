# ruff: noqa: ANN001, ANN202  (closures over JAX pytrees; their types say nothing useful)
"""JAX reference implementation of W_B, for comparison only (``jax`` is never a dependency).

    pip install -e '.[jax]'      # or: pip install 'jax[cpu]'
    python benchmarks/jax_reference.py [--members 32] [--steps 2000]

W_B as in :mod:`learnability.bench.engine`: residual MLP 6->50, 8 x (50->50 with skip), 50->1,
batch 20, Adam (lr 1e-4), fixed data of 100,000 points, K members as ``jit(vmap)`` of a
``lax.scan`` over blocks of 100 steps (what a researcher who cares about speed writes in JAX). Each
member draws its batch indices inside the scan with its own ``jax.random`` key (uniform indices,
not epochs: slightly cheaper than the engine's shuffled epochs). ``benchmarks/engine_bench.py``
adds this figure to ``learnability bench``'s table when ``jax`` is importable.
"""

from __future__ import annotations

import argparse
import time

N_DATA, BATCH, LR, BLOCK = 100_000, 20, 1e-4, 100
DIMS = (6, *(50,) * 9, 1)


def available() -> bool:
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


def measure_w_b(members: int, steps: int) -> float:
    """Model-steps/s of K = ``members`` W_B models trained with JAX (compilation not counted)."""
    import jax
    import jax.numpy as jnp

    key = jax.random.PRNGKey(0)
    kx, kp, kd = jax.random.split(key, 3)
    x = jax.random.uniform(kx, (N_DATA, 6)) * 2.0
    y = x.sum(axis=1, keepdims=True)
    n_layers = len(DIMS) - 1
    skips = [0 < l < n_layers - 1 and DIMS[l] == DIMS[l + 1] for l in range(n_layers)]

    def init(k):
        params = []
        for l, kl in enumerate(jax.random.split(k, n_layers)):
            bound = 1.0 / DIMS[l] ** 0.5
            kw, kb = jax.random.split(kl)
            params.append(
                (
                    jax.random.uniform(kw, (DIMS[l], DIMS[l + 1]), minval=-bound, maxval=bound),
                    jax.random.uniform(kb, (DIMS[l + 1],), minval=-bound, maxval=bound),
                )
            )
        return params

    def forward(params, h):
        for l, (w, b) in enumerate(params):
            z = h @ w + b
            if l == n_layers - 1:
                return z
            a = jax.nn.relu(z)
            h = h + a if skips[l] else a
        return h

    def loss(params, xb, yb):
        return jnp.mean((forward(params, xb) - yb) ** 2)

    b1, b2, eps = 0.9, 0.999, 1e-8

    def step(carry, _):
        params, m, v, t, k = carry
        k, kb = jax.random.split(k)
        idx = jax.random.randint(kb, (BATCH,), 0, N_DATA)
        value, g = jax.value_and_grad(loss)(params, x[idx], y[idx])
        t = t + 1
        m = jax.tree_util.tree_map(lambda m_, g_: b1 * m_ + (1 - b1) * g_, m, g)
        v = jax.tree_util.tree_map(lambda v_, g_: b2 * v_ + (1 - b2) * g_ * g_, v, g)
        c1, c2 = 1 - b1**t, 1 - b2**t
        params = jax.tree_util.tree_map(
            lambda p, m_, v_: p - LR / c1 * m_ / (jnp.sqrt(v_) / jnp.sqrt(c2) + eps), params, m, v
        )
        return (params, m, v, t, k), value

    def block(params, m, v, t, k):
        (params, m, v, t, k), losses = jax.lax.scan(step, (params, m, v, t, k), None, length=BLOCK)
        return params, m, v, t, k, losses

    run = jax.jit(jax.vmap(block))
    params = jax.vmap(init)(jax.random.split(kp, members))
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    state = (params, zeros, zeros, jnp.zeros(members), jax.random.split(kd, members))
    state = run(*state)[:5]  # compile
    jax.block_until_ready(state)
    blocks = max(1, steps // BLOCK)
    t0 = time.perf_counter()
    for _ in range(blocks):
        *state, losses = run(*state)
        losses.block_until_ready()  # the engine synchronises once per block too
    return blocks * BLOCK * members / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=32)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    if not available():
        raise SystemExit("jax is not installed: pip install 'jax[cpu]'")
    print(f"JAX W_B, K={args.members}: {measure_w_b(args.members, args.steps):,.0f} model-steps/s")


if __name__ == "__main__":
    main()
