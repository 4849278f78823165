"""NF4 quantisation reference from bitsandbytes itself (PyPI `bitsandbytes`, its CPU path).

    tools/python/make_venv.sh && .venv/bin/python tests/reference/make_reference.py llm_nf4

Writes tests/reference/data/llm_nf4.safetensors: for each case the float32 input, the packed 4-bit codes,
the per-block absmax, the dequantised values and, for double quantisation (compress_statistics=True),
the 8-bit absmax codes, their per-256 scales and the offset; plus bitsandbytes' 8-bit dynamic map.
"""
import os

import numpy as np
import torch
from safetensors.numpy import save_file

import bitsandbytes.functional as F
from bitsandbytes.backends.default.ops import _dequantize_4bit_compute
from bitsandbytes.backends.utils import _get_4bit_code

from aimastery_random import standard_normal_matrix

NF4 = np.array([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
                -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
                0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
                0.7229568362236023, 1.0], dtype=np.float32)


def cases():
    rng = np.random.default_rng(20261201)
    yield "randn_64", rng.standard_normal((48, 64)), 64, False
    yield "randn_dq_64", rng.standard_normal((320, 96)), 64, True      # 480 blocks: two 256-blocks of stats
    yield "odd_partial_128", rng.standard_normal((1, 1001)), 128, False  # partial last block, pad nibble
    yield "odd_dq_256", rng.standard_normal((7, 1033)), 256, True
    for b in (512, 1024, 2048, 4096):
        yield f"randn_{b}", rng.standard_normal((3, 5000)), b, False
    heavy = rng.standard_t(2.0, (40, 64)) * 3.0
    yield "heavy_tail_64", heavy, 64, True
    zeros = rng.standard_normal((1, 300))
    zeros[0, 64:128] = 0.0          # a whole zero block
    zeros[0, 256:] = 0.0            # a zero partial last block
    yield "zero_blocks_64", zeros, 64, False
    # Ties: a block whose absmax is exactly 1 and whose other values sit exactly on the midpoints that
    # separate neighbouring codes (bitsandbytes gives the lower code), and just beside them.
    mids = ((NF4[:-1] + NF4[1:]) / np.float32(2)).astype(np.float32)
    ties = np.concatenate([[1.0], mids, np.nextafter(mids, np.float32(2)), np.nextafter(mids, np.float32(-2)),
                           -mids, [0.0] * 2])
    ties = np.resize(ties.astype(np.float32), 64)
    ties[0] = 1.0
    yield "ties_64", ties.reshape(1, 64), 64, False
    yield "tiny_3", np.array([[0.5, -0.25, 1e-30]]), 64, False
    yield "large_range_64", rng.standard_normal((4, 64)) * np.float32(1e30), 64, True


def generate(out_dir):
    tensors = {}
    names = []
    for name, x, blocksize, dq in cases():
        x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
        t = torch.from_numpy(x.copy())
        packed, state = F.quantize_4bit(t, blocksize=blocksize, compress_statistics=dq, quant_type="nf4")
        # The dequantised values through bitsandbytes' generic implementation: its CPU C kernel
        # (dequantize_4bit on float32) restarts the blocks at every row, which is wrong when the row
        # length is not a multiple of the block size (rows of 96 at block 64 differ by up to 2.7).
        absmax = state.absmax
        if dq:
            absmax = F.dequantize_blockwise(state.absmax, state.state2) + state.offset
        deq = _dequantize_4bit_compute(packed.reshape(-1), absmax, _get_4bit_code("nf4", packed.device), blocksize,
                                       x.shape, torch.float32)
        p = f"{name}."
        tensors[p + "input"] = x
        tensors[p + "packed"] = packed.numpy().reshape(-1).astype(np.uint8)
        tensors[p + "dequantized"] = deq.numpy().astype(np.float32)
        tensors[p + "blocksize"] = np.array([blocksize], dtype=np.int64)
        if dq:
            tensors[p + "absmax_codes"] = state.absmax.numpy().reshape(-1).astype(np.uint8)
            tensors[p + "absmax_scales"] = state.state2.absmax.numpy().reshape(-1).astype(np.float32)
            tensors[p + "absmax_offset"] = np.array([float(state.offset)], dtype=np.float32)
            tensors[p + "absmax"] = F.dequantize_blockwise(state.absmax, state.state2).numpy().astype(np.float32) \
                + np.float32(state.offset)
        else:
            tensors[p + "absmax"] = state.absmax.numpy().reshape(-1).astype(np.float32)
        names.append(name)
    tensors["dynamic_map"] = F.create_dynamic_map(signed=True).numpy().astype(np.float32)
    # Mean absolute error of quantise -> dequantise at block 64 on 1024 x 1024 standard normal values: the
    # ones the C++ test draws from seed 20261201 with the library's engine.
    big = torch.from_numpy(standard_normal_matrix(20261201, 1024, 1024))
    q, s = F.quantize_4bit(big, blocksize=64, quant_type="nf4")
    mae = (big - F.dequantize_4bit(q, s, quant_type="nf4")).abs().double().mean().item()
    tensors["randn_1024_mae"] = np.array([mae], dtype=np.float64)
    path = os.path.join(out_dir, "llm_nf4.safetensors")
    save_file(tensors, path, metadata={"cases": ",".join(names), "bitsandbytes": __import__("bitsandbytes").__version__})
    print(f"  wrote llm_nf4.safetensors ({os.path.getsize(path)} bytes), {len(names)} cases, randn MAE {mae:.6f}")
