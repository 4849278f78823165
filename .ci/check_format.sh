#!/usr/bin/env bash
# The C++ files git tracks are formatted with the repository's .clang-format (clang-format 14, Debian's).
#   .ci/check_format.sh          check (clang-format --dry-run --Werror): lists each file that differs
#   .ci/check_format.sh --fix    reformat them in place
set -euo pipefail
cd "$(dirname "$0")/.."
format=${CLANG_FORMAT:-clang-format}
mode=(--dry-run --Werror)
[[ ${1:-} == --fix ]] && mode=(-i)
mapfile -t files < <(git ls-files -- '*.cpp' '*.hpp' '*.h' '*.cc' '*.cxx' '*.ipp')
if ((${#files[@]} == 0)); then
  echo "check_format: no C++ files tracked" >&2
  exit 1
fi
# One process per 50 files, two at a time; -style=file reads .clang-format.
if printf '%s\0' "${files[@]}" | xargs -0 -n 50 -P 2 "$format" -style=file "${mode[@]}"; then
  echo "check_format: ${#files[@]} files formatted"
else
  echo "check_format: FAILED: run .ci/check_format.sh --fix (or clang-format -i FILE) and commit" >&2
  exit 1
fi
