#!/usr/bin/env bash
# `seqgrad train seq2seq` on a generated pair file (reverse a word of 1 to 4
# letters): training lowers the loss and reaches exact matches with attention;
# a JSON line per epoch; --resume continues bit for bit and refuses settings
# that contradict the checkpoint; eval prints the held-out exact match that
# training printed; generate decodes greedy, by beam and sampled (seeded);
# attention draws a heatmap; gradcheck and graph of the task; a malformed pair
# file is refused with its file and line (exit 3).
set -u
seqgrad=$1
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
printf 'ab_ba\nab ba\n' > "$dir/bad.txt"
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
# eval: the same split from the checkpoint's settings, the same accuracy
ev=$("$seqgrad" eval --load "$dir/s2s.st" --data "$dir/rev.txt" --threads 1 2>&1) || fail "eval: $ev"
echo "$ev" | grep -q "^test exact match $acc% " || fail "eval printed '$ev', training printed $acc%"
"$seqgrad" eval --load "$dir/s2s.st" --data "$dir/bad.txt" 2> /dev/null; [ $? -eq 3 ] || fail "eval on a missing file"
head -n 400 "$dir/rev.txt" | tr e f > "$dir/other.txt"
"$seqgrad" eval --load "$dir/s2s.st" --data "$dir/other.txt" 2> "$dir/err"; rc=$?
[ $rc -eq 3 ] && grep -q "is not the data the checkpoint" "$dir/err" || fail "eval on other data: exit $rc, $(cat "$dir/err")"
# --resume: 3 epochs + 3 resumed = 6 straight, byte for byte
common=(--data "$dir/rev.txt" --attention general --input-feeding --reverse --embed 8 --hidden 16 --batch 32 --lr 0.01 --threads 1)
"$seqgrad" train seq2seq "${common[@]}" --epochs 6 --save "$dir/full.st" > /dev/null 2>&1 || fail "train 6 epochs"
"$seqgrad" train seq2seq "${common[@]}" --epochs 3 --save "$dir/part.st" > /dev/null 2>&1 || fail "train 3 epochs"
r=$("$seqgrad" train seq2seq --data "$dir/rev.txt" --resume "$dir/part.st" --epochs 6 --threads 1 --save "$dir/part.st" 2>&1) \
  || fail "resume: $r"
echo "$r" | grep -q "resumed from .* after epoch 3" || fail "resume did not say where it starts: $r"
cmp -s "$dir/full.st" "$dir/part.st" || fail "3 + 3 resumed epochs differ from 6 straight"
"$seqgrad" train seq2seq --data "$dir/rev.txt" --resume "$dir/full.st" --epochs 9 --hidden 32 2> "$dir/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--hidden 32 contradicts the checkpoint" "$dir/err" || fail "resume --hidden 32: exit $rc, $(cat "$dir/err")"
"$seqgrad" train seq2seq --data "$dir/rev.txt" --resume "$dir/full.st" --epochs 9 --peeky 2> "$dir/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--peeky contradicts" "$dir/err" || fail "resume --peeky: exit $rc, $(cat "$dir/err")"
"$seqgrad" train seq2seq --data "$dir/rev.txt" --resume "$dir/full.st" --epochs 6 2> "$dir/err"; rc=$?
[ $rc -eq 2 ] && grep -q "nothing is left to train" "$dir/err" || fail "resume at --epochs: exit $rc"
"$seqgrad" train seq2seq --data "$dir/other.txt" --resume "$dir/full.st" --epochs 9 2> "$dir/err"; rc=$?
[ $rc -eq 3 ] || fail "resume on other data: exit $rc, $(cat "$dir/err")"
"$seqgrad" train seq2seq --data "$dir/rev.txt" --input-feeding 2> "$dir/err"; rc=$?
[ $rc -eq 2 ] && grep -q "needs --attention" "$dir/err" || fail "--input-feeding without attention: exit $rc"
# a checkpoint of another task is refused by every seq2seq command
mkdir -p "$dir/corpus"
for f in train valid test; do printf 'a b c d\nb c d a\n' > "$dir/corpus/$f.txt"; done
"$seqgrad" train lm --data "$dir/corpus" --hidden 4 --layers 1 --batch 2 --bptt 2 --epochs 1 --threads 1 \
  --save "$dir/lm.st" > /dev/null 2>&1 || fail "train a tiny LM"
for cmd in "generate seq2seq --input ab" "eval seq2seq --data $dir/rev.txt" "attention --input ab"; do
  "$seqgrad" $cmd --load "$dir/lm.st" 2> "$dir/err"; rc=$?
  [ $rc -eq 3 ] && grep -q "is not a seq2seq checkpoint" "$dir/err" || fail "$cmd on an LM checkpoint: exit $rc, $(cat "$dir/err")"
done
"$seqgrad" train seq2seq --data "$dir/rev.txt" --resume "$dir/lm.st" --epochs 2 2> "$dir/err"; rc=$?
[ $rc -eq 3 ] || fail "resume from an LM checkpoint: exit $rc, $(cat "$dir/err")"
"$seqgrad" train seq2seq --data "$dir/rev.txt" --resume "$dir/full.st" --epochs 9 --bucket 5 2> "$dir/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--bucket 5 contradicts" "$dir/err" || fail "resume --bucket 5: exit $rc, $(cat "$dir/err")"
# sampling: seeded draws repeat; beam and temperature together are refused
t1=$("$seqgrad" generate --load "$dir/s2s.st" --input abcd --temperature 5 --seed 4) || fail "sample"
t2=$("$seqgrad" generate --load "$dir/s2s.st" --input abcd --temperature 5 --seed 4) || fail "sample"
[ "$t1" = "$t2" ] || fail "the same seed sampled '$t1' then '$t2'"
"$seqgrad" generate --load "$dir/s2s.st" --input abcd --temperature 1 --beam 2 2> /dev/null; [ $? -eq 2 ] || fail "beam and temperature"
"$seqgrad" generate --load "$dir/s2s.st" --input abcd --temperature -1 2> /dev/null; [ $? -eq 2 ] || fail "negative temperature"
# attention: a heatmap in PNG and SVG; a model without attention is refused
a=$("$seqgrad" attention --load "$dir/s2s.st" --input abcd --out "$dir/att" 2>&1) || fail "attention: $a"
echo "$a" | grep -q "^abcd -> dcba$" || fail "attention decoded: $a"
for e in png svg; do [ -s "$dir/att/attention.$e" ] || fail "no attention.$e"; done
head -c 8 "$dir/att/attention.png" | od -An -c | grep -q "P   N   G" || fail "attention.png is not a PNG"
grep -q "<svg" "$dir/att/attention.svg" || fail "attention.svg is not an SVG"
"$seqgrad" train seq2seq --data "$dir/rev.txt" --embed 4 --hidden 8 --epochs 1 --threads 1 --save "$dir/plain.st" > /dev/null 2>&1 || fail "plain"
"$seqgrad" attention --load "$dir/plain.st" --input abcd --out "$dir/att2" 2> "$dir/err"; rc=$?
[ $rc -eq 2 ] && grep -q "has no attention" "$dir/err" || fail "attention of a plain model: exit $rc"
for att in none dot general additive; do
  g=$("$seqgrad" gradcheck seq2seq --attention $att --reverse --peeky 2>&1) || fail "gradcheck seq2seq --attention $att: $g"
done
"$seqgrad" gradcheck seq2seq --cell gru --bidirectional --attention additive > /dev/null || fail "gradcheck bidirectional gru"
"$seqgrad" graph seq2seq --attention general --collapse 2 -o "$dir/g.dot" > /dev/null || fail "graph seq2seq"
"$seqgrad" train seq2seq --data "$dir/bad.txt" --epochs 1 2> "$dir/err"; rc=$?
[ $rc -eq 3 ] || fail "a malformed pair file should exit 3, not $rc"
grep -q "bad.txt:2: no separator" "$dir/err" || fail "the message should name file and line: $(cat "$dir/err")"
"$seqgrad" train seq2seq --data "$dir/rev.txt" --attention sideways 2>/dev/null; [ $? -eq 2 ] || fail "bad --attention"
echo "seq2seq reversal: test exact match $acc%"
echo "1 passed, 0 failed"
