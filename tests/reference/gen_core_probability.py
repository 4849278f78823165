"""Reference values for core.probability from scipy.stats and scipy.special."""
import numpy as np
from scipy import special, stats

from refjson import write


def generate(out):
    rng = np.random.default_rng(20260102)

    # Gaussian: pdf, logpdf, cdf at many points for several (mu, sigma), including far tails.
    gaussians = []
    for mu, sigma in [(0.0, 1.0), (1.5, 0.3), (-4.0, 7.5), (1e3, 1e-2)]:
        z = np.concatenate([np.linspace(-37, 8, 60), rng.normal(size=20), [0.0, 1e-8, -1e-8]])
        x = mu + sigma * z
        d = stats.norm(mu, sigma)
        gaussians.append({"mean": mu, "std": sigma, "x": x, "pdf": d.pdf(x), "log_pdf": d.logpdf(x),
                          "cdf": d.cdf(x), "entropy": float(d.entropy())})
    p = np.concatenate([[1e-300, 1e-100, 1e-20, 1e-10, 1e-5, 0.01, 0.02425, 0.075, 0.3, 0.5 - 1e-12, 0.5,
                         0.5 + 1e-12, 0.7, 0.925, 0.97575, 0.999, 1 - 1e-10, 1 - 1e-16],
                        rng.uniform(size=30)])
    ppf = {"p": p, "ndtri": special.ndtri(p), "ppf_mu_sigma": [2.0, 3.0], "ppf": stats.norm(2.0, 3.0).ppf(p)}
    fit_data = rng.normal(3.0, 2.0, size=500)
    mu_hat, sigma_hat = stats.norm.fit(fit_data)
    fit = {"data": fit_data, "mean": mu_hat, "std": sigma_hat}

    bernoulli = []
    for q in [0.0, 1e-12, 0.2, 0.5, 0.9, 1.0]:
        d = stats.bernoulli(q)
        bernoulli.append({"p": q, "pmf": [d.pmf(0), d.pmf(1)], "log_pmf": [d.logpmf(0), d.logpmf(1)],
                          "entropy": float(d.entropy())})

    # Information measures. entropy(p, q, base) in SciPy is the KL divergence; cross entropy is
    # H(p) + D(p||q), computed here directly from its definition with scipy.special.xlogy.
    info = []
    def case(pv, qv):
        pv = np.asarray(pv, float); qv = np.asarray(qv, float)
        item = {"p": pv, "q": qv}
        for base, key in [(None, "e"), (2.0, "2"), (10.0, "10")]:
            lb = 1.0 if base is None else np.log(base)
            item["entropy_" + key] = stats.entropy(pv, base=base)
            item["kl_" + key] = np.sum(special.rel_entr(pv, qv)) / lb
            item["cross_entropy_" + key] = -np.sum(special.xlogy(pv, qv)) / lb if np.all((qv > 0) | (pv == 0)) else np.inf
        info.append(item)
    for k in [2, 3, 5, 10, 50]:
        for _ in range(4):
            a = rng.dirichlet(np.ones(k)); b = rng.dirichlet(np.ones(k))
            case(a, b)
    case([0.5, 0.5, 0.0], [0.25, 0.25, 0.5])       # 0 log 0 = 0
    case([0.5, 0.5, 0.0], [0.5, 0.0, 0.5])         # q = 0 where p > 0: +inf
    case([1.0, 0.0], [1.0, 0.0])                   # degenerate, equal
    case([0.1, 0.4, 0.5], [0.3, 0.3, 0.4])
    write(out, "core_probability.json", {"gaussian": gaussians, "ppf": ppf, "fit": fit, "bernoulli": bernoulli,
                                         "information": info})
