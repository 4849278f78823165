"""Writes the small safetensors seeds of fuzz/corpus/safetensors with the safetensors package (every
dtype the reader knows, empty and scalar tensors, metadata). Run from the PyPI venv:
    .venv/bin/python fuzz/corpus/make_safetensors_seeds.py
"""
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

out = Path(__file__).resolve().parent / "safetensors"
out.mkdir(exist_ok=True)
save_file({"f64": np.array([[1.5, -2.0]], dtype=np.float64), "f32": np.arange(6, dtype=np.float32).reshape(2, 3)},
          str(out / "floats.safetensors"), metadata={"format": "pt"})
save_file({"f16": np.array([0.5, -65504.0, np.inf], dtype=np.float16),
           "i64": np.array([-(2**62), 7], dtype=np.int64), "i32": np.array([[-3]], dtype=np.int32),
           "i16": np.array([1, -1], dtype=np.int16), "i8": np.array([-128], dtype=np.int8),
           "u8": np.array([255, 0], dtype=np.uint8), "b": np.array([True, False, True])},
          str(out / "integers_bool.safetensors"))
save_file({"scalar": np.array(3.25, dtype=np.float32), "empty": np.zeros((0, 4), dtype=np.float64),
           "cube": np.ones((2, 1, 2), dtype=np.float32)}, str(out / "scalar_empty_cube.safetensors"),
          metadata={"aimastery.layers": "Dense(4 -> 8)", "": "empty key"})
