"""The small image classifiers of Labs 4 and 5.

- :class:`ShallowFCN` — Lab 4's shallow *linear* fully-connected network: flatten, one linear
  layer ``in_features -> num_classes``, log-softmax. Its weights, one row per class, are looked
  at as images (:meth:`ShallowFCN.weight_images`).
- :class:`LabCNN` — Lab 5's CNN: ``conv1`` (1 -> 1 channel, kernel 2), ReLU, flatten, ``fc1``
  (729 -> 10 for 28x28 inputs), log-softmax. The lab's two representations are the conv output
  *before* the ReLU and the fc output *before* the log-softmax; they are the outputs of the
  modules named ``conv1`` and ``fc1``, so :func:`learnability.models.get_activations` reads them
  with forward hooks, and :meth:`LabCNN.forward_with_representations` returns the lab's tuple.
- :class:`PooledCNN` — the lab's premise, "a CNN with pooling": ``conv1`` (1 -> ``channels``), ReLU,
  a *global* average or max pool over positions, ``fc1`` (``channels -> num_classes``). Pooling
  forgets where a feature was, so with circular padding fc is *exactly* invariant to circular
  shifts, and nearly so otherwise (only the border rows change).

``padding_mode`` separates boundary effects from the convolution itself:

- ``"valid"`` (the lab's model): no padding, the conv output is ``(H - k + 1, W - k + 1)``; a
  translated image gives a translated output only away from the border.
- ``"zeros"``: ``k - 1`` zero rows/columns appended at the bottom/right, output ``(H, W)``; same
  size as the circular variant, still not equivariant near the border.
- ``"circular"``: ``k - 1`` rows/columns wrapped around from the top/left, output ``(H, W)``; the
  conv is then *exactly* equivariant to circular shifts, ``conv(roll(x, s)) == roll(conv(x), s)``
  for every integer shift ``s`` along height and width.

Both models take ``seed=`` or ``generator=`` (keyword-only, exactly one) for their initial weights,
drawn like PyTorch's default initialisation but never from the global generator.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from learnability._validation import ParameterError, check_choice, check_in_range
from learnability.models._random import init_default_, make_generator, new_layer

__all__ = ["GLOBAL_POOLS", "PADDING_MODES", "LabCNN", "PooledCNN", "ShallowFCN"]

#: The ``padding_mode`` values of :class:`LabCNN` (see the module docstring).
PADDING_MODES = ("valid", "zeros", "circular")
#: The ``pool`` values of :class:`PooledCNN`: global average or global max over positions.
GLOBAL_POOLS = ("avg", "max")


class ShallowFCN(nn.Module):
    """Shallow linear FCN of Lab 4: ``log_softmax(W flatten(x) + b)``.

    Args:
        in_features: number of input features once flattened (784 for 28x28 MNIST; 64 for the
            8x8 scikit-learn digits). Sizes follow the data.
        num_classes: number of classes.
        seed: seed for the initial weights (exactly one of ``seed``/``generator``).
        generator: generator for the initial weights.

    Shapes:
        ``x``: ``(B, *)`` with ``prod(*) == in_features`` (e.g. ``(B, 1, 28, 28)`` or ``(B, 784)``);
        output: ``(B, num_classes)`` log-probabilities.

    Reference: AdvML UniTS 2024, Lab 4 (FCN augmentation) and Lab 4bis (the same model, ``fc``).
    """

    def __init__(
        self,
        in_features: int = 784,
        num_classes: int = 10,
        *,
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.in_features = check_in_range(in_features, "in_features", owner, low=1, kind=int)
        self.num_classes = check_in_range(num_classes, "num_classes", owner, low=2, kind=int)
        gen = make_generator(seed, generator, owner)
        self.fc = new_layer(nn.Linear, in_features, num_classes)
        init_default_(self.fc, gen)

    def forward(self, x: Tensor) -> Tensor:
        """Log-probabilities ``(B, num_classes)`` for inputs ``(B, *)``."""
        _check_batch(x, self.in_features, type(self).__name__)
        return F.log_softmax(self.fc(x.flatten(start_dim=1)), dim=1)

    @torch.no_grad()
    def weight_images(self, image_shape: tuple[int, ...], *, per_class: bool = True) -> Tensor:
        """The weights as images scaled to ``[0, 1]`` (Lab 4: "scale them within [0, 1]").

        Args:
            image_shape: shape of one input image, e.g. ``(28, 28)`` or ``(1, 28, 28)``;
                its product must be ``in_features``.
            per_class: min-max scale each class's image on its own (``True``), or all classes
                with one common minimum and maximum (``False``, keeps relative magnitudes).

        Returns:
            ``(num_classes, *image_shape)``, detached, values in ``[0, 1]``. A constant image
            maps to zeros.
        """
        shape = tuple(image_shape)
        if not shape or any(not isinstance(s, int) or s < 1 for s in shape) or (_prod(shape) != self.in_features):
            raise ParameterError(
                "image_shape",
                "ShallowFCN.weight_images",
                f"a tuple of positive ints whose product is in_features={self.in_features}",
                image_shape,
            )
        w = self.fc.weight.detach()  # (C, in_features)
        if per_class:
            lo = w.min(dim=1, keepdim=True).values
            hi = w.max(dim=1, keepdim=True).values
        else:
            lo, hi = w.min(), w.max()
        span = hi - lo
        scaled = torch.where(span > 0, (w - lo) / torch.where(span > 0, span, 1.0), 0.0)
        return scaled.reshape(self.num_classes, *shape)


class LabCNN(nn.Module):
    """Lab 5's CNN: ``conv1`` (1 -> 1, kernel ``k``) -> ReLU -> flatten -> ``fc1`` -> log-softmax.

    Args:
        image_size: input height and width, ``int`` for square images or ``(H, W)``.
        num_classes: number of classes.
        kernel_size: side of the square conv kernel (the lab's is 2).
        padding_mode: ``"valid"`` (the lab's: no padding), ``"zeros"`` or ``"circular"``; see
            the module docstring. With ``"circular"`` the conv is exactly equivariant to
            integer circular shifts.
        seed: seed for the initial weights (exactly one of ``seed``/``generator``).
        generator: generator for the initial weights.

    Shapes:
        ``x``: ``(B, 1, H, W)``; ``conv1`` output: ``(B, 1, H', W')`` with ``(H', W') =
        conv_shape`` (``(27, 27)`` for the lab); ``fc1`` input ``H' * W'`` (729 for the lab);
        output ``(B, num_classes)`` log-probabilities.

    Submodules (hookable by name): ``pad`` (identity when ``"valid"``), ``conv1``, ``relu``,
    ``fc1``.

    Reference: AdvML UniTS 2024, Lab 5 (CNN invariance and equivariance).
    """

    def __init__(
        self,
        image_size: int | tuple[int, int] = 28,
        num_classes: int = 10,
        *,
        kernel_size: int = 2,
        padding_mode: str = "valid",
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.kernel_size = check_in_range(kernel_size, "kernel_size", owner, low=1, kind=int)
        self.padding_mode = check_choice(padding_mode, "padding_mode", owner, PADDING_MODES)
        self.num_classes = check_in_range(num_classes, "num_classes", owner, low=2, kind=int)
        sides_hw = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        if len(sides_hw) != 2:
            raise ParameterError("image_size", owner, "an int or a pair of ints (H, W)", image_size)
        h, w = sides_hw
        for side in (h, w):
            check_in_range(side, "image_size", owner, low=kernel_size, kind=int)
        self.image_size = (h, w)
        gen = make_generator(seed, generator, owner)

        self.pad, self.conv_shape = _padding(padding_mode, kernel_size, (h, w))
        self.conv1 = new_layer(nn.Conv2d, 1, 1, kernel_size=kernel_size)
        self.relu = nn.ReLU()
        self.fc1 = new_layer(nn.Linear, self.conv_shape[0] * self.conv_shape[1], num_classes)
        init_default_(self.conv1, gen)
        init_default_(self.fc1, gen)

    def forward(self, x: Tensor) -> Tensor:
        """Log-probabilities ``(B, num_classes)`` for images ``(B, 1, H, W)``."""
        return self.forward_with_representations(x)[0]

    def forward_with_representations(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The lab's tuple: ``(log_probs, conv, fc)``.

        Returns:
            ``log_probs (B, num_classes)``; ``conv (B, 1, H', W')``, the ``conv1`` output before
            the ReLU (the lab's ``conv2repr``); ``fc (B, num_classes)``, the ``fc1`` output before
            the log-softmax (the lab's ``fc1repr``). The two representations are detached, as in
            the lab.
        """
        owner = type(self).__name__
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, *self.image_size):
            raise ParameterError(
                "x",
                f"{owner}.forward",
                f"a tensor of shape (B, 1, {self.image_size[0]}, {self.image_size[1]})",
                f"tensor of shape {tuple(x.shape)}",
            )
        conv = self.conv1(self.pad(x))  # (B, 1, H', W')
        fc = self.fc1(self.relu(conv).flatten(start_dim=1))  # (B, num_classes)
        return F.log_softmax(fc, dim=1), conv.detach(), fc.detach()


class PooledCNN(nn.Module):
    """Lab 5's premise: ``conv1`` (1 -> C) -> ReLU -> global pool -> ``fc1`` (C -> classes) -> log-softmax.

    The conv is the lab's (kernel ``k``, the same padding modes as :class:`LabCNN`) with
    ``channels`` output channels; a global average or max over all positions of each channel
    leaves ``C`` numbers, whatever the translation: with ``"circular"`` padding a circular shift
    of the input permutes the conv output's positions, which the pool ignores, so ``fc1`` is
    exactly invariant (up to the float rounding of the sum's order for ``"avg"``).

    Args:
        image_size: input height and width, ``int`` or ``(H, W)``.
        num_classes: number of classes.
        kernel_size: side of the square conv kernel (the lab's is 2).
        padding_mode: ``"valid"``, ``"zeros"`` or ``"circular"`` (see the module docstring).
        pool: ``"avg"`` or ``"max"`` (:data:`GLOBAL_POOLS`).
        channels: conv output channels C (one channel pooled to one number cannot tell ten classes
            apart, hence more than the lab's single channel).
        seed: seed for the initial weights (exactly one of ``seed``/``generator``).
        generator: generator for the initial weights.

    Shapes:
        ``x``: ``(B, 1, H, W)``; ``conv1`` output ``(B, C, H', W')`` with ``(H', W') = conv_shape``;
        ``fc1`` input ``(B, C)``; output ``(B, num_classes)`` log-probabilities.

    Submodules (hookable by name): ``pad``, ``conv1``, ``relu``, ``fc1``.
    """

    def __init__(
        self,
        image_size: int | tuple[int, int] = 28,
        num_classes: int = 10,
        *,
        kernel_size: int = 2,
        padding_mode: str = "valid",
        pool: str = "avg",
        channels: int = 8,
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.kernel_size = check_in_range(kernel_size, "kernel_size", owner, low=1, kind=int)
        self.padding_mode = check_choice(padding_mode, "padding_mode", owner, PADDING_MODES)
        self.pool = check_choice(pool, "pool", owner, GLOBAL_POOLS)
        self.channels = check_in_range(channels, "channels", owner, low=1, kind=int)
        self.num_classes = check_in_range(num_classes, "num_classes", owner, low=2, kind=int)
        sides_hw = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        if len(sides_hw) != 2:
            raise ParameterError("image_size", owner, "an int or a pair of ints (H, W)", image_size)
        for side in sides_hw:
            check_in_range(side, "image_size", owner, low=kernel_size, kind=int)
        self.image_size = (int(sides_hw[0]), int(sides_hw[1]))
        gen = make_generator(seed, generator, owner)
        self.pad, self.conv_shape = _padding(padding_mode, kernel_size, self.image_size)
        self.conv1 = new_layer(nn.Conv2d, 1, channels, kernel_size=kernel_size)
        self.relu = nn.ReLU()
        self.fc1 = new_layer(nn.Linear, channels, num_classes)
        init_default_(self.conv1, gen)
        init_default_(self.fc1, gen)

    def forward(self, x: Tensor) -> Tensor:
        """Log-probabilities ``(B, num_classes)`` for images ``(B, 1, H, W)``."""
        return self.forward_with_representations(x)[0]

    def forward_with_representations(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(log_probs, conv, fc)`` as :meth:`LabCNN.forward_with_representations`."""
        owner = type(self).__name__
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, *self.image_size):
            raise ParameterError(
                "x",
                f"{owner}.forward",
                f"a tensor of shape (B, 1, {self.image_size[0]}, {self.image_size[1]})",
                f"tensor of shape {tuple(x.shape)}",
            )
        conv = self.conv1(self.pad(x))  # (B, C, H', W')
        act = self.relu(conv).flatten(start_dim=2)  # (B, C, H' W')
        pooled = act.mean(dim=2) if self.pool == "avg" else act.amax(dim=2)  # (B, C)
        fc = self.fc1(pooled)  # (B, num_classes)
        return F.log_softmax(fc, dim=1), conv.detach(), fc.detach()


def _padding(padding_mode: str, kernel_size: int, size: tuple[int, int]) -> tuple[nn.Module, tuple[int, int]]:
    """The padding module of a conv with ``kernel_size`` and its output shape ``(H', W')``."""
    h, w = size
    extra = kernel_size - 1  # rows/cols appended so that the output keeps the input's size
    if padding_mode == "valid":
        return nn.Identity(), (h - extra, w - extra)
    # (left, right, top, bottom): pad only after the image so that output pixel (i, j) sees input
    # pixels (i .. i+k-1, j .. j+k-1) mod (H, W): a pure circular correlation.
    sides = (0, extra, 0, extra)
    pad = nn.CircularPad2d(sides) if padding_mode == "circular" else nn.ZeroPad2d(sides)
    return pad, (h, w)


def _prod(shape: tuple[int, ...]) -> int:
    out = 1
    for s in shape:
        out *= s
    return out


def _check_batch(x: Tensor, in_features: int, owner: str) -> None:
    if x.ndim < 2 or _prod(tuple(x.shape[1:])) != in_features:
        raise ParameterError(
            "x",
            f"{owner}.forward",
            f"a tensor of shape (B, ...) with {in_features} features per example",
            f"tensor of shape {tuple(x.shape)}",
        )
