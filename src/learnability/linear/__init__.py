"""Linear models: stable least squares, ridge, polynomial fits, gradient descent (Labs 3 and 8,
Tutorial 3).

Array convention: inputs are NumPy arrays or torch tensors (design matrices ``(m, n)``, targets
``(m,)`` or ``(m, k)``, scalar batches ``(N,)``); every output is NumPy ``float64``. No function
forms an explicit matrix inverse.

Example:
    >>> import numpy as np
    >>> from learnability.linear import (
    ...     gradient_descent_least_squares, least_squares, step_size_bound)
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(20, 50)), rng.normal(size=20)  # n > m: many interpolants
    >>> w_star = least_squares(X, y)  # minimum-norm solution
    >>> lr = 0.5 * step_size_bound(X)  # half of 2 / lambda_max(X^T X / m)
    >>> result = gradient_descent_least_squares(X, y, lr=lr, n_steps=2000)
    >>> bool(np.allclose(result.w, w_star, atol=1e-6))
    True
"""

from learnability.linear._gradient_descent import (
    GDResult,
    gradient_descent_least_squares,
    hessian_lambda_max,
    step_size_bound,
)
from learnability.linear._landscape import (
    LANDSCAPE_LOSSES,
    is_midpoint_convex,
    loss_landscape,
    midpoint_convexity_gap,
)
from learnability.linear._least_squares import least_squares, ridge, with_bias
from learnability.linear._ols import (
    OLSComparison,
    ols_autograd,
    ols_closed_form,
    ols_gradient_descent,
    ols_three_ways,
)
from learnability.linear._polynomial import (
    POLYNOMIAL_BASES,
    PolynomialFit,
    fit_polynomial,
    polynomial_features,
)

__all__ = [
    "LANDSCAPE_LOSSES",
    "POLYNOMIAL_BASES",
    "GDResult",
    "OLSComparison",
    "PolynomialFit",
    "fit_polynomial",
    "gradient_descent_least_squares",
    "hessian_lambda_max",
    "is_midpoint_convex",
    "least_squares",
    "loss_landscape",
    "midpoint_convexity_gap",
    "ols_autograd",
    "ols_closed_form",
    "ols_gradient_descent",
    "ols_three_ways",
    "polynomial_features",
    "ridge",
    "step_size_bound",
    "with_bias",
]
