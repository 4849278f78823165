"""Reference data for the linear models, naive Bayes, metrics, model selection and preprocessing of
ml.classical, from scikit-learn 1.2.1 on the bundled datasets in data/ (read from the same CSV files the C++
tests read)."""
import os

import numpy as np
import sklearn
from sklearn import metrics
from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import refjson

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLASSIFICATION = ["iris", "wine", "breast_cancer", "digits"]


def load(name):
    data = np.loadtxt(os.path.join(ROOT, "data", name + ".csv"), delimiter=",", skiprows=1)
    return data[:, :-1], data[:, -1]


def logistic_objective(model, X, y):
    """F = (1/n) Σ log-loss + ‖W‖² / (2Cn): scikit-learn's objective divided by C·n."""
    n = X.shape[0]
    proba = model.predict_proba(X)
    codes = np.searchsorted(model.classes_, y)
    data_term = -np.mean(np.log(proba[np.arange(n), codes]))
    return data_term + np.sum(model.coef_ ** 2) / (2 * model.C * n)


def gaussian_nb(out_dir):
    payload = {}
    for name in CLASSIFICATION:
        X, y = load(name)
        nb = GaussianNB().fit(X, y.astype(int))
        rows = np.arange(0, X.shape[0], max(1, X.shape[0] // 150))  # up to ~150 rows of each dataset
        payload[name] = {"rows": rows, "proba": nb.predict_proba(X[rows]), "predict": nb.predict(X[rows]),
                         "theta": nb.theta_, "var": nb.var_, "class_prior": nb.class_prior_,
                         "epsilon": nb.epsilon_}
    X, y = load("iris")
    nb = GaussianNB(priors=[0.5, 0.3, 0.2], var_smoothing=1e-3).fit(X, y.astype(int))
    payload["iris_priors"] = {"priors": [0.5, 0.3, 0.2], "var_smoothing": 1e-3, "proba": nb.predict_proba(X)}
    refjson.write(out_dir, "classical_gaussian_nb.json", payload)


def linear(out_dir):
    X, y = load("diabetes")
    ols = LinearRegression().fit(X, y)
    ols_no_intercept = LinearRegression(fit_intercept=False).fit(X, y)
    ridge = Ridge(alpha=1.0).fit(X, y)
    lasso = Lasso(alpha=0.1, tol=1e-14, max_iter=1_000_000).fit(X, y)
    lasso_no_intercept = Lasso(alpha=0.05, fit_intercept=False, tol=1e-14, max_iter=1_000_000).fit(X, y)
    refjson.write(out_dir, "classical_linear_regression.json", {
        "ols": {"coef": ols.coef_, "intercept": ols.intercept_, "r2": ols.score(X, y)},
        "ols_no_intercept": {"coef": ols_no_intercept.coef_, "intercept": 0.0},
        "ridge_alpha_1": {"coef": ridge.coef_, "intercept": ridge.intercept_},
        "lasso_alpha_0.1": {"coef": lasso.coef_, "intercept": lasso.intercept_},
        "lasso_alpha_0.05_no_intercept": {"coef": lasso_no_intercept.coef_, "intercept": 0.0},
    })


def logistic(out_dir):
    payload = {}
    for name, C in [("iris", 1.0), ("breast_cancer", 0.5), ("wine", 10.0)]:
        X, y = load(name)
        y = y.astype(int)
        Z = StandardScaler().fit_transform(X)
        tight = LogisticRegression(C=C, tol=1e-12, max_iter=100_000).fit(Z, y)
        default = LogisticRegression(C=C).fit(Z, y)
        payload[name] = {"C": C, "coef": tight.coef_, "intercept": tight.intercept_,
                         "objective": logistic_objective(tight, Z, y),
                         "objective_sklearn_default_tol": logistic_objective(default, Z, y)}
    refjson.write(out_dir, "classical_logistic_regression.json", payload)


def metric_values(out_dir):
    rng = np.random.default_rng(7)
    y_true = rng.integers(0, 3, 60) * 4 - 1  # labels {-1, 3, 7}
    y_pred = np.where(rng.random(60) < 0.6, y_true, rng.integers(0, 3, 60) * 4 - 1)
    y_pred[:2] = 11  # a label only in y_pred
    binary = rng.integers(0, 2, 50)
    score = np.round(rng.normal(binary * 0.8, 1.0), 1)  # rounded: ties
    proba = rng.dirichlet([1.0, 1.0, 1.0], 40)
    proba_labels = rng.integers(0, 3, 40) * 5  # classes {0, 5, 10}
    proba_labels[:3] = [0, 5, 10]
    reg_true = rng.normal(size=30)
    reg_pred = reg_true + rng.normal(scale=0.5, size=30)
    out = {"y_true": y_true, "y_pred": y_pred, "accuracy": metrics.accuracy_score(y_true, y_pred),
           "confusion_labels": np.unique(np.concatenate([y_true, y_pred])),
           "confusion": metrics.confusion_matrix(y_true, y_pred),
           "binary_true": binary, "binary_score": score, "roc_auc": metrics.roc_auc_score(binary, score),
           "proba": proba, "proba_labels": proba_labels, "log_loss": metrics.log_loss(proba_labels, proba),
           "reg_true": reg_true, "reg_pred": reg_pred,
           "mse": metrics.mean_squared_error(reg_true, reg_pred),
           "mae": metrics.mean_absolute_error(reg_true, reg_pred), "r2": metrics.r2_score(reg_true, reg_pred)}
    for average in ["macro", "weighted", "micro"]:
        for fn in ["precision", "recall", "f1"]:
            scorer = getattr(metrics, fn + "_score")
            out[f"{fn}_{average}"] = scorer(y_true, y_pred, average=average, zero_division=0)
    refjson.write(out_dir, "classical_metrics.json", out)


def model_selection(out_dir):
    rng = np.random.default_rng(3)
    y = np.repeat([2, 0, 5], [13, 9, 6])
    rng.shuffle(y)
    stratified = [test for _, test in StratifiedKFold(n_splits=4).split(np.zeros(len(y)), y)]
    plain = [test for _, test in KFold(n_splits=4).split(np.zeros(23))]
    X, _ = load("wine")
    X = X.copy()
    X[:, 2] = 1.5  # a constant column: scale 1
    scaler = StandardScaler().fit(X)
    cv = {}
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    for name in CLASSIFICATION:
        Xd, yd = load(name)
        yd = yd.astype(int)
        cv[name] = {
            "logistic_regression_std": cross_val_score(make_pipeline(StandardScaler(), LogisticRegression()),
                                                       Xd, yd, cv=folds).mean(),
            "gaussian_nb": cross_val_score(GaussianNB(), Xd, yd, cv=folds).mean(),
        }
    refjson.write(out_dir, "classical_model_selection.json", {
        "stratified_y": y, "stratified_test_folds": stratified, "kfold_n": 23, "kfold_test_folds": plain,
        "scaler_X_rows": 178, "scaler_mean": scaler.mean_, "scaler_scale": scaler.scale_,
        "scaler_first_rows": scaler.transform(X[:5]), "cv_accuracy": cv, "sklearn": sklearn.__version__,
    })


def generate(out_dir):
    np.random.seed(0)
    gaussian_nb(out_dir)
    linear(out_dir)
    logistic(out_dir)
    metric_values(out_dir)
    model_selection(out_dir)
