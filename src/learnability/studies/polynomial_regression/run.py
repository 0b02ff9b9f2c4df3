"""The polynomial-regression study, stage by stage (Tutorial 3, Lab 3).

1. **Degree sweep.** Polynomials of degree 0-15 fitted by least squares with an SVD solver
   (``scipy.linalg.lstsq``; never an explicit inverse — the tutorial's ``torch.inverse(X^T X)`` is
   singular once the degree reaches the number of points, where the minimum-norm interpolant is
   returned instead). Coefficients are the tutorial's monomials in ``x``; the condition number of
   the feature matrix is reported next to them, and the fits are cross-checked against a
   well-conditioned Legendre basis. Train and test MSE vs degree over several seeds.
2. **Regularisation.** More data (training sizes up to 100, the tutorial's slider) and weight
   decay (closed-form ridge ``(X^T X + lambda I)^{-1} X^T t`` via the SVD, the tutorial's formula,
   with ``lambda`` swept and the tutorial's 1e-4 marked), with coefficient magnitudes.
3. **Loss landscapes** of ``f(x) = a x + b`` on the tutorial's 51 x 51 grid for MSE, L1 and the
   ``L_p`` losses up to ``p = 50``, vectorised (checked against the tutorial's double loop), with a
   discrete midpoint-convexity check.
4. **Honest selection.** Degree and ``lambda`` chosen on a validation split only; the test split is
   touched once, for the chosen model.
5. **OLS three ways** (Lab 3): closed form, NumPy gradient descent and torch autograd agree on
   ``N = 1000``, ``P = 100`` uniform features with a bias column (see
   :func:`~learnability.studies.polynomial_regression.parts.ols_three_ways_experiment`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from learnability._threads import single_threaded_blas
from learnability.analysis import Estimate
from learnability.linear import (
    fit_polynomial,
    is_midpoint_convex,
    least_squares,
    loss_landscape,
    midpoint_convexity_gap,
    polynomial_features,
    with_bias,
)
from learnability.studies import StudyContext
from learnability.studies.polynomial_regression.config import (
    LandscapeSection,
    PolynomialRegressionConfig,
    RegularisationSection,
    SweepSection,
)
from learnability.studies.polynomial_regression.exercises import (
    autograd_check,
    linear_in_theta,
    matmul_timing,
    scenario_errors,
    summarise_scenarios,
    torch_fits,
)
from learnability.studies.polynomial_regression.parts import (
    geometric_mean,
    make_split,
    mse,
    ols_three_ways_experiment,
    selection_experiment,
    sin_targets,
)
from learnability.studies.polynomial_regression.results import (
    Decay,
    MoreData,
    OLSThreeWays,
    PolynomialRegressionResults,
)

__all__ = ["GOOD_DEGREE", "GRID_POINTS", "INTERPOLATING_DEGREE", "INTERPOLATION_MSE", "run"]

R = PolynomialRegressionResults
# Points of the fine grid on which fits are compared and drawn.
GRID_POINTS = 200
# A median train MSE below this means the polynomial interpolates (rounding residue of an
# ill-conditioned solve is far above 1e-16 but far below the noise variance 1e-2).
INTERPOLATION_MSE = 1e-12
# The two fits drawn on the first data set (the tutorial's): a good degree, and one that
# interpolates the tutorial's 10 points (capped at max_degree).
GOOD_DEGREE, INTERPOLATING_DEGREE = 3, 9


@dataclass(frozen=True)
class DataSet:
    """One seed's data (all ``(n,)``): a pool whose first points train, test and fresh points."""

    pool_x: np.ndarray
    pool_t: np.ndarray
    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray
    x_eval: np.ndarray
    t_eval: np.ndarray


def draw_data_set(sw: SweepSection, rg: RegularisationSection, seed: int) -> DataSet:
    """The pool (the largest training size), its first ``n_train`` points, test and fresh points."""
    rng = np.random.default_rng(seed)
    pool_x = rng.uniform(0.0, 1.0, max(rg.sizes + [sw.n_train]))
    pool_t = sin_targets(pool_x, sw.noise_sd, rng)
    x_te = rng.uniform(0.0, 1.0, sw.n_test)
    t_te = sin_targets(x_te, sw.noise_sd, rng)
    x_ev = rng.uniform(0.0, 1.0, sw.eval_points)
    t_ev = sin_targets(x_ev, sw.noise_sd, rng)
    n = sw.n_train  # the first n_train points of the pool: the tutorial's set
    return DataSet(pool_x, pool_t, pool_x[:n], pool_t[:n], x_te, t_te, x_ev, t_ev)


def degree_sweep(data: DataSet, s: int, degrees: list[int], grid: np.ndarray) -> tuple[list[dict], float]:
    """Least-squares fits of every degree: one table row each, and the largest Legendre gap."""
    rows, basis_gap = [], 0.0
    x, t = data.x_train, data.t_train
    for d in degrees:
        fit = fit_polynomial(x, t, d)
        rows.append(
            {
                "seed": s,
                "degree": d,
                "train_mse": mse(fit, x, t),
                "test_mse": mse(fit, data.x_test, data.t_test),
                "max_abs_coef": float(np.max(np.abs(fit.coef))),
                "condition_number": float(np.linalg.cond(polynomial_features(x, d))),
            }
        )
        if d < x.size:  # unique least-squares polynomial: any basis must give the same function
            leg = fit_polynomial(x, t, d, basis="legendre", domain=(0.0, 1.0)).predict(grid)
            gap = np.max(np.abs(leg - fit.predict(grid))) / np.max(np.abs(leg))  # relative to the fit's size
            basis_gap = max(basis_gap, float(gap))
    return rows, basis_gap


def regularisation_rows(
    data: DataSet, s: int, rg: RegularisationSection, lambdas: np.ndarray
) -> tuple[list[dict], list[dict]]:
    """More data (every size x degree) and weight decay (every degree x lambda): table rows."""
    more = []
    for n in rg.sizes:
        for d in rg.data_degrees:
            fit = fit_polynomial(data.pool_x[:n], data.pool_t[:n], d)
            more.append(
                {
                    "seed": s,
                    "n": n,
                    "degree": d,
                    "eval_mse": mse(fit, data.x_eval, data.t_eval),
                    "max_abs_coef": float(np.max(np.abs(fit.coef))),
                }
            )
    decay = []
    # The sweep, then the tutorial's lambda as its own row (flagged by position, not by value:
    # the sweep may contain the same lambda, and a row must not be counted twice).
    sweep_lams = [(0.0, False)] + [(float(v), False) for v in lambdas] + [(rg.tutorial_lambda, True)]
    for d in rg.decay_degrees:
        for lam, tutorial in sweep_lams:
            fit = fit_polynomial(data.x_train, data.t_train, d, alpha=lam)
            decay.append(
                {
                    "seed": s,
                    "degree": d,
                    "lambda": lam,
                    "eval_mse": mse(fit, data.x_eval, data.t_eval),
                    "train_mse": mse(fit, data.x_train, data.t_train),
                    "max_abs_coef": float(np.max(np.abs(fit.coef))),
                    "tutorial": tutorial,
                }
            )
    return more, decay


def save_first_seed(data: DataSet, cfg: PolynomialRegressionConfig, grid: np.ndarray, ctx: StudyContext) -> None:
    """The first data set and four fits on it, on the fine grid: the report draws them."""
    rg = cfg.regularisation
    x, t, top = data.x_train, data.t_train, max(rg.decay_degrees)
    fits = {
        name: fit_polynomial(x, t, d, alpha=a)
        for name, d, a in (
            ("deg3", GOOD_DEGREE, 0.0),
            ("deg9", min(INTERPOLATING_DEGREE, cfg.sweep.max_degree), 0.0),
            ("top", top, 0.0),
            ("top_decay", top, rg.tutorial_lambda),
        )
    }
    ctx.writer.save_arrays(
        R.FIRST_SEED,
        x=x,
        t=t,
        x_test=data.x_test,
        t_test=data.t_test,
        grid=grid,
        **{f"pred_{k}": f.predict(grid) for k, f in fits.items()},
        coef_top=fits["top"].coef,
        coef_top_decay=fits["top_decay"].coef,
    )


@dataclass(frozen=True)
class Fits:
    """Stages 1-2 over every seed: the three tables, the Legendre gap and the first data set."""

    sweep: pd.DataFrame
    more: pd.DataFrame
    decay: pd.DataFrame
    basis_gap: float
    first: DataSet


def fit_data_sets(cfg: PolynomialRegressionConfig, degrees: list[int], ctx: StudyContext) -> Fits:
    """Degree sweep, more data and weight decay on one data set per seed; saves the tables."""
    sw, rg = cfg.sweep, cfg.regularisation
    grid = np.linspace(0.0, 1.0, GRID_POINTS)
    lambdas = np.geomspace(rg.min_lambda, rg.max_lambda, rg.num_lambda)
    sweep_rows, more_rows, decay_rows, gaps, first = [], [], [], [], None
    for s, seed in enumerate(ctx.seeds(sw.seeds, "sweep")):
        data = draw_data_set(sw, rg, seed)
        rows, gap = degree_sweep(data, s, degrees, grid)
        more, decay = regularisation_rows(data, s, rg, lambdas)
        sweep_rows += rows
        more_rows += more
        decay_rows += decay
        gaps.append(gap)
        if s == 0:
            first = data
            for r in rows:
                ctx.log(
                    "degree_sweep", step=r["degree"], value=[r["train_mse"], r["test_mse"]], split=["train", "test"]
                )
            save_first_seed(data, cfg, grid, ctx)
        ctx.progress.update(1)
    fits = Fits(pd.DataFrame(sweep_rows), pd.DataFrame(more_rows), pd.DataFrame(decay_rows), max(gaps), first)
    for name, df in (
        (R.DEGREE_SWEEP_TABLE, fits.sweep),
        (R.MORE_DATA_TABLE, fits.more),
        (R.WEIGHT_DECAY_TABLE, fits.decay),
    ):
        ctx.writer.save_table(name, df)
    return fits


@dataclass(frozen=True)
class Landscapes:
    """Stage 3: one row per loss, the loop-vs-vectorised gap, least squares' ``(a, b)``."""

    table: pd.DataFrame
    loop_gap: float
    ols_line: tuple[float, float]


def landscapes(x0: np.ndarray, t0: np.ndarray, ls: LandscapeSection, ctx: StudyContext) -> Landscapes:
    """Loss landscapes of ``a x + b`` on the first training set, with the midpoint-convexity check."""
    a_grid = np.linspace(ls.low, ls.high, ls.resolution)
    b_grid = np.linspace(ls.low, ls.high, ls.resolution)
    # The tutorial's double loop (sum of squared residuals), as the reference for the vectorised code.
    loop = np.empty((ls.resolution, ls.resolution))
    for i, a in enumerate(a_grid):
        for j, b in enumerate(b_grid):
            r = t0 - (a * x0 + b)
            loop[i, j] = r @ r
    mse_map = loss_landscape(x0, t0, a_grid, b_grid, loss="mse")  # (A, B)
    ols_a, ols_b = least_squares(with_bias(x0[:, None]), t0)
    rows, maps = [], {}
    for loss, p in [("mse", 2.0), ("l1", 1.0)] + [("lp", p) for p in ls.p_values]:
        L = mse_map if loss == "mse" else loss_landscape(x0, t0, a_grid, b_grid, loss=loss, p=p)
        maps[loss, p] = L
        i, j = np.unravel_index(int(np.argmin(L)), L.shape)
        rows.append(
            {
                "loss": loss,
                "p": p,
                "min": float(L.min()),
                "argmin_a": float(a_grid[i]),
                "argmin_b": float(b_grid[j]),
                "gap": midpoint_convexity_gap(L, coords=[a_grid, b_grid]),
                "convex": is_midpoint_convex(L, coords=[a_grid, b_grid]),
            }
        )
    table = pd.DataFrame(rows)
    ctx.writer.save_table(R.LANDSCAPES_TABLE, table)
    lp_max = maps["lp", max(ls.p_values)]
    ctx.writer.save_arrays(R.LANDSCAPE_MAPS, a=a_grid, b=b_grid, mse=mse_map, l1=maps["l1", 1.0], lp_max=lp_max)
    ctx.progress.update(1)
    return Landscapes(table, float(np.max(np.abs(mse_map * x0.size - loop))), (float(ols_a), float(ols_b)))


def select_models(cfg: PolynomialRegressionConfig, degrees: list[int], ctx: StudyContext) -> pd.DataFrame:
    """Stage 4: per split, degree and lambda chosen on validation, the test split read once."""
    sel = cfg.selection
    lambdas = np.concatenate([[0.0], np.geomspace(sel.min_lambda, sel.max_lambda, sel.num_lambda)])
    rows = []
    for s, seed in enumerate(ctx.seeds(sel.seeds, "selection")):
        split = make_split(sel, cfg.sweep.noise_sd, seed)
        rows.append({"seed": s, **selection_experiment(split, degrees, lambdas)})
        ctx.progress.update(1)
    chosen = pd.DataFrame(rows)
    ctx.writer.save_table(R.SELECTION_TABLE, chosen)
    return chosen


def summarise(
    cfg: PolynomialRegressionConfig,
    fits: Fits,
    land: Landscapes,
    chosen: pd.DataFrame,
    ols: OLSThreeWays,
    degrees: list[int],
) -> PolynomialRegressionResults:
    """Geometric means with CIs over data sets (MSEs span decades), medians, and the verdicts' inputs."""
    sw, rg = cfg.sweep, cfg.regularisation
    sweep, more, decay = fits.sweep, fits.more, fits.decay
    by_degree = sweep.groupby("degree")

    def per_degree(col: str) -> list[Estimate]:
        return [geometric_mean(sweep.loc[sweep["degree"] == d, col].to_numpy()) for d in degrees]

    def cell(df: pd.DataFrame, col: str, **where: object) -> Estimate:
        """The geometric mean of ``col`` over the rows matching ``where``."""
        m = np.ones(len(df), dtype=bool)
        for k, v in where.items():
            m &= (df[k] == v).to_numpy()
        return geometric_mean(df.loc[m, col].to_numpy())

    test_by_deg = per_degree("test_mse")
    interp = by_degree["train_mse"].median()
    small, large = min(rg.sizes), max(rg.sizes)
    top = max(rg.decay_degrees)
    no_decay = {"degree": top, "tutorial": False, "lambda": 0.0}
    return PolynomialRegressionResults(
        noise_variance=sw.noise_sd**2,
        n_train=sw.n_train,
        train_mse_by_degree=per_degree("train_mse"),
        test_mse_by_degree=test_by_deg,
        best_test_degree=int(np.argmin([e.mean for e in test_by_deg])),
        interpolation_degree=next((int(d) for d in degrees if interp[d] <= INTERPOLATION_MSE), None),
        max_abs_coef_by_degree=[float(by_degree["max_abs_coef"].median()[d]) for d in degrees],
        condition_number_by_degree=[float(by_degree["condition_number"].median()[d]) for d in degrees],
        legendre_vs_monomial_max_gap=fits.basis_gap,
        # What the conditioning allows: relative error ~ eps * cond for a backward-stable solve.
        legendre_gap_bound=float(
            np.finfo(float).eps * sweep.loc[sweep["degree"] < sw.n_train, "condition_number"].max()
        ),
        more_data=[
            MoreData(
                degree=d,
                n_small=small,
                n_large=large,
                eval_mse_small=cell(more, "eval_mse", n=small, degree=d),
                eval_mse_large=cell(more, "eval_mse", n=large, degree=d),
                max_abs_coef_small=cell(more, "max_abs_coef", n=small, degree=d),
                max_abs_coef_large=cell(more, "max_abs_coef", n=large, degree=d),
            )
            for d in rg.data_degrees
        ],
        decay_degree=top,
        tutorial_lambda=rg.tutorial_lambda,
        decay_none=Decay(
            eval_mse=cell(decay, "eval_mse", **no_decay), max_abs_coef=cell(decay, "max_abs_coef", **no_decay)
        ),
        decay_tutorial=Decay(
            eval_mse=cell(decay, "eval_mse", degree=top, tutorial=True),
            max_abs_coef=cell(decay, "max_abs_coef", degree=top, tutorial=True),
        ),
        landscape_loop_vs_vectorised=land.loop_gap,
        landscape_all_convex=bool(land.table["convex"].all()),
        landscape_max_gap=float(land.table["gap"].max()),
        ols_line=land.ols_line,
        selection_degrees=chosen["degree"].tolist(),
        selection_lambdas=chosen["lambda"].tolist(),
        selection_val_mse=geometric_mean(chosen["val_mse"].to_numpy()),
        selection_test_mse=geometric_mean(chosen["test_mse"].to_numpy()),
        selection_test_over_val=geometric_mean((chosen["test_mse"] / chosen["val_mse"]).to_numpy()),
        ols=ols,
    )


@single_threaded_blas
def run(cfg: PolynomialRegressionConfig, ctx: StudyContext) -> PolynomialRegressionResults:
    """Degree sweep, regularisation, landscapes, selection and OLS three ways."""
    ctx.progress.add_total(cfg.sweep.seeds + cfg.selection.seeds + 3)
    degrees = list(range(cfg.sweep.max_degree + 1))
    fits = fit_data_sets(cfg, degrees, ctx)
    land = landscapes(fits.first.x_train, fits.first.t_train, cfg.landscape, ctx)
    chosen = select_models(cfg, degrees, ctx)
    ols = ols_three_ways_experiment(cfg.ols, ctx.seed("ols"))
    ctx.progress.update(1)
    res = summarise(cfg, fits, land, chosen, ols, degrees)
    return res.model_copy(update=exercises(cfg, fits.first, ctx))


def exercises(cfg: PolynomialRegressionConfig, first: DataSet, ctx: StudyContext) -> dict[str, Any]:
    """Lab 3's autograd check and matmul timing, Tutorial 3's scenarios, f1/f2/f3 and torch fits."""
    ex = cfg.exercises
    draws = [scenario_errors(ctx.seed("scenarios", s), ex.scenario_test) for s in range(ex.scenario_seeds)]
    rows = [{"draw": i, "scenario": k, **v} for i, d in enumerate(draws) for k, v in d.items()]
    ctx.writer.save_table(PolynomialRegressionResults.SCENARIOS_TABLE, pd.DataFrame(rows))
    return {
        "autograd": autograd_check(),
        "matmul": matmul_timing(ex.matmul_size, ex.matmul_repeats, seed=ctx.seed("matmul")),
        "scenarios": summarise_scenarios(draws),
        "linear_in_theta": linear_in_theta(first.x_train, first.t_train, seed=ctx.seed("linear-in-theta")),
        "torch_fits": torch_fits(first.x_train, first.t_train, cfg.sweep.max_degree),
    }
