"""Importing study modules that are not part of the package, in the main process and in workers.

A sweep of a study that lives outside ``learnability.studies`` (a project's own study file, the
test suite's toy study) names its module in the sweep file (``modules = ["my_study.py"]``) or in
the ``LEARNABILITY_MODULES`` environment variable. Every worker imports the same modules before
its first run, so the study is registered wherever the run executes: in a spawned process of the
local pool or in a Ray worker on another machine (where the path must exist too, e.g. on a shared
file system).

An entry is either a path to a ``.py`` file or a dotted module name. A module registers its
studies at import (``register(...)``) or defines them as module-level :class:`Study` objects,
which are registered after the import.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from learnability.studies import Study, list_studies, register

__all__ = ["MODULES_ENV", "env_modules", "is_path_entry", "load_modules"]

MODULES_ENV = "LEARNABILITY_MODULES"
"""Environment variable: extra study modules, separated by ``os.pathsep`` (``:`` on Linux)."""

# Length of the path digest in the private module name of a file loaded by path.
_DIGEST_CHARS = 10


def env_modules() -> list[str]:
    """The entries of ``LEARNABILITY_MODULES`` (paths made absolute against the working folder)."""
    raw = os.environ.get(MODULES_ENV, "")
    entries = [e.strip() for e in raw.split(os.pathsep) if e.strip()]
    return [str(Path(e).resolve()) if is_path_entry(e) else e for e in entries]


def is_path_entry(entry: str) -> bool:
    """A file path (``x.py`` or anything with a path separator) rather than a module name."""
    return entry.endswith(".py") or "/" in entry or os.sep in entry


def _already_loaded(path: Path) -> ModuleType | None:
    """A module already imported from ``path`` (e.g. by a test's conftest), if any."""
    for mod in list(sys.modules.values()):
        file = getattr(mod, "__file__", None)
        if file is not None:
            try:
                if Path(file).resolve() == path:
                    return mod
            except OSError:
                continue
    return None


def _import_path(path: Path) -> ModuleType:
    found = _already_loaded(path)
    if found is not None:
        return found
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:_DIGEST_CHARS]
    name = f"learnability_module_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    # Registered before execution: pydantic resolves postponed annotations through sys.modules.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _register_module_studies(module: ModuleType) -> None:
    known = {s.name for s in list_studies()}
    for value in vars(module).values():
        if isinstance(value, Study) and value.name not in known:
            register(value)
            known.add(value.name)


def load_modules(entries: Iterable[str]) -> list[ModuleType]:
    """Import each entry (a ``.py`` path or a module name) once and register its studies.

    Args:
        entries: absolute file paths or dotted module names.

    Returns:
        The imported modules, in order.

    Raises:
        ImportError: with the entry named, when a module cannot be found or raises at import.
    """
    modules = []
    for entry in entries:
        try:
            if is_path_entry(entry):
                path = Path(entry).resolve()
                if not path.is_file():
                    raise FileNotFoundError(f"no such file: {path}")
                module = _import_path(path)
            else:
                module = importlib.import_module(entry)
        except Exception as exc:  # re-raised with the entry named
            raise ImportError(f"Could not import the study module {entry!r}: {type(exc).__name__}: {exc}") from exc
        _register_module_studies(module)
        modules.append(module)
    return modules
