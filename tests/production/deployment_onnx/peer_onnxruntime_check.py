"""The onnxruntime peer of aimastery's ONNX export (include/aimastery/production/deployment/onnx_export.hpp).

    .venv/bin/python peer_onnxruntime_check.py <dir>

<dir> holds the .onnx files the C++ test "writes ONNX files for the onnxruntime peer" exported and
expected.json: per file the input X (float32) and aimastery's outputs. For every file: onnx.checker
accepts the model (full check, with shape inference), onnxruntime runs it on X, and each output equals
ours to 1e-5 (absolute, plus 1e-5 relative); labels must be equal wherever our probabilities have a
unique maximum (an exact tie may be broken either way). Exits 77 (skipped) without onnx/onnxruntime.
"""
import json
import os
import sys

try:
    import numpy as np
    import onnx
    import onnxruntime as ort
except ImportError as error:  # pragma: no cover
    print(f"skipped: {error}")
    sys.exit(77)

TOL = 1e-5


def main(directory):
    with open(os.path.join(directory, "expected.json")) as f:
        expected = json.load(f)
    failures = 0
    for case in expected["models"]:
        path = os.path.join(directory, case["file"])
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        X = np.asarray(case["X"], dtype=np.float32)
        names = [o.name for o in session.get_outputs()]
        results = dict(zip(names, session.run(None, {"X": X})))
        ours = case["outputs"]
        report = []
        for name, value in ours.items():
            theirs = np.asarray(results[name])
            mine = np.asarray(value, dtype=theirs.dtype)
            if name == "label":
                proba = np.asarray(ours["probabilities"])
                top = np.sort(proba, axis=1)
                unique = (top[:, -1] - top[:, -2]) > 1e-6
                bad = int(np.sum((theirs != mine) & unique))
                report.append(f"{name}: {bad} differ of {len(mine)} ({int(np.sum(~unique))} ties)")
                failures += bad > 0
                continue
            theirs = theirs.reshape(mine.shape)
            error = float(np.max(np.abs(theirs - mine))) if mine.size else 0.0
            ok = np.allclose(theirs, mine, atol=TOL, rtol=TOL)
            report.append(f"{name}: max |ours - onnxruntime| = {error:.2e}")
            failures += not ok
        print(f"{case['file']}: checker ok; " + "; ".join(report))
    print(f"onnxruntime {ort.__version__}, onnx {onnx.__version__}: {len(expected['models'])} models, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
