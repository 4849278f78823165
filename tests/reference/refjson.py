"""Helpers for the reference generators: JSON with inf/nan as strings, arrays as nested lists."""
import json
import math
import os

import numpy as np


def _clean(x):
    if isinstance(x, np.ndarray):
        return _clean(x.tolist())
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (np.floating, float)):
        x = float(x)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def write(out_dir, name, payload):
    """Writes payload to out_dir/name as JSON with full double precision."""
    path = os.path.join(out_dir, name)
    with open(path, "w") as f:
        json.dump(_clean(payload), f, separators=(",", ":"))
    print(f"  wrote {name} ({os.path.getsize(path)} bytes)")
