"""LoRA with lora_dropout in training, from PEFT itself, with the dropout masks the library draws.

    .venv/bin/python tests/reference/make_reference.py llm_lora_dropout

PEFT computes y = W x + b + s · B A · dropout(x) with torch's generator; the library draws its masks with its
own engine (std::mt19937_64, ported in aimastery_random.py). So PEFT's nn.Dropout modules are replaced here by
the masks the library draws for the same layers (each LoRA update's generator is seeded with its seed XOR
0x9e3779b97f4a7c15; the update of the k-th adapted projection of layer l has seed 6l + k; a mask entry is
1/(1 − p) when U(0, 1) ≥ p, else 0, drawn row by row over the padded batch), and the training output is then
exactly comparable.

Writes tests/reference/data/llm_lora_dropout/:
  model/                   a tiny BERT (hidden 8, 2 heads, 2 layers, FFN 16, 12-token vocabulary) with
                           N(0, 0.3²) weights: config.json, vocab.txt, model.safetensors
  adapter/                 PEFT's adapter (r 2, alpha 4, lora_dropout 0.25, targets query, value, dense) with
                           random A and B, written by save_pretrained
  reference.safetensors    input_ids and attention_mask (F32), the last hidden state and the mean-pooled
                           unit embeddings of PEFT in training mode with those masks, and the mask of
                           encoder.layer.0.attention.self.query
"""
import json
import os
import shutil

import numpy as np

from aimastery_random import MT19937_64, uniform_open01

P = 0.25
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "##s", "."]
IDS = [[2, 5, 6, 7, 8, 5, 9, 11, 3], [2, 6, 10, 3], [2, 5, 9, 3], [2, 8, 5, 6, 5, 5, 9, 7, 11, 3]]
# The projections in the library's order (query, key, value, out_proj, linear1, linear2); the adapted ones.
PROJECTIONS = ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
               "intermediate.dense", "output.dense"]
ADAPTED = ["attention.self.query", "attention.self.value", "attention.output.dense", "intermediate.dense",
           "output.dense"]


def library_mask(seed, rows, cols):
    rng = MT19937_64(seed ^ 0x9E3779B97F4A7C15)
    scale = np.float32(1.0 / (1.0 - P))
    m = np.empty(rows * cols, dtype=np.float32)
    for i in range(rows * cols):
        m[i] = scale if uniform_open01(rng) >= P else np.float32(0.0)
    return m.reshape(rows, cols)


def generate(out_dir):
    import torch
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import save_file
    from transformers import BertConfig, BertModel

    out = os.path.join(out_dir, "llm_lora_dropout")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "model"))
    config = BertConfig(vocab_size=12, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=16, type_vocab_size=2, hidden_act="gelu",
                        layer_norm_eps=1e-12, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BertModel(config).float()
    rng = np.random.default_rng(20261204)
    with torch.no_grad():
        for _, p in model.named_parameters():
            p.copy_(torch.from_numpy((0.3 * rng.standard_normal(tuple(p.shape))).astype(np.float32)))
    save_file({n: p.detach().contiguous() for n, p in model.named_parameters()},
              os.path.join(out, "model", "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out, "model", "config.json"), "w") as f:
        json.dump({k: config.to_dict()[k] for k in ["vocab_size", "hidden_size", "num_hidden_layers",
                                                   "num_attention_heads", "intermediate_size",
                                                   "max_position_embeddings", "type_vocab_size", "layer_norm_eps",
                                                   "hidden_act"]}, f, indent=2)
    with open(os.path.join(out, "model", "vocab.txt"), "w") as f:
        f.write("\n".join(VOCAB) + "\n")

    peft_model = get_peft_model(model, LoraConfig(r=2, lora_alpha=4, target_modules=["query", "value", "dense"],
                                                  lora_dropout=P))
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.from_numpy((0.5 * rng.standard_normal(tuple(p.shape))).astype(np.float32)))
    peft_model.save_pretrained(os.path.join(out, "adapter"))
    os.remove(os.path.join(out, "adapter", "README.md"))  # a model card template, not needed

    B, L = len(IDS), max(len(s) for s in IDS)
    input_ids = torch.zeros(B, L, dtype=torch.long)
    attention_mask = torch.zeros(B, L, dtype=torch.long)
    for b, s in enumerate(IDS):
        input_ids[b, :len(s)] = torch.tensor(s)
        attention_mask[b, :len(s)] = 1

    class FixedMask(torch.nn.Module):
        def __init__(self, mask):
            super().__init__()
            self.mask = torch.from_numpy(mask)

        def forward(self, x):
            return x * self.mask.reshape(x.shape)

    masks = {}
    for name, module in peft_model.named_modules():
        if not hasattr(module, "lora_dropout") or "default" not in module.lora_dropout:
            continue
        if "pooler" in name:  # the mean-pooled embedding never reads the pooler
            module.lora_dropout["default"] = torch.nn.Identity()
            continue
        layer = int(name.split("encoder.layer.")[1].split(".")[0])
        projection = name.split("encoder.layer.%d." % layer)[1]
        k = [p for p in PROJECTIONS if p in ADAPTED].index(projection)
        mask = library_mask(6 * layer + k, B * L, module.in_features)
        masks[name] = mask
        module.lora_dropout["default"] = FixedMask(mask)
    assert len(masks) == 2 * len(ADAPTED)

    peft_model.train()
    hidden = peft_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    m = attention_mask.unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * m).sum(1) / m.sum(1)
    embeddings = mean / mean.norm(dim=1, keepdim=True).clamp(min=1e-12)
    query_mask = next(v for n, v in masks.items() if n.endswith("encoder.layer.0.attention.self.query"))
    save_file({"input_ids": input_ids.float(), "attention_mask": attention_mask.float(),
               "last_hidden_state": hidden.detach().contiguous(), "embeddings": embeddings.detach().contiguous(),
               "query_mask_layer0": torch.from_numpy(query_mask)},
              os.path.join(out, "reference.safetensors"), metadata={"format": "pt"})
