#!/usr/bin/env bash
# `seqgrad gradflow`: the simple RNN's gradient vanishes over 50 steps where
# the LSTM's is carried; --explode gives a configuration whose gradients grow
# backwards, and a training run that diverges without clipping and stays
# finite with it; the pictures are PNGs; a bad cell is a usage error.
set -u
seqgrad=$1
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
out=$("$seqgrad" gradflow --cell rnn --cell lstm --cell gru --steps 50 --json -o "$dir/flow.png") || fail "gradflow: $out"
echo "$out" | tail -n 1 > "$dir/flow.json"
/usr/bin/python3 -c "
import json
d = json.load(open('$dir/flow.json'))
n = {c['cell']: c['relative_grad_norm'] for c in d['cells']}
assert [c['cell'] for c in d['cells']] == ['rnn', 'lstm', 'gru'] and all(len(v) == 50 for v in n.values())
assert all(abs(v[-1] - 1) < 1e-12 for v in n.values())
assert n['rnn'][0] < 1e-8 and n['lstm'][0] > 1e3 * n['rnn'][0], (n['rnn'][0], n['lstm'][0])
" || fail "vanishing against carried: $(cat "$dir/flow.json")"
head -c 8 "$dir/flow.png" | od -An -c | grep -q "P   N   G" || fail "flow.png is not a PNG"
out=$("$seqgrad" gradflow --explode --json -o "$dir/boom.png") || fail "gradflow --explode: $out"
echo "$out" | tail -n 1 > "$dir/boom.json"
/usr/bin/python3 -c "
import json, math
d = json.load(open('$dir/boom.json'))
v = d['cells'][0]['relative_grad_norm']
assert d['cells'][0]['cell'] == 'rnn' and d['gain'] == 4 and v[0] > 1e3, v[:3]
bad = [x for x in d['loss_no_clip'] if x is not None]
good = d['loss_clip']
assert len(bad) < len(good) and (bad[-1] > 1e5 * bad[0] or not math.isfinite(bad[-1])), bad
assert all(x is not None and math.isfinite(x) and x < 100 for x in good), max(x for x in good if x is not None)
" || fail "explode: $(cat "$dir/boom.json" | head -c 400)"
[ -s "$dir/boom-clip.png" ] || fail "no boom-clip.png"
"$seqgrad" gradflow --cell lsmt -o "$dir/x.png" 2> "$dir/err"; rc=$?
[ $rc -eq 2 ] && grep -q "not 'lsmt'" "$dir/err" || fail "a bad cell: exit $rc, $(cat "$dir/err")"
"$seqgrad" gradflow --steps 1 -o "$dir/x.png" 2> /dev/null; [ $? -eq 2 ] || fail "--steps 1"
echo "1 passed, 0 failed"
