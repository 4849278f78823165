#!/bin/sh
# `mpirun -np N aimastery cv ...` prints the same JSON as one process (rank 0 only, one line), for
# classifiers and a regressor, fewer and more folds than ranks, seeded estimators; a rank given other data
# or other options makes the job fail naming that rank, before any fold is fitted.
# Usage: cli_cv_mpi.sh RANKS AIMASTERY_EXECUTABLE DATA_DIR MPIEXEC NUMPROC_FLAG [LAUNCHER_FLAGS...]
set -u
ranks=$1 cli=$2 data=$3 launcher=$4 np=$5
shift 5
flags=$*  # words without spaces (--oversubscribe, --mca NAME VALUE)
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT
fail() { echo "FAILED: $*"; exit 1; }

# same ARGS...: the JSON of `aimastery cv ARGS` on one process is byte for byte the one mpirun's job prints.
same() {
  "$cli" cv "$@" >"$work/one" 2>"$work/err" || fail "aimastery cv $* failed: $(cat "$work/err")"
  # shellcheck disable=SC2086
  "$launcher" "$np" "$ranks" $flags "$cli" cv "$@" >"$work/many" 2>"$work/err" ||
    fail "mpirun -np $ranks aimastery cv $* failed: $(cat "$work/err")"
  [ "$(wc -l <"$work/many")" -eq 1 ] || fail "mpirun -np $ranks aimastery cv $*: not one line: $(cat "$work/many")"
  cmp -s "$work/one" "$work/many" ||
    fail "aimastery cv $*: one process printed $(cat "$work/one"), $ranks ranks $(cat "$work/many")"
}

same --model logistic_regression --data "$data/iris.csv" --target target --scale --seed 0
same --model random_forest --data "$data/wine.csv" --target target --folds 3 --seed 4 --param n_estimators=10
same --model knn --data "$data/breast_cancer.csv" --target target --folds 7 --scale --param k=7 --seed 2
same --model linear_regression --data "$data/diabetes.csv" --target target --folds 10 --seed 1

# Rank 1 (of an MPMD job: one process, then the others) reads a file that differs in one value.
sed '2s/^5\.1,/5.2,/' "$data/iris.csv" >"$work/iris_changed.csv"
cmp -s "$data/iris.csv" "$work/iris_changed.csv" && fail "the changed copy of iris.csv is unchanged"
others=$((ranks - 1))
# mismatch TEXT ARGS_OF_RANK_0 -- ARGS_OF_THE_OTHERS: the job fails saying TEXT, nothing on stdout.
# (A file the other ranks cannot read: rank 0 says "rank 1: read_csv: '…/absent.csv' cannot open", the
# others the error itself.)
mismatch() {
  text=$1
  shift
  first=""
  while [ "$1" != "--" ]; do first="$first $1"; shift; done
  shift
  # shellcheck disable=SC2086
  "$launcher" $flags "$np" 1 "$cli" cv $first : "$np" "$others" "$cli" cv "$@" >"$work/out" 2>"$work/err" &&
    fail "a job whose ranks disagree succeeded: $(cat "$work/out")"
  [ -s "$work/out" ] && fail "a job whose ranks disagree printed $(cat "$work/out")"
  # Every rank throws, but mpirun ends the job as soon as the first exits with a failure, so how many
  # ranks get to print depends on the race; at least one must have (lines may interleave: count matches).
  said=$(grep -oF -- "$text" "$work/err" | wc -l)
  [ "$said" -ge 1 ] || fail "no rank said '$text': $(cat "$work/err")"
}
base="--model gaussian_nb --target target --seed 3"
mismatch "aimastery cv: rank 1 differs from rank 0 in the hash of X" \
  $base --data "$data/iris.csv" -- $base --data "$work/iris_changed.csv"
mismatch "aimastery cv: rank 1 differs from rank 0 in the options" \
  $base --data "$data/iris.csv" -- $base --data "$data/iris.csv" --folds 4
mismatch "absent.csv' cannot open" \
  $base --data "$data/iris.csv" -- $base --data "$work/absent.csv"
echo "mpirun -np $ranks aimastery cv: the same JSON as one process; disagreements named on every rank"
