#!/usr/bin/python3
"""Writes the reference data the C++ tests read, from NumPy / SciPy / scikit-learn / PyTorch.

    /usr/bin/python3 tests/reference/make_reference.py            # every domain
    /usr/bin/python3 tests/reference/make_reference.py core       # only tests/reference/gen_core*.py

Each tests/reference/gen_<domain>.py defines generate(out_dir) and writes JSON (or safetensors) files
into tests/reference/data/. The files are committed: CI and users need no Python. Every generator is
seeded, so re-running it reproduces the committed files.
"""
import glob
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data")


def main():
    os.makedirs(OUT, exist_ok=True)
    wanted = sys.argv[1:]
    for path in sorted(glob.glob(os.path.join(HERE, "gen_*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        if wanted and not any(name.startswith("gen_" + w) for w in wanted):
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"{name}:", flush=True)
        module.generate(OUT)


if __name__ == "__main__":
    main()
