"""The representation-invariance report: scores per model and angle, the gap, the notebook's pairing."""

from __future__ import annotations

import numpy as np

from learnability.report import (
    Bar,
    Chart,
    Figure,
    Heading,
    Heatmap,
    Hist,
    Line,
    Panel,
    Report,
    Table,
    Text,
    fmt,
    fmt_est,
)
from learnability.runs import Run
from learnability.studies.images.representation_invariance.pairs import RANDOM_ANGLE
from learnability.studies.images.representation_invariance.results import RepresentationInvarianceResults

__all__ = ["report"]

# Significance level of the sentences of the report.
ALPHA = 0.05


def _p(p: float) -> str:
    """A p-value (scipy returns 0 below the smallest double)."""
    return "< 1e-300" if p == 0 else fmt(p)


def report(res: RepresentationInvarianceResults, run: Run) -> Report:
    """The report, from the typed results and the run folder alone."""
    labels, sc, nb = res.angles, res.scores, res.notebook
    arrays = run.load_arrays(RepresentationInvarianceResults.DISTANCES)
    lo, hi = res.rotation_degrees
    focus = "90" if "90" in labels else labels[0]
    rep = Report(
        "Lab 4bis — invariance of a shallow FCN's representation to rotations",
        headline={
            "data": res.dataset,
            f"score at {focus} deg (rotation-augmented)": fmt_est(sc["rotation"][focus].score_images),
            f"score at {focus} deg (not augmented)": fmt_est(sc["none"][focus].score_images),
            "notebook pairing's score (both models)": f"{fmt(nb['rotation'].score)} / {fmt(nb['none'].score)}",
        },
    )
    acc = res.test_accuracy
    acc_text = (
        f" Test accuracy on upright test images: {fmt_est(acc['rotation'])} (rotation-augmented), "
        f"{fmt_est(acc['none'])} (not augmented)."
        if acc
        else ""
    )
    reload_text = (
        f" Each model was saved with `save_weights` and loaded into a fresh model with "
        f"`load_weights` (tensors only, `weights_only=True`); the largest difference "
        f"between the outputs of a trained and a reloaded model is {fmt(res.reload_max_abs_diff)}."
        if res.reload_max_abs_diff is not None
        else ""
    )
    rep.add(
        Heading("Setup"),
        Text(
            f"**Data:** {res.dataset_description}.\n\n"
            f"**Models:** Lab 4's shallow linear FCN, trained without augmentation (`none`) and with "
            f"random rotations in [{fmt(lo)}, {fmt(hi)}] degrees (`rotation`), {res.seeds} seeds each; "
            f"{res.weights_source}.{reload_text}{acc_text}\n\n"
            f"**Representation:** the output of layer `{res.layer}`, read with forward hooks.\n\n"
            f"**Pairs:** each of the {res.n_test} test images `x` with its own rotation `g x` "
            f"(angles {', '.join(labels)}; `random` = one angle per image drawn from the augmentation "
            f"range), both normalised after rotating. **Control:** each image with an unrelated test "
            f"image (one random derangement, the same for every model and angle). Distances are "
            f"Euclidean, averaged per image over the {res.seeds} seeds. The **invariance score** is "
            f"`1 - mean(pair distance) / mean(control distance)`: 1 = invariant, 0 = rotating an image "
            f"moves its representation as far as replacing it by another image."
        ),
    )
    _pairs_figure(rep, labels, arrays)
    _scores(rep, res, focus, arrays)
    _gap(rep, res)
    rep.add(Heading("What the numbers say"), Text("\n".join(_sentences(res))))
    return rep


def _pairs_figure(rep: Report, labels: list[str], arrays: dict[str, np.ndarray]) -> None:
    """One test image and its rotations."""
    ex = arrays["example"][0]
    panels = [Panel([Heatmap(ex, cmap="gray", vmin=0, vmax=1, colorbar=False)], title="original", image=True)]
    panels += [
        Panel(
            [Heatmap(arrays["rotated"][j, 0], cmap="gray", vmin=0, vmax=1, colorbar=False)],
            title=f"rotated {label}",
            image=True,
        )
        for j, label in enumerate(labels)
    ]
    caption = "One test image and the transformed halves of its pairs."
    rep.add(Figure(Chart("pairs", panels, ncols=len(panels), panel_size=(1.5, 1.7), caption=caption)))


def _scores(rep: Report, res: RepresentationInvarianceResults, focus: str, arrays: dict[str, np.ndarray]) -> None:
    """The table of scores and tests, the score against the angle and the distance histograms."""
    labels, sc = res.angles, res.scores
    rows = [
        [
            v,
            label,
            fmt_est(e.score_images),
            fmt_est(e.score_seeds),
            fmt(e.mean_pair),
            fmt(e.mean_control),
            fmt(e.cohens_dz),
            _p(e.t_pvalue),
            _p(e.wilcoxon_pvalue),
        ]
        for v in ("rotation", "none")
        for label in labels
        for e in (sc[v][label],)
    ]
    rep.add(
        Heading("Pairs against the control"),
        Table(
            [
                "model",
                "angle",
                "score [bootstrap CI, images]",
                "score [t CI, seeds]",
                "mean pair distance",
                "mean control distance",
                "Cohen's d_z",
                "t-test p",
                "Wilcoxon p",
            ],
            rows,
            caption="One-sided paired tests of 'pair distance < control distance' over images; d_z is "
            "the mean paired difference (pair - control) over its standard deviation.",
        ),
    )
    fixed = sorted((lab for lab in labels if lab != RANDOM_ANGLE), key=float)
    xs = np.array([float(lab) for lab in fixed])
    lines = []
    for v in ("rotation", "none"):
        ests = [sc[v][lab].score_images for lab in fixed]
        band = (np.array([e.low for e in ests]), np.array([e.high for e in ests]))
        lines.append(Line(xs, np.array([e.mean for e in ests]), label=v, band=band, mode="lines+markers"))
    i_focus = labels.index(focus)
    hists = []
    for i, v in enumerate(("none", "rotation")):  # the order of the saved arrays (VARIANTS)
        a = arrays["paired"][i, i_focus].mean(axis=0)
        b = arrays["control"][i, i_focus].mean(axis=0)
        hists.append(
            Panel(
                [Hist(a, label=f"pair (rotated {focus})"), Hist(b, label="control")],
                title=f"{v}: distances",
                xlabel=f"||f(x) - f(.)|| at layer {res.layer}",
                ylabel="density",
            )
        )
    lo, hi = res.rotation_degrees
    score_panel = Panel(
        lines,
        title="invariance score vs rotation angle",
        xlabel="angle (degrees)",
        ylabel="score",
        vlines=[(lo, ""), (hi, "augmentation range")],
        hlines=[(0.0, "")],
    )
    caption = "Left: score with its 95% bootstrap CI over images. Right: per-image distances."
    rep.add(Figure(Chart("invariance", [score_panel, *hists], caption=caption)))


def _gap(rep: Report, res: RepresentationInvarianceResults) -> None:
    """score(rotation) - score(none) per angle: table and bars."""
    labels, comp = res.angles, res.comparison
    rows = [
        [lab, fmt_est(c.gap_images), fmt_est(c.gap_seeds), fmt(c.cohens_dz), _p(c.t_pvalue)]
        for lab in labels
        for c in (comp[lab],)
    ]
    gaps = [comp[lab].gap_images for lab in labels]
    bars = Bar(labels, [e.mean for e in gaps], errors=([e.low for e in gaps], [e.high for e in gaps]))
    rep.add(
        Heading("Augmented vs not augmented"),
        Table(
            [
                "angle",
                "score gap [bootstrap CI, images]",
                "score gap [t CI, seeds]",
                "d_z (relative pair distances)",
                "t-test p",
            ],
            rows,
            caption="Gap = score(rotation) - score(none) on the same images. The paired test compares "
            "each image's pair distance in units of its model's mean control distance.",
        ),
        Figure(
            Chart(
                "gap",
                [
                    Panel(
                        [bars],
                        title="score(rotation) - score(none)",
                        xlabel="angle",
                        ylabel="gap",
                        hlines=[(0.0, "")],
                    )
                ],
            )
        ),
    )


def _sentences(res: RepresentationInvarianceResults) -> list[str]:
    """The findings, each computed from the numbers."""
    labels, sc, comp, nb = res.angles, res.scores, res.comparison, res.notebook
    lo, hi = res.rotation_degrees
    fixed = [lab for lab in labels if lab != RANDOM_ANGLE]
    inside = [lab for lab in fixed if lo <= float(lab) <= hi]
    outside = [lab for lab in fixed if not lo <= float(lab) <= hi]
    positive = [lab for lab in labels if comp[lab].gap_images.low > 0]
    sentences = []
    if inside:
        r_in = [sc["rotation"][lab].score for lab in inside]
        n_in = [sc["none"][lab].score for lab in inside]
        sentences.append(
            f"- For rotations inside the augmentation range ({', '.join(inside)} degrees) the "
            f"augmented model's score ranges from {fmt(min(r_in))} to {fmt(max(r_in))}, the "
            f"un-augmented model's from {fmt(min(n_in))} to {fmt(max(n_in))}."
        )
    if outside:
        sentences.append(
            "- Outside the range: "
            + "; ".join(
                f"{lab} degrees: {fmt(sc['rotation'][lab].score)} (augmented) vs {fmt(sc['none'][lab].score)} (not)"
                for lab in outside
            )
            + "."
        )
    sentences.append(
        f"- The augmented model's score is higher with a CI above 0 at "
        f"{len(positive)} of {len(labels)} angle settings" + (f" ({', '.join(positive)})." if positive else ".")
    )
    for v, words in (("rotation", "the augmented model"), ("none", "the un-augmented model")):
        sig = [lab for lab in labels if sc[v][lab].t_pvalue < ALPHA]
        sentences.append(
            f"- Pair distances are smaller than control distances (one-sided t-test "
            f"p < {ALPHA}) at {len(sig)} of {len(labels)} angle settings for {words}"
            + (f" ({', '.join(sig)})." if sig else ".")
        )
    selves = nb["rotation"].self_pairs
    others = (
        f", the other {res.n_test - selves} with an unrelated image of the first batch" if selves < res.n_test else ""
    )
    sentences.append(
        f"- **The solved notebook's pairing** (batch size {res.notebook_batch_size}: {selves} of "
        f"{res.n_test} images compared with themselves{others}; none with a rotation) would report "
        f"a score of {fmt(nb['rotation'].score)} for the augmented model and "
        f"{fmt(nb['none'].score)} for the un-augmented one: its numbers say nothing about rotations."
    )
    return sentences
