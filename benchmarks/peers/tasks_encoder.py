"""all-MiniLM-L6-v2 against sentence-transformers on PyTorch (PyPI CPU wheel), and the WordPiece tokenizer against
Hugging Face `tokenizers` (Rust), same sentences, same run.

- "MiniLM encode 2000 sentences": model.encode(texts, batch_size=32) on 2,000 sentences of mixed length
  (4 to 150 words drawn from a fixed word list with a seeded generator: identical text on both sides);
  float32; wall time of the whole call, best of the repeats, after a warm-up call. 1 and 2 threads:
  OMP_NUM_THREADS for aimastery (batches run in parallel on the one read-only model, packed without padding),
  torch.set_num_threads for PyTorch. Peak resident memory of each process is reported in the extra columns.
- "WordPiece tokenize 2000 sentences": [CLS] … [SEP] ids with truncation to 256 for every sentence, one
  sentence a call: our encode_into in a loop (1 thread) against tokenizers' Tokenizer.encode in a Python loop
  (1 thread: RAYON_NUM_THREADS=1; includes the Python call overhead, the way a user calls it) and, as a
  second peer row, tokenizers' encode_batch over all sentences (Rust loop, RAYON_NUM_THREADS=1 and 2).

The peer runs in the PyPI venv (the one run.py runs in: $AIMASTERY_VENV or .venv, made by tools/python/make_venv.sh). The
model folder is AIMASTERY_MINILM_DIR, else <build dir>/models/all-MiniLM-L6-v2, fetched with
tools/fetch_minilm.sh when missing.
"""
import json
import os
import random
import subprocess
import sys

from run import ROOT, Task

VENV_PYTHON = sys.executable  # run.py runs in the peers' PyPI venv (it re-executes itself there)

PEER_SCRIPT = r'''
import json, resource, sys, time
task, threads, repeat, model_dir, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
texts = open(path, encoding="utf-8").read().split("\n")[:-1]
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
best = float("inf")
if task == "encode":
    import torch
    torch.set_num_threads(threads)
    from sentence_transformers import SentenceTransformer
    model = SentenceTransformer(model_dir, device="cpu")
    model.encode(texts[:64], batch_size=32)
    cpu0 = cpu()
    for _ in range(repeat):
        t0 = time.perf_counter()
        E = model.encode(texts, batch_size=32, convert_to_numpy=True)
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({"seconds": best, "cpu_seconds_per_run": (cpu() - cpu0) / repeat, "peak_rss_mb": peak(),
                      "checksum": float(E.sum()),
                      "torch": torch.__version__}))
else:
    from tokenizers import Tokenizer
    import tokenizers
    tok = Tokenizer.from_file(model_dir + "/tokenizer.json")
    tok.no_padding()
    tok.enable_truncation(256)
    cpu0 = cpu()
    for _ in range(repeat):
        t0 = time.perf_counter()
        if task == "tokenize_single":
            n = sum(len(tok.encode(t).ids) for t in texts)
        else:
            n = sum(len(e.ids) for e in tok.encode_batch(texts))
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({"seconds": best, "cpu_seconds_per_run": (cpu() - cpu0) / repeat, "tokens": n,
                      "tokenizers": tokenizers.__version__}))
'''

WORDS = ("the of and to in is was for on that with as by at from his her it an were are which this be or has had not "
         "but their they one new first also after two who its been more other into time years when there may some "
         "would most people city world school during these over such three many government system between state "
         "university music against under well later high year since known while because both american where film "
         "national team company found early war being life before including used series called about village "
         "number part john history game season same second group area north following county public each century "
         "members until without south four well based station within played only still population album house "
         "language model attention transformer embedding retrieval gradient network learning training data "
         "sentence encoder tokenizer vocabulary optimisation matrix vector probability distribution estimate "
         "café naïve résumé zürich españa коммуникация 東京 数据 서울 emoji 😀 c++ e-mail 3.14 2026 "
         "don't can't it's u.s. co-operate state-of-the-art").split()


def sentences(n=2000, seed=2026):
    """n sentences of 4 to 150 words (log-uniform lengths), seeded: the same text for both sides."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = int(round(4 * (150 / 4) ** rng.random()))
        words = [rng.choice(WORDS) for _ in range(length)]
        words[0] = words[0].capitalize()
        out.append(" ".join(words) + rng.choice([".", ".", ".", "?", "!"]))
    return out


def _model_dir(ctx):
    path = os.environ.get("AIMASTERY_MINILM_DIR") or os.path.join(ctx.build_dir, "models", "all-MiniLM-L6-v2")
    if not os.path.isfile(os.path.join(path, "model.safetensors")):
        subprocess.run([os.path.join(ROOT, "tools", "fetch_minilm.sh"), path], check=True)
    return path


def _peer(task, threads, repeat, model_dir, path):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="true" if threads > 1 else "false")
    out = subprocess.run([VENV_PYTHON, "-c", PEER_SCRIPT, task, str(threads), str(repeat), model_dir, path],
                         check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def tasks(ctx):
    model_dir = _model_dir(ctx)
    path = ctx.path("encoder_sentences.txt")
    with open(path, "w", encoding="utf-8") as f:
        for s in sentences():
            f.write(s + "\n")
    out = []
    for threads in (1, 2):
        results = {}

        def ours(threads=threads, results=results):
            r = ctx.ours("llm_encoder", "encode", model_dir, path, 32, ctx.repeat, env={"OMP_NUM_THREADS": str(threads)})
            results["ours_run"] = r
            return r["seconds"]

        def peer(threads=threads, results=results):
            r = _peer("encode", threads, ctx.repeat, model_dir, path)
            results["peer_run"] = r
            return r["seconds"]

        task = Task(f"MiniLM encode 2000 sentences ({threads} thread{'s' if threads > 1 else ''})",
                    f"sentence-transformers on PyTorch ({threads} thread{'s' if threads > 1 else ''})", ours, peer,
                    note="batch 32, float32, mixed lengths 4-150 words; ratio of seconds (sentences/s is its inverse)")
        task.extra = results
        out.append(task)
    vocab = os.path.join(model_dir, "vocab.txt")
    out.append(Task("WordPiece tokenize 2000 sentences (1 thread, one call a sentence)",
                    "tokenizers Tokenizer.encode in a Python loop (1 thread)",
                    lambda: ctx.ours("llm_encoder", "tokenize", vocab, path, ctx.repeat)["seconds"],
                    lambda: _peer("tokenize_single", 1, ctx.repeat, model_dir, path)["seconds"],
                    note="ids with [CLS]/[SEP], truncation 256"))
    for threads in (1, 2):
        out.append(Task(f"WordPiece tokenize 2000 sentences (ours 1 thread; peer batch, {threads} thread"
                        f"{'s' if threads > 1 else ''})",
                        f"tokenizers encode_batch (Rust, {threads} thread{'s' if threads > 1 else ''})",
                        lambda: ctx.ours("llm_encoder", "tokenize", vocab, path, ctx.repeat)["seconds"],
                        lambda t=threads: _peer("tokenize_batch", t, ctx.repeat, model_dir, path)["seconds"],
                        note="ids with [CLS]/[SEP], truncation 256; ours is one sentence a call, single thread"))
    return out
