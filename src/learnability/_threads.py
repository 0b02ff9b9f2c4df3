"""Thread limits for code that runs many tiny linear-algebra problems."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from threadpoolctl import threadpool_limits

__all__ = ["single_threaded_blas"]

F = TypeVar("F", bound=Callable[..., Any])


def single_threaded_blas(fn: F) -> F:
    """Run ``fn`` with BLAS/LAPACK limited to one thread.

    Studies that solve thousands of tiny systems (10 x 16 SVDs, 80 x 80 Cholesky factorisations)
    gain nothing from extra BLAS threads but synchronisation, and on a shared machine their
    spin-waiting made runs several times slower (polynomial-regression: 18.7 s with OpenBLAS' 2
    threads, 7.3 s with one, same load).
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with threadpool_limits(limits=1, user_api="blas"):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
