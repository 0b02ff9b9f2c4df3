"""The kernel-pca study (Lab 2, exercise 3): separability measures, kernel PCA vs PCA, and a smoke
run through the CLI."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_moons
from sklearn.decomposition import PCA
from sklearn.decomposition import KernelPCA as SkKernelPCA

from learnability.kernels import center_gram, rbf_kernel
from learnability.report import fmt
from learnability.studies import kernel_pca as kp

SEP = {"folds": 5, "repeats": 2, "seed": 0}


def test_smoke_run_reports_its_numbers(smoke_run) -> None:
    run = smoke_run("kernel-pca")
    res = run.results
    assert res.best.cv_accuracy >= res.pca.cv_accuracy and res.fisher_gain_over_pca > 1
    assert res.top_gamma_range[0] <= res.best_gamma <= res.top_gamma_range[1]
    md = (run.path / "report.md").read_text()
    assert f"gamma = {fmt(res.best_gamma)}" in md
    assert fmt(res.pca.fisher_ratio) in md and fmt(res.fisher_gain_over_pca) in md
    assert "mixes the classes" in md  # PCA's best threshold on the moons is 0.77
    assert (run.figures_dir / "separability_vs_gamma.png").exists()
    assert (run.figures_dir / "projections.png").exists()


def test_sentences_follow_the_numbers(smoke_run) -> None:
    """The findings flip when the numbers do: PCA separating the classes, kernel PCA at small
    gamma differing from PCA."""
    from learnability.report import render_markdown
    from learnability.studies.kernel_pca import report

    run = smoke_run("kernel-pca")
    res = run.results
    text = render_markdown(report(res, run), run)
    assert "mixes the classes" in text and "reproduces PCA's" in text
    flipped = res.model_copy(
        update={
            "pca": res.pca.model_copy(update={"threshold_accuracy": 1.0}),
            "smallest_gamma": res.smallest_gamma.model_copy(update={"abs_corr_with_pca": 0.5}),
        }
    )
    text = render_markdown(report(flipped, run), run)
    assert "already separates the classes" in text and "mixes the classes" not in text
    assert "still differs from PCA's" in text and "reproduces PCA's" not in text


def test_threshold_accuracy_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    z = rng.standard_normal(30)
    labels = (z + rng.standard_normal(30) > 0).astype(int)
    best = 0.0
    for t in np.concatenate([[-np.inf], np.sort(z)]):
        pred = (z > t).astype(int)
        best = max(best, np.mean(pred == labels), np.mean(pred != labels))
    assert kp.separability(z, labels, **SEP).threshold_accuracy == best


def test_separability_extremes() -> None:
    labels = np.repeat([0, 1], 20)
    apart = kp.separability(np.where(labels == 1, 5.0, -5.0) + np.linspace(0, 1, 40), labels, **SEP)
    assert apart.threshold_accuracy == 1.0 and apart.cv_accuracy == 1.0 and apart.fisher_ratio > 50
    same = kp.separability(np.tile(np.linspace(-1, 1, 20), 2), labels, **SEP)
    assert same.fisher_ratio < 1e-12


def test_kernel_pca_vs_pca_on_moons() -> None:
    X, y = make_moons(n_samples=100, random_state=123)
    pc1 = PCA(n_components=2).fit_transform(X)[:, 0]
    small, _ = kp.kpca_projection(X, 1e-3)
    assert abs(np.corrcoef(small[:, 0], pc1)[0, 1]) > 0.999  # small gamma: kernel PCA = PCA
    good, _ = kp.kpca_projection(X, 21.5)
    assert kp.separability(good[:, 0], y, **SEP).cv_accuracy == 1.0
    assert kp.separability(pc1, y, **SEP).cv_accuracy < 0.8


def test_projection_matches_sklearn_and_survives_a_flat_spectrum() -> None:
    X, _ = make_moons(n_samples=60, random_state=0)
    Z, lam = kp.kpca_projection(X, 10.0)
    ref = SkKernelPCA(n_components=2, kernel="rbf", gamma=10.0).fit(X)
    assert np.allclose(lam, ref.eigenvalues_)
    assert np.allclose(np.abs(Z), np.abs(ref.transform(X)), atol=1e-8)  # up to the sign of each column
    # K = I to rounding (scikit-learn's KernelPCA raises here): the centred Gram matrix's top two.
    Z, lam = kp.kpca_projection(X, 1e6)
    assert Z.shape == (60, 2) and np.all(np.isfinite(Z))
    top = np.linalg.eigvalsh(center_gram(rbf_kernel(X, gamma=1e6)))[::-1][:2]
    assert np.allclose(lam, top)


def test_nested_cv_pieces_match_their_references() -> None:
    """The fast first component equals KernelPCA's fit/transform up to scale and sign; the 1-D
    Newton logistic regression predicts as scikit-learn's default pipeline."""
    import numpy as np
    from sklearn.datasets import make_moons
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from learnability.kernels import KernelPCA, rbf_kernel
    from learnability.studies.kernel_pca.nested import _first_component, _score

    X, y = make_moons(100, random_state=123)
    tr, te = np.arange(0, 100, 2), np.arange(1, 100, 2)
    z_tr, z_te = _first_component(rbf_kernel(X, gamma=10.0), tr, te)
    model = KernelPCA(n_components=1, kernel="rbf", gamma=10.0).fit(X[tr])
    ref_tr, ref_te = model.transform(X[tr])[:, 0], model.transform(X[te])[:, 0]
    scale = z_tr @ ref_tr / (ref_tr @ ref_tr)
    np.testing.assert_allclose(z_tr, scale * ref_tr, atol=1e-10)
    np.testing.assert_allclose(z_te, scale * ref_te, atol=1e-10)
    clf = make_pipeline(StandardScaler(), LogisticRegression()).fit(ref_tr[:, None], y[tr])
    assert _score(ref_tr, y[tr], ref_te, y[te]) == np.mean(clf.predict(ref_te[:, None]) == y[te])


def test_nested_cv_chooses_gamma_without_the_outer_test_fold() -> None:
    """Known answers: on well-separated blobs every reasonable gamma is perfect out of sample; on
    labels independent of the points nested CV is at chance, however good the best inner score."""
    import numpy as np

    from learnability.studies.kernel_pca.nested import nested_cv

    rng = np.random.default_rng(0)
    blobs = np.concatenate([rng.normal(-3, 0.3, (30, 2)), rng.normal(3, 0.3, (30, 2))])
    labels = np.repeat([0, 1], 30)
    easy = nested_cv(blobs, labels, np.geomspace(1e-3, 1e-1, 3), folds=3, repeats=2, seed=0)
    assert easy.accuracy.mean == 1.0 and len(easy.gammas) == 6
    noise = nested_cv(blobs, rng.permutation(labels), np.geomspace(1e-3, 10, 6), folds=3, repeats=2, seed=0)
    assert noise.accuracy.mean < 0.75


def test_nested_sentence_follows_the_numbers(smoke_run) -> None:
    from learnability.analysis import Estimate
    from learnability.report import render_markdown
    from learnability.studies import kernel_pca as kp

    run = smoke_run("kernel-pca")
    res = run.results
    assert res.nested_cv is not None and len(res.nested_gammas) == run.config.cv_folds * run.config.nested_repeats

    def text(nested: Estimate) -> str:
        return render_markdown(kp.report(res.model_copy(update={"nested_cv": nested}), run), run)

    assert "below the sweep's estimate: that estimate is optimistic" in text(Estimate(0.5, 0.4, 0.6, 2))
    assert "consistent with the sweep's estimate" in text(Estimate(0.99, 0.9, 1.0, 2))
