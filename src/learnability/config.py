"""Typed, frozen study configurations and the rules for overriding them.

Every study has one :class:`StudyConfig` subclass whose defaults are the spec's values. A config is
frozen (assignment raises) and locked (an unknown key is an error, not a silently ignored setting).
Overrides come from a TOML file or ``--set key=value`` pairs with dotted keys for nested sections;
they are checked *before* any work starts, and every violation is reported in the project's single
message shape::

    The 'train.max_steps' parameter of teacher-student must be an int in the range [1, inf). Got 0 instead.

Mapping-typed settings (e.g. teacher-student's ``students``, name -> widths): a value given for
one entry (the dotted key ``--set students.S_u=[20]``) changes that entry and keeps the others; a
value given for the whole mapping (``--set "students={S_u=[20]}"``, or the table in a TOML file)
replaces it, dropping the entries it does not list.
"""

from __future__ import annotations

import difflib
import inspect
import re
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple, TypeVar

import annotated_types
import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from learnability._validation import describe_range, parameter_message

__all__ = [
    "ConfigError",
    "ConfigSection",
    "OrderedPair",
    "StudyConfig",
    "build_config",
    "config_doc",
    "config_from_toml",
    "config_to_toml",
    "parse_assignments",
]

C = TypeVar("C", bound="StudyConfig")


class OrderedPair(NamedTuple):
    """Two settings of one section that must be ordered: ``low < high`` (``low <= high`` when
    not ``strict``), declared in the section's ``ordered_pairs``.

    Example:
        >>> class Sweep(ConfigSection):
        ...     ordered_pairs = (OrderedPair("lr_low", "lr_high"),)
        ...     lr_low: float = 1e-3
        ...     lr_high: float = 1e-1
    """

    low: str
    high: str
    strict: bool = True


def _is_number_annotation(annotation: Any) -> bool:
    """Whether a field holds an int or a float (also ``int | None``, ``Annotated[float, ...]``)."""
    if annotation in (int, float):
        return True
    if typing.get_origin(annotation) is typing.Annotated:
        return _is_number_annotation(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return bool(args) and all(_is_number_annotation(a) for a in args)
    return False


class ConfigSection(BaseModel):
    """A nested, frozen, locked group of settings inside a study config.

    Checks shared by every config, before any work starts:

    * floats are finite: ``inf`` and ``nan`` are refused everywhere (a field that means to
      accept them says so with ``Field(allow_inf_nan=True)``);
    * a bool is not a number: ``seed=True`` is refused, not read as 1;
    * the pairs named in ``ordered_pairs`` are ordered (``lr_low < lr_high``), with the
      project's message shape: "The 'lr_high' parameter of teacher-student must be a float
      greater than lr_low (0.1). Got 0.01 instead."
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False)

    ordered_pairs: ClassVar[tuple[OrderedPair | tuple[str, str], ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A misspelt name would make the check silently pass: refuse it when the class is made.
        annotations = {}
        for klass in reversed(cls.__mro__):
            annotations.update(getattr(klass, "__annotations__", {}))
        for pair in cls.ordered_pairs:
            for name in OrderedPair(*pair)[:2]:
                if name not in annotations:
                    raise TypeError(f"{cls.__name__}.ordered_pairs names {name!r}, which is not a field")

    @field_validator("*", mode="before")
    @classmethod
    def _bool_is_not_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(value, bool) and field is not None and _is_number_annotation(field.annotation):
            raise PydanticCustomError("bool_not_number", "a bool is not a number")
        return value

    @model_validator(mode="after")
    def _check_ordered_pairs(self) -> ConfigSection:
        for pair in self.ordered_pairs:
            low, high, strict = OrderedPair(*pair)
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is None or hi is None:
                continue
            if (hi <= lo) if strict else (hi < lo):
                raise PydanticCustomError(
                    "ordered_pair",
                    "{high} must be greater than {relation}{low} ({low_value}); got {high_value}",
                    {
                        "low": low,
                        "high": high,
                        "relation": "" if strict else "or equal to ",
                        "low_value": lo,
                        "high_value": hi,
                    },
                )
        return self


class StudyConfig(ConfigSection):
    """Base of every study's configuration.

    Subclasses document, in their docstring, the exact command that runs them, the measured
    runtime and the expected result; their field defaults are the spec's values.
    """

    seed: int = Field(0, ge=0, description="Root seed: every random stream of the run derives from it.")
    device: str = Field(
        "cpu",
        pattern=r"^(cpu|cuda(:[0-9]+)?|mps)$",
        description="Where tensors live and models train: cpu, cuda, cuda:N or mps (where available).",
    )


class ConfigError(ValueError):
    """One or more configuration values are invalid; ``messages`` lists each problem."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("\n".join(messages))


# --------------------------------------------------------------------------- describing fields


def _type_words(annotation: Any) -> str:
    """Plain-words description of a type annotation ('an int', "one of {'adam', 'sgd'}", ...)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is int:
        return "an int"
    if annotation is float:
        return "a float"
    if annotation is bool:
        return "a bool"
    if annotation is str:
        return "a str"
    if origin is Literal:
        return "one of {" + ", ".join(repr(a) for a in args) + "}"
    if origin in (typing.Union, types.UnionType):
        parts = [_type_words(a) for a in args if a is not type(None)]
        words = " or ".join(parts)
        return words + (" or None" if type(None) in args else "")
    if origin in (list, tuple, Iterable) or annotation in (list, tuple):
        inner = [a for a in args if a is not Ellipsis]
        inner_words = _type_words(inner[0]).split(" ", 1)[-1] if inner else "values"
        return f"a list of {inner_words}"
    if origin in (dict, Mapping):
        return "a table (mapping)"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"a table of {annotation.__name__} settings"
    if origin is typing.Annotated:
        return _type_words(args[0])
    return getattr(annotation, "__name__", str(annotation))


def _range_words(metadata: Iterable[Any]) -> str:
    low = high = None
    low_inc = high_inc = True
    for m in metadata:
        if isinstance(m, annotated_types.Ge):
            low, low_inc = m.ge, True
        elif isinstance(m, annotated_types.Gt):
            low, low_inc = m.gt, False
        elif isinstance(m, annotated_types.Le):
            high, high_inc = m.le, True
        elif isinstance(m, annotated_types.Lt):
            high, high_inc = m.lt, False
        elif isinstance(m, annotated_types.MinLen):
            return f" with at least {m.min_length} entries"
    if low is None and high is None:
        return ""
    return " in the range " + describe_range(low, high, low_inclusive=low_inc, high_inclusive=high_inc)


def describe_field(field: FieldInfo) -> str:
    """What a field accepts, in words: type and range."""
    return _type_words(field.annotation) + _range_words(field.metadata)


def _field_at(cls: type[BaseModel], path: tuple[str | int, ...]) -> FieldInfo | None:
    """The field a pydantic error location points to (list indices are skipped)."""
    model: Any = cls
    field: FieldInfo | None = None
    for part in path:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return field
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = _model_in(field.annotation)
    return field


def _model_in(annotation: Any) -> Any:
    """The BaseModel class inside an annotation (``Section`` or ``Section | None``), else it."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return annotation


def _known_keys(cls: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in cls.model_fields.items():
        keys.append(prefix + name)
        sub = _model_in(field.annotation)
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            keys.extend(_known_keys(sub, prefix + name + "."))
    return keys


# --------------------------------------------------------------------------- overrides


def _is_str_field(cls: type[BaseModel], dotted: str) -> bool:
    field = _field_at(cls, tuple(dotted.split(".")))
    if field is None:
        return False
    ann = field.annotation
    if ann is str:
        return True
    if typing.get_origin(ann) is Literal:
        return all(isinstance(a, str) for a in typing.get_args(ann))
    return False


def parse_assignments(cls: type[BaseModel], assignments: Iterable[str]) -> dict[str, Any]:
    """Parse ``key=value`` strings into a flat dict of dotted keys and typed values.

    Values are read as TOML literals (``3``, ``1e-3``, ``true``, ``[75, 50, 10]``, ``"text"``);
    for string-typed keys the raw text is used so that ``optimizer=sgd`` needs no quotes.

    Raises:
        ConfigError: for an assignment without ``=``.
    """
    out: dict[str, Any] = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or not key:
            raise ConfigError([f"Overrides must look like key=value. Got {item!r} instead."])
        if _is_str_field(cls, key):
            out[key] = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"" else raw
            continue
        try:
            out[key] = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = raw  # validation reports it against the field's type
    return out


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for dotted, value in flat.items():
        parts = dotted.split(".")
        node = nested
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if isinstance(node, _Replace):  # an entry of a mapping given whole in the same layer
                node = node.value
            if not isinstance(node, dict):
                raise ConfigError([f"Cannot set '{dotted}': '{p}' is not a table."])
        node[parts[-1]] = value
    return nested


def _flatten(nested: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for k, v in nested.items():
        if isinstance(v, Mapping) and v:
            flat.update(_flatten(v, prefix + k + "."))
        else:
            flat[prefix + k] = v
    return flat


class _Replace:
    """The whole value of a mapping-typed setting: replaces the default mapping, not merged into it.

    Deliberately not a Mapping, so that flattening keeps it whole.
    """

    def __init__(self, value: Mapping[str, Any]) -> None:
        self.value = dict(value)


def _mark_replacements(cls: type[BaseModel], layer: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``layer`` with each mapping given for a whole mapping-typed setting wrapped in :class:`_Replace`
    (a dotted key naming one entry, ``students.S_u``, stays an entry)."""
    out: dict[str, Any] = {}
    for k, v in layer.items():
        path = prefix + str(k)
        if isinstance(v, Mapping) and _is_dict_field(cls, path):
            out[k] = _Replace(v)
        elif isinstance(v, Mapping):
            out[k] = _mark_replacements(cls, v, path + ".")
        else:
            out[k] = v
    return out


def _deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in update.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _deep_merge(dict(out[k]), v)
        elif isinstance(v, Mapping) and isinstance(out.get(k), _Replace):  # entries after a whole mapping
            out[k] = _Replace(_deep_merge(out[k].value, v))
        else:
            out[k] = v
    return out


def _onto_defaults(cls: type[BaseModel], merged: Mapping[str, Any]) -> dict[str, Any]:
    """Resolve mapping-typed settings: entries given one by one update the default mapping; a
    :class:`_Replace` is the whole mapping."""
    out = dict(merged)
    for name, value in merged.items():
        field = cls.model_fields.get(name)
        if field is None:
            continue
        if isinstance(value, _Replace):
            out[name] = value.value
        elif typing.get_origin(field.annotation) in (dict, Mapping) and isinstance(value, Mapping):
            default = field.get_default(call_default_factory=True)
            out[name] = {**(default if isinstance(default, Mapping) else {}), **value}
        elif isinstance(value, Mapping):
            sub = _model_in(field.annotation)
            if isinstance(sub, type) and issubclass(sub, BaseModel):
                out[name] = _onto_defaults(sub, value)
    return out


def _check_keys(cls: type[BaseModel], flat: Mapping[str, Any], owner: str) -> list[str]:
    known = _known_keys(cls)
    problems = []
    for key in flat:
        if key in known or any(key.startswith(k + ".") and _is_dict_field(cls, k) for k in known):
            continue
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        leaves = ", ".join(k for k in known if k.count(".") == key.count("."))
        problems.append(f"Unknown parameter '{key}' for {owner}.{hint} Known parameters at this level: {leaves}.")
    return problems


def _is_dict_field(cls: type[BaseModel], dotted: str) -> bool:
    field = _field_at(cls, tuple(dotted.split(".")))
    return field is not None and typing.get_origin(field.annotation) in (dict, Mapping)


def _format_errors(cls: type[BaseModel], err: ValidationError, owner: str) -> list[str]:
    messages = []
    for e in err.errors():
        loc = tuple(e["loc"])
        dotted = ".".join(str(p) for p in loc if not isinstance(p, int))
        if e["type"] == "extra_forbidden":
            messages.extend(_check_keys(cls, {dotted: None}, owner))
            continue
        if e["type"] == "value_error":
            # Validators write complete messages already (see parameter_message).
            messages.append(str(e["ctx"]["error"]) if "ctx" in e else e["msg"])
            continue
        if e["type"] == "ordered_pair":
            ctx = e["ctx"]
            prefix = dotted + "." if dotted else ""
            high_field = _field_at(cls, (*loc, ctx["high"]))
            kind = _type_words(high_field.annotation) if high_field is not None else "a value"
            allowed = f"{kind} greater than {ctx['relation']}{prefix}{ctx['low']} ({ctx['low_value']!r})"
            messages.append(parameter_message(prefix + ctx["high"], owner, allowed, ctx["high_value"]))
            continue
        field = _field_at(cls, tuple(p for p in loc))
        allowed = describe_field(field) if field is not None else e["msg"]
        if e["type"] == "finite_number":
            allowed = (
                "a list of finite floats"
                if allowed.startswith("a list of float")
                else "a finite " + allowed.removeprefix("a ")
            )
        if any(isinstance(p, int) for p in loc) and field is not None:
            allowed += f" ({e['msg'].lower()} at item {[p for p in loc if isinstance(p, int)][-1]})"
        messages.append(parameter_message(dotted or "<root>", owner, allowed, e.get("input")))
    return messages


def build_config(
    cls: type[C],
    *,
    owner: str,
    layers: Iterable[Mapping[str, Any]] = (),
) -> C:
    """Build a config from its defaults and override layers applied in order.

    Args:
        cls: the study's config class.
        owner: the name quoted in error messages (the study's name).
        layers: mappings with nested tables and/or dotted keys, later ones win
            (e.g. a TOML file, then the smoke size, then ``--set`` pairs). For a mapping-typed
            setting, a dotted key (``students.S_u``) changes one entry of the default mapping; a
            mapping given for the setting itself replaces the default.

    Returns:
        The validated, frozen config.

    Raises:
        ConfigError: listing every unknown key, wrong type or out-of-range value.
    """
    merged: dict[str, Any] = {}
    problems: list[str] = []
    for layer in layers:
        flat = _flatten(_mark_replacements(cls, layer))
        unknown = _check_keys(cls, flat, owner)
        problems.extend(unknown)
        # Unknown keys are reported, and left out so the remaining values are still checked.
        known = {k: v for k, v in flat.items() if not _check_keys(cls, {k: v}, owner)}
        merged = _deep_merge(merged, _nest(known))
    try:
        config = cls.model_validate(_onto_defaults(cls, merged))
    except ValidationError as err:
        raise ConfigError(problems + _format_errors(cls, err, owner)) from None
    if problems:
        raise ConfigError(problems)
    return config


def _drop_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list | tuple):
        return [_drop_none(v) for v in obj]
    return obj


def _changed(values: Mapping[str, Any], defaults: Mapping[str, Any], cls: type[BaseModel]) -> dict[str, Any]:
    """The entries of ``values`` that differ from ``defaults`` (sections compared key by key, a
    mapping-typed setting as a whole: a file's table replaces the whole mapping)."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        field = cls.model_fields.get(k)
        sub = _model_in(field.annotation) if field is not None else None
        if isinstance(v, dict) and isinstance(sub, type) and issubclass(sub, BaseModel):
            inner = _changed(v, defaults.get(k) or {}, sub)
            if inner:
                out[k] = inner
        elif k not in defaults or defaults[k] != v:
            out[k] = v
    return out


def config_to_toml(config: BaseModel, *, header: str = "", only_changed: bool = False) -> str:
    """Serialise a config as TOML (``None`` values are omitted: TOML has no null).

    Args:
        config: the config.
        header: text written first, as TOML comments.
        only_changed: write only the settings that differ from the config class's defaults
            (``learnability config`` without ``--full``), so that the file pins no default.
    """
    values = config.model_dump(mode="json")
    if only_changed:
        values = _changed(values, type(config)().model_dump(mode="json"), type(config))
    body = tomli_w.dumps(_drop_none(values))
    lines = [f"# {line}".rstrip() for line in header.splitlines()] if header else []
    return "\n".join([*lines, body]) if lines else body


_DOC_SECTION = re.compile(r"^(Command|Runtime|Expected):", re.MULTILINE)


def config_doc(cls: type[BaseModel]) -> str:
    """The config class's docstring from its first ``Command:``, ``Runtime:`` or ``Expected:``
    line to the end (the command that runs it, the measured runtime, the expected result), or ""."""
    doc = inspect.getdoc(cls) or ""
    m = _DOC_SECTION.search(doc)
    return doc[m.start() :].rstrip() if m else ""


def config_from_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file into a nested dict (validated later by :func:`build_config`)."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError([f"Config file not found: {path}"]) from None
    except IsADirectoryError:
        raise ConfigError([f"Config file {path} is a directory, not a TOML file."]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"Config file {path} is not a text (UTF-8) file: is it a TOML file?"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"Config file {path} is not valid TOML: {exc}"]) from None
    except OSError as exc:  # unreadable: permissions, a device, ...
        raise ConfigError([f"Config file {path} cannot be read: {exc.strerror or exc}."]) from None
