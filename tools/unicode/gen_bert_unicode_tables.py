#!/usr/bin/env python3
"""Generates include/aimastery/llm/attention/detail/unicode_tables.hpp: the Unicode data that BERT's
uncased normaliser and pre-tokeniser need, from Python's `unicodedata`.

    PY=.venv/bin/python                                # any Python >= 3.6; this one has `tokenizers`
    $PY tools/unicode/gen_bert_unicode_tables.py --categories-from python3.6 [--check]

Two Unicode versions are involved, as in Hugging Face `tokenizers` (whose ids the library matches):
  - the general categories (control/format/private use, non-spacing marks Mn, punctuation P*) come from the
    Rust crate unicode_categories, whose tables are Unicode 9.0: `--categories-from` names a Python whose
    unicodedata is 9.0 (Python 3.6) and the categories are read from it;
  - NFD and lower-casing come from the running Python's unicodedata (tokenizers uses the current
    unicode-normalization crate and Rust's char::to_lowercase).
`--check` runs Hugging Face's BertNormalizer + BertPreTokenizer on every code point and prints every
disagreement with the tables (0 with Python 3.6 categories, Python 3.11 for the rest and tokenizers 0.23).

What BERT (and Hugging Face's BertNormalizer + BertPreTokenizer) does to one code point c, in order:

  clean     c = U+0000, U+FFFD or a control character (general category C*, except tab, LF, CR): dropped;
            c = whitespace (White_Space, plus tab, LF, CR): becomes ' '
  CJK       c in the CJK ideograph blocks: gets a space on each side (a word of its own)
  accents   NFD(c) with the non-spacing marks (category Mn) removed
  lower     each remaining code point lower-cased (full mapping, one code point at a time)
  split     whitespace separates words; punctuation (ASCII punctuation or category P*) is a word of its own

So every code point has a fixed image norm(c) (a string, possibly empty) and a few flags. The header holds

  bert_runs      the flags as runs: entry (start << 8 | flags) holds for start .. next start − 1
  bert_map_keys  the code points whose image is not themselves (sorted), except Hangul syllables whose
                 NFD is computed from the Unicode formula, and except dropped/whitespace code points
  bert_map_spans (offset << 8 | length) into bert_map_pool, the images as code points
"""
import argparse
import os
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, "include", "aimastery", "llm", "attention", "detail", "unicode_tables.hpp")

# The White_Space property (PropList.txt; unchanged since Unicode 6.3). Python's str.isspace() differs
# (it also counts U+001C..U+001F), so the list is spelled out.
WHITE_SPACE = set(range(0x09, 0x0E)) | {0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000} | set(
    range(0x2000, 0x200B))

# The "Chinese character" blocks of BERT's tokenizer (CJK Unified Ideographs and extensions A-E,
# compatibility ideographs and their supplement), with the ranges tokenizers uses.
CJK_RANGES = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
              (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]

DROP, SPACE, PUNCT, MAPPED, CJK, HANGUL = 1, 2, 4, 8, 16, 32
HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3
CATEGORY_VERSION = unicodedata.unidata_version


def is_whitespace(cp):
    return cp in WHITE_SPACE


# Two residues of the version difference, measured with --check against tokenizers 0.23 and spelled out:
#  - code points that Unicode 9.0 made marks or punctuation but that the crate's tables (Unicode 8.0, one
#    version older than any Python available here) leave unassigned: kept as ordinary characters;
#  - U+11938, whose canonical decomposition tokenizers' unicode-normalization does not apply;
#  - case pairs added in Unicode 16.0 (Rust's char::to_lowercase is newer than Python 3.11's unicodedata).
UNKNOWN_TO_TOKENIZERS = [
    (0x8D4, 0x8E2), (0x1885, 0x1886), (0x1DFB, 0x1DFB), (0x2E43, 0x2E44), (0xA8C5, 0xA8C5), (0x1123E, 0x1123E),
    (0x11438, 0x1143F), (0x11442, 0x11444), (0x11446, 0x11446), (0x1144B, 0x1144F), (0x1145B, 0x1145B),
    (0x1145D, 0x1145D), (0x11660, 0x1166C), (0x11938, 0x11938), (0x11C30, 0x11C36), (0x11C38, 0x11C3D),
    (0x11C3F, 0x11C3F), (0x11C41, 0x11C45), (0x11C70, 0x11C71), (0x11C92, 0x11CA7), (0x11CAA, 0x11CB0),
    (0x11CB2, 0x11CB3), (0x11CB5, 0x11CB6), (0x1E000, 0x1E006), (0x1E008, 0x1E018), (0x1E01B, 0x1E021),
    (0x1E023, 0x1E024), (0x1E026, 0x1E02A), (0x1E944, 0x1E94A), (0x1E95E, 0x1E95F)]
LOWERCASE_16 = {0x1C89: 0x1C8A, 0xA7CB: 0x264, 0xA7CC: 0xA7CD, 0xA7CE: 0xA7CF, 0xA7D2: 0xA7D3, 0xA7D4: 0xA7D5,
                0xA7DA: 0xA7DB, 0xA7DC: 0x19B}
LOWERCASE_16.update({c: c + 0x20 for c in range(0x10D50, 0x10D66)})  # Garay
LOWERCASE_16.update({c: c + 0x1B for c in range(0x16EA0, 0x16EB9)})  # Kirat Rai


def unknown_to_tokenizers(cp):
    return any(a <= cp <= b for a, b in UNKNOWN_TO_TOKENIZERS)


CATEGORIES = None  # the general category of every code point, from the --categories-from Python


def category(cp):
    if unknown_to_tokenizers(cp):
        return "Cn"
    return CATEGORIES[cp] if CATEGORIES is not None else unicodedata.category(chr(cp))


def lower(ch):
    return chr(LOWERCASE_16[ord(ch)]) if ord(ch) in LOWERCASE_16 else ch.lower()


def load_categories(python):
    """The general categories of all code points according to another Python's unicodedata."""
    import subprocess
    script = ("import sys, unicodedata; sys.stdout.write(unicodedata.unidata_version + '\\n' + "
              "''.join(unicodedata.category(chr(c)) for c in range(0x110000)))")
    out = subprocess.run([python, "-c", script], check=True, capture_output=True, text=True).stdout
    version, codes = out.split("\n", 1)
    assert len(codes) == 2 * 0x110000
    return version, [codes[2 * c:2 * c + 2] for c in range(0x110000)]


def is_control(cp):
    """tokenizers' is_control: categories Cc, Cf, Co, Cs (not Cn: unassigned code points are kept)."""
    if cp in (0x09, 0x0A, 0x0D):
        return False
    return category(cp) in ("Cc", "Cf", "Co", "Cs")


def is_punctuation(cp):
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return category(cp).startswith("P")


def is_cjk(cp):
    return any(a <= cp <= b for a, b in CJK_RANGES)


def image(cp):
    """norm(c) as a string: the result of clean, accents and lower for the one code point c."""
    if cp == 0 or cp == 0xFFFD or is_control(cp):
        return ""
    if is_whitespace(cp):
        return " "
    decomposed = unicodedata.normalize("NFD", chr(cp)) if cp != 0x11938 else chr(cp)
    kept = "".join(ch for ch in decomposed if category(ord(ch)) != "Mn")
    return "".join(lower(ch) for ch in kept)


def flags_of(cp):
    if 0xD800 <= cp <= 0xDFFF:  # surrogates never occur in valid UTF-8; treated as dropped
        return DROP
    img = image(cp)
    f = 0
    if img == "":
        f |= DROP
    elif is_whitespace(cp):
        f |= SPACE
    if is_punctuation(cp):
        f |= PUNCT
    if is_cjk(cp):
        f |= CJK
    if HANGUL_FIRST <= cp <= HANGUL_LAST:
        f |= HANGUL
    elif img not in ("", " ") and img != chr(cp):
        f |= MAPPED
    return f


def build():
    runs = []
    keys, spans, pool = [], [], []
    previous = None
    for cp in range(0x110000):
        f = flags_of(cp)
        if f != previous:
            runs.append((cp, f))
            previous = f
        if f & MAPPED:
            img = [ord(ch) for ch in image(cp)]
            for o in img:  # the image never needs another pass of the pipeline
                assert not (is_whitespace(o) or is_control(o)), hex(cp)
            keys.append(cp)
            spans.append((len(pool), len(img)))
            pool.extend(img)
    assert len(pool) < (1 << 24) and max(n for _, n in spans) < 256
    return runs, keys, spans, pool


def hex_rows(values, per_row=10, width=0):
    out = []
    for i in range(0, len(values), per_row):
        out.append("    " + ", ".join(f"0x{v:0{width}x}" for v in values[i:i + per_row]) + ",")
    return "\n".join(out)


def write_header(runs, keys, spans, pool):
    text = f"""#pragma once
/// \\file
/// Unicode data for BERT's uncased normaliser and pre-tokeniser: general categories of Unicode
/// {CATEGORY_VERSION} (as Hugging Face tokenizers), NFD and lower-casing of Unicode {unicodedata.unidata_version}.
/// GENERATED by tools/unicode/gen_bert_unicode_tables.py from Python's unicodedata: do not edit.
///
/// bert_runs[i] = start << 8 | flags: the flags hold for code points start .. (next start − 1).
/// bert_map_keys[i] maps to bert_map_pool[offset .. offset + length), bert_map_spans[i] = offset << 8 | length.

#include <cstdint>

namespace aimastery::detail::unicode {{

/// Flags of a code point (see the generator for their exact definitions).
enum BertFlags : std::uint8_t {{
  kDrop = {DROP},      ///< removed: NUL, U+FFFD, control/format/unassigned/private use, or a non-spacing mark
  kSpace = {SPACE},     ///< whitespace: becomes ' ' and separates words
  kPunct = {PUNCT},     ///< punctuation (ASCII punctuation or category P*): a word of its own
  kMapped = {MAPPED},    ///< its image (NFD, marks removed, lower-cased) is another string: see bert_map_*
  kCjk = {CJK},      ///< a CJK ideograph: a word of its own
  kHangul = {HANGUL},   ///< a precomposed Hangul syllable: NFD by the Unicode formula
}};

inline constexpr std::uint32_t bert_runs[{len(runs)}] = {{
{hex_rows([(s << 8) | f for s, f in runs], 10, 8)}
}};

inline constexpr std::uint32_t bert_map_keys[{len(keys)}] = {{
{hex_rows(keys, 12, 5)}
}};

inline constexpr std::uint32_t bert_map_spans[{len(spans)}] = {{
{hex_rows([(o << 8) | n for o, n in spans], 12, 6)}
}};

inline constexpr std::uint32_t bert_map_pool[{len(pool)}] = {{
{hex_rows(pool, 12, 5)}
}};

}}  // namespace aimastery::detail::unicode
"""
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(text)
    print(f"wrote {os.path.relpath(OUT, ROOT)}: {len(runs)} runs, {len(keys)} mappings, {len(pool)} pool entries")


def check_against_hf():
    """Runs Hugging Face's BertNormalizer + BertPreTokenizer on every code point (surrounded by 'a' so that
    word boundaries show) and compares with the tables' model of it. Prints every disagreement."""
    from tokenizers import normalizers, pre_tokenizers
    norm = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    mismatches = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        s = "a" + chr(cp) + "a"
        got = [w for w, _ in pre.pre_tokenize_str(norm.normalize_str(s))]
        f = flags_of(cp)
        img = image(cp) if not (f & HANGUL) else unicodedata.normalize("NFD", chr(cp))
        if f & (DROP | SPACE):
            expected = ["aa"] if f & DROP else ["a", "a"]
        elif f & CJK:
            expected = ["a", img, "a"]
        else:
            expected, word = [], "a"
            for ch in img:
                if is_punctuation(ord(ch)):
                    expected += [word, ch] if word else [ch]
                    word = ""
                else:
                    word += ch
            expected.append(word + "a")
        if got != expected:
            mismatches.append((cp, got, expected))
    for cp, got, expected in mismatches[:50]:
        print(f"  U+{cp:04X} {unicodedata.name(chr(cp), '?')}: tokenizers {got!r}, tables {expected!r}")
    print(f"checked every code point against tokenizers: {len(mismatches)} disagreements")
    return mismatches


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare every code point with HF tokenizers")
    parser.add_argument("--categories-from", metavar="PYTHON",
                        help="a Python whose unicodedata gives the general categories (python3.6: Unicode 9.0)")
    args = parser.parse_args()
    global CATEGORIES, CATEGORY_VERSION
    if args.categories_from:
        CATEGORY_VERSION, CATEGORIES = load_categories(args.categories_from)
    write_header(*build())
    if args.check:
        check_against_hf()


if __name__ == "__main__":
    sys.exit(main())
