"""learnability — reproducible empirical studies of what neural networks and kernel machines learn.

Python API (mirrors the CLI)::

    import learnability
    learnability.list_studies()                                   # what can be run
    run = learnability.run_study("teacher-student", smoke=True)   # = learnability run ... --smoke
    run.metrics      # pandas DataFrame (long format: series, tag, step, member, value)
    run.summary      # dict, the final numbers
    run = learnability.load_run("runs/teacher-student-...")      # any run folder, even incomplete
    run = learnability.resume("runs/teacher-student-...")        # continue a killed run
    table = learnability.load_runs("runs")                        # one row per run below a folder
    table = learnability.load_sweep("sweeps/widths")              # one row per run of a sweep
"""

from learnability._version import __version__
from learnability.runner import load_run, rebuild_report, resume, run_study
from learnability.runs import Run, load_runs
from learnability.studies import get_study, list_studies


def load_sweep(path):  # noqa: ANN001, ANN201 - thin lazy wrapper, documented below
    """The results table of a sweep folder (one row per run); see :func:`learnability.sweep.load_sweep`."""
    from learnability.sweep import load_sweep as _load_sweep

    return _load_sweep(path)


__all__ = [
    "Run",
    "__version__",
    "get_study",
    "list_studies",
    "load_run",
    "load_runs",
    "load_sweep",
    "rebuild_report",
    "resume",
    "run_study",
]
