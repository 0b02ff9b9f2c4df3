"""KernelRidge and KernelPCA against scikit-learn, known answers, and the estimator contract."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.decomposition
import sklearn.kernel_ridge
import torch
from sklearn.base import clone
from sklearn.datasets import make_moons
from sklearn.exceptions import NotFittedError
from sklearn.metrics.pairwise import laplacian_kernel as sk_laplacian
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import KernelCenterer
from sklearn.utils.estimator_checks import parametrize_with_checks

from learnability._validation import ParameterError
from learnability.kernels import (
    KernelPCA,
    KernelRidge,
    center_gram,
    gamma_from_sigma,
    linear_kernel,
    rbf_kernel,
)
from learnability.linear import ridge

TIGHT = {"rtol": 1e-9, "atol": 1e-11}
# Beyond this condition number of K + alpha I the two solvers legitimately disagree in digits.
COND_LIMIT = 1e8


def _lab2_periodic(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Lab 2, exercise 2: y = x + 4 sin(x) + 4 U[0, 1) on 100 points of [2, 30]."""
    rng = np.random.default_rng(seed)
    x = np.linspace(2, 30, 100)
    return x[:, None], x + 4 * np.sin(x) + 4 * rng.random(100)


def _random_regression(seed: int, n: int = 60, d: int = 5, k: int | None = None):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.sin(X @ rng.normal(size=(d,) if k is None else (d, k))) + 0.1 * rng.normal(
        size=(n,) if k is None else (n, k)
    )
    return X, y, rng.normal(size=(25, d))


def _datasets():
    x, y = _lab2_periodic()
    yield "lab2-periodic", x, y, np.linspace(2, 30, 37)[:, None]
    yield "gaussian-d5", *_random_regression(1)
    yield "gaussian-d5-multi", *_random_regression(2, k=3)
    X, labels = make_moons(n_samples=100, random_state=123)
    yield "moons", X, labels.astype(float), X[::3] + 0.05


KERNEL_PARAMS = [
    {"kernel": "linear"},
    {"kernel": "polynomial", "degree": 2, "gamma": 0.5, "coef0": 1.0},
    {"kernel": "poly"},  # cubic with gamma = 1 / d: ill-conditioned on the Lab 2 data
    {"kernel": "rbf", "gamma": gamma_from_sigma(1.0)},
    {"kernel": "rbf"},
    {"kernel": "laplacian", "gamma": 0.3},
]


# ---------------------------------------------------------------- KernelRidge


@pytest.mark.parametrize("params", KERNEL_PARAMS, ids=lambda p: "-".join(f"{v}" for v in p.values()))
@pytest.mark.parametrize("alpha", [1e-2, 1.0])
def test_kernel_ridge_matches_sklearn(params: dict, alpha: float) -> None:
    compared = 0
    for _name, X, y, X_new in _datasets():
        ours = KernelRidge(alpha=alpha, **params).fit(X, y)
        theirs = sklearn.kernel_ridge.KernelRidge(alpha=alpha, **params).fit(X, y)
        A = ours._kernel(X) + alpha * np.eye(len(X))
        # Backward stability: the residual of (K + alpha I) c = y is at rounding level.
        residual = np.abs(A @ ours.dual_coef_ - y).max()
        assert residual <= 1e-12 * np.abs(A).max() * np.abs(ours.dual_coef_).max() * len(X)
        cond = np.linalg.cond(A)
        if cond > COND_LIMIT:
            # e.g. the cubic kernel on x in [2, 30]: no solver gets more than a few digits.
            continue
        compared += 1
        # Forward error of two stable solvers: up to ~cond * eps.
        tol = max(1e-9, 100 * cond * np.finfo(float).eps)
        np.testing.assert_allclose(
            ours.dual_coef_, theirs.dual_coef_, rtol=0, atol=tol * np.abs(theirs.dual_coef_).max()
        )
        np.testing.assert_allclose(ours.predict(X_new), theirs.predict(X_new), rtol=tol, atol=tol)
        assert ours.predict(X_new).shape == theirs.predict(X_new).shape
    assert compared >= 3


def test_kernel_ridge_precomputed_matches_direct() -> None:
    X, y, X_new = _random_regression(3)
    K, K_new = rbf_kernel(X, gamma=0.2), rbf_kernel(X_new, X, gamma=0.2)
    direct = KernelRidge(alpha=0.1, kernel="rbf", gamma=0.2).fit(X, y).predict(X_new)
    pre = KernelRidge(alpha=0.1, kernel="precomputed").fit(K, y).predict(K_new)
    np.testing.assert_allclose(pre, direct, **TIGHT)


def test_linear_kernel_ridge_equals_ridge() -> None:
    """Kernel ridge with a linear kernel is ridge regression: X^T c = w."""
    X, y, X_new = _random_regression(4, n=40, d=8)
    model = KernelRidge(alpha=0.7, kernel="linear").fit(X, y)
    w = ridge(X, y, alpha=0.7)
    np.testing.assert_allclose(X.T @ model.dual_coef_, w, **TIGHT)
    np.testing.assert_allclose(model.predict(X_new), X_new @ w, **TIGHT)


def test_kernel_ridge_without_penalty_interpolates() -> None:
    x, y = _lab2_periodic()
    x, y = x[::4], y[::4]  # spacing ~1.1 sigma: K is positive definite in floating point
    model = KernelRidge(alpha=0.0, kernel="rbf", gamma=gamma_from_sigma(1.0)).fit(x, y)
    np.testing.assert_allclose(model.predict(x), y, rtol=0, atol=1e-8)


def test_kernel_ridge_singular_system_falls_back_with_a_warning() -> None:
    X = np.repeat(np.arange(3.0)[:, None], 2, axis=0)  # duplicated points: K is singular
    y = np.repeat([1.0, 2.0, 3.0], 2)
    with pytest.warns(Warning, match="singular"):
        model = KernelRidge(alpha=0.0, kernel="linear").fit(X, y)
    np.testing.assert_allclose(model.dual_coef_, np.linalg.pinv(linear_kernel(X)) @ y, atol=1e-10)


def test_kernel_ridge_accepts_torch_and_is_deterministic() -> None:
    X, y, X_new = _random_regression(5)
    a = (
        KernelRidge(alpha=0.3, kernel="rbf")
        .fit(torch.from_numpy(X), torch.from_numpy(y))
        .predict(torch.from_numpy(X_new))
    )
    b = KernelRidge(alpha=0.3, kernel="rbf").fit(X, y).predict(X_new)
    assert isinstance(a, np.ndarray) and a.dtype == np.float64
    np.testing.assert_array_equal(a, b)


def test_kernel_ridge_works_in_grid_search() -> None:
    """sigma and alpha chosen by cross-validation on training data (Lab 2, exercise 2)."""
    x, y = _lab2_periodic()
    grid = {"gamma": [gamma_from_sigma(s) for s in (0.3, 1.0, 3.0)], "alpha": [1e-2, 1.0]}
    search = GridSearchCV(KernelRidge(kernel="rbf"), grid, cv=3).fit(x, y)
    reference = GridSearchCV(sklearn.kernel_ridge.KernelRidge(kernel="rbf"), grid, cv=3).fit(x, y)
    assert search.best_params_ == reference.best_params_
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"], rtol=1e-9
    )


# ---------------------------------------------------------------- centring (Lab 2)


def test_center_gram_is_the_lab_2_formula() -> None:
    rng = np.random.default_rng(6)
    X, X_new = rng.normal(size=(20, 3)), rng.normal(size=(7, 3))
    K, K_new = rbf_kernel(X, gamma=0.4), rbf_kernel(X_new, X, gamma=0.4)
    one_n = np.full((20, 20), 1 / 20)
    one_mn = np.full((7, 20), 1 / 20)
    np.testing.assert_allclose(center_gram(K), K - one_n @ K - K @ one_n + one_n @ K @ one_n, atol=1e-14)
    np.testing.assert_allclose(
        center_gram(K_new, K_fit=K),
        K_new - one_mn @ K - K_new @ one_n + one_mn @ K @ one_n,
        atol=1e-14,
    )
    centerer = KernelCenterer().fit(K)
    np.testing.assert_allclose(center_gram(K_new, K_fit=K), centerer.transform(K_new), atol=1e-14)
    np.testing.assert_allclose(center_gram(K).sum(axis=0), 0.0, atol=1e-12)


def test_centred_linear_gram_is_the_gram_of_centred_data() -> None:
    rng = np.random.default_rng(7)
    X, X_new = rng.normal(loc=3.0, size=(15, 4)), rng.normal(size=(5, 4))
    mean = X.mean(axis=0)
    np.testing.assert_allclose(center_gram(linear_kernel(X)), (X - mean) @ (X - mean).T, atol=1e-12)
    np.testing.assert_allclose(
        center_gram(linear_kernel(X_new, X), K_fit=linear_kernel(X)),
        (X_new - mean) @ (X - mean).T,
        atol=1e-12,
    )


def test_center_gram_shape_errors() -> None:
    with pytest.raises(ParameterError, match="The 'K' parameter of center_gram must be a square"):
        center_gram(np.ones((3, 4)))
    with pytest.raises(
        ParameterError,
        match=r"The 'K' parameter of center_gram must be an array with shape \(any, 3\)",
    ):
        center_gram(np.ones((2, 4)), K_fit=np.eye(3))


# ---------------------------------------------------------------- KernelPCA


def _assert_equal_up_to_sign(a: np.ndarray, b: np.ndarray, n_check: int) -> None:
    for j in range(n_check):
        sign = np.sign(a[:, j] @ b[:, j])
        np.testing.assert_allclose(sign * a[:, j], b[:, j], rtol=1e-8, atol=1e-9 * np.abs(b[:, j]).max())


def _n_separated(eigenvalues: np.ndarray, limit: int) -> int:
    """Components whose eigenvalue is well separated from its neighbours (well-defined axes)."""
    n = 0
    for j in range(min(limit, len(eigenvalues))):
        gaps = [abs(eigenvalues[j] - eigenvalues[i]) for i in (j - 1, j + 1) if 0 <= i < len(eigenvalues)]
        if eigenvalues[j] <= 1e-8 * eigenvalues[0] or min(gaps, default=np.inf) <= 1e-6 * eigenvalues[0]:
            break
        n += 1
    return n


@pytest.mark.parametrize(
    "params",
    [
        {"kernel": "linear"},
        {"kernel": "rbf", "gamma": 15.0},  # the half-moons gamma of the blog post Lab 2 cites
        {"kernel": "rbf"},
        {"kernel": "poly", "degree": 3, "gamma": 0.5, "coef0": 1.0},
    ],
    ids=lambda p: "-".join(f"{v}" for v in p.values()),
)
@pytest.mark.parametrize("n_components", [2, None])
def test_kernel_pca_matches_sklearn(params: dict, n_components: int | None) -> None:
    for _name, X, _y, X_new in _datasets():
        ours = KernelPCA(n_components=n_components, **params)
        theirs = sklearn.decomposition.KernelPCA(n_components=n_components, **params)
        Z, Z_ref = ours.fit_transform(X), theirs.fit_transform(X)
        assert Z.shape == Z_ref.shape
        np.testing.assert_allclose(
            ours.eigenvalues_, theirs.eigenvalues_, rtol=1e-9, atol=1e-9 * theirs.eigenvalues_[0]
        )
        n_check = _n_separated(theirs.eigenvalues_, 5)
        assert n_check >= 1
        _assert_equal_up_to_sign(Z, Z_ref, n_check)
        _assert_equal_up_to_sign(ours.transform(X_new), theirs.transform(X_new), n_check)


def test_kernel_pca_laplacian_matches_sklearn_precomputed() -> None:
    X, _labels = make_moons(n_samples=100, random_state=123)
    ours = KernelPCA(n_components=3, kernel="laplacian", gamma=2.0).fit(X)
    theirs = sklearn.decomposition.KernelPCA(n_components=3, kernel="precomputed").fit(sk_laplacian(X, gamma=2.0))
    np.testing.assert_allclose(ours.eigenvalues_, theirs.eigenvalues_, rtol=1e-10)
    X_new = X[:10] + 0.1
    _assert_equal_up_to_sign(ours.transform(X_new), theirs.transform(sk_laplacian(X_new, X, gamma=2.0)), 3)


def test_linear_kernel_pca_equals_pca() -> None:
    rng = np.random.default_rng(8)
    X = rng.normal(size=(50, 4)) @ np.diag([3.0, 2.0, 1.0, 0.5]) + 1.0
    kpca = KernelPCA(n_components=3, kernel="linear").fit(X)
    pca = sklearn.decomposition.PCA(n_components=3).fit(X)
    _assert_equal_up_to_sign(kpca.transform(X), pca.transform(X), 3)
    np.testing.assert_allclose(kpca.eigenvalues_ / (len(X) - 1), pca.explained_variance_, rtol=1e-10)


def test_kernel_pca_transform_of_training_points_equals_fit_transform() -> None:
    X, _labels = make_moons(n_samples=100, random_state=123)
    model = KernelPCA(n_components=4, kernel="rbf", gamma=15.0)
    Z = model.fit_transform(X)
    np.testing.assert_allclose(model.transform(X), Z, atol=1e-10)
    # unit eigenvectors, decreasing eigenvalues, largest-magnitude entry positive
    np.testing.assert_allclose(model.eigenvectors_.T @ model.eigenvectors_, np.eye(4), atol=1e-12)
    assert np.all(np.diff(model.eigenvalues_) <= 0)
    pivots = np.argmax(np.abs(model.eigenvectors_), axis=0)
    assert np.all(model.eigenvectors_[pivots, np.arange(4)] > 0)


def test_kernel_pca_refuses_a_non_psd_kernel() -> None:
    K = np.diag([3.0, -2.0, 1.0, 0.5])
    with pytest.raises(
        ParameterError,
        match="The 'kernel' parameter of KernelPCA must be a positive semi-definite kernel",
    ):
        KernelPCA(kernel="precomputed").fit(K)


def test_kernel_pca_null_space_is_dropped_like_sklearn() -> None:
    X = np.random.default_rng(9).normal(size=(30, 2))  # linear kernel: centred rank 2
    assert KernelPCA(kernel="linear").fit(X).eigenvalues_.shape == (2,)
    assert KernelPCA(n_components=5, kernel="linear").fit(X).eigenvalues_.shape == (5,)
    assert KernelPCA(n_components=5, kernel="linear", remove_zero_eig=True).fit(X).eigenvalues_.shape == (2,)
    Z = KernelPCA(n_components=5, kernel="linear").fit(X).transform(X)
    np.testing.assert_array_equal(Z[:, 2:], 0.0)


# ---------------------------------------------------------------- the estimator contract


@pytest.mark.parametrize(
    "estimator",
    [KernelRidge(alpha=0.5, kernel="rbf", gamma=0.1), KernelPCA(3, kernel="poly", degree=2)],
)
def test_clone_and_params(estimator) -> None:
    copy = clone(estimator)
    assert copy.get_params() == estimator.get_params()
    assert copy is not estimator
    copy.set_params(gamma=0.25)
    assert copy.gamma == 0.25 and estimator.get_params()["gamma"] != 0.25


@pytest.mark.parametrize(("estimator", "method"), [(KernelRidge(), "predict"), (KernelPCA(), "transform")])
def test_unfitted_estimator_raises_not_fitted(estimator, method: str) -> None:
    with pytest.raises(NotFittedError, match="is not fitted yet"):
        getattr(estimator, method)(np.ones((2, 2)))


def test_fit_returns_self_and_refit_is_identical() -> None:
    X, y, X_new = _random_regression(10)
    model = KernelRidge(alpha=0.2, kernel="laplacian")
    assert model.fit(X, y) is model
    first = model.predict(X_new)
    np.testing.assert_array_equal(model.fit(X, y).predict(X_new), first)
    kpca = KernelPCA(2, kernel="rbf")
    assert kpca.fit(X) is kpca
    np.testing.assert_array_equal(kpca.transform(X_new), KernelPCA(2, kernel="rbf").fit(X).transform(X_new))


@pytest.mark.parametrize(
    ("estimator", "message"),
    [
        (
            KernelRidge(alpha=-1),
            "The 'alpha' parameter of KernelRidge must be a float in the range [0, inf). Got -1 instead.",
        ),
        (
            KernelRidge(kernel="cosine"),
            "The 'kernel' parameter of KernelRidge must be one of {'linear', 'polynomial', 'poly', 'rbf', 'laplacian', 'precomputed'}. Got 'cosine' instead.",
        ),
        (
            KernelRidge(kernel="rbf", gamma=0.0),
            "The 'gamma' parameter of KernelRidge must be a float in the range (0, inf). Got 0.0 instead.",
        ),
        (
            KernelPCA(n_components=0),
            "The 'n_components' parameter of KernelPCA must be an int in the range [1, inf). Got 0 instead.",
        ),
        (
            KernelPCA(degree=1.5, kernel="poly"),
            "The 'degree' parameter of KernelPCA must be an int in the range [0, inf). Got 1.5 instead.",
        ),
    ],
)
def test_invalid_parameter_message(estimator, message: str) -> None:
    X, y, _ = _random_regression(11)
    with pytest.raises(ParameterError) as info:
        estimator.fit(X, y)
    assert str(info.value) == message


def test_feature_count_is_checked_on_new_data() -> None:
    X, y, _ = _random_regression(12)
    model = KernelRidge().fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but KernelRidge is expecting 5 features"):
        model.predict(np.ones((2, 3)))


@parametrize_with_checks([KernelRidge(alpha=0.1, kernel="rbf"), KernelPCA(n_components=2, kernel="laplacian")])
def test_sklearn_estimator_checks(estimator, check) -> None:
    """scikit-learn's own estimator checks (the generic test over every estimator)."""
    check(estimator)


def test_kernel_pca_on_a_flat_spectrum() -> None:
    # An RBF kernel with a huge gamma is the identity to rounding; the centred Gram matrix then has
    # one eigenvalue repeated N - 1 times, on which LAPACK's subset driver returns nothing.
    import numpy as np

    from learnability.kernels import KernelPCA, center_gram, rbf_kernel

    X = np.random.default_rng(0).random((40, 2))
    model = KernelPCA(n_components=2, kernel="rbf", gamma=1e9).fit(X)
    top = np.linalg.eigvalsh(center_gram(rbf_kernel(X, gamma=1e9)))[::-1][:2]
    np.testing.assert_allclose(model.eigenvalues_, top)
    assert model.transform(X).shape == (40, 2)
