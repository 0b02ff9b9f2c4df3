"""Statistics the reports quote: confidence intervals, distribution comparisons, symmetry-aware
alignment of networks, one-variable sweeps and Sobol sensitivity indices."""

from learnability.analysis.alignment import (
    LayerAlignment,
    MLPAlignment,
    align_mlp,
    aligned_student,
    mlp_forward,
)
from learnability.analysis.distributions import (
    DistributionComparison,
    SampleSummary,
    compare_distributions,
    qq_probabilities,
    standardized_wasserstein_distance,
    summarize_sample,
)
from learnability.analysis.sensitivity import (
    SaltelliDesign,
    SobolIndices,
    SweepStat,
    SweepSummary,
    evaluate_sweeps,
    saltelli_design,
    sobol_from_evaluations,
    sobol_indices,
    sweep_inputs,
    sweep_summary,
)
from learnability.analysis.stats import (
    BootstrapCI,
    Estimate,
    PairedComparison,
    bootstrap_ci,
    format_interval,
    geometric_mean_ratio,
    mean_ci,
    mean_estimate,
    paired_test,
)

__all__ = [
    "BootstrapCI",
    "DistributionComparison",
    "Estimate",
    "LayerAlignment",
    "MLPAlignment",
    "PairedComparison",
    "SaltelliDesign",
    "SampleSummary",
    "SobolIndices",
    "SweepStat",
    "SweepSummary",
    "align_mlp",
    "aligned_student",
    "bootstrap_ci",
    "compare_distributions",
    "evaluate_sweeps",
    "format_interval",
    "geometric_mean_ratio",
    "mean_ci",
    "mean_estimate",
    "mlp_forward",
    "paired_test",
    "qq_probabilities",
    "saltelli_design",
    "sobol_from_evaluations",
    "sobol_indices",
    "standardized_wasserstein_distance",
    "summarize_sample",
    "sweep_inputs",
    "sweep_summary",
]
