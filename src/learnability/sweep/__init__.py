"""Sweeps: many runs of one study across configurations, on this machine or a Ray cluster.

``learnability sweep FILE.toml [--backend local|ray] [--workers N] [--out DIR]`` — or
:func:`run_sweep` — expands a sweep file into runs, runs each as an ordinary run folder inside a
sweep folder, and writes a results table, an aggregate over seeds, figures and a report.

The sweep file
--------------
(The config keys below are illustrative; ``learnability config STUDY`` lists a study's keys.) ::

    study = "teacher-student"           # required: the study's registered name
    name = "widths"                     # optional: the sweep folder's name (default: file stem)
    description = "..."                 # optional: shown at the top of the report
    smoke = false                       # optional: start every run from the study's smoke size
    modules = ["my_study.py"]           # optional: study modules outside the package (below)
    seeds = 3                           # optional: a count (seeds 0, 1, 2) or a list [0, 7, 9]
    metrics = ["test.rel_mse"]          # optional: headline metrics (default: every number
                                        #   of summary.json); dotted for nested values
    zip = [["n_train", "train.steps"]]  # optional: groups of axes varied together

    [base]                              # overrides applied to every run: the keys and values
    train.max_steps = 2000              #   of `learnability run --set` / --config

    [axes]                              # the settings to vary
    n_train = [1000, 10000]                                   # explicit values
    "train.steps" = [200, 2000]                               # dotted keys: quoted, or nested
    "student.width" = { start = 2, stop = 1024, num = 10, scale = "log" }   # a range
    lr = { values = [1e-3, 1e-2, 1e-1], scale = "log" }       # values, drawn on a log axis

    [resources]                         # optional
    threads = 1                         # torch threads per run (Ray: num_cpus per task)
    gpus = 1                            # Ray: num_gpus per task for runs with device = "cuda"

Ranges ``{start, stop, num, scale}`` include both ends; ``scale = "log"`` spaces them
geometrically (ends > 0). Integer ends give integer values (rounded; repeated values after
rounding are an error). Axes are crossed (every combination), in file order with the first axis
varying slowest; a ``zip`` group's axes (equal lengths) vary together and take the place of the
group's first axis; seeds vary fastest. Each run's config is: defaults < smoke size < ``[base]``
< axis values < seed. Every run's config is validated with the study's config class before
anything is created, with the messages of ``learnability run``.

Study modules outside the package
---------------------------------
A study that is not in ``learnability.studies`` (a project's own file, the test suite's toy
study) is imported from ``modules`` — ``.py`` paths relative to the sweep file, or dotted module
names — and from the ``LEARNABILITY_MODULES`` environment variable (``os.pathsep``-separated, paths
relative to the working folder). Every worker imports them before its first run; a module
registers its studies at import or defines them as module-level ``Study`` objects. On a Ray
cluster the paths must exist on every node (a shared file system), and so must the sweep folder.

The sweep folder
----------------
``OUT/NAME/``: ``sweep.toml`` (the file as run), ``plan.json`` (every run: id, axis values, seed,
overrides, resolved config), ``sweep.json`` (each invocation: backend, workers, threads, counts),
``runs/RUN_ID/`` (ordinary run folders), ``attempts/`` (failed attempts moved aside before a
retry), ``results.parquet``, ``aggregate.parquet``, ``figures/``, ``report.md``.
Run ids read ``n_train=1000_width=64_s0-3fa2b1c94d``: the axis values, the seed and a digest of
the resolved config. See :func:`run_sweep` for resuming and :func:`load_sweep` for the columns.

Example::

    >>> import learnability.sweep as sw
    >>> folder = sw.run_sweep(sw.example_path("toy-regression"), out="sweeps")  # doctest: +SKIP
    >>> df = sw.load_sweep(folder)                                               # doctest: +SKIP
    >>> df.groupby("n_train")["test_mse"].mean()                                 # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from learnability.sweep._aggregate import aggregate, report_sweep, sweep_charts
from learnability.sweep._backends import BACKENDS, Resources, choose_resources
from learnability.sweep._modules import MODULES_ENV, load_modules
from learnability.sweep._plan import Axis, PlannedRun, SweepError, SweepPlan, plan_sweep
from learnability.sweep._results import flatten_summary, load_sweep
from learnability.sweep._sweep import DEFAULT_OUT, failed_runs, run_sweep

__all__ = [
    "BACKENDS",
    "DEFAULT_OUT",
    "MODULES_ENV",
    "Axis",
    "PlannedRun",
    "Resources",
    "SweepError",
    "SweepPlan",
    "aggregate",
    "choose_resources",
    "example_path",
    "failed_runs",
    "flatten_summary",
    "list_examples",
    "load_modules",
    "load_sweep",
    "plan_sweep",
    "report_sweep",
    "run_sweep",
    "sweep_charts",
]

EXAMPLES_DIR = Path(__file__).parent / "examples"


def list_examples() -> list[str]:
    """Names of the sweep files shipped with the package."""
    return sorted(p.stem for p in EXAMPLES_DIR.glob("*.toml"))


def example_path(name: str) -> Path:
    """The shipped sweep file ``name`` (see :func:`list_examples`).

    Raises:
        ParameterError: for an unknown name.
    """
    from learnability._validation import check_choice

    check_choice(name, "name", "example_path", list_examples())
    return EXAMPLES_DIR / f"{name}.toml"
