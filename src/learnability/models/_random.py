"""Explicit randomness for model construction (private).

PyTorch layers draw their initial weights from the *global* generator inside their constructors.
The models of this package never do: every layer is built without initialisation
(:func:`torch.nn.utils.skip_init`, which allocates on the ``meta`` device first) and then filled
from a generator the caller passes (``seed=`` or ``generator=``, keyword-only, exactly one).
Same seed, same weights, and the global RNG state is left untouched.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

import torch
from torch import nn

from learnability._validation import ParameterError, check_in_range

__all__ = ["init_default_", "make_generator", "new_layer"]

M = TypeVar("M", bound=nn.Module)


def make_generator(seed: int | None, generator: torch.Generator | None, owner: str) -> torch.Generator:
    """Return the generator to draw from: exactly one of ``seed`` and ``generator`` must be given.

    Raises:
        ParameterError: when both or neither are given, or ``seed`` is not a non-negative int.
    """
    if (seed is None) == (generator is None):
        raise ParameterError(
            "seed",
            owner,
            "an int when 'generator' is None, and None when it is given (pass exactly one of 'seed' and 'generator')",
            seed,
        )
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise ParameterError("generator", owner, "a torch.Generator", generator)
        return generator
    check_in_range(seed, "seed", owner, low=0, kind=int)
    return torch.Generator().manual_seed(seed)


def new_layer(cls: type[M], *args: Any, **kwargs: Any) -> M:
    """``cls(*args, **kwargs)`` with uninitialised parameters; the global RNG is not touched."""
    return nn.utils.skip_init(cls, *args, **kwargs)


@torch.no_grad()
def init_default_(layer: nn.Linear | nn.Conv2d, generator: torch.Generator) -> None:
    """Fill a linear or convolutional layer like PyTorch's default ``reset_parameters``.

    PyTorch uses ``kaiming_uniform_(a=sqrt(5))`` for the weight, which is U(-1/sqrt(fan_in),
    1/sqrt(fan_in)), and the same bound for the bias; here both are drawn from ``generator``.
    """
    fan_in = layer.weight[0].numel()  # in_features, or in_channels * prod(kernel_size)
    bound = 1.0 / math.sqrt(fan_in)
    layer.weight.uniform_(-bound, bound, generator=generator)
    if layer.bias is not None:
        layer.bias.uniform_(-bound, bound, generator=generator)
