#!/bin/sh
# `aimastery rag` with the MiniLM embedder, end to end: index, query, and the errors a user meets (an
# unknown embedder, a missing model folder, --model-dir on a hashing index, a model whose files differ from
# the recorded ones). Usage: cli_rag_embedder.sh AIMASTERY_EXECUTABLE MINILM_DIR
set -u
cli=$1 model=$2
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT
fail() { echo "FAILED: $*"; exit 1; }

# expect CODE SUBSTRING COMMAND...: the command exits with CODE and its stderr contains SUBSTRING.
expect() {
  code=$1 text=$2
  shift 2
  "$@" >"$work/out" 2>"$work/err"
  got=$?
  [ "$got" -eq "$code" ] || fail "$* exited $got, expected $code: $(cat "$work/err")"
  grep -qF -- "$text" "$work/err" || fail "$*: stderr lacks '$text': $(cat "$work/err")"
}

mkdir "$work/docs"
echo "BM25 weighs rare terms more than common ones." >"$work/docs/bm25.txt"
echo "HNSW searches a layered graph of nearest neighbours." >"$work/docs/hnsw.md"

expect 2 "foo not in {hashing,minilm}" "$cli" rag index --input "$work/docs" --out "$work/i" --embedder foo
expect 2 "'$work/none' (--model-dir) is not a directory" \
  "$cli" rag index --input "$work/docs" --out "$work/i" --embedder minilm --model-dir "$work/none"
expect 2 "needs the model folder" env -u AIMASTERY_MINILM_DIR "$cli" rag index --input "$work/docs" --out "$work/i" \
  --embedder minilm
expect 2 "--model-dir is for --embedder minilm" "$cli" rag index --input "$work/docs" --out "$work/i" --model-dir "$model"

expect 0 "(embedder minilm)" "$cli" rag index --input "$work/docs" --out "$work/i" --embedder minilm --model-dir "$model"
"$cli" rag query --index "$work/i" --mode dense --k 1 "graph search of neighbours" >"$work/out" ||
  fail "rag query on the MiniLM index failed"
grep -q '"source": ".*hnsw.md"' "$work/out" || fail "the dense query did not find hnsw.md: $(cat "$work/out")"

# The same weights with another config.json: another model, refused by query and eval.
mkdir "$work/other"
ln -s "$model/vocab.txt" "$model/model.safetensors" "$work/other/"
{ cat "$model/config.json"; echo; } >"$work/other/config.json"
expect 1 "the embedder given has another model" "$cli" rag query --index "$work/i" --model-dir "$work/other" "graph"
printf 'q1\tgraph\n' >"$work/q.tsv"
echo "q1 0 $work/docs/hnsw.md 1" >"$work/qrels.txt"
expect 1 "the embedder given has another model" \
  "$cli" rag eval --index "$work/i" --queries "$work/q.tsv" --qrels "$work/qrels.txt" --model-dir "$work/other"

"$cli" rag index --input "$work/docs" --out "$work/h" 2>/dev/null || fail "rag index (hashing) failed"
expect 2 "was built with the hashing embedder" "$cli" rag query --index "$work/h" --model-dir "$model" "graph"
echo "passed"
