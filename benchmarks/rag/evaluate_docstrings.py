#!/usr/bin/env python3
"""Retrieval quality on the docstring set (build_docstring_corpus.py): ours beside bm25s and
sentence-transformers' exact search, the same queries, the same qrels, all scored by pytrec_eval.

Ours, through the command-line tool (one index, built with `--embedder minilm`, holds BM25 and the MiniLM
vectors; one chunk per document):
  bm25            `rag eval --mode bm25`               (k1 = 1.5, b = 0.75, Lucene idf, no stop words)
  dense (hnsw)    `rag eval --mode dense`              (HNSW, M = 16, ef_construction = 200, ef = 64)
  dense (exact)   `rag eval --mode dense --exact`
  hybrid          `rag eval --mode hybrid --exact`     (reciprocal rank fusion, k = 60, lists of depth 50)
  hybrid + MMR    `rag eval --mode hybrid --exact --mmr LAMBDA`
Peers, in this process:
  bm25s           method="lucene", the same k1 and b, fed our tokens: [t.lower() for t in
                  re.findall(rb"[A-Za-z0-9\\x80-\\xff]+", text)] (llm/rag/lexical_tokenizer.hpp)
  exact search    sentence-transformers, all-MiniLM-L6-v2 from the same folder, normalised embeddings,
                  every query against every document (one product), top 10
Scores: recall@10, MRR@10 (recip_rank of a run cut at 10) and nDCG@10, means over the queries.
Timings: wall seconds (timings_s) and CPU seconds, user + system of every thread (cpu_s: getrusage of the
child for ours, of this process for the peers), with the load average at the start and the end (load_average).

  python benchmarks/rag/evaluate_docstrings.py --data build/rag_docstrings \\
      --cli build/release/examples/aimastery --model-dir /work/models/all-MiniLM-L6-v2 --out build/rag_eval
"""
import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def tokenize(text):
    return [t.lower().decode("utf-8", "surrogateescape") for t in re.findall(rb"[A-Za-z0-9\x80-\xff]+",
                                                                               text.encode("utf-8"))]


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def write_run(path, run, tag):
    with open(path, "w") as f:
        for qid in sorted(run):
            ranked = sorted(run[qid].items(), key=lambda x: (-x[1], x[0]))
            for rank, (doc, score) in enumerate(ranked, 1):
                f.write(f"{qid} Q0 {doc} {rank} {score!r} {tag}\n")


def read_run(path):
    run = {}
    with open(path) as f:
        for line in f:
            q, _, d, _, s, _ = line.split()
            run.setdefault(q, {})[d] = float(s)
    return run


def top_k_run(scores, qids, sources, k):
    run = {}
    for i, qid in enumerate(qids):
        row = scores[i]
        top = np.argpartition(-row, k)[:k] if row.size > k else np.arange(row.size)
        run[qid] = {sources[j]: float(row[j]) for j in top}
    return run


def score(qrels, run):
    import pytrec_eval
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"recall.10", "recip_rank", "ndcg_cut.10"})
    per_query = evaluator.evaluate(run)
    n = len(qrels)  # a query missing from the run counts as 0
    total = {m: sum(per_query.get(q, {}).get(key, 0.0) for q in qrels) / n
             for m, key in (("recall@10", "recall_10"), ("MRR@10", "recip_rank"), ("nDCG@10", "ndcg_cut_10"))}
    return total


def cpu_seconds(who):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_cli(cli, args, cwd, env):
    """Wall and CPU seconds of one run of the command-line tool."""
    started, cpu = time.perf_counter(), cpu_seconds(resource.RUSAGE_CHILDREN)
    subprocess.run([cli, *args], cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, cpu_seconds(resource.RUSAGE_CHILDREN) - cpu


class Timed:
    """Wall and CPU seconds of a block of this process, into report["timings_s"] and report["cpu_s"]."""

    def __init__(self, report, name):
        self.report, self.name = report, name

    def __enter__(self):
        self.started, self.cpu = time.perf_counter(), cpu_seconds(resource.RUSAGE_SELF)

    def __exit__(self, *exc):
        self.report["timings_s"][self.name] = time.perf_counter() - self.started
        self.report["cpu_s"][self.name] = cpu_seconds(resource.RUSAGE_SELF) - self.cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="the folder written by build_docstring_corpus.py")
    ap.add_argument("--cli", required=True, help="the aimastery executable (release build)")
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--mmr", type=float, default=0.7)
    ap.add_argument("--threads", type=int, default=2, help="threads for embedding the documents (both sides)")
    ap.add_argument("--reuse-index", action="store_true", help="keep an index built by an earlier run")
    args = ap.parse_args()

    data = Path(args.data).resolve()
    out = Path(args.out).resolve()
    (out / "runs").mkdir(parents=True, exist_ok=True)
    cli = str(Path(args.cli).resolve())
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    one_thread = dict(os.environ, OMP_NUM_THREADS="1")  # queries are embedded one at a time
    docs = read_jsonl(data / "corpus.jsonl")
    qids = [d["id"] for d in docs]
    queries = [d["query"] for d in docs]
    sources = [d["source"] for d in docs]
    texts = [d["text"] for d in docs]
    qrels = {d["id"]: {d["source"]: 1} for d in docs}
    report = {"documents": len(docs), "queries": len(queries), "threads": args.threads, "timings_s": {}, "cpu_s": {},
              "load_average": {"start": os.getloadavg()}}

    def timed_cli(name, cli_args, cwd, cli_env):
        report["timings_s"][name], report["cpu_s"][name] = run_cli(cli, cli_args, cwd, cli_env)

    # ---- ours
    index = out / "index_minilm"
    if not (args.reuse_index and (index / "manifest.json").exists()):
        timed_cli("ours: rag index (BM25 + MiniLM embeddings + HNSW)", ["rag", "index", "--input", "corpus", "--out", str(index), "--embedder", "minilm", "--model-dir",
                  args.model_dir, "--chunk-size", "1000000", "--overlap", "0"], data, env)
    ours = {
        "ours BM25": ["--mode", "bm25"],
        "ours dense (HNSW, ef 64)": ["--mode", "dense"],
        "ours dense (exact)": ["--mode", "dense", "--exact"],
        "ours hybrid (RRF)": ["--mode", "hybrid", "--exact"],
        f"ours hybrid + MMR (λ = {args.mmr})": ["--mode", "hybrid", "--exact", "--mmr", str(args.mmr)],
    }
    runs = {}
    for name, flags in ours.items():
        path = out / "runs" / (re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") + ".txt")
        timed_cli(f"{name}: rag eval, {len(queries)} queries", ["rag", "eval", "--index", str(index), "--queries", "queries.tsv", "--qrels", "qrels.txt", "--k",
                  "10", "--run", str(path), *flags], data, one_thread)
        runs[name] = read_run(path)

    # ---- bm25s, our tokens
    import bm25s
    with Timed(report, "bm25s: index and score every query"):
        model = bm25s.BM25(method="lucene", k1=1.5, b=0.75, dtype="float64")
        model.index([tokenize(t) for t in texts], show_progress=False)
        bm25_scores = np.stack([model.get_scores(tokenize(q)) for q in queries])
    runs["bm25s (lucene)"] = top_k_run(bm25_scores, qids, sources, 10)

    # ---- sentence-transformers exact search
    import torch
    from sentence_transformers import SentenceTransformer
    torch.set_num_threads(args.threads)
    st = SentenceTransformer(args.model_dir, device="cpu")
    with Timed(report, "sentence-transformers: encode the documents"):
        E = st.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    Q = st.encode(queries, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    dense_scores = Q @ E.T
    runs["sentence-transformers exact"] = top_k_run(dense_scores, qids, sources, 10)
    report["st_max_seq_length"] = st.max_seq_length

    for name, run in runs.items():
        write_run(out / "runs" / (re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") + ".txt"), run, "x")
    report["metrics"] = {name: score(qrels, run) for name, run in runs.items()}

    # ---- agreement: our scores against the peer's, on the documents ours ranked (dense and BM25)
    column = {s: j for j, s in enumerate(sources)}

    def agreement(ours, peer, peer_scores):
        """Largest score difference on the documents ours ranked, and the queries with the same top 10."""
        diffs, same_top10 = [], 0
        for i, qid in enumerate(qids):
            ours_run = runs[ours].get(qid, {})
            for doc, s in ours_run.items():
                diffs.append(abs(s - float(peer_scores[i, column[doc]])))
            same_top10 += set(ours_run) == set(runs[peer][qid])
        return {"max_abs_score_difference": max(diffs), "queries_with_same_top10": same_top10}

    report["dense_agreement"] = agreement("ours dense (exact)", "sentence-transformers exact", dense_scores)
    report["bm25_agreement"] = agreement("ours BM25", "bm25s (lucene)", bm25_scores)
    import importlib.metadata as md
    report["versions"] = {p: md.version(p) for p in ("bm25s", "sentence-transformers", "torch", "pytrec_eval-terrier",
                                                     "numpy")} | {"python": sys.version.split()[0]}

    report["load_average"]["end"] = os.getloadavg()
    (out / "results.json").write_text(json.dumps(report, indent=1) + "\n")
    print("| retriever | recall@10 | MRR@10 | nDCG@10 |")
    print("|---|---|---|---|")
    for name, m in report["metrics"].items():
        print(f"| {name} | {m['recall@10']:.4f} | {m['MRR@10']:.4f} | {m['nDCG@10']:.4f} |")
    print(json.dumps({k: report[k] for k in ("dense_agreement", "bm25_agreement", "timings_s", "cpu_s", "load_average")},
                     indent=1))


if __name__ == "__main__":
    main()
