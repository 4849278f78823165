"""Golden draws of the library's one random engine (core/probability/sampling.hpp), written from the
definitions in plain Python: std::mt19937_64 (its output sequence is fixed by the C++ standard; the 10000th
output for the default seed 5489 is 9981545732273789042), Lemire's unbiased integer draw, the forward
Fisher–Yates shuffle, the forest's bootstrap and the tree's first feature draw. A seed must give these
numbers on every platform and standard library."""
import json
import os

MASK = (1 << 64) - 1


class MT19937_64:
    n, m = 312, 156

    def __init__(self, seed):
        self.mt = [seed & MASK]
        for i in range(1, self.n):
            prev = self.mt[-1]
            self.mt.append((6364136223846793005 * (prev ^ (prev >> 62)) + i) & MASK)
        self.index = self.n

    def __call__(self):
        if self.index >= self.n:
            upper, lower = 0xFFFFFFFF80000000, 0x7FFFFFFF
            for i in range(self.n):
                x = (self.mt[i] & upper) | (self.mt[(i + 1) % self.n] & lower)
                xa = (x >> 1) ^ (0xB5026F5AA96619E9 if x & 1 else 0)
                self.mt[i] = self.mt[(i + self.m) % self.n] ^ xa
            self.index = 0
        y = self.mt[self.index]
        self.index += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        return y & MASK


def uniform_below(rng, n):
    """Lemire: the high word of x·n, rejecting low words below 2⁶⁴ mod n."""
    m = rng() * n
    if (m & MASK) < n:
        t = (1 << 64) % n
        while (m & MASK) < t:
            m = rng() * n
    return m >> 64


def partial_shuffle(values, count, rng):
    n = len(values)
    i = 0
    while i < count and i + 1 < n:
        j = i + uniform_below(rng, n - i)
        values[i], values[j] = values[j], values[i]
        i += 1
    return values


def derive_seed(seed, stream):
    """splitmix64's finaliser (tree/tree_options.hpp)."""
    z = (seed + 0x9E3779B97F4A7C15 * (stream + 1)) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def generate(out_dir):
    check = MT19937_64(5489)
    for _ in range(9999):
        check()
    assert check() == 9981545732273789042

    rng = MT19937_64(2026)
    raw = [rng() for _ in range(5)]
    bounds = [1, 2, 3, 7, 10, 1000, 6 * 10**17 + 5, (1 << 63) + 1, MASK]
    rng = MT19937_64(2026)
    below = [[n, [uniform_below(rng, n) for _ in range(6)]] for n in bounds]
    shuffled = partial_shuffle(list(range(10)), 10, MT19937_64(7))
    prefix = partial_shuffle(list(range(20)), 3, MT19937_64(11))[:3]
    # Forest (seed 42, 12 rows): tree t's bootstrap counts come from the engine seeded derive_seed(42, 2t), its
    # feature draws from derive_seed(42, 2t + 1); with max_features = 1 and 8 non-constant features the root
    # splits on the first feature drawn.
    bootstrap = []
    root_features = []
    for t in range(4):
        counts = [0] * 12
        r = MT19937_64(derive_seed(42, 2 * t))
        for _ in range(12):
            counts[uniform_below(r, 12)] += 1
        bootstrap.append(counts)
        root_features.append(uniform_below(MT19937_64(derive_seed(42, 2 * t + 1)), 8))
    tree_roots = [[seed, uniform_below(MT19937_64(seed), 8)] for seed in range(6)]
    payload = {"raw_2026": [str(v) for v in raw], "uniform_below_2026": [[str(n), v] for n, v in below],
               "shuffle_10_seed_7": shuffled, "partial_shuffle_3_of_20_seed_11": prefix,
               "forest_seed_42_bootstrap_12": bootstrap, "forest_seed_42_root_features_8": root_features,
               "tree_root_feature_of_8_by_seed": tree_roots}
    with open(os.path.join(out_dir, "classical_sampling.json"), "w") as f:
        json.dump(payload, f, indent=1)


if __name__ == "__main__":
    generate(os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
