"""Reference values for production.monitoring: SciPy 1.10's statistical tests and special functions,
scikit-learn's metrics, and River's DDM / Page-Hinkley (transcribed below, River is not installed).

Samples are stored as integers with a scale (value = k / scale), so the C++ side rebuilds exactly the
doubles SciPy saw and ties are frequent when the scale is small.
"""
import math

import numpy as np
import scipy
import scipy.special as sp
import scipy.stats as st
from scipy.spatial.distance import jensenshannon
from sklearn import metrics

import refjson

# The values ../shared/REFERENCE.md quotes (SciPy 1.10); checked here so the committed data agrees.
REFERENCE_A = [0.61, 0.29, 0.06, 0.59, -1.73, -0.74, 0.51, -0.56, 0.39, 1.64, 0.05, -0.06, 0.64, -0.82, 0.37,
               1.77, 1.09, -1.28, 2.36, 1.31, 1.05, -0.52, -0.74, 0.47, 0.88, -1.19, 0.17, 0.25, 0.70, -0.10]


def quantised(rng, kind, n, scale, shift=0.0, spread=1.0):
    if kind == "normal":
        x = rng.normal(shift, spread, n)
    elif kind == "uniform":
        x = rng.uniform(shift - spread, shift + spread, n)
    elif kind == "exponential":
        x = shift + rng.exponential(spread, n)
    else:
        raise ValueError(kind)
    return np.round(x * scale).astype(np.int64)


def ks_cases(rng):
    cases = []
    # (n1, n2, scale, shift): small/large, equal/unequal, ties (small scale), both sides of 10000.
    plan = [
        (5, 7, 1000, 0.0), (10, 10, 10, 0.0), (12, 30, 100, 0.5), (30, 20, 1000, 1.0), (40, 40, 1000, 0.3),
        (3, 200, 100, 0.0), (7, 9, 1, 0.0), (1, 1, 1000, 0.0), (1, 50, 1000, 2.0), (100, 150, 10, 0.1),
        (250, 300, 1000000, 0.2), (500, 499, 100, 0.0), (1000, 1000, 1000, 0.05), (2000, 3000, 1000, 0.1),
        (60, 60, 1000000, 3.0), (8, 8, 1000, 5.0), (9000, 10000, 1000, 0.02), (10000, 10000, 100, 0.0),
        (5, 20000, 1000, 0.0), (5, 12000, 1000, 1.5), (20, 12000, 1000, 0.3), (137, 11000, 100, 0.0),
        (300, 12000, 1000000, 0.05), (2000, 10400, 1000, 0.03), (10100, 10100, 100, 0.0),
        (11000, 10100, 100000, 0.02), (10001, 10001, 10, 0.0), (150, 10500, 1000, 0.6), (10500, 3, 1000, 0.0),
        (11000, 60, 1000, 0.0), (130, 10800, 1000, 0.25), (400, 10200, 1000, 0.12),
    ]
    for n1, n2, scale, shift in plan:
        kind = rng.choice(["normal", "uniform", "exponential"])
        a = quantised(rng, kind, n1, scale)
        b = quantised(rng, kind, n2, scale, shift=shift)
        results = []
        for method in ["auto", "exact", "asymp"]:
            if method == "exact" and max(n1, n2) > 10000 and min(n1, n2) > 20:
                continue  # SciPy's exact path is slow there and not what 'auto' uses
            res = st.ks_2samp(a / scale, b / scale, method=method)
            used = "exact" if (method == "exact" or (method == "auto" and max(n1, n2) <= 10000)) else "asymp"
            results.append({"method": method, "statistic": res.statistic, "pvalue": res.pvalue, "used": used})
        cases.append({"scale": scale, "a": a, "b": b, "results": results})
    return cases


def kstwo_cases():
    cases = []
    for n in [1, 2, 3, 5, 10, 20, 50, 100, 140, 141, 500, 1000, 5000, 20000, 100000, 100001, 2000000]:
        ds = set()
        for t in [0.3, 0.5, 0.75, 1.0, 1.5]:  # n d around the Ruben-Gambino region
            ds.add(t / n)
        for nd2 in [0.1, 0.5, 0.754, 0.76, 1.5, 2.19, 2.21, 3.9, 4.1, 8, 18, 50, 369, 371]:  # n d^2 cut points
            ds.add(math.sqrt(nd2 / n))
        for d in [0.45, 0.5, 0.55, 0.9, 1 - 1.0 / n, 1 - 0.5 / n]:
            ds.add(d)
        for d in sorted(ds):
            if 0 < d < 1:
                cases.append({"n": n, "d": d, "sf": st.kstwo.sf(d, n)})
    return cases


def smirnov_cases():
    cases = []
    for n in [1, 2, 5, 10, 37, 100, 1000, 1013, 5000, 100000, 1000001]:
        for d in [1e-3, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.95]:
            cases.append({"n": n, "d": d, "sf": sp.smirnov(n, d)})
    # 1 < n d <= 3 with d <= 0.5 / sqrt(n): the short upper sum, 1 - sum over v >= n (1 - d)
    for n, d in [(1000, 0.0025), (100, 0.02), (10000, 0.00029), (40, 0.07), (2000, 0.0011)]:
        cases.append({"n": n, "d": d, "sf": sp.smirnov(n, d)})
    return cases


def gamma_cases(rng):
    cases = []
    for a in [0.5, 1.0, 1.5, 2.5, 5.0, 10.0, 49.5, 100.0, 500.0, 2500.0]:
        for x in [1e-3, 0.1, 0.5, 1.0, a * 0.5, a, a + 1, a * 1.5, a * 3, a * 10 + 50]:
            cases.append({"a": a, "x": x, "p": sp.gammainc(a, x), "q": sp.gammaincc(a, x)})
    return cases


def chi2_table_cases(rng):
    cases = []
    shapes = [(2, 2)] * 8 + [(2, 3), (3, 2), (2, 5), (3, 3), (4, 6), (2, 10), (5, 5), (10, 3)]
    for k, (r, c) in enumerate(shapes):
        while True:
            scale = rng.choice([3, 10, 50, 1000])
            table = rng.poisson(scale, (r, c))
            if k % 3 == 0:  # zeros where allowed (no empty row or column)
                table[rng.integers(r), rng.integers(c)] = 0
            if k == 5:  # strongly dependent: p near 0
                table = table + np.diag(np.full(min(r, c), 500))[:r, :c]
            if table.sum(axis=0).min() > 0 and table.sum(axis=1).min() > 0:
                break
        for correction in [True, False]:
            res = st.chi2_contingency(table, correction=correction)
            cases.append({"table": table, "correction": correction, "statistic": res[0], "pvalue": res[1],
                          "dof": res[2], "expected": res[3]})
    # Tiny differences from expectation: Yates' correction capped at |O - E| < 1/2.
    table = np.array([[10, 10], [10, 11]])
    for correction in [True, False]:
        res = st.chi2_contingency(table, correction=correction)
        cases.append({"table": table, "correction": correction, "statistic": res[0], "pvalue": res[1], "dof": res[2],
                      "expected": res[3]})
    return cases


def chisquare_cases(rng):
    cases = []
    for k in [2, 3, 5, 10, 40]:
        for _ in range(3):
            expected = rng.uniform(0.5, 3.0, k)
            observed = rng.poisson(expected * 30).astype(float)
            expected = expected / expected.sum() * observed.sum()
            res = st.chisquare(observed, expected)
            cases.append({"observed": observed, "expected": expected, "statistic": res.statistic,
                          "pvalue": res.pvalue})
    return cases


def categorical_cases(rng):
    cases = []
    for n1, n2, k in [(50, 60, 3), (200, 100, 5), (30, 1000, 4), (500, 500, 8), (40, 45, 2)]:
        p = rng.dirichlet(np.ones(k))
        q = 0.7 * p + 0.3 * rng.dirichlet(np.ones(k))
        codes = np.arange(k) * 7 - 3  # arbitrary integer codes
        a = rng.choice(codes, n1, p=p)
        b = rng.choice(codes, n2, p=q)
        cats = np.union1d(a, b)
        table = np.array([[np.sum(a == c) for c in cats], [np.sum(b == c) for c in cats]])
        res = st.chi2_contingency(table)
        cases.append({"a": a, "b": b, "statistic": res[0], "pvalue": res[1], "dof": res[2]})
    return cases


def wasserstein_cases(rng):
    cases = []
    for n1, n2, scale, weighted in [(5, 7, 1000, False), (30, 20, 10, False), (1, 1, 100, False), (3, 2000, 1000, False),
                                    (1000, 1500, 100000, False), (200, 300, 10, True), (20000, 5, 1000, False),
                                    (50, 60, 1000, True)]:
        a = quantised(rng, "normal", n1, scale)
        b = quantised(rng, "normal", n2, scale, shift=0.3, spread=1.5)
        case = {"scale": scale, "a": a, "b": b}
        if weighted:
            wa = rng.uniform(0, 2, n1)
            wb = rng.uniform(0, 2, n2)
            wa[0] = 0.0
            case.update(wa=wa, wb=wb, distance=st.wasserstein_distance(a / scale, b / scale, wa, wb))
        else:
            case["distance"] = st.wasserstein_distance(a / scale, b / scale)
        cases.append(case)
    return cases


def jensen_shannon_cases(rng):
    cases = []
    for k in [2, 3, 5, 20]:
        for zeros in [False, True]:
            p = rng.uniform(0, 5, k)
            q = rng.uniform(0, 5, k)
            if zeros:
                p[0] = 0.0
                q[-1] = 0.0
            for base in [None, 2.0, 10.0]:
                cases.append({"p": p, "q": q, "base": base if base else 0.0, "distance": jensenshannon(p, q, base=base)})
    p = np.array([1.0, 0.0])
    q = np.array([0.0, 1.0])
    cases.append({"p": p, "q": q, "base": 2.0, "distance": jensenshannon(p, q, base=2.0)})
    return cases


def numpy_psi(ref, cur, bins=10, floor=1e-4, binning="quantile"):
    """The PSI the C++ psi() documents, written with NumPy."""
    ref = np.sort(ref)
    if binning == "quantile":
        inner = np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1])
    else:
        inner = ref[0] + (ref[-1] - ref[0]) * (np.arange(1, bins) * (1.0 / bins))
    edges = [inner[0]]
    for e in inner[1:]:
        if e > edges[-1]:
            edges.append(e)
    edges = np.array(edges)
    rc = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=len(edges) + 1) / len(ref)
    cc = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=len(edges) + 1) / len(cur)
    rc = np.maximum(rc, floor)
    cc = np.maximum(cc, floor)
    contributions = (cc - rc) * np.log(cc / rc)
    return float(np.sum(contributions)), contributions, rc, cc, edges


def psi_cases(rng):
    cases = []
    for n1, n2, scale, shift, bins, floor, binning in [
            (1000, 1000, 1000, 0.0, 10, 1e-4, "quantile"), (1000, 800, 1000, 0.5, 10, 1e-4, "quantile"),
            (500, 5000, 10, 0.2, 10, 1e-4, "quantile"), (2000, 300, 1, 0.0, 10, 1e-4, "quantile"),
            (300, 300, 1000, 3.0, 5, 1e-3, "quantile"), (1000, 1000, 1000, 0.3, 20, 1e-6, "uniform"),
            (101, 99, 100, 0.1, 4, 0.01, "uniform")]:
        a = quantised(rng, "normal", n1, scale)
        b = quantised(rng, "normal", n2, scale, shift=shift)
        value, contributions, rc, cc, edges = numpy_psi(a / scale, b / scale, bins, floor, binning)
        cases.append({"scale": scale, "a": a, "b": b, "bins": bins, "floor": floor, "binning": binning,
                      "value": value, "contributions": contributions, "reference_share": rc, "current_share": cc,
                      "edges": edges})
    return cases


# --- River 0.x DDM and PageHinkley, transcribed line by line (river/drift/binary/ddm.py, page_hinkley.py) ---
class RiverDDM:
    def __init__(self, warm_start=30, warning_threshold=2.0, drift_threshold=3.0):
        self.warm_start, self.warning_threshold, self.drift_threshold = warm_start, warning_threshold, drift_threshold
        self._reset()

    def _reset(self):
        self.drift_detected = False
        self.warning_detected = False
        self.n = 0
        self.mean = 0.0
        self.p_min = float("inf")
        self.s_min = float("inf")
        self.ps_min = float("inf")

    def update(self, x):
        if self.drift_detected:
            self._reset()
        self.n += 1
        self.mean += (x - self.mean) / self.n  # river.stats.Mean
        p_i = self.mean
        s_i = math.sqrt(p_i * (1 - p_i) / self.n)
        if self.n > self.warm_start:
            if p_i + s_i <= self.ps_min:
                self.p_min = p_i
                self.s_min = s_i
                self.ps_min = self.p_min + self.s_min
            self.warning_detected = p_i + s_i > self.p_min + self.warning_threshold * self.s_min
            if p_i + s_i > self.p_min + self.drift_threshold * self.s_min:
                self.drift_detected = True
                self.warning_detected = False


class RiverPageHinkley:
    def __init__(self, min_instances=30, delta=0.005, threshold=50, alpha=1 - 0.0001):
        self.min_instances, self.delta, self.threshold, self.alpha = min_instances, delta, threshold, alpha
        self.drift_detected = False
        self._reset()

    def _reset(self):
        self.drift_detected = False
        self.sample_count = 1
        self.x_mean = 0.0
        self.sum = 0.0

    def update(self, x):
        if self.drift_detected:
            self._reset()
        self.x_mean += (x - self.x_mean) / float(self.sample_count)
        self.sum = max(0.0, self.alpha * self.sum + (x - self.x_mean - self.delta))
        self.sample_count += 1
        self.drift_detected = False
        if self.sample_count >= self.min_instances:
            if self.sum >= self.threshold:
                self.drift_detected = True


def concept_drift_cases(rng):
    errors = np.concatenate([rng.random(1000) < 0.1, rng.random(1000) < 0.4, rng.random(1000) < 0.05,
                             rng.random(1000) < 0.5]).astype(int)
    ddm = RiverDDM()
    warnings, drifts = [], []
    for i, x in enumerate(errors):
        ddm.update(int(x))
        if ddm.warning_detected:
            warnings.append(i)
        if ddm.drift_detected:
            drifts.append(i)
    values = np.concatenate([rng.normal(0, 1, 1500), rng.normal(3, 1, 1500), rng.normal(-1, 2, 1000),
                             rng.normal(6, 1, 1000)])
    values = np.round(values * 1000) / 1000
    ph = RiverPageHinkley()
    ph_drifts = []
    for i, x in enumerate(values):
        ph.update(float(x))
        if ph.drift_detected:
            ph_drifts.append(i)
    return {"errors": errors, "ddm_warnings": warnings, "ddm_drifts": drifts,
            "values_milli": np.round(values * 1000).astype(np.int64), "ph_drifts": ph_drifts}


def metrics_cases(rng):
    y_true = rng.choice([-2, 0, 5, 9], 500)
    y_pred = np.where(rng.random(500) < 0.7, y_true, rng.choice([-2, 0, 5, 9], 500))
    y_pred[:3] = 11  # a predicted label never seen in the truth
    reg_true = np.round(rng.normal(2, 3, 400) * 1000) / 1000
    reg_pred = np.round((reg_true + rng.normal(0, 1, 400)) * 1000) / 1000
    latencies = np.round(rng.lognormal(-4, 0.7, 1000) * 1e6) / 1e6
    return {
        "y_true": y_true, "y_pred": y_pred,
        "accuracy": metrics.accuracy_score(y_true, y_pred),
        "precision_macro": metrics.precision_score(y_true, y_pred, average="macro", zero_division=0),
        "recall_macro": metrics.recall_score(y_true, y_pred, average="macro", zero_division=0),
        "f1_macro": metrics.f1_score(y_true, y_pred, average="macro", zero_division=0),
        "reg_true": reg_true, "reg_pred": reg_pred,
        "mse": metrics.mean_squared_error(reg_true, reg_pred), "mae": metrics.mean_absolute_error(reg_true, reg_pred),
        "r2": metrics.r2_score(reg_true, reg_pred),
        "latencies": latencies,
        # numpy's default (linear) percentiles
        "p50": np.percentile(latencies, 50), "p95": np.percentile(latencies, 95), "p99": np.percentile(latencies, 99),
    }


def drift_dataset_case(rng):
    """A small dataset: per-feature SciPy statistics the DriftDetector must reproduce."""
    n_ref, n_cur = 400, 300
    ref = np.round(rng.normal(0, 1, (n_ref, 4)) * 1000) / 1000
    cur = np.round(rng.normal(0, 1, (n_cur, 4)) * 1000) / 1000
    cur[:, 1] = np.round((cur[:, 1] * 1.5 + 0.8) * 1000) / 1000
    cur[:, 3] = np.round((cur[:, 3] + 0.15) * 1000) / 1000
    cat_ref = rng.choice(["a", "b", "c"], n_ref, p=[0.5, 0.3, 0.2])
    cat_cur = rng.choice(["a", "b", "c", "d"], n_cur, p=[0.3, 0.3, 0.3, 0.1])
    ks = [st.ks_2samp(ref[:, j], cur[:, j]) for j in range(4)]
    cats = np.union1d(cat_ref, cat_cur)
    table = np.array([[np.sum(cat_ref == c) for c in cats], [np.sum(cat_cur == c) for c in cats]])
    chi = st.chi2_contingency(table)
    wd = [st.wasserstein_distance(ref[:, j], cur[:, j]) / np.std(ref[:, j]) for j in range(4)]
    pr = np.array([np.mean(cat_ref == c) for c in cats])
    pc = np.array([np.mean(cat_cur == c) for c in cats])
    return {"ref_milli": np.round(ref * 1000).astype(np.int64), "cur_milli": np.round(cur * 1000).astype(np.int64),
            "cat_ref": list(cat_ref), "cat_cur": list(cat_cur),
            "ks_statistic": [r.statistic for r in ks], "ks_pvalue": [r.pvalue for r in ks],
            "chi2_statistic": chi[0], "chi2_pvalue": chi[1],
            "wasserstein_over_std": wd, "jensen_shannon": jensenshannon(pr, pc)}


def reference_md():
    a = np.array(REFERENCE_A)
    b = 1.5 * a[:20] + 0.6
    out = {
        "a": a, "b": b,
        "ks_exact": st.ks_2samp(a, b, method="exact"), "ks_asymp": st.ks_2samp(a, b, method="asymp"),
        "chi2_yates": st.chi2_contingency([[10, 20], [30, 25]]),
        "chi2_plain": st.chi2_contingency([[10, 20], [30, 25]], correction=False),
        "chi2_2x3": st.chi2_contingency([[10, 20, 30], [15, 15, 40]]),
        "chisquare": st.chisquare([30, 50, 20], [40, 40, 20]),
        "js_e": jensenshannon([.1, .4, .5], [.3, .3, .4]), "js_2": jensenshannon([.1, .4, .5], [.3, .3, .4], base=2),
        "wasserstein": st.wasserstein_distance(a, b),
    }
    # The figures REFERENCE.md prints (SciPy 1.10).
    assert abs(out["ks_exact"].pvalue - 0.016934452358394424) < 1e-15
    assert abs(out["ks_asymp"].pvalue - 0.01450009791314888) < 1e-15
    assert abs(out["chi2_yates"][1] - 0.0999616438735349) < 1e-15
    assert abs(out["chi2_2x3"][1] - 0.30304391468510006) < 1e-15
    assert abs(out["chisquare"].pvalue - 0.0820849986238988) < 1e-15
    assert abs(out["js_2"] - 0.21663402449519675) < 1e-15
    assert abs(out["wasserstein"] - 0.8895833333333334) < 1e-15
    return {
        "a": a, "b": b,
        "ks_statistic": out["ks_exact"].statistic, "ks_exact_pvalue": out["ks_exact"].pvalue,
        "ks_asymp_pvalue": out["ks_asymp"].pvalue,
        "chi2_yates": [out["chi2_yates"][0], out["chi2_yates"][1]],
        "chi2_plain": [out["chi2_plain"][0], out["chi2_plain"][1]],
        "chi2_2x3": [out["chi2_2x3"][0], out["chi2_2x3"][1], out["chi2_2x3"][2]],
        "chisquare": [out["chisquare"].statistic, out["chisquare"].pvalue],
        "js_e": out["js_e"], "js_2": out["js_2"], "wasserstein": out["wasserstein"],
    }


def generate(out_dir):
    assert scipy.__version__.startswith("1.10"), scipy.__version__
    rng = np.random.default_rng(20260505)
    refjson.write(out_dir, "monitoring_reference_md.json", reference_md())
    refjson.write(out_dir, "monitoring_special.json",
                  {"kstwo": kstwo_cases(), "smirnov": smirnov_cases(), "gamma": gamma_cases(rng)})
    refjson.write(out_dir, "monitoring_ks.json", ks_cases(rng))
    refjson.write(out_dir, "monitoring_tests.json", {
        "chi2_tables": chi2_table_cases(rng), "chisquare": chisquare_cases(rng),
        "categorical": categorical_cases(rng), "wasserstein": wasserstein_cases(rng),
        "jensen_shannon": jensen_shannon_cases(rng), "psi": psi_cases(rng)})
    refjson.write(out_dir, "monitoring_streams.json", {
        "concept_drift": concept_drift_cases(rng), "metrics": metrics_cases(rng), "drift": drift_dataset_case(rng)})
