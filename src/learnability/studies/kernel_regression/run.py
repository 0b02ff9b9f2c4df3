"""Linear, ridge and kernel ridge regression (Lab 2, exercises 1 and 2).

**Exercise 1 — linear data.** ``x ~ U[2, 30]``, ``y ~ N(2 x + 50, 1)``, 100 points. Least squares
without an intercept must absorb the offset 50 into the slope: its estimate tends to
``2 + 50 E[x] / E[x^2]`` (about 4.49 on ``U[2, 30]``), not 2. With an intercept both true values
are recovered; ridge (the intercept unpenalised, as in scikit-learn's ``Ridge``) shrinks the slope
by about ``S_xx / (S_xx + alpha)``, negligible at ``alpha = 1`` where ``S_xx ~ 6500``; the ridge
path over ``alpha`` shows where shrinkage starts to matter.

**Exercise 2 — periodic data.** ``x = linspace(2, 30, 100)``, ``y = x + 4 sin(x) + 4 U[0, 1]``. The
Gaussian Gram matrix at ``sigma = 1`` is drawn; its spectrum decays so fast that ``alpha = 0`` is
numerically singular (the library's ``KernelRidge`` then falls back to least squares with a
``LinAlgWarning``, counted here). Kernel ridge regression chooses ``sigma`` and ``alpha`` by K-fold
cross-validation on the *training split only*; the held-out split is used once, at the end, for
kernel ridge and for the linear baseline. The noise ``4 U[0, 1]`` has variance ``16 / 12``: no
model can have a lower expected test MSE. Several seeds (noise draw + split) give 95% CIs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg
from pydantic import Field

from learnability.config import ConfigSection, StudyConfig
from learnability.kernels import KernelRidge, gamma_from_sigma, rbf_kernel
from learnability.linear import least_squares, ridge, with_bias
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
from learnability.studies._kernel_common import estimate, fmt_est, single_threaded_blas, spread

__all__ = [
    "CVResult",
    "KernelRegressionConfig",
    "cross_validate_kernel_ridge",
    "linear_experiment",
    "periodic_data",
    "periodic_experiment",
]


class LinearSection(ConfigSection):
    n: int = Field(100, ge=3, description="data points (Lab 2, exercise 1)")
    x_low: float = Field(2.0, description="x ~ U[x_low, x_high] (lab: [2, 30])")
    x_high: float = Field(30.0, description="upper end of the x range")
    slope: float = Field(2.0, description="true slope (lab: y ~ N(2 x + 50, 1))")
    intercept: float = Field(50.0, description="true intercept")
    noise_sd: float = Field(1.0, gt=0, description="noise standard deviation (lab: unit variance)")
    ridge_alpha: float = Field(1.0, ge=0, description="ridge penalty (the lab gives none: scikit-learn's default)")
    n_test: int = Field(1000, ge=1, description="fresh points for the held-out MSE")
    path_min_alpha: float = Field(1e-2, gt=0, description="smallest alpha of the ridge path")
    path_max_alpha: float = Field(1e7, gt=0, description="largest alpha (>> S_xx ~ n var(x) ~ 6500)")
    path_num: int = Field(28, ge=2, description="alphas on the path (3 per decade)")


class PeriodicSection(ConfigSection):
    n: int = Field(100, ge=10, description="points of linspace(x_low, x_high, n) (Lab 2, exercise 2)")
    x_low: float = Field(2.0, description="start of the grid")
    x_high: float = Field(30.0, description="end of the grid")
    amplitude: float = Field(4.0, description="y = x + amplitude sin(x) + noise_scale U[0, 1]")
    noise_scale: float = Field(4.0, gt=0, description="uniform noise width (variance noise_scale^2 / 12)")
    gram_sigma: float = Field(1.0, gt=0, description="bandwidth of the Gram matrix shown (lab: sigma = 1)")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="held-out share, used once at the end")
    folds: int = Field(5, ge=2, description="K of the K-fold cross-validation on the training split")
    min_sigma: float = Field(0.25, gt=0, description="smallest bandwidth tried (~ grid step 0.28)")
    max_sigma: float = Field(16.0, gt=0, description="largest bandwidth tried (~ half the x range)")
    num_sigma: int = Field(13, ge=1, description="log-spaced bandwidths (factor sqrt(2) apart)")
    min_alpha: float = Field(1e-8, gt=0, description="smallest positive alpha tried")
    max_alpha: float = Field(1e2, gt=0, description="largest alpha tried")
    num_alpha: int = Field(11, ge=1, description="log-spaced positive alphas (1 per decade)")
    include_zero_alpha: bool = Field(True, description="also try alpha = 0 (no regularisation)")


class KernelRegressionConfig(StudyConfig):
    """Lab 2: linear / ridge regression on linear data; kernel ridge with CV on periodic data.

    Command:  learnability run kernel-regression      (smoke: learnability run kernel-regression --smoke)
    Runtime:  compute 10 s wall (7,800 small kernel ridge fits; 23 s at load ~8); 25 s in all
              with imports and figures, 15 s CPU (shared 2-core machine, load ~5); smoke: compute 0.4 s
    Expected: no-intercept slope 4.48 [4.40, 4.55] (limit 4.49) instead of 2; with intercept
              2.005 [1.997, 2.013] and 49.96 [49.82, 50.10]; ridge(alpha = 1) within 4e-4 of OLS.
              Periodic data: alpha = 0 singular in 401 of 650 CV fits, CV picks alpha > 0 in 10/10
              seeds; held-out MSE 1.92 [1.52, 2.33] for kernel ridge (noise floor 1.33) vs
              9.57 [7.70, 11.45] for linear regression (5.3x).
    """

    seeds: int = Field(10, ge=2, description="independent data sets (and splits) for the CIs")
    linear: LinearSection = Field(default_factory=LinearSection)
    periodic: PeriodicSection = Field(default_factory=PeriodicSection)


# --------------------------------------------------------------------------- exercise 1


def _fit_line(x: np.ndarray, y: np.ndarray, alpha: float | None) -> tuple[float, float]:
    """(slope, intercept): least squares with intercept, or ridge with an unpenalised intercept.

    Ridge with an unpenalised intercept is ridge on centred data (scikit-learn's ``Ridge``).
    """
    if alpha is None:
        slope, intercept = least_squares(with_bias(x[:, None]), y)
        return float(slope), float(intercept)
    xm, ym = x.mean(), y.mean()
    slope = float(ridge((x - xm)[:, None], y - ym, alpha=alpha)[0])
    return slope, float(ym - slope * xm)


def linear_experiment(cfg: LinearSection, rng: np.random.Generator) -> dict[str, float]:
    """Exercise 1 on one data set: slopes, intercepts and MSEs of the three fits."""
    x = rng.uniform(cfg.x_low, cfg.x_high, cfg.n)
    y = rng.normal(cfg.slope * x + cfg.intercept, cfg.noise_sd)
    xt = rng.uniform(cfg.x_low, cfg.x_high, cfg.n_test)
    yt = rng.normal(cfg.slope * xt + cfg.intercept, cfg.noise_sd)
    out: dict[str, float] = {}
    fits = {
        "no_intercept": (float(least_squares(x[:, None], y)[0]), 0.0),
        "with_intercept": _fit_line(x, y, None),
        "ridge": _fit_line(x, y, cfg.ridge_alpha),
    }
    for name, (a, b) in fits.items():
        out[f"{name}_slope"] = a
        out[f"{name}_intercept"] = b
        out[f"{name}_train_mse"] = float(np.mean((a * x + b - y) ** 2))
        out[f"{name}_test_mse"] = float(np.mean((a * xt + b - yt) ** 2))
    return out


def no_intercept_slope_limit(cfg: LinearSection) -> float:
    """Population limit of the no-intercept slope: ``a + b E[x] / E[x^2]`` for ``x ~ U[lo, hi]``."""
    mean = (cfg.x_low + cfg.x_high) / 2.0
    second = mean**2 + (cfg.x_high - cfg.x_low) ** 2 / 12.0
    return cfg.slope + cfg.intercept * mean / second


# --------------------------------------------------------------------------- exercise 2


def periodic_data(cfg: PeriodicSection, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The lab's data: ``x = linspace``, ``y = x + A sin(x) + c U[0, 1]``; shapes ``(n,)``."""
    x = np.linspace(cfg.x_low, cfg.x_high, cfg.n)
    return x, x + cfg.amplitude * np.sin(x) + cfg.noise_scale * rng.uniform(0.0, 1.0, cfg.n)


def _krr_fit_predict(
    x_tr: np.ndarray, y_tr: np.ndarray, x_new: np.ndarray, sigma: float, alpha: float
) -> tuple[np.ndarray, bool]:
    """Kernel ridge on targets centred by their training mean; returns (predictions, singular)."""
    mean = float(y_tr.mean())
    with warnings.catch_warnings(record=True) as caught:
        # alpha = 0 can be numerically singular; KernelRidge then warns and uses least squares.
        warnings.simplefilter("always", scipy.linalg.LinAlgWarning)
        model = KernelRidge(alpha=alpha, kernel="rbf", gamma=gamma_from_sigma(sigma))
        model.fit(x_tr[:, None], y_tr - mean)
    singular = any(issubclass(w.category, scipy.linalg.LinAlgWarning) for w in caught)
    for w in caught:  # anything else is not ours to swallow
        if not issubclass(w.category, scipy.linalg.LinAlgWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return model.predict(x_new[:, None]) + mean, singular


@dataclass(frozen=True)
class CVResult:
    """K-fold cross-validation of kernel ridge over a (sigma, alpha) grid.

    Attributes:
        sigmas: ``(S,)`` bandwidths.
        alphas: ``(A,)`` penalties.
        scores: ``(S, A)`` mean validation MSE over the folds.
        n_singular: fits where ``K + alpha I`` was numerically singular.
        n_fits: fits in all.
        n_zero_alpha_fits: fits with ``alpha = 0`` (the only ones that can be singular).
    """

    sigmas: np.ndarray
    alphas: np.ndarray
    scores: np.ndarray
    n_singular: int
    n_fits: int
    n_zero_alpha_fits: int

    @property
    def best(self) -> tuple[float, float, float]:
        """(sigma, alpha, CV MSE) of the lowest CV MSE."""
        i, j = np.unravel_index(int(np.argmin(self.scores)), self.scores.shape)
        return float(self.sigmas[i]), float(self.alphas[j]), float(self.scores[i, j])


def cross_validate_kernel_ridge(
    x: np.ndarray, y: np.ndarray, *, sigmas: np.ndarray, alphas: np.ndarray, folds: int, seed: int
) -> CVResult:
    """K-fold CV (shuffled folds) of kernel ridge on ``x, y: (n,)`` — training data only."""
    order = np.random.default_rng(seed).permutation(x.shape[0])
    parts = np.array_split(order, folds)
    scores = np.zeros((len(sigmas), len(alphas)))
    singular = 0
    for k in range(folds):
        val = parts[k]
        tr = np.concatenate([parts[j] for j in range(folds) if j != k])
        for i, sigma in enumerate(sigmas):
            for j, alpha in enumerate(alphas):
                pred, sing = _krr_fit_predict(x[tr], y[tr], x[val], float(sigma), float(alpha))
                scores[i, j] += np.mean((pred - y[val]) ** 2) / folds
                singular += int(sing)
    alphas = np.asarray(alphas, dtype=float)
    return CVResult(
        np.asarray(sigmas, dtype=float),
        alphas,
        scores,
        singular,
        folds * len(sigmas) * len(alphas),
        folds * len(sigmas) * int(np.sum(alphas == 0)),
    )


def _grids(cfg: PeriodicSection) -> tuple[np.ndarray, np.ndarray]:
    sigmas = np.geomspace(cfg.min_sigma, cfg.max_sigma, cfg.num_sigma)
    alphas = np.geomspace(cfg.min_alpha, cfg.max_alpha, cfg.num_alpha)
    if cfg.include_zero_alpha:
        alphas = np.concatenate([[0.0], alphas])
    return sigmas, alphas


def periodic_experiment(cfg: PeriodicSection, *, data_seed: int, split_seed: int, cv_seed: int) -> dict:
    """Exercise 2 on one noise draw: CV on the training split, then the test split once.

    Returns:
        A dict with the chosen ``sigma``/``alpha``, CV results, test MSEs of kernel ridge (CV
        choice and the lab's ``sigma`` with CV ``alpha``) and of linear regression, and the arrays
        needed for plots (``x``, ``y``, ``train``/``test`` indices).
    """
    x, y = periodic_data(cfg, np.random.default_rng(data_seed))
    perm = np.random.default_rng(split_seed).permutation(cfg.n)
    n_test = max(1, round(cfg.test_fraction * cfg.n))
    test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    sigmas, alphas = _grids(cfg)
    cv = cross_validate_kernel_ridge(x[train], y[train], sigmas=sigmas, alphas=alphas, folds=cfg.folds, seed=cv_seed)
    sigma, alpha, cv_mse = cv.best
    # The lab's bandwidth, with only alpha chosen by CV (same folds).
    cv_lab = cross_validate_kernel_ridge(
        x[train], y[train], sigmas=np.array([cfg.gram_sigma]), alphas=alphas, folds=cfg.folds, seed=cv_seed
    )
    _, alpha_lab, cv_mse_lab = cv_lab.best
    # ---- the test split is used from here on, once per model
    pred, _ = _krr_fit_predict(x[train], y[train], x[test], sigma, alpha)
    pred_lab, _ = _krr_fit_predict(x[train], y[train], x[test], cfg.gram_sigma, alpha_lab)
    a, b = _fit_line(x[train], y[train], None)
    return {
        "sigma": sigma,
        "alpha": alpha,
        "cv_mse": cv_mse,
        "alpha_lab_sigma": alpha_lab,
        "cv_mse_lab_sigma": cv_mse_lab,
        "test_mse_krr": float(np.mean((pred - y[test]) ** 2)),
        "test_mse_krr_lab_sigma": float(np.mean((pred_lab - y[test]) ** 2)),
        "test_mse_linear": float(np.mean((a * x[test] + b - y[test]) ** 2)),
        "linear_slope": a,
        "linear_intercept": b,
        "n_singular": cv.n_singular,
        "n_fits": cv.n_fits,
        "n_zero_alpha_fits": cv.n_zero_alpha_fits,
        "cv": cv,
        "x": x,
        "y": y,
        "train": train,
        "test": test,
    }


# --------------------------------------------------------------------------- run


@single_threaded_blas
def run(cfg: KernelRegressionConfig, ctx: StudyContext) -> dict:
    """Exercise 1 and exercise 2 over ``cfg.seeds`` data sets; returns the summary."""
    lin, per = cfg.linear, cfg.periodic
    ctx.progress.add_total(2 * cfg.seeds)

    # ---- exercise 1
    rows = []
    for s, seed in enumerate(ctx.seeds(cfg.seeds, "linear")):
        rows.append({"seed": s, **linear_experiment(lin, np.random.default_rng(seed))})
        ctx.progress.update(1)
    lin_table = pd.DataFrame(rows)
    ctx.writer.save_table("linear", lin_table)
    # Data and ridge path of the first data set, for the figures.
    rng = np.random.default_rng(ctx.seeds(cfg.seeds, "linear")[0])
    x0 = rng.uniform(lin.x_low, lin.x_high, lin.n)
    y0 = rng.normal(lin.slope * x0 + lin.intercept, lin.noise_sd)
    path_alphas = np.geomspace(lin.path_min_alpha, lin.path_max_alpha, lin.path_num)
    path = np.array([_fit_line(x0, y0, float(a)) for a in path_alphas])  # (P, 2)
    ctx.writer.save_arrays(
        "linear_data",
        x=x0,
        y=y0,
        path_alphas=path_alphas,
        path_slope=path[:, 0],
        path_intercept=path[:, 1],
        s_xx=np.sum((x0 - x0.mean()) ** 2),
    )

    # ---- exercise 2
    x_grid, _y_first = periodic_data(per, np.random.default_rng(ctx.seeds(cfg.seeds, "periodic-data")[0]))
    K = rbf_kernel(x_grid[:, None], sigma=per.gram_sigma)
    eig = np.linalg.eigvalsh(K)[::-1]  # (n,) decreasing
    rows = []
    first = None
    for s in range(cfg.seeds):
        res = periodic_experiment(
            per,
            data_seed=ctx.seeds(cfg.seeds, "periodic-data")[s],
            split_seed=ctx.seeds(cfg.seeds, "split")[s],
            cv_seed=ctx.seeds(cfg.seeds, "folds")[s],
        )
        rows.append({"seed": s, **{k: v for k, v in res.items() if k not in ("cv", "x", "y", "train", "test")}})
        ctx.log(
            "periodic_test_mse",
            step=s,
            value=[res["test_mse_krr"], res["test_mse_linear"]],
            model=["kernel ridge", "linear"],
        )
        if first is None:
            first = res
        ctx.progress.update(1)
    per_table = pd.DataFrame(rows)
    ctx.writer.save_table("periodic", per_table)
    cv = first["cv"]
    x_fine = np.linspace(per.x_low, per.x_high, 400)
    pred_fine, _ = _krr_fit_predict(
        first["x"][first["train"]], first["y"][first["train"]], x_fine, first["sigma"], first["alpha"]
    )
    ctx.writer.save_arrays(
        "periodic_first",
        x=first["x"],
        y=first["y"],
        train=first["train"],
        test=first["test"],
        cv_scores=cv.scores,
        sigmas=cv.sigmas,
        alphas=cv.alphas,
        x_fine=x_fine,
        krr_fine=pred_fine,
        gram=K,
        gram_eigenvalues=eig,
    )

    noise_var = per.noise_scale**2 / 12.0
    ratio = per_table["test_mse_linear"] / per_table["test_mse_krr"]
    summ = {
        "seeds": cfg.seeds,
        "true_slope": lin.slope,
        "true_intercept": lin.intercept,
        "no_intercept_slope_limit": no_intercept_slope_limit(lin),
        "ridge_alpha": lin.ridge_alpha,
        "ridge_minus_ols_slope_max": float(
            np.max(np.abs(lin_table["ridge_slope"] - lin_table["with_intercept_slope"]))
        ),
        "gram_sigma": per.gram_sigma,
        "gram_min_eigenvalue": float(eig[-1]),
        "gram_max_eigenvalue": float(eig[0]),
        # Eigenvalues below n eps lambda_max are rounding noise (numpy's matrix_rank rule).
        "gram_numerical_rank": int(np.sum(eig > per.n * np.finfo(float).eps * eig[0])),
        "alpha0_singular_fits": int(per_table["n_singular"].sum()),
        "alpha0_fits": int(per_table["n_zero_alpha_fits"].sum()),
        "cv_fits": int(per_table["n_fits"].sum()),
        "cv_alpha_positive_fraction": float(np.mean(per_table["alpha"] > 0)),
        "chosen_sigma": per_table["sigma"].tolist(),
        "chosen_alpha": per_table["alpha"].tolist(),
        "noise_variance": noise_var,
        "krr_beats_linear_fraction": float(np.mean(per_table["test_mse_krr"] < per_table["test_mse_linear"])),
        "linear_over_krr_test_mse": estimate(ratio.to_numpy()),
    }
    for name in ("no_intercept", "with_intercept", "ridge"):
        for q in ("slope", "intercept", "train_mse", "test_mse"):
            if name == "no_intercept" and q == "intercept":
                continue
            summ[f"{name}_{q}"] = estimate(lin_table[f"{name}_{q}"].to_numpy())
    for q in ("test_mse_krr", "test_mse_krr_lab_sigma", "test_mse_linear", "cv_mse"):
        summ[q] = estimate(per_table[q].to_numpy())
    return summ


# --------------------------------------------------------------------------- report


def report(run_: Run) -> Report:
    """The report, from the run folder alone."""
    s = run_.summary
    cfg = run_.config_dict
    lin, per = cfg["linear"], cfg["periodic"]
    n = s["seeds"]
    rep = Report(
        "Linear, ridge and kernel ridge regression (Lab 2)",
        headline={
            "slope without / with intercept (true 2)": f"{fmt(s['no_intercept_slope']['mean'], 4)} / "
            f"{fmt(s['with_intercept_slope']['mean'], 4)}",
            "test MSE: kernel ridge vs linear": f"{fmt(s['test_mse_krr']['mean'])} vs "
            f"{fmt(s['test_mse_linear']['mean'])}",
            "noise floor": fmt(s["noise_variance"]),
        },
    )

    # ---- exercise 1
    ridge_gap = s["ridge_minus_ols_slope_max"]
    d = run_.load_arrays("linear_data")
    s_xx = float(d["s_xx"])
    rep.add(
        Heading("Exercise 1: linear data"),
        Text(
            f"{lin['n']} points with x ~ U[{fmt(lin['x_low'])}, {fmt(lin['x_high'])}] and y ~ "
            f"N({fmt(s['true_slope'])} x + "
            f"{fmt(s['true_intercept'])}, {fmt(lin['noise_sd'])}^2); means over {n} data sets with 95% CIs. Without an "
            f"intercept the slope is {fmt_est(s['no_intercept_slope'], 4)} — it absorbs the offset, and its "
            f"population limit a + b E[x]/E[x^2] is {fmt(s['no_intercept_slope_limit'])}. With an intercept the fit "
            f"recovers slope {fmt_est(s['with_intercept_slope'], 4)} and intercept "
            f"{fmt_est(s['with_intercept_intercept'], 4)} (true {fmt(s['true_slope'])} and "
            f"{fmt(s['true_intercept'])}). "
            f"Ridge with alpha = {fmt(s['ridge_alpha'])} (intercept unpenalised) moves the slope by at most "
            f"{fmt(ridge_gap)} from least squares: the slope is shrunk by S_xx / (S_xx + alpha) with "
            f"S_xx = sum (x - mean x)^2 = {fmt(s_xx)} on the first data set, a factor "
            f"{fmt(s_xx / (s_xx + s['ridge_alpha']), 6)}. The ridge path below shows the slope "
            "shrinking only once alpha is comparable to S_xx."
        ),
    )
    rows = []
    for name, label in (
        ("no_intercept", "least squares, no intercept"),
        ("with_intercept", "least squares with intercept"),
        ("ridge", f"ridge, alpha = {fmt(s['ridge_alpha'])}"),
    ):
        rows.append(
            [
                label,
                fmt_est(s[f"{name}_slope"], 4),
                "0 (fixed)" if name == "no_intercept" else fmt_est(s[f"{name}_intercept"], 4),
                fmt_est(s[f"{name}_train_mse"]),
                fmt_est(s[f"{name}_test_mse"]),
            ]
        )
    rep.add(
        Table(
            ["model", "slope", "intercept", "train MSE", f"test MSE ({lin['n_test']} fresh points)"],
            rows,
            caption=f"True slope {fmt(s['true_slope'])}, intercept {fmt(s['true_intercept'])}, "
            f"noise variance {fmt(lin['noise_sd'] ** 2)}.",
        )
    )
    t = run_.load_table("linear").iloc[0]
    xs = np.linspace(lin["x_low"], lin["x_high"], 2)
    rep.add(
        Figure(
            Chart(
                "linear_fits",
                [
                    Panel(
                        [
                            Line(d["x"], d["y"], label="data", mode="markers", color="#999999"),
                            Line(
                                xs,
                                s["true_slope"] * xs + s["true_intercept"],
                                label="truth",
                                dash=True,
                                color="#000000",
                            ),
                            Line(xs, t["no_intercept_slope"] * xs, label="no intercept"),
                            Line(
                                xs,
                                t["with_intercept_slope"] * xs + t["with_intercept_intercept"],
                                label="with intercept",
                            ),
                            Line(xs, t["ridge_slope"] * xs + t["ridge_intercept"], label="ridge", dash=True),
                        ],
                        xlabel="x",
                        ylabel="y",
                        title="Fits on the first data set",
                    ),
                    Panel(
                        [Line(d["path_alphas"], d["path_slope"], label="slope", mode="lines+markers")],
                        xscale="log",
                        xlabel="alpha",
                        ylabel="slope",
                        title="Ridge path: slope",
                        hlines=[(s["true_slope"], "true slope")],
                        vlines=[(float(d["s_xx"]), "S_xx")],
                    ),
                    Panel(
                        [Line(d["path_alphas"], d["path_intercept"], label="intercept", mode="lines+markers")],
                        xscale="log",
                        xlabel="alpha",
                        ylabel="intercept",
                        title="Ridge path: intercept",
                        hlines=[(s["true_intercept"], "true intercept")],
                        vlines=[(float(d["s_xx"]), "S_xx")],
                    ),
                ],
                caption="The no-intercept line is forced through the origin; ridge shrinks the slope towards 0 "
                "(and the unpenalised intercept towards mean y) only for alpha of the order of S_xx.",
            )
        )
    )

    # ---- exercise 2
    p = run_.load_arrays("periodic_first")
    table = run_.load_table("periodic")
    ratio = s["linear_over_krr_test_mse"]
    rep.add(
        Heading("Exercise 2: kernel ridge regression on periodic data"),
        Text(
            f"The Gaussian Gram matrix at sigma = {fmt(s['gram_sigma'])} on the {per['n']} grid points has eigenvalues "
            f"from {fmt(s['gram_max_eigenvalue'])} down to {fmt(s['gram_min_eigenvalue'])}; "
            f"{s['gram_numerical_rank']} of {per['n']} exceed the rounding level n eps lambda_max"
            + (
                ", so without regularisation the linear system K c = y is numerically singular. "
                if s["gram_numerical_rank"] < per["n"]
                else ": K is numerically invertible. "
            )
            + "In cross-validation the "
            f"Cholesky factorisation of K + alpha I failed in {s['alpha0_singular_fits']} of the "
            f"{s['alpha0_fits']} fits with alpha = 0 (all bandwidths, folds and seeds; {s['cv_fits']} fits in "
            "all), where KernelRidge fell back to least squares with a LinAlgWarning."
        ),
    )
    singular_note = "" if per["include_zero_alpha"] else " (alpha = 0 was not in the grid.)"
    rep.add(
        Text(
            f"Sigma and alpha are chosen by {per['folds']}-fold cross-validation on the training split "
            f"({per['n'] - max(1, round(per['test_fraction'] * per['n']))} points); the "
            f"{max(1, round(per['test_fraction'] * per['n']))} held-out points are used once per model at the end. "
            f"CV chose alpha > 0 in {100 * s['cv_alpha_positive_fraction']:.0f}% of the {n} seeds{singular_note}; "
            f"chosen sigma ranged over {fmt(min(s['chosen_sigma']))}–{fmt(max(s['chosen_sigma']))} and alpha over "
            f"{fmt(min(s['chosen_alpha']))}–{fmt(max(s['chosen_alpha']))}. Held-out MSE: kernel ridge "
            f"{fmt_est(s['test_mse_krr'])}, linear regression {fmt_est(s['test_mse_linear'])}; the linear model's "
            f"error is {fmt_est(ratio)} times kernel ridge's, and kernel ridge was better on "
            f"{100 * s['krr_beats_linear_fraction']:.0f}% of seeds. The noise 4 U[0, 1] has variance "
            f"{fmt(s['noise_variance'])}, the lowest expected MSE any model can reach: kernel ridge is "
            f"{fmt(s['test_mse_krr']['mean'] / s['noise_variance'])} times that floor. With the lab's sigma = "
            f"{fmt(s['gram_sigma'])} and only alpha chosen by CV, the held-out MSE is "
            f"{fmt_est(s['test_mse_krr_lab_sigma'])}."
        )
    )
    rows = [
        ["kernel ridge (sigma, alpha by CV)", fmt_est(s["cv_mse"]), fmt_est(s["test_mse_krr"])],
        [f"kernel ridge (sigma = {fmt(s['gram_sigma'])}, alpha by CV)", "—", fmt_est(s["test_mse_krr_lab_sigma"])],
        ["linear regression with intercept", "—", fmt_est(s["test_mse_linear"])],
        ["noise floor (variance of 4 U[0, 1])", "—", fmt(s["noise_variance"])],
    ]
    rep.add(
        Table(
            ["model", "CV MSE (training split)", "held-out MSE"],
            rows,
            caption=f"Means over {n} seeds (noise draw and split) with 95% CIs.",
        )
    )

    x, y, tr, te = p["x"], p["y"], p["train"], p["test"]
    t0 = table.iloc[0]
    xs = p["x_fine"]
    truth = xs + per["amplitude"] * np.sin(xs) + per["noise_scale"] / 2.0
    rep.add(
        Figure(
            Chart(
                "periodic_fit",
                [
                    Panel(
                        [
                            Line(x[tr], y[tr], label="training split", mode="markers", color="#999999"),
                            Line(x[te], y[te], label="held-out split", mode="markers", color="#000000"),
                            Line(xs, truth, label="E[y | x]", dash=True, color="#009E73"),
                            Line(
                                xs,
                                p["krr_fine"],
                                label=f"kernel ridge (sigma {fmt(t0['sigma'])}, alpha {fmt(t0['alpha'])})",
                                color="#0072B2",
                            ),
                            Line(
                                xs,
                                t0["linear_slope"] * xs + t0["linear_intercept"],
                                label="linear regression",
                                color="#D55E00",
                            ),
                        ],
                        xlabel="x",
                        ylabel="y",
                        title="First seed",
                    )
                ],
                ncols=1,
                panel_size=(8.0, 3.6),
            )
        )
    )

    sig, alp, sc = p["sigmas"], p["alphas"], p["cv_scores"]
    i, j = np.unravel_index(int(np.argmin(sc)), sc.shape)
    pos = alp > 0
    rep.add(
        Figure(
            Chart(
                "cross_validation",
                [
                    Panel(
                        [Line(sig, sc[:, j], mode="lines+markers", label=f"alpha = {fmt(float(alp[j]))}")],
                        xscale="log",
                        yscale="log",
                        xlabel="sigma",
                        ylabel="CV MSE",
                        title="CV MSE vs sigma (best alpha)",
                        hlines=[(s["noise_variance"], "noise floor")],
                    ),
                    Panel(
                        [Line(alp[pos], sc[i, pos], mode="lines+markers", label=f"sigma = {fmt(float(sig[i]))}")]
                        + (
                            [Line(alp[pos], np.full(pos.sum(), sc[i, ~pos][0]), dash=True, label="alpha = 0")]
                            if (~pos).any()
                            else []
                        ),
                        xscale="log",
                        yscale="log",
                        xlabel="alpha",
                        ylabel="CV MSE",
                        title="CV MSE vs alpha (best sigma)",
                        hlines=[(s["noise_variance"], "noise floor")],
                    ),
                    Panel(
                        [Heatmap(p["gram"], cmap="viridis")],
                        title=f"Gram matrix, sigma = {fmt(s['gram_sigma'])}",
                        xlabel="point index (x increasing)",
                        ylabel="point index",
                    ),
                    Panel(
                        [
                            Line(
                                np.arange(1, len(p["gram_eigenvalues"]) + 1),
                                np.maximum(p["gram_eigenvalues"], 1e-18),
                                mode="lines+markers",
                            )
                        ],
                        yscale="log",
                        xlabel="rank",
                        ylabel="eigenvalue",
                        title="Gram spectrum (|eig| < 1e-18 drawn at 1e-18)",
                    ),
                ],
                ncols=2,
                caption="First seed. CV curves through the best (sigma, alpha); the banded Gram matrix "
                "and its fast-decaying spectrum explain why alpha = 0 is singular.",
            )
        )
    )

    ests = [s["test_mse_krr"], s["test_mse_krr_lab_sigma"], s["test_mse_linear"]]
    lo, hi = zip(*(spread(e) for e in ests), strict=True)
    rep.add(
        Figure(
            Chart(
                "test_mse",
                [
                    Panel(
                        [
                            Bar(
                                ["kernel ridge (CV)", f"kernel ridge (sigma {fmt(s['gram_sigma'])})", "linear"],
                                [e["mean"] for e in ests],
                                errors=(lo, hi),
                                label=f"held-out MSE, mean over {n} seeds",
                            )
                        ],
                        ylabel="MSE",
                        title="Held-out MSE (95% CI)",
                        hlines=[(s["noise_variance"], "noise floor")],
                    )
                ],
            )
        )
    )
    return rep


register(
    Study(
        "kernel-regression",
        "Lab 2: linear and ridge regression; kernel ridge with cross-validated sigma and alpha.",
        KernelRegressionConfig,
        run,
        report,
        smoke={
            "seeds": 3,
            "linear": {"n_test": 200, "path_num": 8},
            "periodic": {"folds": 3, "num_sigma": 5, "num_alpha": 5},
        },
    )
)
