#!/usr/bin/env bash
# The command line: every command's --help (exit 0, lists its options), the
# documented exit codes (0 ok, 1 failed, 2 usage, 3 bad input file), and
# regression tests for two parser bugs:
#   1. `seqgrad train --data DIR lm` took DIR as the task (positional scan);
#   2. an option given last without its value (`... --hidden`) printed
#      "needs a value" and then ran with the default, exiting 0.
seqgrad="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
n=0
fail() { echo "FAIL: $*"; echo "$n passed, 1 failed"; exit 1; }
ok() { n=$((n + 1)); }
# expect CODE DESCRIPTION -- command...: runs it, checks the exit code
expect() {
  local code=$1 what=$2; shift 3
  "$@" > "$dir/out" 2> "$dir/err"
  local rc=$?
  [ "$rc" -eq "$code" ] || fail "$what: exit $rc, expected $code; stderr: $(head -c 300 "$dir/err")"
  ok
}

# --help for every command and task, on stdout, exit 0
for c in "demo" "train" "train lm" "train sine" "eval" "generate" "gradcheck" "gradcheck addition" \
         "gradcheck lm" "gradcheck ops" "graph" "graph addition" "graph lm" "train hred" "train vhred" \
         "eval hred" "generate vhred" "graph hred" "gradflow" "dialogues"; do
  # shellcheck disable=SC2086
  expect 0 "seqgrad $c --help" -- "$seqgrad" $c --help
  grep -q "^usage: seqgrad ${c%% *}" "$dir/out" || fail "'$c --help' prints no usage line"
  grep -q -- "--help" "$dir/out" || fail "'$c --help' lists no options"
done
expect 0 "seqgrad help" -- "$seqgrad" help
grep -q "exit codes" "$dir/out" || fail "seqgrad help states no exit codes"
# --version names the BLAS kernels and whether the environment chose them
expect 0 "--version, OPENBLAS_CORETYPE=Haswell" -- env OPENBLAS_CORETYPE=Haswell "$seqgrad" --version
grep -q "^BLAS kernels: OpenBLAS Haswell (OPENBLAS_CORETYPE=Haswell)$" "$dir/out" ||
  fail "--version does not name the kernels the environment chose: $(cat "$dir/out")"
# as the environment is (some machines set OPENBLAS_CORETYPE on purpose: it is not unset here)
expect 0 "--version" -- "$seqgrad" --version
if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
  grep -q "^BLAS kernels: OpenBLAS [A-Za-z0-9]* (OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE)$" "$dir/out" ||
    fail "--version does not say the environment chose the kernels: $(cat "$dir/out")"
else
  grep -q "^BLAS kernels: OpenBLAS [A-Za-z0-9]* (its own choice)$" "$dir/out" ||
    fail "--version does not name OpenBLAS's own kernels: $(cat "$dir/out")"
fi
expect 0 "-h" -- "$seqgrad" train lm -h
grep -q -- "--bptt N" "$dir/out" || fail "train lm --help lacks --bptt"
grep -q -- "--window" "$dir/out" && fail "train lm --help lists the sine task's --window"
expect 0 "help train sine" -- "$seqgrad" help train sine
grep -q -- "--window N" "$dir/out" || fail "help train sine lacks --window"

# a tiny corpus
mkdir -p "$dir/data"
for s in train valid test; do
  for i in $(seq 1 40); do echo "a b c d a b e f g a $i"; done > "$dir/data/$s.txt"
done
# bug 1: options before the task
expect 0 "train --data DIR lm (options before the task)" -- \
  "$seqgrad" train --data "$dir/data" lm --epochs 1 --hidden 4 --layers 1 --bptt 4 --batch 2 --max-windows 2 --threads 1
grep -q "test perplexity" "$dir/out" || fail "train --data DIR lm did not train"
expect 0 "--name=value form" -- \
  "$seqgrad" train lm --data="$dir/data" --epochs=1 --hidden=4 --layers=1 --bptt=4 --batch=2 --max-windows=1 --threads=1
# bug 2: a value-taking option given last without its value
for opt in --hidden --save --resume --lr --log --bptt; do
  expect 2 "train lm ... $opt (no value)" -- "$seqgrad" train lm --data "$dir/data" --epochs 1 $opt
  grep -q "needs a value" "$dir/err" || fail "$opt without value: no 'needs a value' message"
  [ -s "$dir/out" ] && fail "$opt without value: it ran anyway ($(head -c 200 "$dir/out"))"
done
expect 2 "demo --out (no value)" -- "$seqgrad" demo --out
# usage errors: exit 2
expect 2 "no command" -- "$seqgrad"
expect 2 "unknown command" -- "$seqgrad" frobnicate
expect 2 "unknown option" -- "$seqgrad" train lm --data "$dir/data" --bogus 1
expect 2 "abbreviated option" -- "$seqgrad" train lm --data "$dir/data" --hid 4
grep -q "spelled in full" "$dir/err" || fail "abbreviation message"
expect 2 "unknown task" -- "$seqgrad" train banana
expect 2 "malformed number" -- "$seqgrad" train lm --data "$dir/data" --hidden 4x
expect 2 "option of another command" -- "$seqgrad" gradcheck addition --words 3
expect 2 "stray positional" -- "$seqgrad" gradcheck addition extra
# bad input files: exit 3
expect 3 "missing data dir" -- "$seqgrad" train lm --data "$dir/none"
expect 3 "missing checkpoint" -- "$seqgrad" eval --load "$dir/none.st" --data "$dir/data"
expect 3 "a text file as checkpoint" -- "$seqgrad" generate --load "$dir/data/train.txt"
# a failed check: exit 1 (the planted-VJP build)
if [ -n "$2" ]; then
  expect 1 "planted bad VJP" -- "$2" gradcheck addition
fi
echo "$n passed, 0 failed"
