"""Ensembles of arbitrary ``nn.Module`` architectures (CNNs, Deep Sets, ...) via ``torch.func``.

The hand-written :class:`~learnability.engine.stacked.StackedMLP` is the fast path for MLPs; this
adapter lets the same training loop train K members of any parameter-only module (no buffers such
as BatchNorm statistics) with ``torch.func.vmap`` over ``functional_call``.

Initialisation is explicit: after the factory builds a module, every ``nn.Linear`` and
``nn.Conv{1,2,3}d`` is re-initialised from the member's ``torch.Generator`` with PyTorch's default
scheme (weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))). A module that owns other
parameters must define ``init_parameters(generator)``; otherwise initialisation refuses it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from learnability._validation import ParameterError

__all__ = ["ModuleEnsemble", "default_init_"]

_STANDARD = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
# Evaluation chunks: rows per chunk so K members' outputs stay modest in memory.
_EVAL_ROWS = 8192


@torch.no_grad()
def default_init_(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-initialise ``module`` in place from ``generator``, PyTorch's default scheme."""
    for name, sub in module.named_modules():
        if isinstance(sub, _STANDARD):
            fan_in = sub.weight[0].numel()
            bound = 1.0 / math.sqrt(fan_in)
            sub.weight.uniform_(-bound, bound, generator=generator)
            if sub.bias is not None:
                sub.bias.uniform_(-bound, bound, generator=generator)
        elif hasattr(sub, "init_parameters"):
            sub.init_parameters(generator)  # initialises the module's own (direct) parameters
        elif any(True for _ in sub.parameters(recurse=False)):
            raise ParameterError(
                f"module '{name or type(module).__name__}'",
                "default_init_",
                "made of nn.Linear/nn.Conv layers, or define init_parameters(generator)",
                type(sub).__name__,
            )
    return module


class ModuleEnsemble:
    """K members of one ``nn.Module`` architecture, in the engine's stacked-parameter form.

    Args:
        factory: builds a fresh module (its own initialisation is overwritten by :meth:`init`).
    """

    def __init__(self, factory: Callable[[], nn.Module]) -> None:
        self.factory = factory
        base = factory()
        if any(True for _ in base.buffers()):
            raise ParameterError("factory", "ModuleEnsemble", "a module without buffers", type(base).__name__)
        self.names = [n for n, _ in base.named_parameters()]
        self.n_params = sum(p.numel() for p in base.parameters())
        # functional_call only needs the structure: keep a parameter-free copy on the meta device.
        self._base_meta = base.to("meta")

    def init(
        self, seeds: Sequence[int], *, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
    ) -> list[Tensor]:
        """One member per seed; parameters in ``named_parameters`` order, each (K, ...)."""
        modules = []
        for s in seeds:
            m = self.factory()
            default_init_(m, torch.Generator().manual_seed(int(s)))
            modules.append(m.to(device=device, dtype=dtype))
        stacked, _ = stack_module_state(modules)
        return [stacked[n].detach().clone() for n in self.names]

    def member(self, params: Sequence[Tensor], k: int) -> nn.Module:
        """A plain module holding member k's parameters (a copy)."""
        m = self.factory()
        m.load_state_dict({n: p[k].detach().clone() for n, p in zip(self.names, params, strict=True)})
        return m

    def _call_one(self, flat: tuple[Tensor, ...], x: Tensor) -> Tensor:
        return functional_call(self._base_meta, dict(zip(self.names, flat, strict=True)), (x,))

    def forward(self, params: Sequence[Tensor], x: Tensor) -> Tensor:
        """x: (K, B, ...) one batch per member -> (K, B, ...)."""
        return vmap(self._call_one)(tuple(params), x)

    @torch.no_grad()
    def predict(self, params: Sequence[Tensor], x: Tensor, *, chunk: int = _EVAL_ROWS) -> Tensor:
        """x: (N, ...) shared by all members -> (K, N, ...), evaluated in chunks."""
        outs = [
            vmap(self._call_one, in_dims=(0, None))(tuple(params), x[i : i + chunk])
            for i in range(0, x.shape[0], chunk)
        ]
        return torch.cat(outs, dim=1)
