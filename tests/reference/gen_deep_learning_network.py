"""Reference data for the optimisers, schedules, gradient clipping, safetensors and NeuralNetwork tests.

Expected values come from PyTorch (torch.optim, torch.optim.lr_scheduler, torch.nn.utils.clip_grad_norm_,
torch.nn) in float64, and the reference safetensors files from the `safetensors` package
(safetensors.torch.save_file and safetensors.numpy.save_file). Run with a Python that has numpy, torch and
safetensors, e.g. Debian's python3 with safetensors in a venv that sees the system packages:

    /usr/bin/python3 -m venv --system-site-packages /tmp/venv-st && /tmp/venv-st/bin/pip install safetensors
    /tmp/venv-st/bin/python tests/reference/make_reference.py deep_learning_network

Without the package the files are written by `write_safetensors_spec` below, a direct implementation of
the format's specification (json + struct), and the JSON records which writer was used.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refjson  # noqa: E402

try:
    import safetensors.numpy
    import safetensors.torch
    HAVE_SAFETENSORS = True
except ImportError:
    HAVE_SAFETENSORS = False

_DTYPES = {np.dtype("float64"): "F64", np.dtype("float32"): "F32", np.dtype("float16"): "F16",
           np.dtype("int64"): "I64", np.dtype("int32"): "I32", np.dtype("uint8"): "U8"}


def write_safetensors_spec(path, arrays, metadata=None):
    """The safetensors format from its specification: u64 header length, JSON header, byte buffer."""
    header, chunks, offset = {}, [], 0
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _DTYPES[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def read_safetensors_spec(path):
    """Reads back a file with the same layout (to check what was written, whoever wrote it)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    metadata = header.pop("__metadata__", {})
    buffer = data[8 + n:]
    inverse = {v: k for k, v in _DTYPES.items()}
    out = {}
    for name, entry in header.items():
        b, e = entry["data_offsets"]
        if entry["dtype"] == "BF16":
            u16 = np.frombuffer(buffer[b:e], dtype="<u2").astype(np.uint32) << 16
            out[name] = u16.view(np.float32).reshape(entry["shape"])
        else:
            out[name] = np.frombuffer(buffer[b:e], dtype=inverse[entry["dtype"]]).reshape(entry["shape"])
    return out, metadata


def save_torch(path, tensors, metadata):
    if HAVE_SAFETENSORS:
        safetensors.torch.save_file(tensors, path, metadata=metadata)
    else:
        write_safetensors_spec(path, {k: v.numpy() for k, v in tensors.items() if v.dtype != torch.bfloat16}, metadata)


def describe(path, source):
    """Expected contents: dtypes and shapes as the file's header states them, values from the source
    tensors themselves (cast to float64), after checking the file reads back to them."""
    arrays, metadata = read_safetensors_spec(path)
    with open(path, "rb") as f:
        data = f.read()
    header = json.loads(data[8:8 + struct.unpack("<Q", data[:8])[0]])
    tensors = {}
    for name, value in source.items():
        expected = np.asarray(value, dtype=np.float64)
        assert np.array_equal(np.asarray(arrays[name], dtype=np.float64), expected), name
        tensors[name] = {"dtype": header[name]["dtype"], "shape": list(expected.shape), "values": expected.ravel()}
    return {"tensors": tensors, "metadata": metadata}


# ---------------------------------------------------------------------------------------------------------
def safetensors_reference(out_dir):
    g = torch.Generator().manual_seed(11)
    torch_tensors = {
        "weight_f32": torch.randn(3, 4, generator=g, dtype=torch.float32),
        "weight_f64": torch.randn(2, 5, generator=g, dtype=torch.float64),
        "half": torch.tensor([0.0, -1.5, 65504.0, 6.1e-5, 3e-8, float("inf")], dtype=torch.float16),
        "scalar": torch.tensor(2.5, dtype=torch.float64),
        "counts": torch.arange(-3, 3, dtype=torch.int64),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
    }
    if HAVE_SAFETENSORS:
        torch_tensors["brain"] = torch.tensor([1.0, -2.0, 3.140625, 1e-3], dtype=torch.bfloat16)
    torch_path = os.path.join(out_dir, "safetensors_torch.safetensors")
    save_torch(torch_path, torch_tensors, {"format": "pt", "writer": "torch"})
    loaded = safetensors.torch.load_file(torch_path) if HAVE_SAFETENSORS else None
    if loaded is not None:
        for k, v in torch_tensors.items():
            assert torch.equal(loaded[k], v), k

    rng = np.random.default_rng(5)
    numpy_arrays = {
        "cube": rng.standard_normal((2, 3, 4)),
        "row": rng.standard_normal(7).astype(np.float32),
        "ints": np.array([[1, -2], [3, 4]], dtype=np.int32),
        "bytes": np.array([0, 255, 7], dtype=np.uint8),
    }
    numpy_path = os.path.join(out_dir, "safetensors_numpy.safetensors")
    if HAVE_SAFETENSORS:
        safetensors.numpy.save_file(numpy_arrays, numpy_path, metadata={"writer": "numpy"})
    else:
        write_safetensors_spec(numpy_path, numpy_arrays, {"writer": "numpy"})
    print(f"  wrote safetensors_torch.safetensors, safetensors_numpy.safetensors "
          f"({'safetensors package' if HAVE_SAFETENSORS else 'write_safetensors_spec'})")
    refjson.write(out_dir, "safetensors_reference.json", {
        "writer": "safetensors package" if HAVE_SAFETENSORS else "write_safetensors_spec",
        "safetensors_torch.safetensors": describe(torch_path, {k: v.double().numpy() for k, v in torch_tensors.items()}),
        "safetensors_numpy.safetensors": describe(numpy_path, numpy_arrays),
    })


# ---------------------------------------------------------------------------------------------------------
OPTIMIZER_CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.02, "betas": (0.8, 0.95), "eps": 1e-6}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.3, "betas": (0.85, 0.99)}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-6}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.1}),
]
STEPS = 5


def optimizers_reference(out_dir):
    rng = np.random.default_rng(2026)
    initial = {"weight": rng.standard_normal((3, 4)), "bias": rng.standard_normal((1, 3))}
    gradients = [{k: rng.standard_normal(v.shape) for k, v in initial.items()} for _ in range(STEPS)]
    cases = []
    for name, options in OPTIMIZER_CASES:
        params = {k: torch.nn.Parameter(torch.tensor(v, dtype=torch.float64)) for k, v in initial.items()}
        opt = getattr(torch.optim, name)(list(params.values()), **options)
        after = []
        for step in range(STEPS):
            for k, p in params.items():
                p.grad = torch.tensor(gradients[step][k], dtype=torch.float64)
            opt.step()
            after.append({k: p.detach().numpy().copy() for k, p in params.items()})
        opts = dict(options)
        if "betas" in opts:
            opts["beta1"], opts["beta2"] = opts.pop("betas")
        cases.append({"optimizer": name, "options": opts, "after": after})
    refjson.write(out_dir, "dl_optimizers.json", {"initial": initial, "gradients": gradients, "cases": cases})


def schedules_reference(out_dir):
    epochs = 20
    base = 0.1

    def run(make):
        p = [torch.nn.Parameter(torch.zeros(1))]
        opt = torch.optim.SGD(p, lr=base)
        sched = make(opt)
        rates = []
        for _ in range(epochs):
            rates.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return rates

    S = torch.optim.lr_scheduler
    import warnings
    warnings.filterwarnings("ignore")
    cases = {
        "step": run(lambda o: S.StepLR(o, step_size=7, gamma=0.5)),
        "exponential": run(lambda o: S.ExponentialLR(o, gamma=0.9)),
        "cosine": run(lambda o: S.CosineAnnealingLR(o, T_max=8, eta_min=0.001)),
        "warmup": run(lambda o: S.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=4)),
        "warmup_cosine": run(lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=3),
                                                          S.CosineAnnealingLR(o, T_max=10, eta_min=0.0)], milestones=[3])),
        "warmup_step": run(lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.5, end_factor=1.0, total_iters=2),
                                                        S.StepLR(o, step_size=5, gamma=0.3)], milestones=[2])),
    }
    refjson.write(out_dir, "dl_schedules.json", {"base": base, "epochs": epochs, "cases": cases})


def clipping_reference(out_dir):
    rng = np.random.default_rng(7)
    grads = [rng.standard_normal((3, 4)), rng.standard_normal((1, 3)), rng.standard_normal((2, 2))]
    cases = []
    for max_norm, norm_type in [(1.0, 2.0), (100.0, 2.0), (0.5, float("inf")), (2.0, 1.0), (1.5, 3.0)]:
        params = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in grads]
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g)
        total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
        cases.append({"max_norm": max_norm, "norm_type": norm_type, "total_norm": float(total),
                      "clipped": [p.grad.numpy().copy() for p in params]})
    refjson.write(out_dir, "dl_clipping.json", {"gradients": grads, "cases": cases})


# ---------------------------------------------------------------------------------------------------------
def make_mlp(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)).double()


def mlp_reference(out_dir):
    model = make_mlp(3)
    path = os.path.join(out_dir, "dl_mlp_4_8_3.safetensors")
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_torch(path, state, {"format": "pt"})
    rng = np.random.default_rng(4)
    X = rng.standard_normal((6, 4))
    labels = np.array([0, 2, 1, 1, 0, 2])
    with torch.no_grad():
        logits = model(torch.tensor(X)).numpy()

    # One full training step (forward, mean cross-entropy, backward, optimiser step) per optimiser, and three.
    steps = {}
    for name, options in [("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {"lr": 0.01})]:
        m = make_mlp(3)
        opt = getattr(torch.optim, name)(m.parameters(), **options)
        losses, grads, params = [], [], []
        for _ in range(3):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(m(torch.tensor(X)), torch.tensor(labels))
            loss.backward()
            losses.append(loss.item())
            grads.append({k: p.grad.numpy().copy() for k, p in m.named_parameters()})
            opt.step()
            params.append({k: p.detach().numpy().copy() for k, p in m.named_parameters()})
        steps[name] = {"options": options, "losses": losses, "gradients": grads, "parameters": params}
    refjson.write(out_dir, "dl_mlp.json", {"X": X, "labels": labels, "logits": logits,
                                           "probabilities": torch.softmax(torch.tensor(logits), 1).numpy(),
                                           "training": steps})


def generate(out_dir):
    torch.set_default_dtype(torch.float64)
    safetensors_reference(out_dir)
    torch.set_default_dtype(torch.float32)
    optimizers_reference(out_dir)
    schedules_reference(out_dir)
    clipping_reference(out_dir)
    mlp_reference(out_dir)
