"""What is learned: exact polynomials (complete Bell polynomials and their scrambled twins).

Each target module keeps its own ``__all__``; this package re-exports the public names. To add a
module (e.g. teacher networks), import its names below and append them to ``__all__``.
"""

from learnability.targets.polynomials import (
    Monomial,
    Polynomial,
    RuleViolation,
    ScrambleResult,
    ScrambleRule,
    apply_permutations,
    bell_polynomial,
    check_scrambled,
    format_permutation,
    monomial_exponents,
    monomial_features,
    scramble,
)

__all__ = [
    # polynomials
    "Monomial",
    "Polynomial",
    "RuleViolation",
    "ScrambleResult",
    "ScrambleRule",
    "apply_permutations",
    "bell_polynomial",
    "check_scrambled",
    "format_permutation",
    "monomial_exponents",
    "monomial_features",
    "scramble",
]
