"""representation-invariance (Lab 4bis): pairs from the same images, the notebook's pairing,
safe weights round trip and reuse of a Lab 4 run, and the smoke run through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from learnability import load_run
from learnability.cli import app
from learnability.data import rotate
from learnability.models import ShallowFCN, save_weights
from learnability.studies._images_common import ImageDataSettings, load_image_splits
from learnability.studies.representation_invariance import (
    RANDOM_ANGLE,
    VARIANTS,
    RepresentationInvarianceConfig,
    _load_from_run,
    notebook_partners,
    rotation_pairs,
)

runner = CliRunner()


def _x(n: int = 6) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def test_quarter_turn_pairs_are_the_same_images() -> None:
    x = _x()
    angles, gx = rotation_pairs(x, "90", degrees=(0.0, 180.0), generator=torch.Generator())
    assert torch.equal(angles, torch.full((6,), 90.0, dtype=torch.float64))
    assert torch.equal(rotate(gx, -90.0), x)  # un-transforming recovers each original exactly
    assert not torch.equal(gx, x)


def test_random_angle_pairs_rotate_each_image_by_its_own_angle() -> None:
    x = _x()
    angles, gx = rotation_pairs(x, RANDOM_ANGLE, degrees=(0.0, 180.0), generator=torch.Generator().manual_seed(4))
    assert bool(((angles >= 0) & (angles <= 180)).all()) and angles.unique().numel() == 6
    for i in range(6):
        assert torch.equal(gx[i : i + 1], rotate(x[i : i + 1], float(angles[i])))


def test_notebook_pairing_compares_images_with_the_first_batch() -> None:
    assert torch.equal(notebook_partners(5, 8), torch.arange(5))  # all within one batch: itself
    assert notebook_partners(10, 4).tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]


def _save_lab4_like_run(root: Path, data: ImageDataSettings, splits_info: dict) -> list[ShallowFCN]:
    models = []
    for v in VARIANTS:
        for s in range(2):
            m = ShallowFCN(784, 10, seed=10 * len(models) + s)
            save_weights(
                m,
                root / "artifacts" / "weights" / f"{v}-seed{s}.pt",
                config={
                    "in_features": 784,
                    "num_classes": 10,
                    "augmentation": v,
                    "data": data.model_dump(),
                    **splits_info,
                },
            )
            models.append(m)
    return models


def test_weights_from_a_lab4_run_load_and_give_identical_outputs(tmp_path: Path) -> None:
    data = ImageDataSettings(dataset="digits", n_train=30, n_test=8)
    splits = load_image_splits(data)
    saved = _save_lab4_like_run(tmp_path, data, splits.info())
    cfg = RepresentationInvarianceConfig(data=data, weights_from=str(tmp_path))
    loaded = _load_from_run(cfg, splits)
    assert [len(loaded[v]) for v in VARIANTS] == [2, 2]
    x = splits.normalizer.transform(splits.test_images)
    with torch.no_grad():
        for original, back in zip(saved, loaded["none"] + loaded["rotation"], strict=True):
            assert torch.equal(original(x), back(x))

    other = RepresentationInvarianceConfig(data=data.model_copy(update={"digits_box": 16}), weights_from=str(tmp_path))
    with pytest.raises(ValueError, match="'data' parameter of representation-invariance"):
        _load_from_run(other, load_image_splits(other.data))


def test_smoke_run_through_the_cli(tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        [
            "run",
            "representation-invariance",
            "--smoke",
            "--out",
            str(tmp_path),
            "--no-progress",
            "--set",
            "data.dataset=digits",
        ],
    )
    assert res.exit_code == 0, res.output
    run = load_run(tmp_path / res.output.strip().splitlines()[-1].split("/")[-1])
    s = run.summary
    assert run.complete and s["dataset"] == "digits"
    assert s["angles"] == ["90", "180", "random"] and s["layer"] == "fc"
    assert s["reload_max_abs_diff"] == 0.0  # saved, loaded into a fresh model, same outputs
    for v in VARIANTS:
        for label in s["angles"]:
            e = s["scores"][v][label]
            for key in (
                "score",
                "score_ci_images",
                "score_seeds",
                "t_pvalue",
                "wilcoxon_pvalue",
                "cohens_dz",
                "mean_pair",
                "mean_control",
            ):
                assert key in e, key
            assert e["score_ci_images"][0] <= e["score"] <= e["score_ci_images"][1]
            assert e["score"] == pytest.approx(1 - e["mean_pair"] / e["mean_control"])
    assert set(s["comparison"]) == set(s["angles"])
    # 96 test images, notebook batch 64: the first 64 are compared with themselves.
    assert s["notebook"]["rotation"]["self_pairs"] == 64
    for name in ("pairs", "invariance", "gap"):
        assert (run.figures_dir / f"{name}.png").stat().st_size > 1000
    assert (run.artifact("weights") / "rotation-seed1.pt").is_file()
    text = (run.path / "report.md").read_text()
    assert "solved notebook's pairing" in text and "Cohen's d_z" in text
    assert f"{s['scores']['rotation']['90']['score']:.3g}" in text
