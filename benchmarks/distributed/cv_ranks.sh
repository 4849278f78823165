#!/bin/sh
# `aimastery cv` on one process against `mpirun -np N`: wall time and CPU seconds (user + system of every
# process, from GNU time's rusage of the launcher and its children), median of REPS runs, and a check that
# the JSON is the same. Usage: cv_ranks.sh AIMASTERY_EXECUTABLE RANKS REPS -- CV_ARGS...
# (e.g. build/release/examples/aimastery 2 3 -- --model random_forest --data data/digits.csv --target target
#  --folds 4 --seed 0 --param n_estimators=40)
set -eu
cli=$1 ranks=$2 reps=$3
shift 4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
launch="mpirun -np $ranks --oversubscribe --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo"

# median of the numbers on stdin
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

measure() {  # measure NAME COMMAND...: REPS runs; prints "NAME wall W s, cpu C s"
  name=$1
  shift
  : >"$work/wall"
  : >"$work/cpu"
  i=0
  while [ $i -lt "$reps" ]; do
    /usr/bin/time -f "%e %U %S" -o "$work/t" "$@" >"$work/$name.json"
    awk '{ print $1 }' "$work/t" >>"$work/wall"
    awk '{ print $2 + $3 }' "$work/t" >>"$work/cpu"
    i=$((i + 1))
  done
  echo "$name: wall $(median <"$work/wall") s, cpu $(median <"$work/cpu") s (median of $reps)"
}

measure one "$cli" cv "$@"
# shellcheck disable=SC2086
measure ranks $launch "$cli" cv "$@"
cmp -s "$work/one.json" "$work/ranks.json" && echo "same JSON: $(cat "$work/one.json")" || {
  echo "the JSON differs"
  exit 1
}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
