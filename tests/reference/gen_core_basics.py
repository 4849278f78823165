"""Reference data for the vector operations, matrix basics and GEMM (tests/core/basics, tests/core/matmul),
from NumPy, SciPy and scikit-learn."""
import math

import numpy as np
import scipy.spatial.distance as ssd
from sklearn.metrics.pairwise import cosine_similarity

import refjson


def vector_case(name, a, b):
    return {
        "name": name,
        "a": a,
        "b": b,
        "dot": np.dot(a, b),
        "norm_a": np.linalg.norm(a),
        "normalized_a": a / np.linalg.norm(a),
        "cosine": cosine_similarity(a[None, :], b[None, :])[0, 0],
        "scipy_cosine_similarity": 1.0 - ssd.cosine(a, b),
        "euclidean": ssd.euclidean(a, b),
        "manhattan": ssd.cityblock(a, b),
    }


def generate(out_dir):
    rng = np.random.default_rng(20260102)
    cases = []
    for n in [1, 2, 3, 7, 16, 33, 100, 1000]:
        cases.append(vector_case(f"normal n={n}", rng.standard_normal(n), rng.standard_normal(n)))
    cases.append(vector_case("uniform n=50", rng.uniform(-10, 10, 50), rng.uniform(0, 1, 50)))
    a = rng.standard_normal(20)
    cases.append(vector_case("parallel n=20", a, 3.5 * a))
    cases.append(vector_case("antiparallel n=20", a, -0.25 * a))
    refjson.write(out_dir, "core_vectors.json", {"cases": cases})

    # Entries near 1e200: Σ vᵢ² overflows a double, the results do not. math.hypot and math.dist are
    # exact-scaling implementations (Python ≥ 3.8), the reference for the overflow-free norm.
    big_a = rng.standard_normal(10) * 1e200
    big_b = rng.standard_normal(10) * 1e200
    tiny_a = rng.standard_normal(10) * 1e-200
    large = {
        "big_a": big_a,
        "big_b": big_b,
        "big_norm_a": math.hypot(*big_a),
        "big_euclidean": math.dist(big_a, big_b),
        "big_cosine": cosine_similarity((big_a / 1e200)[None, :], (big_b / 1e200)[None, :])[0, 0],
        "tiny_a": tiny_a,
        "tiny_norm_a": math.hypot(*tiny_a),
    }
    refjson.write(out_dir, "core_vectors_extreme.json", large)

    matrices = []
    for (m, n) in [(1, 1), (3, 3), (5, 5), (13, 13), (4, 7)]:
        A = rng.standard_normal((m, n))
        matrices.append({"A": A, "transpose": A.T, "trace": np.trace(A) if m == n else None})
    # One GEMM product from numpy on sizes that are multiples of no tile size.
    A = rng.standard_normal((13, 17))
    B = rng.standard_normal((17, 19))
    refjson.write(out_dir, "core_matrices.json", {"matrices": matrices, "gemm": {"A": A, "B": B, "C": A @ B}})
