"""Benchmarks: the engine against the naive loop, and the data-loading bench.

- :mod:`learnability.bench.engine` (``learnability bench``): model-steps per second of the engine
  against the course notebooks' one-model-at-a-time loop, on the workloads W_A and W_B.
- :mod:`learnability.bench.data` (``learnability data-bench``): is data loading the bottleneck
  for a data set, a DataLoader setting and the engine step? Built from :mod:`learnability.data`.

The benchmarks import no study: what they share with the ``data-pipeline`` study lives in
:mod:`learnability.data`.
"""

from learnability.bench.data import BENCH_DATASETS, DataBench, data_bench, format_bench
from learnability.bench.engine import (
    W_A,
    W_B,
    BenchResult,
    check_device,
    flops_per_model_step,
    measure_peak_gflops,
    run_bench,
)

__all__ = [
    "BENCH_DATASETS",
    "W_A",
    "W_B",
    "BenchResult",
    "DataBench",
    "check_device",
    "data_bench",
    "flops_per_model_step",
    "format_bench",
    "measure_peak_gflops",
    "run_bench",
]
