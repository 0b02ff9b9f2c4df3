"""Kernel functions against scikit-learn's pairwise kernels and the labs' scalar definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sklearn.metrics.pairwise as skp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from learnability._validation import ParameterError
from learnability.kernels import (
    gamma_from_sigma,
    gram_matrix,
    laplacian_kernel,
    linear_kernel,
    polynomial_kernel,
    quadratic_kernel,
    rbf_kernel,
    sigma_from_gamma,
)

RTOL = 1e-12


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(17, 4)), rng.normal(size=(9, 4))


@pytest.mark.parametrize(
    ("ours", "theirs", "params"),
    [
        (linear_kernel, skp.linear_kernel, {}),
        (polynomial_kernel, skp.polynomial_kernel, {}),
        (polynomial_kernel, skp.polynomial_kernel, {"degree": 2, "gamma": 0.7, "coef0": 0.3}),
        (polynomial_kernel, skp.polynomial_kernel, {"degree": 5, "gamma": 0.2, "coef0": -1.0}),
        (rbf_kernel, skp.rbf_kernel, {}),
        (rbf_kernel, skp.rbf_kernel, {"gamma": 0.35}),
        (laplacian_kernel, skp.laplacian_kernel, {}),
        (laplacian_kernel, skp.laplacian_kernel, {"gamma": 1.3}),
    ],
)
def test_kernels_match_sklearn(ours, theirs, params, data) -> None:
    X, Y = data
    np.testing.assert_allclose(ours(X, Y, **params), theirs(X, Y, **params), rtol=RTOL)
    np.testing.assert_allclose(ours(X, **params), theirs(X, **params), rtol=RTOL, atol=1e-15)


def test_rbf_sigma_matches_lab_definition(data) -> None:
    """Lab 2's Gaussian kernel exp(-||x - y||^2 / (2 sigma^2)), pair by pair."""
    X, Y = data
    sigma = 1.7
    K = rbf_kernel(X, Y, sigma=sigma)
    for i, x in enumerate(X):
        for j, y in enumerate(Y):
            assert K[i, j] == pytest.approx(math.exp(-np.sum((x - y) ** 2) / (2 * sigma**2)), rel=RTOL)
    np.testing.assert_allclose(K, rbf_kernel(X, Y, gamma=gamma_from_sigma(sigma)), rtol=RTOL)


def test_quadratic_kernel_is_lab_nonuniform_quadratic(data) -> None:
    X, Y = data
    K = quadratic_kernel(X, Y)
    expected = np.array([[(1 + x @ y) ** 2 for y in Y] for x in X])
    np.testing.assert_allclose(K, expected, rtol=RTOL)


def test_gram_matrix_dispatch(data) -> None:
    X, Y = data
    np.testing.assert_allclose(gram_matrix(X, Y, kernel="poly", degree=2), polynomial_kernel(X, Y, degree=2))
    np.testing.assert_allclose(gram_matrix(X, Y, kernel="rbf", gamma=0.5), rbf_kernel(X, Y, gamma=0.5))
    np.testing.assert_allclose(gram_matrix(X, kernel="linear"), linear_kernel(X))
    np.testing.assert_allclose(gram_matrix(X, kernel="laplacian"), laplacian_kernel(X))


def test_torch_inputs_give_float64_numpy(data) -> None:
    X, Y = data
    out = rbf_kernel(torch.from_numpy(X).float().requires_grad_(), torch.from_numpy(Y), gamma=0.3)
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.float64
    # float32 inputs are upcast, so the result equals the float64 computation on the rounded data
    np.testing.assert_allclose(out, rbf_kernel(X.astype(np.float32), Y, gamma=0.3), rtol=RTOL)


def test_sigma_gamma_round_trip() -> None:
    for sigma in (0.1, 1.0, 3.5):
        assert sigma_from_gamma(gamma_from_sigma(sigma)) == pytest.approx(sigma, rel=1e-15)
    assert gamma_from_sigma(1.0) == 0.5


def test_bad_parameters_use_the_project_message(data) -> None:
    X, Y = data
    with pytest.raises(
        ParameterError,
        match=r"^The 'gamma' parameter of rbf_kernel must be a float in the range \(0, inf\)\. Got -1\.0 instead\.$",
    ):
        rbf_kernel(X, gamma=-1.0)
    with pytest.raises(
        ParameterError,
        match="The 'sigma' parameter of rbf_kernel must be None when 'gamma' is given",
    ):
        rbf_kernel(X, gamma=1.0, sigma=1.0)
    with pytest.raises(
        ParameterError,
        match=r"The 'X' parameter of linear_kernel must be an array with 2 dimensions\. Got 'array of shape \(17,\)' instead\.",
    ):
        linear_kernel(X[:, 0])
    with pytest.raises(
        ParameterError,
        match=r"The 'Y' parameter of laplacian_kernel must be an array with shape \(any, 4\)",
    ):
        laplacian_kernel(X, Y[:, :3])
    with pytest.raises(ParameterError, match="finite"):
        linear_kernel(np.array([[np.nan, 1.0]]))
    with pytest.raises(ParameterError, match="The 'kernel' parameter of gram_matrix must be one of"):
        gram_matrix(X, kernel="cosine")
    with pytest.raises(ParameterError, match="The 'degree' parameter of polynomial_kernel must be an int"):
        polynomial_kernel(X, degree=2.5)


@settings(max_examples=25, deadline=None)
@given(
    X=arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(1, 4)), elements=st.floats(-3, 3)),
    gamma=st.floats(0.05, 5.0),
)
def test_gram_matrices_are_symmetric_psd(X: np.ndarray, gamma: float) -> None:
    for K in (
        rbf_kernel(X, gamma=gamma),
        laplacian_kernel(X, gamma=gamma),
        quadratic_kernel(X),
        linear_kernel(X),
    ):
        np.testing.assert_allclose(K, K.T, rtol=0, atol=1e-12 * max(1.0, np.abs(K).max()))
        eig = np.linalg.eigvalsh(K)
        assert eig.min() >= -1e-9 * max(1.0, eig.max())
