"""Tutorial 3's first Dataset, the ``ToyDataset``: ``y = x^3 + noise``, items as dicts.

The tutorial's class draws its noise from the global generator; here the generator is explicit
(same seed, same data), everything else is the tutorial's: ``x = linspace(-1, 1, n_points)``
pre-loaded in memory, ``len(dataset)``, ``dataset[i] = {"x": x[i], "y": y[i]}``, iteration, and a
``DataLoader`` that collates the dict items into a dict of batches.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

from learnability.studies.data_pipeline.results import ToyExample

__all__ = ["ToyDataset", "toy_example"]


class ToyDataset(Dataset):
    """Tutorial 3's toy data set: ``n_points`` pairs ``(x, x^3 + noise * eps)``, held in memory.

    Args:
        n_points: number of items.
        noise: standard deviation of the Gaussian noise on ``y``.
        generator: the noise's random numbers (required: nothing random happens implicitly).

    Items: ``{"x": (), "y": ()}`` float32 scalars.
    """

    def __init__(self, n_points: int = 20, noise: float = 0.1, *, generator: torch.Generator) -> None:
        super().__init__()
        self.n_points = n_points
        self.x = torch.linspace(-1, 1, n_points)  # (n,)
        self.y = self.x**3 + noise * torch.randn(n_points, generator=generator)  # (n,)

    def __len__(self) -> int:
        return self.n_points

    def __getitem__(self, idx: int) -> dict[str, torch.Tensor]:
        if not -self.n_points <= idx < self.n_points:
            raise IndexError(f"ToyDataset index {idx} out of range for {self.n_points} items")
        return {"x": self.x[idx], "y": self.y[idx]}


def toy_example(n_points: int, noise: float, batch_size: int, *, seed: int) -> ToyExample:
    """The tutorial's first steps with a ``ToyDataset``, each measured: an item, iteration, batches."""
    data = ToyDataset(n_points, noise, generator=torch.Generator().manual_seed(seed))
    # The tutorial's `for sample in toydataset`: __getitem__ alone makes a Dataset iterable (the
    # sequence protocol stops at the IndexError past the last item).
    iterated = sum(1 for _ in data)
    loader = DataLoader(data, batch_size=batch_size, shuffle=False)
    batches = list(loader)
    first = batches[0]
    item = data[min(5, n_points - 1)]  # the tutorial looks at toydataset[5]
    residual = data.y - data.x**3
    return ToyExample(
        n_points=len(data),
        noise=noise,
        item_index=min(5, n_points - 1),
        item={k: float(v) for k, v in item.items()},
        iterated=iterated,
        batch_size=batch_size,
        n_batches=len(batches),
        batch_keys=sorted(first),
        batch_shape=list(first["x"].shape),
        residual_sd=float(residual.std()),
        max_abs_x=float(data.x.abs().max()),
    )
