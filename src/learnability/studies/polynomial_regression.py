"""Polynomial regression, regularisation and loss landscapes (Tutorial 3) and OLS three ways (Lab 3).

Tutorial 3's workspace: ``x ~ U[0, 1]``, ``t = sin(2 pi x) + 0.1 eps``, 10 training points.

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
   ``N = 1000``, ``P = 100`` uniform features with a bias column. Gradient descent runs on centred
   features (an exact reparametrisation: ``b = mean(y) - mean(x) . w``), because the raw design
   is badly conditioned and plain GD would need ~1e5 steps; the study reports both condition
   numbers and the raw design's error after the same number of steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from pydantic import Field

from learnability.config import ConfigSection, StudyConfig
from learnability.linear import (
    fit_polynomial,
    hessian_lambda_max,
    is_midpoint_convex,
    least_squares,
    loss_landscape,
    midpoint_convexity_gap,
    ols_autograd,
    ols_closed_form,
    ols_gradient_descent,
    polynomial_features,
    with_bias,
)
from learnability.report import (
    Bar,
    Chart,
    Figure,
    Heading,
    Heatmap,
    Line,
    Panel,
    Report,
    Table,
    Text,
    fmt,
)
from learnability.runs import Run
from learnability.studies import Study, StudyContext, register
from learnability.studies._kernel_common import (
    estimate,
    fmt_est,
    single_threaded_blas,
    spread,
)

__all__ = [
    "PolynomialRegressionConfig",
    "Split",
    "make_split",
    "ols_three_ways_experiment",
    "select_on_validation",
    "selection_experiment",
]

# MSEs below this are rounding noise for targets of size ~1 (interpolation): they are averaged
# in log space and drawn at this floor.
MSE_FLOOR = 1e-16
# A median train MSE below this means the polynomial interpolates (rounding residue of an
# ill-conditioned solve is far above 1e-16 but far below the noise variance 1e-2).
INTERPOLATION_MSE = 1e-12
# The three OLS solutions "agree" below this max weight difference (normal equations of a
# kappa ~ 1e4 Hessian lose ~4 of 16 digits; GD converges to ~1e-15).
AGREE_TOL = 1e-8
# Fits are drawn clipped to [-PLOT_CLIP, PLOT_CLIP] (interpolants oscillate far beyond the data).
PLOT_CLIP = 3.0
# Points of the fine grid on which fits are compared and drawn.
GRID_POINTS = 200


def _sin_targets(x: np.ndarray, noise_sd: float, rng: np.random.Generator) -> np.ndarray:
    """Tutorial 3's law: ``t = sin(2 pi x) + noise_sd * eps``."""
    return np.sin(2.0 * np.pi * x) + noise_sd * rng.standard_normal(x.shape[0])


class SweepSection(ConfigSection):
    n_train: int = Field(10, ge=2, description="training points (Tutorial 3: 10)")
    n_test: int = Field(10, ge=1, description="test points (Tutorial 3: 10 'magically appearing')")
    max_degree: int = Field(15, ge=1, description="degrees 0..max_degree (Tutorial 3's sliders: 0-15)")
    noise_sd: float = Field(0.1, ge=0, description="t = sin(2 pi x) + noise_sd eps (Tutorial 3: 0.1)")
    seeds: int = Field(20, ge=2, description="independent data sets for the CIs")
    eval_points: int = Field(1000, ge=1, description="fresh points for the regularisation curves")


class RegularisationSection(ConfigSection):
    sizes: list[int] = Field(
        default_factory=lambda: [10, 20, 40, 75, 100],
        description="training sizes (Tutorial 3's slider: 1-100, default 75)",
    )
    data_degrees: list[int] = Field(
        default_factory=lambda: [2, 6, 13], description="degrees for 'more data' (Tutorial 3's sliders)"
    )
    decay_degrees: list[int] = Field(
        default_factory=lambda: [2, 6, 15], description="degrees for weight decay (Tutorial 3's sliders)"
    )
    tutorial_lambda: float = Field(1e-4, gt=0, description="the tutorial's lambda")
    min_lambda: float = Field(1e-12, gt=0, description="smallest lambda of the sweep")
    max_lambda: float = Field(1e1, gt=0, description="largest lambda of the sweep")
    num_lambda: int = Field(27, ge=2, description="log-spaced lambdas (2 per decade)")


class LandscapeSection(ConfigSection):
    resolution: int = Field(51, ge=3, description="grid points per axis (Tutorial 3: 51)")
    low: float = Field(-5.0, description="a and b range from low (Tutorial 3: linspace(-5, 5, 51))")
    high: float = Field(5.0, description="... to high")
    p_values: list[float] = Field(
        default_factory=lambda: [1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0],
        description="exponents of the L_p landscapes (Tutorial 3's slider: 1-50)",
    )


class SelectionSection(ConfigSection):
    n_train: int = Field(10, ge=2, description="training points (as in the tutorial)")
    n_val: int = Field(10, ge=1, description="validation points: degree and lambda are chosen here")
    n_test: int = Field(100, ge=1, description="test points: touched once, for the chosen model")
    min_lambda: float = Field(1e-10, gt=0, description="smallest positive lambda (lambda = 0 also tried)")
    max_lambda: float = Field(1.0, gt=0, description="largest lambda")
    num_lambda: int = Field(11, ge=1, description="log-spaced positive lambdas (1 per decade)")
    seeds: int = Field(20, ge=2, description="independent splits for the CIs")


class OLSSection(ConfigSection):
    n: int = Field(1000, ge=2, description="data points (Lab 3: N = 1000)")
    p: int = Field(100, ge=1, description="features (Lab 3: P = 100), plus a bias column")
    steps: int = Field(300, ge=1, description="GD / autograd steps on the centred design (kappa ~ 4)")


class PolynomialRegressionConfig(StudyConfig):
    """Polynomial fits of noisy sin(2 pi x), regularisation, loss landscapes, OLS three ways.

    Command:  learnability run polynomial-regression  (smoke: learnability run polynomial-regression --smoke)
    Runtime:  compute 3.3 s wall (6.9 s at load ~8); 25 s in all with imports and figures,
              15 s CPU (shared 2-core machine, load ~5); smoke: compute 0.6 s
    Expected: train MSE at rounding level from degree 9 (10 points); test MSE lowest at degree 3
              (0.035, noise variance 0.01), ~1e4 at degree 15; 100 points fix degree 13
              (MSE 9e4 -> 0.015); lambda = 1e-4 at degree 15: MSE 2e5 -> 0.15, max|theta| 4e5 -> 12;
              every landscape convex (gap <= 4e-15); validation-selected models: test MSE
              0.024 [0.018, 0.032]; OLS three ways agree to 2.4e-12.
    """

    sweep: SweepSection = Field(default_factory=SweepSection)
    regularisation: RegularisationSection = Field(default_factory=RegularisationSection)
    landscape: LandscapeSection = Field(default_factory=LandscapeSection)
    selection: SelectionSection = Field(default_factory=SelectionSection)
    ols: OLSSection = Field(default_factory=OLSSection)


# --------------------------------------------------------------------------- helpers


def _mse(fit: object, x: np.ndarray, t: np.ndarray) -> float:
    return float(np.mean((fit.predict(x) - t) ** 2))  # type: ignore[attr-defined]


def _log_estimate(values: np.ndarray) -> dict[str, float]:
    """Geometric mean of positive values with a 95% CI (a t-interval on log10), as an estimate dict."""
    e = estimate(np.log10(np.maximum(values, MSE_FLOOR)))
    return {"mean": 10 ** e["mean"], "low": 10 ** e["low"], "high": 10 ** e["high"], "n": e["n"]}


# --------------------------------------------------------------------------- selection


@dataclass(frozen=True)
class Split:
    """A train / validation / test split of Tutorial 3's data (all arrays ``(n,)``)."""

    x_train: np.ndarray
    t_train: np.ndarray
    x_val: np.ndarray
    t_val: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray


def make_split(cfg: SelectionSection, noise_sd: float, seed: int) -> Split:
    """Draw the three splits independently from ``x ~ U[0, 1]``, ``t = sin(2 pi x) + noise``."""
    rng = np.random.default_rng(seed)
    parts = []
    for n in (cfg.n_train, cfg.n_val, cfg.n_test):
        x = rng.uniform(0.0, 1.0, n)
        parts += [x, _sin_targets(x, noise_sd, rng)]
    return Split(*parts)


def select_on_validation(
    x_train: np.ndarray,
    t_train: np.ndarray,
    x_val: np.ndarray,
    t_val: np.ndarray,
    degrees: list[int],
    lambdas: np.ndarray,
) -> tuple[int, float, float, np.ndarray]:
    """Choose ``(degree, lambda)`` by validation MSE; fits on the training split only.

    It never receives the test split. Ties go to the first in (degree, lambda) order, i.e. the
    simplest degree and the smallest lambda.

    Returns:
        ``(degree, lambda, validation MSE, scores)`` with ``scores: (len(degrees), len(lambdas))``.
    """
    scores = np.empty((len(degrees), len(lambdas)))
    for i, d in enumerate(degrees):
        for j, lam in enumerate(lambdas):
            scores[i, j] = _mse(fit_polynomial(x_train, t_train, d, alpha=float(lam)), x_val, t_val)
    i, j = np.unravel_index(int(np.argmin(scores)), scores.shape)
    return int(degrees[i]), float(lambdas[j]), float(scores[i, j]), scores


def selection_experiment(split: Split, degrees: list[int], lambdas: np.ndarray) -> dict:
    """Select on validation, then evaluate the chosen model on the test split, once."""
    degree, lam, val_mse, _ = select_on_validation(
        split.x_train, split.t_train, split.x_val, split.t_val, degrees, lambdas
    )
    chosen = fit_polynomial(split.x_train, split.t_train, degree, alpha=lam)
    return {
        "degree": degree,
        "lambda": lam,
        "val_mse": val_mse,
        "test_mse": _mse(chosen, split.x_test, split.t_test),
    }  # the only read of t_test


# --------------------------------------------------------------------------- OLS three ways


def ols_three_ways_experiment(cfg: OLSSection, seed: int) -> dict:
    """Lab 3's data (``X ~ U[0,1]^(N x P)``, ``y = X M + N(0, 1)``) solved three ways.

    The closed form solves the normal equations of the raw design ``[X, 1]`` (the lab's formula).
    GD and autograd run on the centred features ``X - mean(X)`` against ``y - mean(y)`` (no bias
    column needed: it decouples) from 0 with ``lr = 1 / lambda_max``; the bias is recovered as
    ``mean(y) - mean(X) . w``. Both parametrisations have the same minimiser.
    """
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(cfg.n, cfg.p, generator=g, dtype=torch.float64)
    M = torch.rand(cfg.p, generator=g, dtype=torch.float64)
    y = (X @ M + torch.randn(cfg.n, generator=g, dtype=torch.float64)).numpy()
    X = X.numpy()
    design = with_bias(X)  # (N, P + 1), bias column on the right as in the lab
    closed = ols_closed_form(design, y)
    svd = least_squares(design, y)  # SVD reference
    x_mean, y_mean = X.mean(axis=0), y.mean()
    Xc = X - x_mean

    def with_bias_term(w: np.ndarray) -> np.ndarray:
        return np.concatenate([w, [y_mean - x_mean @ w]])

    gd = with_bias_term(ols_gradient_descent(Xc, y - y_mean, n_steps=cfg.steps))
    ag = with_bias_term(ols_autograd(Xc, y - y_mean, n_steps=cfg.steps))
    raw_gd = ols_gradient_descent(design, y, n_steps=cfg.steps)  # same budget on the raw design

    def kappa(A: np.ndarray) -> float:
        s = np.linalg.svd(A, compute_uv=False)
        return float((s[0] / s[-1]) ** 2)  # condition number of A^T A (the GD Hessian)

    k_raw, k_c = kappa(design), kappa(Xc)
    tol = float(np.finfo(float).eps)
    # GD at lr = 1 / lambda_max contracts the slowest direction by 1 - 1/kappa per step.
    steps_needed = {name: float(np.log(tol) / np.log1p(-1.0 / k)) for name, k in (("raw", k_raw), ("centred", k_c))}
    sols = {"closed form": closed, "gradient descent": gd, "autograd": ag}
    diffs = {
        f"{a} vs {b}": float(np.max(np.abs(sols[a] - sols[b]))) for i, a in enumerate(sols) for b in list(sols)[i + 1 :]
    }
    return {
        "max_abs_difference": max(diffs.values()),
        "pairwise": diffs,
        "closed_vs_svd": float(np.max(np.abs(closed - svd))),
        "kappa_raw": k_raw,
        "kappa_centred": k_c,
        "steps_needed": steps_needed,
        "raw_gd_max_error": float(np.max(np.abs(raw_gd - closed))),
        "lambda_max_centred": hessian_lambda_max(Xc),
        "train_mse": float(np.mean((design @ closed - y) ** 2)),
        "weights": closed,
        "bias": float(closed[-1]),
    }


# --------------------------------------------------------------------------- run


@single_threaded_blas
def run(cfg: PolynomialRegressionConfig, ctx: StudyContext) -> dict:
    """Degree sweep, regularisation, landscapes, selection and OLS three ways; returns the summary."""
    sw, rg, ls, sel = cfg.sweep, cfg.regularisation, cfg.landscape, cfg.selection
    seeds = ctx.seeds(sw.seeds, "sweep")
    ctx.progress.add_total(sw.seeds + sel.seeds + 3)
    degrees = list(range(sw.max_degree + 1))
    grid = np.linspace(0.0, 1.0, GRID_POINTS)
    lambdas = np.geomspace(rg.min_lambda, rg.max_lambda, rg.num_lambda)

    # ---- 1-2. degree sweep, more data, weight decay (one data set per seed)
    sweep_rows, data_rows, decay_rows = [], [], []
    basis_gap = 0.0
    for s, seed in enumerate(seeds):
        rng = np.random.default_rng(seed)
        pool_x = rng.uniform(0.0, 1.0, max(rg.sizes + [sw.n_train]))
        pool_t = _sin_targets(pool_x, sw.noise_sd, rng)
        x_tr, t_tr = pool_x[: sw.n_train], pool_t[: sw.n_train]  # the first n_train points: the tutorial's set
        x_te = rng.uniform(0.0, 1.0, sw.n_test)
        t_te = _sin_targets(x_te, sw.noise_sd, rng)
        x_ev = rng.uniform(0.0, 1.0, sw.eval_points)
        t_ev = _sin_targets(x_ev, sw.noise_sd, rng)
        for d in degrees:
            fit = fit_polynomial(x_tr, t_tr, d)
            row = {
                "seed": s,
                "degree": d,
                "train_mse": _mse(fit, x_tr, t_tr),
                "test_mse": _mse(fit, x_te, t_te),
                "max_abs_coef": float(np.max(np.abs(fit.coef))),
                "condition_number": float(np.linalg.cond(polynomial_features(x_tr, d))),
            }
            if d < sw.n_train:  # unique least-squares polynomial: any basis must give the same function
                leg = fit_polynomial(x_tr, t_tr, d, basis="legendre", domain=(0.0, 1.0)).predict(grid)
                gap = np.max(np.abs(leg - fit.predict(grid))) / np.max(np.abs(leg))  # relative to the fit's size
                basis_gap = max(basis_gap, float(gap))
            sweep_rows.append(row)
            if s == 0:
                ctx.log("degree_sweep", step=d, value=[row["train_mse"], row["test_mse"]], split=["train", "test"])
        for n in rg.sizes:
            for d in rg.data_degrees:
                fit = fit_polynomial(pool_x[:n], pool_t[:n], d)
                data_rows.append(
                    {
                        "seed": s,
                        "n": n,
                        "degree": d,
                        "eval_mse": _mse(fit, x_ev, t_ev),
                        "max_abs_coef": float(np.max(np.abs(fit.coef))),
                    }
                )
        for d in rg.decay_degrees:
            # The sweep, then the tutorial's lambda as its own row (flagged by position, not by value:
            # the sweep may contain the same lambda, and a row must not be counted twice).
            sweep_lams = [(0.0, False)] + [(float(v), False) for v in lambdas] + [(rg.tutorial_lambda, True)]
            for lam, tutorial in sweep_lams:
                fit = fit_polynomial(x_tr, t_tr, d, alpha=lam)
                decay_rows.append(
                    {
                        "seed": s,
                        "degree": d,
                        "lambda": lam,
                        "eval_mse": _mse(fit, x_ev, t_ev),
                        "train_mse": _mse(fit, x_tr, t_tr),
                        "max_abs_coef": float(np.max(np.abs(fit.coef))),
                        "tutorial": tutorial,
                    }
                )
        if s == 0:
            first_train = (x_tr, t_tr)
            top = max(rg.decay_degrees)
            fits = {
                name: fit_polynomial(x_tr, t_tr, d, alpha=a)
                for name, d, a in (
                    ("deg3", 3, 0.0),
                    ("deg9", min(9, sw.max_degree), 0.0),
                    ("top", top, 0.0),
                    ("top_decay", top, rg.tutorial_lambda),
                )
            }
            ctx.writer.save_arrays(
                "first_seed",
                x=x_tr,
                t=t_tr,
                x_test=x_te,
                t_test=t_te,
                grid=grid,
                **{f"pred_{k}": f.predict(grid) for k, f in fits.items()},
                coef_top=fits["top"].coef,
                coef_top_decay=fits["top_decay"].coef,
            )
        ctx.progress.update(1)
    sweep = pd.DataFrame(sweep_rows)
    more = pd.DataFrame(data_rows)
    decay = pd.DataFrame(decay_rows)
    for name, df in (("degree_sweep", sweep), ("more_data", more), ("weight_decay", decay)):
        ctx.writer.save_table(name, df)

    # ---- 3. loss landscapes on the first training set
    x0, t0 = first_train
    a_grid = np.linspace(ls.low, ls.high, ls.resolution)
    b_grid = np.linspace(ls.low, ls.high, ls.resolution)
    # The tutorial's double loop (sum of squared residuals), as the reference for the vectorised code.
    loop = np.empty((ls.resolution, ls.resolution))
    for i, a in enumerate(a_grid):
        for j, b in enumerate(b_grid):
            r = t0 - (a * x0 + b)
            loop[i, j] = r @ r
    mse = loss_landscape(x0, t0, a_grid, b_grid, loss="mse")
    loop_gap = float(np.max(np.abs(mse * x0.size - loop)))
    ols_a, ols_b = least_squares(with_bias(x0[:, None]), t0)
    land_rows, maps = [], {"mse": mse}
    specs = [("mse", 2.0)] + [("l1", 1.0)] + [("lp", p) for p in ls.p_values]
    for loss, p in specs:
        L = mse if loss == "mse" else loss_landscape(x0, t0, a_grid, b_grid, loss=loss, p=p)
        if loss != "mse":
            maps[f"{loss}_{fmt(p)}"] = L
        i, j = np.unravel_index(int(np.argmin(L)), L.shape)
        land_rows.append(
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
    land = pd.DataFrame(land_rows)
    ctx.writer.save_table("landscapes", land)
    top_p = max(ls.p_values)
    ctx.writer.save_arrays(
        "landscape_maps", a=a_grid, b=b_grid, mse=mse, l1=maps["l1_1"], lp_max=maps[f"lp_{fmt(top_p)}"]
    )
    ctx.progress.update(1)

    # ---- 4. selection on validation, test once
    sel_lambdas = np.concatenate([[0.0], np.geomspace(sel.min_lambda, sel.max_lambda, sel.num_lambda)])
    sel_rows = []
    for s, seed in enumerate(ctx.seeds(sel.seeds, "selection")):
        sel_rows.append({"seed": s, **selection_experiment(make_split(sel, sw.noise_sd, seed), degrees, sel_lambdas)})
        ctx.progress.update(1)
    chosen = pd.DataFrame(sel_rows)
    ctx.writer.save_table("selection", chosen)

    # ---- 5. OLS three ways
    ols = ols_three_ways_experiment(cfg.ols, ctx.seed("ols"))
    ctx.progress.update(1)

    # ---- summary
    def per_degree(col: str) -> list[dict]:
        return [_log_estimate(sweep.loc[sweep["degree"] == d, col].to_numpy()) for d in degrees]

    test_by_deg = per_degree("test_mse")
    best_deg = int(np.argmin([e["mean"] for e in test_by_deg]))
    interp = sweep.groupby("degree")["train_mse"].median()
    interp_deg = next((int(d) for d in degrees if interp[d] <= INTERPOLATION_MSE), None)
    top_decay = max(rg.decay_degrees)

    def cell(df: pd.DataFrame, col: str, **where: object) -> dict:
        m = np.ones(len(df), dtype=bool)
        for k, v in where.items():
            m &= (df[k] == v).to_numpy()
        return _log_estimate(df.loc[m, col].to_numpy())

    return {
        "noise_variance": sw.noise_sd**2,
        "n_train": sw.n_train,
        "train_mse_by_degree": per_degree("train_mse"),
        "test_mse_by_degree": test_by_deg,
        "best_test_degree": best_deg,
        "interpolation_degree": interp_deg,
        "max_abs_coef_by_degree": [float(sweep.loc[sweep["degree"] == d, "max_abs_coef"].median()) for d in degrees],
        "condition_number_by_degree": [
            float(sweep.loc[sweep["degree"] == d, "condition_number"].median()) for d in degrees
        ],
        "legendre_vs_monomial_max_gap": basis_gap,
        # What the conditioning allows: relative error ~ eps * cond for a backward-stable solve.
        "legendre_gap_bound": float(
            np.finfo(float).eps * sweep.loc[sweep["degree"] < sw.n_train, "condition_number"].max()
        ),
        "more_data": [
            {
                "degree": d,
                "n_small": min(rg.sizes),
                "n_large": max(rg.sizes),
                **{
                    f"{q}_{which}": cell(more, q, n=n, degree=d)
                    for q in ("eval_mse", "max_abs_coef")
                    for which, n in (("small", min(rg.sizes)), ("large", max(rg.sizes)))
                },
            }
            for d in rg.data_degrees
        ],
        "decay_degree": top_decay,
        "tutorial_lambda": rg.tutorial_lambda,
        "decay_none": {
            "eval_mse": cell(decay, "eval_mse", degree=top_decay, tutorial=False, **{"lambda": 0.0}),
            "max_abs_coef": cell(decay, "max_abs_coef", degree=top_decay, tutorial=False, **{"lambda": 0.0}),
        },
        "decay_tutorial": {
            "eval_mse": cell(decay, "eval_mse", degree=top_decay, tutorial=True),
            "max_abs_coef": cell(decay, "max_abs_coef", degree=top_decay, tutorial=True),
        },
        "landscape_loop_vs_vectorised": loop_gap,
        "landscape_all_convex": bool(land["convex"].all()),
        "landscape_max_gap": float(land["gap"].max()),
        "ols_line": [float(ols_a), float(ols_b)],
        "selection_degrees": chosen["degree"].tolist(),
        "selection_lambdas": chosen["lambda"].tolist(),
        "selection_val_mse": _log_estimate(chosen["val_mse"].to_numpy()),
        "selection_test_mse": _log_estimate(chosen["test_mse"].to_numpy()),
        "selection_test_over_val": _log_estimate((chosen["test_mse"] / chosen["val_mse"]).to_numpy()),
        "ols": {k: v for k, v in ols.items() if k != "weights"},
    }


# --------------------------------------------------------------------------- report


def _band(ests: list[dict]) -> tuple[list[float], list[float]]:
    lo, hi = zip(*(spread(e) for e in ests), strict=True)
    return list(lo), list(hi)


def report(run_: Run) -> Report:
    """The report, from the run folder alone."""
    s = run_.summary
    c = run_.config_dict
    sw, rg, sel = c["sweep"], c["regularisation"], c["selection"]
    n_seeds = sw["seeds"]
    floor = s["noise_variance"]
    test = s["test_mse_by_degree"]
    train = s["train_mse_by_degree"]
    degrees = np.arange(len(test))
    best = s["best_test_degree"]
    ols = s["ols"]
    rep = Report(
        "Polynomial regression, regularisation and loss landscapes (Tutorial 3, Lab 3)",
        headline={
            "lowest test MSE of the degree sweep": f"degree {best}: {fmt_est(test[best])}",
            "selected on validation: test MSE": fmt_est(s["selection_test_mse"]),
            "OLS three ways: max weight difference": fmt(ols["max_abs_difference"]),
        },
    )

    # ---- degree sweep
    worst = int(np.argmax([e["mean"] for e in test]))
    interp = s["interpolation_degree"]
    cond = s["condition_number_by_degree"]
    coef = s["max_abs_coef_by_degree"]
    interp_text = (
        f"reaches rounding level (median <= {fmt(INTERPOLATION_MSE)}) from degree {interp} on — with "
        f"{s['n_train']} points a degree-{s['n_train'] - 1} polynomial interpolates —"
        if interp is not None
        else "never reaches rounding level"
    )
    rep.add(
        Heading("MSE vs degree of the polynomial fit"),
        Text(
            f"{s['n_train']} training and {sw['n_test']} test points per data set, {n_seeds} data sets; "
            f"geometric means "
            f"with 95% CIs (MSEs span many decades). Train MSE falls from {fmt_est(train[0])} at degree 0 and "
            f"{interp_text} while test MSE is lowest at degree {best} ({fmt_est(test[best])}, "
            f"{fmt(test[best]['mean'] / floor)}x the noise variance {fmt(floor)}) and highest at degree {worst} "
            f"({fmt_est(test[worst])}, {fmt(test[worst]['mean'] / test[best]['mean'])}x the minimum). The largest "
            f"monomial coefficient (median over data sets) grows from {fmt(coef[min(3, len(coef) - 1)])} at "
            f"degree 3 to "
            f"{fmt(max(coef))} at degree {int(np.argmax(coef))}; beyond degree {s['n_train'] - 1} the system is "
            "under-determined and lstsq returns the minimum-norm coefficients (the tutorial's torch.inverse(X^T X) "
            "is singular there). The monomial feature matrix is ill-conditioned (condition number "
            f"{fmt(cond[min(9, len(cond) - 1)])} at degree {min(9, len(cond) - 1)}). Refitting every degree below "
            f"{s['n_train']} in a Legendre basis on [0, 1] (well conditioned; the least-squares polynomial is unique "
            f"there) changes the fitted function by at most {fmt(s['legendre_vs_monomial_max_gap'])} of its largest "
            f"value on [0, 1], against eps x condition number = {fmt(s['legendre_gap_bound'])} for the worst "
            "matrix"
            + (
                ": as accurate as the conditioning allows, and far below the noise level."
                if s["legendre_vs_monomial_max_gap"] <= s["legendre_gap_bound"]
                else ": MORE than the conditioning explains — check the solver."
            )
        ),
    )
    tr_lo, tr_hi = _band(train)
    te_lo, te_hi = _band(test)
    fs = run_.load_arrays("first_seed")
    g = fs["grid"]
    rep.add(
        Figure(
            Chart(
                "mse_vs_degree",
                [
                    Panel(
                        [
                            Line(
                                degrees,
                                [e["mean"] for e in train],
                                band=(tr_lo, tr_hi),
                                label="train",
                                mode="lines+markers",
                            ),
                            Line(
                                degrees,
                                [e["mean"] for e in test],
                                band=(te_lo, te_hi),
                                label="test",
                                mode="lines+markers",
                            ),
                        ],
                        yscale="log",
                        xlabel="degree",
                        ylabel="MSE (geometric mean, 95% CI)",
                        title="MSE loss vs degree of the polynomial fit",
                        hlines=[(floor, "noise variance")],
                    ),
                    Panel(
                        [
                            Line(fs["x"], fs["t"], mode="markers", label="train", color="#000000"),
                            Line(fs["x_test"], fs["t_test"], mode="markers", label="test", color="#999999"),
                            Line(g, np.sin(2 * np.pi * g), dash=True, label="sin(2 pi x)", color="#009E73"),
                            Line(g, np.clip(fs["pred_deg3"], -PLOT_CLIP, PLOT_CLIP), label="degree 3"),
                            Line(
                                g,
                                np.clip(fs["pred_deg9"], -PLOT_CLIP, PLOT_CLIP),
                                label=f"degree {min(9, len(test) - 1)}",
                            ),
                        ],
                        xlabel="x",
                        ylabel="t",
                        title=f"First data set (fits clipped to +-{fmt(PLOT_CLIP)})",
                    ),
                ],
                caption="Train MSE reaches rounding level (drawn at 1e-16) once the polynomial interpolates.",
            )
        )
    )

    # ---- regularisation
    more = run_.load_table("more_data")
    decay = run_.load_table("weight_decay")
    dn, dt = s["decay_none"], s["decay_tutorial"]

    def trend(small: dict, large: dict) -> str:
        return "falls" if large["mean"] < small["mean"] else "rises"

    sentences = []
    for r in s["more_data"]:
        sentences.append(
            f"at degree {r['degree']} the MSE {trend(r['eval_mse_small'], r['eval_mse_large'])} from "
            f"{fmt_est(r['eval_mse_small'])} to {fmt_est(r['eval_mse_large'])} and the largest coefficient "
            f"{trend(r['max_abs_coef_small'], r['max_abs_coef_large'])} from {fmt_est(r['max_abs_coef_small'])} to "
            f"{fmt_est(r['max_abs_coef_large'])}"
        )
    both = [
        r
        for r in s["more_data"]
        if r["eval_mse_large"]["mean"] < r["eval_mse_small"]["mean"]
        and r["max_abs_coef_large"]["mean"] > r["max_abs_coef_small"]["mean"]
    ]
    caveat = ""
    if both:
        caveat = (
            f" At degree {both[0]['degree']} more data fixes the fit while its monomial coefficients grow: the "
            "least-squares approximation of sin(2 pi x) in this ill-conditioned basis has large, cancelling "
            "coefficients, so a large coefficient is not by itself a sign of overfitting — an unstable fit "
            "is (compare the errors)."
        )
    r0 = s["more_data"][0]
    rep.add(
        Heading("Regularisation: more data and weight decay"),
        Text(
            f"Errors on {sw['eval_points']} fresh points per data set (curves for illustration; nothing is chosen "
            f"from them). More data, from {r0['n_small']} to {r0['n_large']} training points: "
            + "; ".join(sentences)
            + "."
            + caveat
            + " Weight decay "
            f"(closed-form ridge, theta = (X^T X + lambda I)^-1 X^T t as in the tutorial, every coefficient "
            f"penalised): at degree {s['decay_degree']} with {s['n_train']} points the tutorial's lambda = "
            f"{fmt(s['tutorial_lambda'])} changes the MSE from {fmt_est(dn['eval_mse'])} (lambda = 0, minimum-norm "
            f"interpolant) to {fmt_est(dt['eval_mse'])} and the largest coefficient from {fmt_est(dn['max_abs_coef'])} "
            f"to {fmt_est(dt['max_abs_coef'])}."
        ),
    )
    panels = []
    for col, ylabel, title in (
        ("eval_mse", "MSE (geometric mean)", "More data: error"),
        ("max_abs_coef", "max |theta_j| (geometric mean)", "More data: coefficients"),
    ):
        lines = []
        for d in rg["data_degrees"]:
            sub = more[more["degree"] == d]
            sizes = sorted(sub["n"].unique())
            ests = [_log_estimate(sub.loc[sub["n"] == n, col].to_numpy()) for n in sizes]
            lines.append(
                Line(sizes, [e["mean"] for e in ests], band=_band(ests), label=f"degree {d}", mode="lines+markers")
            )
        panels.append(
            Panel(
                lines,
                xscale="log",
                yscale="log",
                xlabel="training points",
                ylabel=ylabel,
                title=title,
                hlines=[(floor, "noise variance")] if col == "eval_mse" else [],
            )
        )
    for col, ylabel, title in (
        ("eval_mse", "MSE (geometric mean)", "Weight decay: error"),
        ("max_abs_coef", "max |theta_j| (geometric mean)", "Weight decay: coefficients"),
    ):
        lines = []
        for d in rg["decay_degrees"]:
            sub = decay[(decay["degree"] == d) & (decay["lambda"] > 0) & ~decay["tutorial"]]
            lams = sorted(sub["lambda"].unique())
            ests = [_log_estimate(sub.loc[sub["lambda"] == lam, col].to_numpy()) for lam in lams]
            lines.append(
                Line(lams, [e["mean"] for e in ests], band=_band(ests), label=f"degree {d}", mode="lines+markers")
            )
        panels.append(
            Panel(
                lines,
                xscale="log",
                yscale="log",
                xlabel="lambda",
                ylabel=ylabel,
                title=title,
                vlines=[(s["tutorial_lambda"], "tutorial's lambda")],
                hlines=[(floor, "noise variance")] if col == "eval_mse" else [],
            )
        )
    rep.add(Figure(Chart("regularisation", panels, ncols=2)))
    k = np.arange(fs["coef_top"].size)
    rep.add(
        Figure(
            Chart(
                "coefficients",
                [
                    Panel(
                        [
                            Bar(
                                [str(i) for i in k],
                                np.log10(np.maximum(np.abs(fs["coef_top"]), 1e-300)).tolist(),
                                label="lambda = 0",
                            ),
                            Bar(
                                [str(i) for i in k],
                                np.log10(np.maximum(np.abs(fs["coef_top_decay"]), 1e-300)).tolist(),
                                label=f"lambda = {fmt(s['tutorial_lambda'])}",
                            ),
                        ],
                        xlabel="power j of x",
                        ylabel="log10 |theta_j|",
                        title=f"Degree {s['decay_degree']}, first data set",
                    ),
                    Panel(
                        [
                            Line(fs["x"], fs["t"], mode="markers", label="train", color="#000000"),
                            Line(g, np.sin(2 * np.pi * g), dash=True, label="sin(2 pi x)", color="#009E73"),
                            Line(g, np.clip(fs["pred_top"], -PLOT_CLIP, PLOT_CLIP), label="lambda = 0"),
                            Line(
                                g,
                                np.clip(fs["pred_top_decay"], -PLOT_CLIP, PLOT_CLIP),
                                label=f"lambda = {fmt(s['tutorial_lambda'])}",
                            ),
                        ],
                        xlabel="x",
                        ylabel="t",
                        title="The two fits (clipped)",
                    ),
                ],
                caption="Weight decay keeps the high-order coefficients small.",
            )
        )
    )

    # ---- landscapes
    land = run_.load_table("landscapes")
    maps = run_.load_arrays("landscape_maps")
    a, b = maps["a"], maps["b"]
    ok = s["landscape_all_convex"]
    n_argmin = len({(r.argmin_a, r.argmin_b) for r in land.itertuples()})
    rep.add(
        Heading("Loss landscapes of f(x) = a x + b"),
        Text(
            f"On the first training set, over a {len(a)} x {len(b)} grid of (a, b) in [{fmt(a[0])}, "
            f"{fmt(a[-1])}]^2. The "
            f"vectorised landscape (broadcast residuals of shape (A, B, N)) matches the tutorial's double loop to "
            f"{fmt(s['landscape_loop_vs_vectorised'])}. Midpoint convexity on the grid — f(midpoint) <= mean of the "
            f"two ends, for every pair of grid points whose midpoint is a grid point — "
            + (
                f"holds for every loss (largest gap {fmt(s['landscape_max_gap'])}, rounding level), as it must: each "
                "loss is a norm of the affine residual vector, hence convex."
                if ok
                else f"FAILS for at least one loss (largest gap {fmt(s['landscape_max_gap'])})."
            )
            + f" Least squares gives a = {fmt(s['ols_line'][0])}, b = {fmt(s['ols_line'][1])}"
            + (
                f"; the grid minimisers move with p ({n_argmin} distinct): large p weights the largest residual "
                "most (towards the L_inf fit)."
                if n_argmin > 1
                else "; every loss has the same grid minimiser."
            )
        ),
        Table(
            ["loss", "p", "min on grid", "argmin a", "argmin b", "convexity gap", "convex"],
            [
                [
                    r.loss,
                    fmt(r.p),
                    fmt(r.min),
                    fmt(r.argmin_a),
                    fmt(r.argmin_b),
                    fmt(r.gap),
                    "yes" if r.convex else "no",
                ]
                for r in land.itertuples()
            ],
        ),
    )
    top_p = max(c["landscape"]["p_values"])
    # Cell indices on the axes, mapped to (a, b) in the axis titles (see kernel_features.py).
    step = float(a[1] - a[0])
    axes = {
        "xlabel": f"index j: b = {fmt(b[0])} + {fmt(step)} j",
        "ylabel": f"index i: a = {fmt(a[0])} + {fmt(step)} i",
    }
    rep.add(
        Figure(
            Chart(
                "landscapes",
                [
                    Panel([Heatmap(np.log10(maps["mse"]), cmap="viridis")], title="log10 MSE", **axes),
                    Panel([Heatmap(maps["l1"], cmap="viridis")], title="L1", **axes),
                    Panel([Heatmap(maps["lp_max"], cmap="viridis")], title=f"L{fmt(top_p)}", **axes),
                ],
                caption="Grid values; "
                + (
                    "every landscape passed the midpoint-convexity check."
                    if ok
                    else "at least one landscape FAILED the midpoint-convexity check."
                ),
            )
        )
    )

    # ---- selection
    degs = s["selection_degrees"]
    lams = s["selection_lambdas"]
    counts = np.bincount(degs, minlength=len(test))
    mode = int(np.argmax(counts))
    ratio = s["selection_test_over_val"]
    rep.add(
        Heading("Choosing degree and lambda on validation data"),
        Text(
            f"{sel['n_train']} training, {sel['n_val']} validation and {sel['n_test']} test points per split, "
            f"{sel['seeds']} splits. Every degree 0-{len(test) - 1} and lambda in {{0}} plus "
            f"{sel['num_lambda']} values in [{fmt(sel['min_lambda'])}, {fmt(sel['max_lambda'])}] is fitted on "
            f"the training "
            "split and scored on the validation split; the chosen model is evaluated on the test split once. The "
            f"most frequent choice is degree {mode} ({counts[mode]} of {len(degs)} splits); lambda > 0 was chosen "
            f"in {sum(1 for v in lams if v > 0)} of {len(lams)}. Test MSE of the chosen models: "
            f"{fmt_est(s['selection_test_mse'])} (noise variance {fmt(floor)}), against a validation MSE of "
            f"{fmt_est(s['selection_val_mse'])}; test / validation = {fmt_est(ratio)} (geometric mean of per-split "
            "ratios)"
            + (
                ": the winner's validation score is optimistic, as a minimum over many candidates is."
                if ratio["low"] > 1
                else "."
            )
        ),
        Figure(
            Chart(
                "selection",
                [
                    Panel(
                        [
                            Bar(
                                [str(d) for d in range(len(counts))],
                                counts.tolist(),
                                label="splits choosing this degree",
                            )
                        ],
                        xlabel="degree",
                        ylabel="count",
                        title="Degree chosen on validation",
                    )
                ],
            )
        ),
    )

    # ---- OLS three ways
    agree = ols["max_abs_difference"] < AGREE_TOL
    c_ols = c["ols"]
    rep.add(
        Heading("OLS three ways (Lab 3)"),
        Text(
            f"N = {c_ols['n']} points, P = {c_ols['p']} uniform features plus a bias column, y = X M + N(0, 1). The "
            f"closed form (normal equations, Cholesky) agrees with the SVD solution to {fmt(ols['closed_vs_svd'])}. "
            f"Gradient descent and torch autograd ({c_ols['steps']} steps each, lr = 1 / lambda_max) run on the "
            f"centred features, whose Hessian has condition number {fmt(ols['kappa_centred'])}, against "
            f"{fmt(ols['kappa_raw'])} for the raw design with its bias column (uniform features share the mean 0.5). "
            f"At lr = 1 / lambda_max GD needs about ln(eps) / ln(1 - 1/kappa) steps to reach machine precision: "
            f"{fmt(ols['steps_needed']['centred'])} centred, {fmt(ols['steps_needed']['raw'])} raw; after the same "
            f"{c_ols['steps']} steps GD on the raw design is still {fmt(ols['raw_gd_max_error'])} away from the "
            f"solution. With centring, the largest difference between any two of the three weight vectors is "
            f"{fmt(ols['max_abs_difference'])} — " + ("the three methods agree." if agree else "they do NOT agree.")
        ),
        Table(["pair", "max |w_a - w_b|"], [[k, fmt(v)] for k, v in ols["pairwise"].items()]),
    )
    return rep


register(
    Study(
        "polynomial-regression",
        "Tutorial 3 / Lab 3: polynomial fits vs degree, regularisation, loss landscapes, honest selection, OLS "
        "three ways.",
        PolynomialRegressionConfig,
        run,
        report,
        smoke={
            "sweep": {"seeds": 3, "eval_points": 200},
            "regularisation": {"sizes": [10, 40], "num_lambda": 14},  # 1 per decade: contains 1e-4
            "landscape": {"resolution": 21, "p_values": [1.0, 2.0, 50.0]},
            "selection": {"seeds": 3, "n_test": 20, "num_lambda": 4},
            "ols": {"n": 200, "p": 20, "steps": 100},
        },
    )
)
