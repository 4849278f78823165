"""GEMM: aimastery::matrix_multiply against Eigen 3.4's product, n×n, single thread.

Both sides are timed inside peer_ours_core_gemm on the same matrices, with the same -O3 -march=native
flags, alternating runs, best CPU time of one product each (at least ctx.repeat runs, more for small n);
the ratio is ours / Eigen time (below 1: faster). The JSON output also carries wall times and GFLOP/s.
"""
from run import Task

SIZES = [256, 512, 1024, 2048]


def tasks(ctx):
    out = []
    for scalar in ("float", "double"):
        for n in SIZES:
            cache = {}

            def measure(scalar=scalar, n=n, cache=cache):
                if "result" not in cache:
                    cache["result"] = ctx.ours("core_gemm", "gemm", scalar, n, ctx.repeat)
                return cache["result"]

            def ours(measure=measure):
                return measure()["seconds"]

            def peer(measure=measure):
                return measure()["eigen_seconds"]

            out.append(Task(name=f"gemm {scalar} n={n}", peer="Eigen 3.4", ours=ours, peer_run=peer,
                            note="same program and flags, CPU time"))
    return out

