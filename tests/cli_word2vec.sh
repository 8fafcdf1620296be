#!/usr/bin/env bash
# `seqgrad train word2vec`, `similar` and `analogy` on a generated corpus of two
# word groups that never share a line: each word's nearest neighbour is in its
# group (skip-gram and CBOW); a seed repeats its vectors byte for byte, at 1
# and 3 threads; the
# binary format gives the same neighbours as the text one; gensim
# (/usr/bin/python3, Debian's python3-gensim) loads both and agrees, and
# seqgrad reads the vectors gensim writes; analogy counts sections, accuracy
# and coverage; bad corpora and malformed vector files are refused with the
# file and line (exit 3).
set -u
seqgrad=$1
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
awk 'BEGIN { s = 11; for (l = 0; l < 4000; l++) { g = l % 2 ? "x" : "y"; line = ""
  for (k = 0; k < 6; k++) { s = (s * 1103515245 + 12345) % 2147483648; line = line g int(s / 65536) % 8 " " }
  print line } }' > "$dir/corpus.txt"
common=(--data "$dir/corpus.txt" --dim 16 --iter 2 --min-count 1 --sample 0 --batch 64)
for arch in skipgram cbow; do
  out=$("$seqgrad" train word2vec "${common[@]}" --arch $arch -o "$dir/$arch.txt" --log "$dir/$arch.jsonl" 2>&1) \
    || fail "train $arch: $out"
  [ "$(wc -l < "$dir/$arch.jsonl")" -eq 2 ] || fail "$arch: one log line per pass expected"
  head -n 1 "$dir/$arch.txt" | grep -q "^17 16$" || fail "$arch: header $(head -n 1 "$dir/$arch.txt")"
  for w in x0 x5 y3 y7; do
    nn=$("$seqgrad" similar --vectors "$dir/$arch.txt" "$w" -k 1 | awk '{print $1}') || fail "similar $w"
    [ "${nn:0:1}" = "${w:0:1}" ] || fail "$arch: the nearest word to $w is $nn"
  done
done
"$seqgrad" train word2vec "${common[@]}" -o "$dir/again.txt" --save "$dir/w2v.st" > /dev/null 2>&1 || fail "train again"
/usr/bin/python3 - "$dir/w2v.st" "$dir/again.txt" <<'PY' || fail "the checkpoint does not hold the vectors"
import json, struct, sys
import numpy as np
b = open(sys.argv[1], 'rb').read()
n, = struct.unpack('<Q', b[:8]); h = json.loads(b[8:8 + n]); meta = h.pop('__metadata__')
assert meta['task'] == 'word2vec' and meta['word2vec.arch'] == 'skipgram' and meta['word2vec.dim'] == '16', meta
vocab = json.loads(meta['word2vec.vocab'])
e = h['w2v.in']; s, t = e['data_offsets']
x = np.frombuffer(b[8 + n + s:8 + n + t], dtype='<f4').reshape(e['shape'])
rows = [l.split() for l in open(sys.argv[2]).read().splitlines()[1:]]
assert [r[0] for r in rows] == vocab and tuple(x.shape) == (17, 16) and 'w2v.out' in h
assert all(np.float32(v) == x[i, j] for i, r in enumerate(rows) for j, v in enumerate(r[1:]))  # read as float32: the same float
PY
cmp -s "$dir/skipgram.txt" "$dir/again.txt" || fail "the same seed gave other vectors"
# data-parallel workers: a seed and a thread count give the same bytes, the
# steps after the first pass allocate nothing from the heap, and the vectors
# still group the words, with more threads than cores too
for t in 1 3; do
  for run in a b; do
    "$seqgrad" train word2vec "${common[@]}" --threads $t -o "$dir/t$t$run.txt" > "$dir/t.out" 2>&1 \
      || fail "--threads $t: $(tail -2 "$dir/t.out")"
  done
  grep -q "$t thread" "$dir/t.out" || fail "--threads $t is not reported: $(head -1 "$dir/t.out")"
  grep -q "^heap allocations in passes 2 to 2: 0$" "$dir/t.out" \
    || fail "--threads $t: the steady state allocates: $(grep heap "$dir/t.out")"
  cmp -s "$dir/t${t}a.txt" "$dir/t${t}b.txt" || fail "--threads $t: the same seed gave other vectors"
  for w in x0 y3; do
    nn=$("$seqgrad" similar --vectors "$dir/t${t}a.txt" "$w" -k 1 | awk '{print $1}') || fail "similar $w"
    [ "${nn:0:1}" = "${w:0:1}" ] || fail "--threads $t: the nearest word to $w is $nn"
  done
done
"$seqgrad" train word2vec "${common[@]}" --binary -o "$dir/sg.bin" > /dev/null 2>&1 || fail "train --binary"
a=$("$seqgrad" similar --vectors "$dir/skipgram.txt" x1 -k 5) && b=$("$seqgrad" similar --vectors "$dir/sg.bin" --binary x1 -k 5) \
  || fail "similar text/binary"
[ "$a" = "$b" ] || fail "text and binary vectors give other neighbours: $a / $b"
# gensim reads both formats and finds the same nearest word; seqgrad reads gensim's vectors
py=/usr/bin/python3
"$py" -c 'import gensim' 2> /dev/null || fail "$py cannot import gensim: apt-get install python3-gensim (tests/deps.sh)"
g=$("$py" - "$dir" <<'PY'
import sys
from gensim.models import KeyedVectors
d = sys.argv[1]
t = KeyedVectors.load_word2vec_format(d + '/skipgram.txt', binary=False)
b = KeyedVectors.load_word2vec_format(d + '/sg.bin', binary=True)
assert len(t.index_to_key) == 17 and t.vector_size == 16
assert abs(t['x1'] - b['x1']).max() == 0, 'text and binary differ'
print(t.most_similar('x1', topn=1)[0][0])
t.save_word2vec_format(d + '/from_gensim.txt', binary=False)
PY
) || fail "gensim: $g"
ours=$(echo "$a" | head -n 1 | awk '{print $1}')
[ "$g" = "$ours" ] || fail "gensim's nearest word to x1 is $g, seqgrad's $ours"
c=$("$seqgrad" similar --vectors "$dir/from_gensim.txt" x1 -k 5) || fail "similar on gensim's file"
[ "$(echo "$c" | awk '{print $1}')" = "$(echo "$a" | awk '{print $1}')" ] || fail "gensim's file gives other neighbours"
# analogy: sections, coverage
printf ': same-group\nx0 x1 x2 x3\ny0 y1 y2 y3\n: unknown\nx0 x1 zz x3\n' > "$dir/q.txt"
an=$("$seqgrad" analogy --vectors "$dir/skipgram.txt" --questions "$dir/q.txt") || fail "analogy: $an"
echo "$an" | grep -q "^same-group .*(2 of 2 covered)" || fail "analogy sections: $an"
echo "$an" | grep -q "coverage 66.7% (2 of 3)" || fail "analogy coverage: $an"
# refusals
: > "$dir/empty.txt"
"$seqgrad" train word2vec --data "$dir/empty.txt" -o "$dir/e.txt" 2> "$dir/err"; rc=$?
[ $rc -eq 3 ] || fail "an empty corpus: exit $rc, $(cat "$dir/err")"
"$seqgrad" train word2vec --data "$dir/corpus.txt" --min-count 100000 -o "$dir/e.txt" 2> "$dir/err"; rc=$?
[ $rc -eq 3 ] && grep -q "min-count" "$dir/err" || fail "min-count leaves nothing: exit $rc, $(cat "$dir/err")"
"$seqgrad" train word2vec --data "$dir/corpus.txt" --arch glove -o "$dir/e.txt" 2> /dev/null; [ $? -eq 2 ] || fail "--arch glove"
# an output that cannot be written is found before any training (no progress line)
for o in "-o $dir/none/v.txt" "-o $dir/e.txt --save $dir/none/w.st" "-o $dir/e.txt --log $dir/none/l.jsonl"; do
  # shellcheck disable=SC2086
  "$seqgrad" train word2vec "${common[@]}" $o > "$dir/out" 2> "$dir/err"; rc=$?
  [ $rc -eq 1 ] && grep -q "checked before training" "$dir/err" && ! grep -q "training" "$dir/out" \
    || fail "unwritable output ($o): exit $rc, $(cat "$dir/err")"
done
[ ! -e "$dir/e.txt" ] || fail "a refused run wrote its vectors"
printf '2 3\na 1 2 3\n' > "$dir/short.txt"
printf 'two 3\na 1 2 3\n' > "$dir/head.txt"
printf '2 3\na 1 2 3\nb 1 2\n' > "$dir/row.txt"
printf '2 3\na 1 2 3\nb 1 x 3\n' > "$dir/float.txt"
printf '2 3\na 1 2 3\na 1 2 3\n' > "$dir/twice.txt"
for case in "short.txt:line 3: missing" "head.txt:short.txt:1:" "row.txt:row.txt:3: 'b' has 2 values" \
            "float.txt:float.txt:3: value 2 of 'b'" "twice.txt:given twice"; do
  f=${case%%:*}; want=${case#*:}
  [ "$f" = head.txt ] && want="head.txt:1:"
  "$seqgrad" similar --vectors "$dir/$f" a 2> "$dir/err"; rc=$?
  [ $rc -eq 3 ] && grep -q -- "$want" "$dir/err" || fail "$f: exit $rc, $(cat "$dir/err") (wanted '$want')"
done
"$seqgrad" similar --vectors "$dir/skipgram.txt" nosuchword 2> "$dir/err"; [ $? -eq 3 ] || fail "an unknown word"
"$seqgrad" gradcheck word2vec > /dev/null || fail "gradcheck word2vec"
"$seqgrad" gradcheck word2vec --arch cbow > /dev/null || fail "gradcheck word2vec --arch cbow"
echo "word2vec: both architectures group the words; gensim agrees ($g)"
echo "1 passed, 0 failed"
