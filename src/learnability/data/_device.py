"""Host-to-accelerator copies done the CUDA way: pinned (page-locked) memory, non-blocking copies.

A copy from ordinary (pageable) host memory to a GPU is staged by the driver through a pinned
buffer and blocks the host; from pinned memory it is a direct DMA that ``non_blocking=True``
queues on the current stream, so the host goes on (PyTorch's "CUDA semantics" notes, "Use pinned
memory buffers"). On the CPU (or MPS) nothing is pinned: pinning needs CUDA, and a DataLoader asked
to pin without it warns.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["pin_memory_for", "to_device"]


def pin_memory_for(device: torch.device | str, requested: bool | None = None) -> bool:
    """Whether to pin host memory for copies to ``device``: a DataLoader's ``pin_memory``.

    Args:
        device: where the batches go.
        requested: ``None`` (default): pin exactly when ``device`` is a CUDA device. ``True``
            is honoured on CUDA only (elsewhere pinning has nothing to speed up, and DataLoader
            warns); ``False`` never pins.
    """
    on_cuda = torch.device(device).type == "cuda"
    return on_cuda if requested is None else bool(requested) and on_cuda


def to_device(x: Tensor, device: torch.device | str) -> Tensor:
    """``x`` on ``device``; a CUDA copy goes through pinned memory with ``non_blocking=True``.

    Args:
        x: any tensor (e.g. a data set held on the host: ``(N, C, H, W)``).
        device: the target device.

    Returns:
        ``x`` itself when it is already there (e.g. the CPU path: no copy, nothing pinned); else
        the copy. Kernels queued later on the same stream see the finished copy, so the result can
        be used at once; the pinned host buffer is kept by PyTorch's caching host allocator until
        the copy has completed.
    """
    device = torch.device(device)
    if device.type != "cuda":
        return x.to(device)
    if x.device.type == "cpu" and not x.is_pinned():
        x = x.pin_memory()
    return x.to(device, non_blocking=True)
