"""Ensembles whose members learn different targets: a per-member online source and per-member
evaluation sets, checked against the same members labelled and evaluated one at a time."""

from __future__ import annotations

import pytest
import torch

from learnability._validation import ParameterError
from learnability.engine import (
    Adam,
    EvalSet,
    MLPSpec,
    OnlineSource,
    PerMemberEvalSet,
    StackedMLP,
    TrainSpec,
    mse,
    train,
)
from learnability.targets import Teacher, teacher_spec

SPEC = teacher_spec(8, (6, 4))
GROUPS = [0, 1, 0]  # member -> target


def _sample(g: torch.Generator, n: int) -> torch.Tensor:
    return torch.rand(n, 8, generator=g) * 2


def _teachers() -> list[Teacher]:
    return [Teacher(SPEC, seed=s) for s in (3, 4)]


def _per_member_label(teachers: list[Teacher]):
    idx = torch.as_tensor(GROUPS)

    def label(x: torch.Tensor) -> torch.Tensor:  # (K, N, d) -> (K, N, 1)
        return torch.stack([teachers[int(g)].label(x[k]) for k, g in enumerate(idx)])

    return label


def test_per_member_source_labels_each_member_with_its_own_target() -> None:
    teachers = _teachers()
    source = OnlineSource(_sample, _per_member_label(teachers), batch_size=5, per_member=True)
    plain = OnlineSource(_sample, teachers[0].label, batch_size=5)
    source.start([1, 2, 3], torch.device("cpu"))
    plain.start([1, 2, 3], torch.device("cpu"))
    for _ in range(20):  # crosses a chunk refill
        x, y = source.next()
        xp, _ = plain.next()
        torch.testing.assert_close(x, xp, rtol=0, atol=0)  # member k's inputs: its seed's stream
        for k, g in enumerate(GROUPS):
            torch.testing.assert_close(y[k], teachers[g].label(x[k]))  # float32 rounding of a larger matmul
    # Two targets that differ: the members of group 1 do not get group 0's labels.
    assert not torch.allclose(y[1], teachers[0].label(x[1]))


def test_a_per_member_label_of_the_wrong_shape_is_refused() -> None:
    source = OnlineSource(_sample, lambda x: x[..., :1].reshape(-1, 1), batch_size=5, per_member=True)
    source.start([1, 2], torch.device("cpu"))
    with pytest.raises(ValueError, match="a per-member label must return"):
        source.next()


def test_per_member_eval_sets_score_each_member_on_its_own_set() -> None:
    teachers = _teachers()
    g = torch.Generator().manual_seed(0)
    xs = [_sample(g, 300) for _ in teachers]
    sets = tuple(
        EvalSet(x, t.label(x), metrics={"scaled": (lambda p, y, s=s: mse(p, y) * s)})
        for x, t, s in zip(xs, teachers, (1.0, 10.0), strict=True)
    )
    model = StackedMLP(MLPSpec(8, (16,)))
    res = train(
        model,
        model.init([0, 1, 2]),
        loss=mse,
        optimizer=Adam(),
        lr=[1e-2] * 3,
        data=OnlineSource(_sample, _per_member_label(teachers), batch_size=16, per_member=True),
        seeds=[5, 6, 7],
        spec=TrainSpec(max_steps=40, block=10, eval_every=20),
        eval_sets={"test": PerMemberEvalSet(sets, GROUPS)},
    )
    assert list(res.evals["test_loss"].steps) == [0, 20, 40]
    final = res.evals["test_loss"].final
    for k, grp in enumerate(GROUPS):
        alone = model.predict(model.select(res.params, [k]), xs[grp])
        expected = float(mse(alone, sets[grp].y)[0])
        assert final[k] == pytest.approx(expected, rel=1e-5)
        # Each set's own metric applies to its own members (scale 1 or 10).
        assert res.evals["test_scaled"].final[k] == pytest.approx(expected * (1.0, 10.0)[grp], rel=1e-5)


def test_per_member_eval_set_validated() -> None:
    es = EvalSet(torch.zeros(2, 8), torch.zeros(2, 1))
    with pytest.raises(ParameterError, match="'groups' parameter of PerMemberEvalSet"):
        PerMemberEvalSet((es,), [0, 1])
    with pytest.raises(ParameterError, match="'sets' parameter of PerMemberEvalSet"):
        PerMemberEvalSet((es, EvalSet(es.x, es.y, metrics={"m": mse})), [0, 1])
    model = StackedMLP(MLPSpec(8, (4,)))
    with pytest.raises(ParameterError, match="'eval_sets' parameter of train"):
        train(
            model,
            model.init([0, 1]),
            loss=mse,
            optimizer=Adam(),
            lr=[1e-2, 1e-2],
            data=OnlineSource(_sample, lambda x: x[:, :1], batch_size=4),
            seeds=[0, 1],
            spec=TrainSpec(max_steps=2),
            eval_sets={"test": PerMemberEvalSet((es,), [0, 0, 0])},
        )
