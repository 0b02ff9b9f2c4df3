"""The studies, registered by name. Each module of this package defines and registers one or more.

A new study is a module here that builds a :class:`Study` and calls :func:`register`; discovery
imports every public module of the package, so nothing else needs editing.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
import warnings

from learnability._validation import ParameterError
from learnability.studies._base import MemoryEstimate, Study, StudyContext
from learnability.studies._results import ResultsModel, StudyResults

__all__ = [
    "MemoryEstimate",
    "ResultsModel",
    "Study",
    "StudyContext",
    "StudyResults",
    "get_study",
    "list_studies",
    "register",
]

_REGISTRY: dict[str, Study] = {}
_discovered = False


def register(study: Study) -> Study:
    """Add a study to the registry (a second study with the same name is an error)."""
    old = _REGISTRY.get(study.name)
    if old is not None and old is not study and old.run is not study.run:
        raise ValueError(f"a study named {study.name!r} is already registered")
    _REGISTRY[study.name] = study
    return study


_BROKEN: dict[str, str] = {}


def _discover() -> None:
    """Import every public study module; one that fails to import is reported, not fatal."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for mod in pkgutil.iter_modules(__path__):
        if mod.name.startswith("_"):
            continue
        try:
            importlib.import_module(f"{__name__}.{mod.name}")
        except Exception as exc:  # noqa: BLE001 - keep the other studies usable
            _BROKEN[mod.name] = f"{type(exc).__name__}: {exc}"
            warnings.warn(
                f"study module {mod.name!r} failed to import ({_BROKEN[mod.name]})", RuntimeWarning, stacklevel=2
            )


def list_studies() -> list[Study]:
    """Every registered study, sorted by name."""
    _discover()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get_study(name: str) -> Study:
    """The study registered as ``name``.

    Raises:
        ParameterError: for an unknown name (the message lists the known ones).
    """
    module = name.replace("-", "_")
    if name not in _REGISTRY and not _discovered and not module.startswith("_"):
        # Conventionally study "a-b" lives in module a_b: import only that one (fast CLI start).
        try:
            importlib.import_module(f"{__name__}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{module}":
                raise
    if name not in _REGISTRY:
        _discover()
    if name not in _REGISTRY and module in _BROKEN:
        raise ImportError(f"the module of study {name!r} failed to import: {_BROKEN[module]}")
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ParameterError("study", "learnability", "one of {" + ", ".join(sorted(_REGISTRY)) + "}", name, hint=hint)
    return _REGISTRY[name]
