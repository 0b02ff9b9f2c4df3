"""Study deep-sets: the session smoke run, the lab's check, invariance of trained ensembles."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from learnability.engine import ModuleEnsemble
from learnability.models import DeepSets, PermutationEquivariant
from learnability.report import fmt, fmt_est
from learnability.studies.deep_sets import (
    DeepSetsResults,
    SetMLP,
    invariance_errors,
    lab_layer_errors,
    perturbed_layer,
)

F64 = torch.float64
SETTINGS = settings(max_examples=15, deadline=None, database=None)


def test_smoke_run_summary_report_and_figures(smoke_run) -> None:
    run = smoke_run("deep-sets")
    res = run.results
    lab = res.lab
    assert lab.layer.equivariance < 1e2 * res.eps_float64
    assert lab.deep_sets_invariance < 1e2 * res.eps_float64
    assert lab.perturbed_layer.equivariance > 1e-5  # delta = 1e-3 is detected
    assert set(res.models) == {"deep_sets_sum", "deep_sets_mean", "mlp"}
    ds, mlp = res.models["deep_sets_sum"], res.models["mlp"]
    assert set(ds.relative_mse_by_size) == {"5", "10", "20"} and set(mlp.relative_mse_by_size) == {"10"}
    assert all(m.n_diverged == 0 for m in res.models.values())
    # Both learn something in 100 steps (predicting the mean scores 1) ...
    assert ds.relative_test_mse.mean < 0.2 and mlp.relative_test_mse.mean < 0.2
    # ... but only Deep Sets is invariant (float32 rounding) and the MLP clearly is not.
    for name in ("deep_sets_sum", "deep_sets_mean"):
        assert res.models[name].invariance_error.mean < 1e-5
    assert mlp.invariance_error.mean > 100 * ds.invariance_error.mean
    assert ds.n_params > 0 and len(ds.test_mse.values) == 2
    assert set(res.mlp_over_deep_sets_mse_ratio) == {"deep_sets_sum", "deep_sets_mean"}
    report = (run.path / "report.md").read_text()
    assert "The lab's check" in report and "Set sizes not seen in training" in report
    assert "relative test MSE" in report and "invariance error" in report
    assert (run.figures_dir / "set_task.png").stat().st_size > 0
    assert run.has_artifact(f"{DeepSetsResults.LR_SWEEP.format('deep_sets_sum')}.parquet")
    # Every (series, tag, step, member) is logged once: a grid extension has a tag of its own.
    assert not run.metrics.duplicated(["series", "tag", "step", "member"]).any()
    for name in res.models:
        rounds = int(run.load_table(DeepSetsResults.LR_SWEEP.format(name))["round"].max())
        tags = set(run.metrics["tag"])
        assert {f"{name}/sweep/ext{r}" for r in range(1, rounds + 1)} <= tags
    assert f"= {fmt(lab.layer.equivariance)} (" in report  # the sentence quotes the measured number
    assert fmt_est(ds.relative_test_mse) in report


def test_lab_layer_errors_known_answers() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 50, 1, generator=g, dtype=F64)
    perms = torch.argsort(torch.rand(30, 50, generator=g), dim=1)
    layer = PermutationEquivariant.from_coefficients(0.25, 0.4, dtype=F64)
    with torch.no_grad():
        exact = lab_layer_errors(layer, x, perms)
        bad = lab_layer_errors(perturbed_layer(0.25, 0.4, 1e-3, 50, "mish", generator=g), x, perms)
    assert exact["equivariance"] < 1e-14 and exact["sorted"] < 1e-14
    assert bad["equivariance"] > 1e-5 and bad["sorted"] > 1e-5
    # The identity map is equivariant; a map that adds the position index is not.
    assert lab_layer_errors(lambda z: z, x, perms)["equivariance"] == 0.0
    pos = torch.arange(50, dtype=F64).reshape(1, 50, 1)
    assert lab_layer_errors(lambda z: z + pos, x, perms)["equivariance"] > 0.1


@SETTINGS
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(2, 12),
    pooling=st.sampled_from(["sum", "mean", "max"]),
)
def test_ensemble_invariance_over_random_permutations(seed: int, n: int, pooling: str) -> None:
    """Through the study's path (ModuleEnsemble + invariance_errors): Deep Sets members are
    invariant to float32 rounding, MLP members on the concatenated set are not."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(32, n, 1, generator=g)
    perms = torch.argsort(torch.rand(32, n, generator=g), dim=1)
    ds = ModuleEnsemble(lambda: DeepSets(1, 1, phi_hidden=(8,), rho_hidden=(8,), pooling=pooling, seed=0))
    p_ds = ds.init([seed % 1000, seed % 1000 + 1])
    err = invariance_errors(lambda z: ds.predict(p_ds, z), x, perms)
    assert err.shape == (2, 32) and float(err.max()) < 1e-4
    mlp = ModuleEnsemble(lambda: SetMLP(n, (8,)))
    p_mlp = mlp.init([seed % 1000])
    assert float(invariance_errors(lambda z: mlp.predict(p_mlp, z), x, perms).mean()) > 1e-4


def test_set_mlp_shapes() -> None:
    net = SetMLP(4, (5, 3))
    assert net(torch.zeros(7, 4, 1)).shape == (7, 1)
    assert sum(p.numel() for p in net.parameters()) == 4 * 5 + 5 + 5 * 3 + 3 + 3 + 1


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("task.n_test=1000000000", "'task.n_test'"),  # ~2,500 GiB: refused before any work
        ("models.phi_hidden=[16,-3]", "'models.phi_hidden'"),
        ("train.lr_low=0.5", "'train.lr_high'"),  # lr_low above lr_high (smoke: 0.03)
        ("train.lr_high=inf", "'train.lr_high'"),
    ],
)
def test_impossible_settings_are_refused_before_any_work(setting: str, named: str, tmp_path) -> None:
    from typer.testing import CliRunner

    from learnability.cli import app

    res = CliRunner().invoke(app, ["run", "deep-sets", "--smoke", "--set", setting, "--out", str(tmp_path / "o")])
    assert res.exit_code == 2, res.output
    assert named in res.output and res.output.count("error:") == 1
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
