"""The typed results contract between a study's ``run`` and its ``report``.

``run(config, ctx)`` returns a :class:`StudyResults` (a frozen pydantic model); the runner writes
``summary.json`` from it (:meth:`StudyResults.to_summary`) and reads it back, validated, for the
report (:meth:`StudyResults.from_summary`). ``report(results, run)`` reads attributes, never
string keys.

Conventions for a study's results model (``studies/<name>/results.py``):

* Every mean with a confidence interval is a :class:`~learnability.analysis.Estimate`.
* Nested groups of numbers are :class:`ResultsModel` subclasses (frozen, unknown keys refused).
* Artifact names (tables, arrays) are declared once, as class-level constants of the results
  model (``SWEEP_TABLE: ClassVar[str] = "sweep"``); ``run`` and ``report`` both use the constant.
* Keys that ``summary.json`` has always had but that are now derived from a typed field (a flat
  ``x`` / ``x_ci`` pair next to an ``Estimate``) are ``@computed_field`` properties: they are
  written to ``summary.json`` for users and notebooks and ignored when the file is read back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, model_validator

from learnability.runs import jsonable

__all__ = ["ResultsModel", "StudyResults"]


class ResultsModel(BaseModel):
    """A frozen group of results: typed fields, unknown keys refused, JSON round trip with NaN.

    Floats accept the strings ``"nan"``, ``"inf"`` and ``"-inf"`` that run folders store for
    non-finite numbers, so a model validates back from its own ``summary.json``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    @model_validator(mode="before")
    @classmethod
    def _drop_derived_keys(cls, data: Any) -> Any:
        """Computed fields are written to JSON for readers; on input they are recomputed."""
        if isinstance(data, Mapping) and cls.model_computed_fields:
            return {k: v for k, v in data.items() if k not in cls.model_computed_fields}
        return data


class StudyResults(ResultsModel):
    """Base class of every study's results (what ``summary.json`` holds).

    Attributes:
        study: the study's name, and ``wall_seconds`` the run's wall time: both are added by the
            run folder's writer when the run finishes (None while the study computes).
    """

    study: str | None = None
    wall_seconds: float | None = None

    def to_summary(self) -> dict[str, Any]:
        """The JSON-ready mapping written to ``summary.json`` (computed fields included)."""
        unset = {k for k in ("study", "wall_seconds") if getattr(self, k) is None}
        return jsonable(self.model_dump(mode="python", exclude=unset))

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any]) -> Self:
        """Validate a ``summary.json`` mapping back into the model.

        Raises:
            pydantic.ValidationError: when the summary does not match the model (a run written by
                another version of the study, or a damaged file).
        """
        return cls.model_validate(summary)
