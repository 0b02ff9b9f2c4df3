"""Optimizers on stacked parameters, with one learning rate per member.

Each optimizer is a pair of pure pieces in the optax spirit — ``init(params) -> state`` and
``update_(params, grads, state, lr, active)`` — except that the update works in place, because on a
CPU allocating fresh parameter-sized tensors every step costs as much as the arithmetic.

Every parameter tensor has the member index first, shape (K, ...). ``lr`` is a (K,) tensor, so each
member has its own learning rate; Adam is invariant to the scale of the gradient, so per-member
rates cannot be emulated by scaling losses: they must enter the update itself.

``active`` is a (K,) boolean mask: inactive (diverged) members are frozen — their gradients are
replaced by zeros before touching the optimizer state and their step is zero, so a NaN in one
member never reaches another.

The formulas are those of ``torch.optim.Adam`` and ``torch.optim.SGD`` (without dampening), so a
member trained here follows the same trajectory as the same network trained alone with
``torch.optim`` (tests check it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from learnability._validation import check_in_range

__all__ = ["SGD", "Adam", "OptState", "Optimizer", "make_optimizer"]


def _per_member(v: Tensor, like: Tensor) -> Tensor:
    """View a (K,) tensor so it broadcasts against a (K, ...) parameter."""
    return v.view(-1, *([1] * (like.dim() - 1)))


@dataclass
class OptState:
    """Optimizer state: named lists of per-parameter buffers and the step counter."""

    buffers: dict[str, list[Tensor]] = field(default_factory=dict)
    step: Tensor = field(default_factory=lambda: torch.zeros(()))


class Optimizer:
    """Base class: subclasses implement :meth:`init` and :meth:`update_`."""

    name: str = "optimizer"

    def init(self, params: list[Tensor]) -> OptState:  # pragma: no cover - interface
        raise NotImplementedError

    def update_(
        self,
        params: list[Tensor],
        grads: tuple[Tensor, ...] | list[Tensor],
        state: OptState,
        lr: Tensor,
        active: Tensor,
    ) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias-corrected moments, as ``torch.optim.Adam``.

    Args:
        betas: decay rates of the first and second moment estimates.
        eps: added to the denominator for numerical stability.
        weight_decay: L2 penalty added to the gradient (``torch.optim.Adam`` semantics).
    """

    name = "adam"

    def __init__(self, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        check_in_range(betas[0], "betas[0]", "Adam", low=0.0, high=1.0, high_inclusive=False, kind=float)
        check_in_range(betas[1], "betas[1]", "Adam", low=0.0, high=1.0, high_inclusive=False, kind=float)
        check_in_range(eps, "eps", "Adam", low=0.0, kind=float)
        check_in_range(weight_decay, "weight_decay", "Adam", low=0.0)
        self.betas, self.eps, self.weight_decay = betas, eps, float(weight_decay)

    @property
    def cache_key(self) -> tuple[object, ...]:
        return ("adam", tuple(self.betas), self.eps, self.weight_decay)

    def init(self, params: list[Tensor]) -> OptState:
        return OptState(
            buffers={"m": [torch.zeros_like(p) for p in params], "v": [torch.zeros_like(p) for p in params]},
            step=torch.zeros((), device=params[0].device, dtype=torch.float64),
        )

    @torch.no_grad()
    def update_(self, params: list[Tensor], grads: list[Tensor], state: OptState, lr: Tensor, active: Tensor) -> None:
        b1, b2 = self.betas
        state.step += 1
        bc1 = 1 - b1**state.step
        bc2_sqrt = (1 - b2**state.step).sqrt()
        step_size = (lr.to(torch.float64) / bc1).to(params[0].dtype)  # (K,)
        for p, g, m, v in zip(params, grads, state.buffers["m"], state.buffers["v"], strict=True):
            mask = _per_member(active, p)
            zero = torch.zeros((), dtype=p.dtype, device=p.device)
            g = torch.where(mask, g, zero)
            if self.weight_decay:
                g = g + self.weight_decay * torch.where(mask, p, zero)
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (v.sqrt() / bc2_sqrt.to(v.dtype)).add_(self.eps)
            # A select, not a multiply by the mask: a frozen member's moments may hold NaN (from the
            # step that diverged) and 0 * NaN would turn its frozen parameters NaN.
            p.sub_(torch.where(mask, _per_member(step_size, p) * (m / denom), zero))


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, as ``torch.optim.SGD``.

    Args:
        momentum: heavy-ball coefficient (0 disables it).
        nesterov: use Nesterov momentum.
        weight_decay: L2 penalty added to the gradient.
    """

    name = "sgd"

    def __init__(self, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0) -> None:
        check_in_range(momentum, "momentum", "SGD", low=0.0, high=1.0, high_inclusive=False)
        check_in_range(weight_decay, "weight_decay", "SGD", low=0.0)
        self.momentum, self.nesterov, self.weight_decay = float(momentum), nesterov, float(weight_decay)

    @property
    def cache_key(self) -> tuple[object, ...]:
        return ("sgd", self.momentum, self.nesterov, self.weight_decay)

    def init(self, params: list[Tensor]) -> OptState:
        buffers = {"momentum": [torch.zeros_like(p) for p in params]} if self.momentum else {}
        return OptState(buffers=buffers, step=torch.zeros((), device=params[0].device, dtype=torch.float64))

    @torch.no_grad()
    def update_(self, params: list[Tensor], grads: list[Tensor], state: OptState, lr: Tensor, active: Tensor) -> None:
        state.step += 1
        lr_eff = lr.to(params[0].dtype)
        bufs = state.buffers.get("momentum", [None] * len(params))
        for p, g, buf in zip(params, grads, bufs, strict=True):
            mask = _per_member(active, p)
            zero = torch.zeros((), dtype=p.dtype, device=p.device)
            g = torch.where(mask, g, zero)
            if self.weight_decay:
                g = g + self.weight_decay * torch.where(mask, p, zero)
            if buf is not None:
                # torch.optim.SGD starts the buffer at the first gradient; from zeros, mu*0 + g is that.
                buf.mul_(self.momentum).add_(g)
                g = g + self.momentum * buf if self.nesterov else buf
            # A select, not a multiply: a frozen member's momentum buffer may hold NaN.
            p.sub_(torch.where(mask, _per_member(lr_eff, p) * g, zero))


def make_optimizer(name: str, **kwargs: float | bool | tuple[float, float]) -> Optimizer:
    """An optimizer by name: ``"adam"`` or ``"sgd"``."""
    from learnability._validation import check_choice

    check_choice(name, "optimizer", "make_optimizer", ("adam", "sgd"))
    return Adam(**kwargs) if name == "adam" else SGD(**kwargs)  # type: ignore[arg-type]
