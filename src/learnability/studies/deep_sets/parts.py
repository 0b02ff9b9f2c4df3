"""Building blocks of the deep-sets study: the MLP baseline, the lab's layer check, invariance.

The layer ``f(x) = sigma(x (lambda I + gamma 1 1^T))`` of the lab is
:meth:`learnability.models.PermutationEquivariant.from_coefficients`; its non-equivariant
counterpart adds ``delta R`` with a random ``R`` (:func:`perturbed_layer`), which the measurement
(:func:`lab_layer_errors`) must catch even for a small ``delta``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from learnability.models import ACTIVATIONS, DeepSets
from learnability.studies.deep_sets.config import DeepSetsConfig

__all__ = [
    "SetMLP",
    "invariance_errors",
    "lab_layer_errors",
    "model_factories",
    "model_labels",
    "perturbed_layer",
    "random_perms",
]


class SetMLP(nn.Module):
    """The non-invariant baseline: an MLP on the concatenated set ``(B, n, 1) -> (B, 1)``."""

    def __init__(self, set_size: int, hidden: Sequence[int]) -> None:
        super().__init__()
        dims = [set_size, *hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in itertools.pairwise(dims):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(dims[-1], 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def perturbed_layer(
    lam: float, gamma: float, delta: float, n: int, activation: str, *, generator: torch.Generator
) -> Callable[[Tensor], Tensor]:
    """``x (B, n, 1) -> sigma(x^T (lam I + gamma 1 1^T + delta R))`` with ``R ~ N(0, 1)``, float64:
    the lab's layer with a generic (non-equivariant) perturbation."""
    theta = lam * torch.eye(n, dtype=torch.float64) + gamma * torch.ones(n, n, dtype=torch.float64)
    theta = theta + delta * torch.randn(n, n, generator=generator, dtype=torch.float64)
    act = ACTIVATIONS[activation]()
    return lambda x: act(x.squeeze(-1) @ theta).unsqueeze(-1)


def lab_layer_errors(f: Callable[[Tensor], Tensor], x: Tensor, perms: Tensor) -> dict[str, float]:
    """Equivariance of a set map on one set under many permutations.

    Args:
        f: ``(B, n, d) -> (B, n, d')``.
        x: ``(1, n, d)`` one set.
        perms: ``(P, n)`` permutations.

    Returns:
        ``equivariance``: ``max_p max |f(x[p]) - f(x)[p]| / max |f(x)|``; ``sorted``: the lab's
        test, the same with both sides sorted over the elements (a necessary condition).
    """
    fx = f(x)  # (1, n, d')
    xp = x[0][perms]  # (P, n, d)
    fxp = f(xp)  # (P, n, d')
    target = fx[0][perms]  # (P, n, d')
    scale = fx.abs().max()
    return {
        "equivariance": float((fxp - target).abs().max() / scale),
        "sorted": float((fxp.sort(dim=1).values - fx.sort(dim=1).values).abs().max() / scale),
    }


def invariance_errors(predict: Callable[[Tensor], Tensor], x: Tensor, perms: Tensor) -> Tensor:
    """Relative invariance error ``|F(pi x) - F(x)| / |F(x)|`` of each member on each set.

    Args:
        predict: ``(N, n, 1) -> (K, N, 1)`` (an ensemble's prediction).
        x: ``(N, n, 1)`` sets.
        perms: ``(N, n)`` one permutation per set.

    Returns:
        ``(K, N)``.
    """
    xp = torch.gather(x, 1, perms.unsqueeze(-1).expand_as(x))
    fx, fxp = predict(x), predict(xp)  # (K, N, 1)
    rel = (fxp - fx).abs() / fx.abs().clamp_min(torch.finfo(fx.dtype).tiny)
    return rel.squeeze(-1)


def random_perms(n_sets: int, n: int, generator: torch.Generator) -> Tensor:
    """``(n_sets, n)`` independent uniformly random permutations of ``range(n)``."""
    return torch.argsort(torch.rand(n_sets, n, generator=generator), dim=1)


def model_labels(cfg: DeepSetsConfig) -> dict[str, str]:
    """Model keys -> labels: one Deep Sets model per pooling, then the MLP baseline."""
    lab_note = ", the lab's layer"  # the lab's 1 1^T x is the sum pooling
    labels = {f"deep_sets_{p}": f"Deep Sets ({p} pooling{lab_note if p == 'sum' else ''})" for p in cfg.models.poolings}
    labels["mlp"] = "MLP on the concatenated set"
    return labels


def model_factories(cfg: DeepSetsConfig) -> dict[str, Callable[[], nn.Module]]:
    """Model keys -> factories of one member (the ensemble's init seeds replace ``seed=0``)."""
    mc = cfg.models
    factories: dict[str, Callable[[], nn.Module]] = {
        f"deep_sets_{p}": (
            lambda p=p: DeepSets(
                1,
                1,
                phi_hidden=mc.phi_hidden,
                rho_hidden=mc.rho_hidden,
                pooling=p,
                readout=mc.readout,
                seed=0,
            )
        )
        for p in mc.poolings
    }
    factories["mlp"] = lambda: SetMLP(cfg.task.set_size, mc.mlp_hidden)
    return factories
