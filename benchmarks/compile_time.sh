#!/usr/bin/env bash
# Compile time of the public headers: CPU seconds (user + system) and peak memory of
#   g++ -std=c++20 -O2 -fsyntax-only   on a file that only includes the header,
# for the umbrella header, each module umbrella it includes, and <Eigen/Dense> for comparison.
# Each figure is the minimum over --repeat runs (default 3): the least disturbed by other work; the ratio to
# <Eigen/Dense> from the same run is the figure to compare across machines.
#
#   benchmarks/compile_time.sh [--repeat N] [--cxx g++] [--markdown]
#
# Targets (issue "compile time is a feature"): the umbrella <= 1.5 s, each module umbrella <= 1 s.
set -euo pipefail
cd "$(dirname "$0")/.."

repeat=3
cxx=${CXX:-g++}
markdown=0
while (($#)); do
  case $1 in
    --repeat) repeat=$2; shift 2 ;;
    --cxx) cxx=$2; shift 2 ;;
    --markdown) markdown=1; shift ;;
    *) echo "usage: $0 [--repeat N] [--cxx COMPILER] [--markdown]" >&2; exit 2 ;;
  esac
done
if [[ ! -x /usr/bin/time ]]; then
  echo "compile_time: needs GNU time for the peak memory (apt-get install time)" >&2
  exit 1
fi

eigen_flags=$(pkg-config --cflags eigen3 2>/dev/null || echo -I/usr/include/eigen3)
# shellcheck disable=SC2206
flags=(-std=c++20 -O2 -fsyntax-only -Iinclude $eigen_flags)
work=$(mktemp -d /tmp/aimastery-compile-time.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The module umbrellas are the headers aimastery.hpp includes.
mapfile -t modules < <(sed -n 's|^#include "\(aimastery/[^"]*\)"|\1|p' include/aimastery/aimastery.hpp)
targets=("aimastery/aimastery.hpp" "${modules[@]}" "Eigen/Dense")

# measure <header>: prints "cpu_seconds peak_mib", the minimum of each over the runs.
measure() {
  local header=$1 best_cpu="" best_mem=""
  printf '#include <%s>\n' "$header" >"$work/tu.cpp"
  for ((i = 0; i < repeat; ++i)); do
    if ! /usr/bin/time -f '%U %S %M' -o "$work/time" "$cxx" "${flags[@]}" "$work/tu.cpp" 2>"$work/err"; then
      cat "$work/err" >&2
      echo "compile_time: $header does not compile" >&2
      exit 1
    fi
    read -r user sys kib <"$work/time"
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    mem=$(awk -v k="$kib" 'BEGIN { printf "%.0f", k / 1024 }')
    if [[ -z $best_cpu ]] || awk -v a="$cpu" -v b="$best_cpu" 'BEGIN { exit !(a < b) }'; then best_cpu=$cpu; fi
    if [[ -z $best_mem ]] || ((mem < best_mem)); then best_mem=$mem; fi
  done
  echo "$best_cpu $best_mem"
}

version=$("$cxx" --version | head -1)
# <Eigen/Dense> first: the ratio to it survives a busy machine better than the seconds do.
read -r eigen_cpu eigen_mem < <(measure Eigen/Dense)
if ((markdown)); then
  echo "Compile time, \`$cxx ${flags[*]}\` ($version), minimum of $repeat runs:"
  echo
  echo "| header | CPU s | × \`<Eigen/Dense>\` | peak MiB | target |"
  echo "|---|---:|---:|---:|---|"
else
  echo "$cxx ${flags[*]}   ($version; minimum of $repeat runs)"
  printf '%-40s %7s %8s %9s  %s\n' header "CPU s" "x Eigen" "peak MiB" target
fi
for header in "${targets[@]}"; do
  if [[ $header == Eigen/Dense ]]; then
    cpu=$eigen_cpu mem=$eigen_mem
  else
    read -r cpu mem < <(measure "$header")
  fi
  ratio=$(awk -v c="$cpu" -v e="$eigen_cpu" 'BEGIN { printf("%.2f", (e > 0) ? c / e : 0) }')
  case $header in
    aimastery/aimastery.hpp) limit=1.5 ;;
    Eigen/*) limit="" ;;
    *) limit=1.0 ;;
  esac
  verdict="(comparison)"
  if [[ -n $limit ]]; then
    if awk -v c="$cpu" -v l="$limit" 'BEGIN { exit !(c <= l) }'; then verdict="<= $limit s: met"; else verdict="<= $limit s: NOT met"; fi
  fi
  if ((markdown)); then
    echo "| \`<$header>\` | $cpu | $ratio | $mem | $verdict |"
  else
    printf '%-40s %7s %8s %9s  %s\n' "<$header>" "$cpu" "$ratio" "$mem" "$verdict"
  fi
done
