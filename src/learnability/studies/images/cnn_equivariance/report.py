"""The cnn-equivariance report: the example pair, side-by-side tables and curves, the findings."""

from __future__ import annotations

import numpy as np

from learnability._words import plural
from learnability.report import Chart, Figure, Heading, Heatmap, Line, Panel, Report, Table, Text, fmt, fmt_est
from learnability.runs import Run
from learnability.studies.images.cnn_equivariance.results import CNNEquivarianceResults

__all__ = ["report"]

# The measures of the main table, in its column order.
TABLE_MEASURES = (
    "conv_total",
    "conv_interior",
    "conv_border",
    "conv_sorted",
    "sorted_control",
    "fc_invariance",
    "fc_control",
    "same_prediction",
)
# The measures of the table over seeds.
SEED_MEASURES = ("conv_total", "conv_sorted", "fc_invariance", "same_prediction")


def report(res: CNNEquivarianceResults, run: Run) -> Report:
    """The report, from the typed results and the run folder alone."""
    paddings, modes, shifts = res.padding_modes, res.shift_modes, res.shifts
    variants = res.variants
    pooled = [v for v in variants if v not in paddings]
    big, first_mode = shifts[-1], modes[0]
    headline = {"data": res.dataset}
    for p in paddings:
        headline[f"conv shift-back error, {p}, {first_mode} shift {big}"] = fmt_est(
            res.cell(p, first_mode, big, "conv_total").images
        )
    for p in variants:
        headline[f"fc invariance error, {p}, shift {shifts[0]}"] = fmt_est(
            res.cell(p, first_mode, shifts[0], "fc_invariance").images
        )
    rep = Report("Lab 5 — translation equivariance and invariance in the lab's CNN", headline=headline)
    arch = "; ".join(
        f"`{p}`: conv output {m.conv_shape[0]}x{m.conv_shape[1]}, fc {m.fc_in} -> {m.fc_out}"
        for p, m in res.models.items()
        if p in paddings
    )
    acc = ", ".join(f"{p} {fmt_est(res.test_accuracy[p])}" for p in variants)
    pooled_text = ""
    if pooled:
        m = res.models[pooled[0]]
        pooled_text = (
            f' Beside it, the lab\'s premise "a CNN with pooling": the same conv with padding '
            f"`{m.padding}` and {plural(m.channels, 'channel')}, ReLU, a global "
            f"{' or '.join(res.models[v].pool for v in pooled)} pool over all positions of each "
            f"channel, fc {m.fc_in} -> {m.fc_out} ({', '.join(f'`{v}`' for v in pooled)})."
        )
    rep.add(
        Heading("Setup"),
        Text(
            f"**Data:** {res.dataset_description}.\n\n"
            f"**Models:** the lab's CNN (conv 1 -> 1 channel, kernel {res.kernel_size}, ReLU, fc, "
            f"log-softmax) with padding {', '.join(f'`{p}`' for p in paddings)} ({arch}).{pooled_text} "
            f"All trained without augmentation, {res.seeds} seeds each. Test accuracy: {acc}."
            f"{_stationarity_text(res)}\n\n"
            f"**Pairs:** {res.n_pairs} test images, each with its translation by one of the eight "
            f"compass directions times the shift magnitude ({', '.join(map(str, shifts))} pixels), "
            f"{' and '.join(modes)} (circular = wrap around; zeros = content shifted out is lost). "
            f"Representations: the conv output before the ReLU and the fc output before the "
            f"log-softmax, read with forward hooks. Numbers are means over images with a 95% "
            f"t-interval over images (per-image values averaged over seeds)"
            + (f"; the tables also give the interval over the {res.seeds} seeds." if res.seeds > 1 else ".")
        ),
    )
    _example(rep, res, run.load_arrays(CNNEquivarianceResults.EXAMPLE))
    _tables(rep, res)
    _curves(rep, res)
    rep.add(Heading("What the numbers say"), Text("\n".join(_sentences(res))))
    return rep


# A model whose test loss still fell by more than this fraction over the last quarter of its epochs
# is called still improving (its numbers would change with more epochs).
STATIONARY_TOL = 0.01


def _stationarity_text(res: CNNEquivarianceResults) -> str:
    """Epochs per model and whether its test loss had stopped falling ('' for older summaries)."""
    if not res.test_loss_drop:
        return ""
    epochs = ", ".join(f"{p} {res.epochs[p]}" for p in res.variants)
    drops = ", ".join(f"{p} {fmt_est(res.test_loss_drop[p])}" for p in res.variants)
    falling = [p for p in res.variants if res.test_loss_drop[p].mean > STATIONARY_TOL]
    verdict = (
        f"still improving: {', '.join(falling)} (more epochs would change their numbers)"
        if falling
        else "every model had stopped improving"
    )
    return (
        f" Epochs: {epochs}. Relative fall of the test loss over the last quarter of each model's "
        f"epochs: {drops}; by more than {STATIONARY_TOL:.0%}, {verdict}."
    )


def _example(rep: Report, res: CNNEquivarianceResults, ex: dict[str, np.ndarray]) -> None:
    """The first test image, its shift, and per padding its conv maps and their difference."""
    if "x" not in ex:
        return
    shift = tuple(int(v) for v in ex["shift"])

    def image(a: np.ndarray, title: str, **kw: object) -> Panel:
        return Panel([Heatmap(a, colorbar=False, **({"cmap": "gray"} | kw))], title=title, image=True)

    panels = [image(ex["x"], "x"), image(ex["gx"], f"g x, shift {shift}"), image(ex["gx_back"], "g x, back")]
    for p in res.padding_modes:
        if f"{p}_conv_x" in ex:
            largest = float(np.max(ex[f"{p}_diff"]))
            vmax = largest or 1.0  # an all-zero difference is drawn black
            panels += [
                image(ex[f"{p}_conv_x"], f"{p}: conv(x)"),
                image(ex[f"{p}_back"], f"{p}: conv(g x), back"),
                image(ex[f"{p}_diff"], f"|difference|, max {fmt(largest)}", cmap="magma", vmin=0, vmax=vmax),
            ]
    caption = (
        f"First row: one test image, its {res.shift_modes[0]} shift and that shift "
        "undone. Then, per padding: the conv map of x, the conv map of g x shifted back, "
        "and their absolute difference (seed 0)."
    )
    rep.add(Figure(Chart("example", panels, ncols=3, panel_size=(2.4, 2.4), caption=caption)))


def _tables(rep: Report, res: CNNEquivarianceResults) -> None:
    """Per shift mode: every measure per (shift, padding) over images, and the main ones over seeds."""
    for shift_mode in res.shift_modes:
        rows = [
            [d, p] + [fmt_est(res.cell(p, shift_mode, d, k).images) for k in TABLE_MEASURES]
            for d in res.shifts
            for p in res.variants
        ]
        rep.add(
            Heading(f"{shift_mode.capitalize()} shifts"),
            Table(
                [
                    "shift",
                    "model",
                    "conv shift-back",
                    "interior",
                    "border",
                    "sorted values",
                    "sorted: control",
                    "fc invariance",
                    "fc: control",
                    "same class",
                ],
                rows,
                caption="Relative errors (0 = equivariant / invariant), mean [95% CI over images].",
            ),
        )
        if res.seeds > 1:
            rows = [
                [d, p] + [fmt_est(res.cell(p, shift_mode, d, k).seeds) for k in SEED_MEASURES]
                for d in res.shifts
                for p in res.variants
            ]
            rep.add(
                Table(
                    ["shift", "model", "conv shift-back", "sorted values", "fc invariance", "same class"],
                    rows,
                    caption=f"The same, 95% CI over the {res.seeds} seeds.",
                )
            )


def _curves(rep: Report, res: CNNEquivarianceResults) -> None:
    """Each measure against the shift: one line per (padding, shift mode), bands over images."""
    shifts, modes = res.shifts, res.shift_modes

    def lines(measure: str) -> list[Line]:
        out = []
        for p in res.variants:
            for j, shift_mode in enumerate(modes):
                ests = [res.cell(p, shift_mode, d, measure).images for d in shifts]
                out.append(
                    Line(
                        shifts,
                        [e.mean for e in ests],
                        label=f"{p}, {shift_mode} shift",
                        band=([e.low for e in ests], [e.high for e in ests]),
                        mode="lines+markers",
                        dash=j > 0,
                    )
                )
        return out

    fc_lines = lines("fc_invariance")
    for p in res.variants:
        means = [res.cell(p, modes[0], d, "fc_control").images.mean for d in shifts]
        fc_lines.append(Line(shifts, means, label=f"{p}: control", color="#777777", dash=True))

    def panel(line_list: list[Line], title: str, ylabel: str = "relative error") -> Panel:
        return Panel(line_list, title=title, xlabel="shift (pixels)", ylabel=ylabel)

    panels = [
        panel(lines("conv_total"), "conv: shift back and compare"),
        panel(lines("conv_border"), "conv: border part"),
        panel(lines("conv_sorted"), "conv: sorted values"),
        panel(fc_lines, "fc: invariance error"),
        panel(lines("same_prediction"), "same predicted class", "fraction of images"),
    ]
    caption = "Dashed: zero-fill shifts (coloured), controls (grey). Bands: 95% CI over images."
    rep.add(Heading("Side by side"), Figure(Chart("equivariance", panels, ncols=3, caption=caption)))


def _sentences(res: CNNEquivarianceResults) -> list[str]:
    """The findings, each computed from the numbers."""
    paddings, modes, shifts, tol = res.padding_modes, res.shift_modes, res.shifts, res.exact_tolerance
    big = shifts[-1]

    def worst(p: str, shift_mode: str, measure: str) -> float:
        return max(res.cell(p, shift_mode, d, measure).max for d in shifts)

    def mean(p: str, shift_mode: str, d: int, measure: str) -> float:
        return res.cell(p, shift_mode, d, measure).images.mean

    sentences = []
    interior = max(worst(p, m, "conv_interior") for p in res.variants for m in modes)
    sentences.append(
        (
            "- **Architecture.** Away from the border the conv is equivariant for every model and shift: "
            f"the largest interior error over all images, seeds and shifts is {fmt(interior)} (float rounding)."
        )
        if interior <= tol
        else (
            "- **Architecture.** Away from the border the conv is NOT equivariant to float rounding: the "
            f"largest interior error over all images, seeds and shifts is {fmt(interior)}, above the "
            f"{fmt(tol)} rounding tolerance."
        )
    )
    for shift_mode in modes:
        for p in paddings:
            exact = [d for d in shifts if res.cell(p, shift_mode, d, "conv_total").max <= tol]
            if len(exact) == len(shifts):
                sentences.append(
                    f"- **{p}, {shift_mode} shifts:** the conv is equivariant to float "
                    f"rounding at every shift (largest error {fmt(worst(p, shift_mode, 'conv_total'))})."
                )
            else:
                first_bad = next(d for d in shifts if d not in exact)
                exact_words = f"exact for shifts {', '.join(map(str, exact))}" if exact else "exact at no shift"
                sentences.append(
                    f"- **{p}, {shift_mode} shifts:** {exact_words}; from {plural(first_bad, 'pixel')} on the "
                    f"shift-back error is non-zero, reaching {fmt(mean(p, shift_mode, big, 'conv_total'))} at "
                    f"{big} pixels, of which the border part is {fmt(mean(p, shift_mode, big, 'conv_border'))} "
                    f"(largest interior error {fmt(worst(p, shift_mode, 'conv_interior'))}): a boundary effect."
                )
        for p in paddings:
            sentences.append(
                f"  Sorted-values test ({p}, {shift_mode}): {fmt(mean(p, shift_mode, shifts[0], 'conv_sorted'))} "
                f"at {plural(shifts[0], 'pixel')} to {fmt(mean(p, shift_mode, big, 'conv_sorted'))} at {big}, against "
                f"{fmt(mean(p, shift_mode, big, 'sorted_control'))} for unrelated images."
            )
    m0 = modes[0]
    for p in res.variants:
        pool = res.models[p].pool if p in res.models else "none"
        ratios = ", ".join(
            fmt(mean(p, m0, d, "fc_invariance") / mean(p, m0, d, "fc_control"))
            if mean(p, m0, d, "fc_control") > 0
            else "undefined"
            for d in shifts
        )
        sentences.append(
            f"- **fc ({p}, {m0} shifts).** The fc output changes by "
            f"{fmt_est(res.cell(p, m0, shifts[0], 'fc_invariance').images)} of its norm for a {shifts[0]}-pixel "
            f"shift and {fmt_est(res.cell(p, m0, big, 'fc_invariance').images)} for {big} pixels, against "
            f"{fmt_est(res.cell(p, m0, big, 'fc_control').images)} for an unrelated image (ratio to the control "
            f"at shifts {', '.join(map(str, shifts))}: {ratios}); the predicted class is unchanged for "
            f"{fmt(mean(p, m0, shifts[0], 'same_prediction'))} and "
            f"{fmt(mean(p, m0, big, 'same_prediction'))} of the images. "
            + (
                "This model has no pooling, so nothing in it makes fc invariant: the numbers measure how far it is."
                if pool == "none"
                else _pooled_verdict(res, p, m0)
            )
        )
    return sentences


def _pooled_verdict(res: CNNEquivarianceResults, name: str, shift_mode: str) -> str:
    """Is the pooled model's fc more invariant than the lab's CNN (the first padding mode)?"""
    lab = res.padding_modes[0]
    control = max(res.cell(name, shift_mode, d, "fc_control").images.mean for d in res.shifts)
    if control <= res.exact_tolerance:
        return (
            "Its fc output does not depend on the image at all (an unrelated image changes it by "
            f"{fmt(control)}: the pooled features are dead or constant), so its invariance says nothing; "
            "train it longer or with another learning rate."
        )
    worst = max(res.cell(name, shift_mode, d, "fc_invariance").max for d in res.shifts)
    ours_acc, lab_acc = res.test_accuracy[name], res.test_accuracy[lab]
    cost = (
        f" It pays in accuracy: {fmt_est(ours_acc)} against the lab's {fmt_est(lab_acc)}."
        if ours_acc.high < lab_acc.low
        else f" Its test accuracy, {fmt_est(ours_acc)}, is not below the lab's {fmt_est(lab_acc)}."
    )
    if worst <= res.exact_tolerance:
        return (
            f"Global {res.models[name].pool} pooling makes fc exactly invariant here (largest error "
            f"{fmt(worst)}, float rounding).{cost}"
        )
    below = [
        d
        for d in res.shifts
        if res.cell(name, shift_mode, d, "fc_invariance").images.high
        < res.cell(lab, shift_mode, d, "fc_invariance").images.low
    ]
    above = [
        d
        for d in res.shifts
        if res.cell(name, shift_mode, d, "fc_invariance").images.low
        > res.cell(lab, shift_mode, d, "fc_invariance").images.high
    ]
    if len(below) == len(res.shifts):
        verdict = "more invariant than the lab's CNN at every shift (95% CIs disjoint)"
    elif below:
        verdict = f"more invariant than the lab's CNN at shifts {', '.join(map(str, below))} only (95% CIs disjoint)"
    elif above:
        verdict = f"less invariant than the lab's CNN at shifts {', '.join(map(str, above))} (95% CIs disjoint)"
    else:
        verdict = "not distinguishable from the lab's CNN with these images"
    return (
        f"With global {res.models[name].pool} pooling fc is nearly, not exactly, invariant "
        f"(largest error {fmt(worst)}: the border rows still change): {verdict} (`{lab}`).{cost}"
    )
