"""The kernel-regression report: the three line fits, then kernel ridge against a line."""

from __future__ import annotations

import numpy as np

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
    fmt_est,
)
from learnability.runs import Run
from learnability.studies.kernel_regression.config import KernelRegressionConfig, PeriodicSection
from learnability.studies.kernel_regression.results import KernelRegressionResults

__all__ = ["report"]

# Ridge's slope factor S_xx / (S_xx + alpha) within this of 1 counts as "negligible" shrinkage.
NEGLIGIBLE_SHRINK = 0.01
# Eigenvalues are drawn on a log axis; |eig| below this (rounding) is drawn at it.
EIGENVALUE_FLOOR = 1e-18
# Relative gaps below this are float64 rounding of well-conditioned solves (eps ~ 2e-16 times
# condition numbers of ~1e2..1e4 here).
EXACT_REL = 1e-10


def report(res: KernelRegressionResults, run: Run) -> Report:
    """The report, from the typed results and the run folder alone."""
    rep = Report(
        "Linear, ridge and kernel ridge regression (Lab 2)",
        headline={
            f"slope without / with intercept (true {fmt(res.true_slope)})": f"{fmt(res.no_intercept_slope.mean, 4)} / "
            f"{fmt(res.with_intercept_slope.mean, 4)}",
            "test MSE: kernel ridge vs linear": f"{fmt(res.test_mse_krr.mean)} vs {fmt(res.test_mse_linear.mean)}",
            "noise floor": fmt(res.noise_variance),
        },
    )
    _exercise_1(rep, res, run)
    _exercise_2(rep, res, run)
    _primal_dual(rep, res)
    return rep


def _recovers(res: KernelRegressionResults) -> str:
    """``"recovers slope ... and intercept ..."``: whether each interval contains the true value."""
    verb = {True: "recovers", False: "misses"}
    s_ok = not res.with_intercept_slope.excludes(res.true_slope)
    i_ok = not res.with_intercept_intercept.excludes(res.true_intercept)
    slope, intercept = fmt_est(res.with_intercept_slope, 4), fmt_est(res.with_intercept_intercept, 4)
    if s_ok == i_ok:
        return f"{verb[s_ok]} slope {slope} and intercept {intercept}"
    return f"{verb[s_ok]} slope {slope} but {verb[i_ok]} intercept {intercept}"


def _linear_text(res: KernelRegressionResults, cfg: KernelRegressionConfig, s_xx: float) -> str:
    lin = cfg.linear
    biased = res.no_intercept_slope.excludes(res.true_slope)
    shrink = s_xx / (s_xx + res.ridge_alpha)
    return (
        f"{lin.n} points with x ~ U[{fmt(lin.x_low)}, {fmt(lin.x_high)}] and y ~ N({fmt(res.true_slope)} x + "
        f"{fmt(res.true_intercept)}, {fmt(lin.noise_sd)}^2); means over {res.seeds} data sets with 95% CIs. "
        f"Without an intercept the slope is {fmt_est(res.no_intercept_slope, 4)} — "
        + (
            "it absorbs the offset"
            if biased
            else f"its interval contains the true slope {fmt(res.true_slope)}: there is no offset to absorb"
        )
        + f", and its population limit a + b E[x]/E[x^2] is {fmt(res.no_intercept_slope_limit)}. With an "
        f"intercept the fit {_recovers(res)} (true "
        f"{fmt(res.true_slope)} and {fmt(res.true_intercept)}). "
        f"Ridge with alpha = {fmt(res.ridge_alpha)} (intercept unpenalised) moves the slope by at most "
        f"{fmt(res.ridge_minus_ols_slope_max)} from least squares: the slope is shrunk by S_xx / (S_xx + alpha) "
        f"with S_xx = sum (x - mean x)^2 = {fmt(s_xx)} on the first data set, a factor {fmt(shrink, 6)} — "
        + ("negligible" if 1.0 - shrink < NEGLIGIBLE_SHRINK else "a visible shrinkage")
        + ". The ridge path below shows the slope shrinking only once alpha is comparable to S_xx."
    )


def _exercise_1(rep: Report, res: KernelRegressionResults, run: Run) -> None:
    cfg: KernelRegressionConfig = run.config
    lin = cfg.linear
    d = run.load_arrays(KernelRegressionResults.LINEAR_DATA)
    s_xx = float(d["s_xx"])
    rep.add(Heading("Exercise 1: linear data"), Text(_linear_text(res, cfg, s_xx)))
    rows = [
        [
            "least squares, no intercept",
            fmt_est(res.no_intercept_slope, 4),
            "0 (fixed)",
            fmt_est(res.no_intercept_train_mse),
            fmt_est(res.no_intercept_test_mse),
        ],
        [
            "least squares with intercept",
            fmt_est(res.with_intercept_slope, 4),
            fmt_est(res.with_intercept_intercept, 4),
            fmt_est(res.with_intercept_train_mse),
            fmt_est(res.with_intercept_test_mse),
        ],
        [
            f"ridge, alpha = {fmt(res.ridge_alpha)}",
            fmt_est(res.ridge_slope, 4),
            fmt_est(res.ridge_intercept, 4),
            fmt_est(res.ridge_train_mse),
            fmt_est(res.ridge_test_mse),
        ],
    ]
    rep.add(
        Table(
            ["model", "slope", "intercept", "train MSE", f"test MSE ({lin.n_test} fresh points)"],
            rows,
            caption=f"True slope {fmt(res.true_slope)}, intercept {fmt(res.true_intercept)}, "
            f"noise variance {fmt(lin.noise_sd**2)}.",
        )
    )
    t = run.load_table(KernelRegressionResults.LINEAR_TABLE).iloc[0]
    xs = np.linspace(lin.x_low, lin.x_high, 2)
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
                                res.true_slope * xs + res.true_intercept,
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
                        hlines=[(res.true_slope, "true slope")],
                        vlines=[(s_xx, "S_xx")],
                    ),
                    Panel(
                        [Line(d["path_alphas"], d["path_intercept"], label="intercept", mode="lines+markers")],
                        xscale="log",
                        xlabel="alpha",
                        ylabel="intercept",
                        title="Ridge path: intercept",
                        hlines=[(res.true_intercept, "true intercept")],
                        vlines=[(s_xx, "S_xx")],
                    ),
                ],
                caption="The no-intercept line is forced through the origin; ridge shrinks the slope towards 0 "
                "(and the unpenalised intercept towards mean y) only for alpha of the order of S_xx.",
            )
        )
    )


def _noise(per: PeriodicSection) -> str:
    """The noise as the config draws it: ``"4 U[0, 1]"``."""
    return f"{fmt(per.noise_scale)} U[0, 1]"


def _gram_text(res: KernelRegressionResults, per: PeriodicSection) -> str:
    singular = res.gram_numerical_rank < per.n
    text = (
        f"The Gaussian Gram matrix at sigma = {fmt(res.gram_sigma)} on the {per.n} grid points has eigenvalues "
        f"from {fmt(res.gram_max_eigenvalue)} down to {fmt(res.gram_min_eigenvalue)}; "
        f"{res.gram_numerical_rank} of {per.n} exceed the rounding level n eps lambda_max"
        + (
            ", so without regularisation the linear system K c = y is numerically singular. "
            if singular
            else ": K is numerically invertible. "
        )
    )
    if res.alpha0_fits == 0:
        return text + f"alpha = 0 was not in the cross-validation grid ({res.cv_fits} fits in all)."
    if res.alpha0_singular_fits == 0:
        return text + (
            f"In cross-validation the Cholesky factorisation of K + alpha I succeeded in all {res.alpha0_fits} "
            f"fits with alpha = 0 ({res.cv_fits} fits in all)."
        )
    return text + (
        f"In cross-validation the Cholesky factorisation of K + alpha I failed in {res.alpha0_singular_fits} of "
        f"the {res.alpha0_fits} fits with alpha = 0 (all bandwidths, folds and seeds; {res.cv_fits} fits in "
        "all), where KernelRidge fell back to least squares with a LinAlgWarning."
    )


def _cv_text(res: KernelRegressionResults, per: PeriodicSection) -> str:
    singular_note = "" if per.include_zero_alpha else " (alpha = 0 was not in the grid.)"
    return (
        f"Sigma and alpha are chosen by {per.folds}-fold cross-validation on the training split "
        f"({per.n - per.n_test} points); the {per.n_test} held-out points are used once per model at the end. "
        f"CV chose alpha > 0 in {100 * res.cv_alpha_positive_fraction:.0f}% of the {res.seeds} seeds"
        f"{singular_note}; chosen sigma ranged over {fmt(min(res.chosen_sigma))}–{fmt(max(res.chosen_sigma))} "
        f"and alpha over {fmt(min(res.chosen_alpha))}–{fmt(max(res.chosen_alpha))}. Held-out MSE: kernel ridge "
        f"{fmt_est(res.test_mse_krr)}, linear regression {fmt_est(res.test_mse_linear)}; the linear model's "
        f"error is {fmt_est(res.linear_over_krr_test_mse)} times kernel ridge's, and kernel ridge was better on "
        f"{100 * res.krr_beats_linear_fraction:.0f}% of seeds. The noise {_noise(per)} has variance "
        f"{fmt(res.noise_variance)}, the lowest expected MSE any model can reach: kernel ridge is "
        f"{fmt(res.test_mse_krr.mean / res.noise_variance)} times that floor. With the lab's sigma = "
        f"{fmt(res.gram_sigma)} and only alpha chosen by CV, the held-out MSE is "
        f"{fmt_est(res.test_mse_krr_lab_sigma)}."
    )


def _centring_text(run: Run) -> str:
    """Kernel ridge fits centred targets: say so, with the first seed's training mean."""
    p = run.load_arrays(KernelRegressionResults.PERIODIC_FIRST)
    mean = float(np.mean(p["y"][p["train"]]))
    return (
        "**Kernel ridge centres the targets.** Every kernel ridge fit here (CV and final) subtracts the "
        f"training targets' mean (first seed: {fmt(mean)}) before fitting and adds it back to the predictions. "
        "Kernel ridge (the library's KernelRidge, like scikit-learn's) has no intercept: without centring, "
        "the Gaussian-kernel fit would be pulled towards 0 wherever the data are sparse, and alpha would "
        "shrink the whole curve towards 0 rather than towards the mean."
    )


def _primal_dual(rep: Report, res: KernelRegressionResults) -> None:
    """Lab 2's primal = dual identity, measured (absent from older runs)."""
    pd_ = res.primal_dual
    if pd_ is None:
        return
    exact = max(pd_.wide_dual_vs_pinv, pd_.wide_prediction_gap, pd_.tall_dual_pinv_vs_primal) < EXACT_REL
    singular = pd_.tall_dual_gram_rank < pd_.tall_n
    rep.add(
        Heading("Primal = dual (Lab 2's recap)"),
        Text(
            "Lab 2 recalls w = (X^T X)^-1 X^T y = X^T (X X^T)^-1 y, and f(z) = z^T w = k(z, X) K^-1 y with the "
            f"linear kernel K = X X^T. With more features than points (N = {pd_.wide_n}, P = {pd_.wide_p}), "
            f"X X^T is invertible: X^T (X X^T)^-1 y differs from pinv(X) y by {fmt(pd_.wide_dual_vs_pinv)} "
            f"(relative) and the dual predictions k(z, X) K^-1 y from the primal z^T w by "
            f"{fmt(pd_.wide_prediction_gap)}. On exercise 1's design [x, 1] (N = {pd_.tall_n}, P = {pd_.tall_p}) "
            f"X X^T is {pd_.tall_n} x {pd_.tall_n} of rank {pd_.tall_dual_gram_rank}"
            + (": singular, so (X X^T)^-1 does not exist there" if singular else "")
            + f"; with the pseudo-inverse, X^T (X X^T)^+ y differs from (X^T X)^-1 X^T y by "
            f"{fmt(pd_.tall_dual_pinv_vs_primal)}. "
            + (
                "Primal and dual agree to rounding: the identity holds wherever its inverses exist."
                if exact
                else "Primal and dual do NOT agree to rounding here."
            )
        ),
    )


def _exercise_2(rep: Report, res: KernelRegressionResults, run: Run) -> None:
    per: PeriodicSection = run.config.periodic
    rep.add(
        Heading("Exercise 2: kernel ridge regression on periodic data"),
        Text(_gram_text(res, per)),
        Text(_cv_text(res, per)),
        Text(_centring_text(run)),
    )
    rows = [
        ["kernel ridge (sigma, alpha by CV)", fmt_est(res.cv_mse), fmt_est(res.test_mse_krr)],
        [f"kernel ridge (sigma = {fmt(res.gram_sigma)}, alpha by CV)", "—", fmt_est(res.test_mse_krr_lab_sigma)],
        ["linear regression with intercept", "—", fmt_est(res.test_mse_linear)],
        [f"noise floor (variance of {_noise(per)})", "—", fmt(res.noise_variance)],
    ]
    rep.add(
        Table(
            ["model", "CV MSE (training split)", "held-out MSE"],
            rows,
            caption=f"Means over {res.seeds} seeds (noise draw and split) with 95% CIs.",
        )
    )
    p = run.load_arrays(KernelRegressionResults.PERIODIC_FIRST)
    _first_seed_fit(rep, per, p, run.load_table(KernelRegressionResults.PERIODIC_TABLE).iloc[0])
    _cross_validation(rep, res, per, p)
    _test_mse(rep, res)


def _first_seed_fit(rep: Report, per: PeriodicSection, p: dict[str, np.ndarray], t0: object) -> None:
    x, y, tr, te = p["x"], p["y"], p["train"], p["test"]
    xs = p["x_fine"]
    truth = xs + per.amplitude * np.sin(xs) + per.noise_scale / 2.0  # E[U[0, 1]] = 1/2
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


def _cross_validation(
    rep: Report, res: KernelRegressionResults, per: PeriodicSection, p: dict[str, np.ndarray]
) -> None:
    sig, alp, sc = p["sigmas"], p["alphas"], p["cv_scores"]  # (S,), (A,), (S, A)
    i, j = np.unravel_index(int(np.argmin(sc)), sc.shape)
    pos = alp > 0
    why = (
        "the banded Gram matrix and its fast-decaying spectrum explain why alpha = 0 is singular."
        if res.gram_numerical_rank < per.n
        else f"at sigma = {fmt(res.gram_sigma)} the Gram matrix has full numerical rank: alpha = 0 is not "
        "singular there."
    )
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
                        hlines=[(res.noise_variance, "noise floor")],
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
                        hlines=[(res.noise_variance, "noise floor")],
                    ),
                    Panel(
                        [Heatmap(p["gram"], cmap="viridis", colorbar_label="k(x_i, x_j)")],
                        title=f"Gram matrix, sigma = {fmt(res.gram_sigma)}",
                        xlabel="point index (x increasing)",
                        ylabel="point index",
                    ),
                    Panel(
                        [
                            Line(
                                np.arange(1, len(p["gram_eigenvalues"]) + 1),
                                np.maximum(p["gram_eigenvalues"], EIGENVALUE_FLOOR),
                                mode="lines+markers",
                            )
                        ],
                        yscale="log",
                        xlabel="rank",
                        ylabel="eigenvalue",
                        title=f"Gram spectrum (|eig| < {fmt(EIGENVALUE_FLOOR)} drawn at {fmt(EIGENVALUE_FLOOR)})",
                    ),
                ],
                ncols=2,
                caption=f"First seed. CV curves through the best (sigma, alpha); {why}",
            )
        )
    )


def _test_mse(rep: Report, res: KernelRegressionResults) -> None:
    ests = [res.test_mse_krr, res.test_mse_krr_lab_sigma, res.test_mse_linear]
    lo = [e.low if e.has_interval else e.mean for e in ests]
    hi = [e.high if e.has_interval else e.mean for e in ests]
    rep.add(
        Figure(
            Chart(
                "test_mse",
                [
                    Panel(
                        [
                            Bar(
                                ["kernel ridge (CV)", f"kernel ridge (sigma {fmt(res.gram_sigma)})", "linear"],
                                [e.mean for e in ests],
                                errors=(lo, hi),
                                label=f"held-out MSE, mean over {res.seeds} seeds",
                            )
                        ],
                        ylabel="MSE",
                        title="Held-out MSE (95% CI)",
                        hlines=[(res.noise_variance, "noise floor")],
                    )
                ],
            )
        )
    )
