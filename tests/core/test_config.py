"""Config rules: frozen, locked, typed; one message shape naming key, allowed values, value received."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import Field, ValidationError

from learnability.config import (
    ConfigError,
    ConfigSection,
    StudyConfig,
    build_config,
    config_from_toml,
    config_to_toml,
    parse_assignments,
)


class Train(ConfigSection):
    max_steps: int = Field(1000, ge=1)
    lr: float = Field(1e-3, gt=0, le=1)
    optimizer: Literal["adam", "sgd"] = "adam"


class Cfg(StudyConfig):
    hidden: list[int] = Field(default_factory=lambda: [75, 50, 10])
    name: str = "teacher"
    standardize: bool = False
    train: Train = Field(default_factory=Train)


def build(*layers):
    return build_config(Cfg, owner="demo", layers=layers)


def test_defaults_and_frozen() -> None:
    cfg = build()
    assert cfg.train.max_steps == 1000 and cfg.hidden == [75, 50, 10]
    with pytest.raises(ValidationError):
        cfg.seed = 3  # type: ignore[misc]


def test_unknown_key_names_it_and_suggests() -> None:
    with pytest.raises(ConfigError) as err:
        build({"train.max_step": 5})
    msg = str(err.value)
    assert "Unknown parameter 'train.max_step' for demo" in msg
    assert "Did you mean 'train.max_steps'?" in msg


def test_unknown_top_level_key() -> None:
    with pytest.raises(ConfigError, match="Unknown parameter 'sede' for demo. Did you mean 'seed'"):
        build({"sede": 1})


def test_wrong_type_message_shape() -> None:
    with pytest.raises(ConfigError) as err:
        build(parse_assignments(Cfg, ["train.max_steps=abc"]))
    assert str(err.value) == (
        "The 'train.max_steps' parameter of demo must be an int in the range [1, inf). Got 'abc' instead."
    )


def test_out_of_range_message_shape() -> None:
    with pytest.raises(ConfigError) as err:
        build({"train": {"lr": 2.0}})
    assert str(err.value) == ("The 'train.lr' parameter of demo must be a float in the range (0, 1]. Got 2.0 instead.")


def test_literal_choices_listed() -> None:
    with pytest.raises(ConfigError, match=r"must be one of \{'adam', 'sgd'\}. Got 'rmsprop' instead"):
        build(parse_assignments(Cfg, ["train.optimizer=rmsprop"]))


def test_fractional_int_refused() -> None:
    with pytest.raises(ConfigError, match="'train.max_steps' parameter of demo must be an int"):
        build({"train.max_steps": 1.5})


def test_every_problem_reported_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        build({"train.lr": -1.0, "seed": -2})
    assert len(err.value.messages) == 2


def test_assignments_are_typed() -> None:
    flat = parse_assignments(
        Cfg, ["hidden=[200, 100]", "train.lr=3e-4", "name=student", "standardize=true", "train.optimizer=sgd"]
    )
    cfg = build(flat)
    assert cfg.hidden == [200, 100] and cfg.train.lr == 3e-4 and cfg.name == "student"
    assert cfg.standardize is True and cfg.train.optimizer == "sgd"


def test_assignment_needs_equals() -> None:
    with pytest.raises(ConfigError, match="key=value"):
        parse_assignments(Cfg, ["train.lr"])


def test_layers_apply_in_order() -> None:
    cfg = build({"train": {"max_steps": 10, "lr": 0.5}}, {"train.max_steps": 20})
    assert cfg.train.max_steps == 20 and cfg.train.lr == 0.5


def test_toml_round_trip(tmp_path) -> None:
    cfg = build({"hidden": [3, 4], "train.lr": 0.25})
    path = tmp_path / "c.toml"
    path.write_text(config_to_toml(cfg, header="a comment\nsecond line"))
    assert path.read_text().startswith("# a comment\n# second line\n")
    assert build(config_from_toml(path)) == cfg


def test_bad_toml_file(tmp_path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("x = = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config_from_toml(path)
    with pytest.raises(ConfigError, match="not found"):
        config_from_toml(tmp_path / "missing.toml")
