"""Study ``symmetry-discovery`` (the older Challenge 2): can a loss make a network discover C_m?

Data: full orbits of 2-D points under the rotation group ``C_m``, labelled by orbit. Model: one
hidden fully connected layer with ReLU and a linear readout (``hidden = m`` units by default).
Loss, per member: cross-entropy + a soft-sort term that makes the Gramian ``W W^T`` circulant + a
commutator term ``||[C_x, C_w]||^2`` (:mod:`.parts`); ablations and a sweep of the sort weight are
members of one ensemble, paired seed by seed.

``config.py`` (settings), ``parts.py`` (the batched loss terms, the model, the grid of loss
configurations), ``measures.py`` (what is measured on a trained member), ``run.py`` (rate sweep,
members, measures, summary), ``results.py`` (the typed summary) and ``report.py``.
"""

from learnability.studies import Study, register
from learnability.studies.symmetry_discovery.config import NAME, SMOKE, SymmetryDiscoveryConfig, SymmetryTrain
from learnability.studies.symmetry_discovery.measures import (
    covariance_anisotropy,
    ideal_orbit_classifier,
    off_grid_test,
    representation_invariance,
    weight_geometry,
)
from learnability.studies.symmetry_discovery.parts import (
    ABLATION_LABELS,
    ABLATIONS,
    ORBIT_CONFIG,
    OrbitEnsemble,
    SymmetryPenalty,
    batch_covariance,
    commutator_penalties,
    estimate_generator,
    gramian_sort_penalty,
    member_grid,
    orbit_consistency_penalties,
)
from learnability.studies.symmetry_discovery.report import report
from learnability.studies.symmetry_discovery.results import (
    ConfigSummary,
    Effect,
    IdealOrbit,
    SweepPoint,
    SymmetryDiscoveryResults,
)
from learnability.studies.symmetry_discovery.run import run

__all__ = [
    "ABLATIONS",
    "ABLATION_LABELS",
    "ORBIT_CONFIG",
    "ConfigSummary",
    "Effect",
    "IdealOrbit",
    "OrbitEnsemble",
    "SweepPoint",
    "SymmetryDiscoveryConfig",
    "SymmetryDiscoveryResults",
    "SymmetryPenalty",
    "SymmetryTrain",
    "batch_covariance",
    "commutator_penalties",
    "covariance_anisotropy",
    "estimate_generator",
    "gramian_sort_penalty",
    "ideal_orbit_classifier",
    "member_grid",
    "off_grid_test",
    "orbit_consistency_penalties",
    "representation_invariance",
    "weight_geometry",
]

register(
    Study(
        NAME,
        "Challenge 2: discover the rotation group C_m with a soft-sort + commutator loss; ablations.",
        SymmetryDiscoveryConfig,
        run,
        report,
        results=SymmetryDiscoveryResults,
        smoke=SMOKE,
    )
)
