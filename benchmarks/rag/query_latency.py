#!/usr/bin/env python3
"""End-to-end latency of `aimastery rag query` on the docstring set (evaluate_docstrings.py's index).

Two figures per mode (bm25, dense, hybrid; dense and hybrid by exact search and through the HNSW graph):
  in process   `rag query --queries FILE`: the index is loaded once, then every question goes through the
               whole pipeline (embed the question, retrieve, assemble the context, extractive answer); the
               pipeline's own total per question (timings_ms.total), p50 and p99 over --queries questions.
  one process  `rag query "question"` run as a new process per question, wall time from exec to exit
               (loading the index and, for MiniLM, the model and its hash included), p50 and p99 over
               --processes questions.
Every run uses one thread (OMP_NUM_THREADS=1), one run at a time.

  python benchmarks/rag/query_latency.py --data build/rag_docstrings --index build/rag_eval/index_minilm \\
      --cli build/release/examples/aimastery
"""
import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np


def percentiles(values):
    v = np.asarray(values, dtype=float)
    return {"p50": float(np.percentile(v, 50)), "p99": float(np.percentile(v, 99)), "n": int(v.size)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--index", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--processes", type=int, default=30)
    ap.add_argument("--out", default=None, help="write the results here as JSON")
    args = ap.parse_args()

    env = dict(os.environ, OMP_NUM_THREADS="1")
    lines = Path(args.data, "queries.tsv").read_text().splitlines()
    cli, index = str(Path(args.cli).resolve()), str(Path(args.index).resolve())
    modes = {"bm25": ["--mode", "bm25"],
             "dense (exact)": ["--mode", "dense", "--exact"],
             "dense (HNSW)": ["--mode", "dense"],
             "hybrid (exact dense)": ["--mode", "hybrid", "--exact"],
             "hybrid (HNSW)": ["--mode", "hybrid"]}
    results = {}
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
        f.write("\n".join(lines[: args.queries]) + "\n")
        batch = f.name
    for name, flags in modes.items():
        out = subprocess.run([cli, "rag", "query", "--index", index, "--queries", batch, "--k", "5", *flags],
                             check=True, capture_output=True, text=True, env=env)
        totals = [json.loads(line)["timings_ms"]["total"] for line in out.stdout.splitlines()]
        walls = []
        for line in lines[: args.processes]:
            question = line.split("\t", 1)[1]
            t0 = time.perf_counter()
            subprocess.run([cli, "rag", "query", "--index", index, "--k", "5", *flags, question], check=True,
                           stdout=subprocess.DEVNULL, env=env)
            walls.append(1000 * (time.perf_counter() - t0))
        results[name] = {"in_process_ms": percentiles(totals), "one_process_ms": percentiles(walls)}
        print(name, json.dumps(results[name]), flush=True)
    os.unlink(batch)
    load = os.getloadavg()
    results["load_average"] = load
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print("| mode | in process p50 / p99 (ms) | new process p50 / p99 (ms) |")
    print("|---|---|---|")
    for name in modes:
        a, b = results[name]["in_process_ms"], results[name]["one_process_ms"]
        print(f"| {name} | {a['p50']:.2f} / {a['p99']:.2f} | {b['p50']:.0f} / {b['p99']:.0f} |")


if __name__ == "__main__":
    main()
