"""Python peer of tests/llm/lora_encoder: PEFT loads a MiniLM adapter that aimastery trained and wrote.

    peer_peft_minilm.py DIR MODEL_DIR

DIR holds what the C++ case "PEFT peer: writes a trained MiniLM adapter and its outputs" wrote: adapter/
(PEFT's adapter_model.safetensors and adapter_config.json, modules named as in BertModel) and
io.safetensors (input_ids and attention_mask, padded, as float; aimastery's last_hidden_state and
mean-pooled, L2-normalised embeddings; the number of LoRA parameters in the metadata). MODEL_DIR is the
all-MiniLM-L6-v2 folder the C++ side used. Hugging Face's BertModel is loaded from it, the adapter put on it
with PeftModel.from_pretrained, and its token states (real tokens) and pooled embeddings compared with
aimastery's to 1e-5. Exit 0: agreement; 1: disagreement; 77: PyTorch, transformers or PEFT is not installed
(ctest reports the test as skipped, not passed).
"""
import os
import sys

try:
    import torch
    from peft import PeftModel
    from safetensors import safe_open
    from safetensors.torch import load_file
    from transformers import BertModel
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(77)


def main(directory, model_dir):
    io = load_file(os.path.join(directory, "io.safetensors"))
    with safe_open(os.path.join(directory, "io.safetensors"), "pt") as f:
        trainable_here = int(f.metadata()["aimastery.trainable"])
    base = BertModel.from_pretrained(model_dir).float().eval()
    model = PeftModel.from_pretrained(base, os.path.join(directory, "adapter")).eval()
    ids = io["input_ids"].long()
    mask = io["attention_mask"].long()
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
        with model.disable_adapter():
            plain = model(input_ids=ids, attention_mask=mask).last_hidden_state
    m = mask.unsqueeze(-1).float()
    mean = (hidden * m).sum(1) / m.sum(1)
    embeddings = mean / mean.norm(dim=1, keepdim=True).clamp(min=1e-12)
    token_error = ((hidden - io["last_hidden_state"]).abs() * m).max().item()
    embedding_error = (embeddings - io["embeddings"]).abs().max().item()
    moved = ((plain - hidden).abs() * m).max().item()  # the adapter matters: not the base model's outputs
    lora = sum(p.numel() for n, p in model.named_parameters() if "lora_" in n)
    pooler = sum(p.numel() for n, p in model.named_parameters() if "lora_" in n and "pooler" in n)
    print(f"PEFT {__import__('peft').__version__} loaded the adapter ({lora} LoRA parameters, {pooler} of them on "
          f"the pooler; aimastery's report: {trainable_here}); largest difference from aimastery: token states "
          f"{token_error:.3g}, sentence embeddings {embedding_error:.3g}; the adapter moves the token states by "
          f"{moved:.3g}")
    ok = token_error <= 1e-5 and embedding_error <= 1e-5 and lora - pooler == trainable_here and moved > 1e-3
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
