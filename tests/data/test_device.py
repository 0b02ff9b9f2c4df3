"""Host-to-device copies: pinned memory and non-blocking copies on CUDA, nothing pinned elsewhere."""

from __future__ import annotations

import pytest
import torch

from learnability.data import pin_memory_for, to_device

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_pinning_is_for_cuda_only() -> None:
    assert pin_memory_for("cuda") and pin_memory_for(torch.device("cuda", 0))
    assert not pin_memory_for("cpu") and not pin_memory_for("meta")
    assert not pin_memory_for("cuda", False)
    assert pin_memory_for("cuda", True)
    assert not pin_memory_for("cpu", True)  # nothing to speed up: DataLoader would warn


def test_the_cpu_path_pins_nothing_and_copies_nothing() -> None:
    x = torch.arange(12.0).reshape(3, 4)
    y = to_device(x, "cpu")  # warnings are errors: pinning without CUDA would fail or warn
    assert y is x and not y.is_pinned()


class _HostTensor:
    """Records what to_device asks of a host tensor (the CUDA path, run without a GPU)."""

    def __init__(self, calls: list[tuple], pinned: bool = False) -> None:
        self.device = torch.device("cpu")
        self.calls, self.pinned = calls, pinned

    def is_pinned(self) -> bool:
        return self.pinned

    def pin_memory(self) -> _HostTensor:
        self.calls.append(("pin_memory",))
        return _HostTensor(self.calls, pinned=True)

    def to(self, device: torch.device, non_blocking: bool = False) -> str:
        self.calls.append(("to", str(device), non_blocking, self.pinned))
        return "on the device"


def test_the_cuda_path_pins_then_copies_without_blocking() -> None:
    calls: list[tuple] = []
    assert to_device(_HostTensor(calls), "cuda:0") == "on the device"
    assert calls == [("pin_memory",), ("to", "cuda:0", True, True)]
    calls.clear()
    to_device(_HostTensor(calls, pinned=True), "cuda")  # already pinned: not pinned again
    assert calls == [("to", "cuda", True, True)]


@needs_cuda
def test_a_cuda_copy_through_pinned_memory_is_exact() -> None:
    x = torch.randn(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    y = to_device(x, "cuda")
    assert y.device.type == "cuda" and not x.is_pinned()  # the caller's tensor is left as it was
    assert torch.equal(y.cpu(), x)
    assert torch.equal((y * 2).cpu(), x * 2)  # later kernels on the stream see the finished copy
