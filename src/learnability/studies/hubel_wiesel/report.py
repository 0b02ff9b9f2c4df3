"""The hubel-wiesel report: exactness against the baselines, 1-NN accuracy, example cells."""

from __future__ import annotations

import numpy as np

from learnability.report import (
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
from learnability.studies.hubel_wiesel.config import GroupName, HubelWieselConfig
from learnability.studies.hubel_wiesel.parts import GROUP_LABELS, REPRESENTATIONS, WRONG_LABELS
from learnability.studies.hubel_wiesel.results import (
    DigitsGroup,
    DigitsResults,
    HubelWieselResults,
    SymmetryErrors,
)

__all__ = ["report"]

#: Exact zeros are drawn at this fraction of the float64 machine epsilon on log-scale charts.
LOG_FLOOR_FRACTION = 1e-2
#: A baseline error this many times above the worst exactness error (or epsilon) counts as detected.
SEPARATION = 1e6


def report(res: HubelWieselResults, run: Run) -> Report:
    """The report, from the typed results and the run folder alone."""
    cfg: HubelWieselConfig = run.config
    syn = res.synthetic
    groups = list(syn)
    nls = cfg.nonlinearities
    worst_eq = max(syn[g].equivariance for g in groups)
    worst_inv = max(syn[g].invariance(nl) for g in groups for nl in nls)
    baseline_least = min(min(syn[g].unpermuted for g in groups), min(syn[g].wrong_group for g in groups))
    rep = Report(
        "Hubel-Wiesel cells: equivariant simple cells, invariant complex cells",
        headline={
            "worst simple-cell equivariance error (float64)": fmt(worst_eq),
            "worst complex-cell invariance error (float64)": fmt(worst_inv),
            "smallest baseline error (must be > 0)": fmt(baseline_least),
        },
    )
    rep.add(Heading("Exactness on synthetic images"), Text(_synthetic_text(res, cfg)))
    cols = (
        ["group", "order", "simple: s(gx) vs permuted s(x)"]
        + [f"complex ({nl})" for nl in nls]
        + ["baseline: s(gx) vs s(x)", "baseline: pooled over wrong group"]
    )
    rows = [
        [GROUP_LABELS[g], syn[g].order, fmt(syn[g].equivariance)]
        + [fmt(syn[g].invariance(nl)) for nl in nls]
        + [fmt(syn[g].unpermuted), f"{fmt(syn[g].wrong_group)} ({WRONG_LABELS[g]})"]
        for g in groups
    ]
    caption = "Relative max errors max|a - b| / max|b|, worst over the tested elements and images (float64)."
    rep.add(Table(cols, rows, caption=caption))
    dig = res.digits
    dgroups = [g for g in groups if dig is not None and dig.group(g) is not None]
    rep.add(Figure(_exactness_chart(res, cfg, dgroups)))
    if dig is not None and dgroups:
        _add_digits(rep, res, dig, dgroups, cfg, run)
    return rep


def _eps_units(err: float, eps: float) -> str:
    return "exactly 0" if err == 0 else f"{fmt(err)} ({fmt(err / eps)} eps)"


def _synthetic_text(res: HubelWieselResults, cfg: HubelWieselConfig) -> str:
    """What the exactness numbers on noise say, and whether the baselines separate from them."""
    syn, sc, nls, eps64 = res.synthetic, cfg.synthetic, cfg.nonlinearities, res.eps_float64
    worst_eq = max(e.equivariance for e in syn.values())
    worst_inv = max(e.invariance(nl) for e in syn.values() for nl in nls)
    least_unperm = min(e.unpermuted for e in syn.values())
    least_wrong = min(e.wrong_group for e in syn.values())
    exact_worst = max(worst_eq, worst_inv)
    baseline_least = min(least_unperm, least_wrong)
    return (
        f"{sc.n_images} uniform-noise images of {sc.image_size} x "
        f"{sc.image_size} pixels in float64 (machine epsilon {fmt(eps64)}), "
        f"{sc.n_templates} random templates, levels at the quantiles "
        f"{', '.join(fmt(q) for q in cfg.level_quantiles)} of the simple-cell responses; up to "
        f"{sc.max_elements} non-identity group elements tested per group. "
        f"Across the {len(syn)} groups, transforming the input permutes the simple-cell responses up to a "
        f"relative max error of {_eps_units(worst_eq, eps64)}, and the complex cells "
        f"({', '.join(nls)}) change by at most {_eps_units(worst_inv, eps64)}. The baselines are far from "
        f"zero: simple cells compared without the permutation differ by at least {fmt(least_unperm)}, "
        f"and complex cells pooled over the wrong group by at least {fmt(least_wrong)} — "
        + (
            f"{fmt(baseline_least / exact_worst)}x the largest exactness error"
            if exact_worst > 0
            else "while every exactness error is exactly 0"
        )
        + (
            ", so the measurement separates invariance from non-invariance."
            if baseline_least > SEPARATION * max(exact_worst, eps64)
            else ", which does NOT separate invariance from non-invariance clearly."
        )
    )


def _exactness_chart(res: HubelWieselResults, cfg: HubelWieselConfig, dgroups: list[GroupName]) -> Chart:
    """Relative max errors by group order, synthetic (float64) and digits (float32)."""
    nl0 = cfg.nonlinearities[0]
    floor = LOG_FLOOR_FRACTION * res.eps_float64
    measures = [
        ("equivariance", "simple cells, permuted"),
        (f"invariance_{nl0}", f"complex cells ({nl0})"),
        ("unpermuted", "baseline: simple, unpermuted"),
        ("wrong_group", "baseline: wrong group"),
    ]

    def error_panel(errs: dict[str, tuple[int, SymmetryErrors]], title: str, eps: float, eps_label: str) -> Panel:
        # One line per measure against the group's order (a numeric axis keeps the groups apart).
        gs = sorted(errs, key=lambda g: errs[g][0])
        x = [float(np.log2(errs[g][0])) for g in gs]
        lines = [
            Line(x, [max(getattr(errs[g][1], k), floor) for g in gs], label=lab, mode="lines+markers")
            for k, lab in measures
        ]
        names = ", ".join(f"{g} {fmt(v)}" for g, v in zip(gs, x, strict=True))
        return Panel(
            lines,
            title=title,
            xlabel=f"log2 group order ({names})",
            ylabel="relative max error",
            yscale="log",
            hlines=[(eps, eps_label)],
        )

    panels = [
        error_panel(
            {g: (e.order, e) for g, e in res.synthetic.items()}, "synthetic, float64", res.eps_float64, "float64 eps"
        )
    ]
    if dgroups:
        dig = {g: (res.digits.group(g).order, res.digits.group(g).exact) for g in dgroups}
        panels.append(error_panel(dig, "digits, float32", res.eps_float32, "float32 eps"))
    return Chart(
        "exactness",
        panels,
        caption=f"Relative max errors (log scale) by group; exact zeros "
        f"are drawn at {fmt(floor)}; dotted line: machine epsilon of the dtype.",
    )


def _add_digits(
    rep: Report, res: HubelWieselResults, dig: DigitsResults, dgroups: list[GroupName], cfg: HubelWieselConfig, run: Run
) -> None:
    """The digits section: exactness in float32, the 1-NN table and chart, the examples."""
    dc, nls, eps32 = cfg.digits, cfg.nonlinearities, res.eps_float32
    per_group = {g: dig.group(g) for g in dgroups}
    d_eq = max(d.exact.equivariance for d in per_group.values())
    d_inv = max(d.exact.invariance(nl) for d in per_group.values() for nl in nls)
    rep.add(Heading("Digits: exactness in float32 and discriminability"))
    rep.add(
        Text(
            f"{dig.n_train} training and {dig.n_test} test digits ({dig.image_shape[0]} x "
            f"{dig.image_shape[1]}, float32, machine epsilon {fmt(eps32)}); "
            f"{dc.n_templates} templates per draw (random training digits minus the mean "
            f"digit), {dc.template_draws} draws. On {dc.n_exact} test digits "
            f"and every non-identity element, the worst equivariance error is {_eps_units(d_eq, eps32)} and "
            f"the worst invariance error {_eps_units(d_inv, eps32)}."
        )
    )
    rows = [
        [
            GROUP_LABELS[g],
            lab,
            fmt_est(d.knn[r].original),
            fmt_est(d.knn[r].transformed),
            fmt_est(d.knn_transformed_minus_original[r]),
        ]
        for g, d in per_group.items()
        for r, lab in REPRESENTATIONS.items()
    ]
    rep.add(
        Text(
            "1-nearest-neighbour accuracy, training digits untransformed, each test digit "
            "transformed by a random non-identity element. "
            + " ".join(_knn_sentence(g, d) for g, d in per_group.items())
        )
    )
    rep.add(
        Table(
            ["group", "representation", "test digits", "transformed test digits", "transformed - original"],
            rows,
            caption="Mean over template draws with 95% CI (pixels do not depend on the draw).",
        )
    )
    rep.add(Figure(_knn_chart(per_group)))
    examples = _examples_chart(dgroups, run)
    if examples is not None:
        rep.add(Figure(examples))


def _knn_sentence(g: GroupName, d: DigitsGroup) -> str:
    """Complex cells on original vs transformed digits, against pixels, simple cells, wrong pooling."""
    knn = d.knn
    c, p = knn["complex"], knn["pixels"]
    diff_c = d.knn_transformed_minus_original["complex"]
    same = c.original.values == c.transformed.values
    cost = p.original.mean - c.original.mean
    return (
        f"{GROUP_LABELS[g]}: complex cells {fmt_est(c.original)} on the test digits and "
        f"{fmt_est(c.transformed)} on transformed ones ("
        f"{'identical for every template draw' if same else 'difference ' + fmt(diff_c.mean)}), "
        f"{fmt(abs(cost))} {'below' if cost > 0 else 'above'} the pixels on untransformed digits; pixels "
        f"{fmt(p.original.mean)} -> {fmt(p.transformed.mean)}; simple cells "
        f"{fmt(knn['simple'].original.mean)} -> {fmt(knn['simple'].transformed.mean)}; "
        f"wrong-group pooling {fmt(knn['wrong'].original.mean)} -> "
        f"{fmt(knn['wrong'].transformed.mean)}."
    )


def _knn_chart(per_group: dict[GroupName, DigitsGroup]) -> Chart:
    """Accuracy on transformed against original test digits: invariant features lie on the diagonal."""
    panels = []
    for g, d in per_group.items():
        traces = [
            Line([d.knn[r].original.mean], [d.knn[r].transformed.mean], mode="markers", label=lab)
            for r, lab in REPRESENTATIONS.items()
        ]
        traces.append(Line([0, 1], [0, 1], dash=True, color="#999999", label="no change"))
        panels.append(
            Panel(
                traces,
                title=GROUP_LABELS[g],
                xlabel="accuracy, test digits",
                ylabel="accuracy, transformed test digits",
            )
        )
    return Chart(
        "knn_accuracy",
        panels,
        ncols=min(3, len(panels)),
        caption="1-NN test accuracy (mean over template draws): an exactly invariant "
        "representation lies on the diagonal.",
    )


def _examples_chart(dgroups: list[GroupName], run: Run) -> Chart | None:
    """One digit, its transform and their simple cells per group (None without the artifacts)."""
    panels, notes = [], []
    sim = {"cmap": "RdBu_r", "symmetric": True, "colorbar_label": "response"}
    for g in dgroups:
        name = HubelWieselResults.EXAMPLE.format(g)
        if not run.has_artifact(f"{name}.npz"):
            continue
        ex = run.load_arrays(name)
        s_err = float(np.abs(ex["simple_transformed"] - ex["simple_permuted"]).max())
        s_raw = float(np.abs(ex["simple_transformed"] - ex["simple"]).max())
        c_err = float(np.abs(ex["complex_transformed"] - ex["complex"]).max())
        notes.append(
            f"{g}: max |s(g x) - s(x)[:, perm]| = {fmt(s_err)}, max |s(g x) - s(x)| = "
            f"{fmt(s_raw)}, max |c(g x) - c(x)| = {fmt(c_err)}"
        )
        panels += [
            Panel([Heatmap(ex["image"], cmap="gray", colorbar=False)], title=f"{g}: x", image=True),
            Panel([Heatmap(ex["transformed"], cmap="gray", colorbar=False)], title="g x", image=True),
            Panel([Heatmap(ex["simple"], **sim)], title="s(x)", xlabel="j (element)", ylabel="i"),
            Panel([Heatmap(ex["simple_transformed"], **sim)], title="s(g x)", xlabel="j", ylabel="i"),
        ]
    if not panels:
        return None
    return Chart(
        "examples",
        panels,
        ncols=4,
        caption="One test digit x and one element g per group; simple cells s[i, j] "
        "(template i, element j; same colour scale in a row). " + "; ".join(notes) + ".",
    )
