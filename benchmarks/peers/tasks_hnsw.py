"""HnswIndex against hnswlib (PyPI), same vectors, same M / ef_construction / ef, same run, one thread and two.

Three sets of vectors, inner product (cosine) on unit float32 vectors; the exact top 10 of every query (a
NumPy product, in blocks of queries) is the truth for recall@10:
- "20000x64": 20,000 base and 1,000 query vectors, 64-d, standard normal (NumPy, seed 2026), normalised;
  M = 16, ef_construction = 200, ef 40 / 160 / 320.
- "1000000x128": 1,000,000 base and 1,000 query vectors, 128-d, drawn the same way; M = 16,
  ef_construction = 100, ef 1024 … 16384 (recall@10 passes 0.95 only at ef 16384 on this set: 0.97 on
  both sides, 0.89 at 8192). Long (builds of minutes, about a minute per side at ef 16384): run only when
  AIMASTERY_HNSW_LARGE=1.
- "MiniLM docstrings": the 3,000 documents of the docstring set (benchmarks/rag) embedded by MiniLM
  (384-d) and their 3,000 one-line summaries as the queries, read from $AIMASTERY_HNSW_MINILM, the folder
  written by benchmarks/rag/embed_docstrings.py (skipped when unset); M = 16, ef_construction = 200,
  ef 10 … 80.
Rows:
- "HNSW build ... (T threads)": every vector inserted on T threads (hnswlib add_items(num_threads=T), ours
  HnswIndex::add(rows, T)); wall time of one build.
- "HNSW search ... ef=E (T threads)": all queries, k = 10, best of the repeats; hnswlib knn_query(num_threads=T)
  on the batch, ours HnswIndex::search on T contiguous slices of the batch on T threads. Recall@10 of each
  side and the CPU seconds are in the extra columns (ours_result / peer_result). The row that matters is
  the smallest ef at which both reach recall@10 >= 0.95.
Each side also reports its process CPU seconds (getrusage) beside the wall time (on a loaded machine CPU
time is what the work would take on idle cores), and its memory per vector as the growth of its resident
set over the build divided by the count (ours also counts its arrays). The random levels differ (hnswlib's
own generator), so the two graphs are not identical; recall is reported beside the time.
"""
import json
import os
import subprocess

import numpy as np

from run import Task, unit_vectors

VENV_PYTHON = os.path.join(os.environ.get("AIMASTERY_VENV", "/work/venv"), "bin", "python")
QUERY_THREADS = [1, 2]

PEER_SCRIPT = r'''
import json, os, resource, sys, time
import numpy as np, hnswlib
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
def resident():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
base, queries, truth, n, nq, dim, M, efc, repeat, build_threads, query_threads = sys.argv[1:12]
n, nq, dim, M, efc, repeat, build_threads = map(int, (n, nq, dim, M, efc, repeat, build_threads))
query_threads = [int(t) for t in query_threads.split(",")]
efs = [int(e) for e in sys.argv[12:]]
X = np.fromfile(base, dtype=np.float32).reshape(n, dim)
Q = np.fromfile(queries, dtype=np.float32).reshape(nq, dim)
T = np.fromfile(truth, dtype=np.int32).reshape(nq, 10)
labels_in = np.arange(n)
rss = resident()
index = hnswlib.Index(space="ip", dim=dim)
index.init_index(max_elements=n, M=M, ef_construction=efc, random_seed=100)
t0, c0 = time.perf_counter(), cpu()
index.add_items(X, labels_in, num_threads=build_threads)
build, build_cpu = time.perf_counter() - t0, cpu() - c0
rss_per_vector = (resident() - rss) / n
out = []
for ef in efs:
    index.set_ef(ef)
    for threads in query_threads:
        best, c0 = float("inf"), cpu()
        for _ in range(repeat):
            t0 = time.perf_counter()
            labels, _ = index.knn_query(Q, k=10, num_threads=threads)
            best = min(best, time.perf_counter() - t0)
        recall = float(np.mean([len(set(l) & set(t)) / 10 for l, t in zip(labels, T)]))
        out.append({"ef": ef, "threads": threads, "seconds": best, "cpu_seconds": (cpu() - c0) / repeat,
                    "recall": recall})
print(json.dumps({"seconds": build, "build_seconds": build, "build_cpu_seconds": build_cpu,
                  "rss_bytes_per_vector": rss_per_vector, "efs": out,
                  "hnswlib": getattr(hnswlib, "__version__", "0.8.0")}))
'''


def exact_top10(X, Q, block=100):
    """The indices of the 10 largest inner products of every query, best first (a GEMM per query block)."""
    out = np.empty((len(Q), 10), dtype=np.int32)
    for start in range(0, len(Q), block):
        scores = Q[start:start + block] @ X.T
        top = np.argpartition(-scores, 10, axis=1)[:, :10]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
        out[start:start + block] = np.take_along_axis(top, order, axis=1)
    return out


class Dataset:
    """One set of base and query vectors with its parameters; the files are written on first use."""

    def __init__(self, ctx, name, make, M, efc, efs, build_threads=(1, 2)):
        self.ctx, self.name, self.make = ctx, name, make
        self.M, self.efc, self.efs, self.build_threads = M, efc, efs, build_threads
        self.cache = {}

    def files(self):
        if "files" not in self.cache:
            X, Q = self.make()
            key = self.name.replace(" ", "_")
            paths = [self.ctx.path(f"hnsw_{key}_{part}") for part in ("base.f32", "queries.f32", "truth.i32")]
            for array, path in zip((X, Q, exact_top10(X, Q)), paths):
                array.tofile(path)
            self.cache["files"] = (paths, len(X), len(Q), X.shape[1])
        return self.cache["files"]

    def args(self, build_threads):
        paths, n, nq, dim = self.files()
        return [*paths, n, nq, dim, self.M, self.efc, self.ctx.repeat, build_threads,
                ",".join(map(str, QUERY_THREADS)), *self.efs]

    def ours(self, build_threads):
        key = f"ours_result_{build_threads}_threads"
        if key not in self.cache:
            self.cache[key] = self.ctx.ours("llm_hnsw", "run", *self.args(build_threads))
        return self.cache[key]

    def peer(self, build_threads):
        key = f"peer_result_{build_threads}_threads"
        if key not in self.cache:
            out = subprocess.run([VENV_PYTHON, "-c", PEER_SCRIPT, *map(str, self.args(build_threads))], check=True,
                                 capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
            self.cache[key] = json.loads(out.stdout.strip().splitlines()[-1])
        return self.cache[key]

    def tasks(self):
        shape = f"{self.name}, M={self.M}, ef_construction={self.efc}"
        extra = {"results": self.cache}  # both sides' JSON: bytes per vector, recall and time per ef and threads
        out = []
        for bt in self.build_threads:
            build = Task(f"HNSW build {shape} ({bt} thread{'s' if bt > 1 else ''})",
                         f"hnswlib add_items ({bt} thread{'s' if bt > 1 else ''})",
                         lambda bt=bt: self.ours(bt)["build_seconds"], lambda bt=bt: self.peer(bt)["build_seconds"],
                         note="inner product on normalised float32 vectors", extra=extra)
            out.append(build)
        # The searches run on the graph built on one thread.
        for i, ef in enumerate(self.efs):
            for j, qt in enumerate(QUERY_THREADS):
                at = i * len(QUERY_THREADS) + j
                out.append(Task(f"HNSW search k=10 ef={ef} ({shape}, {qt} thread{'s' if qt > 1 else ''})",
                                f"hnswlib knn_query ({qt} thread{'s' if qt > 1 else ''})",
                                lambda at=at: self.ours(1)["efs"][at]["seconds"],
                                lambda at=at: self.peer(1)["efs"][at]["seconds"],
                                note="recall@10 of each side in the extra columns; QPS = queries / seconds",
                                extra=extra))
        return out


def _minilm():
    folder = os.environ["AIMASTERY_HNSW_MINILM"]
    with open(os.path.join(folder, "embeddings.json")) as f:
        meta = json.load(f)
    d = meta["dimension"]
    X = np.fromfile(os.path.join(folder, "documents.f32"), dtype=np.float32).reshape(meta["documents"], d)
    Q = np.fromfile(os.path.join(folder, "queries.f32"), dtype=np.float32).reshape(meta["queries"], d)
    return X, Q


def tasks(ctx):
    sets = [Dataset(ctx, "20000x64", lambda: unit_vectors(20000, 1000, 64), 16, 200, [40, 160, 320])]
    if os.environ.get("AIMASTERY_HNSW_LARGE") == "1":
        sets.append(Dataset(ctx, "1000000x128", lambda: unit_vectors(1000000, 1000, 128), 16, 100,
                            [1024, 4096, 8192, 16384]))
    if os.environ.get("AIMASTERY_HNSW_MINILM"):
        sets.append(Dataset(ctx, "MiniLM docstrings 3000x384", _minilm, 16, 200, [10, 20, 40, 80]))
    return [task for s in sets for task in s.tasks()]
