"""What a teacher-student run returns: the typed contents of its ``summary.json``.

Every mean over seeds with a 95% interval is an :class:`~learnability.analysis.Estimate` (fields
ending in ``_est``); the flat ``x`` / ``x_ci`` keys that ``summary.json`` has always had (read by
notebooks, the parameter-count sweep, users) are derived from it as computed fields. Optional
groups (a student's alignment, the parameter-count section) are left out of ``summary.json``
when absent, as before.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import computed_field

from learnability.analysis import Estimate
from learnability.runs import jsonable
from learnability.studies import ResultsModel, StudyResults
from learnability.studies.teacher_student.config import STUDY_NAME

__all__ = [
    "Alignment",
    "AlignmentLayer",
    "Baseline",
    "Baselines",
    "ChanceAlignment",
    "Distribution",
    "GroupStats",
    "Moments",
    "ParameterCountInfo",
    "StudentResults",
    "SweepFacts",
    "TargetFacts",
    "TeacherFacts",
    "TeacherStudentResults",
    "TestSetFacts",
    "Timing",
]


def _ci(est: Estimate) -> list[float]:
    """The legacy ``x_ci`` pair of an estimate."""
    return [est.low, est.high]


class TeacherFacts(ResultsModel):
    """The frozen teacher and its outputs on the test set (``test_*``) and the reference sample."""

    hidden: list[int]
    d_in: int
    seed: int
    init_std: float
    n_params: int
    n_layers: int
    test_var: float  # Var(y_test): the unit of every relative MSE
    test_mean: float
    test_min: float
    test_max: float
    reference_var: float


class TestSetFacts(ResultsModel):
    """The fixed test set: its size and the range of its inputs."""

    n: int
    input_low: float
    input_high: float


class TargetFacts(ResultsModel):
    """What the students train on (see ``TargetScaling``) and the collapse level, training units."""

    standardized: bool
    mean: float
    std: float
    loss_scale: float  # training-unit squared error -> original units
    failure_loss: float  # Var(y) of the reference sample, training units


class Baseline(ResultsModel):
    """A baseline predictor scored on the test set (``value``: the mean predictor's constant)."""

    test_mse: float
    test_rel_mse: float
    train_rel_mse: float
    value: float | None = None


class Baselines(ResultsModel):
    """The training-mean predictor and OLS, fitted on the reference sample."""

    mean: Baseline
    linear: Baseline


class Moments(ResultsModel):
    """Plug-in moments of a group of parameters (the student's: mean over seeds, no ``n``)."""

    n: int | None = None
    mean: float
    std: float
    skewness: float
    excess_kurtosis: float


class GroupStats(ResultsModel):
    """One group of parameters (a layer's weights or biases, or a pool) against the teacher's.

    ``ks_est``, ``wasserstein_est``, ``wasserstein_standardized_est``: over seeds (NaN without
    a value to average, e.g. KS of a single output bias). Pooled groups have no layer fields.
    """

    name: str
    student_layer: int | None = None
    kind: str  # "W", "b" or "all"
    role: str | None = None  # "input", "hidden", "output"; None for pooled groups
    teacher_layers: list[int] | None = None
    n_student: int
    n_teacher: int
    ks_est: Estimate
    wasserstein_est: Estimate
    wasserstein_standardized_est: Estimate
    ks_pvalues: list[float]  # one per seed
    ks_pvalue_max: float
    student: Moments
    teacher: Moments

    @computed_field
    @property
    def ks(self) -> float:
        return self.ks_est.mean

    @computed_field
    @property
    def ks_ci(self) -> list[float]:
        return _ci(self.ks_est)

    @computed_field
    @property
    def wasserstein(self) -> float:
        return self.wasserstein_est.mean

    @computed_field
    @property
    def wasserstein_ci(self) -> list[float]:
        return _ci(self.wasserstein_est)

    @computed_field
    @property
    def wasserstein_standardized(self) -> float:
        return self.wasserstein_standardized_est.mean

    @computed_field
    @property
    def wasserstein_standardized_ci(self) -> list[float]:
        return _ci(self.wasserstein_standardized_est)


class Distribution(ResultsModel):
    """Every layer (weights and biases apart) and the pools: weights, biases, all parameters."""

    layers: list[GroupStats]
    weights: GroupStats
    biases: GroupStats
    all: GroupStats


class SweepFacts(ResultsModel):
    """A student's learning-rate sweep: the rates tried and how the chosen one was chosen.

    ``*_rel``: final training loss over the collapse level Var(y) (1 = the mean predictor).
    ``n_collapsed_above`` / ``_below``: collapsed rates (not diverged) above / below the chosen.
    """

    grid: list[float]
    rates_tried: int
    extensions: int
    lr_min: float
    lr_max: float
    chosen_lr: float
    at_edge: bool
    chosen_feasible: bool
    chosen_steps_to_converge: int
    chosen_converged: bool
    chosen_final_rel: float
    best_final_rel: float
    n_diverged: int
    n_collapsed: int
    n_collapsed_above: int
    n_collapsed_below: int
    n_good: int
    step_cap: int
    steps_run: list[int]  # per round of the sweep


class AlignmentLayer(ResultsModel):
    """One hidden layer of the teacher: how well the trained students' units match its units."""

    width: int
    mean_cosine_est: Estimate
    mean_cosine_per_seed: list[float]
    recovered_per_seed: list[int]
    chance_mean_cosine: float
    chance_recovered_per_seed: list[int]

    @computed_field
    @property
    def mean_cosine(self) -> float:
        return self.mean_cosine_est.mean

    @computed_field
    @property
    def mean_cosine_ci(self) -> list[float]:
        return _ci(self.mean_cosine_est)


class ChanceAlignment(ResultsModel):
    """The same matching for each seed's initial parameters: what unrelated networks give."""

    mean_cosine: list[float]
    recovered: list[int]


class Alignment(ResultsModel):
    """Hidden units of students of the teacher's depth matched to the teacher's (per seed)."""

    threshold: float  # cosine above which a teacher unit counts as recovered
    n_units: int
    mean_cosine: list[float]  # per seed, over all hidden units
    recovered: list[int]  # per seed
    mean_cosine_est: Estimate
    recovered_est: Estimate
    output_cosine: list[float]
    chance: ChanceAlignment
    layers: list[AlignmentLayer]

    @computed_field
    @property
    def mean_cosine_mean(self) -> float:
        return self.mean_cosine_est.mean

    @computed_field
    @property
    def mean_cosine_ci(self) -> list[float]:
        return _ci(self.mean_cosine_est)

    @computed_field
    @property
    def recovered_mean(self) -> float:
        return self.recovered_est.mean

    @computed_field
    @property
    def recovered_ci(self) -> list[float]:
        return _ci(self.recovered_est)


class Timing(ResultsModel):
    sweep_seconds: float
    seeds_seconds: float


class StudentResults(ResultsModel):
    """One student: size, chosen rate, seeds, errors, sweep, parameter distributions, alignment.

    MSEs are in the teacher's units; ``*_rel_mse`` over Var(y_test). Train MSE: the mean loss
    over the last window of fresh batches. Per-seed lists cover the seeds that did not diverge
    (``members``: their indices in the seed ensemble).
    """

    hidden: list[int]
    n_params: int
    members: list[int]
    params_ratio: float  # n_params / teacher's
    lr: float
    steps: int
    seeds: int
    seeds_diverged: int
    converged_step: list[int]  # -1: not quasi-stationary within the cap
    step_cap: int
    test_mse_per_seed: list[float]
    test_rel_mse_per_seed: list[float]
    train_mse_per_seed: list[float]
    test_mse_est: Estimate
    test_rel_mse_est: Estimate
    train_mse_est: Estimate
    train_rel_mse_est: Estimate
    sweep: SweepFacts
    distribution: Distribution
    alignment: Alignment | None = None  # students of the teacher's depth only
    timing: Timing

    @computed_field
    @property
    def test_mse(self) -> float:
        return self.test_mse_est.mean

    @computed_field
    @property
    def test_mse_ci(self) -> list[float]:
        return _ci(self.test_mse_est)

    @computed_field
    @property
    def test_rel_mse(self) -> float:
        return self.test_rel_mse_est.mean

    @computed_field
    @property
    def test_rel_mse_ci(self) -> list[float]:
        return _ci(self.test_rel_mse_est)

    @computed_field
    @property
    def train_mse(self) -> float:
        return self.train_mse_est.mean

    @computed_field
    @property
    def train_mse_ci(self) -> list[float]:
        return _ci(self.train_mse_est)

    @computed_field
    @property
    def train_rel_mse(self) -> float:
        return self.train_rel_mse_est.mean

    @computed_field
    @property
    def train_rel_mse_ci(self) -> list[float]:
        return _ci(self.train_rel_mse_est)

    @property
    def stationary_steps(self) -> list[int]:
        """Steps at which the seeds that became quasi-stationary did so."""
        return [c for c in self.converged_step if c >= 0]


class ParameterCountInfo(ResultsModel):
    """The parameter-count sweep copied into this run (its table: an artifact)."""

    sweep: str  # the sweep folder, absolute
    name: str
    runs_planned: int
    runs_complete: int
    rows: int
    differs: list[str]  # settings where this run differs from the sweep's runs


class TeacherStudentResults(StudyResults):
    """Everything a teacher-student run measured (``summary.json``)."""

    # Artifacts (run folder ``artifacts/``); per-student names are formatted with the name.
    TEACHER_ARRAYS: ClassVar[str] = "teacher"  # W{l}: (out, in), b{l}: (out,)
    PARAMETER_COUNT_TABLE: ClassVar[str] = "parameter_count"
    SWEEP_TABLE: ClassVar[str] = "sweep_{}"  # one row per rate tried
    PARAMS_ARRAYS: ClassVar[str] = "params_{}"  # W{l}: (K, in, out), b{l}: (K, 1, out)
    DISTRIBUTIONS_JSON: ClassVar[str] = "distributions_{}"  # Distribution + QQ data per group
    ALIGNMENT_JSON: ClassVar[str] = "alignment_{}"  # Alignment + cosines per layer
    # Metric tags of a student's sweep (round 0; extension N: "/extN") and of its seed runs.
    SWEEP_TAG: ClassVar[str] = "{}/sweep"
    SEEDS_TAG: ClassVar[str] = "{}/seeds"

    study: str = STUDY_NAME
    teacher: TeacherFacts
    test_set: TestSetFacts
    targets: TargetFacts
    baselines: Baselines
    students: dict[str, StudentResults]
    eval_every: int
    window: int  # steps of the final training loss
    parameter_count: ParameterCountInfo | None = None
    wall_seconds: float | None = None  # written by the run folder when the run ends

    def to_summary(self) -> dict[str, Any]:
        # Absent optional groups stay absent from summary.json (as they always were), not null.
        return jsonable(self.model_dump(mode="python", exclude_none=True))
