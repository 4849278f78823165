"""SHA-256 digests from Python's hashlib for the C++ SHA-256 (production/deployment/sha256.hpp).

Messages of seeded random lengths around the block boundaries (55, 56, 63, 64, 119, 120 ... bytes, where
the padding changes shape) and beyond, with seeded random bytes; written as hex.
"""
import hashlib
import random

from refjson import write


def generate(out_dir):
    rng = random.Random(20261202)
    lengths = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096]
    lengths += [rng.randrange(0, 5000) for _ in range(24)]
    cases = []
    for n in lengths:
        message = bytes(rng.randrange(256) for _ in range(n))
        cases.append({"message": message.hex(), "sha256": hashlib.sha256(message).hexdigest()})
    write(out_dir, "deployment_sha256.json", {"cases": cases})
