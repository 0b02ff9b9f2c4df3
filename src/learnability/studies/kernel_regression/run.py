"""The kernel-regression study, stage by stage: exercise 1 (line fits on linear data), the Gram
matrix at the lab's sigma, exercise 2 (kernel ridge with CV on periodic data), the summary.

See ``linear.py`` and ``periodic.py`` for the two exercises of Lab 2. Several seeds (data draw,
and for exercise 2 the split and the folds) give 95% CIs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from learnability._threads import single_threaded_blas
from learnability.analysis import geometric_mean_ratio, mean_estimate
from learnability.kernels import rbf_kernel
from learnability.studies import StudyContext
from learnability.studies.kernel_regression.config import KernelRegressionConfig, PeriodicSection
from learnability.studies.kernel_regression.dual import primal_dual
from learnability.studies.kernel_regression.linear import (
    FITS,
    fit_line,
    linear_data,
    linear_experiment,
    no_intercept_slope_limit,
)
from learnability.studies.kernel_regression.periodic import PeriodicFit, krr_fit_predict, periodic_experiment
from learnability.studies.kernel_regression.results import KernelRegressionResults

__all__ = ["run"]

# Points of the smooth x grid on which the first seed's kernel ridge fit is drawn.
FINE_POINTS = 400


def exercise_1(cfg: KernelRegressionConfig, ctx: StudyContext) -> pd.DataFrame:
    """The three line fits on ``cfg.seeds`` data sets (the table, one row per seed, saved), and the
    data and ridge path of the first data set (saved for the figures)."""
    lin = cfg.linear
    seeds = ctx.seeds(cfg.seeds, "linear")
    rows = []
    for s, seed in enumerate(seeds):
        rows.append({"seed": s, **linear_experiment(lin, np.random.default_rng(seed))})
        ctx.progress.update(1)
    table = pd.DataFrame(rows)
    ctx.writer.save_table(KernelRegressionResults.LINEAR_TABLE, table)
    # Data and ridge path of the first data set, for the figures.
    x0, y0 = linear_data(lin, np.random.default_rng(seeds[0]), lin.n)  # (n,)
    path_alphas = np.geomspace(lin.path_min_alpha, lin.path_max_alpha, lin.path_num)  # (P,)
    path = np.array([fit_line(x0, y0, float(a)) for a in path_alphas])  # (P, 2)
    ctx.writer.save_arrays(
        KernelRegressionResults.LINEAR_DATA,
        x=x0,
        y=y0,
        path_alphas=path_alphas,
        path_slope=path[:, 0],
        path_intercept=path[:, 1],
        s_xx=np.sum((x0 - x0.mean()) ** 2),  # the scale of alpha at which ridge shrinks the slope
    )
    return table


def gram_matrix(per: PeriodicSection) -> tuple[np.ndarray, np.ndarray]:
    """The Gaussian Gram matrix ``(n, n)`` at the lab's sigma on the periodic grid, and its
    eigenvalues ``(n,)`` in decreasing order."""
    x_grid = np.linspace(per.x_low, per.x_high, per.n)  # the x of every noise draw
    K = rbf_kernel(x_grid[:, None], sigma=per.gram_sigma)
    return K, np.linalg.eigvalsh(K)[::-1]


def exercise_2(cfg: KernelRegressionConfig, ctx: StudyContext) -> tuple[pd.DataFrame, PeriodicFit]:
    """Kernel ridge with (sigma, alpha) by CV on ``cfg.seeds`` noise draws and splits.

    Returns:
        The table (one row per seed, saved) and the first seed's fit (for the figures).
    """
    data_seeds = ctx.seeds(cfg.seeds, "periodic-data")
    split_seeds = ctx.seeds(cfg.seeds, "split")
    fold_seeds = ctx.seeds(cfg.seeds, "folds")
    rows, fits = [], []
    for s in range(cfg.seeds):
        fit = periodic_experiment(
            cfg.periodic, data_seed=data_seeds[s], split_seed=split_seeds[s], cv_seed=fold_seeds[s]
        )
        rows.append({"seed": s, **fit.row()})
        fits.append(fit)
        ctx.log(
            "periodic_test_mse",
            step=s,
            value=[fit.test_mse_krr, fit.test_mse_linear],
            model=["kernel ridge", "linear"],
        )
        ctx.progress.update(1)
    table = pd.DataFrame(rows)
    ctx.writer.save_table(KernelRegressionResults.PERIODIC_TABLE, table)
    return table, fits[0]


def save_first_seed(
    per: PeriodicSection, first: PeriodicFit, K: np.ndarray, eig: np.ndarray, ctx: StudyContext
) -> None:
    """The first seed's data, CV grid and fitted curve, and the Gram matrix, for the figures."""
    x_fine = np.linspace(per.x_low, per.x_high, FINE_POINTS)
    tr = first.train
    pred_fine, _ = krr_fit_predict(first.x[tr], first.y[tr], x_fine, first.sigma, first.alpha)
    ctx.writer.save_arrays(
        KernelRegressionResults.PERIODIC_FIRST,
        x=first.x,
        y=first.y,
        train=first.train,
        test=first.test,
        cv_scores=first.cv.scores,
        sigmas=first.cv.sigmas,
        alphas=first.cv.alphas,
        x_fine=x_fine,
        krr_fine=pred_fine,
        gram=K,
        gram_eigenvalues=eig,
    )


def summarise(
    cfg: KernelRegressionConfig, lin_table: pd.DataFrame, per_table: pd.DataFrame, eig: np.ndarray
) -> KernelRegressionResults:
    """The results: CIs over seeds of both tables, the Gram spectrum, the CV counts."""
    lin, per = cfg.linear, cfg.periodic
    estimates: dict[str, Any] = {}
    for name in FITS:
        for q in ("slope", "intercept", "train_mse", "test_mse"):
            if name == "no_intercept" and q == "intercept":
                continue  # fixed at 0
            kind = "positive" if q.endswith("mse") else "real"  # an MSE is > 0; slopes, intercepts any sign
            estimates[f"{name}_{q}"] = mean_estimate(lin_table[f"{name}_{q}"].to_numpy(), kind=kind)
    for q in ("test_mse_krr", "test_mse_krr_lab_sigma", "test_mse_linear", "cv_mse"):
        estimates[q] = mean_estimate(per_table[q].to_numpy(), kind="positive")
    return KernelRegressionResults(
        seeds=cfg.seeds,
        true_slope=lin.slope,
        true_intercept=lin.intercept,
        no_intercept_slope_limit=no_intercept_slope_limit(lin),
        ridge_alpha=lin.ridge_alpha,
        ridge_minus_ols_slope_max=float(np.max(np.abs(lin_table["ridge_slope"] - lin_table["with_intercept_slope"]))),
        gram_sigma=per.gram_sigma,
        gram_min_eigenvalue=float(eig[-1]),
        gram_max_eigenvalue=float(eig[0]),
        # Eigenvalues below n eps lambda_max are rounding noise (numpy's matrix_rank rule).
        gram_numerical_rank=int(np.sum(eig > per.n * np.finfo(float).eps * eig[0])),
        alpha0_singular_fits=int(per_table["n_singular"].sum()),
        alpha0_fits=int(per_table["n_zero_alpha_fits"].sum()),
        cv_fits=int(per_table["n_fits"].sum()),
        cv_alpha_positive_fraction=float(np.mean(per_table["alpha"] > 0)),
        chosen_sigma=per_table["sigma"].tolist(),
        chosen_alpha=per_table["alpha"].tolist(),
        noise_variance=per.noise_variance,
        krr_beats_linear_fraction=float(np.mean(per_table["test_mse_krr"] < per_table["test_mse_linear"])),
        # A ratio of errors: the geometric mean of the per-seed ratios, its interval on the log scale.
        linear_over_krr_test_mse=geometric_mean_ratio(
            per_table["test_mse_linear"], per_table["test_mse_krr"], paired=True
        ),
        **estimates,
    )


@single_threaded_blas
def run(cfg: KernelRegressionConfig, ctx: StudyContext) -> KernelRegressionResults:
    """Exercise 1 and exercise 2 over ``cfg.seeds`` data sets."""
    ctx.progress.add_total(2 * cfg.seeds)
    lin_table = exercise_1(cfg, ctx)
    K, eig = gram_matrix(cfg.periodic)
    per_table, first = exercise_2(cfg, ctx)
    save_first_seed(cfg.periodic, first, K, eig, ctx)
    dual = primal_dual(cfg.linear, np.random.default_rng(ctx.seed("primal-dual")))
    return summarise(cfg, lin_table, per_table, eig).model_copy(update={"primal_dual": dual})
