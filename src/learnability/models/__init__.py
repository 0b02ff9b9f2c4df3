"""Hand-built models and probes for the symmetry studies (Labs 4, 4bis, 5, 6, 7; Challenge 2).

- :mod:`~learnability.models.fcn` — Lab 4's shallow linear FCN and Lab 5's CNN (with a circular
  padding variant whose conv is exactly shift-equivariant) and its globally pooled variant;
- :mod:`~learnability.models.probes` — activations by layer name (forward hooks), safe weights
  save/load, equivariance/invariance measurements;
- :mod:`~learnability.models.hubel_wiesel` — simple/complex cells over any finite permutation group;
- :mod:`~learnability.models.deep_sets` — permutation-equivariant layers, Deep Sets, a set task;
- :mod:`~learnability.models.soft_sort` — Blondel et al.'s differentiable sort;
- :mod:`~learnability.models.symmetry` — the symmetry-discovery challenge: orbit data, classifier,
  loss terms, circulant measure.

Every constructor or function that draws random numbers takes ``seed=`` or ``generator=``
(keyword-only, exactly one); nothing uses the global generator.
"""

from learnability.models.deep_sets import (
    ACTIVATIONS,
    POOLINGS,
    SET_TARGETS,
    DeepSets,
    PermutationEquivariant,
    make_set_task,
    set_pool,
)
from learnability.models.fcn import GLOBAL_POOLS, PADDING_MODES, LabCNN, PooledCNN, ShallowFCN
from learnability.models.hubel_wiesel import (
    NONLINEARITIES,
    HubelWiesel,
    PermutationGroup,
    complex_cells,
    cyclic_shift_group,
    flip_group,
    rotation90_group,
    simple_cells,
)
from learnability.models.probes import (
    WEIGHTS_FORMAT,
    InvarianceScore,
    capture_activations,
    equivariance_error,
    get_activations,
    invariance_score,
    layer_names,
    load_weights,
    metadata_path,
    read_weights_metadata,
    save_weights,
    sorted_values_error,
)
from learnability.models.soft_sort import isotonic_blocks, soft_sort
from learnability.models.symmetry import (
    OrbitClassifier,
    OrbitDataset,
    SymmetryLoss,
    angle_order,
    circulant_distance,
    circulant_projection,
    commutator_penalty,
    covariance,
    gramian,
    group_order,
    make_orbit_dataset,
    rotate_points,
    rotation_matrices,
    sort_regularizer,
    sorted_rows_spread,
    symmetry_loss,
)

__all__ = [
    "ACTIVATIONS",
    "GLOBAL_POOLS",
    "NONLINEARITIES",
    "PADDING_MODES",
    "POOLINGS",
    "SET_TARGETS",
    "WEIGHTS_FORMAT",
    "DeepSets",
    "HubelWiesel",
    "InvarianceScore",
    "LabCNN",
    "OrbitClassifier",
    "OrbitDataset",
    "PermutationEquivariant",
    "PermutationGroup",
    "PooledCNN",
    "ShallowFCN",
    "SymmetryLoss",
    "angle_order",
    "capture_activations",
    "circulant_distance",
    "circulant_projection",
    "commutator_penalty",
    "complex_cells",
    "covariance",
    "cyclic_shift_group",
    "equivariance_error",
    "flip_group",
    "get_activations",
    "gramian",
    "group_order",
    "invariance_score",
    "isotonic_blocks",
    "layer_names",
    "load_weights",
    "make_orbit_dataset",
    "make_set_task",
    "metadata_path",
    "read_weights_metadata",
    "rotate_points",
    "rotation90_group",
    "rotation_matrices",
    "save_weights",
    "set_pool",
    "simple_cells",
    "soft_sort",
    "sort_regularizer",
    "sorted_rows_spread",
    "sorted_values_error",
    "symmetry_loss",
]
