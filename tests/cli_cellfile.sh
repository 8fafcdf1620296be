#!/usr/bin/env bash
# --cell FILE.cell wherever the language model takes a cell: gradcheck lm and
# graph lm on the docs' GRU and MGU cell files, gradflow beside the built-in
# cells (the GRU file's norms equal the built-in GRU's), train lm on a small
# corpus; a bad cell file is refused with file:line:col (exit 3), and what a
# cell file cannot do yet (--save) is refused, not ignored.
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
"$seqgrad" train lm --data "$dir/corpus" --cell "$cells/gru.cell" --save "$dir/x.st" 2> "$dir/err"; rc=$?
[ $rc -eq 2 ] && grep -q "cannot be saved or resumed yet" "$dir/err" || fail "--save with a cell file: exit $rc"
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
"$seqgrad" train seq2seq --data "$dir/copy.txt" --cell "$cells/gru.cell" --save "$dir/s.st" 2> "$dir/err"; rc=$?
[ $rc -eq 2 ] && grep -q "cannot be saved or resumed yet" "$dir/err" || fail "seq2seq --save with a cell file: exit $rc"
"$seqgrad" dialogues -o "$dir/d.txt" --dialogues 200 > /dev/null || fail "dialogues"
"$seqgrad" train hred --data "$dir/d.txt" --cell "$cells/gru.cell" --embed 8 --hidden 16 --epochs 1 --threads 1 \
  > "$dir/h.out" 2>&1 || fail "train hred --cell gru.cell: $(tail -3 "$dir/h.out")"
"$seqgrad" gradcheck hred --cell "$dir/bad.cell" 2> /dev/null; [ $? -eq 3 ] || fail "hred with a bad cell file"
echo "1 passed, 0 failed"
