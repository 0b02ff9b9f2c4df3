"""The bell-hierarchy study, stage by stage: a hierarchical polynomial (Bell's B6) against its
scrambled twin.

Challenge 2, part B (``shared/seeds/course/AdvML_Challenge_2024_2.md``; issue 4). The same residual
network learns the sixth complete Bell polynomial ``B6`` -- whose monomials nest
(``x1 -> x1^2, x2 -> ...``: a compositional, hierarchical structure) -- and a *scrambled* ``B6``
whose monomials keep their coefficients and degrees but each has its variables permuted by its own
permutation, which destroys the hierarchy. Everything else is equal: inputs, network, optimiser,
batch size, epochs, initialisations and data orders (paired by seed), learning-rate protocol.

Pipeline (``run``), top to bottom:

1. targets: ``B_n`` and ``scramble(B_n, seed)`` (validated by ``check_scrambled``);
2. data: training and test inputs from ``U[0, 2]^n`` (independent draws, shared by the two
   targets -- common random numbers), targets in float64, optionally standardised with
   training-set statistics;
3. baselines on each test set: mean, linear least squares, degree-``n`` polynomial least squares;
4. learning-rate sweep, both targets in one ensemble (``2 x lr_points`` members), each rate scored
   by its *training* error (mean over the last ``tail_epochs`` epochs of the MSE on a fixed
   training subset), chosen per target by ``lr_sweep(..., Selection("final_loss"))``
   (``training.py``);
5. ``seeds`` fresh seeds per target at the chosen rates, again in one ensemble; train and test
   errors each epoch; the last evaluation is the final generalisation error;
6. one-variable sweeps through ``[0, 2]`` from ``n_base`` base points, and first-order Sobol
   indices of target and model;
7. the typed results (``results.py``) and artifacts for the report (``report.py``).

Shapes: ``S`` seeds per target, ``K = 2 S`` final members (target 0's seeds first), ``n``
variables, ``M`` base points, ``G`` grid points per sweep, ``E`` epochs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from learnability._seeds import derive_seed
from learnability.analysis import (
    Estimate,
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
    make_data,
    sweep_design,
    target_names,
)
from learnability.studies.bell_hierarchy.results import (
    Baselines,
    BellResults,
    Comparison,
    Convergence,
    DataFacts,
    NetworkFacts,
    ScrambleFacts,
    SensitivityFacts,
    Sobol,
    SweepVariable,
    TargetResult,
    Timing,
    TrainingFacts,
)
from learnability.studies.bell_hierarchy.training import (
    FINAL_TAG,
    Prepared,
    TunedRates,
    predict_original,
    prepare,
    tail_mean,
    train_members,
    tune_learning_rates,
)
from learnability.targets import Polynomial, ScrambleResult, bell_polynomial, check_scrambled, scramble

__all__ = ["build_model", "build_targets", "run"]

# Convergence speed: an epoch counts as "converged" once the test error is within this factor
# of the run's own final error (mean of the last tail_epochs epochs).
CONVERGENCE_FACTOR = 2.0
# Band of the aggregated sweep errors over (seed, base point) pairs: the central 90%.
SWEEP_BAND = (0.05, 0.95)
# The optimiser of every member (the spec's).
OPTIMIZER = "adam"
RATIO_MEANING = "scrambled / hierarchical relative test MSE, geometric mean over seeds"


# --------------------------------------------------------------------------------------------
# Targets and model
# --------------------------------------------------------------------------------------------


def build_targets(cfg: BellConfig) -> ScrambleResult:
    """``B_n`` and its scrambled twin; the scrambling seed is ``data.scramble_seed`` or, by default,
    derived from the run's seed (the same value ``ctx.seed("scramble")`` gives).

    Raises:
        RuntimeError: if the scrambling breaks a rule of ``check_scrambled`` (never expected).
    """
    seed = cfg.data.scramble_seed
    if seed is None:
        seed = derive_seed(cfg.seed, "scramble")
    result = scramble(bell_polynomial(cfg.data.order), seed=seed)
    problems = check_scrambled(result.original, result)
    if problems:
        raise RuntimeError("invalid scrambling: " + "; ".join(map(str, problems)))
    return result


def build_model(cfg: BellConfig) -> StackedMLP:
    """The residual MLP of the config (see :class:`BellConfig` for the layer count)."""
    m = cfg.model
    spec = MLPSpec(
        d_in=cfg.data.order, hidden=(m.width,) * (m.hidden_layers + 1), d_out=1, residual=True, activation="relu"
    )
    return StackedMLP(spec)


# --------------------------------------------------------------------------------------------
# Final training and its errors
# --------------------------------------------------------------------------------------------


def _est(values: Sequence[float] | np.ndarray) -> Estimate:
    """Mean over seeds with its 95% t-interval; seeds with a NaN value are left out."""
    return mean_estimate(np.asarray(values, dtype=np.float64), nan_policy="omit")


def train_final(
    model: StackedMLP, prep: Prepared, cfg: BellConfig, ctx: StudyContext, names: Sequence[str], tuned: TunedRates
) -> TrainResult:
    """``seeds`` fresh members per target at its chosen rate, in one ensemble, paired across targets
    (seed ``i`` has the same initialisation, data order and inputs for both). Saves the members table."""
    S = cfg.train.seeds
    init_seeds, data_seeds = ctx.seeds(S, "final", "init"), ctx.seeds(S, "final", "data")
    final = train_members(
        model,
        prep,
        cfg,
        ctx,
        groups=[0] * S + [1] * S,
        lrs=[tuned.chosen[0]] * S + [tuned.chosen[1]] * S,
        init_seeds=init_seeds * 2,
        data_seeds=data_seeds * 2,
        tag=FINAL_TAG,
    )
    rows = tuned.member_rows + [
        {"tag": FINAL_TAG, "member": k, "target": names[k // S], "lr": float(final.lr[k]), "seed": k % S}
        for k in range(2 * S)
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
    model: StackedMLP, final: TrainResult, data: BellDataSets, prep: Prepared, cfg: BellConfig, ctx: StudyContext
) -> FinalErrors:
    """The final generalisation and training errors, recomputed in float64 in original units;
    saves the per-epoch curves of every member."""
    S = cfg.train.seeds
    groups = [0] * S + [1] * S
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
# Sweeps and Sobol indices of the trained models
# --------------------------------------------------------------------------------------------


def one_variable_sweeps(
    model: StackedMLP,
    final: TrainResult,
    prep: Prepared,
    polys: Sequence[Polynomial],
    names: Sequence[str],
    cfg: BellConfig,
    ctx: StudyContext,
) -> list[dict[str, SweepVariable]]:
    """Per target, model against target along sweeps of each variable through ``[0, 2]`` from
    ``n_base`` base points: per-seed summaries (``"x1"`` ... ``"xn"``); saves the sweeps."""
    a, n, S = cfg.analysis, cfg.data.order, cfg.train.seeds
    base, grid_x, inputs = sweep_design(n, n_base=a.n_base, grid_points=a.grid_points, seed=ctx.seed("sweeps"))
    flat = inputs.reshape(-1, n)  # (M * n * G, n)
    groups = [0] * S + [1] * S
    model_sweeps = predict_original(model, final.params, flat, prep, groups).reshape(2 * S, a.n_base, n, a.grid_points)
    out = []
    for g, name in enumerate(names):
        members = np.arange(g * S, (g + 1) * S)
        target_vals = polys[g](flat)[:, 0].reshape(a.n_base, n, a.grid_points)  # (M, V, G)
        per_seed = [sweep_summary(target_vals, model_sweeps[k]) for k in members]
        pooled = sweep_summary(
            target_vals.repeat(S, 1, 1), model_sweeps[members].reshape(S * a.n_base, n, a.grid_points), band=SWEEP_BAND
        )
        target_range = (target_vals.amax(-1) - target_vals.amin(-1)).mean(0)  # (V,)
        ctx.writer.save_arrays(
            BellResults.SWEEPS.format(target=name),
            grid=grid_x,
            base=base,
            target_first=target_vals[0],
            model_first=model_sweeps[members, 0],
            err_mean=pooled.abs_error.mean,
            err_low=pooled.abs_error.low,
            err_high=pooled.abs_error.high,
            target_range=target_range,
        )
        variables = {}
        for v in range(n):
            seeds = {key: [float(getattr(s, key).mean[v]) for s in per_seed] for key in ("mae", "rel_error", "corr")}
            variables[f"x{v + 1}"] = SweepVariable(
                **{f"{key}_est": _est(vals) for key, vals in seeds.items()},
                **{f"{key}_per_seed": vals for key, vals in seeds.items()},
                target_range=float(target_range[v]),
            )
        out.append(variables)
    return out


def sobol_indices(
    model: StackedMLP,
    final: TrainResult,
    prep: Prepared,
    polys: Sequence[Polynomial],
    cfg: BellConfig,
    ctx: StudyContext,
) -> list[Sobol]:
    """First-order and total Sobol indices of each target and of its members, on one Saltelli
    design over ``[0, 2]^n`` (the same inputs for target and models)."""
    a, n, S = cfg.analysis, cfg.data.order, cfg.train.seeds
    design = saltelli_design(n, n_samples=a.sobol_samples, low=DOMAIN[0], high=DOMAIN[1], seed=ctx.seed("sobol"))
    model_values = predict_original(model, final.params, design.stacked(), prep, [0] * S + [1] * S)  # (K, rows)
    out = []
    for g, poly in enumerate(polys):
        target = sobol_from_evaluations(*design.split(poly(design.stacked())[:, 0]), sampler=design.sampler)
        models = [
            sobol_from_evaluations(*design.split(model_values[k]), sampler=design.sampler)
            for k in range(g * S, (g + 1) * S)
        ]
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
    tuned: TunedRates,
    data: BellDataSets,
    cfg: BellConfig,
    *,
    common_level: float,
    sweep: dict[str, SweepVariable],
    sobol: Sobol,
) -> TargetResult:
    """Target ``g``: its tuned rate, final errors over its ``S`` seeds, convergence, sweeps, Sobol."""
    S = cfg.train.seeds
    m = np.arange(g * S, (g + 1) * S)
    sw = tuned.sweeps[g]
    return TargetResult(
        polynomial=poly.to_text(),
        polynomial_latex=poly.to_latex(),
        lr=sw.chosen_lr,
        lr_at_edge=sw.at_edge,
        lr_rates_tried=len(sw.table),
        epochs=cfg.train.epochs,
        seeds=S,
        steps=int(final.steps),
        test_mse_est=_est(err.test_mse[m]),
        test_mse_per_seed=err.test_mse[m].tolist(),
        test_rel_mse_est=_est(err.test_rel[m]),
        test_rel_mse_per_seed=err.test_rel[m].tolist(),
        test_rel_mse_gmean_est=geometric_mean_ratio(err.test_rel[m]),  # errors spread over decades: log scale
        test_rel_mse_tail_est=_est(err.tail_rel[m]),
        test_rel_mse_tail_per_seed=err.tail_rel[m].tolist(),
        train_mse_est=_est(err.train_mse[m]),
        train_rel_mse_est=_est(err.train_rel[m]),
        test_target_mean=float(data.y_test[g].mean()),
        test_target_var=float(data.y_test[g].var(correction=0)),
        diverged_seeds=int(final.diverged[m].sum()),
        convergence=convergence(err, m, common_level),
        sweep=sweep,
        sobol=sobol,
    )


def compare_targets(err: FinalErrors, S: int) -> Comparison:
    """Scrambled (members ``S..2S-1``) / hierarchical (``0..S-1``) errors, seed by seed."""
    rel, tail = (err.test_rel[:S], err.test_rel[S:]), (err.tail_rel[:S], err.tail_rel[S:])
    return Comparison(
        ratio=RATIO_MEANING,
        rel_mse_ratio_est=geometric_mean_ratio(rel[1], rel[0], paired=True),
        rel_mse_ratio_tail_est=geometric_mean_ratio(tail[1], tail[0], paired=True),
        rel_mse_ratio_unpaired_est=geometric_mean_ratio(rel[1], rel[0]),
        seeds_scrambled_worse=int(np.sum(rel[1] > rel[0])),
        seeds=S,
    )


def run(cfg: BellConfig, ctx: StudyContext) -> BellResults:
    """Train, evaluate and analyse (see the module docstring for the steps)."""
    clock = _Clock()
    n, S = cfg.data.order, cfg.train.seeds
    names = target_names(n)
    scr = build_targets(cfg)
    polys = [scr.original, scr.scrambled]
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
    with clock.phase("sweep"):  # both targets in one ensemble, same init and data order per rate
        tuned = tune_learning_rates(model, prep, cfg, ctx, names)
    with clock.phase("final"):
        final = train_final(model, prep, cfg, ctx, names, tuned)
    with clock.phase("analysis"):
        err = final_errors(model, final, data, prep, cfg, ctx)
        sweeps = one_variable_sweeps(model, final, prep, polys, names, cfg, ctx)
        sobol = sobol_indices(model, final, prep, polys, cfg, ctx)
        # common-threshold convergence: when did each target first reach the worse target's final level?
        common_level = CONVERGENCE_FACTOR * max(_est(err.tail_rel[g * S : (g + 1) * S]).mean for g in range(2))
        targets = {
            name: target_result(
                g, polys[g], err, final, tuned, data, cfg, common_level=common_level, sweep=sweeps[g], sobol=sobol[g]
            )
            for g, name in enumerate(names)
        }
        comparison = compare_targets(err, S)
    return BellResults(
        targets=targets,
        baselines={name: Baselines.model_validate(baselines[g]) for g, name in enumerate(names)},
        comparison=comparison,
        scramble=ScrambleFacts(
            **scr.to_dict(), text=scr.to_text(names[0]), violations=[str(v) for v in check_scrambled(scr.original, scr)]
        ),
        **_setup_facts(cfg, model, prep),
        timing=clock.timing(tuned.model_steps + final.steps * 2 * S),
    )


def _setup_facts(cfg: BellConfig, model: StackedMLP, prep: Prepared) -> dict[str, Any]:
    """The network, data, training protocol and analysis sizes as run: the ``network``, ``data``,
    ``training`` and ``analysis`` fields of :class:`BellResults`."""
    spec, t, a = model.spec, cfg.train, cfg.analysis
    return {
        "network": NetworkFacts(
            linear_layers=spec.n_layers, skips=int(sum(spec.skips)), params=spec.n_params, dims=list(spec.dims)
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
            lr_schedule=t.lr_schedule,
            lr_grid=LRGrid(t.lr_low, t.lr_high, num=t.lr_points).rates.tolist(),
            tail_epochs=min(t.tail_epochs, t.epochs),
            compile=t.compile,
        ),
        "analysis": SensitivityFacts(n_base=a.n_base, grid_points=a.grid_points, sobol_samples=a.sobol_samples),
    }
