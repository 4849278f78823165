"""BM25 reference from bm25s (PyPI `bm25s`, method="lucene", float64) on a small real corpus.

    .venv/bin/python tests/reference/make_reference.py llm_rag_bm25

The corpus is the first paragraph of the docstrings of 60 Python standard-library modules (real English
technical prose; the texts are stored in the JSON, so the C++ test does not depend on the Python version)
plus a few Unicode texts. Tokens follow LexicalTokenizer's stated rule (ASCII lower-cased, split at
everything but ASCII letters, digits and bytes >= 0x80; optional Lucene English stop words), written here
in Python and fed to bm25s pre-tokenised, so that the comparison is of the scoring alone; the C++ test
also checks that its tokenizer gives the same tokens. For three (k1, b, stop words) settings it writes
every query's score of every document (bm25s get_scores) and bm25s' top 5.
Writes tests/reference/data/llm_rag_bm25.json.
"""
import importlib
import os
import re

import bm25s
import numpy as np
from bm25s.stopwords import STOPWORDS_EN

from refjson import write

MODULES = [
    "abc", "argparse", "array", "ast", "asyncio", "base64", "bisect", "bz2", "calendar", "cmath", "codecs",
    "collections", "colorsys", "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal", "difflib",
    "enum", "fnmatch", "fractions", "functools", "getopt", "glob", "gzip", "hashlib", "heapq", "hmac", "html",
    "inspect", "io", "ipaddress", "itertools", "json", "logging", "lzma", "math", "mimetypes", "operator",
    "os", "pathlib", "pickle", "pprint", "queue", "random", "re", "sched", "secrets", "shelve", "shutil",
    "socket", "statistics", "string", "struct", "tempfile", "textwrap", "threading", "zipfile",
]

EXTRA = [
    "Crème brûlée and CAFÉ au lait: naïve résumé of the café's menu.",
    "中文分词测试：我爱北京天安门。BM25 works on any UTF-8 bytes.",
    "The the THE the: a document made of stop words, and it is to be ignored.",
    "",
]

QUERIES = [
    "json encoder and decoder",
    "regular expression matching operations",
    "heap queue algorithm priority queue",
    "compress decompress gzip bz2 lzma files",
    "random number generators for secrets and tokens",
    "the date and the time",
    "thread synchronisation primitives threading",
    "parse command line options arguments",
    "operating system interfaces path",
    "binary search bisection algorithm sorted list",
    "hash hash hash message digest",
    "café résumé",
    "北京天安门。BM25",
    "decimal fixed point and floating point arithmetic",
    "no term of this query occurs zzzyx",
    "abstract base classes",
    "sockets network interface",
    "temporary files and directories",
    "pretty printer of data structures",
    "a is the to of",
]

SETTINGS = [
    {"k1": 1.5, "b": 0.75, "stopwords": False},
    {"k1": 1.2, "b": 0.3, "stopwords": True},
    {"k1": 0.9, "b": 1.0, "stopwords": False},
]


def tokenize(text, stopwords):
    tokens = [t.lower().decode("utf-8", "surrogateescape") for t in re.findall(rb"[A-Za-z0-9\x80-\xff]+",
                                                                               text.encode("utf-8"))]
    if stopwords:
        tokens = [t for t in tokens if t not in STOPWORDS_EN]
    return tokens


def corpus():
    texts = []
    for name in MODULES:
        doc = importlib.import_module(name).__doc__ or ""
        paragraph = doc.strip().split("\n\n")[0]
        texts.append(" ".join(paragraph.split()))
    return texts + EXTRA


def generate(out_dir):
    texts = corpus()
    settings = []
    for s in SETTINGS:
        docs = [tokenize(t, s["stopwords"]) for t in texts]
        model = bm25s.BM25(method="lucene", k1=s["k1"], b=s["b"], dtype="float64")
        model.index(docs, show_progress=False)
        queries = []
        for q in QUERIES:
            tokens = tokenize(q, s["stopwords"])
            scores = model.get_scores(tokens) if tokens else np.zeros(len(texts))
            order = np.argsort(-scores, kind="stable")[:5]
            queries.append({"text": q, "tokens": tokens, "scores": scores, "top5": order,
                            "top5_scores": scores[order]})
        settings.append({**s, "doc_tokens": docs, "queries": queries})
    write(out_dir, "llm_rag_bm25.json", {"corpus": texts, "settings": settings,
                                         "bm25s_version": bm25s.__version__})


if __name__ == "__main__":
    generate(os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
