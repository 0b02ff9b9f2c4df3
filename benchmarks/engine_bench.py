"""Engine vs naive loop, measured side by side in one run; prints model-steps/s and ratios.

    python benchmarks/engine_bench.py [--quick] [--members 64] [--threads 2] [--json out.json]

Same measurement as ``learnability bench`` (see ``learnability.bench`` for the workloads). Quote
the ratios printed by one run: absolute rates vary from machine to machine and run to run.
"""

from __future__ import annotations

import argparse
import json

import torch

from learnability.bench import run_bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few steps: checks that it runs")
    parser.add_argument("--members", type=int, default=32, help="K, members trained at once")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--no-compile", action="store_true", help="skip the compiled engine")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    res = run_bench(quick=args.quick, members=args.members, compile_=not args.no_compile)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
