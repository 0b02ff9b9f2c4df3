"""Probes: forward hooks, safe weights files, equivariance and invariance measurements."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from learnability._validation import ParameterError
from learnability.models import (
    WEIGHTS_FORMAT,
    LabCNN,
    ShallowFCN,
    capture_activations,
    equivariance_error,
    get_activations,
    invariance_score,
    layer_names,
    load_weights,
    metadata_path,
    read_weights_metadata,
    save_weights,
    sorted_values_error,
)


class Nested(nn.Module):
    """A model with nested names, a module used twice and a tuple-returning layer."""

    def __init__(self) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.encoder = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Sequential(nn.Linear(6, 5)))
        self.shared = nn.ReLU()
        self.head = nn.Linear(5, 3)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shared(self.head(self.shared(self.encoder(x))))


def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def _x(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_hooks_return_the_named_layers_output_and_are_removed():
    model = Nested()
    x = _x(7, 4)
    inner = get_activations(model, x, "encoder.2.0")  # nested name
    expected = model.encoder[2][0](torch.tanh(model.encoder[0](x)))
    torch.testing.assert_close(inner, expected)
    assert not inner.requires_grad
    both = get_activations(model, x, ["encoder.1", "head"])
    torch.testing.assert_close(both["encoder.1"], torch.tanh(model.encoder[0](x)))
    torch.testing.assert_close(both["head"], model.head(F.relu(expected)))
    repeated = get_activations(model, x, ["head", "head"])  # a repeated name is asked once
    assert list(repeated) == ["head"] and torch.equal(repeated["head"], both["head"])
    assert _hook_count(model) == 0


def test_lab_cnn_activations_are_the_labs_representations():
    model = LabCNN(seed=0)
    x = _x(4, 1, 28, 28)
    acts = get_activations(model, x, ["conv1", "fc1"], batch_size=3)  # batching concatenates
    _, conv, fc = model.forward_with_representations(x)
    torch.testing.assert_close(acts["conv1"], conv)
    torch.testing.assert_close(acts["fc1"], fc)
    assert _hook_count(model) == 0


def test_hooks_are_removed_when_the_forward_raises():
    model = Nested()
    with pytest.raises(RuntimeError), capture_activations(model, ["encoder.0", "head"]):
        model(torch.zeros(2, 9))  # wrong width: the linear layer raises
    assert _hook_count(model) == 0


def test_capture_records_every_call_detached():
    model = Nested()
    x = _x(3, 4).requires_grad_()
    with capture_activations(model, "shared") as acts:
        model(x)
    assert len(acts["shared"]) == 2 and not any(a.requires_grad for a in acts["shared"])
    assert _hook_count(model) == 0


def test_capture_detaches_tuple_outputs():
    lstm = nn.LSTM(3, 2, batch_first=True)
    model = nn.Sequential()
    model.add_module("rnn", lstm)
    with capture_activations(model, "rnn") as acts:
        model(_x(2, 5, 3))
    out, (h, c) = acts["rnn"][0]
    assert not (out.requires_grad or h.requires_grad or c.requires_grad)
    with pytest.raises(RuntimeError, match="not a tensor"):
        get_activations(model, _x(2, 5, 3), "rnn")


def test_layer_used_twice_is_an_error_for_get_activations():
    with pytest.raises(RuntimeError, match="ran 2 times"):
        get_activations(Nested(), _x(2, 4), "shared")
    assert _hook_count(Nested()) == 0


def test_unknown_layer_lists_the_available_names():
    model = Nested()
    with pytest.raises(ParameterError, match=r"encoder\.2\.0") as info:
        get_activations(model, _x(2, 4), "encoder.3")
    assert "'encoder.3'" in str(info.value) and "'head'" in str(info.value)
    assert layer_names(model) == [
        "encoder",
        "encoder.0",
        "encoder.1",
        "encoder.2",
        "encoder.2.0",
        "shared",
        "head",
    ]
    assert _hook_count(model) == 0


# -- weights --------------------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path):
    trained = ShallowFCN(64, 10, seed=0)
    path = save_weights(trained, tmp_path / "run" / "model.pt", config={"in_features": 64, "lr": 0.1})
    fresh = ShallowFCN(64, 10, seed=1)
    meta = load_weights(fresh, path)
    for a, b in zip(trained.state_dict().values(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert meta["config"] == {"in_features": 64, "lr": 0.1}
    assert meta["format"] == WEIGHTS_FORMAT
    assert meta["model_class"] == "learnability.models.fcn.ShallowFCN"
    assert meta["tensors"] == {"fc.weight": [10, 64], "fc.bias": [10]}
    assert metadata_path(path) == tmp_path / "run" / "model.json"
    assert json.loads(metadata_path(path).read_text()) == read_weights_metadata(path)
    assert not list((tmp_path / "run").glob("*.tmp"))


def test_load_plain_state_dict_without_metadata(tmp_path):
    model = LabCNN(seed=0)
    torch.save(model.state_dict(), tmp_path / "w.pth")
    other = LabCNN(seed=1)
    assert load_weights(other, tmp_path / "w.pth") == {}
    assert torch.equal(other.conv1.weight, model.conv1.weight)


def test_load_refuses_wrong_architecture(tmp_path):
    path = save_weights(ShallowFCN(64, 10, seed=0), tmp_path / "m.pt")
    with pytest.raises(RuntimeError, match="size mismatch"):
        load_weights(ShallowFCN(784, 10, seed=0), path)


class _Payload:
    """An object whose unpickling would run code (here: set a flag)."""

    ran = False

    def __reduce__(self):
        return (_set_flag, ())


def _set_flag() -> None:
    _Payload.ran = True


def test_load_refuses_arbitrary_pickles_without_running_them(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"fc.weight": torch.zeros(10, 64), "x": _Payload()}, path)
    with pytest.raises(ValueError, match="Refused"):
        load_weights(ShallowFCN(64, 10, seed=0), path)
    assert not _Payload.ran
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps(_Payload(), protocol=2))  # torch.load warns on others
    with pytest.raises(ValueError, match="Refused"):
        load_weights(ShallowFCN(64, 10, seed=0), plain)
    assert not _Payload.ran


def test_load_refuses_non_state_dicts(tmp_path):
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="mapping of parameter names to tensors"):
        load_weights(ShallowFCN(64, 10, seed=0), tmp_path / "list.pt")
    with pytest.raises(FileNotFoundError):
        load_weights(ShallowFCN(64, 10, seed=0), tmp_path / "missing.pt")


def test_save_refuses_non_json_config(tmp_path):
    with pytest.raises(ParameterError, match="config"):
        save_weights(ShallowFCN(64, 10, seed=0), tmp_path / "m.pt", config={"t": torch.zeros(1)})


# -- equivariance / invariance ----------------------------------------------------------------
def _roll(t: torch.Tensor, a: int = 2, b: int = -3) -> torch.Tensor:
    return torch.roll(t, shifts=(a, b), dims=(-2, -1))


def test_equivariance_error_is_zero_for_an_equivariant_layer():
    model = LabCNN(10, padding_mode="circular", seed=0).double()
    x = _x(6, 1, 10, 10).double()
    err = equivariance_error(model, x, _roll, layer="conv1", output_transform=_roll)
    assert err.shape == (6,) and err.max() < 1e-12
    # The same pairs given as a tensor of transformed inputs.
    err_pairs = equivariance_error(model, x, _roll(x), layer="conv1", output_transform=_roll)
    torch.testing.assert_close(err_pairs, err)
    # Without the output transform, a conv is not invariant.
    assert equivariance_error(model, x, _roll, layer="conv1").min() > 0.1


def test_equivariance_error_known_value():
    # f = identity layer, g x = 2 x, g' = identity: ||2x - x|| / ||x|| = 1 exactly.
    model = nn.Sequential(nn.Identity())
    x = _x(5, 3).double()
    err = equivariance_error(model, x, lambda t: 2 * t, layer="0")
    torch.testing.assert_close(err, torch.ones(5, dtype=torch.float64))
    zero = torch.zeros(2, 3, dtype=torch.float64)
    torch.testing.assert_close(
        equivariance_error(model, zero, lambda t: t, layer="0"), torch.zeros(2, dtype=torch.float64)
    )
    assert torch.isinf(equivariance_error(model, zero, lambda t: t + 1, layer="0")).all()


def test_sorted_values_test_sees_permutations_only():
    model = LabCNN(10, padding_mode="circular", seed=0).double()
    x = _x(4, 1, 10, 10).double()
    assert sorted_values_error(model, x, _roll, layer="conv1").max() < 1e-12
    assert sorted_values_error(model, x, lambda t: 1.5 * t, layer="conv1").min() > 1e-3
    valid = LabCNN(10, padding_mode="valid", seed=0).double()
    assert sorted_values_error(valid, x, _roll, layer="conv1").min() > 1e-6  # boundary effects


def test_transform_shape_is_checked():
    model = LabCNN(10, seed=0)
    x = _x(2, 1, 10, 10)
    with pytest.raises(ParameterError, match="transform"):
        equivariance_error(model, x, x[:1], layer="conv1")


def test_invariance_score_extremes():
    pool = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    invariant = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())  # mean is shift-invariant
    x = _x(12, 1, 4, 4).double()
    score = invariance_score(invariant, x, _roll, layer="1", generator=torch.Generator().manual_seed(0))
    assert score.paired.max() < 1e-12 and score.control.min() > 0 and score.score == pytest.approx(1.0)
    # Transforming x into an unrelated x gives a score of 0 when the control is that same x.
    other = _x(12, 1, 4, 4, seed=5).double()
    pool.double()
    same = invariance_score(pool, x, other, control=other)
    torch.testing.assert_close(same.paired, same.control)
    assert same.score == pytest.approx(0.0, abs=1e-12)


def test_invariance_score_control_is_a_derangement():
    model = nn.Sequential(nn.Identity())
    x = torch.arange(10.0).reshape(10, 1)
    score = invariance_score(model, x, lambda t: t, layer="0", generator=torch.Generator().manual_seed(3))
    assert (score.control > 0).all()  # every example is compared with a different one
    again = invariance_score(model, x, lambda t: t, layer="0", generator=torch.Generator().manual_seed(3))
    assert torch.equal(score.control, again.control)  # same seed, same controls
    with pytest.raises(ParameterError, match="generator"):
        invariance_score(model, x, lambda t: t, layer="0")
