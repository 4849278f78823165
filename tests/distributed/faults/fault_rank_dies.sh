#!/usr/bin/env bash
# fault_rank_dies.sh <fault> <limit seconds> <mpirun command ...>
#   Runs the test case "fault: a rank dies ..." of test_distributed_faults under the given mpirun command,
#   with AIMASTERY_FAULT=<fault> (exit, exit0 or kill): the last rank dies in the middle of training while
#   the others wait in MPI_Allreduce. Passes when the whole job ends by itself within the limit, with a
#   failing status and the launcher's message naming the dead rank; fails when it hangs (killed by
#   `timeout` at twice the limit) or ends late, or reports success.
set -u
fault=$1
limit=$2
shift 2
start=$SECONDS
out=$(AIMASTERY_FAULT=$fault timeout $((2 * limit)) "$@" --no-skip '--test-case=fault*' 2>&1)
rc=$?
elapsed=$((SECONDS - start))
printf '%s\n' "$out" | grep -v '^\s*$' | tail -n 25
echo "-- status $rc after $elapsed s (limit $limit s)"
fail() { echo "FAILED: $*"; exit 1; }
((rc != 124)) || fail "the job hung: killed by timeout after $((2 * limit)) s"
((rc != 0)) || fail "the job reported success although a rank died"
((elapsed <= limit)) || fail "the job took $elapsed s to end (limit $limit s)"
grep -q "dying ($fault)" <<<"$out" || fail "the victim rank did not report dying (was the fault injected?)"
grep -qE "exiting improperly|exited on signal|exited with non-zero status|BAD TERMINATION" <<<"$out" ||
  fail "no launcher message about the dead rank"
echo "ok: a rank died ($fault) and the job ended in $elapsed s with status $rc"
