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
from learnability.targets.teacher import (
    TEACHER_D_IN,
    TEACHER_HIDDEN,
    TEACHER_INPUT_HIGH,
    TEACHER_INPUT_LOW,
    Teacher,
    teacher_spec,
)

__all__ = [
    "TEACHER_D_IN",
    "TEACHER_HIDDEN",
    "TEACHER_INPUT_HIGH",
    "TEACHER_INPUT_LOW",
    "Monomial",
    "Polynomial",
    "RuleViolation",
    "ScrambleResult",
    "ScrambleRule",
    "Teacher",
    "apply_permutations",
    "bell_polynomial",
    "check_scrambled",
    "format_permutation",
    "monomial_exponents",
    "monomial_features",
    "scramble",
    "teacher_spec",
]
