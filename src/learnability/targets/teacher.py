"""A frozen teacher network: the target of the teacher-student setup (Challenge 2, part A).

The teacher ``T`` is a fully connected ReLU network (ReLU after every hidden unit, none on the
output) whose weights and biases are i.i.d. ``N(0, std^2)`` and never change. The Challenge's
teacher maps ``R^100 -> R`` through hidden widths ``75 -> 50 -> 10`` (11,896 parameters) and is
queried on inputs ``x ~ U[0, 2]^100``.

The teacher is a one-member :class:`~learnability.engine.StackedMLP` (``scheme="normal"``), so it
shares the students' exact forward pass. Its parameters are kept private: every accessor returns
copies, they never require gradients, and :meth:`Teacher.label` runs under ``torch.no_grad`` —
training a student can neither read gradients from nor write into the teacher.

Example::

    teacher = Teacher(seed=0)                    # the Challenge's 100 -> 75 -> 50 -> 10 -> 1
    g = torch.Generator().manual_seed(1)
    x = sample_uniform(60_000, 100, low=0.0, high=2.0, generator=g)   # (60000, 100)
    y = teacher.label(x)                         # (60000, 1)

References:
    E. Gardner and B. Derrida, "Three unfinished works on the optimal storage capacity of
    networks", J. Phys. A 22(12):1983-1994, 1989 (the teacher-student setup).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from learnability._validation import ParameterError, check_in_range
from learnability.engine import MLPSpec, StackedMLP

__all__ = [
    "TEACHER_D_IN",
    "TEACHER_HIDDEN",
    "TEACHER_INPUT_HIGH",
    "TEACHER_INPUT_LOW",
    "Teacher",
    "teacher_spec",
]

# The Challenge's teacher (AdvML Challenge 2024 #2, part A, item 1): R^100 -> R, hidden 75, 50, 10.
TEACHER_D_IN = 100
TEACHER_HIDDEN = (75, 50, 10)
# Its inputs: x ~ U[0, 2]^100 (part A, item 2).
TEACHER_INPUT_LOW = 0.0
TEACHER_INPUT_HIGH = 2.0


def teacher_spec(d_in: int = TEACHER_D_IN, hidden: Sequence[int] = TEACHER_HIDDEN, d_out: int = 1) -> MLPSpec:
    """The teacher's architecture: a plain (non-residual) ReLU MLP ``d_in -> *hidden -> d_out``."""
    return MLPSpec(d_in, tuple(hidden), d_out, residual=False, activation="relu")


class Teacher:
    """A frozen ReLU MLP with i.i.d. ``N(0, std^2)`` weights and biases.

    Args:
        spec: architecture (default: the Challenge's ``100 -> 75 -> 50 -> 10 -> 1``); must be a
            non-residual ReLU network.
        seed: the seed of the parameters (same seed, same teacher).
        std: standard deviation of every weight and bias.
        device: where the parameters live and labels are computed.
        dtype: floating dtype of the parameters (inputs are cast to it).

    Raises:
        ParameterError: residual or non-ReLU ``spec``, ``std <= 0``.
    """

    def __init__(
        self,
        spec: MLPSpec | None = None,
        *,
        seed: int,
        std: float = 1.0,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        spec = teacher_spec() if spec is None else spec
        if spec.residual or spec.activation != "relu":
            raise ParameterError(
                "spec",
                "Teacher",
                "a non-residual ReLU MLPSpec",
                f"residual={spec.residual}, activation={spec.activation!r}",
            )
        check_in_range(seed, "seed", "Teacher", low=0, kind=int)
        check_in_range(std, "std", "Teacher", low=0.0, low_inclusive=False)
        self.spec, self.seed, self.std = spec, int(seed), float(std)
        self._model = StackedMLP(spec)
        # (1, in, out) weights and (1, 1, out) biases; init returns requires_grad=False tensors.
        self._params = self._model.init([self.seed], scheme="normal", std=self.std, device=device, dtype=dtype)

    # ------------------------------------------------------------------ description

    @property
    def n_params(self) -> int:
        """Number of (frozen) weights and biases: 11,896 for the Challenge's teacher."""
        return self.spec.n_params

    @property
    def n_layers(self) -> int:
        """Number of linear layers (4 for the Challenge's teacher)."""
        return self.spec.n_layers

    @property
    def device(self) -> torch.device:
        return self._params[0].device

    @property
    def dtype(self) -> torch.dtype:
        return self._params[0].dtype

    def __repr__(self) -> str:
        dims = " -> ".join(str(d) for d in self.spec.dims)
        return f"Teacher({dims}, seed={self.seed}, std={self.std}, n_params={self.n_params})"

    # ------------------------------------------------------------------ parameters (copies)

    @property
    def params(self) -> list[Tensor]:
        """Copies of the stacked parameters ``[W_0..W_{L-1}, b_0..b_{L-1}]``, K = 1:
        ``W_l``: (1, in, out), ``b_l``: (1, 1, out)."""
        return [p.detach().clone() for p in self._params]

    def layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The layers as float64 ``(W (out, in), b (out,))`` pairs, the ``nn.Linear`` layout."""
        return [
            (w.double().numpy(), b.double().numpy()) for w, b in self._model.layers([p.cpu() for p in self._params], 0)
        ]

    def weights(self) -> list[np.ndarray]:
        """Weight matrices ``(out_l, in_l)`` per layer (float64 copies)."""
        return [w for w, _ in self.layers()]

    def biases(self) -> list[np.ndarray]:
        """Bias vectors ``(out_l,)`` per layer (float64 copies)."""
        return [b for _, b in self.layers()]

    def flat_parameters(self) -> np.ndarray:
        """All weights then all biases, pooled: ``(n_params,)`` float64."""
        w, b = self.weights(), self.biases()
        return np.concatenate([x.ravel() for x in w] + [x.ravel() for x in b])

    # ------------------------------------------------------------------ labelling

    @torch.no_grad()
    def label(self, x: Tensor) -> Tensor:
        """Label inputs with the teacher: ``y = T(x)``.

        Args:
            x: (N, d_in) inputs (cast to the teacher's dtype and device).

        Returns:
            (N, d_out) labels, without gradient history.

        Raises:
            ParameterError: ``x`` not of shape (N, d_in).
        """
        if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != self.spec.d_in:
            shape = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
            raise ParameterError(
                "x", "Teacher.label", f"a tensor with shape (N, {self.spec.d_in})", f"array of shape {shape}"
            )
        x = x.to(device=self.device, dtype=self.dtype)
        return self._model.predict(self._params, x)[0]  # (N, d_out)

    __call__ = label
