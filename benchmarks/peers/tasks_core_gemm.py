"""GEMM: aimastery::matrix_multiply against Eigen 3.4's product (single thread) and against NumPy's
OpenBLAS (the PyPI wheel's bundled OpenBLAS, 1 and 2 threads), n×n.

- "gemm <scalar> n=<n>": both sides timed inside peer_ours_core_gemm on the same matrices, with the same
  -O3 -march=native flags, alternating runs, best CPU time of one product each (at least ctx.repeat
  runs, more for small n); the ratio is ours / Eigen time (below 1: faster).
- "gemm <scalar> n=<n> vs OpenBLAS (<t> threads)": ours is matrix_multiply_to with OMP_NUM_THREADS=t
  (best wall time of one product); the peer is `numpy.matmul(A, B, out=C)` in its own process with
  OPENBLAS_NUM_THREADS=t, run from the interpreter that runs run.py (the PyPI venv), with
  OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from its environment so that OpenBLAS picks its own
  kernel for this CPU. The JSON rows carry GFLOP/s of both sides.
"""
import json
import os
import subprocess
import sys

from run import Task

SIZES = [256, 512, 1024, 2048]
THREADED_SIZES = [512, 1024, 2048]

NUMPY_SCRIPT = r'''
import json, sys, time
import numpy as np
scalar, n, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
dtype = np.float32 if scalar == "float" else np.float64
rng = np.random.default_rng(0)
A = rng.uniform(-1, 1, (n, n)).astype(dtype)
B = rng.uniform(-1, 1, (n, n)).astype(dtype)
C = np.empty((n, n), dtype=dtype)
flops = 2.0 * n ** 3
runs = max(repeat, int(2e10 / flops))
np.matmul(A, B, out=C)
best = float("inf")
for _ in range(runs):
    t0 = time.perf_counter()
    np.matmul(A, B, out=C)
    best = min(best, time.perf_counter() - t0)
blas = ""
try:
    from threadpoolctl import threadpool_info
    blas = "; ".join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')} threads={i.get('num_threads')}"
                     for i in threadpool_info() if i.get("user_api") == "blas")
except Exception:
    pass
print(json.dumps({"seconds": best, "gflops": flops / best * 1e-9, "numpy": np.__version__, "blas": blas}))
'''


def _numpy(scalar, n, threads, repeat):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    out = subprocess.run([sys.executable, "-c", NUMPY_SCRIPT, scalar, str(n), str(repeat)], check=True,
                         capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def tasks(ctx):
    out = []
    for scalar in ("float", "double"):
        for n in SIZES:
            cache = {}

            def measure(scalar=scalar, n=n, cache=cache):
                if "result" not in cache:
                    cache["result"] = ctx.ours("core_gemm", "gemm", scalar, n, ctx.repeat)
                return cache["result"]

            out.append(Task(name=f"gemm {scalar} n={n}", peer="Eigen 3.4", ours=lambda m=measure: m()["seconds"],
                            peer_run=lambda m=measure: m()["eigen_seconds"], note="same program and flags, CPU time"))
    for threads in (1, 2):
        for scalar in ("float", "double"):
            for n in THREADED_SIZES:
                results = {}

                def ours(scalar=scalar, n=n, threads=threads, results=results):
                    r = ctx.ours("core_gemm", "gemm_threads", scalar, n, ctx.repeat, env={"OMP_NUM_THREADS": str(threads)})
                    results["ours_gflops"] = r["gflops"]
                    return r["seconds"]

                def peer(scalar=scalar, n=n, threads=threads, results=results):
                    r = _numpy(scalar, n, threads, ctx.repeat)
                    results["peer_gflops"] = r["gflops"]
                    results["blas"] = r["blas"]
                    return r["seconds"]

                out.append(Task(name=f"gemm {scalar} n={n} vs OpenBLAS ({threads} thread{'s' if threads > 1 else ''})",
                                peer=f"NumPy (OpenBLAS), {threads} thread{'s' if threads > 1 else ''}", ours=ours,
                                peer_run=peer, note="wall time of one product; GFLOP/s in the JSON rows",
                                extra=results))
    return out
