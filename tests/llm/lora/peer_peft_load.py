"""Python peer of tests/llm/lora: PEFT loads an adapter that aimastery trained and wrote.

    peer_peft_load.py DIR

DIR holds what the C++ test "writes an adapter for the PEFT peer" wrote: base.safetensors (the base
network, PyTorch state_dict names, its layers in the metadata "aimastery.layers"), adapter/ (PEFT's
adapter_model.safetensors and adapter_config.json) and io.safetensors (X and aimastery's output).
The base is rebuilt as an nn.Sequential, the adapter loaded with PeftModel.from_pretrained, and PEFT's
output compared with aimastery's to 1e-5. Exit 0: agreement; 1: disagreement; 77: PyTorch or PEFT is
not installed (ctest reports the test as skipped, not passed).
"""
import os
import re
import sys

try:
    import torch
    from peft import PeftModel
    from safetensors import safe_open
    from safetensors.torch import load_file
    from torch import nn
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(77)


def layer_from(name):
    m = re.fullmatch(r"Dense\((\d+) -> (\d+)(, no bias)?\)", name)
    if m:
        return nn.Linear(int(m.group(1)), int(m.group(2)), bias=m.group(3) is None)
    m = re.fullmatch(r"Activation\((\w+)\)", name)
    if m and m.group(1) in ("relu", "tanh", "sigmoid", "identity"):
        return {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "identity": nn.Identity}[m.group(1)]()
    raise SystemExit(f"unknown layer {name!r}")


def main(directory):
    with safe_open(os.path.join(directory, "base.safetensors"), "pt") as f:
        layers = f.metadata()["aimastery.layers"].split(", ")
    # "Dense(6 -> 16)" contains no ", " unless it has no bias: join those back.
    merged = []
    for part in layers:
        if part == "no bias)":
            merged[-1] += ", " + part
        else:
            merged.append(part)
    model = nn.Sequential(*[layer_from(name) for name in merged])
    model.load_state_dict(load_file(os.path.join(directory, "base.safetensors")))
    model = PeftModel.from_pretrained(model, os.path.join(directory, "adapter")).eval()
    io = load_file(os.path.join(directory, "io.safetensors"))
    with torch.no_grad():
        output = model(io["X"])
    error = ((output - io["output"]).abs() / io["output"].abs().clamp(min=1.0)).max().item()
    trainable = sum(p.numel() for n, p in model.named_parameters() if "lora_" in n)
    print(f"PEFT loaded the adapter ({trainable} LoRA parameters); largest difference from aimastery: {error:.3g}")
    return 0 if error <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
