#!/usr/bin/env bash
# Zero heap allocations per steady-state training step, at every --threads,
# counted by an interposed allocator (tests/heap/sg_heap_count.c, loaded with
# LD_PRELOAD) that sees every allocation of the process: seqgrad's, libc's,
# and BLAS's inside its own threads.  Each training command runs for N and for
# 2N steps (windows or batches) with everything else equal; the same count
# means steps N+1 to 2N allocated nothing.  OPENBLAS_NUM_THREADS is unset, as
# for a user.  Usage: cli_heap.sh SEQGRAD LIBSG_HEAP_COUNT
set -u
seqgrad=$1 counter=$2
unset OPENBLAS_NUM_THREADS
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
# a corpus of 300 words, so the output layer's products are large enough to be
# cut over the threads (and would be threaded inside BLAS)
for split in train:3000 valid:200 test:200; do
  awk -v n="${split#*:}" -v seed="${#split}" 'BEGIN { s = seed; w = 0
    for (i = 0; i < n; i++) { line = ""; len = 3 + (i % 5)
      for (j = 0; j < len; j++) { s = (s * 1103515245 + 12345) % 2147483648
        w = (s % 10 < 7) ? (w + 1) % 300 : int(s / 10) % 300; line = line (j ? " " : "") "w" w }
      print line } }' > "$dir/${split%%:*}.txt"
done
# an addition set for seq2seq ("12+345_357", as in ../shared/data/seq2seq)
awk 'BEGIN { s = 11; for (i = 0; i < 3000; i++) { s = (s * 1103515245 + 12345) % 2147483648; a = int(s / 4096) % 1000
  s = (s * 1103515245 + 12345) % 2147483648; b = int(s / 4096) % 1000; print a "+" b "_" a + b } }' > "$dir/add.txt"

# count NAME STEPS COMMAND...: runs COMMAND under the counter, prints the count
count() {
  local name=$1; shift
  SG_HEAP_COUNT_OUT="$dir/$name.count" LD_PRELOAD="$counter" "$@" > "$dir/$name.out" 2>&1 \
    || fail "$name: $(tail -3 "$dir/$name.out")"
  [ -s "$dir/$name.count" ] || fail "$name: the counter wrote nothing (not preloaded?)"
  cat "$dir/$name.count"
}
# the counter sees allocations: a run that parses one more option allocates more
a=$(count probe1 "$seqgrad" --version); b=$(count probe2 "$seqgrad" train lm --help)
[ "$a" -gt 0 ] && [ "$b" -gt "$a" ] || fail "the counter does not count ($a, $b)"

checked=0
for t in 1 2 3; do
  lm=("$seqgrad" train lm --data "$dir" --hidden 64 --layers 2 --bptt 20 --batch 20 --epochs 1 --dropout 0.3 --threads "$t")
  n1=$(count lm5_$t "${lm[@]}" --max-windows 5); n2=$(count lm10_$t "${lm[@]}" --max-windows 10)
  echo "train lm --threads $t: $n1 heap allocations with 5 windows, $n2 with 10"
  [ "$n1" = "$n2" ] || fail "train lm --threads $t: windows 6 to 10 made $((n2 - n1)) heap allocations"
  s2s=("$seqgrad" train seq2seq --data "$dir/add.txt" --hidden 128 --batch 128 --epochs 1 --attention general --threads "$t")
  n1=$(count s2s4_$t "${s2s[@]}" --max-batches 4); n2=$(count s2s8_$t "${s2s[@]}" --max-batches 8)
  echo "train seq2seq --threads $t: $n1 heap allocations with 4 batches, $n2 with 8"
  [ "$n1" = "$n2" ] || fail "train seq2seq --threads $t: batches 5 to 8 made $((n2 - n1)) heap allocations"
  checked=$((checked + 2))
done
echo "$checked passed, 0 failed"
