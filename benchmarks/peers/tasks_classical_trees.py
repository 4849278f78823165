"""Trees, forests and k nearest neighbours against scikit-learn (the version installed where run.py runs: the PyPI
venv, whose NumPy/SciPy bring OpenBLAS), on the same synthetic data.

Data: sklearn.datasets.make_classification(n_samples = n_train + n_test, n_features=20, n_informative=10,
n_redundant=5, random_state=0), the first n_train rows to train, the rest held out; written once as CSV for
aimastery and .npy for scikit-learn. Both sides report the held-out accuracy (equal quality) and peak memory.

- "RF100 fit 20k×20", "RF100 fit 100k×20": RandomForestScratch<double>({.n_estimators = 100}) against
  RandomForestClassifier(n_estimators=100, n_jobs=1); fit time only.
- "tree fit 100k×20": DecisionTreeScratch<double>() against DecisionTreeClassifier().
- "KNN k=5 10k×100k×20": predict of 10k queries against 100k training rows; KNNScratch<double>({.k = 5})
  against KNeighborsClassifier(5, algorithm='brute').
- "(2 threads)" rows: OMP_NUM_THREADS=2 for aimastery; scikit-learn with n_jobs=2 (forest) or its OpenMP
  brute force on 2 threads (KNN), and OpenBLAS on as many threads as the row (1 or 2), so both sides use
  the same number of threads. The note gives aimastery's speed-up over its own single-thread run.

Memory: each side runs in its own process, loads the data, resets its peak resident set (Linux clear_refs),
then does the timed work; "peak" is the peak resident set from there on (Python's includes the interpreter,
NumPy and scikit-learn), "+fit" that peak minus the resident set once the data was loaded: what the fit (or
predict) itself added.
"""
import json
import os
import subprocess
import sys

from run import Task

PEER_SCRIPT = r'''
import json, sys, time
import numpy as np
task, prefix, repeat, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
X_train, y_train = np.load(prefix + "_Xtr.npy"), np.load(prefix + "_ytr.npy")
X_test, y_test = np.load(prefix + "_Xte.npy"), np.load(prefix + "_yte.npy")
def status_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
from sklearn.ensemble import RandomForestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier
with open("/proc/self/clear_refs", "w") as f:  # the peak resident set restarts from the current one
    f.write("5")
data_mb = status_mb("VmRSS:")
best = best_cpu = float("inf")
for _ in range(repeat):
    if task == "forest":
        model = RandomForestClassifier(n_estimators=100, n_jobs=threads, random_state=0)
    elif task == "tree":
        model = DecisionTreeClassifier(random_state=0)
    else:
        model = KNeighborsClassifier(n_neighbors=5, algorithm="brute", n_jobs=threads).fit(X_train, y_train)
    t0, c0 = time.perf_counter(), time.process_time()
    if task == "knn":
        predicted = model.predict(X_test)
    else:
        model.fit(X_train, y_train)
    best = min(best, time.perf_counter() - t0)
    best_cpu = min(best_cpu, time.process_time() - c0)
if task != "knn":
    predicted = model.predict(X_test)
print(json.dumps({"seconds": best, "cpu_seconds": best_cpu, "accuracy": float(np.mean(predicted == y_test)),
                  "peak_rss_mb": status_mb("VmHWM:"), "data_rss_mb": data_mb}))
'''


def tasks(ctx):
    import sklearn
    peer_name = f"scikit-learn {sklearn.__version__}"
    datasets = {}

    def data(n_train, n_test):
        key = (n_train, n_test)
        if key not in datasets:
            import numpy as np
            from sklearn.datasets import make_classification
            X, y = make_classification(n_samples=n_train + n_test, n_features=20, n_informative=10, n_redundant=5,
                                       random_state=0)
            prefix = ctx.path(f"cls_{n_train}_{n_test}")
            ctx.write_csv(prefix + "_train.csv", X[:n_train], y[:n_train])
            ctx.write_csv(prefix + "_test.csv", X[n_train:], y[n_train:])
            np.save(prefix + "_Xtr.npy", X[:n_train])
            np.save(prefix + "_ytr.npy", y[:n_train])
            np.save(prefix + "_Xte.npy", X[n_train:])
            np.save(prefix + "_yte.npy", y[n_train:])
            datasets[key] = prefix
        return datasets[key]

    def peer(task, prefix, repeat, threads):
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
        out = subprocess.run([sys.executable, "-c", PEER_SCRIPT, task, prefix, str(repeat), str(threads)],
                             check=True, capture_output=True, text=True, env=env)
        return json.loads(out.stdout.strip().splitlines()[-1])

    single = {}
    rows = []

    def row(name, size, program_args, peer_task, repeat_ours, repeat_peer, threads):
        task = Task(name=name, peer=peer_name, ours=None, peer_run=None)
        result = {}

        def ours():
            prefix = data(*size)
            args = [str(a).replace("{train}", prefix + "_train.csv").replace("{test}", prefix + "_test.csv")
                    for a in program_args] + [repeat_ours]
            result["ours"] = ctx.ours("classical_trees", *args, env={"OMP_NUM_THREADS": str(threads)})
            if threads == 1:
                single[(program_args[0], size)] = result["ours"]["seconds"]
            return result["ours"]["seconds"]

        def peer_run():
            result["peer"] = peer(peer_task, data(*size), repeat_peer, threads)
            o, p = result["ours"], result["peer"]
            task.note = (f"CPU time ratio {o['cpu_seconds'] / p['cpu_seconds']:.2f} "
                         f"({o['cpu_seconds']:.3g} s vs {p['cpu_seconds']:.3g} s); "
                         f"accuracy {o['accuracy']:.4f} vs {p['accuracy']:.4f}; peak RSS {o['peak_rss_mb']:.0f} MB "
                         f"(+fit {o['peak_rss_mb'] - o['data_rss_mb']:.0f}) vs {p['peak_rss_mb']:.0f} MB "
                         f"(+fit {p['peak_rss_mb'] - p['data_rss_mb']:.0f})")
            base = single.get((program_args[0], size))
            if threads > 1 and base:
                task.note += f"; aimastery speed-up on {threads} threads {base / o['seconds']:.2f}×"
            task.extra.update(ours_accuracy=o["accuracy"], peer_accuracy=p["accuracy"],
                              ours_peak_rss_mb=o["peak_rss_mb"], peer_peak_rss_mb=p["peak_rss_mb"],
                              ours_fit_rss_mb=o["peak_rss_mb"] - o["data_rss_mb"],
                              peer_fit_rss_mb=p["peak_rss_mb"] - p["data_rss_mb"])
            return p["seconds"]

        task.ours, task.peer_run = ours, peer_run
        rows.append(task)

    small, large, knn = (20_000, 5_000), (100_000, 20_000), (100_000, 10_000)
    row("RF100 fit 20k×20", small, ["forest_fit", "{train}", "{test}", 100], "forest", ctx.repeat, 1, 1)
    row("RF100 fit 20k×20 (2 threads)", small, ["forest_fit", "{train}", "{test}", 100], "forest", ctx.repeat, 1, 2)
    row("RF100 fit 100k×20", large, ["forest_fit", "{train}", "{test}", 100], "forest", 1, 1, 1)
    row("RF100 fit 100k×20 (2 threads)", large, ["forest_fit", "{train}", "{test}", 100], "forest", 1, 1, 2)
    row("tree fit 100k×20", large, ["tree_fit", "{train}", "{test}"], "tree", ctx.repeat, ctx.repeat, 1)
    row("KNN k=5 10k×100k×20", knn, ["knn_predict", "{train}", "{test}", 5], "knn", ctx.repeat, ctx.repeat, 1)
    row("KNN k=5 10k×100k×20 (2 threads)", knn, ["knn_predict", "{train}", "{test}", 5], "knn", ctx.repeat,
        ctx.repeat, 2)
    return rows
