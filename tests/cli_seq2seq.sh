#!/usr/bin/env bash
# `seqgrad train seq2seq` on a generated pair file (reverse a word of 1 to 4
# letters): training lowers the loss and reaches exact matches with attention;
# a JSON line per epoch; gradcheck and graph of the task; a malformed pair file
# is refused with its file and line (exit 3).
set -u
seqgrad=$1
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
awk 'BEGIN { s = 7; for (i = 0; i < 800; i++) { n = 1 + i % 4; w = ""
  for (k = 0; k < n; k++) { s = (s * 1103515245 + 12345) % 2147483648; w = w substr("abcde", 1 + int(s / 65536) % 5, 1) }
  r = ""; for (k = n; k > 0; k--) r = r substr(w, k, 1); print w "_" r } }' > "$dir/rev.txt"
out=$("$seqgrad" train seq2seq --data "$dir/rev.txt" --attention dot --embed 8 --hidden 32 --batch 32 --epochs 12 \
      --lr 0.01 --threads 1 --log "$dir/log.jsonl" --save "$dir/s2s.st" 2>&1) || fail "train: $out"
acc=$(echo "$out" | sed -n 's/^test exact match \([0-9.]*\)%.*/\1/p')
[ -n "$acc" ] || fail "no test accuracy printed: $out"
/usr/bin/python3 -c "import sys; sys.exit(0 if float('$acc') >= 80 else 1)" || fail "test exact match $acc% < 80%"
[ "$(wc -l < "$dir/log.jsonl")" -eq 12 ] || fail "one log line per epoch expected"
/usr/bin/python3 -c "
import json
rows = [json.loads(l) for l in open('$dir/log.jsonl')]
assert rows[-1]['loss'] < rows[0]['loss'] and 0 <= rows[-1]['valid_accuracy'] <= 1, rows" || fail "log contents"
# generate: the task is read from the checkpoint; greedy and beam decode the input
g1=$("$seqgrad" generate --load "$dir/s2s.st" --input abcd 2>&1) || fail "generate: $g1"
[ "$g1" = dcba ] || fail "generate abcd gave '$g1'"
g3=$("$seqgrad" generate seq2seq --load "$dir/s2s.st" --input eabc --beam 3 2>&1) || fail "generate --beam 3: $g3"
[ "$g3" = cbae ] || fail "generate eabc --beam 3 gave '$g3'"
"$seqgrad" generate --load "$dir/s2s.st" --input abz 2> "$dir/err"; rc=$?
[ $rc -eq 3 ] && grep -q "token 'z' at position 3 is not in the model's vocabulary" "$dir/err" || fail "an unknown token: exit $rc, $(cat "$dir/err")"
for att in none dot general additive; do
  g=$("$seqgrad" gradcheck seq2seq --attention $att --reverse --peeky 2>&1) || fail "gradcheck seq2seq --attention $att: $g"
done
"$seqgrad" gradcheck seq2seq --cell gru --bidirectional --attention additive > /dev/null || fail "gradcheck bidirectional gru"
"$seqgrad" graph seq2seq --attention general --collapse 2 -o "$dir/g.dot" > /dev/null || fail "graph seq2seq"
printf 'ab_ba\nab ba\n' > "$dir/bad.txt"
"$seqgrad" train seq2seq --data "$dir/bad.txt" --epochs 1 2> "$dir/err"; rc=$?
[ $rc -eq 3 ] || fail "a malformed pair file should exit 3, not $rc"
grep -q "bad.txt:2: no separator" "$dir/err" || fail "the message should name file and line: $(cat "$dir/err")"
"$seqgrad" train seq2seq --data "$dir/rev.txt" --attention sideways 2>/dev/null; [ $? -eq 2 ] || fail "bad --attention"
echo "seq2seq reversal: test exact match $acc%"
echo "1 passed, 0 failed"
