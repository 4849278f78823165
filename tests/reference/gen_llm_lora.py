"""LoRA reference from PEFT itself (PyPI `peft` on PyTorch).

    .venv/bin/python tests/reference/make_reference.py llm_lora

Writes tests/reference/data/llm_lora/:
  base.safetensors          a float32 MLP nn.Sequential(Linear(6,16), ReLU, Linear(16,12), Tanh, Linear(12,3))
                            under its state_dict names ("0.weight", ...), which a NeuralNetwork loads
  peft_trained/             an adapter trained by PEFT (r 4, alpha 8, targets "0", "2", "4", rank_pattern
                            {"4": 2}) and written by save_pretrained
  peft_rslora/              an adapter with use_rslora, lora_dropout 0.1 on target "2" (r 2, alpha 4)
  reference.safetensors     X, the base outputs, the PEFT outputs with each adapter (evaluation mode),
                            an upstream gradient G and the gradients of sum(G * output) with respect to
                            every lora_A / lora_B of the trained adapter, and the merged weights of
                            merge_and_unload()
"""
import os
import shutil

import numpy as np
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import save_file
from torch import nn


def base_model():
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 12), nn.Tanh(), nn.Linear(12, 3))
    rng = np.random.default_rng(20261202)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)) * 0.5).float())
    return model


def train(model, X, Y, steps, lr):
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    for _ in range(steps):
        loss = ((model(X) - Y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()


def save_adapter(model, path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    model.save_pretrained(path)
    readme = os.path.join(path, "README.md")  # a model card template, not data
    if os.path.exists(readme):
        os.remove(readme)


def generate(out_dir):
    out = os.path.join(out_dir, "llm_lora")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    X = torch.from_numpy(rng.standard_normal((5, 6))).float()
    X_train = torch.from_numpy(rng.standard_normal((32, 6))).float()
    Y_train = torch.from_numpy(rng.standard_normal((32, 3))).float()
    G = torch.from_numpy(rng.uniform(-1, 1, (5, 3))).float()

    base = base_model()
    save_file({k: v.contiguous() for k, v in base.state_dict().items()}, os.path.join(out, "base.safetensors"),
              metadata={"format": "pt"})
    ref = {"X": X, "G": G}
    with torch.no_grad():
        ref["base_output"] = base(X)

    torch.manual_seed(11)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["0", "2", "4"], rank_pattern={"4": 2}, lora_dropout=0.0)
    model = get_peft_model(base_model(), config)
    train(model, X_train, Y_train, steps=25, lr=0.05)
    save_adapter(model, os.path.join(out, "peft_trained"))
    for p in model.parameters():
        p.grad = None
    output = model(X)
    (G * output).sum().backward()
    ref["trained_output"] = output.detach()
    for name, p in model.named_parameters():
        if p.requires_grad:  # base_model.model.0.lora_A.default.weight -> grad.0.lora_A.weight
            module = name.split(".")[2]
            ref[f"grad.{module}.{name.split('.')[3]}.weight"] = p.grad.detach().clone()
    merged = model.merge_and_unload()
    with torch.no_grad():
        ref["merged_output"] = merged(X)
    for k, v in merged.state_dict().items():
        ref["merged." + k] = v

    torch.manual_seed(12)
    config = LoraConfig(r=2, lora_alpha=4, target_modules=["2"], use_rslora=True, lora_dropout=0.1)
    model = get_peft_model(base_model(), config)
    train(model, X_train, Y_train, steps=15, lr=0.05)
    save_adapter(model, os.path.join(out, "peft_rslora"))
    with torch.no_grad():
        ref["rslora_output"] = model(X)

    # The adapters load back through PEFT onto a fresh base and give the same outputs.
    again = PeftModel.from_pretrained(base_model(), os.path.join(out, "peft_trained")).eval()
    with torch.no_grad():
        assert torch.allclose(again(X), ref["trained_output"], atol=1e-6)

    save_file({k: v.contiguous() for k, v in ref.items()}, os.path.join(out, "reference.safetensors"),
              metadata={"format": "pt", "peft": __import__("peft").__version__, "torch": torch.__version__})
    print(f"  llm_lora: {len(ref)} tensors, PEFT adapters in peft_trained/ and peft_rslora/")


if __name__ == "__main__":
    generate(os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
