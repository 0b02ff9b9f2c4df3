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
    "BestMatch",
    "BestMatchLayer",
    "ChanceAlignment",
    "Distribution",
    "EvalTeacher",
    "GroupStats",
    "Moments",
    "Ordering",
    "ParameterCountInfo",
    "StudentResults",
    "SweepFacts",
    "TargetFacts",
    "TeacherFacts",
    "TeacherRun",
    "TeacherStudentResults",
    "TestSetFacts",
    "Timing",
    "UnitActivity",
]


def _ci(est: Estimate) -> list[float]:
    """The legacy ``x_ci`` pair of an estimate."""
    return [est.low, est.high]


class TeacherFacts(ResultsModel):
    """A frozen teacher and its outputs on its test set (``test_*``) and its reference sample.

    In the summary's top-level ``teacher`` the ``test_*`` values are means over the evaluation
    teachers (``seed``: the first one's); each evaluation teacher's own are in ``teachers``. The
    tuning teacher has no test set (``test_*`` absent).
    """

    hidden: list[int]
    d_in: int
    seed: int
    init_std: float
    n_params: int
    n_layers: int
    test_var: float | None = None  # Var(y_test): the unit of every relative MSE of this teacher
    test_mean: float | None = None
    test_min: float | None = None
    test_max: float | None = None
    reference_var: float


class UnitActivity(ResultsModel):
    """Hidden units of a teacher that no student can recover, found on its reference sample (the
    input distribution U[0, 2]^100): dead (never active) and always active (ReLU acts linearly, so
    the unit is not identifiable apart from the next layer). Per hidden layer."""

    n_points: int
    width: list[int]
    dead: list[int]
    always_active: list[int]

    @property
    def recoverable(self) -> list[int]:
        """Per hidden layer, units that are sometimes active and sometimes not."""
        return [w - d - a for w, d, a in zip(self.width, self.dead, self.always_active, strict=True)]


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
    """A baseline predictor scored on the test set (``value``: the mean predictor's constant;
    ``test_rel_mse_est``: over the evaluation teachers, in the summary's top level only)."""

    test_mse: float
    test_rel_mse: float
    train_rel_mse: float
    value: float | None = None
    test_rel_mse_est: Estimate | None = None


class Baselines(ResultsModel):
    """The training-mean predictor and OLS, fitted on the reference sample. In the summary's
    top level: means over the evaluation teachers (``*_est``: with the interval over teachers);
    each teacher's own are in ``teachers``."""

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
    ks_pvalues: list[float]  # one per seed (descriptive only: parameters are not i.i.d. samples)
    ks_pvalue_max: float
    student: Moments
    teacher: Moments
    # The same distances for the same students at initialisation (what training moved).
    ks_init_est: Estimate | None = None
    wasserstein_init_est: Estimate | None = None

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
    # None: not quasi-stationary within the cap (left out of summary.json, as every None of this
    # study's summary; never -1).
    chosen_steps_to_converge: int | None = None
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
    # What chose the rate: "time_to_convergence" (the chosen rate became stationary within the
    # sweep's cap) or "final_loss_at_cap" (no good rate did: the lowest final loss decided).
    criterion: str = "time_to_convergence"
    tuning_teacher_seed: int | None = None


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


class BestMatchLayer(ResultsModel):
    """One teacher hidden layer, many-to-one: each teacher unit's best-matching student unit.

    Estimates are over teachers (seeds averaged within a teacher; over seeds with one teacher).
    ``recovered``: teacher units whose best cosine exceeds the threshold; ``specialists``: student
    units whose best teacher unit is matched above the threshold; ``duplicated``: teacher units
    with two or more specialists. ``recoverable``: the teacher units that are neither dead nor
    always active on the input distribution (the ceiling), mean over teachers.
    """

    layer: int
    width: int
    student_width: int
    best_cosine_est: Estimate
    chance_best_cosine_est: Estimate
    recovered_est: Estimate
    chance_recovered_est: Estimate
    specialists_est: Estimate
    duplicated_est: Estimate
    recoverable: float
    dead: float
    always_active: float


class BestMatch(ResultsModel):
    """Every student, many-to-one: the layers whose units can be compared with the teacher's (all
    hidden layers at the teacher's depth; otherwise the first, whose inputs are the same)."""

    layers: list[BestMatchLayer]
    recovered_est: Estimate  # over the compared layers
    chance_recovered_est: Estimate
    n_units: int  # teacher units compared
    recoverable: float


class Alignment(ResultsModel):
    """Hidden units of a student matched to its teacher's, modulo permutation and positive rescaling.

    ``best_match`` (every student): many-to-one. The Hungarian fields (one-to-one, all layers;
    per seed lists over every run, teacher-major) only for students of the teacher's depth.
    """

    threshold: float  # cosine above which a teacher unit counts as recovered
    n_units: int
    best_match: BestMatch
    mean_cosine: list[float] | None = None  # per run, over all hidden units
    recovered: list[int] | None = None  # per run
    mean_cosine_est: Estimate | None = None
    recovered_est: Estimate | None = None
    output_cosine: list[float] | None = None
    chance: ChanceAlignment | None = None
    layers: list[AlignmentLayer] | None = None

    @property
    def hungarian(self) -> bool:
        return self.mean_cosine_est is not None

    @computed_field
    @property
    def mean_cosine_mean(self) -> float | None:
        return self.mean_cosine_est.mean if self.mean_cosine_est else None

    @computed_field
    @property
    def mean_cosine_ci(self) -> list[float] | None:
        return _ci(self.mean_cosine_est) if self.mean_cosine_est else None

    @computed_field
    @property
    def recovered_mean(self) -> float | None:
        return self.recovered_est.mean if self.recovered_est else None

    @computed_field
    @property
    def recovered_ci(self) -> list[float] | None:
        return _ci(self.recovered_est) if self.recovered_est else None


class TeacherRun(ResultsModel):
    """One student on one evaluation teacher: its seeds' numbers (``*_est`` over seeds).

    ``still_falling``: per seed, the relative improvement of the windowed training loss over the
    last ``horizon`` of training at the end (what the stationarity rule thresholds).
    """

    teacher_seed: int
    members: list[int]  # indices in the student's ensemble
    test_rel_mse_per_seed: list[float]
    train_rel_mse_per_seed: list[float]  # at the final parameters, on a fresh training sample
    test_rel_mse_est: Estimate
    train_rel_mse_est: Estimate
    converged_step: list[int | None]  # None: not quasi-stationary within the cap
    still_falling: list[float]

    @computed_field
    @property
    def test_rel_mse(self) -> float:
        return self.test_rel_mse_est.mean


class Ordering(ResultsModel):
    """Within-teacher comparison of two students: ratio ``a / b`` of relative test MSE.

    ``ratio_est``: geometric mean over teachers of the per-teacher ratio (seeds averaged in log
    space within a teacher) with a t-interval over teachers in log space (``unit="teacher"``);
    with one teacher, Welch over seeds (``unit="seed"``). ``holds``: teachers where a < b.
    """

    a: str
    b: str
    unit: str
    ratio_est: Estimate
    per_teacher: list[float]
    holds: int
    n: int

    @computed_field
    @property
    def ratio(self) -> float:
        return self.ratio_est.mean

    @computed_field
    @property
    def ratio_ci(self) -> list[float]:
        return _ci(self.ratio_est)


class Timing(ResultsModel):
    sweep_seconds: float
    seeds_seconds: float


class StudentResults(ResultsModel):
    """One student: size, chosen rate, runs on every evaluation teacher, errors, sweep, parameter
    distributions, alignment.

    One ensemble holds every (evaluation teacher, seed) run, teacher-major: run ``m`` learns
    teacher ``member_teacher[m]``. MSEs are in each teacher's units; ``*_rel_mse`` over that
    teacher's Var(y_test). Train MSE: at the final parameters, on a fresh sample of the training
    distribution (the teacher's reference sample, never trained on). Estimates (``*_est``) treat
    the teacher as the unit: seeds are averaged within a teacher, then a t-interval over teachers
    (``unit = "teacher"``); with one evaluation teacher, over seeds (``unit = "seed"``). Per-seed
    lists cover the runs that did not diverge (``members``: their indices in the ensemble).
    """

    hidden: list[int]
    n_params: int
    members: list[int]
    member_teacher: list[int]  # evaluation-teacher index of every run of the ensemble
    params_ratio: float  # n_params / teacher's
    lr: float
    steps: int
    seeds: int  # runs that did not diverge (over teachers x seeds)
    seeds_diverged: int
    teachers: int  # evaluation teachers with at least one run that did not diverge
    unit: str  # "teacher" or "seed": the unit of replication of the intervals
    converged_step: list[int | None]  # None (null in summary.json): not quasi-stationary within the cap
    step_cap: int
    stationary: float  # fraction of runs found stationary
    test_mse_per_seed: list[float]
    test_rel_mse_per_seed: list[float]
    train_mse_per_seed: list[float]
    test_mse_est: Estimate
    test_rel_mse_est: Estimate
    train_mse_est: Estimate
    train_rel_mse_est: Estimate
    gap_rel_mse_est: Estimate  # test minus train relative MSE, same unit of replication
    per_teacher: list[TeacherRun]
    sweep: SweepFacts
    distribution: Distribution
    alignment: Alignment
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
        """Steps at which the runs that became quasi-stationary did so."""
        return [c for c in self.converged_step if c is not None]


class ParameterCountInfo(ResultsModel):
    """The parameter-count sweep copied into this run (its table: an artifact)."""

    sweep: str  # the sweep folder, absolute
    name: str
    runs_planned: int
    runs_complete: int
    rows: int
    differs: list[str]  # settings where this run differs from the sweep's runs


class EvalTeacher(ResultsModel):
    """One evaluation teacher: its facts, target scaling, baselines and unrecoverable units."""

    facts: TeacherFacts
    targets: TargetFacts
    baselines: Baselines
    activity: UnitActivity


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
    teacher: TeacherFacts  # the first evaluation teacher's settings; test_* means over teachers
    test_set: TestSetFacts
    targets: TargetFacts  # the tuning teacher's (what the sweeps trained on)
    baselines: Baselines  # means over the evaluation teachers
    teachers: list[EvalTeacher]
    tuning_teacher: TeacherFacts
    students: dict[str, StudentResults]
    orderings: list[Ordering]
    eval_every: int
    window: int  # steps of the stationarity rule's windows (and of the sweep's final training loss)
    parameter_count: ParameterCountInfo | None = None
    wall_seconds: float | None = None  # written by the run folder when the run ends

    def to_summary(self) -> dict[str, Any]:
        # Absent optional groups stay absent from summary.json (as they always were), not null.
        return jsonable(self.model_dump(mode="python", exclude_none=True))
