"""Counted nouns for messages: ``1 worker``, ``2 workers`` — never ``1 worker(s)``."""

from __future__ import annotations

from typing import Any

__all__ = ["plural"]


def plural(n: Any, word: str, many: str | None = None) -> str:
    """``n`` and ``word``, in the plural unless ``n`` is 1 (``many`` where adding "s" is wrong).

    An unknown count (None) prints as ``? words``.
    """
    if n is None:
        return f"? {many or word + 's'}"
    return f"{n} {word if n == 1 else (many or word + 's')}"
