#!/usr/bin/python3
"""Runs aimastery and its peers on identical data in the same run and prints the ratio ours / peer.

    python3 benchmarks/peers/run.py                  # markdown table
    python3 benchmarks/peers/run.py --json           # JSON array of {task, peer, ours_seconds, peer_seconds, ratio}
    python3 benchmarks/peers/run.py --only gemm      # tasks whose name contains "gemm"

Each benchmarks/peers/tasks_<domain>.py defines `tasks(ctx)` returning a list of Task. The "ours" side is a
C++ program benchmarks/peers/ours_<domain>.cpp built in the release preset (-O3 -march=native), which this
script builds first. Everything runs single-threaded unless a task says otherwise. Ratios below 1 mean
aimastery is faster.
"""
import argparse
import glob
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

# Single thread for every peer unless a task sets otherwise (must happen before numpy is imported).
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(var, "1")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


@dataclass
class Task:
    name: str                       # e.g. "gemm double n=1024"
    peer: str                       # e.g. "Eigen 3.4" or "scikit-learn 1.2.1"
    ours: Callable[[], float]       # returns seconds
    peer_run: Callable[[], float]   # returns seconds
    note: str = ""
    extra: dict = field(default_factory=dict)


class Context:
    def __init__(self, build_dir, workdir, repeat):
        self.build_dir = build_dir
        self.workdir = workdir
        self.repeat = repeat

    def ours(self, domain, *args, env=None):
        """Runs peer_ours_<domain> with args; returns its JSON result (a dict with "seconds")."""
        exe = os.path.join(self.build_dir, "benchmarks", "peer_ours_" + domain)
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        out = subprocess.run([exe, *map(str, args)], check=True, capture_output=True, text=True, env=full_env)
        return json.loads(out.stdout.strip().splitlines()[-1])

    def best_of(self, fn, repeat=None):
        """Smallest wall time of `repeat` calls of fn(), in seconds."""
        best = float("inf")
        for _ in range(repeat or self.repeat):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        return best

    def path(self, name):
        return os.path.join(self.workdir, name)

    @staticmethod
    def write_csv(path, X, y=None, target="target"):
        """Writes X (and y as column `target`) with a header row, readable by aimastery::read_csv."""
        import numpy as np
        cols = [f"f{i}" for i in range(X.shape[1])]
        data = X if y is None else np.column_stack([X, y])
        header = ",".join(cols + ([target] if y is not None else []))
        np.savetxt(path, data, delimiter=",", header=header, comments="", fmt="%.17g")
        return path


def build(build_dir):
    if not os.path.exists(os.path.join(build_dir, "CMakeCache.txt")):
        subprocess.run(["cmake", "--preset", "release"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build_dir, "--target", "peers", "-j", "2"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


def load_task_modules():
    modules = []
    for path in sorted(glob.glob(os.path.join(HERE, "tasks_*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append(module)
    return modules


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print a JSON array instead of a markdown table")
    parser.add_argument("--only", default="", help="run only tasks whose name contains this text")
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build", "release"))
    parser.add_argument("--no-build", action="store_true", help="use the existing build")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs per side")
    args = parser.parse_args()

    if not args.no_build:
        build(args.build_dir)
    rows = []
    with tempfile.TemporaryDirectory(prefix="aimastery-peers-") as workdir:
        ctx = Context(args.build_dir, workdir, args.repeat)
        for module in load_task_modules():
            for task in module.tasks(ctx):
                if args.only and args.only not in task.name:
                    continue
                ours = task.ours()
                peer = task.peer_run()
                rows.append({"task": task.name, "peer": task.peer, "ours_seconds": ours, "peer_seconds": peer,
                             "ratio": ours / peer if peer > 0 else float("inf"), "note": task.note, **task.extra})
                if not args.json:
                    print(f"  {task.name}: ours {ours:.4g} s, {task.peer} {peer:.4g} s", file=sys.stderr)

    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"Machine: {machine()}\n")
    print("| task | peer | ours (s) | peer (s) | ratio ours/peer | note |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['task']} | {r['peer']} | {r['ours_seconds']:.4g} | {r['peer_seconds']:.4g} | "
              f"{r['ratio']:.2f} | {r['note']} |")


if __name__ == "__main__":
    main()
