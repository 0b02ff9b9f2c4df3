"""The bell-hierarchy study, stage by stage: is it the hierarchy that makes Bell's B6 easy?

Challenge 2, part B (``shared/seeds/course/AdvML_Challenge_2024_2.md``; issues 4 and 16). The same
residual network learns the sixth complete Bell polynomial ``B6`` -- whose monomials nest
(``x1 -> x1^2, x2 -> ...``: a compositional, hierarchical structure) -- and *many* scrambled twins
(each monomial's variables permuted by its own permutation: same coefficients and degrees, no
hierarchy), each scramble a realisation of the random scrambling and the unit of replication.
A negative control -- B6 with its inputs relabelled by one global permutation, statistically the
same task -- measures the noise floor of the comparison. Everything else is equal and paired:
inputs, network, optimiser, batch size, epochs, initialisations and data orders per seed, the
rate protocol. Both schedules (the spec's constant rate, a cosine decay) run in the same ensemble.

Pipeline (``run``), top to bottom:

1. targets: ``B_n``, the control, ``n_scrambles`` scrambles (each checked by ``check_scrambled``);
2. data: training and test inputs from ``U[0, 2]^n`` (independent draws) shared by every target
   (common random numbers), targets in float64;
3. baselines on each test set: mean, linear least squares, degree-``n`` polynomial least squares;
   confounds of each target: variance, first-order and total Sobol indices, effective dimension;
4. rate search: successive halving on training error, every (schedule, target, rate) in one
   ensemble (``training.py``);
5. ``seeds`` paired seeds per (schedule, target) at its chosen rate, one ensemble;
6. ratios: per scramble and schedule, target / B6 paired by seed; across scrambles, the geometric
   mean with a t-interval over scrambles; the control's ratio; the regression on effective
   dimension;
7. one-variable sweeps and Sobol indices of the models (primary schedule);
8. the typed results (``results.py``) for the report (``report.py``).

Shapes: ``G`` targets, ``C`` schedules, ``S`` seeds, ``K = C G S`` final members (member
``k = (c G + g) S + i``), ``n`` variables, ``M`` base points, ``E`` epochs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.stats as sps
import torch

from learnability._seeds import derive_seed
from learnability._words import plural
from learnability.analysis import (
    Estimate,
    EstimateKind,
    geometric_mean_ratio,
    mean_estimate,
    saltelli_design,
    sobol_from_evaluations,
    sweep_summary,
)
from learnability.engine import LRGrid, MLPSpec, StackedMLP, TrainResult
from learnability.studies import StudyContext
from learnability.studies.bell_hierarchy.config import BellConfig
from learnability.studies.bell_hierarchy.parts import (
    DOMAIN,
    BellDataSets,
    compute_baselines,
    derangement,
    family_names,
    make_data,
    relabel_inputs,
    sweep_design,
    target_names,
)
from learnability.studies.bell_hierarchy.results import (
    Baselines,
    BellResults,
    Comparison,
    Confounds,
    ControlFacts,
    Convergence,
    DataFacts,
    NetworkFacts,
    PairedRatio,
    Regression,
    ScheduleEffect,
    ScrambleFacts,
    ScrambleRecord,
    SensitivityFacts,
    Sobol,
    SweepGroup,
    SweepVariable,
    TargetResult,
    TargetStatistics,
    Timing,
    TrainingFacts,
)
from learnability.studies.bell_hierarchy.training import (
    FINAL_TAG,
    Halving,
    Member,
    Prepared,
    predict_original,
    prepare,
    tail_mean,
    train_members,
    tune_learning_rates,
)
from learnability.targets import Polynomial, ScrambleResult, bell_polynomial, check_scrambled, scramble

__all__ = ["BellTargets", "across_scrambles", "build_model", "build_targets", "effect_regression", "run"]

# Convergence speed: an epoch counts as "converged" once the test error is within this factor
# of the run's own final error (mean of the last tail_epochs epochs).
CONVERGENCE_FACTOR = 2.0
# Band of the aggregated sweep errors over (seed, base point) pairs: the central 90%.
SWEEP_BAND = (0.05, 0.95)
# The optimiser of every member (the spec's).
OPTIMIZER = "adam"
RATIO_MEANING = "scrambled / hierarchical relative test MSE, geometric mean over seeds"
# Target indices in every ensemble: B6, its control, then the scrambles.
B6, CONTROL, FIRST_SCRAMBLE = 0, 1, 2


# --------------------------------------------------------------------------------------------
# Targets and model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BellTargets:
    """Every target of a run, in ensemble order (B_n, the control, the scrambles).

    Attributes:
        names: ``family_names(order, n_scrambles)``.
        polys: the polynomials, aligned with ``names``.
        scrambles: the validated scramblings (``polys[2:]``), with their seeds and permutations.
        control_sigma, control_seed: the control's global relabelling and its seed.
    """

    names: list[str]
    polys: list[Polynomial]
    scrambles: list[ScrambleResult]
    control_sigma: tuple[int, ...]
    control_seed: int

    @property
    def kinds(self) -> list[str]:
        return ["hierarchical", "control"] + ["scrambled"] * len(self.scrambles)


def build_targets(cfg: BellConfig) -> BellTargets:
    """``B_n``, its control and ``n_scrambles`` scrambles. Scramble ``i`` uses
    ``data.scramble_seeds[i]`` or ``derive_seed(seed, "scramble", i)``; the control's derangement
    ``data.control_seed`` or ``derive_seed(seed, "control")``.

    Raises:
        RuntimeError: if a scrambling breaks a rule of ``check_scrambled`` or two seeds give the
            same scrambled polynomial (never expected).
    """
    d = cfg.data
    original = bell_polynomial(d.order)
    seeds = d.scramble_seeds or [derive_seed(cfg.seed, "scramble", i) for i in range(d.n_scrambles)]
    scrambles = []
    for s in seeds:
        result = scramble(original, seed=s)
        problems = check_scrambled(original, result)
        if problems:
            raise RuntimeError(f"invalid scrambling (seed {s}): " + "; ".join(map(str, problems)))
        scrambles.append(result)
    if len({r.scrambled for r in scrambles}) != len(scrambles):
        raise RuntimeError(f"two scramble seeds of {seeds} give the same polynomial")
    control_seed = derive_seed(cfg.seed, "control") if d.control_seed is None else d.control_seed
    sigma = derangement(d.order, seed=control_seed)
    polys = [original, relabel_inputs(original, sigma)] + [r.scrambled for r in scrambles]
    return BellTargets(family_names(d.order, len(scrambles)), polys, scrambles, sigma, control_seed)


def build_model(cfg: BellConfig) -> StackedMLP:
    """The residual MLP of the config (see :class:`BellConfig` for the readings of the layer count)."""
    m = cfg.model
    spec = MLPSpec(d_in=cfg.data.order, hidden=(m.width,) * (m.n_hidden + 1), d_out=1, residual=True, activation="relu")
    return StackedMLP(spec)


# --------------------------------------------------------------------------------------------
# Confounds of the targets
# --------------------------------------------------------------------------------------------


def target_statistics(
    polys: Sequence[Polynomial],
    names: Sequence[str],
    kinds: Sequence[str],
    data: BellDataSets,
    cfg: BellConfig,
    seed: int,
) -> list[TargetStatistics]:
    """Variance (test set), first-order and total Sobol indices (one Saltelli design for all),
    effective dimension and interaction share of every target."""
    a, n = cfg.analysis, cfg.data.order
    design = saltelli_design(n, n_samples=a.sobol_samples, low=DOMAIN[0], high=DOMAIN[1], seed=seed)
    x = design.stacked()
    out = []
    for g, (poly, name, kind) in enumerate(zip(polys, names, kinds, strict=True)):
        so = sobol_from_evaluations(*design.split(poly(x)[:, 0]), sampler=design.sampler)
        first = so.first.numpy()
        out.append(
            TargetStatistics(
                name=name,
                kind=kind,
                variance=float(data.y_test[g].var(correction=0)),
                mean=float(data.y_test[g].mean()),
                sobol_first=first.tolist(),
                sobol_total=so.total.numpy().tolist(),
                effective_dim=float(1.0 / np.sum(first**2)),
                interaction_share=float(1.0 - np.sum(first)),
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Final training and its errors
# --------------------------------------------------------------------------------------------


def _est(values: Sequence[float] | np.ndarray, kind: EstimateKind = "real") -> Estimate:
    """Mean over seeds with its 95% interval; seeds with a NaN value are left out. ``kind``: the
    quantity's domain (``"positive"`` for errors: a log-scale interval that stays above 0)."""
    return mean_estimate(np.asarray(values, dtype=np.float64), nan_policy="omit", kind=kind)


@dataclass(frozen=True)
class Layout:
    """Final member ``k = (c G + g) S + i``: schedule ``c``, target ``g``, seed ``i``."""

    schedules: list[str]
    G: int
    S: int

    def members(self, schedule: str, g: int) -> np.ndarray:
        c = self.schedules.index(schedule)
        start = (c * self.G + g) * self.S
        return np.arange(start, start + self.S)

    @property
    def groups(self) -> list[int]:
        return [g for _ in self.schedules for g in range(self.G) for _ in range(self.S)]

    @property
    def K(self) -> int:
        return len(self.schedules) * self.G * self.S


def train_final(
    model: StackedMLP,
    prep: Prepared,
    cfg: BellConfig,
    ctx: StudyContext,
    names: Sequence[str],
    hv: Halving,
    lay: Layout,
) -> TrainResult:
    """``seeds`` fresh members per (schedule, target) at its chosen rate, in one ensemble, paired
    (seed ``i`` has the same initialisation, data order and inputs for every target and schedule).
    Saves the members table."""
    S = lay.S
    init_seeds, data_seeds = ctx.seeds(S, "final", "init"), ctx.seeds(S, "final", "data")
    members = [Member(g, s, hv.chosen[(s, g)]) for s in lay.schedules for g in range(lay.G) for _ in range(S)]
    ctx.progress.phase(f"final: {plural(len(members), 'run')}")
    final, _ = train_members(
        model,
        prep,
        cfg,
        ctx,
        members=members,
        init_seeds=init_seeds * (lay.K // S),
        data_seeds=data_seeds * (lay.K // S),
        tag=FINAL_TAG,
    )
    rows = [
        {"tag": FINAL_TAG, "member": k, "target": names[m.target], "schedule": m.schedule, "lr": m.lr, "seed": k % S}
        for k, m in enumerate(members)
    ]
    ctx.writer.save_table(BellResults.MEMBERS, pd.DataFrame(rows))
    return final


@dataclass(frozen=True)
class FinalErrors:
    """Errors of the final members in original units, float64; ``*_rel`` divide by Var(y) of the set."""

    test_mse: np.ndarray  # (K,)
    test_rel: np.ndarray  # (K,)
    train_mse: np.ndarray  # (K,) on the whole training set
    train_rel: np.ndarray  # (K,)
    curves_test: np.ndarray  # (E + 1, K) relative test MSE at each evaluation (step 0 first)
    tail_rel: np.ndarray  # (K,) mean of the last tail_epochs epochs of curves_test


def final_errors(
    model: StackedMLP,
    final: TrainResult,
    data: BellDataSets,
    prep: Prepared,
    cfg: BellConfig,
    ctx: StudyContext,
    lay: Layout,
) -> FinalErrors:
    """The final generalisation and training errors, recomputed in float64 in original units;
    saves the per-epoch curves of every member."""
    groups = lay.groups
    gidx = torch.as_tensor(groups)
    pred_test = predict_original(model, final.params, data.x_test, prep, groups)  # (K, M)
    test_mse = ((pred_test - data.y_test[gidx]) ** 2).mean(1).numpy()
    test_rel = test_mse / data.y_test[gidx].var(1, correction=0).numpy()
    pred_train = predict_original(model, final.params, data.x_train, prep, groups)  # (K, N)
    train_mse = ((pred_train - data.y_train[gidx]) ** 2).mean(1).numpy()
    train_rel = train_mse / data.y_train[gidx].var(1, correction=0).numpy()
    curves_test = final.evals["test_rel"].values.astype(np.float64)  # (E + 1, K)
    spe = cfg.data.n_train // cfg.train.batch_size
    epoch_train = (
        final.epoch_means(spe) * (prep.sd[gidx] ** 2 / data.y_train[gidx].var(1, correction=0)).numpy()[None, :]
    )  # batch losses, relative
    ctx.writer.save_arrays(
        BellResults.CURVES,
        steps=final.evals["test_rel"].steps,
        steps_per_epoch=np.asarray(spe),
        groups=np.asarray(groups),
        schedule=np.asarray([c for c in range(len(lay.schedules)) for _ in range(lay.G * lay.S)]),
        test_rel=curves_test,
        test_mse=final.evals["test_mse"].values,
        train_eval_rel=final.evals["train_eval_rel"].values,
        train_batch_rel=epoch_train,
    )
    return FinalErrors(
        test_mse, test_rel, train_mse, train_rel, curves_test, tail_mean(curves_test, cfg.train.tail_epochs)
    )


def _first_epoch_below(curve: np.ndarray, level: float) -> int | None:
    """First epoch (1-based) whose value is <= level; ``None`` if none."""
    hits = np.flatnonzero(curve <= level)
    return int(hits[0]) + 1 if hits.size else None


def convergence(err: FinalErrors, members: np.ndarray, common_level: float) -> Convergence:
    """How fast the members ``members`` got to their own final error and to ``common_level``."""
    curves = err.curves_test[1:, members]  # (E, S)
    return Convergence(
        epochs_to_within_factor=[
            _first_epoch_below(curves[:, i], CONVERGENCE_FACTOR * err.tail_rel[k]) for i, k in enumerate(members)
        ],
        factor=CONVERGENCE_FACTOR,
        rel_after_epoch_1=curves[0].tolist(),
        epoch_curve_mean=curves.mean(1).tolist(),
        epochs_to_common_level=[_first_epoch_below(err.curves_test[1:, k], common_level) for k in members],
        common_level=common_level,
    )


# --------------------------------------------------------------------------------------------
# Ratios: per scramble, across scrambles, the control, the regression on effective dimension
# --------------------------------------------------------------------------------------------


def paired_ratio(
    err: FinalErrors, lay: Layout, hv: Halving, names: Sequence[str], schedule: str, g: int
) -> PairedRatio:
    """Target ``g`` / B6 under ``schedule``, paired by seed."""
    a, b = lay.members(schedule, g), lay.members(schedule, B6)
    rel_a, rel_b = err.test_rel[a], err.test_rel[b]
    return PairedRatio(
        target=names[g],
        schedule=schedule,
        lr=hv.chosen[(schedule, g)],
        lr_at_edge=hv.at_edge(schedule, g),
        test_rel_mse_per_seed=rel_a.tolist(),
        ratio_est=geometric_mean_ratio(rel_a, rel_b, paired=True),
        ratio_tail_est=geometric_mean_ratio(err.tail_rel[a], err.tail_rel[b], paired=True),
        harder_seeds=int(np.sum(rel_a > rel_b)),
        seeds=lay.S,
    )


def across_scrambles(scramble_errors: np.ndarray, b6_errors: np.ndarray) -> tuple[Estimate, Estimate, np.ndarray]:
    """The hierarchy effect with the scramble as the unit of replication.

    Args:
        scramble_errors: ``(n_scrambles, S)`` positive errors, seed ``i`` paired with ``b6_errors[i]``.
        b6_errors: ``(S,)`` B6's errors.

    Returns:
        ``(across, with_b6_noise, per_scramble)``: ``per_scramble[j]`` = geometric mean over seeds
        of ``scramble_errors[j, i] / b6_errors[i]``; ``across`` = their geometric mean with the
        t-interval over scrambles (seeds averaged within a scramble first); ``with_b6_noise`` = the
        same point with Welch's interval between the scrambles' geometric-mean errors and B6's
        per-seed errors (adds the uncertainty of B6's level, which every ratio shares).
    """
    log_r = np.log(scramble_errors) - np.log(b6_errors)[None, :]  # (J, S)
    per_scramble = np.exp(log_r.mean(axis=1))
    across = geometric_mean_ratio(per_scramble)
    scr_level = np.exp(np.log(scramble_errors).mean(axis=1))  # (J,)
    welch = geometric_mean_ratio(scr_level, b6_errors)
    return across, welch, per_scramble


def effect_regression(
    log_ratio: np.ndarray, eff_dim: np.ndarray, b6_dim: float, schedule: str, confidence: float = 0.95
) -> Regression:
    """OLS of ``log_ratio`` on ``eff_dim - b6_dim`` over scrambles (``(J,)`` each, ``J >= 3``):
    slope and the intercept (the log ratio predicted at B6's effective dimension), each with its
    t-interval (``J - 2`` degrees of freedom), returned on the ratio scale for the intercept."""
    x, y = eff_dim - b6_dim, log_ratio
    J = len(y)
    X = np.column_stack([np.ones(J), x])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    df = J - 2
    if df >= 1 and np.ptp(x) > 0:
        s2 = float(resid @ resid) / df
        cov = s2 * np.linalg.inv(X.T @ X)
        half = [float(v) for v in sps.t.ppf(0.5 + confidence / 2, df) * np.sqrt(np.diag(cov))]
    else:
        half = [float("nan")] * 2
    a, b = float(coef[0]), float(coef[1])
    corr = float(np.corrcoef(x, y)[0, 1]) if J >= 2 and np.ptp(x) > 0 and np.ptp(y) > 0 else float("nan")
    return Regression(
        schedule=schedule,
        slope_est=Estimate(b, b - half[1], b + half[1], J, confidence),
        at_b6_est=Estimate(
            float(np.exp(a)), float(np.exp(a - half[0])), float(np.exp(a + half[0])), J, confidence, kind="positive"
        ),
        b6_effective_dim=float(b6_dim),
        effective_dim_range=[float(eff_dim.min()), float(eff_dim.max())],
        extrapolated=bool(b6_dim < eff_dim.min() or b6_dim > eff_dim.max()),
        correlation=corr,
        n=J,
    )


def schedule_effect(
    err: FinalErrors, lay: Layout, hv: Halving, schedule: str, ratios: Sequence[PairedRatio]
) -> ScheduleEffect:
    """The across-scramble effect of one schedule (``ratios``: the scrambles' paired ratios)."""
    J = lay.G - FIRST_SCRAMBLE
    scr = np.stack([err.test_rel[lay.members(schedule, g)] for g in range(FIRST_SCRAMBLE, lay.G)])  # (J, S)
    b6 = err.test_rel[lay.members(schedule, B6)]
    across, welch, per = across_scrambles(scr, b6)
    return ScheduleEffect(
        schedule=schedule,
        b6_lr=hv.chosen[(schedule, B6)],
        b6_test_rel_mse_gmean_est=geometric_mean_ratio(b6),
        scrambles_test_rel_mse_gmean_est=geometric_mean_ratio(np.exp(np.log(scr).mean(axis=1))),
        across_est=across,
        across_with_b6_noise_est=welch,
        harder=int(np.sum(per > 1)),
        harder_significant=int(sum(r.ratio_est.low > 1 for r in ratios)),
        n_scrambles=J,
    )


def save_ratio_table(err: FinalErrors, lay: Layout, names: Sequence[str], ctx: StudyContext) -> None:
    """One row per (schedule, target, seed): errors and the paired log ratio to B6."""
    rows = []
    for s in lay.schedules:
        b6 = err.test_rel[lay.members(s, B6)]
        for g in range(lay.G):
            for i, k in enumerate(lay.members(s, g)):
                rows.append(
                    {
                        "schedule": s,
                        "target": names[g],
                        "seed": i,
                        "test_rel": float(err.test_rel[k]),
                        "tail_rel": float(err.tail_rel[k]),
                        "log_ratio": float(np.log(err.test_rel[k] / b6[i])),
                    }
                )
    ctx.writer.save_table(BellResults.RATIOS, pd.DataFrame(rows))


# --------------------------------------------------------------------------------------------
# Sweeps and Sobol indices of the trained models (primary schedule)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSweeps:
    """Per-member sweep summaries of the primary schedule's members (``(G, S)`` of SweepSummary)."""

    per_member: list[list[Any]]
    target_range: np.ndarray  # (G, n)


def one_variable_sweeps(
    model: StackedMLP,
    final: TrainResult,
    prep: Prepared,
    polys: Sequence[Polynomial],
    names: Sequence[str],
    cfg: BellConfig,
    ctx: StudyContext,
    lay: Layout,
) -> ModelSweeps:
    """Model against target along sweeps of each variable through ``[0, 2]`` from ``n_base`` base
    points, every primary-schedule member; saves the sweeps of B6, the control and the first
    scramble (pooled bands) and the per-target error means."""
    a, n, S = cfg.analysis, cfg.data.order, lay.S
    base, grid_x, inputs = sweep_design(n, n_base=a.n_base, grid_points=a.grid_points, seed=ctx.seed("sweeps"))
    flat = inputs.reshape(-1, n)  # (M * n * G, n)
    primary = lay.schedules[0]
    members = np.concatenate([lay.members(primary, g) for g in range(lay.G)])
    idx = torch.as_tensor(members)
    params = [p.index_select(0, idx.to(p.device)) for p in final.params]
    model_sweeps = predict_original(model, params, flat, prep, [lay.groups[k] for k in members])
    model_sweeps = model_sweeps.reshape(lay.G, S, a.n_base, n, a.grid_points)
    per_member, ranges = [], []
    for g, name in enumerate(names):
        target_vals = polys[g](flat)[:, 0].reshape(a.n_base, n, a.grid_points)  # (M, V, G)
        per_member.append([sweep_summary(target_vals, model_sweeps[g, i]) for i in range(S)])
        target_range = (target_vals.amax(-1) - target_vals.amin(-1)).mean(0)  # (V,)
        ranges.append(target_range.numpy())
        if g <= FIRST_SCRAMBLE:
            pooled = sweep_summary(
                target_vals.repeat(S, 1, 1), model_sweeps[g].reshape(S * a.n_base, n, a.grid_points), band=SWEEP_BAND
            )
            ctx.writer.save_arrays(
                BellResults.SWEEPS.format(target=name),
                grid=grid_x,
                base=base,
                target_first=target_vals[0],
                model_first=model_sweeps[g, :, 0],
                err_mean=pooled.abs_error.mean,
                err_low=pooled.abs_error.low,
                err_high=pooled.abs_error.high,
                target_range=target_range,
            )
    # the scrambles pooled: mean absolute error along each sweep, per scramble (mean over seeds)
    err_scr = torch.stack(
        [
            (model_sweeps[g] - polys_vals).abs().mean(dim=(0, 1))  # (V, G)
            for g, polys_vals in (
                (g, polys[g](flat)[:, 0].reshape(a.n_base, n, a.grid_points)) for g in range(FIRST_SCRAMBLE, lay.G)
            )
        ]
    )  # (J, V, grid)
    ctx.writer.save_arrays(
        BellResults.SWEEPS.format(target="scrambles"),
        grid=grid_x,
        err_mean=err_scr.mean(0),
        err_low=err_scr.amin(0),
        err_high=err_scr.amax(0),
    )
    return ModelSweeps(per_member, np.stack(ranges))


# The domain of each one-variable sweep statistic: errors are positive, a correlation is not.
SWEEP_KINDS: dict[str, EstimateKind] = {"mae": "positive", "rel_error": "positive", "corr": "real"}


def sweep_variables(ms: ModelSweeps, g: int) -> dict[str, SweepVariable]:
    """The legacy per-seed sweep table of target ``g``."""
    out = {}
    per_seed = ms.per_member[g]
    for v in range(ms.target_range.shape[1]):
        seeds = {key: [float(getattr(s, key).mean[v]) for s in per_seed] for key in ("mae", "rel_error", "corr")}
        out[f"x{v + 1}"] = SweepVariable(
            **{f"{key}_est": _est(vals, SWEEP_KINDS[key]) for key, vals in seeds.items()},
            **{f"{key}_per_seed": vals for key, vals in seeds.items()},
            target_range=float(ms.target_range[g, v]),
        )
    return out


def sweep_groups(ms: ModelSweeps, G: int) -> dict[str, dict[str, SweepGroup]]:
    """B6 and the control over seeds; the scrambles pooled over scrambles (seeds averaged within)."""

    def unit_values(g: int, key: str, v: int) -> np.ndarray:
        return np.asarray([float(getattr(s, key).mean[v]) for s in ms.per_member[g]])

    n = ms.target_range.shape[1]
    out: dict[str, dict[str, SweepGroup]] = {}
    for label, gs in (("B6", [B6]), ("control", [CONTROL]), ("scrambles", list(range(FIRST_SCRAMBLE, G)))):
        group = {}
        for v in range(n):
            if len(gs) == 1:
                vals = {key: unit_values(gs[0], key, v) for key in ("mae", "rel_error", "corr")}
            else:
                vals = {
                    key: np.asarray([unit_values(g, key, v).mean() for g in gs]) for key in ("mae", "rel_error", "corr")
                }
            group[f"x{v + 1}"] = SweepGroup(
                **{f"{key}_est": _est(vals[key], SWEEP_KINDS[key]) for key in vals},
                target_range=float(ms.target_range[gs, v].mean()),
            )
        out[label] = group
    return out


def model_sobol(
    model: StackedMLP,
    final: TrainResult,
    prep: Prepared,
    polys: Sequence[Polynomial],
    cfg: BellConfig,
    ctx: StudyContext,
    lay: Layout,
    targets: Sequence[int],
) -> list[Sobol]:
    """First-order and total Sobol indices of each target in ``targets`` and of its
    primary-schedule members, on one Saltelli design over ``[0, 2]^n``."""
    a, n, S = cfg.analysis, cfg.data.order, lay.S
    design = saltelli_design(n, n_samples=a.sobol_samples, low=DOMAIN[0], high=DOMAIN[1], seed=ctx.seed("sobol"))
    primary = lay.schedules[0]
    out = []
    for g in targets:
        members = lay.members(primary, g)
        idx = torch.as_tensor(members)
        params = [p.index_select(0, idx.to(p.device)) for p in final.params]
        values = predict_original(model, params, design.stacked(), prep, [g] * S)  # (S, rows)
        target = sobol_from_evaluations(*design.split(polys[g](design.stacked())[:, 0]), sampler=design.sampler)
        models = [sobol_from_evaluations(*design.split(values[i]), sampler=design.sampler) for i in range(S)]
        first = np.stack([s.first.numpy() for s in models])  # (S, n)
        total = np.stack([s.total.numpy() for s in models])
        out.append(
            Sobol(
                target=target.first.tolist(),
                model=first.mean(0).tolist(),
                model_est=[_est(first[:, v]) for v in range(n)],
                model_per_seed=first.tolist(),
                target_total=target.total.tolist(),
                model_total=total.mean(0).tolist(),
                n_samples=a.sobol_samples,
                n_evaluations=design.n_evaluations,
                sampler=design.sampler,
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# The study
# --------------------------------------------------------------------------------------------


class _Clock:
    """Wall and CPU seconds of each phase. CPU time of a one-thread run estimates its wall time on
    an idle machine when the machine is shared (wall time then includes waiting)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._start = (time.perf_counter(), time.process_time())

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.seconds[f"{name}_s"] = time.perf_counter() - wall
        self.seconds[f"{name}_cpu_s"] = time.process_time() - cpu

    def timing(self, model_steps: int) -> Timing:
        """The phases, the total since creation, and the training throughput."""
        self.seconds["total_s"] = time.perf_counter() - self._start[0]
        self.seconds["total_cpu_s"] = time.process_time() - self._start[1]
        train_s = max(self.seconds["sweep_s"] + self.seconds["final_s"], 1e-9)
        return Timing(**self.seconds, model_steps=model_steps, train_model_steps_per_s=model_steps / train_s)


def target_result(
    g: int,
    poly: Polynomial,
    err: FinalErrors,
    final: TrainResult,
    hv: Halving,
    data: BellDataSets,
    cfg: BellConfig,
    lay: Layout,
    *,
    common_level: float,
    sweep: dict[str, SweepVariable],
    sobol: Sobol,
) -> TargetResult:
    """Target ``g`` under the primary schedule: rate, final errors over seeds, convergence, sweeps, Sobol."""
    primary = lay.schedules[0]
    m = lay.members(primary, g)
    return TargetResult(
        polynomial=poly.to_text(),
        polynomial_latex=poly.to_latex(),
        lr=hv.chosen[(primary, g)],
        lr_at_edge=hv.at_edge(primary, g),
        lr_rates_tried=len(hv.rates),
        epochs=cfg.train.epochs,
        seeds=lay.S,
        steps=int(final.steps),
        test_mse_est=_est(err.test_mse[m], "positive"),
        test_mse_per_seed=err.test_mse[m].tolist(),
        test_rel_mse_est=_est(err.test_rel[m], "positive"),
        test_rel_mse_per_seed=err.test_rel[m].tolist(),
        test_rel_mse_gmean_est=geometric_mean_ratio(err.test_rel[m]),  # errors spread over decades: log scale
        test_rel_mse_tail_est=_est(err.tail_rel[m], "positive"),
        test_rel_mse_tail_per_seed=err.tail_rel[m].tolist(),
        train_mse_est=_est(err.train_mse[m], "positive"),
        train_rel_mse_est=_est(err.train_rel[m], "positive"),
        test_target_mean=float(data.y_test[g].mean()),
        test_target_var=float(data.y_test[g].var(correction=0)),
        diverged_seeds=int(final.diverged[m].sum()),
        convergence=convergence(err, m, common_level),
        sweep=sweep,
        sobol=sobol,
    )


def compare_targets(err: FinalErrors, lay: Layout) -> Comparison:
    """The first scramble / B6 under the primary schedule, seed by seed (the legacy comparison)."""
    primary = lay.schedules[0]
    a, b = lay.members(primary, B6), lay.members(primary, FIRST_SCRAMBLE)
    rel, tail = (err.test_rel[a], err.test_rel[b]), (err.tail_rel[a], err.tail_rel[b])
    return Comparison(
        ratio=RATIO_MEANING,
        rel_mse_ratio_est=geometric_mean_ratio(rel[1], rel[0], paired=True),
        rel_mse_ratio_tail_est=geometric_mean_ratio(tail[1], tail[0], paired=True),
        rel_mse_ratio_unpaired_est=geometric_mean_ratio(rel[1], rel[0]),
        seeds_scrambled_worse=int(np.sum(rel[1] > rel[0])),
        seeds=lay.S,
    )


def control_facts(tg: BellTargets, stats: Sequence[TargetStatistics], ratios: dict[str, PairedRatio]) -> ControlFacts:
    """The control and its validity: variance ratio and Sobol indices moved by its permutation."""
    b6, ctrl = stats[B6], stats[CONTROL]
    sigma = list(tg.control_sigma)
    diffs = [
        abs(getattr(ctrl, key)[sigma[i]] - getattr(b6, key)[i])
        for key in ("sobol_first", "sobol_total")
        for i in range(len(sigma))
    ]
    return ControlFacts(
        name=tg.names[CONTROL],
        seed=tg.control_seed,
        permutation=sigma,
        polynomial=tg.polys[CONTROL].to_text(),
        variance_ratio=ctrl.variance / b6.variance,
        sobol_max_abs_diff=float(max(diffs)),
        ratios=ratios,
    )


def plan(cfg: BellConfig) -> int:
    """The run's whole work in engine steps, for the progress bar: the halving rungs reach epoch
    ``halving_epochs[-1]`` (each rung continues the last), then the final members train every epoch.
    """
    steps_per_epoch = cfg.data.n_train // cfg.train.batch_size  # as SharedInputSource.steps_per_epoch
    return (cfg.train.halving_epochs[-1] + cfg.train.epochs) * steps_per_epoch


def run(cfg: BellConfig, ctx: StudyContext) -> BellResults:
    """Train, evaluate and analyse (see the module docstring for the steps)."""
    clock = _Clock()
    n = cfg.data.order
    tg = build_targets(cfg)
    names, polys = tg.names, tg.polys
    lay = Layout(list(cfg.train.schedules), len(names), cfg.train.seeds)
    data = make_data(
        polys,
        n_train=cfg.data.n_train,
        n_test=cfg.data.n_test,
        seed_train=ctx.seed("data", "train"),
        seed_test=ctx.seed("data", "test"),
    )
    prep = prepare(data, cfg, ctx.device, ctx.seed("data", "train_eval"))
    model = build_model(cfg)

    with clock.phase("baselines"):
        baselines = compute_baselines(data, degree=n)
        stats = target_statistics(polys, names, tg.kinds, data, cfg, ctx.seed("sobol", "targets"))
    with clock.phase("sweep"):  # every (schedule, target, rate) in one ensemble per rung
        hv = tune_learning_rates(model, prep, cfg, ctx, names)
    with clock.phase("final"):
        final = train_final(model, prep, cfg, ctx, names, hv, lay)
    with clock.phase("analysis"):
        err = final_errors(model, final, data, prep, cfg, ctx, lay)
        save_ratio_table(err, lay, names, ctx)
        ratios = {s: [paired_ratio(err, lay, hv, names, s, g) for g in range(lay.G)] for s in lay.schedules}
        scrambles = [
            ScrambleRecord(
                name=names[g],
                seed=int(r.seed),
                permutations=[list(p) for p in r.permutations],
                polynomial=r.scrambled.to_text(),
                polynomial_latex=r.scrambled.to_latex(),
                ratios={s: ratios[s][g] for s in lay.schedules},
            )
            for g, r in enumerate(tg.scrambles, start=FIRST_SCRAMBLE)
        ]
        effects = {s: schedule_effect(err, lay, hv, s, ratios[s][FIRST_SCRAMBLE:]) for s in lay.schedules}
        dims = np.asarray([st.effective_dim for st in stats[FIRST_SCRAMBLE:]])
        inter = np.asarray([st.interaction_share for st in stats[FIRST_SCRAMBLE:]])
        log_var = np.log([st.variance / stats[B6].variance for st in stats[FIRST_SCRAMBLE:]])
        regressions, correlations = {}, {}
        for s in lay.schedules:
            log_r = np.log([r.ratio for r in ratios[s][FIRST_SCRAMBLE:]])
            regressions[s] = effect_regression(log_r, dims, stats[B6].effective_dim, s)
            correlations[s] = {
                "effective_dim": _corr(log_r, dims),
                "interaction_share": _corr(log_r, inter),
                "log_variance_ratio": _corr(log_r, log_var),
            }
        ms = one_variable_sweeps(model, final, prep, polys, names, cfg, ctx, lay)
        legacy = [B6, FIRST_SCRAMBLE]
        sobol = model_sobol(model, final, prep, polys, cfg, ctx, lay, legacy)
        primary = lay.schedules[0]
        common_level = CONVERGENCE_FACTOR * max(_est(err.tail_rel[lay.members(primary, g)]).mean for g in legacy)
        targets = {
            name: target_result(
                g,
                polys[g],
                err,
                final,
                hv,
                data,
                cfg,
                lay,
                common_level=common_level,
                sweep=sweep_variables(ms, g),
                sobol=sobol[j],
            )
            for j, (g, name) in enumerate(zip(legacy, target_names(n), strict=True))
        }
        first = tg.scrambles[0]
    return BellResults(
        targets=targets,
        baselines={name: Baselines.model_validate(baselines[g]) for g, name in enumerate(names)},
        comparison=compare_targets(err, lay),
        scramble=ScrambleFacts(
            **first.to_dict(),
            text=first.to_text(names[B6]),
            violations=[str(v) for v in check_scrambled(first.original, first)],
        ),
        scrambles=scrambles,
        control=control_facts(tg, stats, {s: ratios[s][CONTROL] for s in lay.schedules}),
        schedules=effects,
        confounds=Confounds(targets={st.name: st for st in stats}, regressions=regressions, correlations=correlations),
        sweep_groups=sweep_groups(ms, lay.G),
        **_setup_facts(cfg, model, prep),
        timing=clock.timing(hv.model_steps + final.steps * lay.K),
    )


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation (NaN when either is constant)."""
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _setup_facts(cfg: BellConfig, model: StackedMLP, prep: Prepared) -> dict[str, Any]:
    """The network, data, training protocol and analysis sizes as run: the ``network``, ``data``,
    ``training`` and ``analysis`` fields of :class:`BellResults`."""
    spec, t, a = model.spec, cfg.train, cfg.analysis
    return {
        "network": NetworkFacts(
            linear_layers=spec.n_layers,
            skips=int(sum(spec.skips)),
            params=spec.n_params,
            dims=list(spec.dims),
            reading=cfg.model.reading if cfg.model.hidden_layers is None else "custom",
        ),
        "data": DataFacts(
            n_train=cfg.data.n_train,
            n_test=cfg.data.n_test,
            domain=list(DOMAIN),
            standardize_targets=cfg.data.standardize_targets,
            n_train_eval=int(prep.x_fit.shape[0]),
            steps_per_epoch=cfg.data.n_train // t.batch_size,
        ),
        "training": TrainingFacts(
            optimizer=OPTIMIZER,
            batch_size=t.batch_size,
            epochs=t.epochs,
            schedules=list(t.schedules),
            lr_final_fraction=t.lr_final_fraction,
            lr_grid=LRGrid(t.lr_low, t.lr_high, num=t.lr_points).rates.tolist(),
            halving_epochs=list(t.halving_epochs),
            halving_eta=t.halving_eta,
            tail_epochs=min(t.tail_epochs, t.epochs),
            seeds=t.seeds,
            compile=t.compile,
        ),
        "analysis": SensitivityFacts(n_base=a.n_base, grid_points=a.grid_points, sobol_samples=a.sobol_samples),
    }
