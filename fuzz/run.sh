#!/usr/bin/env bash
# Builds the libFuzzer targets (the file readers, the HTTP request parser and server, the inference protocols, the
# text pipeline) with clang (ASan + UBSan) and runs each for a bounded time, starting from its committed
# seed corpus. Fails on any finding: a
# crash, a sanitizer report, an exception other than FormatError, an input slower than 10 s (a hang), a
# single allocation over 512 MB or a resident size over 2 GB (no input of at most 4 KiB needs either). Findings are kept in <build>/artifacts/ (reproduce with:
# <build>/fuzz/fuzz_<reader> <file>).
#
#   fuzz/run.sh [SECONDS_PER_TARGET]        default 60; the build folder is build/fuzz (or $AIMASTERY_FUZZ_BUILD);
#                                           $AIMASTERY_FUZZ_BUILD_JOBS (default 2) compile jobs and targets run at once
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${AIMASTERY_FUZZ_BUILD:-$root/build/fuzz}"
jobs="${AIMASTERY_FUZZ_BUILD_JOBS:-2}"

# -O1 and line tables (enough for the stack of a finding): the model-file fuzzer compiles in 82 CPU-s
# instead of 98 at -O2 -g.
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -DNDEBUG" \
  -DCMAKE_CXX_COMPILER="${CXX:-clang++}" \
  -DAIMASTERY_BUILD_FUZZERS=ON -DAIMASTERY_BUILD_TESTS=OFF -DAIMASTERY_BUILD_BENCHMARKS=OFF \
  -DAIMASTERY_BUILD_EXAMPLES=OFF -DAIMASTERY_INSTALL=OFF -DAIMASTERY_REDIS=OFF -DAIMASTERY_OPENMP=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target fuzzers

mkdir -p "$build/artifacts"
# fuzz_one <reader>: one target for the time given, its output to <build>/logs/<reader>.log.
fuzz_one() {
  local reader=$1 work="$build/corpus/$1"  # new inputs go to a scratch corpus; the committed seeds are read only
  mkdir -p "$work"
  "$build/fuzz/fuzz_$reader" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len=4096 \
    -dict="$root/fuzz/$reader.dict" -artifact_prefix="$build/artifacts/$reader-" -print_final_stats=1 \
    "$work" "$root/fuzz/corpus/$reader" >"$build/logs/$reader.log" 2>&1
}

# As many targets at a time as the build uses cores; each one's log is printed when it ends.
mkdir -p "$build/logs"
readers=(csv safetensors model_file rag_index http_request http_server infer_request text)
status=0
for ((first = 0; first < ${#readers[@]}; first += jobs)); do
  batch=("${readers[@]:first:jobs}")
  pids=()
  for reader in "${batch[@]}"; do
    echo "== fuzz_$reader for ${seconds} s"
    fuzz_one "$reader" &
    pids+=($!)
  done
  for i in "${!batch[@]}"; do
    reader=${batch[i]}
    if wait "${pids[i]}"; then
      tail -n 8 "$build/logs/$reader.log"
    else
      cat "$build/logs/$reader.log"
      echo "fuzz_$reader: FINDING (see $build/artifacts/)" >&2
      status=1
    fi
  done
done
exit "$status"
