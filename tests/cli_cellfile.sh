#!/usr/bin/env bash
# --cell FILE.cell wherever the language model takes a cell: gradcheck lm and
# graph lm on the docs' GRU and MGU cell files, gradflow beside the built-in
# cells (the GRU file's norms equal the built-in GRU's), train lm on a small
# corpus; a bad cell file is refused with file:line:col (exit 3); the
# checkpoints of lm, seq2seq and hred models hold their cell file.
set -u
seqgrad=$1
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
cells="$root/docs/cells"
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
for c in gru mgu lstm peephole rnn; do
  out=$("$seqgrad" gradcheck lm --cell "$cells/$c.cell" --layers 2 --bptt 4 --hidden 4 2>&1) \
    || fail "gradcheck lm --cell $c.cell: $out"
done
"$seqgrad" graph lm --cell "$cells/mgu.cell" --layers 1 --bptt 3 --collapse scope -o "$dir/mgu.png" > /dev/null \
  || fail "graph lm --cell mgu.cell"
[ -s "$dir/mgu.png" ] || fail "no picture"
"$seqgrad" gradflow --cell gru --cell "$cells/gru.cell" --cell "$cells/mgu.cell" --steps 20 --json \
  -o "$dir/flow.png" | tail -n 1 > "$dir/flow.json" || fail "gradflow with cell files"
/usr/bin/python3 -c "
import json
c = json.load(open('$dir/flow.json'))['cells']
assert c[0]['relative_grad_norm'] == c[1]['relative_grad_norm'], 'the GRU file and the built-in GRU differ'
assert c[2]['cell'].endswith('mgu.cell')" || fail "gradflow: $(head -c 300 "$dir/flow.json")"
mkdir -p "$dir/corpus"
awk 'BEGIN { for (i = 0; i < 300; i++) print "the cat sat on the mat and the dog ran to the cat" }' > "$dir/corpus/train.txt"
head -n 40 "$dir/corpus/train.txt" > "$dir/corpus/valid.txt"; head -n 40 "$dir/corpus/train.txt" > "$dir/corpus/test.txt"
out=$("$seqgrad" train lm --data "$dir/corpus" --cell "$cells/gru.cell" --hidden 16 --layers 1 --bptt 8 --batch 4 \
      --epochs 2 --optim adam --lr 0.01 --threads 1 2>&1) || fail "train lm --cell gru.cell: $out"
ppl=$(echo "$out" | sed -n 's/^test perplexity \([0-9.]*\).*/\1/p')
/usr/bin/python3 -c "import sys; sys.exit(0 if float('$ppl') < 3 else 1)" || fail "test perplexity $ppl (a repeated sentence)"
echo "$out" | grep -q "gru.cell" || fail "the run does not name its cell file"
# a checkpoint holds its cell file: eval, generate and --resume work after
# the file is edited or deleted; a --cell that is not the saved text, a
# built-in cell against a cell-file checkpoint, and --cell on eval are refused
cp "$cells/mgu.cell" "$dir/my.cell"
lm=(--data "$dir/corpus" --hidden 16 --layers 1 --bptt 8 --batch 4 --optim adam --lr 0.01 --threads 1)
"$seqgrad" train lm "${lm[@]}" --cell "$dir/my.cell" --epochs 1 --save "$dir/lm.st" > "$dir/t.out" 2>&1 \
  || fail "train lm --save with a cell file: $(tail -3 "$dir/t.out")"
want=$(sed -n 's/^test perplexity \([0-9.]*\).*/\1/p' "$dir/t.out")
echo "# edited" >> "$dir/my.cell"
ev=$("$seqgrad" eval --load "$dir/lm.st" --data "$dir/corpus" --batch 4 --bptt 8 2>&1) || fail "eval: $ev"
[ "$ev" = "test perplexity $want (560 tokens)" ] || fail "eval printed '$ev', training $want"
gen=$("$seqgrad" generate --load "$dir/lm.st" --words 6 --greedy 2>&1) || fail "generate: $gen"
[ "$(echo "$gen" | wc -w)" -eq 6 ] || fail "generate printed '$gen'"
"$seqgrad" train lm "${lm[@]}" --cell "$dir/my.cell" --epochs 2 --resume "$dir/lm.st" 2> "$dir/err"; rc=$?
[ $rc -eq 2 ] && grep -q "is not the cell the checkpoint" "$dir/err" || fail "an edited --cell on resume: exit $rc"
"$seqgrad" train lm "${lm[@]}" --cell gru --epochs 2 --resume "$dir/lm.st" 2> "$dir/err"; rc=$?
[ $rc -eq 2 ] && grep -q "contradicts the checkpoint.*my.cell" "$dir/err" || fail "--cell gru on resume: exit $rc"
"$seqgrad" eval --load "$dir/lm.st" --data "$dir/corpus" --cell gru 2> "$dir/err"; rc=$?
[ $rc -eq 2 ] || fail "--cell on eval: exit $rc"
rm "$dir/my.cell"
out=$("$seqgrad" train lm "${lm[@]}" --epochs 2 --resume "$dir/lm.st" 2>&1) || fail "resume with the checkpoint's cell: $out"
echo "$out" | grep -q "^language model: .*my.cell" || fail "the resumed run does not name its cell file: $out"
# a checkpoint whose cell text no longer compiles is an input error naming it
/usr/bin/python3 - "$dir/lm.st" "$dir/broken.st" <<'PY' || fail "writing the broken checkpoint"
import json, struct, sys
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
h['__metadata__']['cell.source'] = 'input x I\nstate h H\nh\' = tanh(matmul(h, W))\n'
t = json.dumps(h).encode()
t += b' ' * (-(8 + len(t)) % 8)
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(t)) + t + b[8 + n:])
PY
"$seqgrad" eval --load "$dir/broken.st" --data "$dir/corpus" 2> "$dir/err"; rc=$?
[ $rc -eq 3 ] && grep -q "broken.st': its cell file cannot be rebuilt: .*my.cell:3:21: unknown name 'W'" "$dir/err" \
  || fail "a broken cell in a checkpoint: exit $rc, $(cat "$dir/err")"
printf 'input x I\nstate h H\nparam W_x (I, H)\nh'"'"' = tanh(matmul(x, W_y))\n' > "$dir/bad.cell"
"$seqgrad" gradcheck lm --cell "$dir/bad.cell" 2> "$dir/err"; rc=$?
[ $rc -eq 3 ] && grep -q "bad.cell:4:21: unknown name 'W_y'" "$dir/err" || fail "a bad cell file: exit $rc, $(cat "$dir/err")"
"$seqgrad" gradflow --cell "$dir/none.cell" -o "$dir/x.png" 2> "$dir/err"; rc=$?
[ $rc -eq 3 ] || fail "a missing cell file: exit $rc, $(cat "$dir/err")"
# seq2seq and the dialogue models take cell files too
"$seqgrad" gradcheck seq2seq --cell "$cells/gru.cell" --attention dot > /dev/null 2>&1 || fail "gradcheck seq2seq --cell gru.cell"
"$seqgrad" gradcheck hred --cell "$cells/lstm.cell" --bidirectional > /dev/null 2>&1 || fail "gradcheck hred --cell lstm.cell"
"$seqgrad" gradcheck vhred --cell "$cells/mgu.cell" > /dev/null 2>&1 || fail "gradcheck vhred --cell mgu.cell"
awk 'BEGIN { for (i = 0; i < 200; i++) { w = substr("abcde", 1 + i % 5, 1) substr("abcde", 1 + (i * 3) % 5, 1); print w "_" w } }' > "$dir/copy.txt"
out=$("$seqgrad" train seq2seq --data "$dir/copy.txt" --cell "$cells/gru.cell" --embed 8 --hidden 16 --epochs 2 \
      --threads 1 2>&1) || fail "train seq2seq --cell gru.cell: $out"
echo "$out" | grep -q "^seq2seq: .*gru.cell" || fail "the run does not name its cell file: $out"
cp "$cells/gru.cell" "$dir/my.cell"
s2s=(--data "$dir/copy.txt" --embed 8 --hidden 16 --threads 1)
"$seqgrad" train seq2seq "${s2s[@]}" --cell "$dir/my.cell" --epochs 2 --save "$dir/s.st" > "$dir/t.out" 2>&1 \
  || fail "train seq2seq --save with a cell file: $(tail -3 "$dir/t.out")"
rm "$dir/my.cell"
want=$(sed -n 's/^test exact match \([0-9.]*%\).*/\1/p' "$dir/t.out")
ev=$("$seqgrad" eval --load "$dir/s.st" --data "$dir/copy.txt" 2>&1) || fail "eval seq2seq: $ev"
[ "$(echo "$ev" | sed -n 's/^test exact match \([0-9.]*%\).*/\1/p')" = "$want" ] || fail "eval printed '$ev', training $want"
out=$("$seqgrad" train seq2seq "${s2s[@]}" --epochs 3 --resume "$dir/s.st" 2>&1) || fail "resume seq2seq: $out"
echo "$out" | grep -q "^seq2seq: .*my.cell" || fail "the resumed run does not name its cell file: $out"
"$seqgrad" train seq2seq "${s2s[@]}" --cell custom 2> "$dir/err"; rc=$?
[ $rc -eq 2 ] && grep -q "names the cell a checkpoint holds" "$dir/err" || fail "--cell custom: exit $rc"
"$seqgrad" dialogues -o "$dir/d.txt" --dialogues 200 > /dev/null || fail "dialogues"
"$seqgrad" train hred --data "$dir/d.txt" --cell "$cells/gru.cell" --embed 8 --hidden 16 --epochs 1 --threads 1 \
  --save "$dir/h.st" > "$dir/h.out" 2>&1 || fail "train hred --cell gru.cell: $(tail -3 "$dir/h.out")"
ev=$("$seqgrad" eval --load "$dir/h.st" --data "$dir/d.txt" --threads 1 2>&1) || fail "eval hred: $ev"
[ "${ev#* dialogues): }" = "$(sed -n 's/^test: //p' "$dir/h.out")" ] || fail "eval hred printed '$ev'"
"$seqgrad" gradcheck hred --cell "$dir/bad.cell" 2> /dev/null; [ $? -eq 3 ] || fail "hred with a bad cell file"
echo "1 passed, 0 failed"
