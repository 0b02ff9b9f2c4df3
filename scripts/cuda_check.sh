#!/usr/bin/env bash
# The CUDA checks, in one go, on a machine with an NVIDIA GPU (issue 17): the engine's CUDA tests,
# every study at smoke size with --device cuda, and `learnability bench --device cuda` at K = 32
# and K = 1024. Each step has its own time limit so that one hang does not cost the others.
#
#   bash scripts/cuda_check.sh OUTDIR        (PYTHON=... to pick the interpreter)
#
# Writes OUTDIR/device.txt, engine_tests.txt, bench_cuda.{txt,json}, bench_cuda_k1024.{txt,json},
# studies_cuda.txt. Run from the repository root; the package is imported from src/.
set -u
out=${1:-cuda-check}
mkdir -p "$out"
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
step() { echo "== $1 ($(date -u +%T))"; }

step device
{ nvidia-smi -L; "$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"; } 2>&1 | tee "$out/device.txt"

step "engine tests on CUDA"
timeout 150 "$py" -m pytest -q -p no:cacheprovider tests/engine/test_cuda.py tests/core/test_cudnn.py \
  tests/data/test_transforms.py tests/core/test_conventions.py 2>&1 | tee "$out/engine_tests.txt"

step "bench K=32"
timeout 170 "$py" -m learnability bench --device cuda --json "$out/bench_cuda.json" 2>&1 | tee "$out/bench_cuda.txt"

step "bench K=1024 (eager)"
timeout 60 "$py" -m learnability bench --device cuda --members 1024 --no-compile \
  --json "$out/bench_cuda_k1024.json" 2>&1 | tee "$out/bench_cuda_k1024.txt"

step "every study on CUDA (smoke)"
timeout 200 "$py" -m pytest -q -p no:cacheprovider -p no:benchmark -n 6 tests/studies/test_cuda_studies.py 2>&1 | tee "$out/studies_cuda.txt"
step done
