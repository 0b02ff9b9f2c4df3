"""Thread limits for code that runs many tiny linear-algebra problems."""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from typing import Any, TypeVar

from threadpoolctl import threadpool_limits

__all__ = ["auto_threads", "available_cores", "single_threaded_blas"]

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


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def auto_threads(cores: int | None = None, load: float | None = None) -> int:
    """torch's intra-op threads for a run nobody chose a count for: the cores other processes leave.

    A thread that waits for a core another process holds spins: on the 2-core machine a
    teacher-student smoke run spent its time in the kernel (100 % system time) at load ~4 with
    2 threads. So a run takes ``round(cores - load)`` threads (at least 1, at most ``cores``),
    all of them on an idle machine. The numbers of a run do not depend on its thread count.

    Args:
        cores: cores available (default: this process's affinity).
        load: 1-minute load average of the machine before the run (default: measured now;
            where the platform has none, every core is taken).
    """
    cores = available_cores() if cores is None else cores
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            return cores
    return max(1, min(cores, math.floor(cores - load + 0.5)))
