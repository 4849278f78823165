"""MLP training and inference against PyTorch on the CPU (the PyPI wheel, run from the interpreter that
runs run.py: the PyPI venv), same architecture, data, batch size, epochs
and optimiser, float32 on both sides.

- "MLP 64-100-10 digits epoch": one epoch (shuffled mini-batches of 32, Adam lr 1e-3, cross-entropy) on
  the 1797 digits scaled to [0, 1]; seconds per epoch, mean over 5 epochs, best of the repeats.
- "MLP 784-256-128-10 synthetic 60k epoch": the same with batches of 128 on 60 000 × 784 synthetic rows
  computed from integers alone on both sides (x_ij = ((i·7919 + j·104729) mod 1000)/500 − 1,
  y_i = 31·i mod 10), so the data are identical bit for bit; one epoch.
- "(2 threads)": OMP_NUM_THREADS=2 for aimastery (its GEMM splits the larger products over the OpenMP
  threads), torch.set_num_threads(2) for PyTorch. Without the suffix both use one thread.
- "MLP 64-100-10 single-sample latency": one forward of one sample in evaluation mode (predict against
  model(x) under torch.no_grad()), mean over 2000 calls.
PyTorch runs in its own process with torch.set_num_threads(threads).
"""
import json
import os
import subprocess
import sys

from run import ROOT, Task

PEER_SCRIPT = r'''
import json, sys, time
import numpy as np
import torch
task, threads, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(0)

def mlp(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)

def load_digits(path):
    d = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
    return torch.tensor(d[:, :-1] / 16.0, dtype=torch.float32), torch.tensor(d[:, -1], dtype=torch.int64)

def synthetic(n, d):
    i = np.arange(n, dtype=np.int64)[:, None]
    j = np.arange(d, dtype=np.int64)[None, :]
    X = (((i * 7919 + j * 104729) % 1000) / 500.0 - 1.0).astype(np.float32)
    y = (np.arange(n, dtype=np.int64) * 31) % 10
    return torch.tensor(X), torch.tensor(y)

def epochs(model, X, y, n_epochs, batch):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    for _ in range(n_epochs):
        perm = torch.randperm(X.shape[0])
        for s in range(0, X.shape[0], batch):
            idx = perm[s:s + batch]
            opt.zero_grad()
            loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
    return loss.item()

best = float("inf")
if task in ("epoch_digits", "epoch_synthetic"):
    if task == "epoch_digits":
        X, y = load_digits(sys.argv[4]); model = mlp([64, 100, 10])
    else:
        X, y = synthetic(int(sys.argv[4]), 784); model = mlp([784, 256, 128, 10])
    n_epochs, batch = int(sys.argv[5]), int(sys.argv[6])
    epochs(model, X, y, 1, batch)  # warm-up
    cpu = float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        loss = epochs(model, X, y, n_epochs, batch)
        best = min(best, (time.perf_counter() - t0) / n_epochs)
        cpu = min(cpu, (time.process_time() - c0) / n_epochs)
    print(json.dumps({"seconds": best, "cpu_seconds": cpu, "loss": loss}))
else:
    X, _ = load_digits(sys.argv[4]); calls = int(sys.argv[5])
    model = mlp([64, 100, 10]).eval()
    rows = [X[k:k + 1] for k in range(X.shape[0])]
    sink = 0.0
    with torch.no_grad():
        for _ in range(repeat):
            t0 = time.perf_counter()
            for c in range(calls):
                sink += model(rows[c % len(rows)])[0, 0].item()
            best = min(best, (time.perf_counter() - t0) / calls)
    print(json.dumps({"seconds": best, "checksum": sink}))
'''

def _torch_version():
    out = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"], capture_output=True,
                         text=True)
    return out.stdout.strip() or "unknown"


def _peer(args, threads, repeat):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", PEER_SCRIPT, args[0], str(threads), str(repeat), *map(str, args[1:])],
                         check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def tasks(ctx):
    digits = os.path.join(ROOT, "data", "digits.csv")
    PEER = f"PyTorch {_torch_version()}"
    out = []
    for threads in (1, 2):
        suffix = "" if threads == 1 else " (2 threads)"
        env = {"OMP_NUM_THREADS": str(threads)}
        peer = f"{PEER} ({threads} thread{'s' if threads > 1 else ''})"
        for name, ours_args, peer_args, note in (
                ("MLP 64-100-10 digits epoch", ["epoch_digits", digits, 5, 32], ["epoch_digits", digits, 5, 32],
                 "batch 32, Adam, float32; seconds per epoch"),
                ("MLP 784-256-128-10 synthetic 60k epoch", ["epoch_synthetic", 60000, 1, 128],
                 ["epoch_synthetic", 60000, 1, 128], "batch 128, Adam, float32; seconds per epoch")):
            extra = {}

            def ours(ours_args=ours_args, env=env, extra=extra):
                r = ctx.ours("deep_learning", *ours_args, ctx.repeat, env=env)
                extra["ours_cpu_seconds"] = r.get("cpu_seconds")
                return r["seconds"]

            def peer_run(peer_args=peer_args, threads=threads, extra=extra):
                r = _peer(peer_args, threads, ctx.repeat)
                extra["peer_cpu_seconds"] = r.get("cpu_seconds")
                return r["seconds"]

            out.append(Task(name + suffix, peer, ours, peer_run, note=note + "; CPU seconds in the JSON rows",
                            extra=extra))
    out.append(Task("MLP 64-100-10 single-sample latency", f"{PEER} (1 thread)",
                    lambda: ctx.ours("deep_learning", "latency", digits, 2000, ctx.repeat, env={"OMP_NUM_THREADS": "1"})["seconds"],
                    lambda: _peer(["latency", digits, 2000], 1, ctx.repeat)["seconds"],
                    note="predict of one sample, evaluation mode; seconds per call"))
    return out
