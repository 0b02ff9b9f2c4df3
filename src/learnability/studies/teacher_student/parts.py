"""Building blocks of the teacher-student study: target scaling, shared data streams, baselines,
and the comparisons of trained students with the teacher (parameter distributions, alignment).

Public so that tests exercise the study's own code paths.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from learnability.analysis import Estimate, EstimateKind, MLPAlignment, align_mlp, compare_distributions, mean_estimate
from learnability.engine import OnlineSource, StackedMLP
from learnability.linear import least_squares, with_bias
from learnability.studies.teacher_student.results import (
    Alignment,
    AlignmentLayer,
    Baseline,
    Baselines,
    BestMatch,
    BestMatchLayer,
    ChanceAlignment,
    Distribution,
    GroupStats,
    Moments,
    TargetFacts,
    UnitActivity,
)

__all__ = [
    "CONFIDENCE",
    "KS_MIN_N",
    "QQ",
    "RECOVERY_THRESHOLD",
    "LayerPairing",
    "SharedStreamSource",
    "TargetScaling",
    "TeacherComparison",
    "align_to_teacher",
    "alignment_cosines",
    "alignment_summary",
    "best_match_layers",
    "best_match_summary",
    "combine_distributions",
    "compare_with_teacher",
    "fit_baselines",
    "layer_pairing",
    "nested_estimate",
    "seed_estimate",
    "student_layers",
    "unit_activity",
]

# 95% intervals everywhere.
CONFIDENCE = 0.95
# A unit of an aligned student counts as recovered above this cosine (issue 3).
RECOVERY_THRESHOLD = 0.9
# A KS test needs a spread on both sides: groups with fewer values (an output bias) report W1 only.
KS_MIN_N = 2


def nested_estimate(
    values: Sequence[float], groups: Sequence[int], kind: EstimateKind = "real"
) -> tuple[Estimate, str]:
    """Mean and 95% interval with the teacher as the unit of replication, seeds nested inside.

    The finite values of each group (teacher) are averaged first; the estimate is the t-interval
    over the group means (``values`` of the estimate: the group means). With a single group the
    seeds are the only replication left: the interval over the seeds, unit ``"seed"``.

    Args:
        values: (n,) one value per run.
        groups: (n,) the teacher of each run.
        kind: the quantity's domain (``"positive"`` for errors and distances: a log-scale interval).

    Returns:
        The estimate and its unit, ``"teacher"`` or ``"seed"``.
    """
    v, g = np.asarray(values, dtype=float), np.asarray(groups)
    if v.shape != g.shape:
        raise ValueError(f"values and groups must have the same shape; got {v.shape} and {g.shape}")
    means = [float(v[(g == k) & np.isfinite(v)].mean()) for k in np.unique(g) if np.isfinite(v[g == k]).any()]
    if len(np.unique(g)) == 1:
        return seed_estimate(v, kind), "seed"
    return seed_estimate(means, kind), "teacher"


def seed_estimate(values: Sequence[float], kind: EstimateKind = "real") -> Estimate:
    """Mean and 95% t-interval over seeds of the finite values; all NaN when none is finite.

    A diverged seed or an untestable group (KS of one output bias) gives NaN values; they are
    left out rather than refused, so that one bad seed does not lose the others' estimate.
    ``kind`` is the quantity's domain, as :func:`~learnability.analysis.mean_estimate`.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, CONFIDENCE, kind=kind)
    if kind == "positive" and (v <= 0).any():
        # A distance can be exactly 0 (a distribution against itself): no log-scale interval.
        kind = "real"
    return mean_estimate(v, CONFIDENCE, kind=kind)


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

    def facts(self, failure_loss: float) -> TargetFacts:
        """The scaling as reported, with the collapse level ``failure_loss`` (training units)."""
        return TargetFacts(
            standardized=self.standardized,
            mean=self.mean,
            std=self.std,
            loss_scale=self.loss_scale,
            failure_loss=failure_loss,
        )


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


def fit_baselines(x_ref: Tensor, y_ref: Tensor, x_test: Tensor, y_test: Tensor) -> Baselines:
    """Test MSE of the training-mean predictor and of OLS fitted on the training sample.

    Args:
        x_ref: (n, d) training inputs; y_ref: (n, 1) their labels.
        x_test: (N, d) test inputs; y_test: (N, 1) their labels (used to score only).

    Returns:
        ``mean`` and ``linear``, each with ``test_mse``, ``test_rel_mse`` (over ``Var(y_test)``)
        and ``train_rel_mse`` (in-sample, over ``Var(y_ref)``); ``mean.value`` is the constant.
    """
    xr, yr = x_ref.double().cpu().numpy(), y_ref.double().cpu().numpy()
    xt, yt = x_test.double().cpu().numpy(), y_test.double().cpu().numpy()
    var_test, var_ref = float(yt.var()), float(yr.var())
    mean = float(yr.mean())
    w = least_squares(with_bias(xr), yr)  # (d + 1, 1), intercept last
    ols_test = float(np.mean((with_bias(xt) @ w - yt) ** 2))
    ols_train = float(np.mean((with_bias(xr) @ w - yr) ** 2))
    mean_test = float(np.mean((yt - mean) ** 2))
    return Baselines(
        mean=Baseline(test_mse=mean_test, test_rel_mse=mean_test / var_test, train_rel_mse=1.0, value=mean),
        linear=Baseline(test_mse=ols_test, test_rel_mse=ols_test / var_test, train_rel_mse=ols_train / var_ref),
    )


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
    """Pair each student layer with its comparable teacher layers.

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


@dataclass(frozen=True)
class QQ:
    """QQ data of one group: ``p`` (n_quantiles,), the teacher's quantiles (n_quantiles,) and
    each seed's (seeds, n_quantiles)."""

    p: list[float]
    teacher: list[float]
    student: list[list[float]]

    def to_dict(self) -> dict[str, Any]:
        return {"p": self.p, "teacher": self.teacher, "student": self.student}


@dataclass(frozen=True)
class TeacherComparison:
    """:func:`compare_with_teacher`: the statistics (what the summary holds) and the QQ data of
    every group, by group name (what the report's QQ plots need)."""

    distribution: Distribution
    qq: dict[str, QQ]

    def to_json(self) -> dict[str, Any]:
        """The run folder's ``distributions_NAME`` artifact: every group with its ``qq`` data."""
        d = self.distribution

        def group(g: GroupStats) -> dict[str, Any]:
            return g.model_dump(mode="python", exclude_none=True) | {"qq": self.qq[g.name].to_dict()}

        return {
            "layers": [group(g) for g in d.layers],
            "weights": group(d.weights),
            "biases": group(d.biases),
            "all": group(d.all),
        }


def _moments_mean(summaries: Sequence[Mapping[str, float]]) -> Moments:
    keys = ("mean", "std", "skewness", "excess_kurtosis")
    with np.errstate(invalid="ignore"):
        return Moments(
            **{
                k: float(np.nanmean([s[k] for s in summaries]))
                if any(np.isfinite(s[k]) for s in summaries)
                else math.nan
                for k in keys
            }
        )


def _group_stats(
    name: str, student: Sequence[np.ndarray], teacher: np.ndarray, n_quantiles: int, extra: Mapping[str, Any]
) -> tuple[GroupStats, QQ]:
    """Compare one group of parameters, seed by seed, with the teacher's."""
    comps = [compare_distributions(s, teacher, n_quantiles) for s in student]
    n_student, n_teacher = int(student[0].size), int(teacher.size)
    testable = min(n_student, n_teacher) >= KS_MIN_N
    pvalues = [c.ks_pvalue if testable else math.nan for c in comps]
    stats = GroupStats(
        name=name,
        **extra,
        n_student=n_student,
        n_teacher=n_teacher,
        ks_est=seed_estimate([c.ks if testable else math.nan for c in comps], "positive"),
        wasserstein_est=seed_estimate([c.wasserstein for c in comps], "positive"),
        wasserstein_standardized_est=seed_estimate([c.wasserstein_standardized for c in comps], "positive"),
        ks_pvalues=pvalues,
        ks_pvalue_max=float(np.max(pvalues)) if testable else math.nan,
        student=_moments_mean([c.a.to_dict() for c in comps]),
        teacher=Moments(**comps[0].b.to_dict()),
    )
    qq = QQ(
        p=list(comps[0].probabilities),
        teacher=list(comps[0].quantiles_b),
        student=[list(c.quantiles_a) for c in comps],
    )
    return stats, qq


def compare_with_teacher(
    student: Sequence[Sequence[tuple[np.ndarray, np.ndarray]]],
    teacher: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    n_quantiles: int = 100,
) -> TeacherComparison:
    """Weights and biases, per layer and pooled, of each trained seed against the teacher's.

    Args:
        student: per seed, the layers ``(W (out, in), b (out,))``.
        teacher: the teacher's layers.
        n_quantiles: quantiles of the QQ data.

    Returns:
        Per layer (weights and biases apart) and pooled (all weights, all biases, all
        parameters): KS, W1 and standardised W1 (mean and 95% CI over seeds), KS p-values per
        seed, the moments (student: mean over seeds), and the QQ data per seed.
    """
    pairs = layer_pairing(len(student[0]), len(teacher))
    groups: list[tuple[GroupStats, QQ]] = []
    for p in pairs:
        if not p.teacher_layers:
            continue  # e.g. a hidden -> hidden layer against a one-hidden-layer teacher
        for kind, idx in (("W", 0), ("b", 1)):
            t_vals = np.concatenate([teacher[l][idx].ravel() for l in p.teacher_layers])
            s_vals = [seed[p.student_layer][idx].ravel() for seed in student]
            label = f"layer {p.student_layer + 1} {'weights' if kind == 'W' else 'biases'}"
            extra = {
                "student_layer": p.student_layer,
                "kind": kind,
                "role": p.role,
                "teacher_layers": list(p.teacher_layers),
            }
            groups.append(_group_stats(label, s_vals, t_vals, n_quantiles, extra))

    def pooled(idx: Sequence[int]) -> list[np.ndarray]:
        return [np.concatenate([layer[i].ravel() for i in idx for layer in seed]) for seed in student]

    t_w = np.concatenate([w.ravel() for w, _ in teacher])
    t_b = np.concatenate([b.ravel() for _, b in teacher])
    weights = _group_stats("all weights", pooled([0]), t_w, n_quantiles, {"kind": "W"})
    biases = _group_stats("all biases", pooled([1]), t_b, n_quantiles, {"kind": "b"})
    every = _group_stats("all parameters", pooled([0, 1]), np.concatenate([t_w, t_b]), n_quantiles, {"kind": "all"})
    distribution = Distribution(layers=[g for g, _ in groups], weights=weights[0], biases=biases[0], all=every[0])
    qq = {g.name: q for g, q in [*groups, weights, biases, every]}
    return TeacherComparison(distribution, qq)


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


def alignment_summary(
    trained: Sequence[MLPAlignment],
    chance: Sequence[MLPAlignment],
    best: BestMatch,
    groups: Sequence[int] | None = None,
) -> Alignment:
    """Per-run and per-layer summary of Hungarian alignments, next to the same at initialisation.

    ``mean_cosine[i]`` / ``recovered[i]``: run i's mean cosine over all hidden units / number of
    hidden units recovered. ``chance``: the same for each run's *initial* parameters — what the
    matching finds between unrelated networks. Estimates over teachers (``groups``: each run's
    teacher; None: one teacher, over seeds).
    """
    groups = list(groups) if groups is not None else [0] * len(trained)

    def per_seed(al: Sequence[MLPAlignment]) -> tuple[list[float], list[int]]:
        cos = [float(np.nanmean(np.concatenate([l.cosines for l in a.layers]))) for a in al]
        rec = [int(sum(a.recovered)) for a in al]
        return cos, rec

    cos, rec = per_seed(trained)
    cos0, rec0 = per_seed(chance)
    layers = []
    for j, layer in enumerate(trained[0].layers):
        lc = [a.layers[j].mean_cosine for a in trained]
        layers.append(
            AlignmentLayer(
                width=layer.n_teacher,
                mean_cosine_est=nested_estimate(lc, groups)[0],
                mean_cosine_per_seed=lc,
                recovered_per_seed=[a.layers[j].recovered for a in trained],
                chance_mean_cosine=float(np.mean([a.layers[j].mean_cosine for a in chance])),
                chance_recovered_per_seed=[a.layers[j].recovered for a in chance],
            )
        )
    return Alignment(
        threshold=trained[0].threshold,
        n_units=int(sum(l.n_teacher for l in trained[0].layers)),
        best_match=best,
        mean_cosine=cos,
        recovered=rec,
        mean_cosine_est=nested_estimate(cos, groups)[0],
        recovered_est=nested_estimate(rec, groups)[0],
        output_cosine=[a.output.cosines[0] for a in trained],
        chance=ChanceAlignment(mean_cosine=cos0, recovered=rec0),
        layers=layers,
    )


def best_match_summary(
    trained: Sequence[BestMatchResult],
    chance: Sequence[BestMatchResult],
    activity: Sequence[UnitActivity],
    groups: Sequence[int],
    *,
    threshold: float = RECOVERY_THRESHOLD,
) -> BestMatch:
    """Many-to-one matches of every run (``trained``), at initialisation (``chance``), with the
    unrecoverable units of each run's teacher (``activity[groups[i]]``); estimates over teachers."""
    layers = []
    n_layers = len(trained[0].cosines)
    teachers_used = sorted(set(groups))
    for l in range(n_layers):
        rec = [int(np.sum(r.cosines[l] > threshold)) for r in trained]
        rec0 = [int(np.sum(r.cosines[l] > threshold)) for r in chance]
        layers.append(
            BestMatchLayer(
                layer=l,
                width=int(trained[0].cosines[l].size),
                student_width=trained[0].student_width[l],
                best_cosine_est=nested_estimate([float(r.cosines[l].mean()) for r in trained], groups)[0],
                chance_best_cosine_est=nested_estimate([float(r.cosines[l].mean()) for r in chance], groups)[0],
                recovered_est=nested_estimate(rec, groups)[0],
                chance_recovered_est=nested_estimate(rec0, groups)[0],
                specialists_est=nested_estimate([int(r.specialists[l].sum()) for r in trained], groups)[0],
                duplicated_est=nested_estimate([int(np.sum(r.specialists[l] >= 2)) for r in trained], groups)[0],
                recoverable=float(np.mean([activity[t].recoverable[l] for t in teachers_used])),
                dead=float(np.mean([activity[t].dead[l] for t in teachers_used])),
                always_active=float(np.mean([activity[t].always_active[l] for t in teachers_used])),
            )
        )
    total = [sum(int(np.sum(c > threshold)) for c in r.cosines) for r in trained]
    total0 = [sum(int(np.sum(c > threshold)) for c in r.cosines) for r in chance]
    return BestMatch(
        layers=layers,
        recovered_est=nested_estimate(total, groups)[0],
        chance_recovered_est=nested_estimate(total0, groups)[0],
        n_units=int(sum(l.width for l in layers)),
        recoverable=float(sum(l.recoverable for l in layers)),
    )


def alignment_cosines(
    summary: Alignment, trained: Sequence[MLPAlignment], chance: Sequence[MLPAlignment]
) -> dict[str, Any]:
    """The run folder's ``alignment_NAME`` artifact: the summary with, per hidden layer, every
    teacher unit's cosine per seed (``cosines``, ``chance_cosines``: (seeds, width))."""
    out = summary.model_dump(mode="python")
    for j, layer in enumerate(out["layers"]):
        layer["cosines"] = [list(a.layers[j].cosines) for a in trained]
        layer["chance_cosines"] = [list(a.layers[j].cosines) for a in chance]
    return out


def unit_activity(teacher: Sequence[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> UnitActivity:
    """Dead and always-active hidden units of a ReLU network on a sample of its inputs.

    A unit is dead when its pre-activation is <= 0 at every sample point (it never contributes,
    so its incoming vector is not identifiable) and always active when it is > 0 at every point
    (the ReLU acts as the identity, so the unit merges linearly with the next layer and cannot be
    told apart from combinations of other units). Found on a finite sample: a unit active on a
    set of tiny probability may be called dead.

    Args:
        teacher: layers ``(W (out, in), b (out,))``.
        x: (n, d_in) inputs from the input distribution.
    """
    h = np.asarray(x, dtype=np.float64)
    dead, always, width = [], [], []
    for w, b in teacher[:-1]:
        z = h @ w.T + b  # (n, out)
        dead.append(int(np.sum(np.all(z <= 0.0, axis=0))))
        always.append(int(np.sum(np.all(z > 0.0, axis=0))))
        width.append(int(w.shape[0]))
        h = np.maximum(z, 0.0)
    return UnitActivity(n_points=int(h.shape[0]), width=width, dead=dead, always_active=always)


@dataclass(frozen=True)
class BestMatchResult:
    """:func:`best_match_layers` for one student against one teacher, per compared hidden layer:
    ``cosines[l]`` (n_teacher_l,) best cosine of each teacher unit, ``best[l]`` the index of
    its best student unit, ``specialists[l]`` (n_teacher_l,) student units whose own best
    teacher unit it is, above the threshold."""

    cosines: list[np.ndarray]
    best: list[np.ndarray]
    specialists: list[np.ndarray]
    student_width: list[int]


def best_match_layers(
    student: Sequence[tuple[np.ndarray, np.ndarray]],
    teacher: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    threshold: float = RECOVERY_THRESHOLD,
) -> BestMatchResult:
    """Many-to-one, scale-invariant matching of a student's hidden units to a teacher's.

    Layer 0 (whose inputs are the same coordinates in both networks): the cosine between the unit
    directions of every student and teacher incoming vector ``[w, b]``; each teacher unit keeps its
    best student unit (several teacher units may share one, several student units may copy one).
    At the teacher's depth the deeper hidden layers follow, each expressed in the teacher's
    coordinates: a student unit i of the previous layer whose best teacher unit j matches above
    ``threshold`` computes ``c_i h_j`` with ``c_i = |[w_i, b_i]| / |[t_j, b_j]|`` (ReLU is positively
    homogeneous), so its outgoing weights, times ``c_i``, are added to teacher input j (copies
    add up); weights from the other previous-layer units count only in the norm (they lower the
    cosine: conservative). Other depths: the first hidden layer only (deeper layers have no
    common coordinates with the teacher's).

    Args:
        student, teacher: layers ``(W (out, in), b (out,))`` of the same input dimension.
        threshold: cosine above which a unit counts as matched (recovered / a specialist).
    """
    same_depth = len(student) == len(teacher)
    n_compared = len(teacher) - 1 if same_depth else 1
    cosines, best, specialists, widths = [], [], [], []
    d_in = teacher[0][0].shape[1]
    # Previous layer of the student in teacher coordinates: (n_t_prev, n_s_prev) map, unmatched mask.
    carry = np.eye(d_in)
    unmatched = np.zeros(d_in, dtype=bool)
    for l in range(n_compared):
        ws, bs = student[l]
        wt, bt = teacher[l]
        w_eff = ws @ carry.T  # (n_s, n_t_prev): incoming weights on the teacher's previous units
        extra = np.sum(ws[:, unmatched] ** 2, axis=1)  # weight on unmatched previous units
        s_norm = np.sqrt(np.sum(w_eff**2, axis=1) + bs**2 + extra)
        t_norm = np.sqrt(np.sum(wt**2, axis=1) + bt**2)
        inner = w_eff @ wt.T + np.outer(bs, bt)  # (n_s, n_t)
        denom = np.outer(s_norm, t_norm)
        cos = np.zeros_like(inner)
        np.divide(inner, denom, out=cos, where=denom > 0.0)
        cos = np.clip(cos, -1.0, 1.0)
        cosines.append(cos.max(axis=0))
        best.append(cos.argmax(axis=0))
        own = cos.argmax(axis=1)  # each student unit's best teacher unit
        matched = cos[np.arange(cos.shape[0]), own] > threshold
        specialists.append(np.bincount(own[matched], minlength=wt.shape[0]))
        widths.append(int(ws.shape[0]))
        # Carry the matched units (and their scales) to the next layer's coordinates.
        scale = np.zeros(ws.shape[0])
        ok = matched & (t_norm[own] > 0.0)
        scale[ok] = s_norm[ok] / t_norm[own[ok]]
        carry = np.zeros((wt.shape[0], ws.shape[0]))
        carry[own[ok], np.flatnonzero(ok)] = scale[ok]
        unmatched = ~ok
    return BestMatchResult(cosines, best, specialists, widths)


def combine_distributions(trained: Sequence[Distribution], init: Sequence[Distribution]) -> Distribution:
    """One :class:`Distribution` over teachers from each teacher's (seeds inside).

    ``trained[t]`` / ``init[t]``: the comparison of teacher t's runs with teacher t, after training
    and at initialisation. Each group's KS and W1 estimates become intervals over the teachers'
    seed means (over seeds with one teacher); ``ks_init_est`` / ``wasserstein_init_est`` hold the
    same distances at initialisation; p-values are listed per run, moments averaged.
    """

    def over(ests: Sequence[Estimate]) -> Estimate:
        if len(ests) == 1:
            return ests[0]
        return seed_estimate([e.mean for e in ests], ests[0].kind)

    def moments(ms: Sequence[Moments]) -> Moments:
        def mean(k: str) -> float:
            v = np.asarray([getattr(m, k) for m in ms], dtype=float)
            return float(v[np.isfinite(v)].mean()) if np.isfinite(v).any() else math.nan

        return Moments(n=ms[0].n, **{k: mean(k) for k in ("mean", "std", "skewness", "excess_kurtosis")})

    def group(gs: Sequence[GroupStats], g0: Sequence[GroupStats]) -> GroupStats:
        pvalues = [p for g in gs for p in g.ks_pvalues]
        return gs[0].model_copy(
            update={
                "ks_est": over([g.ks_est for g in gs]),
                "wasserstein_est": over([g.wasserstein_est for g in gs]),
                "wasserstein_standardized_est": over([g.wasserstein_standardized_est for g in gs]),
                "ks_pvalues": pvalues,
                "ks_pvalue_max": float(np.max(pvalues)) if pvalues else math.nan,
                "student": moments([g.student for g in gs]),
                "teacher": moments([g.teacher for g in gs]),
                "ks_init_est": over([g.ks_est for g in g0]),
                "wasserstein_init_est": over([g.wasserstein_est for g in g0]),
            }
        )

    layers = [group([d.layers[i] for d in trained], [d.layers[i] for d in init]) for i in range(len(trained[0].layers))]
    return Distribution(
        layers=layers,
        weights=group([d.weights for d in trained], [d.weights for d in init]),
        biases=group([d.biases for d in trained], [d.biases for d in init]),
        all=group([d.all for d in trained], [d.all for d in init]),
    )
