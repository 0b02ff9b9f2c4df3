"""What the symmetry-discovery study measures: per loss configuration, estimates over seeds."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, computed_field

from learnability.analysis import Estimate
from learnability.studies import ResultsModel, StudyResults

__all__ = ["ConfigSummary", "Effect", "IdealOrbit", "SweepPoint", "SymmetryDiscoveryResults"]


class ConfigSummary(ResultsModel):
    """One loss configuration: its weights and each measure as a mean over seeds with a 95% CI.

    Attributes:
        ablation: one of ``ABLATIONS`` or ``""`` for a point of the sort-weight sweep only.
        circulant_distance ... norm_spread, anisotropy: the geometry of the first layer's weight
            vectors (see ``measures.weight_geometry``).
        sorted_error_hidden ... prediction_agreement: invariance of the representation (see
            ``measures.representation_invariance``).
        sort_term, commutator_full, commutator_batch_mean: the regularisers of the trained
            weights (the commutator with the whole training set's covariance, and averaged over
            mini-batches).
        bias_std: spread of the first layer's biases (no term constrains them).
    """

    #: The per-member measures estimated over seeds (columns of the members table).
    MEASURES: ClassVar[tuple[str, ...]] = (
        "circulant_distance",
        "angle_gap_ratio",
        "norm_spread",
        "anisotropy",
        "sorted_error_hidden",
        "sorted_error_linear",
        "logit_change",
        "prediction_agreement",
        "train_accuracy",
        "test_accuracy",
        "sort_term",
        "commutator_full",
        "commutator_batch_mean",
        "bias_std",
    )

    sort_weight: float
    commutator_weight: float
    orbit_weight: float = 0.0  # absent from summaries written before the orbit-consistency term
    ablation: str
    circulant_distance: Estimate
    angle_gap_ratio: Estimate
    norm_spread: Estimate
    anisotropy: Estimate
    sorted_error_hidden: Estimate
    sorted_error_linear: Estimate
    logit_change: Estimate
    prediction_agreement: Estimate
    train_accuracy: Estimate
    test_accuracy: Estimate
    sort_term: Estimate
    commutator_full: Estimate
    commutator_batch_mean: Estimate
    bias_std: Estimate


class SweepPoint(ResultsModel):
    """One sort weight of the sweep (commutator at its full-loss weight)."""

    MEASURES: ClassVar[tuple[str, ...]] = (
        "circulant_distance",
        "sorted_error_linear",
        "angle_gap_ratio",
        "test_accuracy",
    )

    sort_weight: float
    circulant_distance: Estimate
    sorted_error_linear: Estimate
    angle_gap_ratio: Estimate
    test_accuracy: Estimate


class Effect(ResultsModel):
    """The paired effect of adding one loss term: ``difference`` = with - without, over the seeds
    where neither member diverged; ``p_value`` of the paired t-test (None when untestable: fewer
    than two seeds, or identical values)."""

    MEASURES: ClassVar[tuple[str, ...]] = (
        "circulant_distance",
        "sorted_error_linear",
        "sorted_error_hidden",
        "test_accuracy",
    )

    difference: Estimate
    p_value: float | None = None

    # The flat keys summary.json has always had beside p_value (the difference's).
    @computed_field
    @property
    def mean(self) -> float:
        return self.difference.mean

    @computed_field
    @property
    def low(self) -> float:
        return self.difference.low

    @computed_field
    @property
    def high(self) -> float:
        return self.difference.high

    @computed_field
    @property
    def n(self) -> int:
        return self.difference.n

    @computed_field
    @property
    def values(self) -> list[float]:
        return list(self.difference.values)


class IdealOrbit(ResultsModel):
    """First-layer measures of the hand-built orbit layer with equal biases (the exact answer)."""

    circulant_distance: float
    angle_gap_ratio: float
    norm_spread: float
    anisotropy: float
    sorted_error_hidden: float
    sorted_error_linear: float


class SymmetryDiscoveryResults(StudyResults):
    """The summary of a symmetry-discovery run.

    Attributes:
        group_order: ``m`` of C_m; ``hidden``: hidden units; ``n_train``, ``n_test``: points.
        covariance: the commutator's data covariance (``"batch"`` or ``"full"``);
            ``full_data_covariance`` (2 x 2) and its ``full_data_anisotropy``.
        soft_vs_hard_sort_gap: relative max difference of the soft and hard sorts of an initial
            Gramian at ``temperature``.
        chosen_lr, lr_at_edge: the rate of the sweep (full loss, training objective).
        n_members, n_diverged: members trained, and those that diverged (left out of estimates).
        init_circulant_distance, init_anisotropy: at initialisation, over seeds.
        ablation: the four ablations (``ABLATIONS``) by name; ``configs``: every configuration by
            its label; ``effects``: ``"<term>:<measure>"`` paired effects of the sort and
            commutator terms; ``sort_weight_sweep``: by increasing sort weight.
        ideal_orbit: the hand-built orbit layer (None when ``hidden != group_order``).
    """

    MEMBERS_TABLE: ClassVar[str] = "members"  # one row per member: weights, seed, every measure
    LR_SWEEP_TABLE: ClassVar[str] = "lr_sweep"  # the learning-rate sweep, one row per rate
    EXAMPLES: ClassVar[str] = "examples"  # seed-0 Gramians and weights: <ablation>_gram/_weights, init_gram
    SWEEP_TAG: ClassVar[str] = "sweep"  # metric tag of the rate sweep (extensions: sweep/extN)
    MEMBERS_TAG: ClassVar[str] = "members"  # metric tag of the trained members
    SORT_CURVE: ClassVar[str] = "train_sort"  # the sort term on the training set, per evaluation

    group_order: int
    hidden: int
    n_train: int
    n_test: int
    covariance: Literal["batch", "full"]
    full_data_covariance: list[list[float]]
    full_data_anisotropy: float
    temperature: float
    soft_vs_hard_sort_gap: float
    chosen_lr: float
    lr_at_edge: bool
    n_members: int
    n_diverged: int
    init_circulant_distance: Estimate
    init_anisotropy: Estimate
    ablation: dict[str, ConfigSummary]
    effects: dict[str, Effect]
    sort_weight_sweep: list[SweepPoint]
    ideal_orbit: IdealOrbit | None
    configs: dict[str, ConfigSummary]
    # The alternative regulariser (None / {} in summaries written before it, or orbit_weight = 0):
    # the estimated generator's angle, the CE + orbit-consistency configuration and its paired
    # effects, keyed "ce_sort:<measure>" (orbit minus sort) and "ce_only:<measure>".
    generator_degrees: float | None = None
    orbit: ConfigSummary | None = None
    orbit_effects: dict[str, Effect] = Field(default_factory=dict)
