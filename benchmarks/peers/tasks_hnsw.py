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
- "HNSW search ... on hnswlib's graph": the graph hnswlib built on one thread, written in HnswIndex's file
  format (levels, lists, entry point and vectors copied; `hnswlib_to_ours`) and searched by ours, against
  hnswlib's search of the same graph: the two search loops on identical work, without the difference
  two random graphs make. Sets up to 100,000 vectors (the conversion hashes the file in Python).
Each side also reports its process CPU seconds (getrusage) beside the wall time (on a loaded machine CPU
time is what the work would take on idle cores), and its memory per vector as the growth of its resident
set over the build divided by the count (ours also counts its arrays). The random levels differ (hnswlib's
own generator), so the two graphs are not identical; recall is reported beside the time.
"""
import json
import os
import struct
import subprocess
import sys

import numpy as np

from run import Task, unit_vectors

VENV_PYTHON = sys.executable  # run.py runs in the peers' PyPI venv (it re-executes itself there)
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
if os.environ.get("HNSW_SAVE"):
    index.save_index(os.environ["HNSW_SAVE"])
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


def hnswlib_to_ours(peer_path, out_path, dim, ef):
    """Writes the index hnswlib saved at peer_path in HnswIndex's file format (see hnsw_index.hpp).

    hnswlib's file (hnswalg.h, saveIndex): a header of offsetLevel0, max_elements, cur_element_count,
    size_data_per_element, label_offset, offsetData (u64), maxlevel, enterpoint_node (i32), maxM, maxM0, M
    (u64), mult (f64), ef_construction (u64); then every element's layer-0 record (u32 list size in the
    low 16 bits, maxM0 ids, the vector, the u64 label); then per element a u32 byte count and its upper
    lists, each a u32 size and maxM ids. Elements are kept in hnswlib's internal order, which is the
    label order because the task inserts labels 0 ... n - 1 (checked).
    """
    raw = np.fromfile(peer_path, dtype=np.uint8)
    head = struct.Struct("<QQQQQQiiQQQdQ")
    (_, _, n, size, label_at, data_at, top, entry, max_m, max_m0, m, _, efc) = head.unpack_from(raw, 0)
    records = raw[head.size:head.size + n * size].reshape(n, size)
    labels = records[:, label_at:label_at + 8].copy().view(np.uint64).ravel()
    if not np.array_equal(labels, np.arange(n, dtype=np.uint64)):
        raise ValueError(f"{peer_path}: labels are not 0 ... n - 1 in insertion order")
    layer0 = records[:, :4 * (1 + max_m0)].copy().view(np.uint32)
    degree = layer0[:, 0] & 0xFFFF
    levels, uppers, at = np.zeros(n, dtype=np.uint8), [], head.size + n * size
    for i in range(n):
        nbytes = int(np.frombuffer(raw[at:at + 4].tobytes(), dtype=np.uint32)[0])
        lists = raw[at + 4:at + 4 + nbytes].copy().view(np.uint32).reshape(-1, 1 + max_m) if nbytes else None
        levels[i] = 0 if lists is None else len(lists)
        uppers.append(lists)
        at += 4 + nbytes
    out = bytearray(b"AIMHNSW\0") + struct.pack("<II", 1, 4)
    out += struct.pack("<7Q", dim, m, efc, ef, 100, n, n) + struct.pack("<qq", entry, top)
    out += np.stack([np.zeros(n, dtype=np.uint8), levels], axis=1).tobytes()
    out += records[:, data_at:data_at + 4 * dim].tobytes()
    for i in range(n):  # each list as its length, then its ids
        out += struct.pack("<I", degree[i]) + layer0[i, 1:1 + degree[i]].tobytes()
        for row in uppers[i] if uppers[i] is not None else []:
            out += struct.pack("<I", row[0] & 0xFFFF) + row[1:1 + (row[0] & 0xFFFF)].tobytes()
    digest = 14695981039346656037
    for byte in bytes(out):  # FNV-1a 64
        digest = ((digest ^ byte) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    out += struct.pack("<Q", digest)
    with open(out_path, "wb") as f:
        f.write(out)


class Dataset:
    """One set of base and query vectors with its parameters; the files are written on first use."""

    def __init__(self, ctx, name, make, M, efc, efs, build_threads=(1, 2), same_graph=True):
        self.ctx, self.name, self.make = ctx, name, make
        self.M, self.efc, self.efs, self.build_threads = M, efc, efs, build_threads
        self.same_graph = same_graph
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
            env = dict(os.environ, OMP_NUM_THREADS="1")
            if build_threads == 1:
                env["HNSW_SAVE"] = self.peer_graph()
            out = subprocess.run([VENV_PYTHON, "-c", PEER_SCRIPT, *map(str, self.args(build_threads))], check=True,
                                 capture_output=True, text=True, env=env)
            self.cache[key] = json.loads(out.stdout.strip().splitlines()[-1])
        return self.cache[key]

    def peer_graph(self):
        return self.ctx.path(f"hnsw_{self.name.replace(' ', '_')}_hnswlib.bin")

    def ours_on_peer_graph(self):
        """Ours searching the graph hnswlib built on one thread (converted to HnswIndex's format)."""
        key = "ours_on_hnswlib_graph"
        if key not in self.cache:
            self.peer(1)  # builds and saves hnswlib's graph
            paths, n, nq, dim = self.files()
            ours_graph = self.ctx.path(f"hnsw_{self.name.replace(' ', '_')}_hnswlib_graph.hnsw")
            hnswlib_to_ours(self.peer_graph(), ours_graph, dim, self.efs[0])
            self.cache[key] = self.ctx.ours("llm_hnsw", "search", ours_graph, paths[1], paths[2], nq, dim,
                                            self.ctx.repeat, ",".join(map(str, QUERY_THREADS)), *self.efs)
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
        if self.same_graph:
            for i, ef in enumerate(self.efs):
                for j, qt in enumerate(QUERY_THREADS):
                    at = i * len(QUERY_THREADS) + j
                    threads = f"{qt} thread{'s' if qt > 1 else ''}"
                    out.append(Task(f"HNSW search k=10 ef={ef} on hnswlib's graph ({shape}, {threads})",
                                    f"hnswlib knn_query, same graph ({threads})",
                                    lambda at=at: self.ours_on_peer_graph()["efs"][at]["seconds"],
                                    lambda at=at: self.peer(1)["efs"][at]["seconds"],
                                    note="one graph (hnswlib's), both search loops", extra=extra))
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
                            [1024, 4096, 8192, 16384], same_graph=False))
    if os.environ.get("AIMASTERY_HNSW_MINILM"):
        sets.append(Dataset(ctx, "MiniLM docstrings 3000x384", _minilm, 16, 200, [10, 20, 40, 80]))
    return [task for s in sets for task in s.tasks()]
