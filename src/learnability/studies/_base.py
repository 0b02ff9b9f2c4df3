"""What a study is: a name, a frozen config class, a ``run`` function and a ``report`` function."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from learnability._progress import Progress
from learnability._seeds import derive_seed, derive_seeds
from learnability.config import StudyConfig
from learnability.report.document import Report
from learnability.runs import Run, RunWriter
from learnability.studies._results import StudyResults

__all__ = ["MemoryEstimate", "Study", "StudyContext"]


class MemoryEstimate(NamedTuple):
    """What a study's ``memory_bytes`` hook may return instead of a plain int.

    Attributes:
        bytes: the estimated peak memory of a run, in bytes.
        setting: the dotted config key that dominates the estimate (named in the error when
            the estimate exceeds the available memory), or None.
    """

    bytes: int
    setting: str | None = None


@dataclass
class StudyContext:
    """What a running study gets besides its config: the run folder, the progress bar, seeds.

    Attributes:
        writer: the run folder's writer (metrics, artifacts); also the training loop's metric sink.
        progress: the run's single progress bar.
        device: where to train.
        root_seed: the config's seed; derive every stream from it with :meth:`seed`.
    """

    writer: RunWriter
    progress: Progress
    device: torch.device
    root_seed: int

    @property
    def path(self) -> Path:
        return self.writer.path

    def seed(self, *keys: object) -> int:
        """A seed for the stream named by ``keys`` (same keys, same seed)."""
        return derive_seed(self.root_seed, *keys)

    def seeds(self, n: int, *keys: object) -> list[int]:
        """``n`` seeds for the members of the stream named by ``keys``."""
        return derive_seeds(self.root_seed, n, *keys)

    def log(self, series: str, **kwargs: Any) -> None:
        self.writer.log(series, **kwargs)

    def log_block(self, series: str, steps: Sequence[int] | np.ndarray, values: np.ndarray, **kwargs: Any) -> None:
        self.writer.log_block(series, steps, values, **kwargs)


@dataclass(frozen=True)
class Study:
    """A registered study.

    Args:
        name: the CLI name, e.g. ``"teacher-student"``.
        description: one line for ``learnability list``.
        config_cls: the frozen config class; its defaults are the spec's values.
        run: ``run(config, context) -> results`` — trains, logs metrics, saves artifacts and
            returns the study's typed results (an instance of ``results``), which the runner
            writes to ``summary.json``.
        report: ``report(results, run) -> Report`` — builds the report from the typed results
            read back from ``summary.json`` and the run folder alone (metrics, artifacts).
        results: the study's :class:`~learnability.studies.StudyResults` subclass.
        smoke: overrides giving the small size that CI runs (``--smoke``).
        check: ``check(config)`` — checks that need more than the config's types (e.g. a folder
            that a setting names), run before the run folder is created; raises
            :class:`~learnability._validation.ParameterError` naming the setting.
        devices: the device kinds the study can compute on (``("cpu",)`` for a study that
            computes with NumPy/scikit-learn: ``--device cuda`` is refused, not ignored).
        memory_bytes: ``memory_bytes(config) -> int | MemoryEstimate | None`` — an estimate of
            the run's peak host memory, checked before the run folder is created: a config whose
            estimate exceeds the available memory is refused, naming the setting that dominates
            (see :class:`MemoryEstimate`). None (the default): no estimate.
        plan: ``plan(config) -> int`` — the run's whole work in progress units (the steps its
            ``add_total`` calls will announce), known before it starts; the progress bar then has
            a fixed total instead of one bar per phase.
    """

    name: str
    description: str
    config_cls: type[StudyConfig]
    run: Callable[[Any, StudyContext], Any]
    report: Callable[..., Report]
    results: type[StudyResults] | None = None
    smoke: Mapping[str, Any] = field(default_factory=dict)
    check: Callable[[Any], None] | None = None
    devices: tuple[str, ...] = ("cpu", "cuda", "mps")
    memory_bytes: Callable[[Any], int | MemoryEstimate | None] | None = None
    plan: Callable[[Any], int] | None = None

    def build_report(self, run: Run) -> Report:
        """The report of a complete run folder (typed results validated from ``summary.json``)."""
        if self.results is None:  # a study that returns a plain summary mapping
            return self.report(run)
        return self.report(self.results.from_summary(run.summary), run)

    def summary_of(self, output: Any) -> Mapping[str, Any]:
        """What ``run`` returned, as the ``summary.json`` mapping."""
        if isinstance(output, StudyResults):
            return output.to_summary()
        if self.results is not None:
            raise TypeError(
                f"study {self.name!r} declares results {self.results.__name__} but run returned {type(output).__name__}"
            )
        return output
