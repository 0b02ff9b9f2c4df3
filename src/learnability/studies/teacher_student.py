"""Teacher-student: under-, exactly- and over-parameterised students of a frozen teacher.

AdvML Challenge 2024 #2, part A (issue 3). A frozen ReLU teacher ``100 -> 75 -> 50 -> 10 -> 1`` with
i.i.d. N(0, 1) weights and biases labels inputs ``x ~ U[0, 2]^100``; students of the same family
(default init) learn it online — a fresh batch of B = 128 teacher-labelled inputs every step — on
the MSE. Per student, top to bottom:

1. **Learning-rate sweep** — one ensemble of every rate on a log grid, all members sharing one
   initialisation and one data stream so rates compete on equal terms; the rate that reaches
   quasi-stationarity fastest among those within ``tolerance`` of the best final *training* loss
   (mean over the last window of fresh batches: an unbiased risk estimate) wins; members no better
   than predicting the mean (``failure_loss = Var(y)`` on a training sample) count as collapsed;
   the engine extends the grid past an edge.
2. **Seeds** — ``seeds`` fresh initialisations and data streams (none shared with the sweep) at
   the chosen rate, one ensemble, trained to quasi-stationarity or the step cap; train loss logged
   every step and test loss every ``eval_every`` steps.
3. **Analysis** — test MSE raw and relative to ``Var(y_test)`` with 95% CIs over seeds, against
   two baselines on the same test set (the training mean, OLS fitted on a training sample); the
   distribution of every layer's weights and biases (and all of them pooled) against the
   teacher's: moments, KS, W1; for students with the teacher's depth, a symmetry-aware alignment
   of hidden units (Hungarian matching modulo permutation and positive rescaling).

The test set is touched only to report: it never enters the sweep, the stopping rule, the target
standardisation or the baselines' fits.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field, field_validator
from torch import Tensor

from learnability._validation import ParameterError, parameter_message
from learnability.analysis import (
    MLPAlignment,
    align_mlp,
    compare_distributions,
    geometric_mean_ratio,
    mean_estimate,
)
from learnability.config import ConfigSection, StudyConfig
from learnability.data import sample_uniform
from learnability.engine import (
    EvalSet,
    LRGrid,
    MLPSpec,
    OnlineSource,
    Selection,
    StackedMLP,
    Stationarity,
    SweepResult,
    TrainResult,
    TrainSpec,
    lr_sweep,
    make_optimizer,
    mse,
    train,
)
from learnability.linear import least_squares, with_bias
from learnability.report import (
    Bar,
    Chart,
    Figure,
    Heading,
    Hist,
    Line,
    Panel,
    Report,
    Table,
    Text,
    curve_lines,
    fmt,
    fmt_ci,
)
from learnability.runs import Run
from learnability.studies import Study, StudyContext, register
from learnability.studies._parameter_count import ARTIFACT as PARAMETER_COUNT_ARTIFACT
from learnability.studies._parameter_count import (
    config_differences,
    parameter_count_blocks,
    parameter_count_table,
)
from learnability.targets import (
    TEACHER_D_IN,
    TEACHER_HIDDEN,
    TEACHER_INPUT_HIGH,
    TEACHER_INPUT_LOW,
    Teacher,
    teacher_spec,
)

__all__ = [
    "LayerPairing",
    "SharedStreamSource",
    "SweepSettings",
    "TargetScaling",
    "TeacherSettings",
    "TeacherStudentConfig",
    "TrainSettings",
    "align_to_teacher",
    "alignment_summary",
    "compare_with_teacher",
    "fit_baselines",
    "layer_pairing",
    "parameter_count_table",
    "report",
    "run",
]

STUDY_NAME = "teacher-student"
# The Challenge's students (part A, item 3): S_u under-, S_e exactly-, S_o over-parameterised.
DEFAULT_STUDENTS: dict[str, list[int]] = {
    "S_u": [10],  # one hidden layer of 10 units
    "S_e": list(TEACHER_HIDDEN),  # as the teacher: 75, 50, 10
    "S_o": [200, 200, 200, 100],  # four hidden layers
}
# Student names become file names of artifacts and figures.
_NAME_RE = re.compile(r"^[A-Za-z0-9_\-]+$")
# Steps between host synchronisations of the engine (logging, divergence, stationarity).
ENGINE_BLOCK = 100
# A unit of an aligned student counts as recovered above this cosine (issue 3).
RECOVERY_THRESHOLD = 0.9
# Parameter-count ratio (student / teacher) classes used in the commentary.
PARAM_RATIO_EXACT = 1.0
# 95% intervals everywhere.
CONFIDENCE = 0.95
# Significance level used to read KS p-values in the commentary.
KS_ALPHA = 0.05
# A KS test needs a spread on both sides: groups with fewer values (an output bias) report W1 only.
KS_MIN_N = 2
# p-values below this print as "< 1e-300" (they underflow to 0 for large samples).
P_FLOOR = 1e-300
# Report plots: the per-batch training loss is smoothed over this fraction of the run's steps...
CURVE_SMOOTH_FRACTION = 1 / 100
# ... but never over more than this many steps.
CURVE_SMOOTH_MAX = 200
# Histograms: bins, and the central quantile range their common edges cover (tails clipped).
HIST_BINS = 60
HIST_RANGE_Q = (0.005, 0.995)


# =============================================================================================
# Configuration
# =============================================================================================


class TeacherSettings(ConfigSection):
    """The frozen teacher (part A, item 1) and its input distribution (item 2)."""

    seed: int = Field(
        0,
        ge=0,
        description="Seed of the teacher's N(0, std^2) parameters; the teacher "
        "is the task, so it does not follow the run's seed.",
    )
    d_in: int = Field(TEACHER_D_IN, ge=1, description="Input dimension (spec: 100).")
    hidden: list[int] = Field(
        default_factory=lambda: list(TEACHER_HIDDEN), description="Hidden widths (spec: 75, 50, 10)."
    )
    init_std: float = Field(1.0, gt=0, description="Std of every weight and bias (spec: N(0, 1)).")
    input_low: float = Field(TEACHER_INPUT_LOW, description="Inputs ~ U[input_low, input_high]^d_in (spec: [0, 2]).")
    input_high: float = Field(TEACHER_INPUT_HIGH, description="See input_low.")

    @field_validator("hidden")
    @classmethod
    def _widths(cls, v: list[int]) -> list[int]:
        if not v or any(w < 1 for w in v):
            raise ValueError(parameter_message("teacher.hidden", STUDY_NAME, "a non-empty list of positive widths", v))
        return v


class SweepSettings(ConfigSection):
    """The learning-rate sweep (one ensemble per student; part A, item 4)."""

    lr_low: float = Field(
        1e-4,
        gt=0,
        description="Lowest rate of the grid; calibration finds optimal "
        "Adam rates from ~7e-4 (S_o, raw targets) to ~0.1 (S_u, raw targets).",
    )
    lr_high: float = Field(0.3, gt=0, description="Highest rate (3x the largest calibrated optimum).")
    points: int = Field(
        8,
        ge=2,
        description="Log-spaced rates (issue: >= 8; ratio (high/low)^(1/7) = 3.1 between neighbours at the defaults).",
    )
    max_extensions: int = Field(
        2, ge=0, description="Times the grid may grow past an edge whose rate was chosen (2 rates per extension)."
    )
    max_steps: int = Field(
        16_000,
        ge=1,
        description="Step cap of a sweep: calibration shows the best rates near their floor after 15-20k steps.",
    )
    tolerance: float = Field(
        0.1,
        ge=0,
        description="Rates whose final training loss is within this "
        "relative margin of the best are 'good'; the fastest good one wins.",
    )
    failure_margin: float = Field(
        0.05,
        ge=0,
        le=1,
        description="A final loss above (1 - margin) * Var(y_train) counts as collapsed to the mean predictor.",
    )


class TrainSettings(ConfigSection):
    """Online training of each student (part A, item 4)."""

    batch_size: int = Field(128, ge=1, description="B, fresh teacher-labelled inputs per step (spec).")
    optimizer: Literal["adam", "sgd"] = Field(
        "adam", description="Adam (default) or plain SGD; with sgd and raw targets, lower the sweep's grid."
    )
    max_steps: int = Field(
        24_000,
        ge=1,
        description="Step cap of the seed runs (1.5x the sweep's, so slow seeds can still reach stationarity).",
    )
    seeds: int = Field(3, ge=3, description="Fresh seeds at the chosen rate (issue: >= 3).")
    eval_every: int = Field(
        1_000,
        ge=1,
        description="Steps between test-set evaluations (one evaluation of 3 S_o members on 60k points ~1 s).",
    )
    window: int = Field(
        1_000,
        ge=1,
        description="Quasi-stationarity window (steps averaged before "
        "comparing; also the window of the final training loss).",
    )
    rel_tol: float = Field(
        0.01, gt=0, description="Stationary when a window improves on the previous by less than this fraction..."
    )
    patience: int = Field(2, ge=1, description="... for this many consecutive windows.")


class TeacherStudentConfig(StudyConfig):
    """Students of a frozen N(0, 1) teacher trained online (AdvML Challenge 2024 #2, part A).

    Command:  learnability run teacher-student        (smoke: learnability run teacher-student --smoke)
              standardised targets: learnability run teacher-student --set standardize_targets=true
              with the parameter-count sweep in the report (run the sweep first, ~21 min):
              learnability run teacher-student --set parameter_count=sweeps/parameter-count
    Runtime:  measured 7 min 12 s end to end through the CLI (report included; the study itself
              399 s) on the quiet 2-core CPU with 2 threads and compile=True (an earlier run under
              load ~1-2: 411 s = S_u 29 s, S_e 60 s, S_o 317 s, of which the S_o sweep 8 x 16k
              steps 172 s and its seeds 3 x 24k 145 s). No grid extension was needed; each adds
              2 x 16k steps (~45 s for S_o). Smoke: ~16 s through the CLI (run + report).
    Expected: (full run, seed 0, raw targets; Var(y_test) = 3.66e4) relative test MSE S_o 0.060
              [0.027, 0.093] (lr 3.1e-3) < S_e 0.091 [0.064, 0.118] (lr 9.7e-3) < S_u 0.237
              [0.214, 0.259] (lr 3.0e-2); OLS 0.296, mean predictor 1.00. S_e and S_o are still
              improving at the 24k cap; too-high rates collapse to rel ~1 or diverge. Trained
              parameters are distinguishable from N(0, 1) (KS p < 1e-25 in every seed); S_e
              recovers only 1-4 of the teacher's 135 hidden units (aligned mean cosine ~0.27 vs
              ~0.20 at initialisation). Calibration (independent prototype, 15-20k steps): S_o
              ~0.08, S_e ~0.11, S_u ~0.23 raw; 0.05 / 0.08 / 0.21 standardised.
    """

    teacher: TeacherSettings = Field(default_factory=TeacherSettings)
    students: dict[str, list[int]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_STUDENTS.items()},
        description="name -> hidden widths (part A, item 3).",
    )
    n_test: int = Field(
        60_000, ge=100, description="Test inputs from U[0, 2]^100, fixed for the run (spec: at least 6e4)."
    )
    n_reference: int = Field(
        60_000,
        ge=200,
        description="A separate *training* sample of the "
        "teacher: fits the mean and OLS baselines, the standardisation (m, s) "
        "and the collapse level Var(y); never the test set.",
    )
    standardize_targets: bool = Field(
        False,
        description="Train on (y - m) / s (m, s from the "
        "reference sample); metrics are reported in original units. "
        "Default False follows the spec.",
    )
    compile: bool = Field(True, description="Fuse each training step with torch.compile.")
    n_quantiles: int = Field(100, ge=2, description="Quantiles in the QQ plots.")
    sweep: SweepSettings = Field(default_factory=SweepSettings)
    train: TrainSettings = Field(default_factory=TrainSettings)
    parameter_count: str | None = Field(
        None,
        description="Folder of a finished parameter-count "
        "sweep (learnability sweep src/learnability/sweep/examples/"
        "parameter-count.toml): its table, figure and commentary "
        "are copied into this run's report. Read, not re-run.",
    )

    @field_validator("parameter_count")
    @classmethod
    def _sweep_folder(cls, v: str | None) -> str | None:
        # Only the shape here: whether the folder holds a sweep is checked when the run starts
        # (a config must stay loadable after the folder moves).
        if v is not None and not v.strip():
            raise ValueError(
                parameter_message("parameter_count", STUDY_NAME, "the path of a sweep folder, or absent", v)
            )
        return v

    @field_validator("students")
    @classmethod
    def _students(cls, v: dict[str, list[int]]) -> dict[str, list[int]]:
        if not v:
            raise ValueError(parameter_message("students", STUDY_NAME, "a non-empty table of name -> hidden widths", v))
        for name, widths in v.items():
            if not _NAME_RE.match(name):
                raise ValueError(
                    parameter_message(f"students.{name}", STUDY_NAME, "a name of letters, digits, '_' or '-'", name)
                )
            if not widths or any(w < 1 for w in widths):
                raise ValueError(
                    parameter_message(f"students.{name}", STUDY_NAME, "a non-empty list of positive widths", widths)
                )
        return v


SMOKE: dict[str, Any] = {
    "n_test": 2_000,  # a few ms per evaluation
    "n_reference": 2_000,  # ~20x the 101 OLS coefficients
    "compile": False,  # compilation would dominate a run of a few hundred steps
    # 4 rates over the default range (x14 between neighbours); one extension past an edge.
    "sweep": {"points": 4, "max_steps": 120, "max_extensions": 1},
    # Windows of 30 steps, so the stationarity test can fire within the 150-step cap.
    "train": {"max_steps": 150, "eval_every": 50, "window": 30},
}


# =============================================================================================
# Building blocks (public so that tests exercise the study's own code paths)
# =============================================================================================


@dataclass(frozen=True)
class TargetScaling:
    """What the students are trained on: ``(y - mean) / std`` (or ``y`` itself).

    Every loss the engine sees is in *training units*; multiply by :attr:`loss_scale` for the
    original units.
    """

    mean: float
    std: float
    standardized: bool

    @classmethod
    def fit(cls, y_reference: np.ndarray, *, standardize: bool) -> TargetScaling:
        """Estimate ``mean`` and ``std`` (ddof = 0) on a training sample ``y_reference: (n, 1)``."""
        y = np.asarray(y_reference, dtype=np.float64)
        return cls(float(y.mean()), float(y.std()), bool(standardize))

    @property
    def loss_scale(self) -> float:
        """Factor from a squared error in training units to original units."""
        return self.std**2 if self.standardized else 1.0

    def to_train(self, y: Tensor) -> Tensor:
        """Original targets -> training targets."""
        return (y - self.mean) / self.std if self.standardized else y

    def to_dict(self) -> dict[str, Any]:
        return {"standardized": self.standardized, "mean": self.mean, "std": self.std, "loss_scale": self.loss_scale}


class SharedStreamSource:
    """An :class:`~learnability.engine.OnlineSource` that draws and labels each distinct seed once.

    Member k still receives exactly the batches an ``OnlineSource`` would give it (its stream
    depends on ``seeds[k]`` only); members with equal seeds — every member of a learning-rate
    sweep — share one draw instead of repeating the sampling and the teacher's forward pass.

    Args:
        inner: the online source whose streams are shared.
    """

    def __init__(self, inner: OnlineSource) -> None:
        self.inner = inner
        self._index: Tensor | None = None

    @property
    def steps_per_epoch(self) -> None:
        return None

    def start(self, seeds: Sequence[int], device: torch.device) -> None:
        unique, inverse = np.unique(np.asarray(seeds, dtype=np.int64), return_inverse=True)
        self.inner.start([int(s) for s in unique], device)
        self._index = torch.as_tensor(inverse, dtype=torch.long, device=device)

    def next(self) -> tuple[Tensor, Tensor]:
        if self._index is None:
            raise RuntimeError("SharedStreamSource.next() called before start().")
        x, y = self.inner.next()  # (U, B, d), (U, B, 1) for U distinct seeds
        return x.index_select(0, self._index), y.index_select(0, self._index)  # (K, B, ...)


def fit_baselines(x_ref: Tensor, y_ref: Tensor, x_test: Tensor, y_test: Tensor) -> dict[str, Any]:
    """Test MSE of the training-mean predictor and of OLS fitted on the training sample.

    Args:
        x_ref: (n, d) training inputs; y_ref: (n, 1) their labels.
        x_test: (N, d) test inputs; y_test: (N, 1) their labels (used to score only).

    Returns:
        ``{"mean": {...}, "linear": {...}}``, each with ``test_mse``, ``test_rel_mse`` (over
        ``Var(y_test)``) and ``train_rel_mse`` (in-sample, over ``Var(y_ref)``).
    """
    xr, yr = x_ref.double().cpu().numpy(), y_ref.double().cpu().numpy()
    xt, yt = x_test.double().cpu().numpy(), y_test.double().cpu().numpy()
    var_test, var_ref = float(yt.var()), float(yr.var())
    mean = float(yr.mean())
    w = least_squares(with_bias(xr), yr)  # (d + 1, 1), intercept last
    ols_test = float(np.mean((with_bias(xt) @ w - yt) ** 2))
    ols_train = float(np.mean((with_bias(xr) @ w - yr) ** 2))
    mean_test = float(np.mean((yt - mean) ** 2))
    return {
        "mean": {"test_mse": mean_test, "test_rel_mse": mean_test / var_test, "train_rel_mse": 1.0, "value": mean},
        "linear": {"test_mse": ols_test, "test_rel_mse": ols_test / var_test, "train_rel_mse": ols_train / var_ref},
    }


def student_layers(model: StackedMLP, params: Sequence[Tensor], k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Member k's layers as float64 ``(W (out, in), b (out,))`` pairs."""
    return [(w.double().cpu().numpy(), b.double().cpu().numpy()) for w, b in model.layers(list(params), k)]


@dataclass(frozen=True)
class LayerPairing:
    """Which teacher layers a student layer is compared with.

    Attributes:
        student_layer: index of the student's layer.
        teacher_layers: teacher layers pooled as its counterpart (empty: nothing comparable).
        role: ``"input"`` (first layer), ``"hidden"`` (hidden -> hidden) or ``"output"``.
    """

    student_layer: int
    teacher_layers: tuple[int, ...]
    role: str


def layer_pairing(n_student_layers: int, n_teacher_layers: int) -> list[LayerPairing]:
    """Pair each student layer with its comparable teacher layer(s).

    The input layers (fan-in d) and the output layers (fan-out 1) correspond whatever the depths.
    With equal depths every layer pairs with the teacher's layer of the same index; otherwise a
    hidden -> hidden layer is compared with the teacher's hidden -> hidden layers pooled.
    """
    out = []
    last_s, last_t = n_student_layers - 1, n_teacher_layers - 1
    middle_t = tuple(range(1, last_t))
    for l in range(n_student_layers):
        if l == 0:
            out.append(LayerPairing(l, (0,), "input"))
        elif l == last_s:
            out.append(LayerPairing(l, (last_t,), "output"))
        elif n_student_layers == n_teacher_layers:
            out.append(LayerPairing(l, (l,), "hidden"))
        else:
            out.append(LayerPairing(l, middle_t, "hidden"))
    return out


def _estimate(values: Sequence[float]) -> tuple[float, list[float]]:
    """Mean and 95% t-interval over seeds, NaN-safe (NaN when nothing is finite)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, [math.nan, math.nan]
    est = mean_estimate(v, CONFIDENCE)
    return est.mean, [est.low, est.high]


def _moments_mean(summaries: Sequence[Mapping[str, float]]) -> dict[str, float]:
    keys = ("mean", "std", "skewness", "excess_kurtosis")
    with np.errstate(invalid="ignore"):
        return {
            k: float(np.nanmean([s[k] for s in summaries])) if any(np.isfinite(s[k]) for s in summaries) else math.nan
            for k in keys
        }


def _group_stats(
    name: str, student: Sequence[np.ndarray], teacher: np.ndarray, n_quantiles: int, extra: Mapping[str, Any]
) -> dict[str, Any]:
    """Compare one group of parameters, seed by seed, with the teacher's."""
    comps = [compare_distributions(s, teacher, n_quantiles) for s in student]
    row: dict[str, Any] = {"name": name, **extra, "n_student": int(student[0].size), "n_teacher": int(teacher.size)}
    testable = min(row["n_student"], row["n_teacher"]) >= KS_MIN_N
    for key in ("ks", "wasserstein", "wasserstein_standardized"):
        vals = [getattr(c, key) if (testable or key != "ks") else math.nan for c in comps]
        row[key], row[f"{key}_ci"] = _estimate(vals)
    row["ks_pvalues"] = [c.ks_pvalue if testable else math.nan for c in comps]
    row["ks_pvalue_max"] = float(np.max(row["ks_pvalues"])) if testable else math.nan
    row["student"] = _moments_mean([c.a.to_dict() for c in comps])
    row["teacher"] = comps[0].b.to_dict()
    row["qq"] = {
        "p": list(comps[0].probabilities),
        "teacher": list(comps[0].quantiles_b),
        "student": [list(c.quantiles_a) for c in comps],
    }
    return row


def compare_with_teacher(
    student: Sequence[Sequence[tuple[np.ndarray, np.ndarray]]],
    teacher: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    n_quantiles: int = 100,
) -> dict[str, Any]:
    """Weights and biases, per layer and pooled, of each trained seed against the teacher's.

    Args:
        student: per seed, the layers ``(W (out, in), b (out,))``.
        teacher: the teacher's layers.
        n_quantiles: quantiles of the QQ data.

    Returns:
        ``{"layers": [...], "weights": {...}, "biases": {...}, "all": {...}}``; each entry holds KS,
        W1 and standardised W1 (mean and 95% CI over seeds), KS p-values per seed, the moments
        (student: mean over seeds) and QQ data per seed.
    """
    pairs = layer_pairing(len(student[0]), len(teacher))
    layers = []
    for p in pairs:
        if not p.teacher_layers:
            continue  # e.g. a hidden -> hidden layer against a one-hidden-layer teacher
        for kind, idx in (("W", 0), ("b", 1)):
            t_vals = np.concatenate([teacher[l][idx].ravel() for l in p.teacher_layers])
            s_vals = [seed[p.student_layer][idx].ravel() for seed in student]
            label = f"layer {p.student_layer + 1} {'weights' if kind == 'W' else 'biases'}"
            layers.append(
                _group_stats(
                    label,
                    s_vals,
                    t_vals,
                    n_quantiles,
                    {
                        "student_layer": p.student_layer,
                        "kind": kind,
                        "role": p.role,
                        "teacher_layers": list(p.teacher_layers),
                    },
                )
            )

    def pooled(idx: Sequence[int]) -> list[np.ndarray]:
        return [np.concatenate([layer[i].ravel() for i in idx for layer in seed]) for seed in student]

    t_w = np.concatenate([w.ravel() for w, _ in teacher])
    t_b = np.concatenate([b.ravel() for _, b in teacher])
    return {
        "layers": layers,
        "weights": _group_stats("all weights", pooled([0]), t_w, n_quantiles, {"kind": "W"}),
        "biases": _group_stats("all biases", pooled([1]), t_b, n_quantiles, {"kind": "b"}),
        "all": _group_stats("all parameters", pooled([0, 1]), np.concatenate([t_w, t_b]), n_quantiles, {"kind": "all"}),
    }


def align_to_teacher(
    student: Sequence[Sequence[tuple[np.ndarray, np.ndarray]]],
    teacher: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    threshold: float = RECOVERY_THRESHOLD,
) -> list[MLPAlignment]:
    """Align each seed's hidden units to the teacher's, modulo permutation and positive scaling.

    Layer by layer from the input, Hungarian matching on the cosine of normalised incoming
    vectors ``[w, b]`` (:func:`learnability.analysis.align_mlp`).

    Args:
        student: per seed, layers ``(W (out, in), b (out,))``; the teacher's depth.
        teacher: the teacher's layers.
        threshold: cosine above which a teacher unit counts as recovered.
    """
    tw, tb = [w for w, _ in teacher], [b for _, b in teacher]
    return [align_mlp([w for w, _ in seed], [b for _, b in seed], tw, tb, threshold=threshold) for seed in student]


def alignment_summary(trained: Sequence[MLPAlignment], chance: Sequence[MLPAlignment]) -> dict[str, Any]:
    """Per-seed and per-layer summary of alignments, next to the same for untrained students.

    ``mean_cosine[i]`` / ``recovered[i]``: seed i's mean cosine over all hidden units / number
    of hidden units recovered. ``chance``: the same for each seed's *initial* parameters — what
    the matching finds between unrelated networks.
    """

    def per_seed(al: Sequence[MLPAlignment]) -> tuple[list[float], list[int]]:
        cos = [float(np.nanmean(np.concatenate([l.cosines for l in a.layers]))) for a in al]
        rec = [int(sum(a.recovered)) for a in al]
        return cos, rec

    cos, rec = per_seed(trained)
    cos0, rec0 = per_seed(chance)
    layers = []
    for j, layer in enumerate(trained[0].layers):
        lc = [a.layers[j].mean_cosine for a in trained]
        mean, ci = _estimate(lc)
        layers.append(
            {
                "width": layer.n_teacher,
                "mean_cosine": mean,
                "mean_cosine_ci": ci,
                "mean_cosine_per_seed": lc,
                "recovered_per_seed": [a.layers[j].recovered for a in trained],
                "chance_mean_cosine": float(np.mean([a.layers[j].mean_cosine for a in chance])),
                "chance_recovered_per_seed": [a.layers[j].recovered for a in chance],
                "cosines": [list(a.layers[j].cosines) for a in trained],
                "chance_cosines": [list(a.layers[j].cosines) for a in chance],
            }
        )
    mc, mc_ci = _estimate(cos)
    rc, rc_ci = _estimate(rec)
    return {
        "threshold": trained[0].threshold,
        "n_units": int(sum(l.n_teacher for l in trained[0].layers)),
        "mean_cosine": cos,
        "recovered": rec,
        "mean_cosine_mean": mc,
        "mean_cosine_ci": mc_ci,
        "recovered_mean": rc,
        "recovered_ci": rc_ci,
        "output_cosine": [a.output.cosines[0] for a in trained],
        "chance": {"mean_cosine": cos0, "recovered": rec0},
        "layers": layers,
    }


# =============================================================================================
# The run
# =============================================================================================


@dataclass
class _Task:
    """Everything the students share: teacher, data, scaling, evaluation set."""

    cfg: TeacherStudentConfig
    ctx: StudyContext
    teacher: Teacher
    scaling: TargetScaling
    failure_loss: float  # Var(y) of the reference sample, training units
    var_test: float  # Var(y_test), original units
    test: EvalSet

    def sample(self, generator: torch.Generator, n: int) -> Tensor:
        t = self.cfg.teacher
        return sample_uniform(n, t.d_in, low=t.input_low, high=t.input_high, generator=generator)

    def label(self, x: Tensor) -> Tensor:
        return self.scaling.to_train(self.teacher.label(x))

    def source(self) -> OnlineSource:
        return OnlineSource(self.sample, self.label, batch_size=self.cfg.train.batch_size)

    def stationarity(self) -> Stationarity:
        tr = self.cfg.train
        return Stationarity(window=tr.window, rel_tol=tr.rel_tol, patience=tr.patience)


def _make_task(cfg: TeacherStudentConfig, ctx: StudyContext) -> tuple[_Task, dict[str, Any]]:
    t = cfg.teacher
    teacher = Teacher(teacher_spec(t.d_in, t.hidden), seed=t.seed, std=t.init_std, device=ctx.device)

    def draw(n: int, stream: str) -> tuple[Tensor, Tensor]:
        g = torch.Generator().manual_seed(ctx.seed(stream))
        x = sample_uniform(n, t.d_in, low=t.input_low, high=t.input_high, generator=g).to(ctx.device)
        return x, teacher.label(x)  # (n, d), (n, 1)

    x_test, y_test = draw(cfg.n_test, "test")
    x_ref, y_ref = draw(cfg.n_reference, "reference")
    scaling = TargetScaling.fit(y_ref.cpu().numpy(), standardize=cfg.standardize_targets)
    baselines = fit_baselines(x_ref, y_ref, x_test, y_test)
    y_test_np = y_test.double().cpu().numpy()
    var_test = float(y_test_np.var())
    failure = float(scaling.to_train(y_ref.double()).var(unbiased=False))
    scale = scaling.loss_scale

    def mse_original(out: Tensor, y: Tensor) -> Tensor:
        return mse(out, y) * scale  # (K,) squared error in the teacher's units

    test = EvalSet(x_test, scaling.to_train(y_test), metrics={"mse": mse_original})
    facts = {
        "teacher": {
            "hidden": list(t.hidden),
            "d_in": t.d_in,
            "seed": t.seed,
            "init_std": t.init_std,
            "n_params": teacher.n_params,
            "n_layers": teacher.n_layers,
            "test_var": var_test,
            "test_mean": float(y_test_np.mean()),
            "test_min": float(y_test_np.min()),
            "test_max": float(y_test_np.max()),
            "reference_var": float(y_ref.double().var(unbiased=False)),
        },
        "test_set": {"n": cfg.n_test, "input_low": float(x_test.min()), "input_high": float(x_test.max())},
        "targets": scaling.to_dict() | {"failure_loss": failure},
        "baselines": baselines,
    }
    ctx.writer.save_arrays(
        "teacher",
        **{f"W{l}": w for l, (w, _) in enumerate(teacher.layers())},
        **{f"b{l}": b for l, (_, b) in enumerate(teacher.layers())},
    )
    return _Task(cfg, ctx, teacher, scaling, failure, var_test, test), facts


def _sweep(task: _Task, name: str, model: StackedMLP) -> SweepResult:
    cfg, ctx = task.cfg, task.ctx
    sw = cfg.sweep
    spec = TrainSpec(max_steps=sw.max_steps, block=ENGINE_BLOCK, stationarity=task.stationarity(), compile=cfg.compile)
    init_seed, data_seed = ctx.seed(name, "sweep", "init"), ctx.seed(name, "sweep", "data")
    rounds: list[int] = []

    def train_fn(lrs: np.ndarray) -> TrainResult:
        # One initialisation and one data stream for every rate: rates compete on equal terms.
        K = len(lrs)
        tag = f"{name}/sweep" if not rounds else f"{name}/sweep/ext{len(rounds)}"
        rounds.append(K)
        return train(
            model,
            model.init([init_seed] * K),
            loss=mse,
            optimizer=make_optimizer(cfg.train.optimizer),
            lr=lrs,
            data=SharedStreamSource(task.source()),
            seeds=[data_seed] * K,
            spec=spec,
            sink=ctx.writer,
            tag=tag,
            progress=ctx.progress,
        )

    return lr_sweep(
        train_fn,
        LRGrid(sw.lr_low, sw.lr_high, num=sw.points, max_extensions=sw.max_extensions),
        score=lambda r: r.final_train_loss(cfg.train.window),  # fresh batches: never the test set
        # A student too small to beat the mean predictor is a result, not a broken grid.
        selection=Selection(
            "time_to_convergence",
            tolerance=sw.tolerance,
            failure_margin=sw.failure_margin,
            if_none_feasible="least_bad",
        ),
        failure_loss=task.failure_loss,
        step_cap=sw.max_steps,
    )


def _train_student(task: _Task, name: str, hidden: Sequence[int]) -> dict[str, Any]:
    cfg, ctx = task.cfg, task.ctx
    model = StackedMLP(MLPSpec(cfg.teacher.d_in, tuple(hidden)))
    sweep = _sweep(task, name, model)
    table = sweep.table.copy()
    table["final_rel"] = table["final_loss"] / task.failure_loss
    ctx.writer.save_table(f"sweep_{name}", table)
    sweep_seconds = float(sum(r.wall_seconds for r in sweep.results))

    # Fresh seeds: neither the initialisations nor the data streams of the sweep.
    n = cfg.train.seeds
    init_seeds, data_seeds = ctx.seeds(n, name, "seeds", "init"), ctx.seeds(n, name, "seeds", "data")
    params = model.init(init_seeds)
    init_layers = [student_layers(model, params, k) for k in range(n)]
    res = train(
        model,
        params,
        loss=mse,
        optimizer=make_optimizer(cfg.train.optimizer),
        lr=[sweep.chosen_lr] * n,
        data=task.source(),
        seeds=data_seeds,
        spec=TrainSpec(
            max_steps=cfg.train.max_steps,
            eval_every=cfg.train.eval_every,
            block=ENGINE_BLOCK,
            stationarity=task.stationarity(),
            compile=cfg.compile,
        ),
        eval_sets={"test": task.test},
        sink=ctx.writer,
        tag=f"{name}/seeds",
        progress=ctx.progress,
    )
    ok = ~res.diverged
    if not ok.any():
        raise RuntimeError(f"every seed of {name} diverged at the chosen rate {sweep.chosen_lr:.3g}")
    scale = task.scaling.loss_scale
    test_mse = res.evals["test_mse"].final[ok].astype(float)
    train_mse = res.final_train_loss(cfg.train.window)[ok] * scale
    test_rel, train_rel = test_mse / task.var_test, train_mse / task.var_test
    W, b = model.split(res.params)  # W[l]: (K, in, out), b[l]: (K, 1, out)
    ctx.writer.save_arrays(
        f"params_{name}", **{f"W{l}": w for l, w in enumerate(W)}, **{f"b{l}": v for l, v in enumerate(b)}
    )

    trained = [student_layers(model, res.params, k) for k in np.flatnonzero(ok)]
    teacher_layers = task.teacher.layers()
    dist = compare_with_teacher(trained, teacher_layers, n_quantiles=cfg.n_quantiles)
    ctx.writer.save_json(f"distributions_{name}", dist)

    row = sweep.chosen_row
    out: dict[str, Any] = {
        "hidden": list(hidden),
        "n_params": model.spec.n_params,
        "members": [int(k) for k in np.flatnonzero(ok)],
        "params_ratio": model.spec.n_params / task.teacher.n_params,
        "lr": sweep.chosen_lr,
        "steps": int(res.steps),
        "seeds": int(ok.sum()),
        "seeds_diverged": int(res.diverged.sum()),
        "converged_step": [int(s) for s in res.converged_step[ok]],
        "step_cap": cfg.train.max_steps,
        "test_mse_per_seed": test_mse.tolist(),
        "test_rel_mse_per_seed": test_rel.tolist(),
        "train_mse_per_seed": train_mse.tolist(),
    }
    for key, vals in (
        ("test_mse", test_mse),
        ("test_rel_mse", test_rel),
        ("train_mse", train_mse),
        ("train_rel_mse", train_rel),
    ):
        out[key], out[f"{key}_ci"] = _estimate(vals)
    out["sweep"] = {
        "grid": [float(v) for v in LRGrid(cfg.sweep.lr_low, cfg.sweep.lr_high, num=cfg.sweep.points).rates],
        "rates_tried": len(table),
        "extensions": len(sweep.results) - 1,
        "lr_min": float(table["lr"].min()),
        "lr_max": float(table["lr"].max()),
        "chosen_lr": sweep.chosen_lr,
        "at_edge": bool(sweep.at_edge),
        "chosen_feasible": bool(sweep.feasible),
        "chosen_steps_to_converge": int(row["steps_to_converge"]),
        "chosen_converged": bool(row["converged"]),
        "chosen_final_rel": float(row["final_loss"] / task.failure_loss),
        "best_final_rel": float(np.nanmin(table["final_rel"].where(~table["diverged"]))),
        "n_diverged": int(table["diverged"].sum()),
        "n_collapsed": int(table["collapsed"].sum()),
        "n_collapsed_above": int((table["collapsed"] & ~table["diverged"] & (table["lr"] > sweep.chosen_lr)).sum()),
        "n_collapsed_below": int((table["collapsed"] & ~table["diverged"] & (table["lr"] < sweep.chosen_lr)).sum()),
        "n_good": int(table["good"].sum()),
        "step_cap": cfg.sweep.max_steps,
        "steps_run": [int(r.steps) for r in sweep.results],
    }
    out["distribution"] = {k: _strip_qq(v) for k, v in dist.items() if k != "layers"}
    out["distribution"]["layers"] = [_strip_qq(v) for v in dist["layers"]]
    if model.spec.n_layers == task.teacher.n_layers:
        al = alignment_summary(
            align_to_teacher(trained, teacher_layers),
            align_to_teacher([init_layers[k] for k in np.flatnonzero(ok)], teacher_layers),
        )
        ctx.writer.save_json(f"alignment_{name}", al)
        out["alignment"] = {k: v for k, v in al.items() if k != "layers"} | {
            "layers": [
                {k: v for k, v in layer.items() if k not in ("cosines", "chance_cosines")} for layer in al["layers"]
            ]
        }
    out["timing"] = {"sweep_seconds": sweep_seconds, "seeds_seconds": float(res.wall_seconds)}
    return out


def _strip_qq(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != "qq"}


def _load_parameter_count(cfg: TeacherStudentConfig) -> pd.DataFrame:
    """The parameter-count sweep's table, checked against this run's teacher.

    Raises:
        ParameterError: (naming ``parameter_count``) for a folder that is not a teacher-student
            sweep with a complete run, or a sweep of another teacher than this run's.
    """
    assert cfg.parameter_count is not None
    table = parameter_count_table(cfg.parameter_count)
    teacher = cfg.teacher.model_dump(mode="json")
    if table.attrs["teacher"] != teacher:
        raise ParameterError(
            "parameter_count",
            STUDY_NAME,
            f"a sweep of this run's teacher {teacher} (the sweep's runs have {table.attrs['teacher']})",
            cfg.parameter_count,
        )
    return table


def check(cfg: TeacherStudentConfig) -> None:
    """Refuse a ``parameter_count`` folder that cannot be used, before the run folder exists."""
    if cfg.parameter_count is not None:
        _load_parameter_count(cfg)


def _read_parameter_count(cfg: TeacherStudentConfig, ctx: StudyContext) -> dict[str, Any]:
    """Copy the parameter-count sweep's table into the run folder (see :func:`check`)."""
    table = _load_parameter_count(cfg)
    differs = config_differences(cfg.model_dump(mode="json"), table.attrs["config"])
    info = {
        "sweep": table.attrs["sweep_dir"],
        "name": table.attrs["name"],
        "runs_planned": table.attrs["planned"],
        "runs_complete": table.attrs["complete"],
        "rows": len(table),
        "differs": differs,
    }
    table.attrs = {}  # the artifact is the table alone; its facts are in the summary
    ctx.writer.save_table(PARAMETER_COUNT_ARTIFACT, table)
    return info


def run(cfg: TeacherStudentConfig, ctx: StudyContext) -> dict[str, Any]:
    """Train every student (sweep, then seeds), evaluate, compare with the teacher.

    With ``parameter_count`` set, the sweep folder is read (and refused) first, before training.
    """
    pc = _read_parameter_count(cfg, ctx) if cfg.parameter_count is not None else None
    task, facts = _make_task(cfg, ctx)
    students = {name: _train_student(task, name, hidden) for name, hidden in cfg.students.items()}
    out = {
        "study": STUDY_NAME,
        **facts,
        "students": students,
        "eval_every": cfg.train.eval_every,
        "window": cfg.train.window,
    }
    if pc is not None:
        out["parameter_count"] = pc
    return out


# =============================================================================================
# The report (from the run folder alone)
# =============================================================================================


def _num(v: Any) -> float:
    """A summary number back as a float (non-finite values are stored as "nan", "inf")."""
    return math.nan if v is None else float(v)


def _ci(d: Mapping[str, Any], key: str) -> str:
    """``mean [low, high]`` of a summary entry; "—" when undefined."""
    m = _num(d[key])
    if not math.isfinite(m):
        return "—"
    ci = d.get(f"{key}_ci")
    return fmt_ci(m, [_num(c) for c in ci] if ci is not None else None)


def _fmt_p(p: Any) -> str:
    p = _num(p)
    return "—" if not math.isfinite(p) else (f"< {P_FLOOR:.0e}" if p < P_FLOOR else fmt(p))


def _overlap(a: Sequence[float], b: Sequence[float]) -> bool:
    return not (a[1] < b[0] or b[1] < a[0])


def _represents_teacher(hidden: Sequence[int], teacher_hidden: Sequence[int]) -> bool:
    """Sufficient condition for a ReLU student to contain the teacher exactly.

    Post-ReLU activations are non-negative, so an extra layer can copy the teacher's last hidden
    layer unchanged (``relu(h) = h`` for ``h >= 0``). A student at least as deep, whose widths
    dominate the teacher's hidden widths padded by repeating the last one, can therefore compute
    the teacher's function exactly.
    """
    if len(hidden) < len(teacher_hidden):
        return False
    padded = list(teacher_hidden) + [teacher_hidden[-1]] * (len(hidden) - len(teacher_hidden))
    return all(w >= t for w, t in zip(hidden, padded, strict=True))


def _steps_phrase(st: Mapping[str, Any]) -> str:
    conv = [c for c in st["converged_step"] if c >= 0]
    n = st["seeds"]
    if not conv:
        return (
            f"none of the {n} seeds became quasi-stationary within the cap of "
            f"{fmt(st['step_cap'])} steps (still improving)"
        )
    where = ", ".join(fmt(c) for c in conv)
    rest = "" if len(conv) == n else f"; the other {n - len(conv)} reached the cap still improving"
    return f"{len(conv)} of {n} seeds became quasi-stationary (at steps {where}){rest}"


def _rel_frame(df: pd.DataFrame, factor: float) -> pd.DataFrame:
    return df.assign(value=df["value"].astype(float) * factor)


def _smooth_window(steps: int) -> int:
    return int(max(1, min(CURVE_SMOOTH_MAX, steps * CURVE_SMOOTH_FRACTION)))


def _param_groups(arrays: Mapping[str, np.ndarray], members: Sequence[int] | None) -> dict[str, np.ndarray]:
    """Input-layer weights, output-layer weights and all parameters, pooled over members."""
    n_layers = sum(1 for k in arrays if k.startswith("W"))

    def take(key: str) -> np.ndarray:
        a = arrays[key]
        if members is not None:
            a = a[list(members)]
        return a.ravel()

    return {
        "input-layer weights": take("W0"),
        "output-layer weights": take(f"W{n_layers - 1}"),
        "all parameters": np.concatenate(
            [take(f"W{l}") for l in range(n_layers)] + [take(f"b{l}") for l in range(n_layers)]
        ),
    }


def _bins(a: np.ndarray, b: np.ndarray) -> list[float]:
    both = np.concatenate([a, b])
    lo, hi = np.quantile(both, HIST_RANGE_Q)
    if not hi > lo:
        lo, hi = float(both.min()) - 1.0, float(both.max()) + 1.0
    return list(np.linspace(lo, hi, HIST_BINS + 1))


def _qq_for(dist: Mapping[str, Any], group: str) -> Mapping[str, Any] | None:
    if group == "all parameters":
        return dist["all"]["qq"]
    layers = [g for g in dist["layers"] if g["kind"] == "W"]
    if not layers:
        return None
    pick = layers[0] if group.startswith("input") else layers[-1]
    return pick["qq"]


def _results_table(s: Mapping[str, Any]) -> Table:
    rows: list[list[Any]] = []
    for name, st in s["students"].items():
        conv = [c for c in st["converged_step"] if c >= 0]
        steps = f"{fmt(st['steps'])} ({len(conv)}/{st['seeds']} stationary)"
        all_d = st["distribution"]["all"]
        rows.append(
            [
                name,
                str(st["hidden"]),
                f"{fmt(st['n_params'])} ({fmt(st['params_ratio'])}x)",
                fmt(st["lr"]),
                steps,
                _ci(st, "train_mse"),
                _ci(st, "test_mse"),
                _ci(st, "train_rel_mse"),
                _ci(st, "test_rel_mse"),
                _ci(all_d, "ks"),
                _ci(all_d, "wasserstein"),
            ]
        )
    b = s["baselines"]
    for label, key in (("mean predictor", "mean"), ("OLS on x", "linear")):
        rows.append(
            [
                label,
                "—",
                "1" if key == "mean" else str(s["teacher"]["d_in"] + 1),
                "—",
                "—",
                "—",
                fmt(b[key]["test_mse"]),
                fmt(b[key]["train_rel_mse"]),
                fmt(b[key]["test_rel_mse"]),
                "—",
                "—",
            ]
        )
    return Table(
        [
            "student",
            "hidden",
            "params (x teacher)",
            "lr",
            "steps run",
            "train MSE",
            "test MSE",
            "train rel",
            "test rel",
            "KS (all params)",
            "W1 (all params)",
        ],
        rows,
        caption=f"Mean [95% CI] over seeds. rel = MSE / Var(y_test), Var(y_test) = "
        f"{fmt(s['teacher']['test_var'])}. Train MSE: mean loss over the last "
        f"{fmt(s['window'])} fresh batches. Baselines fitted on a separate training "
        "sample of the teacher, scored on the same test set.",
    )


def _distribution_table(name: str, st: Mapping[str, Any]) -> Table:
    d = st["distribution"]
    rows = []
    for g in [*d["layers"], d["weights"], d["biases"], d["all"]]:
        tl = g.get("teacher_layers")
        vs = "all" if tl is None else ", ".join(str(l + 1) for l in tl)
        su, te = g["student"], g["teacher"]
        rows.append(
            [
                g["name"],
                g.get("role", "pooled"),
                vs,
                f"{g['n_student']} / {g['n_teacher']}",
                f"{fmt(su['mean'])} / {fmt(te['mean'])}",
                f"{fmt(su['std'])} / {fmt(te['std'])}",
                f"{fmt(su['skewness'])} / {fmt(te['skewness'])}",
                f"{fmt(su['excess_kurtosis'])} / {fmt(te['excess_kurtosis'])}",
                _ci(g, "ks"),
                _fmt_p(g["ks_pvalue_max"]),
                _ci(g, "wasserstein"),
                _ci(g, "wasserstein_standardized"),
            ]
        )
    return Table(
        [
            "parameters",
            "role",
            "teacher layer(s)",
            "n (student / teacher)",
            "mean (s / t)",
            "std (s / t)",
            "skew (s / t)",
            "excess kurt. (s / t)",
            "KS",
            "max p (KS)",
            "W1",
            "W1 standardised",
        ],
        rows,
        caption=f"{name} vs teacher, per layer and pooled. Student moments: mean over "
        f"{st['seeds']} seeds; KS, W1: mean [95% CI] over seeds; max p: the largest "
        "KS p-value among seeds.",
    )


def _params_text(s: Mapping[str, Any]) -> str:
    T = s["teacher"]["n_params"]
    th = s["teacher"]["hidden"]
    parts = []
    for name, st in s["students"].items():
        r = st["params_ratio"]
        regime = (
            "fewer than the teacher: under-parameterised"
            if r < PARAM_RATIO_EXACT
            else "exactly the teacher's count"
            if r == PARAM_RATIO_EXACT
            else "more than the teacher: over-parameterised"
        )
        exact = _represents_teacher(st["hidden"], th)
        cap = (
            "its architecture contains the teacher's, so zero error is reachable in principle"
            if exact
            else f"its architecture cannot copy the teacher's (depth {len(st['hidden']) + 1} vs "
            f"{len(th) + 1}, first hidden layer {st['hidden'][0]} vs {th[0]} units), so an "
            "approximation error may remain"
        )
        parts.append(
            f"**{name}** {st['hidden']} has {fmt(st['n_params'])} learnable parameters, "
            f"{fmt(r)}x the teacher's ({regime}); {cap}."
        )
    return f"The teacher has {fmt(T)} frozen parameters. " + " ".join(parts)


def _trainability_text(name: str, st: Mapping[str, Any], tol: float) -> str:
    sw = st["sweep"]
    edge = (
        "lies strictly inside the rates tried"
        if not sw["at_edge"]
        else "**is still at an edge of the rates tried** after the extensions allowed: the optimum may lie beyond"
    )
    # A good rate that became stationary always beats one that did not (the cap counts as its
    # time), so a chosen rate that never did means none of the good ones did.
    pick = (
        f"the fastest of them to become quasi-stationary, lr = {fmt(st['lr'])}, did so after "
        f"{fmt(sw['chosen_steps_to_converge'])} steps"
        if sw["chosen_converged"]
        else f"none of them became quasi-stationary within the sweep's {fmt(sw['step_cap'])} steps, "
        f"so the lowest final loss decided: lr = {fmt(st['lr'])}"
    )
    if not sw.get("chosen_feasible", True):
        pick = (
            f"**no rate beat the mean predictor** (every final training loss that did not "
            f"diverge was within the failure margin of Var(y); best relative "
            f"{fmt(sw['best_final_rel'])}), so the least bad one was kept, lr = {fmt(st['lr'])}: "
            f"this student's errors are those of a model that learned (almost) nothing"
        )
    return (
        f"**{name}.** The sweep trained {sw['rates_tried']} rates from {fmt(sw['lr_min'])} to "
        f"{fmt(sw['lr_max'])} as one ensemble ({sw['extensions']} extension(s) past an edge); "
        f"{sw['n_diverged']} diverged, {sw['n_collapsed_above']} above the chosen rate collapsed "
        f"to the mean predictor and {sw['n_collapsed_below']} below it were still no better "
        f"than the mean predictor at the cap (too slow). "
        f"{sw['n_good']} rate(s) came within {fmt(100 * tol)}% of the best final training loss "
        f"(relative {fmt(sw['best_final_rel'])}); {pick}, which {edge}. Retrained from "
        f"{st['seeds']} fresh seeds at that rate for "
        f"{fmt(st['steps'])} steps, {_steps_phrase(st)}; relative training MSE "
        f"{_ci(st, 'train_rel_mse')}."
        + (f" {st['seeds_diverged']} seed(s) diverged and are excluded." if st["seeds_diverged"] else "")
    )


def _generalisation_text(name: str, st: Mapping[str, Any], s: Mapping[str, Any]) -> str:
    ols = s["baselines"]["linear"]["test_rel_mse"]
    rel, ci = st["test_rel_mse"], st["test_rel_mse_ci"]
    if ci[1] < ols:
        vs = f"{fmt(ols / rel)}x lower than OLS's {fmt(ols)} (the whole CI is below it)"
    elif ci[0] > ols:
        vs = f"{fmt(rel / ols)}x *higher* than OLS's {fmt(ols)}: no better than a linear fit"
    else:
        vs = f"not distinguishable from OLS's {fmt(ols)} (the CI contains it)"
    gap = st["test_rel_mse"] - st["train_rel_mse"]
    half = (ci[1] - ci[0]) / 2 if np.all(np.isfinite(ci)) else math.nan
    gap_word = ("within" if abs(gap) <= half else "outside") if np.isfinite(half) else "beside"
    return (
        f"**{name}.** Test MSE {_ci(st, 'test_mse')}, relative {_ci(st, 'test_rel_mse')}: "
        f"{vs}. Test minus training relative MSE: {fmt(gap)}, {gap_word} the seed-to-seed "
        f"half-width {fmt(half)} — every batch is fresh, so the training loss already "
        "estimates the risk and no overfitting gap is expected."
    )


def _distribution_text(name: str, st: Mapping[str, Any]) -> str:
    d = st["distribution"]
    a = d["all"]
    p = _num(a["ks_pvalue_max"])
    verdict = (
        f"p {'<' if p < P_FLOOR else '<='} {_fmt_p(p).lstrip('< ')} in every seed: "
        f"distinguishable from the teacher's at the {fmt(100 * KS_ALPHA)}% level"
        if p < KS_ALPHA
        else f"p = {_fmt_p(p)} in at least one seed: not distinguishable at the {fmt(100 * KS_ALPHA)}% level"
    )
    ratio = a["student"]["std"] / a["teacher"]["std"]
    # Single values (an output bias) have no distribution: rank only groups KS could test.
    layers = [g for g in d["layers"] if math.isfinite(_num(g["ks"]))]
    closest = min(layers, key=lambda g: g["wasserstein"]) if layers else None
    farthest = max(layers, key=lambda g: g["wasserstein"]) if layers else None
    extra = (
        f" Among per-layer groups with at least {KS_MIN_N} values, the closest is "
        f"{closest['name']} (W1 {fmt(closest['wasserstein'])}, KS {fmt(closest['ks'])}) and the "
        f"farthest {farthest['name']} (W1 {fmt(farthest['wasserstein'])}, KS "
        f"{fmt(farthest['ks'])})."
        if closest
        else ""
    )
    return (
        f"**{name}.** All {fmt(a['n_student'])} parameters pooled: KS = {_ci(a, 'ks')} ({verdict}); "
        f"W1 = {_ci(a, 'wasserstein')}, standardised W1 (shape only) = "
        f"{_ci(a, 'wasserstein_standardized')}. The student's parameters have std "
        f"{fmt(a['student']['std'])} against the teacher's {fmt(a['teacher']['std'])} "
        f"({fmt(ratio)}x) and excess kurtosis {fmt(a['student']['excess_kurtosis'])} against "
        f"{fmt(a['teacher']['excess_kurtosis'])}.{extra}"
    )


def _alignment_text(name: str, al: Mapping[str, Any]) -> str:
    n = al["n_units"]
    chance = al["chance"]
    per_layer = "; ".join(
        f"layer {j + 1}: {', '.join(str(r) for r in layer['recovered_per_seed'])} of {layer['width']} "
        f"(mean cosine {fmt_ci(layer['mean_cosine'], layer['mean_cosine_ci'])})"
        for j, layer in enumerate(al["layers"])
    )
    frac = al["recovered_mean"] / n
    above_chance = al["mean_cosine_ci"][0] > max(chance["mean_cosine"])
    if frac >= RECOVERY_THRESHOLD:
        verdict = "the student found the teacher's units, up to the network's symmetries"
    elif above_chance:
        verdict = (
            "its units are closer to the teacher's than matching alone explains, but most "
            "are not recovered: a similar function through different parameters"
        )
    else:
        verdict = (
            "its units are no closer to the teacher's than at initialisation: the student "
            "found a different parameterisation"
        )
    return (
        f"**{name}** has the teacher's depth, so its hidden units were matched to the teacher's "
        f"(Hungarian assignment on normalised incoming vectors, layer by layer, modulo "
        f"permutation and positive rescaling). Mean cosine over the {n} hidden units per seed: "
        f"{', '.join(fmt(c) for c in al['mean_cosine'])} "
        f"(mean {fmt_ci(al['mean_cosine_mean'], al['mean_cosine_ci'])}), "
        f"against {', '.join(fmt(c) for c in chance['mean_cosine'])} for the same students at "
        f"initialisation (what matching finds between unrelated networks). Units recovered "
        f"(cosine > {fmt(al['threshold'])}) per seed: "
        f"{', '.join(str(r) for r in al['recovered'])} of {n} ({per_layer}); at initialisation "
        f"{', '.join(str(r) for r in chance['recovered'])}. So {verdict}."
    )


def _across_text(s: Mapping[str, Any]) -> list[str]:
    st = s["students"]
    names = sorted(st, key=lambda n: st[n]["test_rel_mse"])
    order = " < ".join(f"{n} ({_ci(st[n], 'test_rel_mse')})" for n in names)
    pairs = []
    for a, b in itertools.pairwise(names):
        r = geometric_mean_ratio(st[b]["test_rel_mse_per_seed"], st[a]["test_rel_mse_per_seed"])
        resolved = r.low > 1.0  # the interval of the ratio excludes 1
        ov = _overlap(st[a]["test_rel_mse_ci"], st[b]["test_rel_mse_ci"])
        pairs.append(
            f"{b} / {a} = {r.format()}, "
            + (
                "resolved (the ratio's CI excludes 1"
                if resolved
                else "not resolved with these seeds (the ratio's CI contains 1"
            )
            + f"; the two means' CIs {'overlap' if ov else 'do not overlap'})"
        )
    by_params = sorted(st, key=lambda n: st[n]["n_params"])
    errs = [st[n]["test_rel_mse"] for n in by_params]
    mono = all(x > y for x, y in itertools.pairwise(errs))
    ols = s["baselines"]["linear"]["test_rel_mse"]
    beat = [n for n in names if st[n]["test_rel_mse_ci"][1] < ols]
    w1 = sorted(st, key=lambda n: st[n]["distribution"]["all"]["wasserstein"])
    same = w1 == names
    speed = ", ".join(
        f"{n} {fmt(st[n]['lr'])} ({fmt(st[n]['steps'])} steps, "
        f"{fmt(st[n]['timing']['sweep_seconds'] + st[n]['timing']['seeds_seconds'])} s)"
        for n in by_params
    )
    counts = ", ".join(f"{n} {fmt(st[n]['n_params'])}" for n in by_params)
    w1_order = ", ".join(f"{n} {fmt(st[n]['distribution']['all']['wasserstein'])}" for n in w1)
    return [
        (
            f"Ordering by relative test MSE: {order}. Geometric-mean ratios of consecutive students "
            f"(95% CI, Welch in log space): {'; '.join(pairs) if pairs else 'only one student'}."
        ),
        (
            f"By parameter count ({counts}) the test "
            f"error {'decreases monotonically' if mono else 'does **not** decrease monotonically'} with "
            f"the number of learnable parameters. {len(beat)} of {len(st)} students beat OLS "
            f"({fmt(ols)}) with their whole CI{': ' + ', '.join(beat) if beat else ''}."
        ),
        f"Chosen rates (steps run, training wall time): {speed}.",
        (
            f"Distance of the pooled parameters to the teacher's (W1), closest first: {w1_order}. "
            + (
                "This is the test-error ordering: here the students that generalise better also hold "
                "parameters distributed more like the teacher's."
                if same
                else "This is **not** the test-error ordering: generalising better did not require "
                "parameters distributed more like the teacher's."
            )
        ),
    ]


def _curves_chart(run_: Run, s: Mapping[str, Any]) -> Chart:
    """Per student (train and test), then every student overlaid (train; test)."""
    var = s["teacher"]["test_var"]
    scale = s["targets"]["loss_scale"]
    hl = [(s["baselines"]["linear"]["test_rel_mse"], "OLS (test)")]
    panels, train_all, test_all = [], [], []
    for name, st in s["students"].items():
        tag = f"{name}/seeds"
        window = _smooth_window(st["steps"])
        train_df = _rel_frame(run_.series("train_loss", tag), scale / var)
        test_df = _rel_frame(run_.series("test_mse", tag), 1 / var)
        lines = curve_lines(train_df, label="train (per batch, smoothed)", smooth_window=window)
        lines += [
            Line(l.x, l.y, label="test", band=l.band, mode="lines+markers") for l in curve_lines(test_df, label="test")
        ]
        panels.append(
            Panel(
                lines,
                title=f"{name} {st['hidden']}: lr {fmt(st['lr'])}, {st['seeds']} seeds",
                xlabel="step",
                ylabel="MSE / Var(y_test)",
                yscale="log",
                hlines=hl,
            )
        )
        train_all += curve_lines(train_df, label=name, smooth_window=window)
        test_all += curve_lines(test_df, label=name)
    panels.append(
        Panel(
            train_all,
            title="all students: training loss (smoothed)",
            xlabel="step",
            ylabel="MSE / Var(y_test)",
            yscale="log",
            hlines=hl,
        )
    )
    panels.append(
        Panel(
            test_all,
            title="all students: test loss",
            xlabel="step",
            ylabel="MSE / Var(y_test)",
            yscale="log",
            hlines=hl,
        )
    )
    return Chart(
        "curves",
        panels,
        title="Training (per batch) and test loss of the seed runs",
        caption=f"Median over seeds with a 10-90% band; the per-batch training loss is "
        f"smoothed over {fmt(CURVE_SMOOTH_FRACTION * 100)}% of the run (at most "
        f"{CURVE_SMOOTH_MAX} batches). Relative units: multiply by Var(y_test) = "
        f"{fmt(var)} for raw MSE.",
    )


def _sweep_chart(run_: Run, name: str, st: Mapping[str, Any], s: Mapping[str, Any]) -> Chart:
    table = run_.load_table(f"sweep_{name}").sort_values("lr")
    ok = table[table["feasible"]]
    col = table[table["collapsed"] & ~table["diverged"]]
    div = table[table["diverged"]]
    top = float(np.nanmax(table["final_rel"].to_numpy(float), initial=1.0))
    cap = st["sweep"]["step_cap"]
    loss_traces: list[Any] = [Line(table["lr"], table["final_rel"], label="final training loss", mode="lines+markers")]
    tol = run_.config_dict["sweep"]["tolerance"]
    good_level = st["sweep"]["best_final_rel"] * (1 + tol)
    if len(col):
        loss_traces.append(
            Line(col["lr"], col["final_rel"], label="collapsed (~ mean predictor)", mode="markers", color="#D55E00")
        )
    if len(div):
        loss_traces.append(
            Line(div["lr"], np.full(len(div), top), label="diverged (drawn at top)", mode="markers", color="#000000")
        )
    alive = table[~table["diverged"]]
    steps = np.where(alive["converged"], alive["steps_to_converge"], cap).astype(float)
    step_traces: list[Any] = [Line(alive["lr"], steps, label="steps to quasi-stationarity", mode="lines+markers")]
    never = alive[~alive["converged"]]
    if len(never):
        step_traces.append(
            Line(never["lr"], np.full(len(never), cap), label="not stationary (cap)", mode="markers", color="#CC79A7")
        )
    if len(ok):
        step_traces.append(
            Line(
                ok["lr"],
                np.where(ok["converged"], ok["steps_to_converge"], cap),
                label="feasible",
                mode="markers",
                color="#009E73",
            )
        )
    if len(div):
        step_traces.append(
            Line(div["lr"], np.full(len(div), cap), label="diverged (drawn at cap)", mode="markers", color="#000000")
        )
    # Per-step training loss of every rate that did not diverge (a diverged member is frozen at a
    # huge loss that would flatten the others), relative to Var(y) in training units as panel 1.
    curves: list[Any] = []
    for rnd, grp in table.groupby("round"):
        tag = f"{name}/sweep" if rnd == 0 else f"{name}/sweep/ext{rnd}"
        df = _rel_frame(run_.series("train_loss", tag), 1.0 / s["targets"]["failure_loss"])
        rates = grp.sort_values("lr")  # member j of a round trained the round's j-th smallest rate
        for j, (lr, diverged) in enumerate(zip(rates["lr"], rates["diverged"], strict=True)):
            mdf = df[df["member"] == j]
            if mdf.empty or diverged:
                continue
            for line in curve_lines(mdf, smooth_window=_smooth_window(int(mdf["step"].max()))):
                line.label = f"lr {fmt(float(lr))}"  # one member per rate: no band, no index
                curves.append(line)
    vl = [(st["lr"], "chosen")]
    return Chart(
        f"sweep_{name}",
        [
            Panel(
                loss_traces,
                title="final training loss vs rate",
                xlabel="learning rate",
                ylabel="MSE / Var(y_train)",
                xscale="log",
                yscale="log",
                vlines=vl,
                hlines=[(1.0, "mean predictor"), (good_level, f"best + {fmt(100 * tol)}% (good)")],
            ),
            Panel(
                step_traces,
                title="time to convergence vs rate",
                xlabel="learning rate",
                ylabel="steps",
                xscale="log",
                vlines=vl,
            ),
            Panel(
                curves,
                title="training loss per rate (smoothed; diverged omitted)",
                xlabel="step",
                ylabel="MSE / Var(y_train)",
                yscale="log",
                legend=len(curves) <= 12,
                hlines=[(1.0, "")],
            ),
        ],
        title=f"{name}: learning-rate sweep (one ensemble, shared init and data)",
        caption="Final training loss: mean over the last window of fresh batches (never the test "
        "set). Collapsed: no better than predicting the mean. The chosen rate is the fastest "
        "to become stationary among those within the tolerance of the best.",
    )


def _distribution_chart(run_: Run, name: str, st: Mapping[str, Any]) -> Chart:
    arrays = run_.load_arrays(f"params_{name}")
    teacher = run_.load_arrays("teacher")
    s_groups = _param_groups(arrays, st["members"])
    # Teacher arrays are (out, in) per layer; groups only pool values, so the layout is irrelevant.
    t_groups = _param_groups({k: v[None] for k, v in teacher.items()}, None)
    dist = run_.load_json(f"distributions_{name}")
    panels = []
    for group in ("input-layer weights", "all parameters"):
        vals, t = s_groups[group], t_groups[group]
        bins = _bins(vals, t)
        panels.append(
            Panel(
                [Hist(t, label="teacher", bins=bins), Hist(vals, label=name, bins=bins)],
                title=group,
                xlabel="value",
                ylabel="density",
            )
        )
    qq_traces: list[Any] = []
    lo, hi = math.inf, -math.inf
    for group in ("input-layer weights", "output-layer weights", "all parameters"):
        qq = _qq_for(dist, group)
        if qq is None:
            continue
        tq = np.asarray(qq["teacher"])
        sq = np.mean(np.asarray(qq["student"], dtype=float), axis=0)  # quantiles averaged over seeds
        qq_traces.append(Line(tq, sq, label=group, mode="lines+markers"))
        lo, hi = min(lo, tq.min(), sq.min()), max(hi, tq.max(), sq.max())
    if qq_traces:
        qq_traces.insert(0, Line([lo, hi], [lo, hi], label="y = x", dash=True, color="#666666"))
        panels.append(
            Panel(qq_traces, title="QQ against the teacher", xlabel="teacher quantile", ylabel=f"{name} quantile")
        )
    return Chart(
        f"dist_{name}",
        panels,
        title=f"{name} vs teacher: parameter distributions",
        caption="Histograms pool the trained seeds (central 99% of values shown). QQ: the "
        "student's quantiles (averaged over seeds) against the teacher's; on the "
        "diagonal the distributions are equal.",
    )


def _alignment_chart(run_: Run, name: str) -> Chart:
    al = run_.load_json(f"alignment_{name}")
    panels = []
    for j, layer in enumerate(al["layers"]):
        traces: list[Any] = []
        for i, cos in enumerate(layer["cosines"]):
            c = np.sort(np.asarray(cos, dtype=float))[::-1]
            traces.append(Line(np.arange(1, len(c) + 1), c, label=f"trained, seed {i}"))
        for i, cos in enumerate(layer["chance_cosines"]):
            c = np.sort(np.asarray(cos, dtype=float))[::-1]
            traces.append(
                Line(np.arange(1, len(c) + 1), c, label="at init" if i == 0 else None, dash=True, color="#888888")
            )
        panels.append(
            Panel(
                traces,
                title=f"hidden layer {j + 1} ({layer['width']} units)",
                xlabel="teacher unit (sorted by cosine)",
                ylabel="cosine",
                hlines=[(al["threshold"], "recovered above")],
            )
        )
    cats = [f"layer {j + 1}" for j in range(len(al["layers"]))]
    trained = [_num(l["mean_cosine"]) for l in al["layers"]]
    lo = [_num(l["mean_cosine_ci"][0]) for l in al["layers"]]
    hi = [_num(l["mean_cosine_ci"][1]) for l in al["layers"]]
    panels.append(
        Panel(
            [
                Bar(cats, trained, label="trained (95% CI)", errors=(lo, hi)),
                Bar(cats, [_num(l["chance_mean_cosine"]) for l in al["layers"]], label="at init"),
            ],
            title="mean cosine per hidden layer",
            ylabel="cosine",
            hlines=[(al["threshold"], "")],
        )
    )
    return Chart(
        f"alignment_{name}",
        panels,
        ncols=len(panels),
        title=f"{name}: units matched to the teacher's",
        caption="Per teacher unit, the cosine between its incoming vector [w, b] and its "
        "matched student unit's after alignment (Hungarian, modulo permutation and "
        "positive rescaling); dashed: the same students at initialisation.",
    )


def report(run_: Run) -> Report:
    """The study's report, from the run folder alone."""
    s = run_.summary
    cfg = run_.config_dict
    st_all = s["students"]
    t = s["teacher"]
    tg = s["targets"]
    rep = Report(
        "Teacher-student: under-, exactly- and over-parameterised students (Challenge 2A)",
        headline={
            "teacher parameters": fmt(t["n_params"]),
            **{f"{n} relative test MSE": _ci(st, "test_rel_mse") for n, st in st_all.items()},
            "OLS relative test MSE": fmt(s["baselines"]["linear"]["test_rel_mse"]),
        },
    )
    dims = " -> ".join(str(d) for d in [t["d_in"], *t["hidden"], 1])
    targets = (
        "raw teacher outputs (the spec)"
        if not tg["standardized"]
        else f"standardised outputs (y - {fmt(tg['mean'])}) / {fmt(tg['std'])}, mean and std "
        "estimated on a separate training sample; every number below is in original units"
    )
    rep.add(
        Text(
            f"A frozen teacher {dims} (seed {t['seed']}, weights and biases i.i.d. N(0, {fmt(t['init_std'])}^2)) "
            f"labels {fmt(s['test_set']['n'])} fixed test inputs drawn from "
            f"U[{fmt(cfg['teacher']['input_low'])}, "
            f"{fmt(cfg['teacher']['input_high'])}]^{t['d_in']}. Its outputs have mean "
            f"{fmt(t['test_mean'])} and variance Var(y_test) = {fmt(t['test_var'])} (range "
            f"{fmt(t['test_min'])} .. {fmt(t['test_max'])}), so raw MSEs are of that order: every MSE "
            "is also given relative to Var(y_test) (1 = predicting the mean). Students train online on "
            f"{targets}: each step draws {cfg['train']['batch_size']} fresh inputs, labels them with "
            f"the teacher and takes one {cfg['train']['optimizer']} step on the MSE. Learning rates are "
            "chosen per student by a sweep on training data only; the test set is used to report."
        )
    )
    rep.add(Heading("Results"), _results_table(s))
    rep.add(Heading("Number of learnable parameters"), Text(_params_text(s)))
    rep.add(Heading("Trainability"))
    for name, st in st_all.items():
        rep.add(Text(_trainability_text(name, st, cfg["sweep"]["tolerance"])))
    for name, st in st_all.items():
        rep.add(Figure(_sweep_chart(run_, name, st, s)))
    rep.add(Heading("Generalisation"))
    b = s["baselines"]
    rep.add(
        Text(
            f"Baselines on the same test set: the training mean has relative test MSE "
            f"{fmt(b['mean']['test_rel_mse'])} (raw {fmt(b['mean']['test_mse'])}); ordinary least "
            f"squares on the {t['d_in']} inputs, fitted on a separate training sample, "
            f"{fmt(b['linear']['test_rel_mse'])} (raw {fmt(b['linear']['test_mse'])}; "
            f"{fmt(b['linear']['train_rel_mse'])} in-sample)."
        )
    )
    for name, st in st_all.items():
        rep.add(Text(_generalisation_text(name, st, s)))
    rep.add(Figure(_curves_chart(run_, s)))
    rep.add(Heading("Distributional convergence to the teacher's parameters"))
    rep.add(
        Text(
            "Each student layer is compared with the teacher layer that plays the same role: "
            "the input layers (fan-in " + str(t["d_in"]) + ") and the output layers "
            "(fan-out 1) correspond at any depth; with the teacher's depth every layer pairs "
            "with the same index; otherwise a hidden -> hidden layer is compared with the "
            "teacher's hidden -> hidden layers pooled (a one-hidden-layer student has none). "
            "Weights and biases separately, then all pooled. Students start from PyTorch's "
            "default init U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the teacher is N(0, 1)."
        )
    )
    for name, st in st_all.items():
        rep.add(Text(_distribution_text(name, st)))
    for name, st in st_all.items():
        rep.add(_distribution_table(name, st), Figure(_distribution_chart(run_, name, st)))
    aligned = [n for n, st in st_all.items() if "alignment" in st]
    if aligned:
        rep.add(Heading("Symmetry-aware comparison"))
        for name in aligned:
            rep.add(Text(_alignment_text(name, st_all[name]["alignment"])), Figure(_alignment_chart(run_, name)))
    rep.add(Heading("Across students"))
    for para in _across_text(s):
        rep.add(Text(para))
    pc = s.get("parameter_count")
    if pc is not None and run_.has_artifact(f"{PARAMETER_COUNT_ARTIFACT}.parquet"):
        table = run_.load_table(PARAMETER_COUNT_ARTIFACT)
        table.attrs = {"name": pc["name"], "planned": pc["runs_planned"]}
        rep.add(Heading("Parameter count: the same question along a sweep of widths"))
        rep.add(*parameter_count_blocks(table, s, pc["differs"]))
    return rep


register(
    Study(
        STUDY_NAME,
        "Students of a frozen N(0,1) teacher trained online (Challenge 2, part A).",
        TeacherStudentConfig,
        run,
        report,
        smoke=SMOKE,
        check=check,
    )
)
