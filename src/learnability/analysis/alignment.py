"""Symmetry-aware comparison of a trained ReLU MLP with a teacher of the same architecture.

A ReLU MLP ``x -> W_L relu(... relu(W_1 x + b_1) ...) + b_L`` computes the same function after

* permuting the hidden units of a layer (rows of ``W_l``, ``b_l`` and columns of ``W_{l+1}``);
* scaling a hidden unit's incoming weights and bias by ``c > 0`` and its outgoing weights by
  ``1 / c`` (``relu(c z) = c relu(z)``).

So "did the student find the teacher?" is answered modulo these symmetries, layer by layer from
the input (greedy: each layer is matched given the previous layer's matching):

1. the student's incoming vectors ``[w_in, b]`` are expressed in the teacher's input order and
   gauge (previous layer permuted and rescaled, see 4.);
2. the cosine between every student and every teacher incoming vector is computed;
3. ``scipy.optimize.linear_sum_assignment`` finds the matching that maximises the total cosine
   (Hungarian algorithm);
4. the matched student units are put in the teacher's order and rescaled so that their incoming
   vectors have the teacher's norms, the inverse scale going to the next layer's columns. This
   *aligned student* computes exactly the student's function, and the reported cosines are the
   row cosines between the aligned student and the teacher.

The output layer is not permuted (its units are the outputs); its cosines are reported too.

Widths may differ. A wider student has teacher units matched to a subset of its units
(``matching="student_wider"``); its other units are listed in ``unmatched_student`` and kept at
the end of the aligned layer, unscaled. A narrower student has every unit matched and some
teacher units unmatched (``matching="student_narrower"``, cosine NaN, not recovered). In the next
layer only matched inputs can be compared: the inner product runs over matched input units, while
the norms include all inputs, so weight on an unmatched unit lowers the cosine (conservative: a
cosine of 1 means the student ignores its extra units).

Parameters are plain lists ``weights[l]: (out_l, in_l)`` and ``biases[l]: (out_l,)`` (numpy or
torch), as in ``torch.nn.Linear``; results are float64 numpy.

References:
    H. W. Kuhn, "The Hungarian method for the assignment problem", 1955.
    S. Ainsworth, J. Hayase, S. Srinivasa, "Git Re-Basin: merging models modulo permutation
    symmetries", ICLR 2023 (layer-wise weight matching).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from learnability._validation import ParameterError, check_in_range
from learnability._words import plural

__all__ = [
    "LayerAlignment",
    "MLPAlignment",
    "align_mlp",
    "aligned_student",
    "mlp_forward",
]

DEFAULT_THRESHOLD = 0.9  # a unit counts as recovered when its cosine exceeds this (issue 3)
UNMATCHED = -1  # permutation entry of a teacher unit without a student partner


@dataclass(frozen=True)
class LayerAlignment:
    """Alignment of one layer of the student to the teacher's.

    Attributes:
        layer: index ``l`` of the layer (``weights[l]``); hidden layers are ``0..L-2``.
        n_student: number of student units in the layer.
        n_teacher: number of teacher units in the layer.
        matching: ``"bijection"`` (equal widths), ``"student_wider"`` (teacher units matched to a
            subset of student units), ``"student_narrower"`` (some teacher units unmatched) or
            ``"identity"`` (output layer: units are not permuted).
        permutation: for each teacher unit ``j``, the index of its student unit (``-1`` if
            unmatched). ``student_rows[permutation]`` puts the student in the teacher's order; if
            the student was made as ``teacher_rows[pi]``, ``permutation`` is the inverse of ``pi``.
        cosines: for each teacher unit, the cosine with its student unit (NaN if unmatched).
        mean_cosine: mean over matched teacher units.
        recovered: number of teacher units with cosine ``> threshold``.
        threshold: the recovery threshold.
        unmatched_student: student units matched to no teacher unit.
    """

    layer: int
    n_student: int
    n_teacher: int
    matching: str
    permutation: tuple[int, ...]
    cosines: tuple[float, ...]
    mean_cosine: float
    recovered: int
    threshold: float
    unmatched_student: tuple[int, ...]

    @property
    def fraction_recovered(self) -> float:
        """``recovered / n_teacher``."""
        return self.recovered / self.n_teacher

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain Python values (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class MLPAlignment:
    """Result of :func:`align_mlp`.

    Attributes:
        layers: one :class:`LayerAlignment` per hidden layer, from the input.
        output: the output layer compared unit by unit (``matching="identity"``) after alignment.
        threshold: the recovery threshold.
    """

    layers: tuple[LayerAlignment, ...]
    output: LayerAlignment
    threshold: float

    @property
    def mean_cosine(self) -> list[float]:
        """Mean cosine per hidden layer."""
        return [layer.mean_cosine for layer in self.layers]

    @property
    def recovered(self) -> list[int]:
        """Recovered units per hidden layer."""
        return [layer.recovered for layer in self.layers]

    def to_dict(self) -> dict[str, Any]:
        """``{"threshold", "mean_cosine": [...], "recovered": [...], "layers": [...],
        "output": {...}}``."""
        return {
            "threshold": self.threshold,
            "mean_cosine": self.mean_cosine,
            "recovered": self.recovered,
            "layers": [layer.to_dict() for layer in self.layers],
            "output": self.output.to_dict(),
        }


# --------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------


def _array(value: Any, name: str, owner: str) -> np.ndarray:
    if hasattr(value, "detach"):  # torch.Tensor, without importing torch here
        value = value.detach().cpu().double().numpy()
    try:
        out = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(name, owner, "an array of real numbers", value) from None
    if not np.isfinite(out).all():
        raise ParameterError(name, owner, "an array of finite values", "non-finite entries")
    return out


def _network(
    weights: Any, biases: Any, wname: str, bname: str, owner: str
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Validate ``weights[l]: (out_l, in_l)``, ``biases[l]: (out_l,)`` with chained widths."""
    for value, name in ((weights, wname), (biases, bname)):
        # A single (stacked) array is refused: per-layer shapes differ in general.
        if hasattr(value, "shape") or isinstance(value, (str, bytes)):
            raise ParameterError(name, owner, "a list of per-layer arrays", type(value).__name__)
    try:
        weights, biases = list(weights), list(biases)
    except TypeError:
        raise ParameterError(wname, owner, "a list of per-layer arrays", type(weights).__name__) from None
    if len(weights) == 0 or len(weights) != len(biases):
        raise ParameterError(
            bname,
            owner,
            f"a list of {plural(len(weights), 'bias vector')}, one per weight matrix (at least one layer)",
            plural(len(biases), "bias vector"),
        )
    ws: list[np.ndarray] = []
    bs: list[np.ndarray] = []
    for l, (w, b) in enumerate(zip(weights, biases, strict=True)):
        w = _array(w, f"{wname}[{l}]", owner)
        b = _array(b, f"{bname}[{l}]", owner)
        if w.ndim != 2:
            raise ParameterError(
                f"{wname}[{l}]", owner, "an array with 2 dimensions (out, in)", f"array of shape {w.shape}"
            )
        if b.shape != (w.shape[0],):
            raise ParameterError(
                f"{bname}[{l}]", owner, f"an array with shape ({w.shape[0]},)", f"array of shape {b.shape}"
            )
        if l > 0 and w.shape[1] != ws[-1].shape[0]:
            raise ParameterError(
                f"{wname}[{l}]",
                owner,
                f"an array with {ws[-1].shape[0]} columns (the previous layer's width)",
                f"array of shape {w.shape}",
            )
        ws.append(w)
        bs.append(b)
    return ws, bs


def _networks(
    student_weights: Any,
    student_biases: Any,
    teacher_weights: Any,
    teacher_biases: Any,
    owner: str,
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    sw, sb = _network(student_weights, student_biases, "student_weights", "student_biases", owner)
    tw, tb = _network(teacher_weights, teacher_biases, "teacher_weights", "teacher_biases", owner)
    if len(sw) != len(tw):
        raise ParameterError(
            "student_weights", owner, f"a list of {len(tw)} layers (the teacher's depth)", f"{len(sw)} layers"
        )
    if sw[0].shape[1] != tw[0].shape[1]:
        raise ParameterError(
            "student_weights[0]",
            owner,
            f"an array with {tw[0].shape[1]} columns (the teacher's input dimension)",
            f"array of shape {sw[0].shape}",
        )
    if sw[-1].shape[0] != tw[-1].shape[0]:
        raise ParameterError(
            f"student_weights[{len(sw) - 1}]",
            owner,
            f"an array with {tw[-1].shape[0]} rows (the teacher's output dimension)",
            f"array of shape {sw[-1].shape}",
        )
    return sw, sb, tw, tb


# --------------------------------------------------------------------------------------------
# Core
# --------------------------------------------------------------------------------------------


def _norms(w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Norms of the incoming vectors ``[w_i, b_i]``: ``(out,)``."""
    return np.sqrt(np.sum(w**2, axis=1) + b**2)


def _cosines(
    ws: np.ndarray,
    bs: np.ndarray,
    wt: np.ndarray,
    bt: np.ndarray,
    in_s: np.ndarray,
    in_t: np.ndarray,
) -> np.ndarray:
    """Cosines ``(n_s, n_t)`` of incoming vectors, inner product over matched inputs only.

    ``in_s[k]`` and ``in_t[k]`` are the student and teacher indices of the k-th matched input.
    Norms use all inputs. A zero vector has cosine 0 with everything.
    """
    inner = ws[:, in_s] @ wt[:, in_t].T + np.outer(bs, bt)  # (n_s, n_t)
    denom = np.outer(_norms(ws, bs), _norms(wt, bt))
    cos = np.zeros_like(inner)
    np.divide(inner, denom, out=cos, where=denom > 0.0)
    return np.clip(cos, -1.0, 1.0)  # rounding can step just outside


def _layer_result(
    layer: int,
    n_s: int,
    n_t: int,
    matching: str,
    rows: np.ndarray,
    cols: np.ndarray,
    cos: np.ndarray,
    threshold: float,
) -> LayerAlignment:
    perm = np.full(n_t, UNMATCHED, dtype=np.int64)
    perm[cols] = rows
    per_unit = np.full(n_t, math.nan)
    per_unit[cols] = cos[rows, cols]
    matched = per_unit[cols]
    return LayerAlignment(
        layer=layer,
        n_student=n_s,
        n_teacher=n_t,
        matching=matching,
        permutation=tuple(int(i) for i in perm),
        cosines=tuple(float(c) for c in per_unit),
        mean_cosine=float(np.mean(matched)) if matched.size else math.nan,
        recovered=int(np.sum(matched > threshold)),
        threshold=threshold,
        unmatched_student=tuple(int(i) for i in np.setdiff1d(np.arange(n_s), rows)),
    )


def _align(
    sw: list[np.ndarray],
    sb: list[np.ndarray],
    tw: list[np.ndarray],
    tb: list[np.ndarray],
    threshold: float,
) -> tuple[MLPAlignment, list[np.ndarray], list[np.ndarray]]:
    """Align layer by layer; return the report and the aligned student's parameters."""
    w = [x.copy() for x in sw]  # becomes the aligned student, layer by layer
    b = [x.copy() for x in sb]
    n_layers = len(w)
    in_s = in_t = np.arange(tw[0].shape[1])  # matched inputs: the input coordinates themselves
    hidden = []
    for l in range(n_layers - 1):
        n_s, n_t = w[l].shape[0], tw[l].shape[0]
        cos = _cosines(w[l], b[l], tw[l], tb[l], in_s, in_t)  # (n_s, n_t)
        rows, cols = linear_sum_assignment(cos, maximize=True)
        order = np.argsort(cols)  # list the pairs in the teacher's order
        rows, cols = rows[order], cols[order]
        matching = "bijection" if n_s == n_t else ("student_wider" if n_s > n_t else "student_narrower")
        hidden.append(_layer_result(l, n_s, n_t, matching, rows, cols, cos, threshold))

        # Aligned student: matched units first (teacher order), then the unmatched ones.
        new_order = np.concatenate([rows, np.setdiff1d(np.arange(n_s), rows)])
        w[l], b[l] = w[l][new_order], b[l][new_order]
        w[l + 1] = w[l + 1][:, new_order]
        # Rescale matched units to the teacher's incoming norms; c > 0 keeps the function.
        k = rows.size
        s_norm, t_norm = _norms(w[l][:k], b[l][:k]), _norms(tw[l][cols], tb[l][cols])
        ok = (s_norm > 0.0) & (t_norm > 0.0)  # a zero vector cannot be rescaled to a norm
        scale = np.ones(k)
        scale[ok] = t_norm[ok] / s_norm[ok]
        w[l][:k] *= scale[:, None]
        b[l][:k] *= scale
        w[l + 1][:, :k] /= scale[None, :]
        in_s, in_t = np.arange(k), cols

    last = n_layers - 1
    n_out = tw[last].shape[0]
    cos = _cosines(w[last], b[last], tw[last], tb[last], in_s, in_t)
    identity = np.arange(n_out)
    output = _layer_result(last, n_out, n_out, "identity", identity, identity, cos, threshold)
    return MLPAlignment(tuple(hidden), output, threshold), w, b


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def align_mlp(
    student_weights: Sequence[Any],
    student_biases: Sequence[Any],
    teacher_weights: Sequence[Any],
    teacher_biases: Sequence[Any],
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> MLPAlignment:
    """Match a student ReLU MLP's hidden units to a teacher's, modulo permutation and scaling.

    See the module docstring for the procedure. Depth, input and output dimensions must agree;
    hidden widths may differ.

    Args:
        student_weights: ``L`` matrices, ``student_weights[l]: (out_l, in_l)``.
        student_biases: ``L`` vectors, ``student_biases[l]: (out_l,)``.
        teacher_weights: ``L`` matrices of the teacher.
        teacher_biases: ``L`` vectors of the teacher.
        threshold: a teacher unit is recovered when its matched cosine exceeds this, in [-1, 1].

    Returns:
        :class:`MLPAlignment`: per hidden layer the permutation, per-unit cosines, mean cosine
        and number recovered, and the output layer compared after alignment.

    Raises:
        ParameterError: mismatched lists or shapes, non-finite parameters, bad ``threshold``.
    """
    owner = "align_mlp"
    threshold = float(check_in_range(threshold, "threshold", owner, low=-1.0, high=1.0))
    nets = _networks(student_weights, student_biases, teacher_weights, teacher_biases, owner)
    return _align(*nets, threshold)[0]


def aligned_student(
    student_weights: Sequence[Any],
    student_biases: Sequence[Any],
    teacher_weights: Sequence[Any],
    teacher_biases: Sequence[Any],
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The student re-expressed in the teacher's unit order and scale; the same function.

    Hidden layer ``l`` of the result lists the student units matched to teacher units
    ``0, 1, ...`` first (in that order), each rescaled so that its incoming vector ``[w, b]``
    has its teacher unit's norm, then any unmatched student units (unscaled). The next layer's
    columns are permuted the same way and divided by the scales, so
    ``mlp_forward(*aligned_student(...), x) == mlp_forward(student_weights, student_biases, x)``
    up to rounding. For a permuted, positively rescaled copy of the teacher the result equals
    the teacher.

    Args:
        student_weights: ``L`` matrices, ``student_weights[l]: (out_l, in_l)``.
        student_biases: ``L`` vectors, ``student_biases[l]: (out_l,)``.
        teacher_weights: ``L`` matrices of the teacher.
        teacher_biases: ``L`` vectors of the teacher.

    Returns:
        ``(weights, biases)``: lists of float64 arrays with the student's shapes.

    Raises:
        ParameterError: mismatched lists or shapes, non-finite parameters.
    """
    nets = _networks(student_weights, student_biases, teacher_weights, teacher_biases, "aligned_student")
    _, w, b = _align(*nets, DEFAULT_THRESHOLD)
    return w, b


def mlp_forward(weights: Sequence[Any], biases: Sequence[Any], x: Any) -> np.ndarray:
    """Forward pass of a ReLU MLP in float64 numpy: ReLU after every layer but the last.

    Args:
        weights: ``L`` matrices, ``weights[l]: (out_l, in_l)``.
        biases: ``L`` vectors, ``biases[l]: (out_l,)``.
        x: inputs ``(N, in_0)``.

    Returns:
        Outputs ``(N, out_{L-1})``.

    Raises:
        ParameterError: mismatched shapes, ``x`` not ``(N, in_0)``.
    """
    owner = "mlp_forward"
    ws, bs = _network(weights, biases, "weights", "biases", owner)
    h = _array(x, "x", owner)
    if h.ndim != 2 or h.shape[1] != ws[0].shape[1]:
        raise ParameterError("x", owner, f"an array with shape (any, {ws[0].shape[1]})", f"array of shape {h.shape}")
    for l, (w, b) in enumerate(zip(ws, bs, strict=True)):
        h = h @ w.T + b  # (N, out_l)
        if l < len(ws) - 1:
            h = np.maximum(h, 0.0)
    return h
