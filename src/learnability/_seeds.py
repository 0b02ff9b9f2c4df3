"""Deterministic seed derivation: every random stream of a run comes from its root seed.

``derive_seed(root, "S_u", "sweep")`` always gives the same 32-bit seed for the same keys, and
different keys give statistically independent streams (numpy's ``SeedSequence`` hashing).
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["derive_seed", "derive_seeds"]


def _key(k: object) -> int:
    return zlib.crc32(str(k).encode())


def derive_seed(root: int, *keys: object) -> int:
    """A 32-bit seed determined by ``root`` and the sequence of ``keys``."""
    seq = np.random.SeedSequence(entropy=int(root), spawn_key=tuple(_key(k) for k in keys))
    return int(seq.generate_state(1, dtype=np.uint32)[0])


def derive_seeds(root: int, n: int, *keys: object) -> list[int]:
    """``n`` distinct seeds for members 0..n-1 of the stream named by ``keys``."""
    return [derive_seed(root, *keys, i) for i in range(n)]
