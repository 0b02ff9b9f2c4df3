"""Study hubel-wiesel: the session smoke run, exactness and baselines, nearest neighbours."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from learnability.models import complex_cells, simple_cells
from learnability.report import fmt
from learnability.studies.hubel_wiesel import (
    act_each,
    group_pair,
    knn_accuracy,
    relative_max_error,
    symmetry_errors,
)

F64 = torch.float64
GROUPS = ("flip", "rotation90", "shift")
SETTINGS = settings(max_examples=15, deadline=None, database=None)


def test_smoke_run_summary_report_and_figures(smoke_run) -> None:
    run = smoke_run("hubel-wiesel")
    res = run.results
    eps64, eps32 = res.eps_float64, res.eps_float32
    assert set(res.synthetic) == set(GROUPS) and all(res.digits.group(g) is not None for g in GROUPS)
    for g in GROUPS:
        syn = res.synthetic[g]
        # Exact up to float64 rounding, for every tested element and both nonlinearities ...
        assert syn.equivariance < 1e2 * eps64
        assert syn.invariance_threshold < 1e2 * eps64
        assert syn.invariance_sigmoid < 1e2 * eps64
        # ... while the baselines are clearly not invariant.
        assert syn.unpermuted > 0.1 and syn.wrong_group > 0.05
        dig = res.digits.group(g)
        assert dig.exact.equivariance < 1e2 * eps32
        assert dig.exact.invariance_threshold < 1e2 * eps32
        # Exactly invariant features give the same nearest neighbours on transformed digits.
        assert dig.knn["complex"].original.values == dig.knn["complex"].transformed.values
        assert dig.knn["pixels"].transformed.mean < dig.knn["pixels"].original.mean - 0.2
    report = (run.path / "report.md").read_text()
    assert "Exactness on synthetic images" in report and "1-nearest-neighbour accuracy" in report
    worst = max(res.synthetic[g].equivariance for g in GROUPS)
    assert f"relative max error of {fmt(worst)}" in report
    for name in ("exactness", "knn_accuracy", "examples"):
        assert (run.figures_dir / f"{name}.png").stat().st_size > 0


@pytest.mark.parametrize("name", GROUPS)
def test_symmetry_errors_known_answers(name: str) -> None:
    group, wrong = group_pair(name, 6, 6)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(5, 6, 6, generator=g, dtype=F64)
    templates = torch.randn(3, 36, generator=g, dtype=F64)
    levels = torch.tensor([-0.5, 0.0, 0.5], dtype=F64)
    elements = [k for k in range(group.order) if k != group.identity_index]
    err = symmetry_errors(x, templates, group, wrong, levels, ["threshold", "sigmoid"], elements)
    assert err.equivariance < 1e-13 and err.invariance_threshold < 1e-13 and err.invariance_sigmoid < 1e-13
    assert err.unpermuted > 0.1 and err.wrong_group > 0.01
    # Testing only elements of the wrong group itself would not reveal the wrong pooling.
    shared = [k for k in elements if any(torch.equal(group.perms[k], p) for p in wrong.perms)]
    if shared:
        err_shared = symmetry_errors(x, templates, group, wrong, levels, ["threshold"], shared)
        assert err_shared.wrong_group < 1e-13


def test_wrong_groups_are_not_supergroups() -> None:
    for name in GROUPS:
        group, wrong = group_pair(name, 4, 4)
        rows = {tuple(p.tolist()) for p in wrong.perms}
        assert any(tuple(p.tolist()) not in rows for p in group.perms), name


@SETTINGS
@given(name=st.sampled_from(GROUPS), seed=st.integers(0, 2**31 - 1))
def test_act_each_matches_act_and_complex_cells_are_invariant(name: str, seed: int) -> None:
    group, _ = group_pair(name, 5, 5)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(7, 5, 5, generator=g, dtype=F64)
    k = torch.randint(0, group.order, (7,), generator=g)
    gx = act_each(group, x, k)
    for b in range(7):
        torch.testing.assert_close(gx[b], group.act(x[b : b + 1], int(k[b]))[0], rtol=0, atol=0)
    w = torch.randn(2, 25, generator=g, dtype=F64)
    c, cg = (complex_cells(simple_cells(z, w, group), [0.0, 0.3]) for z in (x, gx))
    assert relative_max_error(cg, c) < 1e-13


def test_knn_accuracy_known_answer_and_invariant_features() -> None:
    train_f = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    train_y = torch.tensor([0, 1, 2])
    test_f = torch.tensor([[1.0, 1.0], [9.0, 1.0], [1.0, 9.0], [8.0, 0.0]])
    assert knn_accuracy(train_f, train_y, test_f, torch.tensor([0, 1, 2, 0])) == 0.75
    assert relative_max_error(torch.ones(3), torch.ones(3)) == 0.0
    assert relative_max_error(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 2.0])) == 0.5
