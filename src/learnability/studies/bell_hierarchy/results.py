"""What a bell-hierarchy run returns: the typed contents of its ``summary.json``.

Every mean over seeds with a 95% interval is an :class:`~learnability.analysis.Estimate` (fields
ending in ``_est``); the flat ``x`` / ``x_ci`` keys that ``summary.json`` has always had (read by
``examples/bell_hierarchy.ipynb`` and users) are derived from it as computed fields. Per-seed lists
(``x_per_seed``) keep every seed, NaN included, where an estimate's ``values`` drop NaN.

The legacy keys describe B6 and the *first* scramble under the *primary* (first) schedule:
``targets.B6``, ``targets.B6_scrambled`` (the scramble with seed ``scramble.seed``, i.e.
``scrambles[0]``) and ``comparison``. The replicated answer is in ``scrambles`` (per scramble:
seed, permutations, paired ratio per schedule), ``control`` (the global relabelling, the noise
floor), ``schedules`` (per schedule: the across-scramble effect, scramble = unit) and
``confounds`` (variance, Sobol indices, effective dimension of every target; the regression of
the gap on effective dimension).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import computed_field, model_serializer, model_validator

from learnability.analysis import Estimate
from learnability.studies import ResultsModel, StudyResults

__all__ = [
    "Baselines",
    "BellResults",
    "Comparison",
    "Confounds",
    "ControlFacts",
    "Convergence",
    "DataFacts",
    "NetworkFacts",
    "PairedRatio",
    "Regression",
    "ScheduleEffect",
    "ScrambleFacts",
    "ScrambleRecord",
    "SensitivityFacts",
    "Sobol",
    "SweepGroup",
    "SweepVariable",
    "TargetResult",
    "TargetStatistics",
    "Timing",
    "TrainingFacts",
]


def _mean_of(field: str) -> Any:
    """A computed field: the mean of the estimate ``field`` (the legacy flat ``x`` key)."""
    return computed_field(property(lambda self: getattr(self, field).mean), return_type=float)


def _ci_of(field: str) -> Any:
    """A computed field: ``[low, high]`` of the estimate ``field`` (the legacy ``x_ci`` key)."""
    return computed_field(
        property(lambda self: [getattr(self, field).low, getattr(self, field).high]), return_type=list[float]
    )


class Convergence(ResultsModel):
    """How fast the test error of each seed fell (epochs are 1-based; None: never reached).

    Attributes:
        epochs_to_within_factor: first epoch within ``factor`` x the seed's own tail error.
        rel_after_epoch_1: relative test MSE of each seed after the first epoch.
        epoch_curve_mean: relative test MSE after each epoch, mean over seeds.
        epochs_to_common_level, common_level: first epoch at or below ``factor`` x the worse
            target's tail error (the same level for both targets).
    """

    epochs_to_within_factor: list[int | None]
    factor: float
    rel_after_epoch_1: list[float]
    epoch_curve_mean: list[float]
    epochs_to_common_level: list[int | None]
    common_level: float


class SweepVariable(ResultsModel):
    """One-variable sweeps along one input: model against target, per seed, over base points.

    ``mae``: mean absolute error; ``rel_error``: MAE / the target's range along the sweep;
    ``corr``: Pearson correlation of model and target sweeps; ``target_range``: mean range of the
    target along the sweep.
    """

    mae_est: Estimate
    mae_per_seed: list[float]
    rel_error_est: Estimate
    rel_error_per_seed: list[float]
    corr_est: Estimate
    corr_per_seed: list[float]
    target_range: float

    mae = _mean_of("mae_est")
    mae_ci = _ci_of("mae_est")
    rel_error = _mean_of("rel_error_est")
    rel_error_ci = _ci_of("rel_error_est")
    corr = _mean_of("corr_est")
    corr_ci = _ci_of("corr_est")


class Sobol(ResultsModel):
    """First-order (and total) Sobol indices of the target and of the trained models.

    ``model`` and ``model_total`` are means over seeds; ``model_est[v]`` is variable ``v``'s
    first-order index with its interval over seeds; ``model_per_seed`` is ``(S, n)``.
    """

    target: list[float]
    model: list[float]
    model_est: list[Estimate]
    model_per_seed: list[list[float]]
    target_total: list[float]
    model_total: list[float]
    n_samples: int
    n_evaluations: int
    sampler: str

    @computed_field
    @property
    def model_ci(self) -> list[list[float]]:
        return [[e.low, e.high] for e in self.model_est]


class TargetResult(ResultsModel):
    """One target's tuned rate, final errors (over seeds), convergence, sweeps and Sobol indices.

    Relative errors are MSE / Var(y) of the evaluated set (test or training); ``*_tail`` is the
    mean over the last ``tail_epochs`` evaluations; ``test_rel_mse_gmean_est`` the geometric mean
    over seeds (errors spread over decades).
    """

    polynomial: str
    polynomial_latex: str
    lr: float
    lr_at_edge: bool
    lr_rates_tried: int
    epochs: int
    seeds: int
    steps: int
    test_mse_est: Estimate
    test_mse_per_seed: list[float]
    test_rel_mse_est: Estimate
    test_rel_mse_per_seed: list[float]
    test_rel_mse_gmean_est: Estimate
    test_rel_mse_tail_est: Estimate
    test_rel_mse_tail_per_seed: list[float]
    train_mse_est: Estimate
    train_rel_mse_est: Estimate
    test_target_mean: float
    test_target_var: float
    diverged_seeds: int
    convergence: Convergence
    sweep: dict[str, SweepVariable]  # "x1" ... "xn"
    sobol: Sobol

    test_mse = _mean_of("test_mse_est")
    test_mse_ci = _ci_of("test_mse_est")
    test_rel_mse = _mean_of("test_rel_mse_est")
    test_rel_mse_ci = _ci_of("test_rel_mse_est")
    test_rel_mse_gmean = _mean_of("test_rel_mse_gmean_est")
    test_rel_mse_gmean_ci = _ci_of("test_rel_mse_gmean_est")
    test_rel_mse_tail = _mean_of("test_rel_mse_tail_est")
    test_rel_mse_tail_ci = _ci_of("test_rel_mse_tail_est")
    train_mse = _mean_of("train_mse_est")
    train_mse_ci = _ci_of("train_mse_est")
    train_rel_mse = _mean_of("train_rel_mse_est")
    train_rel_mse_ci = _ci_of("train_rel_mse_est")


class Baselines(ResultsModel):
    """Relative test MSE of the mean, linear and degree-``degree`` least-squares predictors.

    ``summary.json`` names the last one ``poly<degree>`` (``poly6`` for B6): the serializer writes
    that key and the validator reads it back into ``degree`` and ``poly``.
    """

    mean: float
    linear: float
    degree: int
    poly: float

    @model_validator(mode="before")
    @classmethod
    def _from_poly_key(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "poly" not in data:
            keys = [k for k in data if re.fullmatch(r"poly\d+", str(k))]
            if len(keys) == 1:
                rest = {k: v for k, v in data.items() if k != keys[0]}
                return {**rest, "degree": int(keys[0][4:]), "poly": data[keys[0]]}
        return data

    @property
    def poly_key(self) -> str:
        """``"poly<degree>"``: the key and the report's column name."""
        return f"poly{self.degree}"

    @model_serializer(mode="plain")
    def _to_poly_key(self) -> dict[str, Any]:
        return {"mean": self.mean, "linear": self.linear, self.poly_key: self.poly}


class Comparison(ResultsModel):
    """Scrambled / hierarchical relative test MSE: geometric-mean ratios over seeds.

    ``rel_mse_ratio_est`` pairs the seeds (same initialisation, data order, inputs); the tail one
    uses the mean of the last epochs; the unpaired one treats the seeds as independent samples.
    """

    ratio: str  # what the ratio is, in words
    rel_mse_ratio_est: Estimate
    rel_mse_ratio_tail_est: Estimate
    rel_mse_ratio_unpaired_est: Estimate
    seeds_scrambled_worse: int
    seeds: int

    rel_mse_ratio = _mean_of("rel_mse_ratio_est")
    rel_mse_ratio_ci = _ci_of("rel_mse_ratio_est")
    rel_mse_ratio_tail = _mean_of("rel_mse_ratio_tail_est")
    rel_mse_ratio_tail_ci = _ci_of("rel_mse_ratio_tail_est")
    rel_mse_ratio_unpaired_ci = _ci_of("rel_mse_ratio_unpaired_est")


class ScrambleFacts(ResultsModel):
    """The scrambling (``ScrambleResult.to_dict()``), its text and the rules it breaks (none)."""

    original: str
    scrambled: str
    original_latex: str
    scrambled_latex: str
    permutations: list[list[int]]  # one 0-based permutation per monomial, canonical order
    seed: int | None
    text: str
    violations: list[str]


class NetworkFacts(ResultsModel):
    """The residual MLP: layer widths ``dims`` (input first), linear layers, skips, parameters,
    and the reading of the spec's "9 layers" it follows (``custom`` when ``hidden_layers`` was set)."""

    linear_layers: int
    skips: int
    params: int
    dims: list[int]
    reading: str = "10_linear"


class DataFacts(ResultsModel):
    """The data sets (inputs from ``U[domain]^n``) and the training subset that scores rates."""

    n_train: int
    n_test: int
    domain: list[float]
    standardize_targets: bool
    n_train_eval: int
    steps_per_epoch: int


class TrainingFacts(ResultsModel):
    """The optimisation protocol as run: schedules (the first is primary), the rate grid and the
    successive-halving rungs (epochs, eta) that chose from it."""

    optimizer: str
    batch_size: int
    epochs: int
    schedules: list[str]
    lr_final_fraction: float
    lr_grid: list[float]
    halving_epochs: list[int]
    halving_eta: int
    tail_epochs: int
    seeds: int
    compile: bool

    @property
    def primary(self) -> str:
        return self.schedules[0]


class SensitivityFacts(ResultsModel):
    """Sizes of the one-variable sweeps and of the Saltelli design."""

    n_base: int
    grid_points: int
    sobol_samples: int


class Timing(ResultsModel):
    """Wall (``<phase>_s``) and CPU (``<phase>_cpu_s``) seconds per phase, and throughput."""

    PHASES: ClassVar[tuple[str, ...]] = ("baselines", "sweep", "final", "analysis", "total")

    baselines_s: float
    baselines_cpu_s: float
    sweep_s: float
    sweep_cpu_s: float
    final_s: float
    final_cpu_s: float
    analysis_s: float
    analysis_cpu_s: float
    total_s: float
    total_cpu_s: float
    model_steps: int
    train_model_steps_per_s: float

    def wall(self, phase: str) -> float:
        return getattr(self, f"{phase}_s")

    def cpu(self, phase: str) -> float:
        return getattr(self, f"{phase}_cpu_s")


class TargetStatistics(ResultsModel):
    """What else differs between targets (the confounds), on the Saltelli design over [0, 2]^n.

    ``effective_dim = 1 / sum_i S_i^2`` (1: one input explains everything; n: n equal inputs),
    ``interaction_share = 1 - sum_i S_i`` (the variance no input explains alone).
    """

    name: str
    kind: str  # "hierarchical", "control" or "scrambled"
    variance: float  # population variance of the test targets
    mean: float
    sobol_first: list[float]
    sobol_total: list[float]
    effective_dim: float
    interaction_share: float


class PairedRatio(ResultsModel):
    """One target against B6 under one schedule: relative test MSE ratio paired by seed.

    ``ratio_est``: geometric mean over seeds of target / B6 (same initialisation, data order and
    inputs per seed) with its 95% interval over seeds; ``ratio_tail_est`` the same for the mean of
    the last epochs.
    """

    target: str
    schedule: str
    lr: float
    lr_at_edge: bool
    test_rel_mse_per_seed: list[float]
    ratio_est: Estimate
    ratio_tail_est: Estimate
    harder_seeds: int
    seeds: int

    ratio = _mean_of("ratio_est")
    ratio_ci = _ci_of("ratio_est")


class ScrambleRecord(ResultsModel):
    """One scrambled twin: its seed and permutations (0-based, canonical monomial order), the
    polynomial, and its paired ratio to B6 per schedule."""

    name: str
    seed: int
    permutations: list[list[int]]
    polynomial: str
    polynomial_latex: str
    ratios: dict[str, PairedRatio]


class ControlFacts(ResultsModel):
    """The negative control: B6 with its inputs relabelled by one global derangement.

    Its validity, measured: ``variance_ratio`` = Var(control) / Var(B6) on the (shared) test inputs
    and ``sobol_max_abs_diff`` = max over inputs of |S_control(sigma(i)) - S_B6(i)| (first and total
    order): the same task up to sampling noise. ``ratios`` per schedule: the noise floor.
    """

    name: str
    seed: int
    permutation: list[int]
    polynomial: str
    variance_ratio: float
    sobol_max_abs_diff: float
    ratios: dict[str, PairedRatio]


class ScheduleEffect(ResultsModel):
    """The hierarchy effect under one schedule, the scramble as the unit of replication.

    ``across_est``: geometric mean over scrambles of the per-scramble ratios (each the geometric
    mean over its paired seeds) with a t-interval over scrambles; ``across_with_b6_noise_est``: the
    same point with Welch's interval between the scrambles' (geometric-mean) errors and B6's
    per-seed errors -- it also carries B6's own seed noise, which every ratio shares.
    ``harder``: scrambles whose ratio exceeds 1 ("holds in harder of n_scrambles");
    ``harder_significant``: scrambles whose own interval over seeds lies above 1.
    """

    schedule: str
    b6_lr: float
    b6_test_rel_mse_gmean_est: Estimate
    scrambles_test_rel_mse_gmean_est: Estimate
    across_est: Estimate
    across_with_b6_noise_est: Estimate
    harder: int
    harder_significant: int
    n_scrambles: int

    across = _mean_of("across_est")
    across_ci = _ci_of("across_est")


class Regression(ResultsModel):
    """``log ratio = a + b (d_eff - d_eff(B6))`` over the scrambles of one schedule (OLS).

    ``at_b6_est`` = ``exp(a)`` with its t-interval: the ratio predicted for a scramble whose
    effective dimension equals B6's -- the hierarchy effect with effective dimension held fixed
    (``extrapolated`` when B6's value lies outside the scrambles' range). ``slope_est``: ``b`` (log
    ratio per unit of effective dimension). ``correlation``: Pearson r of log ratio and d_eff.
    """

    schedule: str
    slope_est: Estimate
    at_b6_est: Estimate
    b6_effective_dim: float
    effective_dim_range: list[float]
    extrapolated: bool
    correlation: float
    n: int


class Confounds(ResultsModel):
    """Per target the statistics that differ besides hierarchy, and per schedule the regression
    of the gap on effective dimension and the correlations of the log ratio with each confound
    (descriptive, over scrambles)."""

    targets: dict[str, TargetStatistics]
    regressions: dict[str, Regression]
    correlations: dict[str, dict[str, float]]


class SweepGroup(ResultsModel):
    """One-variable sweep errors of a group of targets (B6, control, scrambles pooled) along one
    input under the primary schedule; each estimate's values are its units: seeds for one target,
    scrambles (each averaged over its seeds) for the pooled scrambles."""

    mae_est: Estimate
    rel_error_est: Estimate
    corr_est: Estimate
    target_range: float


class BellResults(StudyResults):
    """The summary of a bell-hierarchy run.

    ``targets`` and ``baselines`` are keyed by target name (``target_names(order)``: the
    hierarchical ``B<n>`` first, then ``B<n>_scrambled``).
    """

    CURVES: ClassVar[str] = "curves"  # per-epoch errors of the final members
    MEMBERS: ClassVar[str] = "members"  # one row per final member (target, schedule, lr, seed)
    LR_SWEEP: ClassVar[str] = "lr_sweep"  # one row per (schedule, target, rate) of the halving
    SWEEP_CURVES: ClassVar[str] = "sweep_curves"  # per-epoch training-subset error of every rate
    SWEEPS: ClassVar[str] = "sweeps_{target}"  # one-variable sweeps of target and models
    RATIOS: ClassVar[str] = "ratios"  # one row per (schedule, target, seed): errors and log ratio

    targets: dict[str, TargetResult]
    baselines: dict[str, Baselines]
    comparison: Comparison
    scramble: ScrambleFacts
    scrambles: list[ScrambleRecord]
    control: ControlFacts
    schedules: dict[str, ScheduleEffect]
    confounds: Confounds
    sweep_groups: dict[str, dict[str, SweepGroup]]
    network: NetworkFacts
    data: DataFacts
    training: TrainingFacts
    analysis: SensitivityFacts
    timing: Timing

    @property
    def names(self) -> list[str]:
        """The legacy target names: B_n and its first scramble."""
        return list(self.targets)

    @property
    def primary(self) -> str:
        """The primary schedule (that of ``targets`` and ``comparison``)."""
        return self.training.primary

    @property
    def order(self) -> int:
        """``n``: the Bell order, the number of input variables."""
        return self.network.dims[0]
