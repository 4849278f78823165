"""Reference data for the trees, forests and k nearest neighbours (scikit-learn 1.2.1).

knn_classifier.json   KNeighborsClassifier(algorithm='brute', one thread) predictions and probabilities on held-out
                      splits of iris, wine and digits, for every metric (euclidean, manhattan, cosine),
                      weights (uniform, distance) and k in {1, 5, 8}
knn_regressor.json    KNeighborsRegressor(algorithm='brute') predictions on a held-out split of diabetes
trees_cv.json         5-fold stratified CV (shuffle, random_state=0) accuracy of DecisionTreeClassifier,
                      RandomForestClassifier(100) and StandardScaler + KNeighborsClassifier(5), with the folds
tiny_trees.json       small depth-2 trees whose structure is deterministic (no ties, checked over 32
                      random states): thresholds, features,
                      leaf values and importances, for gini, entropy and squared error
"""
import os

import numpy as np
from threadpoolctl import threadpool_limits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import refjson

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data")


def load(name):
    raw = np.genfromtxt(os.path.join(DATA, name + ".csv"), delimiter=",", names=True)
    cols = raw.dtype.names
    X = np.column_stack([raw[c] for c in cols if c != "target"]).astype(np.float64)
    y = raw["target"]
    return X, y


def knn_classifier():
    out = {}
    for name in ("iris", "wine", "digits"):
        X, y = load(name)
        y = y.astype(int)
        idx = np.arange(len(y))
        train, test = train_test_split(idx, test_size=0.3, random_state=0, stratify=y)
        cases = []
        for metric in ("euclidean", "manhattan", "cosine"):
            for weights in ("uniform", "distance"):
                for k in (1, 5, 8):
                    knn = KNeighborsClassifier(n_neighbors=k, metric=metric, weights=weights, algorithm="brute")
                    knn.fit(X[train], y[train])
                    cases.append({"metric": metric, "weights": weights, "k": k,
                                  "predict": knn.predict(X[test]), "proba": knn.predict_proba(X[test])})
        out[name] = {"train": train, "test": test, "cases": cases}
    return out


def knn_regressor():
    X, y = load("diabetes")
    idx = np.arange(len(y))
    train, test = train_test_split(idx, test_size=0.3, random_state=0)
    cases = []
    for metric in ("euclidean", "manhattan", "cosine"):
        for weights in ("uniform", "distance"):
            knn = KNeighborsRegressor(n_neighbors=5, metric=metric, weights=weights, algorithm="brute")
            knn.fit(X[train], y[train])
            cases.append({"metric": metric, "weights": weights, "k": 5, "predict": knn.predict(X[test])})
    return {"train": train, "test": test, "cases": cases}


def trees_cv():
    out = {}
    for name in ("iris", "wine", "breast_cancer", "digits"):
        X, y = load(name)
        y = y.astype(int)
        folds = list(StratifiedKFold(n_splits=5, shuffle=True, random_state=0).split(X, y))
        models = {
            "decision_tree": lambda: DecisionTreeClassifier(random_state=0),
            "random_forest": lambda: RandomForestClassifier(n_estimators=100, random_state=0),
            "knn_std": lambda: make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5)),
        }
        scores = {}
        for model_name, make in models.items():
            scores[model_name] = [make().fit(X[tr], y[tr]).score(X[te], y[te]) for tr, te in folds]
        out[name] = {"folds": [te for _, te in folds], "scores": scores,
                     "mean": {m: float(np.mean(s)) for m, s in scores.items()}}
    return out


def tree_record(tree, X):
    t = tree.tree_
    return {"feature": t.feature, "threshold": t.threshold, "left": t.children_left, "right": t.children_right,
            "value": t.value[:, 0, :], "importances": tree.feature_importances_, "predict": tree.predict(X)}


def tiny_trees():
    # 30 samples, 3 features on a 0.25 grid (exact in float32, so the thresholds agree to the last bit). A tree
    # visits the features in a random order and keeps the first of equally good splits, so a tie would make
    # the structure depend on the random generator: the first data seed (from 7) whose trees are the same for
    # every random_state has no ties, and its trees are what any correct implementation grows.
    def trees(X, y, target, random_state):
        out = {c: DecisionTreeClassifier(max_depth=2, criterion=c, random_state=random_state).fit(X, y)
               for c in ("gini", "entropy")}
        out["squared_error"] = DecisionTreeRegressor(max_depth=2, random_state=random_state).fit(X, target)
        return out

    def structure(tree):
        t = tree.tree_
        return (tuple(t.feature), tuple(t.threshold))

    for seed in range(7, 100):
        rng = np.random.default_rng(seed)
        X = np.round(rng.normal(size=(30, 3)) * 4) / 4
        y = (X[:, 0] + 0.5 * X[:, 1] > 0.1).astype(int) + (X[:, 2] > 0.8).astype(int)
        target = X[:, 0] * 2 - X[:, 2] + 0.1 * np.arange(30) / 30
        reference = trees(X, y, target, 0)
        if all({structure(trees(X, y, target, rs)[name]) for rs in range(32)} == {structure(tree)}
               for name, tree in reference.items()):
            break
    out = {"X": X, "y": y, "data_seed": seed}
    for criterion in ("gini", "entropy"):
        rec = tree_record(reference[criterion], X)
        rec["proba"] = reference[criterion].predict_proba(X)
        out[criterion] = rec
    out["target"] = target
    out["squared_error"] = tree_record(reference["squared_error"], X)
    return out


def generate(out_dir):
    # One thread: scikit-learn's brute force then pushes the training rows into each query's heap in index
    # order (with several threads it merges per-thread heaps, and exact ties may resolve differently).
    with threadpool_limits(limits=1):
        refjson.write(out_dir, "knn_classifier.json", knn_classifier())
        refjson.write(out_dir, "knn_regressor.json", knn_regressor())
    refjson.write(out_dir, "tiny_trees.json", tiny_trees())
    refjson.write(out_dir, "trees_cv.json", trees_cv())
