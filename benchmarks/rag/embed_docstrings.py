#!/usr/bin/env python3
"""Embeds the docstring set once with MiniLM (sentence-transformers) for the HNSW benchmark.

Reads DATA/corpus.jsonl (written by build_docstring_corpus.py) and writes into OUT:
  documents.f32   n × 384 float32, row-major: the unit-norm embedding of every document's text
  queries.f32     n × 384 float32: the unit-norm embedding of every document's one-line summary
  embeddings.json {"documents", "queries", "dimension", "model", "sentence-transformers", "torch"}
benchmarks/peers/tasks_hnsw.py reads them from $AIMASTERY_HNSW_MINILM (this OUT), so that HnswIndex and
hnswlib search the same vectors.

  python benchmarks/rag/build_docstring_corpus.py --out /work/scratch/docstrings \
      --packages sklearn scipy numpy pandas --max-documents 3000
  python benchmarks/rag/embed_docstrings.py --data /work/scratch/docstrings \
      --model-dir /work/models/all-MiniLM-L6-v2 --out /work/scratch/docstrings_minilm
"""
import argparse
import importlib.metadata as md
import json
from pathlib import Path

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="the folder written by build_docstring_corpus.py")
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer
    torch.set_num_threads(args.threads)
    docs = [json.loads(line) for line in open(Path(args.data) / "corpus.jsonl", encoding="utf-8")]
    model = SentenceTransformer(args.model_dir, device="cpu")
    E = model.encode([d["text"] for d in docs], batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    Q = model.encode([d["query"] for d in docs], batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    E.astype(np.float32).tofile(out / "documents.f32")
    Q.astype(np.float32).tofile(out / "queries.f32")
    (out / "embeddings.json").write_text(json.dumps({
        "documents": int(E.shape[0]), "queries": int(Q.shape[0]), "dimension": int(E.shape[1]),
        "model": Path(args.model_dir).name, "sentence-transformers": md.version("sentence-transformers"),
        "torch": md.version("torch")}, indent=1))


if __name__ == "__main__":
    main()
