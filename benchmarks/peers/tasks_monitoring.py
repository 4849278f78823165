"""Monitoring statistics on 10^6 vs 10^6 samples against SciPy (and NumPy for PSI), versions as run.

Both sides read the same doubles (raw float64 files written here) and compute the same results:
- "ks_test 1e6 vs 1e6": aimastery::ks_test against scipy.stats.ks_2samp (method 'auto' → asymptotic,
  kstwo.sf), two N(0, 1) samples (no drift: the p-value comes from the Pelz–Good branch).
- "ks_test 1e6 vs 1e6, shift 0.01": the second sample shifted by 0.01 (n·D² ≈ 8: the p-value needs
  the full Smirnov sum, SciPy in double-double arithmetic, aimastery in long double).
- "psi 1e6 vs 1e6": aimastery::psi (10 bins at reference deciles) against the same PSI in NumPy
  (np.quantile, np.searchsorted, np.bincount).
- "wasserstein_distance 1e6 vs 1e6": against scipy.stats.wasserstein_distance.
The statistic and p-value of both sides are compared and reported in the note.
"""
import numpy as np

from run import Task

N = 1_000_000


def _psi_numpy(ref, cur, bins=10, floor=1e-4):
    ref = np.sort(ref)
    inner = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    rc = np.maximum(np.bincount(np.searchsorted(inner, ref), minlength=len(inner) + 1) / len(ref), floor)
    cc = np.maximum(np.bincount(np.searchsorted(inner, cur), minlength=len(inner) + 1) / len(cur), floor)
    return float(np.sum((cc - rc) * np.log(cc / rc)))


def tasks(ctx):
    import scipy
    from scipy import stats

    scipy_label, numpy_label = f"SciPy {scipy.__version__}", f"NumPy {np.__version__}"

    rng = np.random.default_rng(7)
    a = rng.normal(0.0, 1.0, N)
    b = rng.normal(0.0, 1.0, N)
    b_shift = b + 0.01
    paths = {}
    for name, x in (("a", a), ("b", b), ("b_shift", b_shift)):
        paths[name] = ctx.path(name + ".f64")
        x.astype("<f8").tofile(paths[name])
    results = {}

    def ours(task, other):
        def run():
            r = ctx.ours("monitoring", task, paths["a"], paths[other], ctx.repeat)
            results[(task, other, "ours")] = r["value"]
            return r["seconds"]
        return run

    def peer(task, other, fn):
        y = {"b": b, "b_shift": b_shift}[other]

        def run():
            results[(task, other, "peer")] = fn(a, y)
            return ctx.best_of(lambda: fn(a, y))
        return run

    def ks(x, y):
        r = stats.ks_2samp(x, y)
        return [r.statistic, r.pvalue]

    return [
        Task(name="ks_test 1e6 vs 1e6", peer=scipy_label, ours=ours("ks_test", "b"),
             peer_run=peer("ks_test", "b", ks), note="ks_2samp method auto (asymptotic)"),
        Task(name="ks_test 1e6 vs 1e6, shift 0.01", peer=scipy_label, ours=ours("ks_test", "b_shift"),
             peer_run=peer("ks_test", "b_shift", ks), note="p-value by the Smirnov sum"),
        Task(name="psi 1e6 vs 1e6", peer=numpy_label, ours=ours("psi", "b_shift"),
             peer_run=peer("psi", "b_shift", _psi_numpy), note="10 bins at reference deciles"),
        Task(name="wasserstein_distance 1e6 vs 1e6", peer=scipy_label, ours=ours("wasserstein", "b_shift"),
             peer_run=peer("wasserstein", "b_shift", stats.wasserstein_distance)),
    ]
