"""Linear models and naive Bayes against scikit-learn (the version installed where run.py runs: the PyPI venv),
single thread, on the same synthetic data.

Data (NumPy seed 0, written once as CSV for aimastery, kept in memory for scikit-learn):
- classification 100k×20: X ~ N(0, 1), y ~ Bernoulli(σ(Xw + 0.3)), w ~ N(0, 0.5²) (binary), and a 5-class
  version with labels from argmax(XW + Gumbel noise) for GaussianNB;
- regression 100k×20: y = Xw + 2 + N(0, 1).

- "logreg lbfgs fit 100k×20": LogisticRegressionScratch<double>({.C = 1}) (its own L-BFGS, tol 1e-4 on the
  gradient) against LogisticRegression(C=1) (lbfgs, tol 1e-4). Both losses are reported, computed as
  (1/n) Σ log-loss + ‖w‖²/(2Cn) (scikit-learn's objective divided by C·n); equal loss means within 1e-4.
- "linreg fit 100k×20 (<solver>)": LinearRegressionScratch<double> with each solver: auto (the normal equations
  through Cholesky, taken because XᵀX is well conditioned here), qr (Householder, streamed over row blocks),
  cholesky, gradient_descent and coordinate_descent (both to tol 1e-8), against LinearRegression() (scipy
  lstsq); max |Δcoef| and the ratio of CPU times (steadier than wall time on a shared machine) in the note.
- "gaussian_nb fit 100k×20" and "gaussian_nb predict_proba 100k×20": GaussianNBScratch<double> against
  GaussianNB() on the 5-class data.
"""
import json
import time

import numpy as np

from run import Task

def tasks(ctx):
    import sklearn
    from sklearn.linear_model import LinearRegression, LogisticRegression

    PEER = f"scikit-learn {sklearn.__version__}"
    from sklearn.naive_bayes import GaussianNB

    rng = np.random.default_rng(0)
    n, d = 100_000, 20
    X = rng.normal(size=(n, d))
    w = rng.normal(scale=0.5, size=d)
    y_binary = (rng.random(n) < 1 / (1 + np.exp(-(X @ w + 0.3)))).astype(int)
    W = rng.normal(size=(d, 5))
    y_multi = np.argmax(X @ W + rng.gumbel(size=(n, 5)), axis=1)
    y_reg = X @ w + 2.0 + rng.normal(size=n)
    files = {}

    def csv(name, y):
        if name not in files:
            files[name] = ctx.write_csv(ctx.path(name + ".csv"), X, y)
        return files[name]

    def objective(model):
        proba = model.predict_proba(X)[np.arange(n), y_binary]
        return float(-np.mean(np.log(proba)) + np.sum(model.coef_ ** 2) / (2 * model.C * n))

    out = []

    logistic_extra = {}

    def ours_logistic():
        r = ctx.ours("classical_linear", "logistic_regression", csv("binary", y_binary), ctx.repeat)
        logistic_extra.update(ours_loss=r["loss"], ours_iterations=r["iterations"])
        return r["seconds"]

    def peer_logistic():
        model = LogisticRegression(C=1.0)
        seconds = ctx.best_of(lambda: model.fit(X, y_binary))
        logistic_extra.update(peer_loss=objective(model), peer_iterations=int(model.n_iter_[0]))
        logistic_task.note = (f"loss ours {logistic_extra['ours_loss']:.8f} vs {logistic_extra['peer_loss']:.8f}; "
                              f"iterations {logistic_extra['ours_iterations']} vs {logistic_extra['peer_iterations']}")
        return seconds

    logistic_task = Task("logreg lbfgs fit 100k×20", PEER, ours_logistic, peer_logistic, extra=logistic_extra)
    out.append(logistic_task)

    reference = {}

    def peer_linear():
        model = LinearRegression()
        seconds = ctx.best_of(lambda: model.fit(X, y_reg))
        reference["coef"] = model.coef_
        cpu = float("inf")
        for _ in range(ctx.repeat):
            c0 = time.process_time()
            model.fit(X, y_reg)
            cpu = min(cpu, time.process_time() - c0)
        reference["cpu_seconds"] = cpu
        return seconds

    solvers = ["auto", "qr", "cholesky", "gradient_descent", "coordinate_descent"]
    linear_tasks = {}
    for solver in solvers:
        def ours_linear(solver=solver):
            r = ctx.ours("classical_linear", "linear_regression_" + solver, csv("regression", y_reg), ctx.repeat)
            linear_tasks[solver].extra["ours_coef"] = r["coef"]
            linear_tasks[solver].extra["ours_cpu_seconds"] = r["cpu_seconds"]
            return r["seconds"]
        linear_tasks[solver] = Task(f"linreg fit 100k×20 ({solver})", PEER, ours_linear, peer_linear)
        out.append(linear_tasks[solver])

    def linear_note(task):
        original = task.peer_run

        def run():
            seconds = original()
            diff = np.max(np.abs(np.array(task.extra["ours_coef"]) - reference["coef"]))
            cpu_ours, cpu_peer = task.extra["ours_cpu_seconds"], reference["cpu_seconds"]
            task.note = (f"max |Δcoef| {diff:.1e}; CPU time ratio {cpu_ours / cpu_peer:.2f} "
                         f"({cpu_ours:.3g} s vs {cpu_peer:.3g} s)")
            del task.extra["ours_coef"]
            return seconds
        task.peer_run = run

    for t in linear_tasks.values():
        linear_note(t)

    out.append(Task("gaussian_nb fit 100k×20", PEER,
                    lambda: ctx.ours("classical_linear", "gaussian_nb_fit", csv("multi", y_multi), ctx.repeat)["seconds"],
                    lambda: ctx.best_of(lambda: GaussianNB().fit(X, y_multi))))
    fitted = GaussianNB().fit(X, y_multi)
    out.append(Task("gaussian_nb predict_proba 100k×20", PEER,
                    lambda: ctx.ours("classical_linear", "gaussian_nb_predict_proba", csv("multi", y_multi),
                                     ctx.repeat)["seconds"],
                    lambda: ctx.best_of(lambda: fitted.predict_proba(X))))
    return out
