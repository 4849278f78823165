#!/usr/bin/env python3
"""Builds a labelled retrieval set from the docstrings of installed Python libraries.

For every function, class and method with a docstring in the libraries' source files (read with `ast`, no
import; test folders and private names left out), the one-line summary (the docstring's first paragraph)
becomes a query and the rest of the docstring (the body, summary removed) the one relevant document.
Kept: summaries of 3-40 words, bodies of at least 20 words; a summary or body that occurs twice (inherited
or copied docstrings) drops every copy, so each query has exactly one relevant document, and no document
can be found by an identical twin. The documents are shuffled and cut to --max-documents with a fixed seed.

Writes into OUT:
  corpus/<package>/<module path>/<qualified name>.txt   one document per file (what `aimastery rag index` reads)
  queries.tsv     "id<TAB>summary" per line
  qrels.txt       TREC qrels: "id 0 corpus/<...>.txt 1" (the document named by its path as indexed)
  corpus.jsonl    {"id", "source", "query", "text"} per document, for the Python peers
  manifest.json   the packages and versions, counts, and the rules above

  python benchmarks/rag/build_docstring_corpus.py --out build/rag_docstrings --packages sklearn scipy
"""
import argparse
import ast
import hashlib
import importlib.metadata
import json
import os
import random
import re
import shutil
import sys
from pathlib import Path

DISTRIBUTIONS = {"sklearn": "scikit-learn", "scipy": "scipy", "numpy": "numpy", "pandas": "pandas"}


def package_root(name):
    import importlib.util
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"package {name} is not installed in {sys.executable}")
    return Path(list(spec.submodule_search_locations)[0])


def split_docstring(doc):
    """(summary, body): the first paragraph joined on one line, and the rest, stripped."""
    doc = doc.strip()
    parts = re.split(r"\n\s*\n", doc, maxsplit=1)
    summary = " ".join(parts[0].split())
    body = parts[1].strip() if len(parts) > 1 else ""
    return summary, body


def walk(package):
    root = package_root(package)
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent)
        if any(p in ("tests", "test", "testing", "_vendor", "externals", "_lib") for p in rel.parts[:-1]):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        module = ".".join(rel.with_suffix("").parts)

        def visit(node, prefix):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    if child.name.startswith("_"):
                        continue
                    name = prefix + child.name
                    doc = ast.get_docstring(child, clean=True)
                    if doc:
                        yield module, name, doc
                    if isinstance(child, ast.ClassDef):
                        yield from visit(child, name + ".")

        yield from visit(tree, "")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--packages", nargs="+", default=["sklearn", "scipy"])
    ap.add_argument("--max-documents", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()

    entries = []
    for package in args.packages:
        for module, name, doc in walk(package):
            summary, body = split_docstring(doc)
            if not 3 <= len(summary.split()) <= 40 or len(body.split()) < 20:
                continue
            if "\t" in summary or "\n" in summary:
                continue
            entries.append((module, name, summary, body))
    count = {}
    for _, _, s, b in entries:
        count[("s", s.lower())] = count.get(("s", s.lower()), 0) + 1
        count[("b", b)] = count.get(("b", b), 0) + 1
    unique = [e for e in entries if count[("s", e[2].lower())] == 1 and count[("b", e[3])] == 1]
    random.Random(args.seed).shuffle(unique)
    chosen = sorted(unique[: args.max_documents])

    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    (out / "corpus").mkdir(parents=True)
    with open(out / "queries.tsv", "w") as q, open(out / "qrels.txt", "w") as r, \
            open(out / "corpus.jsonl", "w") as j:
        for i, (module, name, summary, body) in enumerate(chosen):
            qid = f"q{i:05d}"
            source = Path("corpus", *module.split(".")) / f"{name}.txt"
            (out / source).parent.mkdir(parents=True, exist_ok=True)
            (out / source).write_text(body + "\n", encoding="utf-8")
            q.write(f"{qid}\t{summary}\n")
            r.write(f"{qid} 0 {source} 1\n")
            j.write(json.dumps({"id": qid, "source": str(source), "query": summary, "text": body + "\n"}) + "\n")
    manifest = {
        "packages": {p: importlib.metadata.version(DISTRIBUTIONS.get(p, p)) for p in args.packages},
        "python": sys.version.split()[0],
        "candidates": len(entries),
        "unique": len(unique),
        "documents": len(chosen),
        "seed": args.seed,
        "corpus_sha256": hashlib.sha256((out / "corpus.jsonl").read_bytes()).hexdigest(),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()
