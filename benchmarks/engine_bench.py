"""Engine vs naive loop, torch.func and (when installed) JAX, side by side in one run.

    python benchmarks/engine_bench.py [--quick] [--members 32] [--threads 2] [--processes 2] [--json out.json]

Same measurement as ``learnability bench`` (see ``learnability.bench`` for the workloads), plus the
JAX reference of W_B (``benchmarks/jax_reference.py``) when ``jax`` is importable. Quote the
ratios printed by one run: absolute rates vary from machine to machine and run to run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from learnability.bench import run_bench

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jax_reference  # a sibling script, not part of the package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few steps: checks that it runs")
    parser.add_argument("--members", type=int, default=32, help="K, members trained at once")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--processes", type=int, default=None, help="workers of the process layout")
    parser.add_argument("--no-compile", action="store_true", help="skip the compiled engine")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    extra = {("W_B", "jax-scan"): jax_reference.measure_w_b} if jax_reference.available() else None
    if extra is None:
        print("jax is not installed: the JAX reference is left out (pip install -e '.[jax]')")
    res = run_bench(
        quick=args.quick, members=args.members, compile_=not args.no_compile, processes=args.processes, extra=extra
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
