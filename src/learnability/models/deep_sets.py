"""Deep Sets (Lab 7): permutation-equivariant layers, an invariant model, and a small set task.

A set of ``n`` elements with ``d`` features each is a tensor ``x`` of shape ``(B, n, d)``; a
permutation ``pi`` of the elements reorders dimension 1.

- :class:`PermutationEquivariant` — Zaheer et al. (2017), eq. (4) and its multi-channel form:
  ``f(x) = sigma(x Lambda + pool(x) Gamma + 1 b^T)``, ``(B, n, d_in) -> (B, n, d_out)``, with
  ``pool(x) = 1 1^T x`` (``"sum"``: every element sees the set's sum, the paper's and the lab's
  ``lambda I + gamma 1 1^T``), ``(1/n) 1 1^T x`` (``"mean"``: the same up to a factor ``1/n``
  that keeps activations independent of the set size), or the feature-wise maximum broadcast
  to every element (``"max"``, the paper's max-pool variant). For ``d_in = d_out = 1`` and
  ``Lambda = lambda``, ``Gamma = gamma`` this is exactly the lab's ``sigma(x (lambda I + gamma
  1 1^T))``. It satisfies ``f(pi x) = pi f(x)`` for every permutation.
- :class:`DeepSets` — the invariant model ``rho(sum_i phi(x)_i)``: equivariant layers ``phi``,
  sum pooling over the elements (``readout``), an MLP head ``rho``; ``f(pi x) = f(x)``.
- :func:`make_set_task` — sets of uniform numbers labelled by their sum or maximum.

All sets in a batch have the same size ``n`` (no padding or masks); different batches may have
different sizes.

Reference: M. Zaheer, S. Kottur, S. Ravanbakhsh, B. Poczos, R. Salakhutdinov, A. Smola,
"Deep Sets", NeurIPS 2017 (arXiv:1703.06114); AdvML UniTS 2024, Lab 7.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from learnability._validation import ParameterError, check_choice, check_in_range
from learnability.models._random import init_default_, make_generator, new_layer

__all__ = [
    "ACTIVATIONS",
    "POOLINGS",
    "SET_TARGETS",
    "DeepSets",
    "PermutationEquivariant",
    "make_set_task",
    "set_pool",
]

#: Activations by name (config-friendly strings).
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "mish": nn.Mish,  # the lab's choice
    "identity": nn.Identity,
}
#: Symmetric poolings over the elements of a set.
POOLINGS = ("sum", "mean", "max")
#: Targets of :func:`make_set_task`.
SET_TARGETS = ("sum", "max")


def set_pool(x: Tensor, pooling: str) -> Tensor:
    """Pool a set over its elements: ``(B, n, d) -> (B, 1, d)`` (sum, mean or max).

    Every pooling is invariant to permutations of dimension 1.
    """
    check_choice(pooling, "pooling", "set_pool", POOLINGS)
    if pooling == "sum":
        return x.sum(dim=1, keepdim=True)
    if pooling == "mean":
        return x.mean(dim=1, keepdim=True)
    return x.amax(dim=1, keepdim=True)


def _check_sets(x: Tensor, d: int, owner: str) -> None:
    if x.ndim != 3 or x.shape[2] != d or x.shape[1] < 1:
        raise ParameterError(
            "x",
            owner,
            f"a tensor of shape (B, n, {d}) with n >= 1",
            f"tensor of shape {tuple(x.shape)}",
        )


class PermutationEquivariant(nn.Module):
    """Permutation-equivariant layer ``sigma(x Lambda + pool(x) Gamma + 1 b^T)``.

    Args:
        in_features: ``d_in``, features per element.
        out_features: ``d_out``.
        pooling: ``"sum"`` (``1 1^T x``, default), ``"mean"`` or ``"max"`` (module docstring).
        activation: ``sigma``, a name in :data:`ACTIVATIONS`.
        bias: add ``b`` (shared by all elements).
        seed: seed for the initial weights (exactly one of ``seed``/``generator``).
        generator: generator for the initial weights.

    Shapes:
        ``x``: ``(B, n, d_in)`` -> ``(B, n, d_out)``.

    Submodules: ``lambda_`` (``x Lambda + b``, a linear layer applied to each element) and
    ``gamma`` (``pool(x) Gamma``, no bias).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        pooling: str = "sum",
        activation: str = "relu",
        bias: bool = True,
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.in_features = check_in_range(in_features, "in_features", owner, low=1, kind=int)
        self.out_features = check_in_range(out_features, "out_features", owner, low=1, kind=int)
        self.pooling = check_choice(pooling, "pooling", owner, POOLINGS)
        self.activation_name = check_choice(activation, "activation", owner, tuple(ACTIVATIONS))
        gen = make_generator(seed, generator, owner)
        self.lambda_ = new_layer(nn.Linear, in_features, out_features, bias=bias)
        self.gamma = new_layer(nn.Linear, in_features, out_features, bias=False)
        init_default_(self.lambda_, gen)
        init_default_(self.gamma, gen)
        self.activation = ACTIVATIONS[activation]()

    @classmethod
    def from_coefficients(
        cls,
        lam: float,
        gamma: float,
        *,
        pooling: str = "sum",
        activation: str = "mish",
        dtype: torch.dtype = torch.float32,
    ) -> PermutationEquivariant:
        """The lab's scalar layer ``sigma(x (lam I + gamma 1 1^T))`` for number sets ``(B, n, 1)``.

        Deterministic (no random draw); ``dtype`` is the parameters' dtype.
        """
        layer = cls(1, 1, pooling=pooling, activation=activation, bias=False, seed=0).to(dtype)
        with torch.no_grad():
            layer.lambda_.weight.fill_(float(lam))
            layer.gamma.weight.fill_(float(gamma))
        return layer

    def forward(self, x: Tensor) -> Tensor:
        """``(B, n, d_in) -> (B, n, d_out)``."""
        _check_sets(x, self.in_features, f"{type(self).__name__}.forward")
        pooled = set_pool(x, self.pooling)  # (B, 1, d_in), broadcast over the n elements
        return self.activation(self.lambda_(x) + self.gamma(pooled))  # (B, n, d_out)


class DeepSets(nn.Module):
    """Permutation-invariant Deep Sets model ``rho(pool_i phi(x)_i)``.

    Args:
        in_features: ``d_in``, features per element.
        out_features: outputs per set.
        phi_hidden: widths of the equivariant layers of ``phi`` (each followed by ``activation``);
            empty: pool the raw elements.
        rho_hidden: widths of the hidden layers of the MLP head ``rho`` (linear + activation);
            its last layer is linear to ``out_features``.
        pooling: pooling inside the equivariant layers (see :class:`PermutationEquivariant`).
        readout: pooling over the elements before ``rho``: ``"sum"`` (Deep Sets' choice,
            default), ``"mean"`` or ``"max"``.
        activation: a name in :data:`ACTIVATIONS`.
        seed: seed for the initial weights (exactly one of ``seed``/``generator``).
        generator: generator for the initial weights.

    Shapes:
        ``x``: ``(B, n, d_in)`` -> ``(B, out_features)``; :meth:`embed`: ``(B, n, phi_hidden[-1])``.

    Submodules: ``phi`` (``nn.Sequential`` of :class:`PermutationEquivariant`), ``rho``
    (``nn.Sequential``).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int = 1,
        *,
        phi_hidden: Sequence[int] = (64, 64),
        rho_hidden: Sequence[int] = (64,),
        pooling: str = "sum",
        readout: str = "sum",
        activation: str = "relu",
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.in_features = check_in_range(in_features, "in_features", owner, low=1, kind=int)
        check_in_range(out_features, "out_features", owner, low=1, kind=int)
        for w in (*phi_hidden, *rho_hidden):
            check_in_range(w, "phi_hidden/rho_hidden", owner, low=1, kind=int)
        self.readout = check_choice(readout, "readout", owner, POOLINGS)
        check_choice(activation, "activation", owner, tuple(ACTIVATIONS))
        gen = make_generator(seed, generator, owner)

        widths = [in_features, *phi_hidden]
        self.phi = nn.Sequential(
            *[
                PermutationEquivariant(a, b, pooling=pooling, activation=activation, generator=gen)
                for a, b in itertools.pairwise(widths)
            ]
        )
        head: list[nn.Module] = []
        dims = [widths[-1], *rho_hidden, out_features]
        for k, (a, b) in enumerate(itertools.pairwise(dims)):
            linear = new_layer(nn.Linear, a, b)
            init_default_(linear, gen)
            head.append(linear)
            if k < len(dims) - 2:
                head.append(ACTIVATIONS[activation]())
        self.rho = nn.Sequential(*head)

    def embed(self, x: Tensor) -> Tensor:
        """Equivariant features ``phi(x)``: ``(B, n, d_in) -> (B, n, d_phi)``."""
        _check_sets(x, self.in_features, f"{type(self).__name__}.forward")
        return self.phi(x)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, n, d_in) -> (B, out_features)``."""
        pooled = set_pool(self.embed(x), self.readout).squeeze(1)  # (B, d_phi)
        return self.rho(pooled)


def make_set_task(
    n_sets: int,
    set_size: int,
    *,
    target: str = "sum",
    low: float = 0.0,
    high: float = 1.0,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """Sets of i.i.d. ``U[low, high)`` numbers labelled by their sum or maximum.

    Args:
        n_sets: number of sets ``N``.
        set_size: elements per set ``n``.
        target: ``"sum"`` or ``"max"``.
        low, high: range of the elements.
        seed: seed (exactly one of ``seed``/``generator``).
        generator: generator.
        dtype: floating dtype of the outputs.

    Returns:
        ``x (N, n, 1)`` and ``y (N, 1)``.
    """
    owner = "make_set_task"
    check_in_range(n_sets, "n_sets", owner, low=0, kind=int)
    check_in_range(set_size, "set_size", owner, low=1, kind=int)
    check_choice(target, "target", owner, SET_TARGETS)
    check_in_range(low, "low", owner)
    check_in_range(high, "high", owner, low=low, low_inclusive=False)
    gen = make_generator(seed, generator, owner)
    x = low + (high - low) * torch.rand(n_sets, set_size, 1, generator=gen, dtype=dtype)
    y = x.sum(dim=1) if target == "sum" else x.amax(dim=1)  # (N, 1)
    return x, y
