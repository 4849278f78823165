"""Decompositions: eigendecomposition against Eigen 3.4's SelfAdjointEigenSolver, PCA fit against scikit-learn.

- "eigh n=256": both sides timed inside peer_ours_core_decompositions on the same random symmetric
  matrix (all eigenvalues and eigenvectors), same -O3 -march=native flags, alternating runs.
- "PCA fit digits": aimastery::PCA<double>() and sklearn.decomposition.PCA() fitted on the 1797×64 digits
  features with every component kept (n_components=None). For this shape scikit-learn 1.2's
  svd_solver="auto" resolves to "full" (LAPACK gesdd of the centred data, single-threaded here);
  aimastery eigendecomposes the 64×64 covariance. Both compute the same components and ratios.
"""
import os

from run import ROOT, Task

DIGITS = os.path.join(ROOT, "data", "digits.csv")


def tasks(ctx):
    eigh_cache = {}

    def eigh():
        if "result" not in eigh_cache:
            eigh_cache["result"] = ctx.ours("core_decompositions", "eigh", 256, ctx.repeat + 4)
        return eigh_cache["result"]

    def pca_ours():
        return ctx.ours("core_decompositions", "pca_fit", DIGITS, 30)["seconds"]

    def pca_peer():
        import numpy as np
        from sklearn.decomposition import PCA
        X = np.loadtxt(DIGITS, delimiter=",", skiprows=1)[:, :-1]
        return ctx.best_of(lambda: PCA().fit(X), repeat=30)

    return [
        Task(name="eigh n=256", peer="Eigen 3.4 SelfAdjointEigenSolver", ours=lambda: eigh()["seconds"],
             peer_run=lambda: eigh()["eigen_seconds"], note="same program, same flags"),
        Task(name="PCA fit digits", peer="scikit-learn 1.2.1", ours=pca_ours, peer_run=pca_peer,
             note="all 64 components; sklearn svd_solver auto → full"),
    ]
