"""Stacked multilayer perceptrons: K independent members evaluated as one batched computation.

Member k's layer l has weight ``W[l][k]`` of shape (in, out) and bias ``b[l][k]`` of shape (1, out);
a layer is ``baddbmm(b, h, W)``, so K small matrix products run as one batched product — the
matrices of these studies are too small to keep a CPU busy one model at a time.

A *residual* MLP adds a skip connection ``h <- h + act(h W + b)`` to every hidden layer whose input
and output sizes match; layers of different sizes (the input and output layers, or a change of
width) have no skip.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from learnability._validation import ParameterError, check_choice, check_in_range

__all__ = ["MLPSpec", "Params", "StackedMLP", "member_module"]

Params = list[Tensor]
"""Stacked parameters: ``[W_0, ..., W_{L-1}, b_0, ..., b_{L-1}]``; ``W_l``: (K, in, out), ``b_l``: (K, 1, out)."""

Activation = Literal["relu", "tanh", "identity"]
_ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "identity": lambda z: z}

# Evaluation chunks are sized so one chunk's widest activation stays under this many floats
# (2 MB): cache-sized chunks evaluate 3-4x faster than large ones on a CPU.
_EVAL_FLOATS = 2**19


@dataclass(frozen=True)
class MLPSpec:
    """Architecture of a fully connected network.

    Args:
        d_in: input size.
        hidden: widths of the hidden layers, e.g. ``(75, 50, 10)``; empty for a linear model.
        d_out: output size.
        residual: add a skip connection to every hidden layer whose in and out sizes match.
        activation: applied after every layer but the output.
    """

    d_in: int
    hidden: tuple[int, ...]
    d_out: int = 1
    residual: bool = False
    activation: Activation = "relu"

    def __post_init__(self) -> None:
        owner = "MLPSpec"
        check_in_range(self.d_in, "d_in", owner, low=1, kind=int)
        check_in_range(self.d_out, "d_out", owner, low=1, kind=int)
        object.__setattr__(self, "hidden", tuple(self.hidden))
        for i, w in enumerate(self.hidden):
            check_in_range(w, f"hidden[{i}]", owner, low=1, kind=int)
        check_choice(self.activation, "activation", owner, tuple(_ACTIVATIONS))

    @property
    def dims(self) -> tuple[int, ...]:
        """Sizes of every layer's input and the last output: ``(d_in, *hidden, d_out)``."""
        return (self.d_in, *self.hidden, self.d_out)

    @property
    def n_layers(self) -> int:
        """Number of linear layers (weight matrices)."""
        return len(self.dims) - 1

    @property
    def skips(self) -> tuple[bool, ...]:
        """For each layer, whether it carries a skip connection."""
        d = self.dims
        last = self.n_layers - 1
        return tuple(self.residual and l != last and d[l] == d[l + 1] for l in range(self.n_layers))

    def flops_per_step(self, batch: int) -> float:
        """Forward + backward multiply-add FLOPs of the weight matrices for one member's step on a
        batch of ``batch`` inputs: ``3 x 2 x batch x sum(in x out)`` (what decides the process
        layout, :func:`~learnability.engine.pick_processes`)."""
        d = self.dims
        return 6.0 * batch * sum(d[i] * d[i + 1] for i in range(self.n_layers))

    @property
    def n_params(self) -> int:
        """Learnable parameters of one member (weights and biases)."""
        d = self.dims
        return sum(d[l] * d[l + 1] + d[l + 1] for l in range(self.n_layers))


class StackedMLP:
    """K members of one :class:`MLPSpec` architecture, trained and evaluated together.

    Args:
        spec: the architecture shared by every member.
    """

    def __init__(self, spec: MLPSpec) -> None:
        self.spec = spec
        self._act = _ACTIVATIONS[spec.activation]
        self._skips = spec.skips

    @property
    def cache_key(self) -> tuple[str, MLPSpec]:
        """Equal for models that compute the same function of the same parameters."""
        return ("StackedMLP", self.spec)

    # ------------------------------------------------------------------ parameters

    def init(
        self,
        seeds: Sequence[int],
        *,
        scheme: Literal["torch_default", "normal"] = "torch_default",
        std: float = 1.0,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> Params:
        """Initialise one member per seed; member k depends on ``seeds[k]`` alone.

        Schemes:
            ``torch_default``: as ``nn.Linear``: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
            drawn in ``nn.Linear``'s order (weight (out, in), then bias) from ``torch.Generator``
            seeded with the member's seed.
            ``normal``: every weight and bias i.i.d. N(0, std^2) (the Challenge's teacher).

        Numbers are drawn on the CPU and moved to ``device`` so a seed gives the same network on
        every device.

        Returns:
            Stacked parameters ``[W_0..W_{L-1}, b_0..b_{L-1}]`` with ``requires_grad=False``.
        """
        check_choice(scheme, "scheme", "StackedMLP.init", ("torch_default", "normal"))
        if len(seeds) == 0:
            raise ParameterError("seeds", "StackedMLP.init", "a non-empty sequence of ints", seeds)
        d = self.spec.dims
        Ws: list[list[Tensor]] = [[] for _ in range(self.spec.n_layers)]
        bs: list[list[Tensor]] = [[] for _ in range(self.spec.n_layers)]
        for seed in seeds:
            g = torch.Generator().manual_seed(int(seed))
            for l in range(self.spec.n_layers):
                fan_in, fan_out = d[l], d[l + 1]
                w = torch.empty(fan_out, fan_in)
                b = torch.empty(fan_out)
                if scheme == "torch_default":
                    bound = 1.0 / math.sqrt(fan_in)
                    w.uniform_(-bound, bound, generator=g)
                    b.uniform_(-bound, bound, generator=g)
                else:
                    w.normal_(0.0, std, generator=g)
                    b.normal_(0.0, std, generator=g)
                Ws[l].append(w.T)
                bs[l].append(b.unsqueeze(0))
        W = [torch.stack(ws).to(device=device, dtype=dtype).contiguous() for ws in Ws]
        b = [torch.stack(bb).to(device=device, dtype=dtype).contiguous() for bb in bs]
        return W + b

    def split(self, params: Params) -> tuple[list[Tensor], list[Tensor]]:
        """(weights, biases) lists of a parameter list."""
        n = self.spec.n_layers
        if len(params) != 2 * n:
            raise ParameterError("params", "StackedMLP", f"a list of {2 * n} tensors", f"{len(params)} tensors")
        return list(params[:n]), list(params[n:])

    @staticmethod
    def n_members(params: Params) -> int:
        return int(params[0].shape[0])

    def layers(self, params: Params, k: int) -> list[tuple[Tensor, Tensor]]:
        """Member k's layers as ``(W (out, in), b (out,))`` pairs, the ``nn.Linear`` layout."""
        W, b = self.split(params)
        return [(w[k].T.detach().clone(), bb[k, 0].detach().clone()) for w, bb in zip(W, b, strict=True)]

    def select(self, params: Params, members: Sequence[int] | Tensor) -> Params:
        """A new parameter list holding only the given members (copies)."""
        idx = torch.as_tensor(members, dtype=torch.long, device=params[0].device)
        return [p.detach().index_select(0, idx).clone() for p in params]

    # ------------------------------------------------------------------ evaluation

    def forward(self, params: Params, x: Tensor) -> Tensor:
        """Evaluate every member on its own inputs.

        Args:
            params: stacked parameters of K members.
            x: (K, B, d_in) inputs, one batch per member.

        Returns:
            (K, B, d_out) outputs.
        """
        n = self.spec.n_layers
        h = x
        for l in range(n):
            z = torch.baddbmm(params[n + l], h, params[l])  # (K, B, d_{l+1})
            if l == n - 1:
                return z
            a = self._act(z)
            h = h + a if self._skips[l] else a
        return h  # unreachable: n >= 1

    @torch.no_grad()
    def predict(self, params: Params, x: Tensor, *, chunk: int | None = None) -> Tensor:
        """Evaluate every member on the same inputs, in chunks so memory stays bounded.

        Args:
            params: stacked parameters of K members.
            x: (N, d_in) inputs shared by all members.
            chunk: rows per chunk (default: sized from the widest layer and K).

        Returns:
            (K, N, d_out) outputs.
        """
        K = self.n_members(params)
        if x.ndim != 2 or x.shape[1] != self.spec.d_in:
            raise ParameterError(
                "x",
                "StackedMLP.predict",
                f"an array with shape (N, {self.spec.d_in})",
                f"array of shape {tuple(x.shape)}",
            )
        width = max(self.spec.dims)
        chunk = chunk or max(1, _EVAL_FLOATS // (K * width))
        outs = []
        for start in range(0, x.shape[0], chunk):
            xc = x[start : start + chunk].unsqueeze(0).expand(K, -1, -1)
            outs.append(self.forward(params, xc))
        return torch.cat(outs, dim=1) if outs else x.new_empty(K, 0, self.spec.d_out)


def member_module(spec: MLPSpec, layers: Sequence[tuple[Tensor, Tensor]]) -> nn.Module:
    """A plain ``nn.Module`` computing the same function as one stacked member.

    Used as the trusted reference in tests (train it with ``torch.optim`` and compare) and to hand a
    trained member to code that expects an ``nn.Module``.
    """
    return _MemberMLP(spec, layers)


class _MemberMLP(nn.Module):
    def __init__(self, spec: MLPSpec, layers: Sequence[tuple[Tensor, Tensor]]) -> None:
        super().__init__()
        self.spec = spec
        self.linears = nn.ModuleList()
        for w, b in layers:
            # On the member's device and dtype: a GPU-trained member stays on the GPU.
            lin = nn.Linear(w.shape[1], w.shape[0], device=w.device, dtype=w.dtype)
            with torch.no_grad():
                lin.weight.copy_(w)
                lin.bias.copy_(b)
            self.linears.append(lin)
        self._act = _ACTIVATIONS[spec.activation]
        self._skips = spec.skips

    def forward(self, x: Tensor) -> Tensor:
        n = len(self.linears)
        h = x
        for l, lin in enumerate(self.linears):
            z = lin(h)
            if l == n - 1:
                return z
            a = self._act(z)
            h = h + a if self._skips[l] else a
        return h
