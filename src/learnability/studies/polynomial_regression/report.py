"""The polynomial-regression report: MSE vs degree, regularisation, landscapes, honest selection,
OLS three ways. Every sentence that states a finding is computed from the numbers."""

from __future__ import annotations

import numpy as np

from learnability._words import plural
from learnability.analysis import Estimate
from learnability.report import Bar, Chart, Figure, Heading, Heatmap, Line, Panel, Report, Table, Text, fmt, fmt_est
from learnability.runs import Run
from learnability.studies.polynomial_regression.config import PolynomialRegressionConfig
from learnability.studies.polynomial_regression.parts import MSE_FLOOR, geometric_mean
from learnability.studies.polynomial_regression.results import MoreData, PolynomialRegressionResults
from learnability.studies.polynomial_regression.run import GOOD_DEGREE, INTERPOLATING_DEGREE, INTERPOLATION_MSE

__all__ = ["report"]

R = PolynomialRegressionResults
# The three OLS solutions "agree" below this max weight difference (normal equations of a
# kappa ~ 1e4 Hessian lose ~4 of 16 digits; GD converges to ~1e-15).
AGREE_TOL = 1e-8
# Fits are drawn clipped to [-PLOT_CLIP, PLOT_CLIP] (interpolants oscillate far beyond the data).
PLOT_CLIP = 3.0
# A feature matrix is called ill-conditioned from this condition number: a solve loses 6 of
# float64's 16 digits (and the normal equations, cond^2, lose 12).
ILL_CONDITIONED = 1e6
# A relative basis gap "far below the noise level": 100 times smaller than the noise sd (the fits
# are of size ~1, like sin).
FAR_BELOW_NOISE = 1e-2
# Colours of the data and the truth in the fit panels.
DATA_COLOUR, TEST_COLOUR, TRUTH_COLOUR = "#000000", "#999999", "#009E73"


def report(res: PolynomialRegressionResults, run: Run) -> Report:
    """The report, from the typed results and the run folder alone."""
    cfg: PolynomialRegressionConfig = run.config
    best = res.best_test_degree
    rep = Report(
        "Polynomial regression, regularisation and loss landscapes (Tutorial 3, Lab 3)",
        headline={
            "lowest test MSE of the degree sweep": f"degree {best}: {fmt_est(res.test_mse_by_degree[best])}",
            "selected on validation: test MSE": fmt_est(res.selection_test_mse),
            "OLS three ways: max weight difference": fmt(res.ols.max_abs_difference),
        },
    )
    degree_sweep(res, cfg, run, rep)
    regularisation(res, cfg, run, rep)
    landscapes(res, cfg, run, rep)
    selection(res, cfg, rep)
    ols_three_ways(res, cfg, rep)
    lab3_basics(res, rep)
    tutorial_exercises(res, cfg, rep)
    return rep


def _band(ests: list[Estimate]) -> tuple[list[float], list[float]]:
    """Lower and upper bounds for a band (the mean where an interval is undefined)."""
    lo = [e.low if e.has_interval else e.mean for e in ests]
    hi = [e.high if e.has_interval else e.mean for e in ests]
    return lo, hi


def _clip(y: np.ndarray) -> np.ndarray:
    return np.clip(y, -PLOT_CLIP, PLOT_CLIP)


def degree_sweep(res: PolynomialRegressionResults, cfg: PolynomialRegressionConfig, run: Run, rep: Report) -> None:
    """Train and test MSE vs degree, coefficients, conditioning and the Legendre cross-check."""
    test, train = res.test_mse_by_degree, res.train_mse_by_degree
    best, floor, n = res.best_test_degree, res.noise_variance, res.n_train
    worst = int(np.argmax([e.mean for e in test]))
    interp = res.interpolation_degree
    cond, coef = res.condition_number_by_degree, res.max_abs_coef_by_degree
    d_good, d_interp = min(GOOD_DEGREE, len(coef) - 1), min(INTERPOLATING_DEGREE, len(cond) - 1)
    d_max = int(np.argmax(coef))
    interp_text = (
        f"reaches rounding level (median <= {fmt(INTERPOLATION_MSE)}) from degree {interp} on — with "
        f"{n} points a degree-{n - 1} polynomial interpolates —"
        if interp is not None
        else "never reaches rounding level"
    )
    coef_text = (
        f"grows from {fmt(coef[d_good])} at degree {d_good} to {fmt(max(coef))} at degree {d_max}"
        if d_max > d_good
        else f"is largest at degree {d_max} ({fmt(max(coef))})"
    )
    gap, bound = res.legendre_vs_monomial_max_gap, res.legendre_gap_bound
    if gap > bound:
        verdict = ": MORE than the conditioning explains — check the solver."
    elif gap < FAR_BELOW_NOISE * np.sqrt(floor):
        verdict = ": as accurate as the conditioning allows, and far below the noise level."
    else:
        verdict = ": as accurate as the conditioning allows."
    rep.add(
        Heading("MSE vs degree of the polynomial fit"),
        Text(
            f"{n} training and {cfg.sweep.n_test} test points per data set, {cfg.sweep.seeds} data sets; "
            f"geometric means with 95% CIs (MSEs span many decades). Train MSE falls from {fmt_est(train[0])} at "
            f"degree 0 and {interp_text} while test MSE is lowest at degree {best} ({fmt_est(test[best])}, "
            f"{fmt(test[best].mean / floor)}x the noise variance {fmt(floor)}) and highest at degree {worst} "
            f"({fmt_est(test[worst])}, {fmt(test[worst].mean / test[best].mean)}x the minimum). The largest "
            f"monomial coefficient (median over data sets) {coef_text}; beyond degree {n - 1} the system is "
            "under-determined and lstsq returns the minimum-norm coefficients (the tutorial's torch.inverse(X^T X) "
            "is singular there). The monomial feature matrix is "
            + ("ill-conditioned" if cond[d_interp] >= ILL_CONDITIONED else "not badly conditioned")
            + f" (condition number {fmt(cond[d_interp])} at degree {d_interp}). Refitting every degree below "
            f"{n} in a Legendre basis on [0, 1] (well conditioned; the least-squares polynomial is unique "
            f"there) changes the fitted function by at most {fmt(gap)} of its largest value on [0, 1], against "
            f"eps x condition number = {fmt(bound)} for the worst matrix" + verdict
        ),
    )
    fs = run.load_arrays(R.FIRST_SEED)
    g, degrees = fs["grid"], np.arange(len(test))
    caption = (
        f"Train MSE reaches rounding level (drawn at {fmt(MSE_FLOOR)}) from degree {interp}, where the "
        f"polynomial interpolates the {n} points."
        if interp is not None
        else f"Train MSE never reaches rounding level (drawn at {fmt(MSE_FLOOR)}): no degree interpolates."
    )
    rep.add(
        Figure(
            Chart(
                "mse_vs_degree",
                [
                    Panel(
                        [
                            Line(
                                degrees, [e.mean for e in train], band=_band(train), label="train", mode="lines+markers"
                            ),
                            Line(degrees, [e.mean for e in test], band=_band(test), label="test", mode="lines+markers"),
                        ],
                        yscale="log",
                        xlabel="degree",
                        ylabel="MSE (geometric mean, 95% CI)",
                        title="MSE loss vs degree of the polynomial fit",
                        hlines=[(floor, "noise variance")],
                    ),
                    Panel(
                        [
                            Line(fs["x"], fs["t"], mode="markers", label="train", color=DATA_COLOUR),
                            Line(fs["x_test"], fs["t_test"], mode="markers", label="test", color=TEST_COLOUR),
                            Line(g, np.sin(2 * np.pi * g), dash=True, label="sin(2 pi x)", color=TRUTH_COLOUR),
                            Line(g, _clip(fs["pred_deg3"]), label=f"degree {GOOD_DEGREE}"),
                            Line(g, _clip(fs["pred_deg9"]), label=f"degree {d_interp}"),
                        ],
                        xlabel="x",
                        ylabel="t",
                        title=f"First data set (fits clipped to +-{fmt(PLOT_CLIP)})",
                    ),
                ],
                caption=caption,
            )
        )
    )


def _more_data_text(res: PolynomialRegressionResults) -> str:
    """One clause per degree: how error and largest coefficient move with more data."""

    def trend(small: Estimate, large: Estimate) -> str:
        return "falls" if large.mean < small.mean else "rises"

    clauses = [
        f"at degree {r.degree} the MSE {trend(r.eval_mse_small, r.eval_mse_large)} from "
        f"{fmt_est(r.eval_mse_small)} to {fmt_est(r.eval_mse_large)} and the largest coefficient "
        f"{trend(r.max_abs_coef_small, r.max_abs_coef_large)} from {fmt_est(r.max_abs_coef_small)} to "
        f"{fmt_est(r.max_abs_coef_large)}"
        for r in res.more_data
    ]
    both: list[MoreData] = [
        r
        for r in res.more_data
        if r.eval_mse_large.mean < r.eval_mse_small.mean and r.max_abs_coef_large.mean > r.max_abs_coef_small.mean
    ]
    caveat = ""
    if both:
        caveat = (
            f" At degree {both[0].degree} more data fixes the fit while its monomial coefficients grow: the "
            "least-squares approximation of sin(2 pi x) in this ill-conditioned basis has large, cancelling "
            "coefficients, so a large coefficient is not by itself a sign of overfitting — an unstable fit "
            "is (compare the errors)."
        )
    r0 = res.more_data[0]
    return f"More data, from {r0.n_small} to {r0.n_large} training points: " + "; ".join(clauses) + "." + caveat


def regularisation(res: PolynomialRegressionResults, cfg: PolynomialRegressionConfig, run: Run, rep: Report) -> None:
    """More data and weight decay: error and coefficient size, with the per-size / per-lambda curves."""
    rg = cfg.regularisation
    dn, dt = res.decay_none, res.decay_tutorial
    rep.add(
        Heading("Regularisation: more data and weight decay"),
        Text(
            f"Errors on {cfg.sweep.eval_points} fresh points per data set (curves for illustration; nothing is "
            "chosen from them). "
            + _more_data_text(res)
            + " Weight decay (closed-form ridge, theta = (X^T X + lambda I)^-1 X^T t as in the tutorial, every "
            f"coefficient penalised): at degree {res.decay_degree} with {res.n_train} points the tutorial's "
            f"lambda = {fmt(res.tutorial_lambda)} changes the MSE from {fmt_est(dn.eval_mse)} (lambda = 0, "
            f"minimum-norm interpolant) to {fmt_est(dt.eval_mse)} and the largest coefficient from "
            f"{fmt_est(dn.max_abs_coef)} to {fmt_est(dt.max_abs_coef)}."
        ),
    )
    more = run.load_table(R.MORE_DATA_TABLE)
    decay = run.load_table(R.WEIGHT_DECAY_TABLE)
    noise = [(res.noise_variance, "noise variance")]
    panels = []
    for col, ylabel, title in (
        ("eval_mse", "MSE (geometric mean)", "More data: error"),
        ("max_abs_coef", "max |theta_j| (geometric mean)", "More data: coefficients"),
    ):
        lines = []
        for d in rg.data_degrees:
            sub = more[more["degree"] == d]
            sizes = sorted(sub["n"].unique())
            ests = [geometric_mean(sub.loc[sub["n"] == n, col].to_numpy()) for n in sizes]
            lines.append(
                Line(sizes, [e.mean for e in ests], band=_band(ests), label=f"degree {d}", mode="lines+markers")
            )
        panels.append(
            Panel(
                lines,
                xscale="log",
                yscale="log",
                xlabel="training points",
                ylabel=ylabel,
                title=title,
                hlines=noise if col == "eval_mse" else [],
            )
        )
    for col, ylabel, title in (
        ("eval_mse", "MSE (geometric mean)", "Weight decay: error"),
        ("max_abs_coef", "max |theta_j| (geometric mean)", "Weight decay: coefficients"),
    ):
        lines = []
        for d in rg.decay_degrees:
            sub = decay[(decay["degree"] == d) & (decay["lambda"] > 0) & ~decay["tutorial"]]
            lams = sorted(sub["lambda"].unique())
            ests = [geometric_mean(sub.loc[sub["lambda"] == lam, col].to_numpy()) for lam in lams]
            lines.append(
                Line(lams, [e.mean for e in ests], band=_band(ests), label=f"degree {d}", mode="lines+markers")
            )
        panels.append(
            Panel(
                lines,
                xscale="log",
                yscale="log",
                xlabel="lambda",
                ylabel=ylabel,
                title=title,
                vlines=[(res.tutorial_lambda, "tutorial's lambda")],
                hlines=noise if col == "eval_mse" else [],
            )
        )
    rep.add(Figure(Chart("regularisation", panels, ncols=2)))
    coefficients_figure(res, run, rep)


def coefficients_figure(res: PolynomialRegressionResults, run: Run, rep: Report) -> None:
    """The top decay degree on the first data set: coefficients and fits without and with decay."""
    fs = run.load_arrays(R.FIRST_SEED)
    g, k = fs["grid"], [str(i) for i in range(fs["coef_top"].size)]
    lam = f"lambda = {fmt(res.tutorial_lambda)}"
    dn, dt = res.decay_none.max_abs_coef, res.decay_tutorial.max_abs_coef
    caption = (
        "Weight decay "
        + ("keeps the high-order coefficients small" if dt.mean < dn.mean else "does NOT keep the coefficients small")
        + f": the largest coefficient goes from {fmt_est(dn)} to {fmt_est(dt)} (geometric means over data sets)."
    )
    rep.add(
        Figure(
            Chart(
                "coefficients",
                [
                    Panel(
                        [
                            Bar(k, np.log10(np.maximum(np.abs(fs["coef_top"]), 1e-300)).tolist(), label="lambda = 0"),
                            Bar(k, np.log10(np.maximum(np.abs(fs["coef_top_decay"]), 1e-300)).tolist(), label=lam),
                        ],
                        xlabel="power j of x",
                        ylabel="log10 |theta_j|",
                        title=f"Degree {res.decay_degree}, first data set",
                    ),
                    Panel(
                        [
                            Line(fs["x"], fs["t"], mode="markers", label="train", color=DATA_COLOUR),
                            Line(g, np.sin(2 * np.pi * g), dash=True, label="sin(2 pi x)", color=TRUTH_COLOUR),
                            Line(g, _clip(fs["pred_top"]), label="lambda = 0"),
                            Line(g, _clip(fs["pred_top_decay"]), label=lam),
                        ],
                        xlabel="x",
                        ylabel="t",
                        title="The two fits (clipped)",
                    ),
                ],
                caption=caption,
            )
        )
    )


def landscapes(res: PolynomialRegressionResults, cfg: PolynomialRegressionConfig, run: Run, rep: Report) -> None:
    """Loss landscapes of a x + b: the loop check, midpoint convexity, where the minimisers sit."""
    land = run.load_table(R.LANDSCAPES_TABLE)
    maps = run.load_arrays(R.LANDSCAPE_MAPS)
    a, b = maps["a"], maps["b"]
    ok = res.landscape_all_convex
    n_argmin = len({(r.argmin_a, r.argmin_b) for r in land.itertuples()})
    rep.add(
        Heading("Loss landscapes of f(x) = a x + b"),
        Text(
            f"On the first training set, over a {len(a)} x {len(b)} grid of (a, b) in [{fmt(a[0])}, {fmt(a[-1])}]^2. "
            f"The vectorised landscape (broadcast residuals of shape (A, B, N)) matches the tutorial's double loop "
            f"to {fmt(res.landscape_loop_vs_vectorised)}. Midpoint convexity on the grid — f(midpoint) <= mean of "
            "the two ends, for every pair of grid points whose midpoint is a grid point — "
            + (
                f"holds for every loss (largest gap {fmt(res.landscape_max_gap)}, rounding level), as it must: each "
                "loss is a norm of the affine residual vector, hence convex."
                if ok
                else f"FAILS for at least one loss (largest gap {fmt(res.landscape_max_gap)})."
            )
            + f" Least squares gives a = {fmt(res.ols_line[0])}, b = {fmt(res.ols_line[1])}"
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
    # Cell indices on the axes, mapped to (a, b) in the axis titles (see kernel_features).
    step = float(a[1] - a[0])
    axes = {
        "xlabel": f"index j: b = {fmt(b[0])} + {fmt(step)} j",
        "ylabel": f"index i: a = {fmt(a[0])} + {fmt(step)} i",
    }
    caption = "Grid values; " + (
        "every landscape passed the midpoint-convexity check."
        if ok
        else "at least one landscape FAILED the midpoint-convexity check."
    )
    rep.add(
        Figure(
            Chart(
                "landscapes",
                [
                    Panel([Heatmap(np.log10(maps["mse"]), colorbar_label="log10 MSE")], title="log10 MSE", **axes),
                    Panel([Heatmap(maps["l1"], colorbar_label="L1 loss")], title="L1", **axes),
                    Panel(
                        [Heatmap(maps["lp_max"], colorbar_label=f"L{fmt(max(cfg.landscape.p_values))} loss")],
                        title=f"L{fmt(max(cfg.landscape.p_values))}",
                        **axes,
                    ),
                ],
                caption=caption,
            )
        )
    )


def selection(res: PolynomialRegressionResults, cfg: PolynomialRegressionConfig, rep: Report) -> None:
    """Degree and lambda chosen on validation; the chosen models' test MSE and the optimism ratio."""
    sel = cfg.selection
    degs, lams = res.selection_degrees, res.selection_lambdas
    n_degrees = len(res.test_mse_by_degree)
    counts = np.bincount(degs, minlength=n_degrees)
    mode = int(np.argmax(counts))
    ratio = res.selection_test_over_val
    rep.add(
        Heading("Choosing degree and lambda on validation data"),
        Text(
            f"{sel.n_train} training, {sel.n_val} validation and {sel.n_test} test points per split, "
            f"{sel.seeds} splits. Every degree 0-{n_degrees - 1} and lambda in {{0}} plus "
            f"{sel.num_lambda} values in [{fmt(sel.min_lambda)}, {fmt(sel.max_lambda)}] is fitted on the training "
            "split and scored on the validation split; the chosen model is evaluated on the test split once. The "
            f"most frequent choice is degree {mode} ({counts[mode]} of {len(degs)} splits); lambda > 0 was chosen "
            f"in {sum(1 for v in lams if v > 0)} of {len(lams)}. Test MSE of the chosen models: "
            f"{fmt_est(res.selection_test_mse)} (noise variance {fmt(res.noise_variance)}), against a validation "
            f"MSE of {fmt_est(res.selection_val_mse)}; test / validation = {fmt_est(ratio)} (geometric mean of "
            "per-split ratios)"
            + (
                ": the winner's validation score is optimistic, as a minimum over many candidates is."
                if ratio.low > 1
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


def ols_three_ways(res: PolynomialRegressionResults, cfg: PolynomialRegressionConfig, rep: Report) -> None:
    """Closed form, gradient descent and autograd on Lab 3's data, and why GD runs centred."""
    ols, c = res.ols, cfg.ols
    agree = ols.max_abs_difference < AGREE_TOL
    rep.add(
        Heading("OLS three ways (Lab 3)"),
        Text(
            f"N = {c.n} points, P = {c.p} uniform features plus a bias column, y = X M + N(0, 1). The closed form "
            f"(normal equations, Cholesky) agrees with the SVD solution to {fmt(ols.closed_vs_svd)}. Gradient "
            f"descent and torch autograd ({c.steps} steps each, lr = 1 / lambda_max) run on the centred features, "
            f"whose Hessian has condition number {fmt(ols.kappa_centred)}, against {fmt(ols.kappa_raw)} for the raw "
            "design with its bias column (uniform features share the mean 0.5). At lr = 1 / lambda_max GD needs "
            f"about ln(eps) / ln(1 - 1/kappa) steps to reach machine precision: {fmt(ols.steps_needed['centred'])} "
            f"centred, {fmt(ols.steps_needed['raw'])} raw; after the same {c.steps} steps GD on the raw design is "
            f"still {fmt(ols.raw_gd_max_error)} away from the solution. With centring, the largest difference "
            f"between any two of the three weight vectors is {fmt(ols.max_abs_difference)} — "
            + ("the three methods agree." if agree else "they do NOT agree.")
            + f" The closed-form fit's training MSE is {fmt(ols.train_mse)} (the noise variance is 1, and a "
            f"least-squares fit with P + 1 = {c.p + 1} parameters leaves about (N - P - 1) / N = "
            f"{fmt((c.n - c.p - 1) / c.n)} of it in the residuals); fitted bias {fmt(ols.bias)}."
        ),
        Table(["pair", "max |w_a - w_b|"], [[k, fmt(v)] for k, v in ols.pairwise.items()]),
    )


def lab3_basics(res: PolynomialRegressionResults, rep: Report) -> None:
    """Lab 3's autograd check and CPU vs GPU matmul timing (absent from older runs)."""
    ag, mm = res.autograd, res.matmul
    if ag is None or mm is None:
        return
    verdict = (
        "identical to the closed forms, as the lab's `==` checks expect"
        if ag.exact
        else f"NOT identical to the closed forms (largest difference {fmt(ag.max_abs_error)})"
    )
    if mm.cuda_ms is None:
        gpu = "There is no CUDA device here, so the GPU half of the lab's comparison was not run."
    else:
        gpu = (
            f"On the GPU ({mm.cuda_device}) it takes {fmt(mm.cuda_ms)} ms (synchronised), "
            f"{fmt(mm.cpu_ms / mm.cuda_ms)} times "
            + ("faster." if mm.cuda_ms < mm.cpu_ms else "the CPU's time: no faster at this size.")
        )
    rep.add(
        Heading("PyTorch basics (Lab 3)"),
        Text(
            f"**Autograd.** Q = 3 a^3 - b^2 with a = {ag.a}, b = {ag.b}; after "
            f"Q.sum().backward(), a.grad = {ag.grad_a} and b.grad = {ag.grad_b} against 9 a^2 = {ag.expected_a} and "
            f"-2 b = {ag.expected_b}: {verdict}.\n\n"
            f"**CPU vs GPU.** A {mm.size} x {mm.size} float32 matmul takes {fmt(mm.cpu_ms)} ms on the CPU "
            f"({plural(mm.cpu_threads, 'thread')}, mean of {mm.repeats} after a warm-up). {gpu} Timings depend on "
            "the machine and its load; they are the only numbers of this study that do."
        ),
    )


def tutorial_exercises(res: PolynomialRegressionResults, cfg: PolynomialRegressionConfig, rep: Report) -> None:
    """Tutorial 3's ranking of scenarios A-E, f1/f2/f3 and the fits in torch (absent from older runs)."""
    if res.scenarios is None or res.linear_in_theta is None or res.torch_fits is None:
        return
    rows = [
        [
            s.name,
            s.n_train,
            fmt(s.noise_sd),
            f"[0, {fmt(s.x_max)}]",
            "sin(k x), k fitted" if s.known_form else "polynomial, degree by leave-one-out",
            fmt(s.median_k) if s.median_k is not None else fmt(s.median_degree),
            fmt_est(s.test_mse),
        ]
        for s in res.scenarios
    ]
    ranking = " > ".join(s.name for s in res.scenarios)
    first, last = res.scenarios[0], res.scenarios[-1]
    separated = all(a.test_mse.high < b.test_mse.low for a, b in zip(res.scenarios, res.scenarios[1:], strict=False))
    rep.add(
        Heading("Tutorial 3's exercises"),
        Text(
            f"**Which scenario predicts best?** Each scenario is drawn {cfg.exercises.scenario_seeds} times; its best "
            "fit (a polynomial whose degree is chosen by leave-one-out on the scenario's own points, or sin(k x) "
            "with k fitted when the form is known) is scored on fresh x ~ U[0, 1] against sin(2 pi x). "
            f"Measured ranking, best first: {ranking}"
            + (" (each 95% CI below the next)." if separated else " (some neighbours' 95% CIs overlap).")
            + f" Best: {first.name}, test MSE {fmt_est(first.test_mse)}; worst: {last.name}, {fmt_est(last.test_mse)}."
        ),
        Table(
            ["scenario", "points", "noise sd", "x range", "fit", "median degree / k", "test MSE"],
            rows,
            caption="Geometric mean [95% CI] over draws, best first.",
        ),
    )
    lt = res.linear_in_theta
    theta_err, x_err = max(lt.theta_superposition_error.values()), min(lt.x_superposition_error.values())
    linear = theta_err < AGREE_TOL
    rep.add(
        Text(
            "**Linear in theta, not in x.** f1 = a x + b, f2 = a x^2 + b x + c, f3 = a sin(2 pi x) + b x + c: "
            "f(x; alpha theta1 + beta theta2) - alpha f(x; theta1) - beta f(x; theta2) is at most "
            f"{fmt(theta_err)} over random thetas ("
            + ("linear in theta, to rounding" if linear else "NOT linear in theta")
            + "), while the same superposition in x misses by at least "
            f"{fmt(x_err)} (none is linear in x: f1's intercept, f2's square, f3's sine). Least squares therefore "
            "fits each through its design matrix: training MSE on the first data set "
            + ", ".join(f"{k} {fmt(v)}" for k, v in lt.train_mse.items())
            + "."
        )
    )
    tf = res.torch_fits
    worst = max(tf.max_prediction_gap)
    at = int(np.argmax(tf.max_prediction_gap))
    noise = cfg.sweep.noise_sd
    rep.add(
        Text(
            f"**Fits in torch.** torch.linalg.lstsq on the monomial design (float64), degrees 0 to "
            f"{len(tf.max_prediction_gap) - 1}, predicts within {fmt(worst)} of the study's stable solver on [0, 1] "
            f"(largest at degree {at}, whose design has condition number {fmt(tf.condition_number[at])}): "
            + (
                f"far below the noise sd {fmt(noise)}, so torch gives the same fits."
                if worst < FAR_BELOW_NOISE * noise
                else f"NOT far below the noise sd {fmt(noise)}: the two solvers give different fits."
            )
        )
    )
