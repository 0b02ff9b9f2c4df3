"""The cnn-equivariance study, stage by stage: train the CNN variants, measure pairs, summarise.

The lab's CNN — ``conv1`` (1 -> 1 channel, kernel 2, no padding: 28x28 -> 27x27), ReLU, ``fc1``
(729 -> 10), log-softmax — is trained without augmentation, over several seeds, together with a
variant whose conv pads circularly (28x28 -> 28x28, ``fc1`` 784 -> 10). Both read their
representations with forward hooks: the ``conv1`` output before the ReLU and the ``fc1`` output
before the log-softmax (the lab's ``conv2repr`` and ``fc1repr``).

Pairs are translated either circularly (``torch.roll``: the group action) or with zero fill
(content shifted out is lost); the measures are those of :mod:`.measures`. With circular padding
and circular shifts the conv is exactly equivariant (the errors are float rounding); with the
lab's valid conv the error lives at the border only, so comparing the two separates the boundary
effects from the architecture.

The lab's premise — "a CNN with pooling" makes fc invariant — is tested beside them: the same conv
(``pooled_padding``, ``pooled_channels`` channels) followed by a global average or max pool over
positions and ``fc1`` (C -> 10), trained with the same seeds and measured with the same statistics.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from learnability._validation import ParameterError
from learnability.analysis import Estimate, EstimateKind, mean_estimate
from learnability.data import to_device, translate
from learnability.engine import EvalSet, accuracy
from learnability.models import LabCNN, PooledCNN
from learnability.studies import StudyContext
from learnability.studies.images.cnn_equivariance.config import NAME, CNNEquivarianceConfig
from learnability.studies.images.cnn_equivariance.measures import (
    EXACT_TOL,
    MEASURES,
    compass_shifts,
    example_maps,
    pair_measures,
)
from learnability.studies.images.cnn_equivariance.results import CNNEquivarianceResults, MeasureCell, ModelShape
from learnability.studies.images.data import ImageSplits, load_image_splits
from learnability.studies.images.results import image_mean, record_dataset
from learnability.studies.images.training import derangement, train_image_ensemble

__all__ = ["run"]

R = CNNEquivarianceResults
# Fraction of the epochs the stationarity check looks back over (the last quarter of training).
STATIONARITY_HORIZON = 0.25
Model = LabCNN | PooledCNN


def make_model(cfg: CNNEquivarianceConfig, name: str, image_size: tuple[int, int], n_classes: int) -> Model:
    """The model called ``name`` in :meth:`CNNEquivarianceConfig.model_names` (weights from seed 0)."""
    if name.endswith("-pool"):
        return PooledCNN(
            image_size,
            n_classes,
            kernel_size=cfg.kernel_size,
            padding_mode=cfg.pooled_padding,
            pool=name.removesuffix("-pool"),
            channels=cfg.pooled_channels,
            seed=0,
        )
    return LabCNN(image_size, n_classes, kernel_size=cfg.kernel_size, padding_mode=name, seed=0)


def last_epochs_drop(test_loss: np.ndarray) -> Estimate:
    """How much the test loss still fell at the end of training: a stationarity check.

    Args:
        test_loss: ``(evaluations, K)``, one evaluation before training and then per evaluation.

    Returns:
        Over the K seeds, the relative decrease ``(L_before - L_end) / L_before`` from the
        evaluation a fraction :data:`STATIONARITY_HORIZON` of the evaluations before the end (at
        least one back) to the end; near 0 (or below) means the loss had stopped falling.
    """
    back = max(1, round(STATIONARITY_HORIZON * (len(test_loss) - 1)))
    before, end = test_loss[-1 - back], test_loss[-1]
    return mean_estimate((before - end) / np.abs(before))


def train_models(
    cfg: CNNEquivarianceConfig, splits: ImageSplits, ctx: StudyContext
) -> tuple[dict[str, list[Model]], dict[str, Estimate], dict[str, Estimate]]:
    """One ensemble per model (the same seeds for every model), without augmentation.

    Returns:
        The trained models by name (one per seed), their test accuracy over seeds and how much
        their test loss fell over the last quarter of their epochs (:func:`last_epochs_drop`).
    """
    _, h, w = splits.image_shape
    n_classes, n_seeds = len(splits.classes), cfg.train.seeds
    init_seeds, data_seeds = ctx.seeds(n_seeds, "init"), ctx.seeds(n_seeds, "data")
    xt = to_device(splits.normalizer.transform(splits.test_images), ctx.device)
    yt = to_device(splits.test_labels, ctx.device)
    models: dict[str, list[Model]] = {}
    accs: dict[str, Estimate] = {}
    drops: dict[str, Estimate] = {}
    for mode in cfg.model_names():

        def factory(mode: str = mode) -> Model:
            return make_model(cfg, mode, (h, w), n_classes)

        ensemble, _, result = train_image_ensemble(
            factory,
            splits,
            [None] * n_seeds,
            init_seeds=init_seeds,
            data_seeds=data_seeds,
            settings=cfg.train.model_copy(update={"epochs": cfg.epochs_of(mode)}),
            eval_sets={"test": EvalSet(xt, yt, metrics={"accuracy": accuracy})},
            ctx=ctx,
            tag=f"train/{mode}",
        )
        models[mode] = [ensemble.member(result.params, k).cpu().eval() for k in range(n_seeds)]
        accs[mode] = mean_estimate(result.evals["test_accuracy"].final, kind="unit")
        drops[mode] = last_epochs_drop(np.asarray(result.evals["test_loss"].values))
    return models, accs, drops


def measure_pairs(
    cfg: CNNEquivarianceConfig, splits: ImageSplits, models: dict[str, list[Model]], n: int, ctx: StudyContext
) -> np.ndarray:
    """Every measure of every image, model, shift and shift mode; saved with the example maps.

    Returns:
        ``values[model, shift mode, shift, seed, measure, image]``.
    """
    x = splits.test_images[:n]
    xn = splits.normalizer.transform(x)
    partner = derangement(n, generator=torch.Generator().manual_seed(ctx.seed("control")))
    n_seeds = cfg.train.seeds
    names = cfg.model_names()
    values = np.zeros((len(names), len(cfg.shift_modes), len(cfg.shifts), n_seeds, len(MEASURES), n))
    example: dict[str, np.ndarray] = {}
    for d_i, d in enumerate(cfg.shifts):
        # The same shifts for every model and shift mode: the comparisons are paired.
        shifts = compass_shifts(n, d, generator=torch.Generator().manual_seed(ctx.seed("shifts", d)))
        for m_i, shift_mode in enumerate(cfg.shift_modes):
            gxn = splits.normalizer.transform(translate(x, shifts, mode=shift_mode))
            for p_i, mode in enumerate(names):
                for s, model in enumerate(models[mode]):
                    res = pair_measures(model, xn, gxn, shifts, partner)
                    values[p_i, m_i, d_i, s] = np.stack([res[k].numpy() for k in MEASURES])
                if d == cfg.shifts[-1] and shift_mode == cfg.shift_modes[0]:
                    example.update(example_maps(models[mode][0], xn, gxn, shifts, mode))
    ctx.writer.save_arrays(R.MEASURES_ARRAYS, values=values, shifts=np.asarray(cfg.shifts))
    ctx.writer.save_arrays(R.EXAMPLE, **example)
    return values


def measure_kind(name: str, values: np.ndarray) -> EstimateKind:
    """The domain of a measure's estimates: ``same_prediction`` is a fraction (``"unit"``); every
    other measure is a relative error, > 0 (``"positive"``: a log-scale interval) unless some value
    is exactly 0 -- an exact equivariance has no logarithm, and its interval then stays real (a
    zero spread gives ``[0, 0]``).
    """
    if name == "same_prediction":
        return "unit"
    return "positive" if bool((values > 0).all()) else "real"


def summarise(
    cfg: CNNEquivarianceConfig, values: np.ndarray, ctx: StudyContext
) -> dict[str, dict[str, dict[str, dict[str, MeasureCell]]]]:
    """Each cell as a mean over images and over seeds; the means and maxima also as a table."""
    n_seeds = values.shape[3]
    results: dict[str, dict[str, dict[str, dict[str, MeasureCell]]]] = {}
    rows = []
    for p_i, mode in enumerate(cfg.model_names()):
        results[mode] = {}
        for m_i, shift_mode in enumerate(cfg.shift_modes):
            results[mode][shift_mode] = {}
            for d_i, d in enumerate(cfg.shifts):
                cell = {}
                for k, name in enumerate(MEASURES):
                    v = values[p_i, m_i, d_i, :, k]  # (seeds, images)
                    kind = measure_kind(name, v)
                    cell[name] = MeasureCell(
                        images=image_mean(v.mean(axis=0), kind),
                        seeds=mean_estimate(v.mean(axis=1), kind=kind) if n_seeds > 1 else None,
                        max=float(v.max()),
                    )
                    row = {"model": mode, "shift_mode": shift_mode, "shift": d, "measure": name}
                    rows.append(row | {"mean": float(v.mean()), "max": float(v.max())})
                results[mode][shift_mode][str(d)] = cell
    ctx.writer.save_table(R.MEASURES_TABLE, pd.DataFrame(rows))
    return results


def run(cfg: CNNEquivarianceConfig, ctx: StudyContext) -> CNNEquivarianceResults:
    """Train each padding variant, then measure equivariance and invariance on translated pairs."""
    splits = load_image_splits(cfg.data)
    record_dataset(splits, ctx)
    _, h, w = splits.image_shape
    if h < cfg.kernel_size or w < cfg.kernel_size:
        raise ParameterError("kernel_size", NAME, f"an int no larger than the images ({h}x{w})", cfg.kernel_size)
    models, accs, drops = train_models(cfg, splits, ctx)
    n = min(cfg.n_pairs or len(splits.test_labels), len(splits.test_labels))
    values = measure_pairs(cfg, splits, models, n, ctx)
    shapes = {
        mode: ModelShape(
            conv_shape=m[0].conv_shape,
            fc_in=int(m[0].fc1.in_features),
            fc_out=int(m[0].fc1.out_features),
            padding=m[0].padding_mode,
            pool=getattr(m[0], "pool", "none"),
            channels=int(m[0].conv1.out_channels),
        )
        for mode, m in models.items()
    }
    return CNNEquivarianceResults(
        **splits.info(),
        padding_modes=list(cfg.padding_modes),
        model_names=cfg.model_names(),
        shift_modes=list(cfg.shift_modes),
        shifts=list(cfg.shifts),
        seeds=cfg.train.seeds,
        n_pairs=n,
        kernel_size=cfg.kernel_size,
        models=shapes,
        test_accuracy=accs,
        epochs={mode: cfg.epochs_of(mode) for mode in cfg.model_names()},
        test_loss_drop=drops,
        exact_tolerance=EXACT_TOL,
        results=summarise(cfg, values, ctx),
    )
