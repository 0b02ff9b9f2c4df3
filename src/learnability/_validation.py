"""One error shape for every bad parameter in the project.

Every check that rejects a user-supplied value raises :class:`ParameterError` (a ``ValueError``)
whose message follows the scikit-learn convention::

    The 'alpha' parameter of KernelRidge must be a float in the range [0, inf). Got -1 instead.

Library functions validate where data enters with the helpers below, so that the message always
names the parameter, what is allowed and what was received.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import Any

__all__ = [
    "ParameterError",
    "check_choice",
    "check_in_range",
    "check_matrix",
    "describe_range",
    "parameter_message",
]


class ParameterError(ValueError):
    """A parameter received a value outside its allowed set.

    Attributes:
        name: the parameter's name (dotted for nested configuration keys).
        owner: what the parameter belongs to (an estimator, a function, a study).
        allowed: human-readable description of the allowed values.
        got: the value received.
    """

    def __init__(self, name: str, owner: str, allowed: str, got: Any, *, hint: str = "") -> None:
        self.name, self.owner, self.allowed, self.got = name, owner, allowed, got
        super().__init__(parameter_message(name, owner, allowed, got) + hint)


def parameter_message(name: str, owner: str, allowed: str, got: Any) -> str:
    """The project's single message shape for a bad parameter."""
    return f"The '{name}' parameter of {owner} must be {allowed}. Got {got!r} instead."


def _fmt_bound(v: float | None, side: str) -> str:
    if v is None or math.isinf(v):
        return "-inf" if side == "low" else "inf"
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def describe_range(
    low: float | None = None,
    high: float | None = None,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> str:
    """Interval notation, e.g. ``[0, inf)`` or ``(0, 1]``."""
    left = "[" if (low_inclusive and low is not None) else "("
    right = "]" if (high_inclusive and high is not None) else ")"
    return f"{left}{_fmt_bound(low, 'low')}, {_fmt_bound(high, 'high')}{right}"


def check_in_range(
    value: Any,
    name: str,
    owner: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    kind: type | tuple[type, ...] = (int, float),
) -> Any:
    """Check that ``value`` is a number of ``kind`` inside the interval; return it unchanged.

    Booleans are refused where numbers are expected (``True`` is not a learning rate).

    Raises:
        ParameterError: naming ``name`` and ``owner``, the interval and the value received.
    """
    kinds = kind if isinstance(kind, tuple) else (kind,)
    type_word = "an int" if kinds == (int,) else "a float"
    allowed = f"{type_word} in the range " + describe_range(
        low, high, low_inclusive=low_inclusive, high_inclusive=high_inclusive
    )
    # numpy scalars are accepted through their Python equivalents.
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ParameterError(name, owner, allowed, value)
    if isinstance(value, float) and math.isnan(value):
        raise ParameterError(name, owner, allowed, value)
    if low is not None and (value < low or (not low_inclusive and value == low)):
        raise ParameterError(name, owner, allowed, value)
    if high is not None and (value > high or (not high_inclusive and value == high)):
        raise ParameterError(name, owner, allowed, value)
    return value


def check_choice(value: Any, name: str, owner: str, choices: Collection[Any]) -> Any:
    """Check that ``value`` is one of ``choices``; return it unchanged."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ParameterError(name, owner, f"one of {{{listed}}}", value)
    return value


def check_matrix(
    array: Any,
    name: str,
    owner: str,
    *,
    ndim: int = 2,
    shape: Sequence[int | None] | None = None,
) -> Any:
    """Check the number of dimensions (and optionally the shape) of an array-like.

    ``shape`` entries that are ``None`` are free. Refusing ``(n,)`` where ``(n, 1)`` is expected
    prevents silent broadcasting bugs such as ``(n,) - (n, 1) -> (n, n)``.
    """
    got_shape = tuple(getattr(array, "shape", ()))
    want = "an array with " + (
        f"shape ({', '.join('any' if s is None else str(s) for s in shape)})"
        if shape is not None
        else f"{ndim} dimensions"
    )
    if len(got_shape) != ndim:
        raise ParameterError(name, owner, want, f"array of shape {got_shape}")
    if shape is not None:
        for want_s, got_s in zip(shape, got_shape, strict=True):
            if want_s is not None and want_s != got_s:
                raise ParameterError(name, owner, want, f"array of shape {got_shape}")
    return array
