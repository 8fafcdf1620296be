#!/usr/bin/env bash
# A training run killed mid-way and resumed from its checkpoint ends exactly as
# an uninterrupted run (same validation perplexities, same test perplexity,
# printed to 2 decimals and compared as text, and the same checkpoint bytes);
# a corrupt checkpoint is refused with a message and left untouched.
set -u
seqgrad=$1
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }
dir=$(mktemp -d); trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
pid=
# A small generated corpus: words follow a noisy cycle over 40 words.
for split in train:12000 valid:400 test:400; do
  awk -v n="${split#*:}" -v seed="${#split}" 'BEGIN { s = seed; w = 0
    for (i = 0; i < n; i++) { line = ""; len = 3 + (i % 7)
      for (j = 0; j < len; j++) { s = (s * 1103515245 + 12345) % 2147483648
        w = (s % 10 < 7) ? (w + 1) % 40 : int(s / 10) % 40; line = line (j ? " " : "") "w" w }
      print line } }' > "$dir/${split%%:*}.txt"
done
args=(train lm --data "$dir" --hidden 16 --layers 2 --bptt 5 --batch 4 --epochs 4 --decay-start 2 --threads 1 --seed 3)

"$seqgrad" "${args[@]}" --save "$dir/full.st" --log "$dir/full.jsonl" > "$dir/full.out" 2>&1 || fail "full run: $(cat "$dir/full.out")"
full_test=$(grep "test perplexity" "$dir/full.out")
[ -n "$full_test" ] || fail "no test perplexity in the full run"

# Run again, kill it with SIGKILL after epoch 2's checkpoint exists (mid-epoch 3), resume.
"$seqgrad" "${args[@]}" --save "$dir/part.st" --log "$dir/part.jsonl" > "$dir/part.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  [ -f "$dir/part.jsonl" ] && [ "$(wc -l < "$dir/part.jsonl")" -ge 2 ] && break
  sleep 0.05
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null; pid=
epochs_done=$(wc -l < "$dir/part.jsonl")
[ "$epochs_done" -lt 4 ] || fail "the run finished before it could be killed (machine too fast?)"
echo "killed after $epochs_done epoch(s)"
"$seqgrad" "${args[@]}" --resume "$dir/part.st" --save "$dir/part.st" --log "$dir/part.jsonl" > "$dir/resume.out" 2>&1 \
  || fail "resume: $(cat "$dir/resume.out")"
grep -q "resumed from" "$dir/resume.out" || fail "did not say it resumed"
resumed_test=$(grep "test perplexity" "$dir/resume.out")
echo "uninterrupted: $full_test"
echo "resumed:       $resumed_test"
[ "$full_test" = "$resumed_test" ] || fail "final perplexity differs"
# per-epoch validation perplexity of the epochs after the kill
for e in 3 4; do
  a=$(grep "\"epoch\":$e," "$dir/full.jsonl" | sed 's/.*"valid_ppl":\([^,]*\),.*/\1/')
  b=$(grep "\"epoch\":$e," "$dir/part.jsonl" | tail -1 | sed 's/.*"valid_ppl":\([^,]*\),.*/\1/')
  [ -n "$a" ] && [ "$a" = "$b" ] || fail "epoch $e valid perplexity: $a vs $b"
done
cmp -s "$dir/full.st" "$dir/part.st" || fail "the final checkpoints differ"

# A corrupt checkpoint: clear error, non-zero exit, the file is not touched.
head -c 300 "$dir/full.st" > "$dir/bad.st"
cp "$dir/bad.st" "$dir/bad.copy"
"$seqgrad" "${args[@]}" --resume "$dir/bad.st" --save "$dir/bad.st" > "$dir/bad.out" 2>&1 && fail "a truncated checkpoint was accepted"
grep -q "cannot resume" "$dir/bad.out" || fail "no clear message: $(cat "$dir/bad.out")"
cmp -s "$dir/bad.st" "$dir/bad.copy" || fail "the bad checkpoint was modified"
echo "$(cat "$dir/bad.out")"
echo "1 passed, 0 failed"
