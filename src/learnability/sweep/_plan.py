"""Sweep files and their expansion into a deterministic plan of runs.

A sweep file names a study, a base config, axes to vary and seeds (the format is documented in
:mod:`learnability.sweep`). :func:`plan_sweep` reads it, imports the study modules it names,
expands the axes into runs and validates every run's full config with the study's config class,
so that every mistake is reported, in the messages of ``learnability run``, before anything is
created or run.

Expansion order: axes are crossed in the order the file lists them, the first axis varying
slowest (like nested loops); a zipped group takes the place of its first axis; seeds vary
fastest, so the seeds of one point are neighbours in the plan.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import itertools
import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from learnability._validation import parameter_message
from learnability.config import ConfigError, build_config
from learnability.runner import resolve_config
from learnability.studies import Study, get_study
from learnability.sweep._modules import env_modules, is_path_entry, load_modules

__all__ = ["Axis", "PlannedRun", "SweepError", "SweepPlan", "plan_sweep", "run_id_for"]

SCALES = ("linear", "log")
TOP_LEVEL_KEYS = (
    "study",
    "name",
    "description",
    "smoke",
    "modules",
    "seeds",
    "base",
    "axes",
    "zip",
    "metrics",
    "resources",
)
RANGE_KEYS = ("start", "stop", "num", "scale")
VALUES_KEYS = ("values", "scale")
RESOURCE_KEYS = ("threads", "gpus")
# Range values are rounded to this many significant digits, so that 10 ** (-2.0) prints as
# 0.01 and not 0.010000000000000002 in run ids, tables and configs.
RANGE_DIGITS = 12
# Run ids: hex digits of the config digest (40 bits: collisions are negligible for any sweep
# size this project runs), and the longest readable prefix kept.
ID_HASH_CHARS = 10
ID_READABLE_CHARS = 80
# Sweep names become folder names: letters, digits, '.', '_' and '-'.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class SweepError(ConfigError):
    """A sweep file is invalid; ``messages`` lists every problem (config errors included)."""


@dataclass(frozen=True)
class Axis:
    """One varied setting.

    Attributes:
        name: the dotted config key (``"train.batch_size"``).
        values: the values, in order.
        scale: ``"log"`` or ``"linear"`` for ranges (or an explicit list with ``scale``), else None.
    """

    name: str
    values: tuple[Any, ...]
    scale: str | None = None

    @property
    def numeric(self) -> bool:
        """Every value is an int or a float (not a bool): the axis can be an x axis."""
        return all(isinstance(v, int | float) and not isinstance(v, bool) for v in self.values)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "values": list(self.values), "scale": self.scale, "numeric": self.numeric}


@dataclass(frozen=True)
class PlannedRun:
    """One run of the plan.

    Attributes:
        index: position in the plan (0-based).
        run_id: stable id: a readable part from the axis values and seed, and a digest of the
            study name and the fully resolved config. The same config always gets the same id,
            so a re-expanded plan finds its finished runs again, and a changed base config or
            study default never reuses a stale run.
        point: axis name -> value for this run.
        seed: the run's root seed (``config.seed``).
        overrides: flat dotted overrides applied over the study's defaults (and smoke size):
            the base config, then the point, then the seed.
        config: the resolved config as a JSON-ready nested dict.
    """

    index: int
    run_id: str
    point: dict[str, Any]
    seed: int
    overrides: dict[str, Any]
    config: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "run_id": self.run_id,
            "point": self.point,
            "seed": self.seed,
            "overrides": self.overrides,
            "config": self.config,
        }


@dataclass(frozen=True)
class SweepPlan:
    """A parsed, expanded and validated sweep file.

    Attributes:
        source: the sweep file.
        text: its exact text (copied into the sweep folder).
        name: the sweep's name (``name`` key, else the file's stem): the sweep folder's name.
        study: the study's registered name.
        description: free text shown in the sweep report.
        smoke: start every run from the study's smoke size.
        base: the base overrides (nested, as written).
        axes: the varied settings, in file order.
        zip: groups of axis names varied together.
        seeds: the seeds given by ``seeds`` (None: one run per point with the base's seed).
        metrics: headline metrics named by the file (None: every numeric summary value).
        modules: study modules to import (absolute paths or module names).
        threads: torch threads per run from ``[resources]`` (None: chosen by the backend).
        gpus: GPUs per run on Ray when the run's device is ``"cuda"``.
        runs: the expanded runs, in plan order.
    """

    source: Path
    text: str
    name: str
    study: str
    description: str
    smoke: bool
    base: dict[str, Any]
    axes: tuple[Axis, ...]
    zip: tuple[tuple[str, ...], ...]
    seeds: tuple[int, ...] | None
    metrics: tuple[str, ...] | None
    modules: tuple[str, ...]
    threads: int | None
    gpus: float
    runs: tuple[PlannedRun, ...] = field(default=())

    @property
    def axis_names(self) -> list[str]:
        return [a.name for a in self.axes]

    def to_json(self) -> dict[str, Any]:
        """The plan as written to ``plan.json``."""
        return {
            "format": 1,
            "name": self.name,
            "study": self.study,
            "description": self.description,
            "smoke": self.smoke,
            "source": str(self.source),
            "base": self.base,
            "axes": [a.to_json() for a in self.axes],
            "zip": [list(g) for g in self.zip],
            "seeds": None if self.seeds is None else list(self.seeds),
            "metrics": None if self.metrics is None else list(self.metrics),
            "modules": list(self.modules),
            "resources": {"threads": self.threads, "gpus": self.gpus},
            "runs": [r.to_json() for r in self.runs],
        }


# --------------------------------------------------------------------------- small helpers


def _flatten(nested: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables -> dotted keys (an empty table stays a value, as in learnability.config)."""
    flat: dict[str, Any] = {}
    for k, v in nested.items():
        if isinstance(v, Mapping) and v:
            flat.update(_flatten(v, f"{prefix}{k}."))
        else:
            flat[f"{prefix}{k}"] = v
    return flat


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _unknown_key(key: str, known: Sequence[str], where: str) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"Unknown key '{key}' in {where}.{hint} Known keys: {', '.join(known)}."


def _tidy(v: float) -> float:
    return float(f"{v:.{RANGE_DIGITS}g}")


# --------------------------------------------------------------------------- axes


def _range_values(
    name: str, spec: Mapping[str, Any], owner: str, problems: list[str]
) -> tuple[tuple[Any, ...], str] | None:
    """Values of ``{start, stop, num, scale}``: both ends included; ints stay ints."""
    key = f"axes.{name}"
    bad = False
    for end in ("start", "stop"):
        if end not in spec or not _is_number(spec[end]):
            problems.append(parameter_message(f"{key}.{end}", owner, "a number", spec.get(end, "<missing>")))
            bad = True
    num = spec.get("num", "<missing>")
    if not (isinstance(num, int) and not isinstance(num, bool) and num >= 1):
        problems.append(parameter_message(f"{key}.num", owner, "an int in the range [1, inf)", num))
        bad = True
    scale = spec.get("scale", "linear")
    if scale not in SCALES:
        problems.append(parameter_message(f"{key}.scale", owner, "one of {'linear', 'log'}", scale))
        bad = True
    if bad:
        return None
    start, stop = spec["start"], spec["stop"]
    if scale == "log" and (start <= 0 or stop <= 0):
        problems.append(
            parameter_message(
                f"{key}.{'start' if start <= 0 else 'stop'}",
                owner,
                "a number in the range (0, inf) for a log range",
                start if start <= 0 else stop,
            )
        )
        return None
    raw = np.geomspace(start, stop, num) if scale == "log" else np.linspace(start, stop, num)
    raw[0], raw[-1] = start, stop  # exact ends (geomspace may round them)
    if isinstance(start, int) and isinstance(stop, int):
        values: list[Any] = [round(float(v)) for v in raw]
        if len(set(values)) < len(values):
            problems.append(
                parameter_message(
                    f"{key}.num",
                    owner,
                    f"at most the number of distinct integers the {scale} range "
                    f"from {start} to {stop} can hold (rounding gave {values}); use fewer points or "
                    "float ends",
                    num,
                )
            )
            return None
    else:
        values = [_tidy(float(v)) for v in raw]
    return tuple(values), scale


def _parse_axes(raw: Any, owner: str, problems: list[str]) -> list[Axis]:
    if not isinstance(raw, Mapping):
        problems.append(parameter_message("axes", owner, "a table of axis = values", raw))
        return []
    axes: list[Axis] = []

    def visit(table: Mapping[str, Any], prefix: str) -> None:
        for key, spec in table.items():
            name = f"{prefix}{key}"
            if isinstance(spec, Mapping) and spec and not set(spec) <= set(RANGE_KEYS + VALUES_KEYS):
                visit(spec, f"{name}.")  # unquoted dotted key: a nested table of axes
                continue
            axis = _parse_axis(name, spec, owner, problems)
            if axis is not None:
                axes.append(axis)

    visit(raw, "")
    return axes


def _parse_axis(name: str, spec: Any, owner: str, problems: list[str]) -> Axis | None:
    key = f"axes.{name}"
    if name == "seed":
        problems.append(
            f"The seed is varied by the top-level 'seeds' key of {owner}, not by an "
            "axis: replace 'axes.seed' with 'seeds = [...]' (a list) or 'seeds = N'."
        )
        return None
    scale: str | None = None
    if isinstance(spec, list):
        values = tuple(spec)
    elif isinstance(spec, Mapping) and "values" in spec:
        if set(spec) - set(VALUES_KEYS):
            problems.append(
                f"The '{key}' table of {owner} takes either 'values' (and 'scale') or "
                f"'start', 'stop', 'num' (and 'scale'). Got keys {sorted(spec)} instead."
            )
            return None
        if not isinstance(spec["values"], list):
            problems.append(parameter_message(f"{key}.values", owner, "a non-empty list", spec["values"]))
            return None
        values = tuple(spec["values"])
        scale = spec.get("scale", "linear")
        if scale not in SCALES:
            problems.append(parameter_message(f"{key}.scale", owner, "one of {'linear', 'log'}", scale))
            return None
    elif isinstance(spec, Mapping):
        out = _range_values(name, spec, owner, problems)
        if out is None:
            return None
        values, scale = out
    else:
        problems.append(
            parameter_message(
                key,
                owner,
                "a non-empty list of values, a table {values = [...], scale = ...} or a "
                "range {start = ..., stop = ..., num = ..., scale = 'linear' | 'log'}",
                spec,
            )
        )
        return None
    if not values:
        problems.append(parameter_message(key, owner, "a non-empty list of values", list(values)))
        return None
    seen = [_canonical(v) for v in values]
    if len(set(seen)) < len(seen):
        problems.append(parameter_message(key, owner, "a list without repeated values", list(values)))
        return None
    if scale == "log" and not all(_is_number(v) and v > 0 for v in values):
        problems.append(parameter_message(key, owner, "positive numbers for a log axis", list(values)))
        return None
    return Axis(name, values, scale)


def _parse_zip(raw: Any, axes: list[Axis], owner: str, problems: list[str]) -> list[tuple[str, ...]]:
    if raw is None:
        return []
    ok = isinstance(raw, list) and all(isinstance(g, list) and g and all(isinstance(n, str) for n in g) for g in raw)
    if not ok:
        problems.append(
            parameter_message("zip", owner, "a list of lists of axis names (e.g. [['n_train', 'train.steps']])", raw)
        )
        return []
    by_name = {a.name: a for a in axes}
    used: set[str] = set()
    groups = []
    for group in raw:
        for n in group:
            if n not in by_name:
                close = difflib.get_close_matches(n, list(by_name), n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                problems.append(
                    f"The zip group {group} of {owner} names '{n}', which is not an "
                    f"axis.{hint} Axes: {', '.join(by_name) or 'none'}."
                )
            elif n in used:
                problems.append(f"The axis '{n}' appears in more than one zip group of {owner}.")
            used.add(n)
        lengths = {n: len(by_name[n].values) for n in group if n in by_name}
        if len(set(lengths.values())) > 1:
            problems.append(
                f"The axes of a zip group of {owner} must have the same number of values. Got {lengths} instead."
            )
        groups.append(tuple(group))
    return groups


def _parse_seeds(raw: Any, owner: str, problems: list[str]) -> tuple[int, ...] | None:
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        if raw < 1:
            problems.append(
                parameter_message(
                    "seeds", owner, "an int in the range [1, inf) (a count: seeds 0..N-1) or a list of seeds", raw
                )
            )
            return None
        return tuple(range(raw))
    if (
        isinstance(raw, list)
        and raw
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in raw)
        and len(set(raw)) == len(raw)
    ):
        return tuple(raw)
    problems.append(
        parameter_message(
            "seeds", owner, "a count N >= 1 (seeds 0..N-1) or a non-empty list of distinct ints >= 0", raw
        )
    )
    return None


# --------------------------------------------------------------------------- run ids


def _value_words(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list | tuple):
        return "x".join(_value_words(x) for x in v) or "empty"
    if isinstance(v, Mapping):
        return "+".join(f"{k}{_value_words(x)}" for k, x in v.items())
    return str(v)


def _short_names(names: Sequence[str]) -> dict[str, str]:
    """The last dotted part of each axis name, or the full name where the last parts clash."""
    last = [n.rsplit(".", 1)[-1] for n in names]
    return {n: (s if last.count(s) == 1 else n) for n, s in zip(names, last, strict=True)}


def run_id_for(study: str, config: Mapping[str, Any], point: Mapping[str, Any], seed: int) -> str:
    """``READABLE-DIGEST``: e.g. ``n_train=64_hidden=16x16_s0-3fa2b1c94d``.

    The readable part names the axis values and the seed (characters other than letters, digits
    and ``.=+-x`` dropped, at most 80 characters); the digest is the first 10 hex digits of the
    SHA-256 of the study name and the canonical JSON of the resolved config.
    """
    short = _short_names(list(point))
    parts = [f"{short[k]}={_value_words(v)}" for k, v in point.items()] + [f"s{seed}"]
    readable = re.sub(r"[^A-Za-z0-9._=+-]", "", "_".join(parts))[:ID_READABLE_CHARS]
    digest = hashlib.sha256(_canonical({"study": study, "config": config}).encode()).hexdigest()
    return f"{readable}-{digest[:ID_HASH_CHARS]}"


# --------------------------------------------------------------------------- expansion


def _points(axes: list[Axis], groups: list[tuple[str, ...]]) -> list[dict[str, Any]]:
    """Every combination of axis values: crossed, except zipped groups that vary together."""
    by_name = {a.name: a for a in axes}
    group_of = {n: g for g in groups for n in g}
    factors: list[list[dict[str, Any]]] = []
    done: set[str] = set()
    for axis in axes:
        if axis.name in done:
            continue
        members = group_of.get(axis.name, (axis.name,))
        done.update(members)
        columns = [by_name[n].values for n in members]
        factors.append([dict(zip(members, row, strict=True)) for row in zip(*columns, strict=True)])
    points = []
    for combo in itertools.product(*factors):
        point: dict[str, Any] = {}
        for part in combo:
            point.update(part)
        points.append({a.name: point[a.name] for a in axes})  # file order in every point
    return points


def _expand(plan: SweepPlan, study: Study, *, check_device: bool) -> tuple[PlannedRun, ...]:
    base_flat = _flatten(plan.base)
    seeds: Sequence[int | None] = plan.seeds if plan.seeds is not None else (None,)
    problems: list[str] = []
    runs: list[PlannedRun] = []
    owner_of: dict[str, dict[str, Any]] = {}
    for point in _points(list(plan.axes), list(plan.zip)):
        for seed in seeds:
            overrides = {**base_flat, **point}
            if seed is not None:
                overrides["seed"] = seed
            try:
                if check_device:
                    config = resolve_config(study, smoke=plan.smoke, overrides=overrides)
                else:  # the Ray driver may have no GPU while the cluster's workers do
                    config = build_config(
                        study.config_cls,
                        owner=study.name,
                        layers=[study.smoke, overrides] if plan.smoke else [overrides],
                    )
            except ConfigError as err:
                problems.extend(m for m in err.messages if m not in problems)
                continue
            resolved = config.model_dump(mode="json")
            run_id = run_id_for(study.name, resolved, point, config.seed)
            if run_id in owner_of:
                problems.append(
                    f"Two runs of the sweep have the same configuration: "
                    f"{owner_of[run_id]} and {point} (seed {config.seed}); every "
                    "combination of axis values must give a different config."
                )
                continue
            owner_of[run_id] = point
            runs.append(PlannedRun(len(runs), run_id, dict(point), int(config.seed), overrides, resolved))
    if problems:
        raise SweepError(problems)
    return tuple(runs)


# --------------------------------------------------------------------------- the file


def _read(path: Path) -> tuple[str, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SweepError([f"Sweep file not found: {path}"]) from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SweepError([f"Sweep file {path} is not valid TOML: {exc}"]) from None


def _modules(raw: Any, folder: Path, owner: str, problems: list[str]) -> list[str]:
    if raw is None:
        return []
    if not (isinstance(raw, list) and all(isinstance(m, str) and m for m in raw)):
        problems.append(
            parameter_message("modules", owner, "a list of .py paths (relative to the sweep file) or module names", raw)
        )
        return []
    return [str((folder / m).resolve()) if is_path_entry(m) else m for m in raw]


def plan_sweep(path: str | Path, *, check_device: bool = True) -> SweepPlan:
    """Read, expand and validate a sweep file; nothing is written.

    Args:
        path: the sweep file (TOML).
        check_device: refuse ``device = "cuda"`` where CUDA is unavailable, as ``learnability
            run`` does (the Ray backend turns it off: the cluster's workers may have GPUs that
            the driver lacks).

    Returns:
        The plan, with every run's resolved config.

    Raises:
        SweepError: listing every problem of the file and every invalid run config (in the
            messages of ``learnability run``), before any run starts.
    """
    path = Path(path)
    text, doc = _read(path)
    owner = f"sweep file {path.name}"
    problems: list[str] = []
    for key in doc:
        if key not in TOP_LEVEL_KEYS:
            problems.append(_unknown_key(key, TOP_LEVEL_KEYS, owner))

    modules = _modules(doc.get("modules"), path.parent.resolve(), owner, problems)
    study_name = doc.get("study")
    study: Study | None = None
    if not isinstance(study_name, str):
        problems.append(
            parameter_message(
                "study", owner, "the name of a study (a str)", study_name if "study" in doc else "<missing>"
            )
        )
    else:
        modules = list(dict.fromkeys([*modules, *env_modules()]))
        try:
            load_modules(modules)
            study = get_study(study_name)
        except (ImportError, ValueError) as exc:
            problems.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - e.g. a broken module met by study discovery
            problems.append(f"Could not load the study {study_name!r}: {type(exc).__name__}: {exc}")

    name = doc.get("name", path.stem)
    if not (isinstance(name, str) and NAME_PATTERN.match(name)):
        problems.append(parameter_message("name", owner, "a folder name of letters, digits, '.', '_' and '-'", name))
    description = doc.get("description", "")
    if not isinstance(description, str):
        problems.append(parameter_message("description", owner, "a str", description))
    smoke = doc.get("smoke", False)
    if not isinstance(smoke, bool):
        problems.append(parameter_message("smoke", owner, "a bool", smoke))
    base = doc.get("base", {})
    if not isinstance(base, Mapping):
        problems.append(parameter_message("base", owner, "a table of config settings", base))
        base = {}
    axes = _parse_axes(doc.get("axes", {}), owner, problems)
    groups = _parse_zip(doc.get("zip"), axes, owner, problems)
    seeds = _parse_seeds(doc.get("seeds"), owner, problems)
    if seeds is not None and "seed" in _flatten(base):
        problems.append(f"The seed is set by the top-level 'seeds' key of {owner}: remove 'seed' from [base].")
    metrics = doc.get("metrics")
    if metrics is not None and not (isinstance(metrics, list) and metrics and all(isinstance(m, str) for m in metrics)):
        problems.append(
            parameter_message("metrics", owner, "a non-empty list of summary names (dotted for nested values)", metrics)
        )
        metrics = None
    resources = doc.get("resources", {})
    threads, gpus = None, 1.0
    if not isinstance(resources, Mapping):
        problems.append(parameter_message("resources", owner, "a table {threads = N, gpus = G}", resources))
    else:
        for key in resources:
            if key not in RESOURCE_KEYS:
                problems.append(_unknown_key(key, RESOURCE_KEYS, f"[resources] of {owner}"))
        threads = resources.get("threads")
        if threads is not None and not (isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1):
            problems.append(parameter_message("resources.threads", owner, "an int in the range [1, inf)", threads))
            threads = None
        gpus = resources.get("gpus", 1.0)
        if not (_is_number(gpus) and gpus > 0 and math.isfinite(gpus)):
            problems.append(parameter_message("resources.gpus", owner, "a float in the range (0, inf)", gpus))
            gpus = 1.0
    if problems:
        raise SweepError(problems)
    assert study is not None  # for type checkers: a missing study is a problem above
    plan = SweepPlan(
        source=path.resolve(),
        text=text,
        name=name,
        study=study.name,
        description=description,
        smoke=smoke,
        base=dict(base),
        axes=tuple(axes),
        zip=tuple(groups),
        seeds=seeds,
        metrics=None if metrics is None else tuple(metrics),
        modules=tuple(modules),
        threads=threads,
        gpus=float(gpus),
    )
    runs = _expand(plan, study, check_device=check_device)
    return dataclasses.replace(plan, runs=runs)
