#!/usr/bin/env python3
"""Runs aimastery and its peers on identical data in the same run and prints the ratio ours / peer.

    benchmarks/peers/run.py                  # markdown table, preceded by the machine, versions and threads
    benchmarks/peers/run.py --json           # JSON: {"environment": {...}, "rows": [{task, peer, ours_seconds, ...}]}
    benchmarks/peers/run.py --only gemm      # tasks whose name contains "gemm"

The peers run at their strongest, as a user installs them: from the PyPI virtual environment made by
`tools/python/make_venv.sh` (NumPy with its bundled OpenBLAS, PyTorch's CPU wheel, scikit-learn, SciPy),
never from the system's python3. The venv is $AIMASTERY_VENV, or .venv at the repository root; this
script re-executes itself with that venv's python when started by another interpreter, and stops with a
message when there is none. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from the peers' process
(settings meant for a system OpenBLAS would force a slower kernel on the wheel's own OpenBLAS); the C++
side does not use OpenBLAS. Before the table it prints the machine (lscpu), the compiler, every peer
library's version and the BLAS libraries threadpoolctl finds with their thread counts.

Each benchmarks/peers/tasks_<domain>.py defines `tasks(ctx)` returning a list of Task. The "ours" side is a
C++ program benchmarks/peers/ours_<domain>.cpp built in the release preset (-O3 -march=native); this script
builds each program the first time one of its tasks runs. Everything runs single-threaded (OMP, OpenBLAS,
MKL and PyTorch limited to 1 thread) unless a task says otherwise in its name. Ratios below 1 mean
aimastery is faster.
"""
import argparse
import glob
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def venv_dir():
    """The PyPI venv of the peers: $AIMASTERY_VENV, else <repository>/.venv."""
    return os.path.abspath(os.environ.get("AIMASTERY_VENV") or os.path.join(ROOT, ".venv"))


def ensure_venv_python():
    """Re-executes this script with the venv's python unless it already runs there."""
    venv = venv_dir()
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        sys.exit(f"run.py: no PyPI venv at {venv}; create it with `tools/python/make_venv.sh {venv}` "
                 "or point AIMASTERY_VENV at one")
    if os.path.realpath(sys.prefix) != os.path.realpath(venv):
        os.execv(python, [python, os.path.abspath(__file__), *sys.argv[1:]])


if __name__ == "__main__":
    ensure_venv_python()
    # Must happen before NumPy (and its OpenBLAS) is loaded in this process.
    for var in OPENBLAS_OVERRIDES:
        os.environ.pop(var, None)
    # Single thread for every peer unless a task sets otherwise.
    for var in THREAD_VARIABLES:
        os.environ.setdefault(var, "1")

@dataclass
class Task:
    name: str                       # e.g. "gemm double n=1024"
    peer: str                       # e.g. "Eigen 3.4" or "scikit-learn 1.2.1"
    ours: Callable[[], float]       # returns seconds
    peer_run: Callable[[], float]   # returns seconds
    note: str = ""
    extra: dict = field(default_factory=dict)


class Context:
    def __init__(self, build_dir, workdir, repeat, build=True):
        self.build_dir = build_dir
        self.workdir = workdir
        self.repeat = repeat
        self.build = build
        self.built = set()
        self.versions = peer_versions()

    def label(self, library, detail=""):
        """"scikit-learn 1.9.1" (the version that runs), for Task.peer; `detail` is appended."""
        version = self.versions.get(library)
        text = f"{library} {version}" if version else library
        return f"{text} {detail}".strip()

    def ours(self, domain, *args, env=None):
        """Runs peer_ours_<domain> with args; returns its JSON result (a dict with "seconds")."""
        target = "peer_ours_" + domain
        if self.build and target not in self.built:
            build(self.build_dir, target)
            self.built.add(target)
        exe = os.path.join(self.build_dir, "benchmarks", target)
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


def unit_vectors(rows, queries, dim, seed=2026):
    """Seeded standard-normal base rows and queries scaled to unit length, float32: the data of the dense
    retrieval tasks (exact search, HNSW)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, dim)).astype(np.float32)
    Q = rng.standard_normal((queries, dim)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Q /= np.linalg.norm(Q, axis=1, keepdims=True)
    return X, Q


def configure(build_dir):
    """Configures the release preset's build the first time (the compiler it finds is printed first)."""
    if not os.path.exists(os.path.join(build_dir, "CMakeCache.txt")):
        subprocess.run(["cmake", "--preset", "release", "-B", build_dir], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)


def build(build_dir, target="peers"):
    configure(build_dir)
    subprocess.run(["cmake", "--build", build_dir, "--target", target, "-j", "2"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


# The Python peers by the name their tables use, and the module that carries the version.
PEER_MODULES = {"NumPy": "numpy", "SciPy": "scipy", "scikit-learn": "sklearn", "PyTorch": "torch",
                "threadpoolctl": "threadpoolctl"}


def peer_versions():
    """{"NumPy": "2.4.6", ...} of the libraries importable here, plus Redis when installed."""
    versions = {}
    for name, module in PEER_MODULES.items():
        try:
            versions[name] = importlib.import_module(module).__version__
        except ImportError:
            pass
    if shutil.which("redis-server"):
        out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
        match = re.search(r"v=(\S+)", out)
        if match:
            versions["Redis"] = match.group(1)
    return versions


def with_running_version(label, versions):
    """Replaces a version written into a task's label ("scikit-learn 1.2.1", "PyTorch 2.15.0+cpu") by the one
    that runs."""
    def replace(match):
        return f"{match.group(1)} {versions.get(match.group(1), match.group(2))}"
    return re.sub(r"\b(NumPy|SciPy|scikit-learn|PyTorch) (\d+(?:\.\d+)*(?:\+[\w.]+)?)", replace, label)


BLAS_REPORT = r"""
import json, threadpoolctl, numpy, scipy.linalg, sklearn
try:
    import torch
    torch_threads = torch.get_num_threads()
except ImportError:
    torch_threads = None
info = [{k: d.get(k) for k in ("user_api", "internal_api", "version", "num_threads", "architecture",
                                "threading_layer", "filepath")} for d in threadpoolctl.threadpool_info()]
print(json.dumps({"threadpools": info, "torch_threads": torch_threads}))
"""


def blas_report():
    """The BLAS/OpenMP libraries threadpoolctl finds once NumPy, SciPy, scikit-learn and PyTorch are
    loaded, in a fresh process of the venv's python with the same environment as the peers."""
    env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_OVERRIDES}
    out = subprocess.run([sys.executable, "-c", BLAS_REPORT], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def lscpu():
    """The lines of `lscpu` that say what the machine is."""
    keep = ("Architecture", "Model name", "CPU(s)", "Thread(s) per core", "Core(s) per socket", "Socket(s)",
            "CPU family", "Model:", "Hypervisor vendor", "L1d cache", "L2 cache", "L3 cache", "Flags")
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return [machine()]
    lines = []
    for line in out.splitlines():
        if line.strip().startswith(keep):
            if line.strip().startswith("Flags"):
                flags = line.split(":", 1)[1].split()
                line = "Flags (SIMD): " + " ".join(f for f in flags if f.startswith(("avx", "fma", "sse4_2")))
            lines.append(re.sub(r"\s{2,}", " ", line.strip()))
    return lines


def compiler(build_dir):
    try:
        with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
            cache = f.read()
        path = re.search(r"^CMAKE_CXX_COMPILER:\w+=(.*)$", cache, re.M).group(1)
        return subprocess.run([path, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, AttributeError, IndexError):
        return "unknown"


def environment(build_dir, versions):
    return {"machine": machine(), "lscpu": lscpu(), "python": sys.executable, "venv": venv_dir(),
            "python_version": platform.python_version(), "compiler": compiler(build_dir), "versions": versions,
            "thread_variables": {v: os.environ.get(v) for v in THREAD_VARIABLES},
            "unset": list(OPENBLAS_OVERRIDES), "blas": blas_report()}


def print_environment(env, out):
    print("Machine:", env["machine"], file=out)
    for line in env["lscpu"]:
        print("  " + line, file=out)
    print(f"Compiler (ours, release preset -O3 -march=native): {env['compiler']}", file=out)
    print(f"Peers: python {env['python_version']} from {env['venv']} ({env['python']}); "
          + ", ".join(f"{k} {v}" for k, v in env["versions"].items()), file=out)
    print("Threads: " + ", ".join(f"{k}={v}" for k, v in env["thread_variables"].items())
          + f" (unless a task names its thread count); {' and '.join(env['unset'])} unset for the peers",
          file=out)
    blas = env["blas"]
    if "error" in blas:
        print(f"BLAS (threadpoolctl): not available ({blas['error']})", file=out)
        return
    if blas.get("torch_threads") is not None:
        print(f"  PyTorch intra-op threads: {blas['torch_threads']}", file=out)
    for pool in blas["threadpools"]:
        what = " ".join(str(pool[k]) for k in ("internal_api", "version", "architecture") if pool.get(k))
        print(f"  threadpoolctl: {pool['user_api']} {what}, {pool['num_threads']} thread(s): {pool['filepath']}",
              file=out)


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

    rows = []
    with tempfile.TemporaryDirectory(prefix="aimastery-peers-") as workdir:
        ctx = Context(args.build_dir, workdir, args.repeat, build=not args.no_build)
        if not args.no_build:
            configure(args.build_dir)
        env = environment(args.build_dir, ctx.versions)
        if not args.json:
            print_environment(env, sys.stderr)
        for module in load_task_modules():
            for task in module.tasks(ctx):
                if args.only and args.only not in task.name:
                    continue
                ours = task.ours()
                peer = task.peer_run()
                label = with_running_version(task.peer, ctx.versions)
                rows.append({"task": task.name, "peer": label, "ours_seconds": ours, "peer_seconds": peer,
                             "ratio": ours / peer if peer > 0 else float("inf"), "note": task.note, **task.extra})
                if not args.json:
                    print(f"  {task.name}: ours {ours:.4g} s, {label} {peer:.4g} s", file=sys.stderr)

    if args.json:
        print(json.dumps({"environment": env, "rows": rows}, indent=2))
        return
    print_environment(env, sys.stdout)
    print()
    print("| task | peer | ours (s) | peer (s) | ratio ours/peer | note |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['task']} | {r['peer']} | {r['ours_seconds']:.4g} | {r['peer_seconds']:.4g} | "
              f"{r['ratio']:.2f} | {r['note']} |")


if __name__ == "__main__":
    main()
