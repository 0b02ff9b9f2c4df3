"""The kernel-pca report: separability of the first component, why the best gamma, figures."""

from __future__ import annotations

import numpy as np

from learnability.report import (
    CLASS_COLOURS,
    Chart,
    Figure,
    Heading,
    Hist,
    Line,
    Panel,
    Report,
    Table,
    Text,
    class_scatter,
    fmt,
    fmt_ci,
    fmt_est,
)
from learnability.runs import Run
from learnability.studies.kernel_pca.config import KernelPCAConfig
from learnability.studies.kernel_pca.results import KernelPCAResults

__all__ = ["report"]

# |corr(kernel PC1, PC1)| from which kernel PCA "reproduces" PCA's first component.
LIKE_PCA = 0.99


def report(res: KernelPCAResults, run: Run) -> Report:
    """The report, from the typed results and the run folder alone."""
    cfg: KernelPCAConfig = run.config
    p, b, r = res.pca, res.best, res.reference
    rep = Report(
        "PCA vs RBF kernel PCA on half moons (Lab 2)",
        headline={
            "PC1 CV accuracy: PCA": fmt_est(p.cv),
            f"PC1 CV accuracy: kernel PCA (gamma {fmt(res.best_gamma)})": fmt_est(b.cv),
            "Fisher ratio gain": f"{fmt(res.fisher_gain_over_pca)}x",
        },
    )
    noise = f", noise={fmt(cfg.noise)}" if cfg.noise else ""
    rep.add(
        Text(
            f"Data: make_moons(n_samples={res.n_samples}, random_state={cfg.data_seed}{noise}). "
            "Separability of the first "
            "component is measured three ways: the best single threshold (optimistic: chosen on the same "
            f"points), a logistic regression cross-validated with {cfg.cv_folds} stratified folds "
            f"repeated {cfg.cv_repeats} times (mean, 95% CI over repeats), and the Fisher ratio "
            "(m1 - m0)^2 / (s1^2 + s0^2)."
        )
    )
    rows = [
        ["PCA", fmt(p.threshold_accuracy), fmt_est(p.cv), fmt(p.fisher_ratio)],
        [
            f"kernel PCA, best gamma = {fmt(res.best_gamma)}",
            fmt(b.threshold_accuracy),
            fmt_est(b.cv),
            fmt(b.fisher_ratio),
        ],
        [
            f"kernel PCA, gamma = {fmt(res.reference_gamma)} (blog post)",
            fmt(r.threshold_accuracy),
            fmt_est(r.cv),
            fmt(r.fisher_ratio),
        ],
    ]
    rep.add(Table(["projection", "threshold accuracy (PC1)", "CV logistic accuracy (PC1)", "Fisher ratio (PC1)"], rows))

    t = run.load_table(KernelPCAResults.SWEEP_TABLE)
    small = res.smallest_gamma
    lo_g, hi_g = res.top_gamma_range
    better = b.cv.low > p.cv.high  # finite: cv_repeats >= 2
    # "Mixes the classes": even the best single threshold on PC1 misclassifies points.
    pca_mixes = p.threshold_accuracy < 1.0 - cfg.accuracy_tie
    like_pca = small.abs_corr_with_pca >= LIKE_PCA
    ell = 1.0 / np.sqrt(2.0 * res.onset_gamma)
    why = [
        (
            f"Linear PCA's first axis is the direction of largest variance "
            f"({100 * res.pca_explained_variance_ratio[0]:.0f}% of it); "
            + (
                f"its first component mixes the classes (best threshold {fmt(p.threshold_accuracy)})"
                if pca_mixes
                else f"its first component already separates the classes (best threshold {fmt(p.threshold_accuracy)})"
            )
            + f": CV accuracy {fmt_est(p.cv)}. RBF kernel PCA at "
            f"gamma = {fmt(res.best_gamma)} reaches {fmt_est(b.cv)} ({'above' if better else 'not above'} PCA's "
            f"interval) with a Fisher ratio {fmt(res.fisher_gain_over_pca)} times PCA's. "
            f"{res.top_gamma_count} gammas of the grid, from {fmt(lo_g)} to {fmt(hi_g)}, are as accurate (within "
            f"{fmt(cfg.accuracy_tie)}); among them the best has the largest Fisher ratio — the classes most compact "
            "relative to their distance on the first component."
        ),
        (
            f"Small gamma: at gamma = {fmt(small.gamma)} the kernel is nearly flat (mean off-diagonal value "
            f"{fmt(small.mean_off_diagonal_kernel)}), its centred Gram matrix is 2 gamma times the linear one to "
            f"first order, and the first component "
            + ("reproduces PCA's" if like_pca else "still differs from PCA's")
            + " (|correlation| = "
            f"{fmt(small.abs_corr_with_pca)}, CV accuracy {fmt(small.cv_accuracy)}). Separation sets in at "
            f"gamma = {fmt(res.onset_gamma)}, a kernel length scale 1/sqrt(2 gamma) = {fmt(ell)}, "
            + (
                f"below the closest approach of the two moons ({fmt(res.moon_gap)}): the kernel between the "
                f"closest points of different moons is exp(-gamma gap^2) = "
                f"{fmt(np.exp(-res.onset_gamma * res.moon_gap**2))}."
                if ell < res.moon_gap
                else f"not below the closest approach of the two moons ({fmt(res.moon_gap)})."
            )
        ),
    ]
    worse = res.first_worse_above
    if worse is None:
        why.append(f"Large gamma: up to the largest gamma tried ({fmt(hi_g)}) the separation holds.")
    else:
        why.append(
            f"Large gamma: separation holds up to gamma = {fmt(hi_g)}, where neighbouring points of an arm "
            f"(median spacing {fmt(res.neighbour_spacing)}) still have kernel value exp(-gamma s^2) = "
            f"{fmt(res.last_top_neighbour_kernel)}: each moon stays one connected chain. At gamma = "
            f"{fmt(worse.gamma)} that value is {fmt(worse.neighbour_kernel)}"
            + (
                ", below float64 rounding, so K is the identity to machine precision, the centred spectrum "
                "is flat and the first component is an arbitrary direction"
                if worse.neighbour_kernel < np.finfo(float).eps
                else ", and the chains start to break up"
            )
            + f": CV accuracy {fmt(worse.cv_accuracy)}, Fisher ratio {fmt(worse.fisher_ratio)}."
        )
    if res.nested_cv is not None and res.nested_gammas is not None:
        why.append(_nested_text(res, cfg))
    rep.add(Heading("Why this gamma"), *(Text(w) for w in why))
    lo = t["cv_low"].where(t["cv_low"].notna(), t["cv_accuracy"])
    hi = t["cv_high"].where(t["cv_high"].notna(), t["cv_accuracy"])
    rep.add(
        Figure(
            Chart(
                "separability_vs_gamma",
                [
                    Panel(
                        [
                            Line(
                                t["gamma"],
                                t["cv_accuracy"],
                                band=(lo, hi),
                                label="CV logistic (95% CI)",
                                mode="lines+markers",
                            ),
                            Line(t["gamma"], t["threshold_accuracy"], label="best threshold", mode="lines+markers"),
                        ],
                        xscale="log",
                        xlabel="gamma",
                        ylabel="accuracy on PC1",
                        title="Accuracy of the first component",
                        hlines=[(p.cv_accuracy, "PCA (CV logistic)")],
                        vlines=[(res.best_gamma, "best gamma")],
                    ),
                    Panel(
                        [Line(t["gamma"], t["fisher_ratio"], mode="lines+markers", label="kernel PCA")],
                        xscale="log",
                        yscale="log",
                        xlabel="gamma",
                        ylabel="Fisher ratio",
                        title="Fisher ratio of PC1",
                        hlines=[(p.fisher_ratio, "PCA")],
                        vlines=[(res.best_gamma, "best gamma")],
                    ),
                    Panel(
                        [
                            Line(t["gamma"], t["abs_corr_with_pca"], label="|corr(kPC1, PC1)|", mode="lines+markers"),
                            Line(
                                t["gamma"],
                                t["mean_off_diagonal_kernel"],
                                label="mean off-diagonal k",
                                mode="lines+markers",
                            ),
                            Line(
                                t["gamma"], 1.0 / t["eigenvalue_ratio"], label="lambda2 / lambda1", mode="lines+markers"
                            ),
                        ],
                        xscale="log",
                        xlabel="gamma",
                        ylabel="value",
                        title="Diagnostics",
                    ),
                ],
                caption="Small gamma: kernel PCA = PCA. Large gamma: K ~ I and a flat spectrum.",
            )
        )
    )

    a = run.load_arrays(KernelPCAResults.PROJECTIONS)
    labels = a["labels"]
    names = ("moon 0", "moon 1")

    def hist(z: np.ndarray) -> list[Hist]:
        edges = np.linspace(z.min(), z.max(), cfg.hist_bins + 1)
        return [
            Hist(z[labels == c], label=names[c], bins=edges.tolist(), color=CLASS_COLOURS[c], density=False)
            for c in (0, 1)
        ]

    rep.add(
        Figure(
            Chart(
                "projections",
                [
                    Panel(class_scatter(a["X"], labels, names), title="data", xlabel="x1", ylabel="x2"),
                    Panel(class_scatter(a["pca"], labels, names), title="PCA", xlabel="PC1", ylabel="PC2"),
                    Panel(
                        class_scatter(a["kpca_best"], labels, names),
                        title=f"kernel PCA, gamma = {fmt(res.best_gamma)}",
                        xlabel="PC1",
                        ylabel="PC2",
                    ),
                    Panel(
                        class_scatter(a["kpca_reference"], labels, names),
                        title=f"kernel PCA, gamma = {fmt(res.reference_gamma)}",
                        xlabel="PC1",
                        ylabel="PC2",
                    ),
                    Panel(hist(a["pca"][:, 0]), title="PCA: first component", xlabel="PC1", ylabel="count"),
                    Panel(
                        hist(a["kpca_best"][:, 0]),
                        title=f"kernel PCA (gamma {fmt(res.best_gamma)}): first component",
                        xlabel="PC1",
                        ylabel="count",
                    ),
                ],
                ncols=2,
                caption="Top: the data. Middle: projections on two components. Bottom: the first "
                "component alone — overlapping histograms mean the classes are not separable on it.",
            )
        )
    )
    rows = [
        [fmt(g), fmt(ta), fmt_ci(c, (l_, h_)), fmt(f)]
        for g, ta, c, l_, h_, f in zip(
            t["gamma"], t["threshold_accuracy"], t["cv_accuracy"], lo, hi, t["fisher_ratio"], strict=True
        )
    ]
    rep.add(
        Table(
            ["gamma", "threshold accuracy", "CV logistic accuracy", "Fisher ratio"],
            rows,
            caption="Kernel PCA, first component, every gamma of the sweep.",
        )
    )
    return rep


def _nested_text(res: KernelPCAResults, cfg: KernelPCAConfig) -> str:
    """The best gamma's accuracy by nested cross-validation, against the sweep's own estimate."""
    nested, swept = res.nested_cv, res.best.cv
    assert nested is not None and res.nested_gammas is not None
    chosen = sorted(set(res.nested_gammas))
    if nested.high < swept.low:
        verdict = "below the sweep's estimate: that estimate is optimistic"
    elif nested.low > swept.high:
        verdict = "above the sweep's estimate"
    else:
        verdict = "consistent with the sweep's estimate"
    return (
        f"**Nested cross-validation.** The sweep scores every gamma with one cross-validation, fits kernel PCA "
        "on all points (unsupervised, but the test folds' points shape the component), and reports the best "
        f"score: {fmt_est(swept)}. In nested CV ({cfg.cv_folds} outer folds, {cfg.nested_repeats} repeats) each "
        "outer training fold chooses its own gamma by an inner CV on its points only, kernel PCA is fitted on "
        "them and the outer test fold is projected with transform: accuracy "
        f"{fmt_est(nested)}, {verdict}. Gammas chosen: {', '.join(fmt(g) for g in chosen)}."
    )
