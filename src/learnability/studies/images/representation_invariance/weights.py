"""The two models of Lab 4bis: trained here (saved and reloaded) or loaded from a Lab 4 run.

Weights are saved with :func:`~learnability.models.save_weights` and read back with
:func:`~learnability.models.load_weights` (``torch.load(weights_only=True)`` only: a file holding
anything but tensors is refused, never unpickled); the reloaded models are checked to give the same
outputs and are the ones analysed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from learnability._validation import ParameterError
from learnability.analysis import Estimate, mean_estimate
from learnability.data import to_device
from learnability.engine import EvalSet, accuracy
from learnability.models import ShallowFCN, load_weights, read_weights_metadata, save_weights
from learnability.studies import StudyContext
from learnability.studies.images.data import ImageSplits, make_augmentation
from learnability.studies.images.representation_invariance.config import NAME, RepresentationInvarianceConfig
from learnability.studies.images.representation_invariance.pairs import VARIANTS
from learnability.studies.images.representation_invariance.results import RepresentationInvarianceResults
from learnability.studies.images.training import WEIGHTS_DIR, train_image_ensemble, weights_file

__all__ = ["Models", "load_from_run", "train_and_reload"]


@dataclass(frozen=True)
class Models:
    """The models analysed, per variant (one per seed), and where they come from.

    Attributes:
        models: ``variant -> [model per seed]``.
        source: in words, for the report.
        reload_max_abs_diff: largest output difference between a trained and a reloaded model
            (None when loaded from another run).
        test_accuracy: per variant, final test accuracy over seeds (None when loaded).
    """

    models: dict[str, list[ShallowFCN]]
    source: str
    reload_max_abs_diff: float | None = None
    test_accuracy: dict[str, Estimate] | None = None


def train_and_reload(cfg: RepresentationInvarianceConfig, splits: ImageSplits, ctx: StudyContext) -> Models:
    """Train both variants over the seeds in one ensemble, save each member, load it into a fresh model."""
    c, h, w = splits.image_shape
    n_classes = len(splits.classes)
    n_seeds = cfg.train.seeds
    init_seeds, data_seeds = ctx.seeds(n_seeds, "init"), ctx.seeds(n_seeds, "data")
    members = [(v, s) for v in VARIANTS for s in range(n_seeds)]
    y = to_device(splits.test_labels, ctx.device)
    xt = to_device(splits.normalizer.transform(splits.test_images), ctx.device)
    ensemble, _, result = train_image_ensemble(
        lambda: ShallowFCN(c * h * w, n_classes, seed=0),
        splits,
        [make_augmentation(v, cfg.augment) for v, _ in members],
        init_seeds=[init_seeds[s] for _, s in members],
        data_seeds=[data_seeds[s] for _, s in members],
        settings=cfg.train,
        eval_sets={"test": EvalSet(xt, y, metrics={"accuracy": accuracy})},
        ctx=ctx,
        tag=RepresentationInvarianceResults.TRAIN_TAG,
    )
    models: dict[str, list[ShallowFCN]] = {v: [] for v in VARIANTS}
    worst = 0.0
    xt_cpu = xt.cpu()
    for k, (v, s) in enumerate(members):
        trained = ensemble.member(result.params, k).cpu().eval()
        path = save_weights(
            trained,
            ctx.writer.artifact_path(weights_file(v, s)),
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
    final = result.evals["test_accuracy"].final
    accs = {v: mean_estimate([final[k] for k, (u, _) in enumerate(members) if u == v], kind="unit") for v in VARIANTS}
    return Models(models, "trained in this run, saved and reloaded", worst, accs)


def load_from_run(cfg: RepresentationInvarianceConfig, splits: ImageSplits) -> Models:
    """The ``none`` and ``rotation`` models saved by the augmentation-weights run ``cfg.weights_from``.

    Raises:
        ParameterError: no weights folder there, a variant missing, or weights saved with other
            data settings (``n_test`` may differ).
    """
    folder = Path(cfg.weights_from) / "artifacts" / WEIGHTS_DIR
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
    return Models({v: m[:n] for v, m in models.items()}, f"loaded from {cfg.weights_from}")
