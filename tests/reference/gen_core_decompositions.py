"""Reference data for QR, eigendecomposition, power iteration, covariance and PCA (tests/core/decompositions
and tests/core/pca), from numpy.linalg and scikit-learn's PCA."""
import os

import numpy as np
import sklearn
from sklearn.decomposition import PCA

import refjson

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def symmetric_with_spectrum(rng, spectrum):
    """Q diag(spectrum) Qᵀ with Q a random orthogonal matrix (QR of a Gaussian matrix)."""
    n = len(spectrum)
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    q = q * np.sign(np.diag(r))
    a = (q * np.asarray(spectrum)) @ q.T
    return (a + a.T) / 2


def eigh_case(name, a, with_vectors):
    w, v = np.linalg.eigh(a)
    order = np.argsort(w)[::-1]
    case = {"name": name, "A": a, "values": w[order]}
    if with_vectors:
        case["vectors"] = v[:, order]
    return case


def eigh_cases(rng):
    cases = []
    for n in [1, 2, 3, 4, 5, 8, 10, 16, 20, 32, 50, 64, 100, 128, 200]:
        g = rng.standard_normal((n, n))
        cases.append(eigh_case(f"random n={n}", (g + g.T) / 2, with_vectors=n <= 50))
    # Constructed spectra: repeated, clustered, zero (rank-deficient), wide range, negative definite.
    repeated = [5.0] * 4 + [2.0] * 3 + [-1.0] * 3 + [0.5, 0.1]
    cases.append(eigh_case("repeated n=12", symmetric_with_spectrum(rng, repeated), with_vectors=False))
    clustered = [1.0 + 1e-9 * k for k in range(10)] + [3.0, -2.0]
    cases.append(eigh_case("clustered n=12", symmetric_with_spectrum(rng, clustered), with_vectors=False))
    rank_deficient = [4.0, 3.0, 2.0] + [0.0] * 27
    cases.append(eigh_case("rank 3 n=30", symmetric_with_spectrum(rng, rank_deficient), with_vectors=False))
    graded = [10.0 ** (-k) for k in range(16)]
    cases.append(eigh_case("graded 1..1e-15 n=16", symmetric_with_spectrum(rng, graded), with_vectors=False))
    negative = list(-np.linspace(1.0, 40.0, 40))
    cases.append(eigh_case("negative definite n=40", symmetric_with_spectrum(rng, negative), with_vectors=False))
    repeated_large = [7.0] * 30 + list(np.linspace(-3, 3, 30))
    cases.append(eigh_case("repeated n=60", symmetric_with_spectrum(rng, repeated_large), with_vectors=False))
    cases.append(eigh_case("identity n=7", np.eye(7), with_vectors=False))
    tridiagonal = np.diag(np.full(20, 2.0)) + np.diag(np.full(19, -1.0), 1) + np.diag(np.full(19, -1.0), -1)
    cases.append(eigh_case("1-D Laplacian n=20", tridiagonal, with_vectors=True))
    return cases


def qr_cases(rng):
    cases = []

    def add(name, a):
        r = np.linalg.qr(a, mode="r") if a.shape[0] >= a.shape[1] else None
        case = {"name": name, "A": a, "rank": int(np.linalg.matrix_rank(a))}
        if r is not None and case["rank"] == a.shape[1]:
            case["abs_diag_R"] = np.abs(np.diag(r))
        cases.append(case)

    add("random 20x5", rng.standard_normal((20, 5)))
    add("random 8x8", rng.standard_normal((8, 8)))
    add("wide 4x7", rng.standard_normal((4, 7)))
    hilbert = 1.0 / (np.arange(1, 9)[:, None] + np.arange(1, 9)[None, :] - 1)
    add("Hilbert 8x8 (cond 1.5e10)", hilbert)
    add("Vandermonde 12x8", np.vander(np.linspace(0, 1, 12), 8, increasing=True))
    add("rank 3 of 8x6", rng.standard_normal((8, 3)) @ rng.standard_normal((3, 6)))
    with_zero = rng.standard_normal((6, 4))
    with_zero[:, 1] = 0.0
    add("zero column 6x4", with_zero)
    dup = rng.standard_normal((5, 5))
    dup[:, 3] = dup[:, 0]
    add("repeated column 5x5", dup)
    add("all zeros 3x3", np.zeros((3, 3)))
    return cases


def power_cases(rng):
    positive = rng.uniform(0.0, 1.0, (10, 10))
    eig = np.linalg.eigvals(positive)
    dominant = eig[np.argmax(np.abs(eig))]
    return [{"name": "positive 10x10 (Perron root)", "A": positive, "eigenvalue": float(dominant.real)}]


def covariance_cases(rng):
    cases = []
    x = rng.standard_normal((30, 4)) * np.array([1.0, 10.0, 0.1, 3.0]) + np.array([5.0, -2.0, 100.0, 0.0])
    for ddof in (0, 1, 2):
        cases.append({"name": f"30x4 ddof={ddof}", "X": x, "ddof": ddof,
                      "cov": np.cov(x, rowvar=False, ddof=ddof)})
    y = rng.standard_normal((2, 3))
    cases.append({"name": "2x3 ddof=1", "X": y, "ddof": 1, "cov": np.cov(y, rowvar=False, ddof=1)})
    z = rng.standard_normal((10, 1))
    cases.append({"name": "10x1 ddof=1", "X": z, "ddof": 1, "cov": np.atleast_2d(np.cov(z, rowvar=False, ddof=1))})
    return cases


def load_features(name):
    with open(os.path.join(ROOT, "data", name)) as f:
        header = f.readline().strip().split(",")
    data = np.loadtxt(os.path.join(ROOT, "data", name), delimiter=",", skiprows=1)
    target = header.index("target")
    return np.delete(data, target, axis=1)


def pca_cases():
    cases = []
    for dataset, settings in [("iris.csv", [(None, False), (2, True)]),
                              ("digits.csv", [(None, False), (10, False), (10, True)])]:
        x = load_features(dataset)
        for n_components, whiten in settings:
            pca = PCA(n_components=n_components, whiten=whiten, svd_solver="full").fit(x)
            cases.append({
                "name": f"{dataset} n_components={n_components} whiten={whiten}",
                "dataset": dataset,
                "n_components": -1 if n_components is None else n_components,
                "whiten": whiten,
                "explained_variance_ratio": pca.explained_variance_ratio_,
                "explained_variance": pca.explained_variance_,
                "singular_values": pca.singular_values_,
                "components": pca.components_[:min(pca.n_components_, 20)],
                "mean": pca.mean_,
                "rows": [0, 1, 2, 50, 100],
                "transform": pca.transform(x[[0, 1, 2, 50, 100]]),
            })
    return cases


def generate(out_dir):
    rng = np.random.default_rng(20260101)
    refjson.write(out_dir, "core_decompositions.json", {
        "numpy": np.__version__,
        "eigh": eigh_cases(rng),
        "qr": qr_cases(rng),
        "power_iteration": power_cases(rng),
        "covariance": covariance_cases(rng),
    })
    refjson.write(out_dir, "core_pca.json", {"sklearn": sklearn.__version__, "cases": pca_cases()})
