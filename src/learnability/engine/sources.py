"""Where a training step's batch comes from: one batch per member, (K, B, ...).

Two regimes:

- :class:`OnlineSource` — a fresh batch per step, drawn by a sampler and labelled by a target
  function (e.g. a frozen teacher), on the training device;
- :class:`FixedSource` — mini-batches of a fixed data set; each member shuffles its own epochs.

Each member k draws from its own ``torch.Generator`` seeded with ``seeds[k]``, so member k sees the
same stream whatever the other members are: an ensemble member and the same model trained alone
get identical batches. Any object with ``start`` and ``next`` (the :class:`BatchSource` protocol)
can feed the training loop — e.g. a study's own augmented-image source.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import torch
from torch import Tensor

from learnability._validation import ParameterError, check_in_range

__all__ = ["BatchSource", "FixedSource", "OnlineSource"]


class BatchSource(Protocol):
    """Feeds the training loop."""

    def start(self, seeds: Sequence[int], device: torch.device) -> None:
        """Begin one stream per member; member k's stream depends on ``seeds[k]`` only."""

    def next(self) -> tuple[Tensor, Tensor]:
        """The next batch: inputs (K, B, ...) and targets (K, B, ...)."""
        ...

    @property
    def steps_per_epoch(self) -> int | None:
        """Steps in one pass over the data (``None`` for online data)."""
        ...


def _generators(seeds: Sequence[int], device: torch.device) -> list[torch.Generator]:
    return [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]


class OnlineSource:
    """Fresh inputs every step, labelled by ``label``.

    Args:
        sample: ``sample(generator, n) -> (n, d)`` draws n inputs from ``generator`` (on its device).
        label: maps inputs (N, d) to targets (N, d_out); called once per chunk for all members.
        batch_size: B.
        chunk_steps: steps drawn per call of ``sample`` (amortises per-call overhead). Member k's
            stream is the same for any K, since its chunk size does not depend on K.
        per_member: ``label`` receives the members' inputs stacked, (K, N, d), and returns
            (K, N, d_out): member k's inputs are labelled by member k's own target (e.g. an
            ensemble whose members each learn their own teacher). Default False: one shared
            target, ``label`` maps (N, d) -> (N, d_out).
    """

    def __init__(
        self,
        sample: Callable[[torch.Generator, int], Tensor],
        label: Callable[[Tensor], Tensor],
        *,
        batch_size: int,
        chunk_steps: int = 16,
        per_member: bool = False,
    ) -> None:
        check_in_range(batch_size, "batch_size", "OnlineSource", low=1, kind=int)
        check_in_range(chunk_steps, "chunk_steps", "OnlineSource", low=1, kind=int)
        self.sample, self.label = sample, label
        self.batch_size, self.chunk_steps = batch_size, chunk_steps
        self.per_member = bool(per_member)
        self._gens: list[torch.Generator] = []
        self._x: Tensor | None = None
        self._y: Tensor | None = None
        self._i = 0

    @property
    def steps_per_epoch(self) -> None:
        return None

    def start(self, seeds: Sequence[int], device: torch.device) -> None:
        self._gens = _generators(seeds, torch.device(device))
        self._x = self._y = None
        self._i = 0

    def _refill(self) -> None:
        C, B = self.chunk_steps, self.batch_size
        xs = [self.sample(g, C * B) for g in self._gens]  # K x (C*B, d)
        x = torch.stack(xs)  # (K, C*B, d)
        K, _, d = x.shape
        with torch.no_grad():
            y = self.label(x) if self.per_member else self.label(x.reshape(K * C * B, d))
        if self.per_member and tuple(y.shape[:2]) != (K, C * B):
            raise ValueError(
                f"a per-member label must return (K, N, d_out) = ({K}, {C * B}, ...); got {tuple(y.shape)}"
            )
        y = y.reshape(K, C, B, -1).transpose(0, 1)  # (C, K, B, d_out)
        self._x = x.reshape(K, C, B, d).transpose(0, 1)  # (C, K, B, d)
        self._y = y
        self._i = 0

    def next(self) -> tuple[Tensor, Tensor]:
        if not self._gens:
            raise RuntimeError("OnlineSource.next() called before start().")
        if self._x is None or self._i == self.chunk_steps:
            self._refill()
        assert self._x is not None and self._y is not None
        i = self._i
        self._i += 1
        return self._x[i], self._y[i]


class FixedSource:
    """Mini-batches of a fixed data set; every member reshuffles independently each epoch.

    Each epoch uses ``N // batch_size`` batches; the ``N % batch_size`` left-over points (different
    ones every epoch, as the order is reshuffled) are skipped so every batch has the same shape.

    Args:
        x: (N, ...) inputs.
        y: (N, ...) targets.
        batch_size: B.
    """

    def __init__(self, x: Tensor, y: Tensor, *, batch_size: int) -> None:
        check_in_range(batch_size, "batch_size", "FixedSource", low=1, high=x.shape[0], kind=int)
        if y.shape[0] != x.shape[0]:
            raise ParameterError(
                "y", "FixedSource", f"an array with {x.shape[0]} rows (as x)", f"array of shape {tuple(y.shape)}"
            )
        self.x, self.y, self.batch_size = x, y, batch_size
        self._gens: list[torch.Generator] = []
        self._order: Tensor | None = None
        self._i = 0

    @property
    def steps_per_epoch(self) -> int:
        return self.x.shape[0] // self.batch_size

    def start(self, seeds: Sequence[int], device: torch.device) -> None:
        device = torch.device(device)
        self.x, self.y = self.x.to(device), self.y.to(device)
        self._gens = _generators(seeds, device)
        self._order = None
        self._i = 0

    def _reshuffle(self) -> None:
        N = self.x.shape[0]
        self._order = torch.stack([torch.randperm(N, generator=g, device=self.x.device) for g in self._gens])
        self._i = 0

    def next(self) -> tuple[Tensor, Tensor]:
        if not self._gens:
            raise RuntimeError("FixedSource.next() called before start().")
        if self._order is None or self._i == self.steps_per_epoch:
            self._reshuffle()
        assert self._order is not None
        B = self.batch_size
        idx = self._order[:, self._i * B : (self._i + 1) * B]  # (K, B)
        self._i += 1
        return self.x[idx], self.y[idx]
