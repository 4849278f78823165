"""Decompositions: eigendecomposition against Eigen 3.4's SelfAdjointEigenSolver, PCA fit against scikit-learn.

- "eigh n=256": both sides timed inside peer_ours_core_decompositions on the same random symmetric
  matrix (all eigenvalues and eigenvectors), same -O3 -march=native flags, alternating runs, thread CPU
  time (robust to other load on the machine), one thread.
- "PCA fit digits": aimastery::PCA<double>() and sklearn.decomposition.PCA() fitted on the 1797×64 digits
  features with every component kept (n_components=None). For this tall, narrow shape scikit-learn ≥ 1.5's
  svd_solver="auto" resolves to "covariance_eigh" (Xᵀ X by NumPy's OpenBLAS, then LAPACK syevd), the same
  method as aimastery (covariance, then the library's own eigendecomposition); single thread on both sides.
  The note compares the explained-variance ratios of both sides.
"""
import os

from run import ROOT, Task

DIGITS = os.path.join(ROOT, "data", "digits.csv")


def tasks(ctx):
    eigh_cache = {}
    pca_cache = {}

    def eigh():
        if "result" not in eigh_cache:
            eigh_cache["result"] = ctx.ours("core_decompositions", "eigh", 256, ctx.repeat + 8)
        return eigh_cache["result"]

    def pca_ours():
        result = ctx.ours("core_decompositions", "pca_fit", DIGITS, 50)
        pca_cache["ours_ratio"] = result["explained_variance_ratio"]
        return result["seconds"]

    def pca_peer():
        import numpy as np
        from sklearn.decomposition import PCA
        X = np.loadtxt(DIGITS, delimiter=",", skiprows=1)[:, :-1]
        seconds = ctx.best_of(lambda: PCA().fit(X), repeat=50)
        pca = PCA().fit(X)
        ours = pca_cache.get("ours_ratio")
        if ours:
            diff = max(abs(a - b) for a, b in zip(ours, pca.explained_variance_ratio_[:3]))
            pca_task.note += f"; solver {pca._fit_svd_solver}; max |Δ explained_variance_ratio[:3]| {diff:.1e}"
        return seconds

    pca_task = Task(name="PCA fit digits", peer=ctx.label("scikit-learn"), ours=pca_ours, peer_run=pca_peer,
                    note="all 64 components, svd_solver auto")
    return [
        Task(name="eigh n=256", peer="Eigen 3.4 SelfAdjointEigenSolver", ours=lambda: eigh()["seconds"],
             peer_run=lambda: eigh()["eigen_seconds"], note="same program, same flags, thread CPU time"),
        pca_task,
    ]
