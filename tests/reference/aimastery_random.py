"""The library's random engine in Python (core/probability/sampling.hpp), so that a generator can hand a
reference library exactly the inputs a C++ test draws from a seed: std::mt19937_64 (its output is fixed by
the C++ standard), U(0, 1) from the top 53 bits, and Box–Muller normals."""
import math

import numpy as np


class MT19937_64:
    """std::mt19937_64: seeded as the standard specifies; the 10000th output of seed 5489 is
    9981545732273789042."""

    def __init__(self, seed):
        self.mt = [0] * 312
        self.mt[0] = seed & 0xFFFFFFFFFFFFFFFF
        for i in range(1, 312):
            prev = self.mt[i - 1]
            self.mt[i] = (6364136223846793005 * (prev ^ (prev >> 62)) + i) & 0xFFFFFFFFFFFFFFFF
        self.index = 312

    def _twist(self):
        mt = self.mt
        for i in range(312):
            x = (mt[i] & 0xFFFFFFFF80000000) | (mt[(i + 1) % 312] & 0x7FFFFFFF)
            xa = x >> 1
            if x & 1:
                xa ^= 0xB5026F5AA96619E9
            mt[i] = mt[(i + 156) % 312] ^ xa
        self.index = 0

    def __call__(self):
        if self.index >= 312:
            self._twist()
        y = self.mt[self.index]
        self.index += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        return y


def uniform_open01(rng):
    return ((rng() >> 11) + 0.5) * 2.0 ** -53


def standard_normal(rng):
    u1 = uniform_open01(rng)
    u2 = uniform_open01(rng)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def standard_normal_matrix(seed, rows, cols, dtype=np.float32):
    """The matrix a C++ test fills row by row with static_cast<T>(detail::standard_normal(rng))."""
    rng = MT19937_64(seed)
    return np.array([standard_normal(rng) for _ in range(rows * cols)], dtype=np.float64).astype(dtype).reshape(rows, cols)
