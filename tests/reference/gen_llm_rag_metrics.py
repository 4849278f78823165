"""Retrieval metrics reference from pytrec_eval (PyPI `pytrec-eval-terrier`, trec_eval's C code).

    .venv/bin/python tests/reference/make_reference.py llm_rag_metrics

Writes, from a seeded random collection of judgments and rankings:
  tests/reference/data/llm_rag_metrics.qrels   TREC qrels: graded relevance -1..3, queries with no relevant
                                                document, queries absent from the run
  tests/reference/data/llm_rag_metrics.run     TREC run: scores with ties (ranked by trec_eval's rule:
                                                score descending, then document id descending), queries
                                                absent from the qrels, ranks written in a shuffled order
  tests/reference/data/llm_rag_metrics.json    pytrec_eval's per-query P_k, recall_k, ndcg_cut_k,
                                                recip_rank and map for k in CUTOFFS
The C++ test reads the two TREC files with its own readers and compares every measure.
"""
import os

import numpy as np
import pytrec_eval

from refjson import write

CUTOFFS = [1, 3, 5, 10, 20]


def collection(rng):
    docs = [f"D{i:03d}" for i in range(40)]
    qrels, run = {}, {}
    for q in range(40):
        qid = f"q{q}"
        if q % 13 != 12:  # some queries have no judgments at all
            judged = rng.choice(docs, size=int(rng.integers(1, 25)), replace=False)
            grades = rng.choice([-1, 0, 0, 1, 1, 2, 3], size=len(judged))
            if q % 7 == 3:
                grades[:] = 0  # judged, none relevant
            qrels[qid] = {str(d): int(g) for d, g in zip(judged, grades)}
        if q % 11 != 10:  # some judged queries are not in the run
            retrieved = rng.choice(docs, size=int(rng.integers(0, 30)), replace=False)
            scores = rng.normal(size=len(retrieved)) * 5
            if q % 3 == 0:
                scores = np.round(scores)  # many ties
            if len(retrieved):  # a query with no line in a run file is not in the run
                run[qid] = {str(d): float(s) for d, s in zip(retrieved, scores)}
    return qrels, run


def generate(out_dir):
    rng = np.random.default_rng(20261202)
    qrels, run = collection(rng)
    with open(os.path.join(out_dir, "llm_rag_metrics.qrels"), "w") as f:
        for q, judged in qrels.items():
            for d, g in judged.items():
                f.write(f"{q} 0 {d} {g}\n")
    with open(os.path.join(out_dir, "llm_rag_metrics.run"), "w") as f:
        for q, scores in run.items():
            items = list(scores.items())
            order = rng.permutation(len(items))  # the file's order and rank column mean nothing to trec_eval
            for rank, i in enumerate(order):
                d, s = items[i]
                f.write(f"{q}\tQ0\t{d}\t{rank + 1}\t{s!r}\trandom\n")
    measures = {f"{m}.{','.join(map(str, CUTOFFS))}" for m in ("P", "recall", "ndcg_cut")} | {"recip_rank", "map"}
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, measures)
    per_query = evaluator.evaluate(run)
    write(out_dir, "llm_rag_metrics.json", {
        "cutoffs": CUTOFFS,
        "per_query": per_query,
        "pytrec_eval": "pytrec-eval-terrier",
    })


if __name__ == "__main__":
    generate(os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
