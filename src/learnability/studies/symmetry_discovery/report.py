"""The symmetry-discovery report: ablations of the loss, the sort-weight sweep, learned Gramians."""

from __future__ import annotations

import numpy as np

from learnability.analysis import Estimate
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
from learnability.studies.symmetry_discovery.config import SymmetryDiscoveryConfig
from learnability.studies.symmetry_discovery.measures import COMMUTATOR_BATCHES
from learnability.studies.symmetry_discovery.parts import ABLATION_LABELS, ABLATIONS
from learnability.studies.symmetry_discovery.results import SweepPoint, SymmetryDiscoveryResults

__all__ = ["report"]

#: Anisotropy below which the report calls a weight covariance "nearly isotropic".
NEARLY_ISOTROPIC = 0.1
#: Anisotropy below which the data covariance counts as a multiple of the identity (float32 data).
NEARLY_ISOTROPIC_DATA = 1e-4
#: Relative gap below which the soft sort "is effectively the hard sort".
HARD_SORT_GAP = 1e-3

#: The ablation table's measures (ConfigSummary attributes), in column order.
ABLATION_COLUMNS = (
    ("circulant_distance", "circulant dist."),
    ("angle_gap_ratio", "max angle gap / ideal"),
    ("norm_spread", "norm spread"),
    ("sorted_error_linear", "sorted err. W x"),
    ("sorted_error_hidden", "sorted err. hidden"),
    ("logit_change", "logit change"),
    ("prediction_agreement", "same prediction"),
    ("train_accuracy", "train acc."),
    ("test_accuracy", "off-grid test acc."),
)
#: Of those, the first-layer measures the hand-built orbit layer has.
IDEAL_COLUMNS = 5


def _ratio_words(a: float, b: float) -> str:
    """ "3.2x lower than" / "1.5x higher than" / "equal to" comparing a to b."""
    if a == b:
        return "equal to"
    if a < b:
        return f"{fmt(b / a) if a > 0 else 'infinitely'}x lower than"
    return f"{fmt(a / b) if b > 0 else 'infinitely'}x higher than"


def _interval_words(est: Estimate) -> str:
    return "an interval excluding 0" if est.excludes(0.0) else "an interval including 0"


def report(res: SymmetryDiscoveryResults, run: Run) -> Report:
    """The report, from the typed results and the run folder alone."""
    cfg: SymmetryDiscoveryConfig = run.config
    full, ce = res.ablation["full"], res.ablation["ce_only"]
    rep = Report(
        "Symmetry discovery: a regularised loss for the rotation group C_m",
        headline={
            "circulant distance (full loss)": fmt_est(full.circulant_distance),
            "circulant distance (CE only)": fmt_est(ce.circulant_distance),
            "sorted-values error of W x (full / CE only)": f"{fmt(full.sorted_error_linear.mean)} / "
            f"{fmt(ce.sorted_error_linear.mean)}",
            "off-grid test accuracy (full loss)": fmt_est(full.test_accuracy),
        },
    )
    setup(rep, res, cfg)
    ablations(rep, res)
    alternative(rep, res, cfg)
    sort_weight_sweep(rep, res, cfg)
    figures(rep, run)
    return rep


def setup(rep: Report, res: SymmetryDiscoveryResults, cfg: SymmetryDiscoveryConfig) -> None:
    """The data, the model, the training; which covariance the commutator uses; the soft sort."""
    full = res.ablation["full"]
    m, tc = res.group_order, cfg.train
    rep.add(
        Heading("Setup"),
        Text(
            f"{res.n_train} points: {cfg.n_orbits} full orbits of C_{m} (a rotation every "
            f"{fmt(cfg.step_degrees)} degrees), labelled by orbit and shuffled; a one-hidden-layer "
            f"ReLU classifier with {res.hidden} hidden units; {res.n_members} members trained together with "
            f"Adam at the rate {fmt(res.chosen_lr)} chosen by a sweep on the training objective of the full "
            f"loss{' (at the edge of the grid)' if res.lr_at_edge else ''}; {tc.steps} steps, "
            f"{tc.seeds} seeds per loss configuration, the same initialisation and data order "
            f"for the same seed in every configuration (paired comparisons). "
            f"The off-grid test set has {res.n_test} points of the same circles at random angles."
        ),
    )
    cov_words = (
        "each member's mini-batch covariance (anisotropic batch by batch)"
        if res.covariance == "batch"
        else "the covariance of the whole training set"
    )
    zero_words = (
        ", so with it the commutator term is identically zero up to rounding"
        if res.full_data_anisotropy < NEARLY_ISOTROPIC_DATA
        else ""
    )
    soft = "effectively the hard sort" if res.soft_vs_hard_sort_gap < HARD_SORT_GAP else "a smoothed sort"
    rep.add(
        Text(
            f"**Commutator: which covariance.** The data covariance is {cov_words}. The covariance of "
            f"the full training set has anisotropy {fmt(res.full_data_anisotropy)} (0 for a multiple of "
            f"the identity){zero_words}: for the full-loss members "
            f"the term evaluates to {fmt_est(full.commutator_full)} with it, against "
            f"{fmt_est(full.commutator_batch_mean)} on average over {COMMUTATOR_BATCHES} mini-batches. "
            f"**Soft sort.** At temperature {fmt(res.temperature)} the soft-sorted rows of the initial "
            f"Gramian differ from the hard-sorted ones by {fmt(res.soft_vs_hard_sort_gap)} (relative max), "
            f"so at this scale the soft sort is {soft}."
        )
    )


def ablations(rep: Report, res: SymmetryDiscoveryResults) -> None:
    """The ablation table, the paired effect of each term, the invariance of the representation."""
    ab = res.ablation
    full, ce, cc = ab["full"], ab["ce_only"], ab["ce_commutator"]
    rep.add(Heading("Ablation of the loss terms"))
    rows = [[ABLATION_LABELS[a]] + [fmt_est(getattr(ab[a], k)) for k, _ in ABLATION_COLUMNS] for a in ABLATIONS]
    if res.ideal_orbit is not None:
        io = res.ideal_orbit
        rows.append(
            ["(reference) hand-built orbit layer, equal biases"]
            + [fmt(getattr(io, k)) for k, _ in ABLATION_COLUMNS[:IDEAL_COLUMNS]]
            + ["—"] * (len(ABLATION_COLUMNS) - IDEAL_COLUMNS)
        )
    rows.append(
        ["(reference) initialisation", fmt_est(res.init_circulant_distance)] + ["—"] * (len(ABLATION_COLUMNS) - 1)
    )
    rep.add(
        Table(
            ["loss"] + [title for _, title in ABLATION_COLUMNS],
            rows,
            caption="Means over seeds with 95% CIs. Circulant distance: relative "
            "Frobenius distance of the angle-ordered Gramian to the nearest circulant matrix. Sorted "
            "error: the lab's test, distance between the sorted activations of x and of a rotated "
            "x, averaged over the points and divided by the mean norm of the activations (0 when "
            "the rotation only permutes the units).",
        )
    )

    se = res.effects["sort:circulant_distance"].difference
    ce_eff = res.effects["commutator:circulant_distance"].difference
    txt = (
        f"Adding the sort term to cross-entropy + commutator changes the circulant distance by "
        f"{fmt_est(se)} (paired over seeds; {_interval_words(se)}): "
        f"{fmt(full.circulant_distance.mean)} with it, "
        f"{_ratio_words(full.circulant_distance.mean, cc.circulant_distance.mean)} "
        f"{fmt(cc.circulant_distance.mean)} without it, and "
        f"{fmt(res.init_circulant_distance.mean)} at initialisation. "
        f"Adding the commutator term to cross-entropy + sort changes it by {fmt_est(ce_eff)} "
        f"({_interval_words(ce_eff)}). "
    )
    txt += (
        f"The mini-batch commutator pushes the weights' covariance towards isotropy; its anisotropy "
        f"((l_max - l_min) / (l_max + l_min)) is "
        f"{fmt_est(res.init_anisotropy)} at initialisation, {fmt_est(ce.anisotropy)} after "
        f"training with cross-entropy only, {fmt_est(cc.anisotropy)} with CE + commutator "
        f"and {fmt_est(full.anisotropy)} with the full loss"
        + (
            ", so cross-entropy alone already leaves it nearly isotropic."
            if ce.anisotropy.mean < NEARLY_ISOTROPIC
            else "."
        )
    )
    rep.add(Text(txt))
    lin_f, lin_c = full.sorted_error_linear.mean, ce.sorted_error_linear.mean
    ideal = (
        f"The hand-built orbit layer with equal biases scores {fmt(res.ideal_orbit.sorted_error_hidden)} "
        f"on the same test, which is what exact equivariance reads as in float32. "
        if res.ideal_orbit is not None
        else ""
    )
    rep.add(
        Text(
            f"**Invariance of the representation.** Rotating the input by a group element permutes the "
            f"bias-free responses W x of the full-loss members up to a sorted-values error of "
            f"{fmt_est(full.sorted_error_linear)}, {_ratio_words(lin_f, lin_c)} with cross-entropy only "
            f"({fmt_est(ce.sorted_error_linear)}). The hidden layer relu(W x + b) reaches "
            f"{fmt_est(full.sorted_error_hidden)}: no term constrains the biases (their standard deviation "
            f"is {fmt_est(full.bias_std)}), and a unit's response is permuted to another unit's only "
            f"if their biases match. "
            + ideal
            + f"The logits change by {fmt_est(full.logit_change)} (relative) under rotations and "
            f"{fmt(100 * full.prediction_agreement.mean)}% of the predictions are unchanged "
            f"(cross-entropy only: {fmt_est(ce.logit_change)}, {fmt(100 * ce.prediction_agreement.mean)}%). "
            f"Off-grid test accuracy: {fmt_est(full.test_accuracy)} with the full loss, "
            f"{fmt_est(ce.test_accuracy)} with cross-entropy only."
        )
    )


def sort_weight_sweep(rep: Report, res: SymmetryDiscoveryResults, cfg: SymmetryDiscoveryConfig) -> None:
    """The sweep of the sort weight: a sentence, a table and (positive weights) a log-log figure."""
    sw = res.sort_weight_sweep
    rep.add(Heading("Sweep of the sort weight"))
    best = min(sw, key=lambda r: r.circulant_distance.mean)
    rep.add(
        Text(
            f"With the commutator at weight {fmt(cfg.commutator_weight)}, the circulant distance goes from "
            f"{fmt_est(sw[0].circulant_distance)} at sort weight {fmt(sw[0].sort_weight)} to "
            f"{fmt_est(sw[-1].circulant_distance)} at {fmt(sw[-1].sort_weight)}; the lowest mean, "
            f"{fmt(best.circulant_distance.mean)}, is at weight {fmt(best.sort_weight)}, where the "
            f"off-grid test accuracy is {fmt_est(best.test_accuracy)} (at weight {fmt(sw[0].sort_weight)}: "
            f"{fmt_est(sw[0].test_accuracy)})."
        )
    )
    rep.add(
        Table(
            ["sort weight", "circulant dist.", "sorted err. W x", "max angle gap / ideal", "off-grid test acc."],
            [
                [
                    fmt(r.sort_weight),
                    fmt_est(r.circulant_distance),
                    fmt_est(r.sorted_error_linear),
                    fmt_est(r.angle_gap_ratio),
                    fmt_est(r.test_accuracy),
                ]
                for r in sw
            ],
        )
    )
    # Positive weights on a log axis; weight 0 and the initialisation as reference lines.
    pos = [r for r in sw if r.sort_weight > 0]
    zero = next((r for r in sw if r.sort_weight == 0), None)
    if not pos:
        return
    panels = [
        _sweep_panel(pos, zero, "circulant_distance", "Gramian vs circulant", "relative distance", res),
        _sweep_panel(pos, zero, "sorted_error_linear", "equivariance of W x", "sorted-values error", None),
    ]
    rep.add(
        Figure(
            Chart(
                "sort_weight_sweep",
                panels,
                caption="Commutator at its full-loss weight. "
                "Lower CI bounds below a tenth of the smallest mean are clipped there (log axis).",
            )
        )
    )


def _sweep_panel(
    pos: list[SweepPoint],
    zero: SweepPoint | None,
    key: str,
    title: str,
    ylabel: str,
    init: SymmetryDiscoveryResults | None,
) -> Panel:
    """One measure against the positive sort weights (log-log), with weight 0 (and, given
    ``init``'s results, the initialisation) as horizontal lines."""
    ests = [getattr(r, key) for r in pos]
    means = np.array([e.mean for e in ests])
    floor = 0.1 * float(means[means > 0].min()) if (means > 0).any() else 1e-12
    lo = [max(e.low if e.has_interval else e.mean, floor) for e in ests]
    hi = [max(e.high if e.has_interval else e.mean, floor) for e in ests]
    hl = []
    if zero is not None:
        z = getattr(zero, key).mean
        hl.append((z, f"sort weight 0: {fmt(z)}"))
    if init is not None:
        i = init.init_circulant_distance.mean
        hl.append((i, f"initialisation: {fmt(i)}"))
    return Panel(
        [
            Line(
                [r.sort_weight for r in pos],
                np.maximum(means, floor),
                band=(lo, hi),
                mode="lines+markers",
                label="mean over seeds, 95% CI",
            )
        ],
        title=title,
        xlabel="sort weight",
        ylabel=ylabel,
        xscale="log",
        yscale="log",
        hlines=hl,
    )


def figures(rep: Report, run: Run) -> None:
    """Learned Gramians and weight vectors (seed 0), and the sort term during training."""
    ex = run.load_arrays(SymmetryDiscoveryResults.EXAMPLES)
    rep.add(Heading("Learned Gramians"))
    rep.add(
        Figure(
            Chart(
                "gramians",
                [
                    Panel(
                        [Heatmap(ex["init_gram"], cmap="RdBu_r", symmetric=True, colorbar_label="w_i . w_j")],
                        title="initialisation",
                        xlabel="unit j (by angle)",
                        ylabel="unit i (by angle)",
                    ),
                    Panel(
                        [Heatmap(ex["ce_only_gram"], cmap="RdBu_r", symmetric=True, colorbar_label="w_i . w_j")],
                        title="cross-entropy only",
                        xlabel="unit j (by angle)",
                        ylabel="unit i (by angle)",
                    ),
                    Panel(
                        [Heatmap(ex["full_gram"], cmap="RdBu_r", symmetric=True, colorbar_label="w_i . w_j")],
                        title="full loss",
                        xlabel="unit j (by angle)",
                        ylabel="unit i (by angle)",
                    ),
                ],
                caption="Gramians W W^T of the first layer (seed 0), units ordered by the angle of their weight "
                "vector. A circulant matrix is constant along each wrapped diagonal.",
            )
        )
    )
    panels = []
    for a in ("ce_only", "full"):
        w = ex[f"{a}_weights"]
        panels.append(
            Panel(
                [Line(w[:, 0], w[:, 1], mode="markers", label=ABLATION_LABELS[a])],
                title=f"weight vectors: {ABLATION_LABELS[a]}",
                xlabel="w_1",
                ylabel="w_2",
            )
        )
    rep.add(
        Figure(
            Chart(
                "weights",
                panels,
                caption="First-layer weight vectors (seed 0); an orbit of C_m is m points evenly spaced on one circle.",
            )
        )
    )

    # Training curves of the sort term per configuration.
    members = run.load_table(SymmetryDiscoveryResults.MEMBERS_TABLE)
    df = run.series(SymmetryDiscoveryResults.SORT_CURVE, SymmetryDiscoveryResults.MEMBERS_TAG)
    if df.empty:
        return
    lines = []
    for cname, sub in members.groupby("config", sort=False):
        idx = sub.index.to_numpy()  # member index = row index of the members table
        curve = df[df["member"].isin(idx)].groupby("step")["value"].median()
        if (curve > 0).all():
            lines.append(Line(curve.index.to_numpy(float), curve.to_numpy(float), label=cname))
    if lines:
        rep.add(
            Figure(
                Chart(
                    "sort_term_curves",
                    [
                        Panel(
                            lines,
                            title="sort term on the training set",
                            xlabel="step",
                            ylabel="relative spread",
                            yscale="log",
                        )
                    ],
                    caption="Median over seeds of the (unweighted) sort term during training.",
                )
            )
        )


def _compare(effect: Estimate, lower: str, higher: str) -> str:
    """Words for a paired difference (orbit minus reference) whose negative side is ``lower``."""
    if not effect.excludes(0.0):
        return f"not distinguishable ({fmt_est(effect)}, an interval including 0)"
    return f"{lower if effect.mean < 0 else higher} ({fmt_est(effect)})"


def alternative(rep: Report, res: SymmetryDiscoveryResults, cfg: SymmetryDiscoveryConfig) -> None:
    """The orbit-consistency term against the soft-sort Gramian (absent from older runs)."""
    o = res.orbit
    if o is None or not res.orbit_effects or res.generator_degrees is None:
        return
    step = cfg.step_degrees
    eff = res.orbit_effects
    rows = [[ABLATION_LABELS[a]] + [fmt_est(getattr(res.ablation[a], k)) for k, _ in ABLATION_COLUMNS]
            for a in ("ce_only", "ce_sort")]  # fmt: skip
    rows.append(["CE + orbit consistency"] + [fmt_est(getattr(o, k)) for k, _ in ABLATION_COLUMNS])
    sentences = [
        "- **Circulant Gramian.** Against CE + sort, the orbit term's circulant distance is "
        + _compare(eff["ce_sort:circulant_distance"].difference, "lower", "higher")
        + "; against CE only, "
        + _compare(eff["ce_only:circulant_distance"].difference, "lower", "higher")
        + ".",
        "- **W x permutes under rotations** (sorted-values error of the bias-free layer). Against CE + sort: "
        + _compare(eff["ce_sort:sorted_error_linear"].difference, "lower", "higher")
        + "; against CE only: "
        + _compare(eff["ce_only:sorted_error_linear"].difference, "lower", "higher")
        + ".",
        "- **Off-grid test accuracy** against CE + sort: "
        + _compare(eff["ce_sort:test_accuracy"].difference, "lower", "higher")
        + ".",
    ]
    rep.add(
        Heading("An alternative regulariser: orbit consistency"),
        Text(
            "The challenge invites other constraints than the Gramian's. Orbit consistency asks the bias-free "
            "first layer to answer R x with a permutation of its answer to x, ||sort(W R x) - sort(W x)||^2 / "
            f"||W x||^2 with weight {fmt(o.orbit_weight)}, averaged over R = G, G^2, G^4, ... where G is the "
            "group's generator estimated from the data (the rotation that best sends each point to its nearest "
            f"counter-clockwise neighbour on its orbit): here {fmt(res.generator_degrees)} degrees, against the "
            f"true step of {fmt(step)}. It is trained with "
            "the cross-entropy alone (no sort, no commutator term), with the same seeds and rate as the "
            "ablations; paired differences are orbit minus the reference, over seeds."
        ),
        Table(
            ["loss"] + [label for _, label in ABLATION_COLUMNS],
            rows,
            caption=f"Mean [95% CI] over {res.ablation['ce_only'].circulant_distance.n} seeds.",
        ),
        Text("\n".join(sentences)),
    )
