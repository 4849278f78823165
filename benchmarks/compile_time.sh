#!/usr/bin/env bash
# Compile time of the public headers: CPU seconds (user + system) and peak memory of
#   g++ -std=c++20 -O2 -fsyntax-only   on a file that only includes the header,
# for the umbrella header, each module umbrella it includes, and <Eigen/Dense> for comparison.
# Each figure is the fastest of --repeat interleaved runs (default 3): the least disturbed by other work; the
# ratio to <Eigen/Dense> from the same run is the figure to compare across machines. Each header's floor is a
# file with only the Eigen and standard headers it includes: the part of its cost that no change to the
# library's own code can remove.
#
# Last, the umbrella precompiled (g++ only): what precompiling it costs (once per target of a build) and
# what a file that includes it costs then (CMake: target_precompile_headers(app PRIVATE <aimastery/aimastery.hpp>)).
#
#   benchmarks/compile_time.sh [--repeat N] [--cxx g++] [--markdown]
#
# Targets: the umbrella <= 1.5 s, each module umbrella <= 1 s, where <Eigen/Dense> takes 0.8 s.
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
compile_flags=(-std=c++20 -O2 -Iinclude $eigen_flags)
flags=("${compile_flags[@]}" -fsyntax-only)
work=$(mktemp -d /tmp/aimastery-compile-time.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The module umbrellas are the headers aimastery.hpp includes.
mapfile -t modules < <(sed -n 's|^#include "\(aimastery/[^"]*\)"|\1|p' include/aimastery/aimastery.hpp)
targets=("aimastery/aimastery.hpp" "${modules[@]}")

# floor_of <header> <file>: writes a file that includes what `header` takes from Eigen and the standard
# library and nothing of its own: what no change to the library's headers could take from its time.
floor_of() {
  printf '#include <%s>\n' "$1" >"$work/probe.cpp"
  "$cxx" "${flags[@]}" -H "$work/probe.cpp" 2>&1 |
    sed -n -e 's|^\.* .*/c++/[0-9]*/\([a-z_]*\)$|#include <\1>|p' -e 's|^\.* .*/\(Eigen/[A-Za-z]*\)$|#include <\1>|p' |
    sort -u >"$2"
}

# One compilation: prints "cpu_seconds peak_mib" for a header, or for "floor:<header>" its floor.
compile_once() {
  local header=$1 tu
  tu="$work/$(printf '%s' "$header" | tr '/.:' '___').cpp"
  if [[ $header == floor:* ]]; then
    [[ -f $tu ]] || floor_of "${header#floor:}" "$tu"
  else
    printf '#include <%s>\n' "$header" >"$tu"
  fi
  if ! /usr/bin/time -f '%U %S %M' -o "$work/time" "$cxx" "${flags[@]}" "$tu" 2>"$work/err"; then
    cat "$work/err" >&2
    echo "compile_time: $header does not compile" >&2
    return 1
  fi
  read -r user sys kib <"$work/time"
  awk -v u="$user" -v s="$sys" -v k="$kib" 'BEGIN { printf "%.2f %.0f\n", u + s, k / 1024 }'
}

version=$("$cxx" --version | head -1)
# The runs are interleaved, one round over every file --repeat times, and each keeps its fastest run: a
# busy spell of the machine then slows one run of each header, not every run of one of them.
all=("Eigen/Dense")
for header in "${targets[@]}"; do all+=("$header" "floor:$header"); done
declare -A cpu_of mem_of
for ((round = 0; round < repeat; ++round)); do
  for header in "${all[@]}"; do
    read -r cpu mem < <(compile_once "$header") || true
    [[ -n ${cpu:-} ]] || exit 1
    if [[ -z ${cpu_of[$header]:-} ]] || awk -v a="$cpu" -v b="${cpu_of[$header]}" 'BEGIN { exit !(a < b) }'; then
      cpu_of[$header]=$cpu
    fi
    if [[ -z ${mem_of[$header]:-} ]] || ((mem < mem_of[$header])); then mem_of[$header]=$mem; fi
    cpu=""
  done
done
eigen_cpu=${cpu_of["Eigen/Dense"]}
ratio() { awk -v c="$1" -v e="$eigen_cpu" 'BEGIN { printf("%.2f", (e > 0) ? c / e : 0) }'; }

# The targets were set when <Eigen/Dense> took 0.8 s; a header meets its target when its ratio times 0.8 s
# is within it, whatever this machine's speed today.
reference_eigen=0.8
if ((markdown)); then
  echo "Compile time, \`$cxx ${flags[*]}\` ($version), fastest of $repeat interleaved runs;"
  echo "\`<Eigen/Dense>\`: ${eigen_cpu} s CPU, ${mem_of["Eigen/Dense"]} MiB. \"Floor\": the same file with only the Eigen and"
  echo "standard headers that the header includes. \"At 0.8 s\": the ratio times the 0.8 s of \`<Eigen/Dense>\` when the"
  echo "targets were set."
  echo
  echo "| header | CPU s | × \`<Eigen/Dense>\` | floor × | at 0.8 s | peak MiB | target |"
  echo "|---|---:|---:|---:|---:|---:|---|"
else
  echo "$cxx ${flags[*]}   ($version; fastest of $repeat interleaved runs)"
  echo "<Eigen/Dense>: ${eigen_cpu} s CPU, ${mem_of["Eigen/Dense"]} MiB; floor: the Eigen and standard headers alone"
  printf '%-40s %7s %8s %8s %9s %9s  %s\n' header "CPU s" "x Eigen" "floor x" "at 0.8 s" "peak MiB" target
fi
for header in "${targets[@]}"; do
  cpu=${cpu_of[$header]} mem=${mem_of[$header]}
  r=$(ratio "$cpu")
  floor=$(ratio "${cpu_of["floor:$header"]}")
  scaled=$(awk -v r="$r" -v e="$reference_eigen" 'BEGIN { printf("%.2f", r * e) }')
  limit=1.0
  [[ $header == aimastery/aimastery.hpp ]] && limit=1.5
  if awk -v c="$scaled" -v l="$limit" 'BEGIN { exit !(c <= l) }'; then verdict="<= $limit s: met"; else verdict="<= $limit s: NOT met"; fi
  if ((markdown)); then
    echo "| \`<$header>\` | $cpu | $r | $floor | $scaled | $mem | $verdict |"
  else
    printf '%-40s %7s %8s %8s %9s %9s  %s\n' "<$header>" "$cpu" "$r" "$floor" "$scaled" "$mem" "$verdict"
  fi
done

# The umbrella precompiled: g++ reads umbrella.hpp.gch instead of the header when the flags match ("!" in
# the -H output says it did).
if "$cxx" --version | grep -q 'Free Software Foundation'; then
  mkdir -p "$work/pch"
  printf '#include <aimastery/aimastery.hpp>\n' >"$work/pch/umbrella.hpp"
  printf '#include "umbrella.hpp"\n' >"$work/pch/user.cpp"
  /usr/bin/time -f '%U %S %M' -o "$work/time" "$cxx" "${compile_flags[@]}" -x c++-header "$work/pch/umbrella.hpp" \
    -o "$work/pch/umbrella.hpp.gch" 2>"$work/err"
  read -r user sys kib <"$work/time"
  pch_cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
  pch_mib=$(($(stat -c %s "$work/pch/umbrella.hpp.gch") >> 20))
  included=$("$cxx" "${flags[@]}" -I"$work/pch" -H "$work/pch/user.cpp" 2>&1) || true
  included=${included%%$'\n'*}
  if [[ $included != "! "*umbrella.hpp.gch ]]; then
    echo "compile_time: g++ did not use the precompiled umbrella" >&2
    exit 1
  fi
  best=""
  for ((round = 0; round < repeat; ++round)); do
    /usr/bin/time -f '%U %S' -o "$work/time" "$cxx" "${flags[@]}" -I"$work/pch" "$work/pch/user.cpp" 2>"$work/err"
    read -r user sys <"$work/time"
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    if [[ -z $best ]] || awk -v a="$cpu" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$cpu; fi
  done
  echo
  echo "Precompiled umbrella (\`g++ -x c++-header\`, the flags above without -fsyntax-only): ${pch_cpu} s CPU and"
  echo "${pch_mib} MiB once; then a file that includes \`<aimastery/aimastery.hpp>\`: ${best} s CPU, $(ratio "$best") × \`<Eigen/Dense>\`."
fi
