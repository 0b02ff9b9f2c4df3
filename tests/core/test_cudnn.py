"""cuDNN determinism flags during a run on CUDA (the runner sets and restores them)."""

from __future__ import annotations


def test_cudnn_is_deterministic_during_a_cuda_run_and_restored_after() -> None:
    import torch

    from learnability.runner import deterministic_cudnn

    cudnn = torch.backends.cudnn
    before = (cudnn.deterministic, cudnn.benchmark)
    with deterministic_cudnn("cpu") as flags:
        assert flags is None and (cudnn.deterministic, cudnn.benchmark) == before
    # The flags are plain attributes: setting them needs no GPU.
    cudnn.benchmark = True
    try:
        with deterministic_cudnn("cuda") as flags:
            assert flags == {"cudnn_deterministic": True, "cudnn_benchmark": False}
            assert cudnn.deterministic and not cudnn.benchmark
        assert cudnn.benchmark and cudnn.deterministic == before[0]
    finally:
        cudnn.deterministic, cudnn.benchmark = before
