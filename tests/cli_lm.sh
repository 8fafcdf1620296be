#!/usr/bin/env bash
# The language-model commands on a generated corpus: train lm (JSON log, one
# object per epoch with the documented fields; checkpoint), eval (same test
# perplexity as training printed), generate (greedy output is deterministic,
# sampling with a seed too), graph lm (one node per cell per step collapsed),
# gradcheck lm (passes), clear errors for bad input, and the same bytes from
# two runs with --threads 2.
set -u
seqgrad=$1
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
for split in train:3000 valid:300 test:300; do
  awk -v n="${split#*:}" -v seed="${#split}" 'BEGIN { s = seed; w = 0
    for (i = 0; i < n; i++) { line = ""; len = 3 + (i % 5)
      for (j = 0; j < len; j++) { s = (s * 1103515245 + 12345) % 2147483648
        w = (s % 10 < 8) ? (w + 1) % 30 : int(s / 10) % 30; line = line (j ? " " : "") "w" w }
      print line } }' > "$dir/${split%%:*}.txt"
done
common=(--hidden 24 --layers 2 --bptt 6 --batch 5 --threads 1)
out=$("$seqgrad" train lm --data "$dir" "${common[@]}" --epochs 3 --optim adam --lr 0.01 --dropout 0.1 \
      --save "$dir/m.st" --log "$dir/log.jsonl" 2>&1) || fail "train: $out"
echo "$out" | tail -4
[ "$(wc -l < "$dir/log.jsonl")" = 3 ] || fail "expected 3 log lines"
/usr/bin/python3 - "$dir/log.jsonl" <<'PY' || fail "log lines are not the documented JSON"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for i, r in enumerate(rows, 1):
    assert r["epoch"] == i and set(r) >= {"epoch", "train_ppl", "valid_ppl", "tokens_per_s", "lr"}, r
assert rows[-1]["valid_ppl"] < rows[0]["valid_ppl"] < 31, rows
PY
test_ppl=$(echo "$out" | sed -n 's/^test perplexity \([0-9.]*\).*/\1/p')
ev=$("$seqgrad" eval --load "$dir/m.st" --data "$dir" --bptt 6 --batch 5 --threads 1) || fail "eval: $ev"
echo "$ev"
[ "$ev" = "test perplexity $test_ppl ($(wc -w < "$dir/test.txt" | awk -v l="$(wc -l < "$dir/test.txt")" '{print $1 + l}') tokens)" ] \
  || fail "eval '$ev' does not repeat the training run's test perplexity $test_ppl"
# the task is read from the checkpoint ("task" = "lm") or named; both give the same
ev2=$("$seqgrad" eval lm --load "$dir/m.st" --data "$dir" --bptt 6 --batch 5 --threads 1) || fail "eval lm: $ev2"
[ "$ev" = "$ev2" ] || fail "eval lm '$ev2' differs from eval '$ev'"
"$seqgrad" eval sine --load "$dir/m.st" --data "$dir" 2>/dev/null; [ $? -eq 2 ] || fail "eval of a task without eval should exit 2"
g1=$("$seqgrad" generate --load "$dir/m.st" --words 20 --greedy --prime "w3 w4") || fail "generate"
g2=$("$seqgrad" generate --load "$dir/m.st" --words 20 --greedy --prime "w3 w4")
[ "$g1" = "$g2" ] || fail "greedy generation is not deterministic"
s1=$("$seqgrad" generate --load "$dir/m.st" --words 20 --temperature 0.8 --seed 7)
s2=$("$seqgrad" generate --load "$dir/m.st" --words 20 --temperature 0.8 --seed 7)
[ "$s1" = "$s2" ] || fail "seeded sampling is not reproducible"
echo "greedy: $g1"
echo "$g1" | grep -q "^w3 w4 w5 w6" || fail "the trained model does not continue the cycle: $g1"
gr=$("$seqgrad" graph lm --layers 2 --bptt 7 --hidden 8 --collapse scope -o "$dir/lm.dot") || fail "graph lm: $gr"
echo "$gr"
echo "$gr" | grep -q "(14 collapsed scopes)" || fail "expected one node per cell per step (2 x 7)"
dot -Tcanon "$dir/lm.dot" > /dev/null || fail "lm.dot does not parse"
gc=$("$seqgrad" gradcheck lm --cell gru --layers 2 --bptt 5 --hidden 4) || fail "gradcheck lm: $gc"
echo "$gc" | grep -q "per-op   passed" || fail "gradcheck lm per-op"
"$seqgrad" train lm --data "$dir/none" 2> "$dir/err"; [ $? -eq 3 ] || fail "a missing data dir should exit 3 (bad input)"
grep -q "train.txt" "$dir/err" || fail "the message should list the files looked for: $(cat "$dir/err")"
"$seqgrad" train lm --data "$dir" --cell banana 2>/dev/null; [ $? -eq 2 ] || fail "a bad --cell should exit 2"
"$seqgrad" eval --load "$dir/train.txt" --data "$dir" 2> "$dir/err"; [ $? -eq 3 ] || fail "a non-checkpoint should exit 3 (bad input)"
echo "$(cat "$dir/err")"
# the same seed and thread count give the same bytes, with the work cut over the engine's threads
for run in a b; do
  "$seqgrad" train lm --data "$dir" --hidden 64 --layers 2 --bptt 10 --batch 20 --epochs 1 --max-windows 8 \
    --dropout 0.2 --threads 2 --save "$dir/t2$run.st" > /dev/null || fail "train --threads 2"
done
cmp -s "$dir/t2a.st" "$dir/t2b.st" || fail "two runs with --threads 2 saved different checkpoints"
echo "1 passed, 0 failed"
