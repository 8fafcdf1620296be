#!/usr/bin/env bash
# `seqgrad gradcheck addition` passes and prints the max relative error; the
# test build with a planted wrong tanh VJP fails and names the op.
set -u
seqgrad=$1 planted=$2
fail() { echo "FAIL: $*"; exit 1; }

out=$("$seqgrad" gradcheck addition 2>&1); rc=$?
echo "$out"
[ $rc -eq 0 ] || fail "gradcheck addition exited $rc"
echo "$out" | grep -q "max rel err" || fail "no max relative error printed"
echo "$out" | grep -q "per-op   passed" || fail "per-op mode did not pass"

out=$("$planted" gradcheck addition 2>&1); rc=$?
echo "$out"
[ $rc -ne 0 ] || fail "the planted bad VJP was not caught (exit 0)"
echo "$out" | grep -q "first wrong VJP: op 'tanh'" || fail "the planted op was not named"

"$seqgrad" gradcheck ops > /dev/null || fail "gradcheck ops failed"
"$seqgrad" gradcheck nosuchmodel 2>/dev/null; [ $? -eq 2 ] || fail "unknown model should exit 2"
"$seqgrad" gradcheck addition --hidden banana 2>/dev/null; [ $? -eq 2 ] || fail "bad option should exit 2"
# every task of the registry is checked by the one generic command
for cell in rnn lstm gru; do
  out=$("$seqgrad" gradcheck sine --cell $cell 2>&1) || fail "gradcheck sine --cell $cell: $out"
  echo "$out" | grep -q "per-op   passed" || fail "gradcheck sine --cell $cell per-op"
done
msg=$("$seqgrad" gradcheck nosuchmodel 2>&1)
echo "$msg" | grep -q "known: addition, lm, sine" || fail "the unknown-task message should list the tasks: $msg"
"$seqgrad" gradcheck sine --bits 4 2>/dev/null; [ $? -eq 2 ] || fail "an option of another task should exit 2"
echo "1 passed, 0 failed"
