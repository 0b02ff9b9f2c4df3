"""Lab 3's PyTorch basics and Tutorial 3's exercises, each measured.

- :func:`autograd_check`: Lab 3's ``Q = 3 a^3 - b^2``; autograd's gradients against the closed
  forms ``dQ/da = 9 a^2`` and ``dQ/db = -2 b``.
- :func:`matmul_timing`: Lab 3's "why not just numpy": a ``1000 x 1000`` matmul on the CPU and,
  where CUDA exists, on the GPU (synchronised); says so where there is no CUDA.
- :func:`scenario_errors`: Tutorial 3's ranking exercise, scenarios A-E (more noise, more data, a
  narrower range, the known form ``sin(k x)``), each measured as the test error on ``[0, 1]`` of
  its best fit: a polynomial whose degree is chosen by leave-one-out cross-validation on the
  scenario's own points (A-D), or ``sin(k x)`` with ``k`` fitted by least squares (E).
- :func:`linear_in_theta`: Tutorial 3's ``f1 = a x + b``, ``f2 = a x^2 + b x + c``,
  ``f3 = a sin(2 pi x) + b x + c``: linear in ``theta`` (exactly, to rounding) but not in ``x``.
- :func:`torch_fits`: the tutorial's fits in torch (``torch.linalg.lstsq`` on the monomial
  design), checked against the study's stable solver (:func:`~learnability.linear.fit_polynomial`).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from learnability.linear import fit_polynomial, polynomial_features
from learnability.studies.polynomial_regression.parts import geometric_mean
from learnability.studies.polynomial_regression.results import (
    AutogradCheck,
    LinearInTheta,
    MatmulTiming,
    Scenario,
    TorchFits,
)

__all__ = [
    "SCENARIOS",
    "autograd_check",
    "linear_in_theta",
    "loo_error",
    "matmul_timing",
    "scenario_errors",
    "summarise_scenarios",
    "torch_fits",
]

#: Tutorial 3's scenarios: (training points, noise sd, x range, known form sin(k x)).
SCENARIOS: dict[str, tuple[int, float, float, bool]] = {
    "A": (20, 0.1, 1.0, False),
    "B": (20, 0.5, 1.0, False),
    "C": (40, 0.1, 1.0, False),
    "D": (100, 0.1, 0.3, False),
    "E": (10, 0.1, 1.0, True),
}
# Lab 3's a and b.
_LAB3_A = (2.0, 3.0)
_LAB3_B = (6.0, 4.0)
# Scenario E: k is searched on a grid over (0, K_MAX] (the truth is 2 pi), then refined.
_K_MAX = 20.0
_K_GRID = 4001
_K_REFINE_STEPS = 60
# A leverage this close to 1 makes the held-out residual undefined: that degree is skipped.
_LEVERAGE_TOL = 1e-9
# Tutorial 3's sliders stop at degree 15.
_MAX_SCENARIO_DEGREE = 15


def autograd_check() -> AutogradCheck:
    """Lab 3: ``Q = 3 a^3 - b^2`` with ``a = [2, 3]``, ``b = [6, 4]``; ``Q.sum().backward()``."""
    a = torch.tensor(_LAB3_A, requires_grad=True)
    b = torch.tensor(_LAB3_B, requires_grad=True)
    q = 3 * a**3 - b**2
    q.sum().backward()
    assert a.grad is not None and b.grad is not None
    expected_a, expected_b = 9 * a.detach() ** 2, -2 * b.detach()
    err = max(float((a.grad - expected_a).abs().max()), float((b.grad - expected_b).abs().max()))
    return AutogradCheck(
        a=list(_LAB3_A),
        b=list(_LAB3_B),
        grad_a=a.grad.tolist(),
        grad_b=b.grad.tolist(),
        expected_a=expected_a.tolist(),
        expected_b=expected_b.tolist(),
        max_abs_error=err,
        exact=bool(torch.equal(a.grad, expected_a) and torch.equal(b.grad, expected_b)),
    )


def _time_matmul(a: torch.Tensor, b: torch.Tensor, repeats: int) -> float:
    """Seconds per ``a @ b``, after one warm-up product (synchronised on CUDA)."""
    sync = torch.cuda.synchronize if a.is_cuda else (lambda: None)
    torch.matmul(a, b)
    sync()
    start = time.perf_counter()
    for _ in range(repeats):
        torch.matmul(a, b)
    sync()
    return (time.perf_counter() - start) / repeats


def matmul_timing(size: int, repeats: int, *, seed: int) -> MatmulTiming:
    """Lab 3: ``size x size`` float32 matmuls, CPU and (where CUDA exists) GPU."""
    g = torch.Generator().manual_seed(seed)
    a, b = torch.rand(size, size, generator=g), torch.rand(size, size, generator=g)
    cpu = _time_matmul(a, b, repeats)
    cuda = device = None
    if torch.cuda.is_available():
        dev = torch.device("cuda")
        cuda = _time_matmul(a.to(dev), b.to(dev), repeats)
        device = torch.cuda.get_device_name(dev)
    return MatmulTiming(
        size=size,
        repeats=repeats,
        cpu_threads=torch.get_num_threads(),
        cpu_ms=1e3 * cpu,
        cuda_ms=None if cuda is None else 1e3 * cuda,
        cuda_device=device,
    )


def loo_error(x: np.ndarray, t: np.ndarray, degree: int) -> float:
    """Leave-one-out mean squared error of the least-squares polynomial of ``degree``.

    Closed form for linear smoothers: the held-out residual of point ``i`` is ``r_i / (1 - H_ii)``
    with ``H`` the hat matrix of the (Legendre, well conditioned) design and ``r`` the residuals of
    the fit on every point.
    """
    design = polynomial_features(x, degree, basis="legendre", domain=(0.0, 1.0))  # (N, d + 1)
    q, _ = np.linalg.qr(design)
    hat_diag = (q**2).sum(axis=1)
    resid = t - q @ (q.T @ t)
    if float(hat_diag.max()) > 1.0 - _LEVERAGE_TOL:  # a point the fit interpolates whatever its value
        return math.inf
    return float(np.mean((resid / (1.0 - hat_diag)) ** 2))


def _loo_degree(x: np.ndarray, t: np.ndarray) -> int:
    """The polynomial degree with the lowest leave-one-out error on ``(x, t)`` (fewer than n - 1 coefs)."""
    degrees = range(min(_MAX_SCENARIO_DEGREE, len(x) - 3) + 1)
    return min(degrees, key=lambda d: loo_error(x, t, d))


def _fit_k(x: np.ndarray, t: np.ndarray) -> float:
    """Least-squares ``k`` of ``sin(k x)``: a grid over (0, K_MAX], then golden-section refinement."""
    ks = np.linspace(_K_MAX / _K_GRID, _K_MAX, _K_GRID)
    sse = ((np.sin(ks[:, None] * x[None, :]) - t[None, :]) ** 2).sum(axis=1)
    i = int(np.argmin(sse))
    lo, hi = ks[max(i - 1, 0)], ks[min(i + 1, len(ks) - 1)]
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(_K_REFINE_STEPS):
        m1, m2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        f1 = float(((np.sin(m1 * x) - t) ** 2).sum())
        f2 = float(((np.sin(m2 * x) - t) ** 2).sum())
        lo, hi = (lo, m2) if f1 < f2 else (m1, hi)
    return (lo + hi) / 2


def scenario_errors(seed: int, n_test: int) -> dict[str, dict[str, float]]:
    """One draw of every scenario: its best fit's test MSE against ``sin(2 pi x)`` on ``U[0, 1]``.

    Returns:
        ``scenario -> {"test_mse", "degree" (A-D; -1 for E), "k" (E; nan otherwise)}``.
    """
    rng = np.random.default_rng(seed)
    x_test = rng.random(n_test)
    f_test = np.sin(2 * np.pi * x_test)
    out = {}
    for name, (n, sd, width, known_form) in SCENARIOS.items():
        x = rng.random(n) * width
        t = np.sin(2 * np.pi * x) + sd * rng.standard_normal(n)
        if known_form:
            k = _fit_k(x, t)
            pred, degree = np.sin(k * x_test), -1
        else:
            degree, k = _loo_degree(x, t), math.nan
            pred = fit_polynomial(x, t, degree, basis="legendre", domain=(0.0, 1.0))(x_test)
        out[name] = {"test_mse": float(np.mean((pred - f_test) ** 2)), "degree": degree, "k": k}
    return out


def summarise_scenarios(draws: list[dict[str, dict[str, float]]]) -> list[Scenario]:
    """Per scenario, the geometric-mean test MSE over draws with its 95% CI, ranked best first."""
    rows = []
    for name, (n, sd, width, known_form) in SCENARIOS.items():
        mses = np.array([d[name]["test_mse"] for d in draws])
        degrees = [int(d[name]["degree"]) for d in draws if d[name]["degree"] >= 0]
        ks = [d[name]["k"] for d in draws if not math.isnan(d[name]["k"])]
        rows.append(
            Scenario(
                name=name,
                n_train=n,
                noise_sd=sd,
                x_max=width,
                known_form=known_form,
                test_mse=geometric_mean(mses),
                median_degree=float(np.median(degrees)) if degrees else None,
                median_k=float(np.median(ks)) if ks else None,
            )
        )
    return sorted(rows, key=lambda s: s.test_mse.mean)


def linear_in_theta(x: np.ndarray, t: np.ndarray, *, seed: int) -> LinearInTheta:
    """Tutorial 3's f1, f2, f3: superposition in ``theta`` holds to rounding, not in ``x``.

    For random ``theta1``, ``theta2`` and scalars ``alpha``, ``beta``: ``f(x; alpha theta1 + beta
    theta2) = alpha f(x; theta1) + beta f(x; theta2)`` (linearity in ``theta``) against
    ``f(alpha x1 + beta x2; theta) = alpha f(x1; theta) + beta f(x2; theta)`` (linearity in
    ``x``: false for all three, even f1 because of its intercept). Each model is also fitted by
    least squares to ``(x, t)`` (its design matrix is linear in ``theta``).
    """
    rng = np.random.default_rng(seed)
    designs = {
        "f1": lambda z: np.stack([z, np.ones_like(z)], axis=1),
        "f2": lambda z: np.stack([z**2, z, np.ones_like(z)], axis=1),
        "f3": lambda z: np.stack([np.sin(2 * np.pi * z), z, np.ones_like(z)], axis=1),
    }
    grid = np.linspace(0.0, 1.0, 51)
    in_theta, in_x, train_mse = {}, {}, {}
    for name, design in designs.items():
        p = design(grid).shape[1]
        th1, th2 = rng.standard_normal(p), rng.standard_normal(p)
        al, be = rng.standard_normal(2)
        lhs = design(grid) @ (al * th1 + be * th2)
        rhs = al * (design(grid) @ th1) + be * (design(grid) @ th2)
        in_theta[name] = float(np.max(np.abs(lhs - rhs)))
        x1, x2 = rng.random(51), rng.random(51)
        in_x[name] = float(np.max(np.abs(design(al * x1 + be * x2) @ th1 - (al * design(x1) + be * design(x2)) @ th1)))
        coef, *_ = np.linalg.lstsq(design(x), t, rcond=None)
        train_mse[name] = float(np.mean((design(x) @ coef - t) ** 2))
    return LinearInTheta(theta_superposition_error=in_theta, x_superposition_error=in_x, train_mse=train_mse)


def torch_fits(x: np.ndarray, t: np.ndarray, max_degree: int) -> TorchFits:
    """The tutorial's polynomial fits in torch (``torch.linalg.lstsq``, float64 monomial design)
    against the stable solver, on a grid of ``[0, 1]``: largest prediction gap per degree."""
    grid = np.linspace(0.0, 1.0, 201)
    xt, tt, gt = (torch.as_tensor(v, dtype=torch.float64) for v in (x, t, grid))
    gaps, conds = [], []
    for d in range(min(max_degree, len(x) - 1) + 1):
        design = torch.vander(xt, d + 1, increasing=True)  # (N, d + 1): 1, x, ..., x^d
        coef = torch.linalg.lstsq(design, tt[:, None], driver="gelsd").solution[:, 0]
        pred = torch.vander(gt, d + 1, increasing=True) @ coef
        ref = fit_polynomial(x, t, d)(grid)
        gaps.append(float(np.max(np.abs(pred.numpy() - ref))))
        conds.append(float(torch.linalg.cond(design)))
    return TorchFits(max_prediction_gap=gaps, condition_number=conds)
