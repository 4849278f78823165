"""scaled_dot_product_attention forward against PyTorch's torch.nn.functional.scaled_dot_product_attention
on the CPU (the PyPI wheel, its flash-attention CPU kernel), float32, batch 1, 8 heads, head_dim 64,
sequence 512 / 2048 / 4096, 1 and 2 threads.

- Ours: peer_ours_llm_attention with OMP_NUM_THREADS and omp_set_num_threads = threads, the automatic
  path (tiled from 256 keys on, so every size here); best wall time of one forward.
- PyTorch: its own process, torch.set_num_threads(threads), under torch.no_grad(), one warm-up call, best
  wall time of one forward. Q, K, V uniform in [-1, 1) on both sides (different generators; attention
  time does not depend on the values).
- Both sides time the same number of calls: max(--repeat, 5), times 4 at sequence 512, whose calls take a
  few milliseconds, so that on the shared machine the best of them finds a moment when the threads run.
- Peak memory: growth of the process's peak resident set during the first forward over what the inputs
  took (VmHWM − VmRSS before the call on our side, ru_maxrss growth on PyTorch's), in the `extra` fields;
  the rows "peak memory tiled/plain" time the two paths of ours so that the tiled path's linear growth
  and the plain path's quadratic one show side by side.
Run: benchmarks/peers/run.py --only sdpa (in the PyPI venv, $AIMASTERY_VENV or .venv)
"""
import json
import os
import subprocess
import sys

from run import Task

PEER_SCRIPT = r'''
import json, resource, sys, time
import torch
seq, threads, repeat = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
g = torch.Generator().manual_seed(7)
q, k, v = (torch.rand(1, 8, seq, 64, generator=g) * 2 - 1 for _ in range(3))
F = torch.nn.functional
with torch.no_grad():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    out = F.scaled_dot_product_attention(q, k, v)
    best = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = F.scaled_dot_product_attention(q, k, v)
        best = min(best, time.perf_counter() - t0)
print(json.dumps({"seconds": best, "peak_extra_bytes": peak - before, "torch": torch.__version__}))
'''

SEQUENCES = [512, 2048, 4096]
THREADS = [1, 2]


def peer(seq, threads, repeat):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", PEER_SCRIPT, str(seq), str(threads), str(repeat)], check=True,
                         capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def tasks(ctx):
    out = []
    for threads in THREADS:
        for seq in SEQUENCES:
            repeat = max(ctx.repeat, 5) * (4 if seq <= 512 else 1)
            extra = {}

            def ours(seq=seq, threads=threads, repeat=repeat, extra=extra):
                r = ctx.ours("llm_attention", "sdpa", seq, threads, "automatic", repeat,
                             env={"OMP_NUM_THREADS": str(threads)})
                extra["ours_peak_extra_MiB"] = r["peak_extra_bytes"] / 2**20
                return r["seconds"]

            def torch_run(seq=seq, threads=threads, repeat=repeat, extra=extra):
                r = peer(seq, threads, repeat)
                extra["peer_peak_extra_MiB"] = r["peak_extra_bytes"] / 2**20
                extra["torch"] = r["torch"]
                return r["seconds"]

            out.append(Task(name=f"sdpa forward f32 seq={seq} threads={threads}", peer="PyTorch SDPA (CPU)",
                            ours=ours, peer_run=torch_run, extra=extra,
                            note=f"batch 1, 8 heads, head_dim 64, {threads} thread(s)"))
    # Peak memory of our two paths (one thread), as time rows whose extra fields carry the bytes.
    for seq in SEQUENCES:
        for algorithm in ("tiled", "plain"):
            extra = {}

            def ours(seq=seq, algorithm=algorithm, extra=extra):
                r = ctx.ours("llm_attention", "sdpa", seq, 1, algorithm, 1, env={"OMP_NUM_THREADS": "1"})
                extra["ours_peak_extra_MiB"] = r["peak_extra_bytes"] / 2**20
                print(f"  peak memory {algorithm} seq={seq}: {r['peak_extra_bytes'] / 2**20:.2f} MiB", file=sys.stderr)
                return r["seconds"]

            def torch_run(seq=seq, extra=extra):
                r = peer(seq, 1, 1)
                extra["peer_peak_extra_MiB"] = r["peak_extra_bytes"] / 2**20
                print(f"  peak memory PyTorch seq={seq}: {r['peak_extra_bytes'] / 2**20:.2f} MiB", file=sys.stderr)
                return r["seconds"]

            out.append(Task(name=f"sdpa memory {algorithm} seq={seq}", peer="PyTorch SDPA (CPU)", ours=ours,
                            peer_run=torch_run, extra=extra, note="peak-memory rows (bytes on stderr); 1 thread, one forward"))
    return out
