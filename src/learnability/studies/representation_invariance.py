"""Lab 4bis: is the representation of a rotation-augmented shallow FCN invariant to rotations?

Two shallow linear FCNs (Lab 4's model) are trained in one engine ensemble, one on
rotation-augmented images and one without augmentation, over several seeds; or they are reused
from an ``augmentation-weights`` run (``weights_from``). Their weights are saved with
:func:`~learnability.models.save_weights` and read back with
:func:`~learnability.models.load_weights` (``torch.load(weights_only=True)`` only: a file holding
anything but tensors is refused, never unpickled); the reloaded models are checked to give the same
outputs and are the ones analysed.

Activations of a named layer (``fc`` by default: the logits) are read with forward hooks
(:func:`~learnability.models.get_activations`). Pairs are built from the *same* test images: the
image ``x_i`` and ``g x_i``, its rotation by a fixed angle (several angles) or by a random angle
in the augmentation's range; both are normalised after rotating. The control pairs each image with
an unrelated test image (a random derangement, the same for every model and angle). For each model
and angle the study compares the paired distances ``||f(x_i) - f(g x_i)||`` with the control
distances ``||f(x_i) - f(x'_i)||``: paired t and Wilcoxon tests, Cohen's d_z, and a paired
bootstrap CI of the invariance score ``1 - mean(paired) / mean(control)`` (1 = invariant, 0 = a
rotation moves the representation as far as swapping the image for another).

The course's solved notebook builds its "rotated" loader from the *un-rotated* data set and
restarts that loader's iterator at every batch, so every "rotated" batch is the first un-rotated
batch: the first batch is compared with itself (distance 0) and every later batch with the first
batch (unrelated images, also used as the control). This study does not repeat that; it
reproduces the notebook's pairing only to show, with numbers, what it would have reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from pydantic import Field
from torch import Tensor

from learnability._validation import ParameterError, check_choice
from learnability.analysis import bootstrap_ci, paired_test
from learnability.config import StudyConfig
from learnability.data import rotate
from learnability.engine import EvalSet, accuracy
from learnability.models import (
    ShallowFCN,
    get_activations,
    invariance_score,
    layer_names,
    load_weights,
    read_weights_metadata,
    save_weights,
)
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
    fmt_ci,
)
from learnability.runs import Run
from learnability.studies import Study, StudyContext, register
from learnability.studies._images_common import (
    AugmentationSettings,
    ImageDataSettings,
    ImageSplits,
    TrainSettings,
    ci_dict,
    ci_text,
    load_image_splits,
    make_augmentation,
    num,
    train_image_ensemble,
)

__all__ = [
    "RANDOM_ANGLE",
    "VARIANTS",
    "RepresentationInvarianceConfig",
    "angle_specs",
    "notebook_partners",
    "rotation_pairs",
]

NAME = "representation-invariance"
TAG = "train"
#: The two models compared: trained without augmentation and with random rotations.
VARIANTS = ("none", "rotation")
#: Label of the "one random angle per image" pairs (the lab's RandomAffine(degrees=(0, 180))).
RANDOM_ANGLE = "random"
_WEIGHTS_DIR = "weights"
# Significance level of the sentences of the report.
_ALPHA = 0.05
# Images shown in the pairs figure.
_EXAMPLES = 1


class RepresentationInvarianceConfig(StudyConfig):
    """Lab 4bis: invariance of the representation of a shallow FCN, augmented vs not.

    Command:  learnability run representation-invariance     (smoke: ... --smoke)
              reuse a Lab 4 run:  learnability run representation-invariance --set weights_from=RUN_DIR
    Runtime:  ~20 s of training and analysis on the shared 2-core CPU with the offline digits (2
              models x 3 seeds, 630 SGD steps; 9 rotation settings x 6 models, 4,999 bootstrap
              resamples per interval; measured: run 20 s, whole command with start-up and figures
              48 s under a load of 8); smoke ~5 s.
    Expected: (digits, seed 0) the rotation-augmented model's invariance score is 0.50-0.82 for
              rotations of 15-180 degrees (0.46 at -90, outside the augmentation range), the
              un-augmented model's -0.36 to 0.70 (nearly invariant only to small rotations: 0.70 at
              15 degrees, -0.31 at 90, i.e. a quarter turn moves its logits further than swapping
              the digit for another); the gap has a 95% CI above 0 at all 9 settings and the
              augmented model's pair distances are below the controls with p < 1e-40 everywhere.
              The solved notebook's pairing would report a perfect score of 1 for both models (the
              450 test digits fit in one batch of 1,024, so each image is paired with itself).
              Reusing the weights of an augmentation-weights run with the same seed gives the same
              models, hence the same numbers.
    """

    data: ImageDataSettings = Field(default_factory=ImageDataSettings)
    augment: AugmentationSettings = Field(default_factory=AugmentationSettings)
    train: TrainSettings = Field(default_factory=TrainSettings)
    weights_from: str = Field(
        "",
        description="Run folder of an augmentation-weights run whose saved 'none' and "
        "'rotation' weights are loaded instead of training here ('' = train in this run). Its "
        "data settings must match (except n_test).",
    )
    layer: str = Field(
        "fc", description="Name of the module whose output is the representation (ShallowFCN: 'fc', the logits)."
    )
    angles: list[float] = Field(
        default_factory=lambda: [-90.0, -45.0, 15.0, 30.0, 45.0, 90.0, 135.0, 180.0],
        min_length=1,
        description="Fixed rotation angles (degrees, counter-clockwise) of the pairs; negative "
        "angles lie outside the [0, 180] augmentation range.",
    )
    random_angle: bool = Field(
        True,
        description="Also pair each image with its rotation by an "
        "angle drawn from the augmentation's range (as the lab does).",
    )
    n_bootstrap: int = Field(4999, ge=99, description="Bootstrap resamples per interval.")
    notebook_batch_size: int = Field(
        1024, ge=1, description="Batch size of the solved notebook, for the reproduction of its pairing."
    )


# ------------------------------------------------------------------------------------------
# Pairs
# ------------------------------------------------------------------------------------------
def angle_specs(cfg: RepresentationInvarianceConfig) -> list[str]:
    """Labels of the pair sets: each fixed angle (``"90"``) and ``"random"`` when enabled."""
    labels = [f"{a:g}" for a in cfg.angles]
    return labels + ([RANDOM_ANGLE] if cfg.random_angle else [])


def rotation_pairs(
    x: Tensor, label: str, *, degrees: tuple[float, float], generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """The transformed halves of the pairs ``(x_i, g x_i)``: each image rotated by its angle.

    Args:
        x: ``(N, C, H, W)`` intensities in ``[0, 1]`` (not yet normalised, so the fill is black).
        label: a fixed angle in degrees (``"90"``) or ``"random"`` (one angle per image drawn
            uniformly from ``degrees``).
        degrees: the augmentation's range (for ``"random"``).
        generator: draws the random angles.

    Returns:
        ``(angles, gx)``: ``(N,)`` float64 degrees and ``(N, C, H, W)`` with ``gx[i]`` the rotation
        of ``x[i]`` — the same image, in the same order.
    """
    n = x.shape[0]
    if label == RANDOM_ANGLE:
        low, high = degrees
        angles = low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)
    else:
        angles = torch.full((n,), float(label), dtype=torch.float64)
    return angles, rotate(x, angles)


def notebook_partners(n: int, batch_size: int) -> Tensor:
    """Which image the solved notebook compares image ``i`` with: ``(n,)`` indices.

    Its "rotated" loader reads the un-rotated data set and a new iterator is created every batch,
    so the "rotated" batch is always the first batch: image ``i`` is paired with image
    ``i mod batch_size`` (itself in the first batch, an unrelated image afterwards).
    """
    return torch.arange(n) % batch_size


def _notebook_numbers(
    model: torch.nn.Module, xn: Tensor, layer: str, batch_size: int, generator: torch.Generator
) -> dict[str, float]:
    """The two averages the solved notebook prints, with its pairing and its controls."""
    n = xn.shape[0]
    f = get_activations(model, xn, layer).flatten(1)  # (N, F)
    partner = notebook_partners(n, batch_size)
    paired = (f - f[partner]).norm(dim=1)
    first = min(batch_size, n)
    # First batch: Gaussian noise (torch.randn_like on normalised images); later batches: the
    # previous "rotated" batch, which is again the first batch, so control == pair there.
    noise = torch.randn((first, *xn.shape[1:]), generator=generator)
    control = paired.clone()
    control[:first] = (f[:first] - get_activations(model, noise, layer).flatten(1)).norm(dim=1)
    a, b = float(paired.mean()), float(control.mean())
    return {
        "mean_pair": a,
        "mean_control": b,
        "score": 1.0 - a / b if b > 0 else float("nan"),
        "self_pairs": int((partner == torch.arange(n)).sum()),
    }


# ------------------------------------------------------------------------------------------
# Models: trained here (saved, reloaded) or loaded from a Lab 4 run
# ------------------------------------------------------------------------------------------
def _train_and_reload(
    cfg: RepresentationInvarianceConfig, splits: ImageSplits, ctx: StudyContext
) -> tuple[dict[str, list[ShallowFCN]], float, dict[str, dict[str, Any]]]:
    c, h, w = splits.image_shape
    n_classes = len(splits.classes)
    n_seeds = cfg.train.seeds
    init_seeds, data_seeds = ctx.seeds(n_seeds, "init"), ctx.seeds(n_seeds, "data")
    members = [(v, s) for v in VARIANTS for s in range(n_seeds)]
    y = splits.test_labels.to(ctx.device)
    xt = splits.normalizer.transform(splits.test_images).to(ctx.device)
    ensemble, _, result = train_image_ensemble(
        lambda: ShallowFCN(c * h * w, n_classes, seed=0),
        splits,
        [make_augmentation(v, cfg.augment) for v, _ in members],
        init_seeds=[init_seeds[s] for _, s in members],
        data_seeds=[data_seeds[s] for _, s in members],
        settings=cfg.train,
        eval_sets={"test": EvalSet(xt, y, metrics={"accuracy": accuracy})},
        ctx=ctx,
        tag=TAG,
    )
    models: dict[str, list[ShallowFCN]] = {v: [] for v in VARIANTS}
    worst = 0.0
    xt_cpu = xt.cpu()
    for k, (v, s) in enumerate(members):
        trained = ensemble.member(result.params, k).cpu().eval()
        path = save_weights(
            trained,
            ctx.writer.artifact_path(f"{_WEIGHTS_DIR}/{v}-seed{s}.pt"),
            config={
                "study": NAME,
                "model": "ShallowFCN",
                "in_features": c * h * w,
                "num_classes": n_classes,
                "augmentation": v,
                "seed_index": s,
                "data": cfg.data.model_dump(),
                "augment": cfg.augment.model_dump(),
                **splits.info(),
            },
        )
        # A fresh model with other initial weights: only the loaded weights can make it agree.
        fresh = ShallowFCN(c * h * w, n_classes, seed=init_seeds[s] + 1).eval()
        load_weights(fresh, path)
        with torch.no_grad():
            worst = max(worst, float((fresh(xt_cpu) - trained(xt_cpu)).abs().max()))
        models[v].append(fresh)
    accs = {
        v: ci_dict([result.evals["test_accuracy"].final[k] for k, (u, _) in enumerate(members) if u == v])
        for v in VARIANTS
    }
    return models, worst, accs


def _load_from_run(cfg: RepresentationInvarianceConfig, splits: ImageSplits) -> dict[str, list[ShallowFCN]]:
    folder = Path(cfg.weights_from) / "artifacts" / _WEIGHTS_DIR
    owner = NAME
    if not folder.is_dir():
        raise ParameterError(
            "weights_from", owner, "a run folder of augmentation-weights (with artifacts/weights/)", cfg.weights_from
        )
    mine = cfg.data.model_dump()
    mine.pop("n_test")
    models: dict[str, list[ShallowFCN]] = {}
    for v in VARIANTS:
        files = sorted(folder.glob(f"{v}-seed*.pt"), key=lambda p: int(p.stem.rsplit("seed", 1)[1]))
        if not files:
            raise ParameterError(
                "weights_from",
                owner,
                f"a run whose augmentations include '{v}' (no {v}-seed*.pt in {folder})",
                cfg.weights_from,
            )
        models[v] = []
        for path in files:
            meta = read_weights_metadata(path).get("config", {})
            theirs = dict(meta.get("data", {}))
            theirs.pop("n_test", None)
            if theirs != mine or meta.get("dataset") != splits.name:
                raise ParameterError(
                    "data",
                    owner,
                    f"the data settings of the run that saved {path} ({theirs}, dataset {meta.get('dataset')!r})",
                    f"{mine}, dataset {splits.name!r}",
                )
            model = ShallowFCN(int(meta["in_features"]), int(meta["num_classes"]), seed=0).eval()
            load_weights(model, path)
            models[v].append(model)
    n = min(len(m) for m in models.values())
    return {v: m[:n] for v, m in models.items()}


# ------------------------------------------------------------------------------------------
# Run
# ------------------------------------------------------------------------------------------
def _score(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """Invariance score ``1 - mean(paired) / mean(control)`` (vectorised for the bootstrap)."""
    return 1.0 - np.mean(a, axis=axis) / np.mean(b, axis=axis)


def _score_gap(a1: np.ndarray, b1: np.ndarray, a0: np.ndarray, b0: np.ndarray, axis: int = -1) -> np.ndarray:
    """Score of model 1 minus score of model 0 on the same images (paired bootstrap)."""
    return _score(a1, b1, axis) - _score(a0, b0, axis)


def _paired(a: np.ndarray, b: np.ndarray, alternative: str) -> dict[str, float]:
    t = paired_test(a, b, alternative=alternative)
    return {
        "t_pvalue": t.t_pvalue,
        "wilcoxon_pvalue": t.wilcoxon_pvalue,
        "cohens_dz": t.cohens_dz,
        "t_statistic": t.t_statistic,
        "mean_difference": _estimate_dict(t.difference),
    }


def _estimate_dict(est: Any) -> dict[str, float]:
    return {"mean": est.mean, "low": est.low, "high": est.high, "n": est.n}


def run(cfg: RepresentationInvarianceConfig, ctx: StudyContext) -> dict[str, Any]:
    splits = load_image_splits(cfg.data)
    c, h, w = splits.image_shape
    # Refuse an unknown layer before any training (the message lists the model's layers).
    check_choice(cfg.layer, "layer", NAME, layer_names(ShallowFCN(c * h * w, len(splits.classes), seed=0)))
    if cfg.weights_from:
        models = _load_from_run(cfg, splits)
        reload_diff, accs, source = None, None, f"loaded from {cfg.weights_from}"
    else:
        models, reload_diff, accs = _train_and_reload(cfg, splits, ctx)
        source = "trained in this run, saved and reloaded"
    n_seeds = len(models[VARIANTS[0]])

    x = splits.test_images  # (N, 1, H, W) in [0, 1]
    xn = splits.normalizer.transform(x)
    n = x.shape[0]
    labels = angle_specs(cfg)
    control_seed = ctx.seed("control")  # one derangement, shared by every model and angle
    paired = np.zeros((len(VARIANTS), len(labels), n_seeds, n))
    control = np.zeros_like(paired)
    examples = []
    for j, label in enumerate(labels):
        _, gx = rotation_pairs(
            x,
            label,
            degrees=tuple(cfg.augment.rotation_degrees),
            generator=torch.Generator().manual_seed(ctx.seed("angles", label)),
        )
        examples.append(gx[:_EXAMPLES, 0].numpy())
        gxn = splits.normalizer.transform(gx)
        for i, v in enumerate(VARIANTS):
            for s, model in enumerate(models[v]):
                res = invariance_score(
                    model, xn, gxn, layer=cfg.layer, generator=torch.Generator().manual_seed(control_seed)
                )
                paired[i, j, s], control[i, j, s] = res.paired.numpy(), res.control.numpy()
    ctx.writer.save_arrays(
        "distances",
        paired=paired,
        control=control,
        labels=np.array(labels),
        example=x[:_EXAMPLES, 0].numpy(),
        rotated=np.stack(examples),
    )

    scores: dict[str, dict[str, Any]] = {v: {} for v in VARIANTS}
    rows = []
    for i, v in enumerate(VARIANTS):
        for j, label in enumerate(labels):
            a, b = paired[i, j].mean(axis=0), control[i, j].mean(axis=0)  # (N,) averaged over seeds
            boot = bootstrap_ci(
                _score,
                a,
                b,
                paired=True,
                vectorized=True,
                n_resamples=cfg.n_bootstrap,
                seed=ctx.seed("bootstrap", v, label),
            )
            per_seed = [float(_score(paired[i, j, s], control[i, j, s])) for s in range(n_seeds)]
            entry = {
                "score": float(boot.statistic),
                "score_ci_images": [boot.low, boot.high],
                "score_seeds": ci_dict(per_seed),
                "mean_pair": float(a.mean()),
                "mean_control": float(b.mean()),
                **_paired(a, b, "less"),
            }
            scores[v][label] = entry
            rows.append(
                {
                    "model": v,
                    "angle": label,
                    "score": entry["score"],
                    "low": boot.low,
                    "high": boot.high,
                    "t_pvalue": entry["t_pvalue"],
                    "cohens_dz": entry["cohens_dz"],
                }
            )
    ctx.writer.save_table("scores", pd.DataFrame(rows))

    comparison: dict[str, Any] = {}
    i0, i1 = VARIANTS.index("none"), VARIANTS.index("rotation")
    for j, label in enumerate(labels):
        a1, b1 = paired[i1, j].mean(axis=0), control[i1, j].mean(axis=0)
        a0, b0 = paired[i0, j].mean(axis=0), control[i0, j].mean(axis=0)
        boot = bootstrap_ci(
            _score_gap,
            a1,
            b1,
            a0,
            b0,
            paired=True,
            vectorized=True,
            n_resamples=cfg.n_bootstrap,
            seed=ctx.seed("bootstrap-gap", label),
        )
        per_seed = [
            float(_score(paired[i1, j, s], control[i1, j, s]) - _score(paired[i0, j, s], control[i0, j, s]))
            for s in range(n_seeds)
        ]
        # Per image: distance to the rotated copy in units of the model's mean control distance.
        rel1, rel0 = a1 / b1.mean(), a0 / b0.mean()
        comparison[label] = {
            "gap": float(boot.statistic),
            "gap_ci_images": [boot.low, boot.high],
            "gap_seeds": ci_dict(per_seed),
            **_paired(rel1, rel0, "two-sided"),
        }

    notebook_gen_seed = ctx.seed("notebook-noise")
    notebook = {}
    for v in VARIANTS:
        per = [
            _notebook_numbers(
                m, xn, cfg.layer, cfg.notebook_batch_size, torch.Generator().manual_seed(notebook_gen_seed)
            )
            for m in models[v]
        ]
        notebook[v] = {k: float(np.mean([p[k] for p in per])) for k in per[0]}

    return {
        **splits.info(),
        "weights_source": source,
        "seeds": n_seeds,
        "layer": cfg.layer,
        "angles": labels,
        "rotation_degrees": list(cfg.augment.rotation_degrees),
        "reload_max_abs_diff": reload_diff,
        "test_accuracy": accs,
        "scores": scores,
        "comparison": comparison,
        "notebook": notebook,
        "notebook_batch_size": cfg.notebook_batch_size,
    }


# ------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------
def _p(p: Any) -> str:
    p = num(p)
    return "< 1e-300" if p == 0 else fmt(p)


def _interval(v: float, ci: list[Any]) -> str:
    return fmt_ci(v, (num(ci[0]), num(ci[1])))


def report(run_: Run) -> Report:
    s = run_.summary
    labels: list[str] = s["angles"]
    sc, comp, nb = s["scores"], s["comparison"], s["notebook"]
    arrays = run_.load_arrays("distances")
    lo, hi = s["rotation_degrees"]
    rep = Report("Lab 4bis — invariance of a shallow FCN's representation to rotations")
    focus = "90" if "90" in labels else labels[0]
    rep.headline = {
        "data": s["dataset"],
        f"score at {focus} deg (rotation-augmented)": _interval(
            sc["rotation"][focus]["score"], sc["rotation"][focus]["score_ci_images"]
        ),
        f"score at {focus} deg (not augmented)": _interval(
            sc["none"][focus]["score"], sc["none"][focus]["score_ci_images"]
        ),
        "notebook pairing's score (both models)": f"{fmt(nb['rotation']['score'])} / {fmt(nb['none']['score'])}",
    }
    acc = s.get("test_accuracy")
    acc_text = (
        f" Test accuracy on upright digits: {ci_text(acc['rotation'])} (rotation-augmented), "
        f"{ci_text(acc['none'])} (not augmented)."
        if acc
        else ""
    )
    reload_text = (
        f" Each model was saved with `save_weights` and loaded into a fresh model with "
        f"`load_weights` (tensors only, `weights_only=True`); the largest difference "
        f"between the outputs of a trained and a reloaded model is {fmt(s['reload_max_abs_diff'])}."
        if s.get("reload_max_abs_diff") is not None
        else ""
    )
    rep.add(
        Heading("Setup"),
        Text(
            f"**Data:** {s['dataset_description']}.\n\n"
            f"**Models:** Lab 4's shallow linear FCN, trained without augmentation (`none`) and with "
            f"random rotations in [{fmt(lo)}, {fmt(hi)}] degrees (`rotation`), {s['seeds']} seeds each; "
            f"{s['weights_source']}.{reload_text}{acc_text}\n\n"
            f"**Representation:** the output of layer `{s['layer']}`, read with forward hooks.\n\n"
            f"**Pairs:** each of the {s['n_test']} test images `x` with its own rotation `g x` "
            f"(angles {', '.join(labels)}; `random` = one angle per image drawn from the augmentation "
            f"range), both normalised after rotating. **Control:** each image with an unrelated test "
            f"image (one random derangement, the same for every model and angle). Distances are "
            f"Euclidean, averaged per image over the {s['seeds']} seeds. The **invariance score** is "
            f"`1 - mean(pair distance) / mean(control distance)`: 1 = invariant, 0 = rotating an image "
            f"moves its representation as far as replacing it by another image."
        ),
    )

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
    rep.add(
        Figure(
            Chart(
                "pairs",
                panels,
                ncols=len(panels),
                panel_size=(1.5, 1.7),
                caption="One test image and the transformed halves of its pairs.",
            )
        )
    )

    rows = []
    for v in ("rotation", "none"):
        for label in labels:
            e = sc[v][label]
            rows.append(
                [
                    v,
                    label,
                    _interval(e["score"], e["score_ci_images"]),
                    ci_text(e["score_seeds"]),
                    fmt(e["mean_pair"]),
                    fmt(e["mean_control"]),
                    fmt(e["cohens_dz"]),
                    _p(e["t_pvalue"]),
                    _p(e["wilcoxon_pvalue"]),
                ]
            )
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

    fixed = [lab for lab in labels if lab != "random"]
    order = np.argsort([float(lab) for lab in fixed])
    xs = np.array([float(fixed[k]) for k in order])
    lines = []
    for v in ("rotation", "none"):
        ys = np.array([sc[v][fixed[k]]["score"] for k in order])
        lo_b = np.array([num(sc[v][fixed[k]]["score_ci_images"][0]) for k in order])
        hi_b = np.array([num(sc[v][fixed[k]]["score_ci_images"][1]) for k in order])
        lines.append(Line(xs, ys, label=v, band=(lo_b, hi_b), mode="lines+markers"))
    i_focus = labels.index(focus)
    hists = []
    for i, v in enumerate(("none", "rotation")):
        a = arrays["paired"][i, i_focus].mean(axis=0)
        b = arrays["control"][i, i_focus].mean(axis=0)
        hists.append(
            Panel(
                [Hist(a, label=f"pair (rotated {focus})"), Hist(b, label="control")],
                title=f"{v}: distances",
                xlabel=f"||f(x) - f(.)|| at layer {s['layer']}",
                ylabel="density",
            )
        )
    rep.add(
        Figure(
            Chart(
                "invariance",
                [
                    Panel(
                        lines,
                        title="invariance score vs rotation angle",
                        xlabel="angle (degrees)",
                        ylabel="score",
                        vlines=[(lo, ""), (hi, "augmentation range")],
                        hlines=[(0.0, "")],
                    ),
                    *hists,
                ],
                caption="Left: score with its 95% bootstrap CI over images. Right: per-image distances.",
            )
        )
    )

    rows, bars, bar_lo, bar_hi = [], [], [], []
    for label in labels:
        c = comp[label]
        rows.append(
            [
                label,
                _interval(c["gap"], c["gap_ci_images"]),
                ci_text(c["gap_seeds"]),
                fmt(c["cohens_dz"]),
                _p(c["t_pvalue"]),
            ]
        )
        bars.append(c["gap"])
        bar_lo.append(num(c["gap_ci_images"][0]))
        bar_hi.append(num(c["gap_ci_images"][1]))
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
                        [Bar(labels, bars, errors=(bar_lo, bar_hi))],
                        title="score(rotation) - score(none)",
                        xlabel="angle",
                        ylabel="gap",
                        hlines=[(0.0, "")],
                    )
                ],
            )
        ),
    )

    # Sentences from the numbers.
    inside = [lab for lab in fixed if lo <= float(lab) <= hi]
    outside = [lab for lab in fixed if not lo <= float(lab) <= hi]
    positive = [lab for lab in labels if num(comp[lab]["gap_ci_images"][0]) > 0]
    sentences = []
    if inside:
        r_in = [sc["rotation"][lab]["score"] for lab in inside]
        n_in = [sc["none"][lab]["score"] for lab in inside]
        sentences.append(
            f"- For rotations inside the augmentation range ({', '.join(inside)} degrees) the "
            f"augmented model's score ranges from {fmt(min(r_in))} to {fmt(max(r_in))}, the "
            f"un-augmented model's from {fmt(min(n_in))} to {fmt(max(n_in))}."
        )
    if outside:
        sentences.append(
            "- Outside the range: "
            + "; ".join(
                f"{lab} degrees: {fmt(sc['rotation'][lab]['score'])} (augmented) vs "
                f"{fmt(sc['none'][lab]['score'])} (not)"
                for lab in outside
            )
            + "."
        )
    sentences.append(
        f"- The augmented model's score is higher with a CI above 0 at "
        f"{len(positive)} of {len(labels)} angle settings" + (f" ({', '.join(positive)})." if positive else ".")
    )
    for v, words in (("rotation", "the augmented model"), ("none", "the un-augmented model")):
        sig = [lab for lab in labels if num(sc[v][lab]["t_pvalue"]) < _ALPHA]
        sentences.append(
            f"- Pair distances are smaller than control distances (one-sided t-test "
            f"p < {_ALPHA}) at {len(sig)} of {len(labels)} angle settings for {words}"
            + (f" ({', '.join(sig)})." if sig else ".")
        )
    selves = int(nb["rotation"]["self_pairs"])
    others = (
        f", the other {s['n_test'] - selves} with an unrelated image of the first batch" if selves < s["n_test"] else ""
    )
    sentences.append(
        f"- **The solved notebook's pairing** (batch size {s['notebook_batch_size']}: {selves} of "
        f"{s['n_test']} images compared with themselves{others}; none with a rotation) would report "
        f"a score of {fmt(nb['rotation']['score'])} for the augmented model and "
        f"{fmt(nb['none']['score'])} for the un-augmented one: its numbers say nothing about rotations."
    )
    rep.add(Heading("What the numbers say"), Text("\n".join(sentences)))
    return rep


register(
    Study(
        NAME,
        "Lab 4bis: invariance of a shallow FCN's representation to rotations, augmented vs not.",
        RepresentationInvarianceConfig,
        run,
        report,
        smoke={
            "data": {"n_train": 256, "n_test": 96},
            "train": {"epochs": 2, "seeds": 2, "batch_size": 32},
            "angles": [90.0, 180.0],
            "n_bootstrap": 199,
            "notebook_batch_size": 64,
        },
    )
)
