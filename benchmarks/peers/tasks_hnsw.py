"""HnswIndex against hnswlib (PyPI), same vectors, same M / ef_construction / ef, one thread, same run.

- Data: 20,000 base and 1,000 query vectors, 64-d, standard normal (NumPy, seed 2026), normalised; inner
  product space (cosine). The exact top 10 of every query (NumPy) is the truth for recall@10.
- "HNSW build": M = 16, ef_construction = 200, every vector inserted on one thread (hnswlib
  add_items(num_threads=1)); wall time of one build.
- "HNSW search ef=E": all 1,000 queries, k = 10, one thread (hnswlib knn_query(num_threads=1), one call for
  the batch; ours HnswIndex::search on the batch), best of the repeats; recall@10 of each side and queries
  per second in the extra columns. The row that matters is the smallest ef at which both reach
  recall@10 >= 0.95.
Each side also reports its CPU seconds (getrusage; one thread, so on a loaded machine this is the time the
work would take on an idle core). The random levels differ (hnswlib's own generator), so the two graphs are not identical; recall is reported
beside the time.
"""
import json
import os
import subprocess

import numpy as np

from run import Task, unit_vectors

VENV_PYTHON = os.path.join(os.environ.get("AIMASTERY_VENV", "/work/venv"), "bin", "python")
N, NQ, DIM, M, EF_CONSTRUCTION = 20000, 1000, 64, 16, 200
EFS = [40, 160, 320]

PEER_SCRIPT = r'''
import json, resource, sys, time
import numpy as np, hnswlib
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
base, queries, truth, n, nq, dim, M, efc, repeat = sys.argv[1:10]
n, nq, dim, M, efc, repeat = map(int, (n, nq, dim, M, efc, repeat))
efs = [int(e) for e in sys.argv[10:]]
X = np.fromfile(base, dtype=np.float32).reshape(n, dim)
Q = np.fromfile(queries, dtype=np.float32).reshape(nq, dim)
T = np.fromfile(truth, dtype=np.int32).reshape(nq, 10)
index = hnswlib.Index(space="ip", dim=dim)
index.init_index(max_elements=n, M=M, ef_construction=efc, random_seed=100)
index.set_num_threads(1)
t0, c0 = time.perf_counter(), cpu()
index.add_items(X, np.arange(n), num_threads=1)
build, build_cpu = time.perf_counter() - t0, cpu() - c0
out = []
for ef in efs:
    index.set_ef(ef)
    best, c0 = float("inf"), cpu()
    for _ in range(repeat):
        t0 = time.perf_counter()
        labels, _ = index.knn_query(Q, k=10, num_threads=1)
        best = min(best, time.perf_counter() - t0)
    recall = float(np.mean([len(set(l) & set(t)) / 10 for l, t in zip(labels, T)]))
    out.append({"ef": ef, "seconds": best, "cpu_seconds": (cpu() - c0) / repeat, "recall": recall})
print(json.dumps({"seconds": build, "build_seconds": build, "build_cpu_seconds": build_cpu, "efs": out,
                  "hnswlib": getattr(hnswlib, "__version__", "unknown")}))
'''


def _data(ctx):
    X, Q = unit_vectors(N, NQ, DIM)
    truth = np.argsort(-(Q @ X.T), axis=1, kind="stable")[:, :10].astype(np.int32)
    paths = [ctx.path("hnsw_base.f32"), ctx.path("hnsw_queries.f32"), ctx.path("hnsw_truth.i32")]
    for array, path in zip((X, Q, truth), paths):
        array.tofile(path)
    return paths


def tasks(ctx):
    paths = _data(ctx)
    args = [*paths, N, NQ, DIM, M, EF_CONSTRUCTION, ctx.repeat, *EFS]
    cache = {}

    def ours():
        if "ours_result" not in cache:
            cache["ours_result"] = ctx.ours("llm_hnsw", "run", *args)
        return cache["ours_result"]

    def peer():
        if "peer_result" not in cache:
            out = subprocess.run([VENV_PYTHON, "-c", PEER_SCRIPT, *map(str, args)], check=True, capture_output=True,
                                 text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
            cache["peer_result"] = json.loads(out.stdout.strip().splitlines()[-1])
        return cache["peer_result"]

    shape = f"{N}x{DIM}, M={M}, ef_construction={EF_CONSTRUCTION}"
    build = Task(f"HNSW build {shape} (1 thread)", "hnswlib (1 thread)",
                 lambda: ours()["build_seconds"], lambda: peer()["build_seconds"],
                 note="inner product on normalised float32 vectors")
    build.extra = cache  # both sides' JSON (bytes per vector, recall and time per ef)
    out = [build]
    for i, ef in enumerate(EFS):
        task = Task(f"HNSW search {NQ} queries k=10 ef={ef} ({shape}, 1 thread)", "hnswlib knn_query (1 thread)",
                    lambda i=i: ours()["efs"][i]["seconds"], lambda i=i: peer()["efs"][i]["seconds"],
                    note="recall@10 of each side in the extra columns; QPS = queries / seconds")
        task.extra = cache
        out.append(task)
    return out
