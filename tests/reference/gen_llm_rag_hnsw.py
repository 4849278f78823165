"""HNSW references (tests/llm/rag_hnsw):

    .venv/bin/python tests/reference/make_reference.py llm_rag_hnsw

hnswlib (PyPI) on seeded random vectors drawn by the library's engine (aimastery_random.py, so only the
seeds are stored and the C++ test draws the same vectors): 5,000 base vectors and 200 queries of dimension
32, normalised, inner-product space. The graph is built with one thread (add_items(num_threads=1)) with
M = 16 and ef_construction = 200; for every ef of EFS, hnswlib's recall@10 against exact search (NumPy,
ties to the smaller id) is written. The graphs of hnswlib and aimastery differ by their random levels, so
the test compares recall, not ids. Writes tests/reference/data/llm_rag_hnsw.json.
"""
import os

import hnswlib
import numpy as np

from aimastery_random import standard_normal_matrix
from refjson import write

SEEDS = [20261211, 20261212]
ROWS, QUERIES, DIMENSION, K = 5000, 200, 32, 10
M, EF_CONSTRUCTION, RANDOM_SEED = 16, 200, 100
EFS = [10, 20, 40, 80, 160]


def normalised(X):
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def recall(found, exact):
    return float(np.mean([len(set(f) & set(e)) / len(e) for f, e in zip(found, exact)]))


def generate(out_dir):
    X = normalised(standard_normal_matrix(SEEDS[0], ROWS, DIMENSION)).astype(np.float32)
    Q = normalised(standard_normal_matrix(SEEDS[1], QUERIES, DIMENSION)).astype(np.float32)
    S = Q @ X.T
    exact = np.argsort(-S, axis=1, kind="stable")[:, :K]
    index = hnswlib.Index(space="ip", dim=DIMENSION)
    index.init_index(max_elements=ROWS, M=M, ef_construction=EF_CONSTRUCTION, random_seed=RANDOM_SEED)
    index.add_items(X, np.arange(ROWS), num_threads=1)
    recalls = []
    for ef in EFS:
        index.set_ef(ef)
        labels, _ = index.knn_query(Q, k=K, num_threads=1)
        recalls.append(recall(labels, exact))
        print(f"  ef {ef}: hnswlib recall@{K} = {recalls[-1]:.4f}")
    write(out_dir, "llm_rag_hnsw.json", {
        "seeds": SEEDS, "rows": ROWS, "queries": QUERIES, "dimension": DIMENSION, "k": K,
        "M": M, "ef_construction": EF_CONSTRUCTION, "efs": EFS, "hnswlib_recall": recalls,
        "exact_top10": exact, "hnswlib_version": getattr(hnswlib, "__version__", "unknown"),
    })


if __name__ == "__main__":
    generate(os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
