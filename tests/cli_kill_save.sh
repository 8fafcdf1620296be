#!/usr/bin/env bash
# A save killed with SIGKILL at a random moment loses nothing: after each of
# 30 kills the checkpoint (the previous one or the new one) loads, and the
# next save of the same file removes every temporary file a killed save left.
# A file name of 253 bytes (its "<name>.tmp.<pid>" would pass NAME_MAX) saves too.
set -u
seqgrad=$1
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
for split in train:3000 valid:300 test:300; do
  awk -v n="${split#*:}" 'BEGIN { for (i = 0; i < n; i++) print "w" (i % 7) " w" ((i * 3) % 11) " w" (i % 5) }' \
    > "$dir/${split%%:*}.txt"
done
args=(train lm --data "$dir" --hidden 8 --layers 1 --bptt 4 --batch 4 --epochs 1000 --threads 1 --max-windows 2)
loaded=0
for k in $(seq 1 30); do
  "$seqgrad" "${args[@]}" --save "$dir/ck.st" > /dev/null 2>&1 &
  pid=$!
  sleep "0.$(( (RANDOM % 40) + 5 ))"
  kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  if [ -f "$dir/ck.st" ]; then
    "$seqgrad" eval --load "$dir/ck.st" --data "$dir" --bptt 4 --batch 4 --threads 1 > /dev/null 2>&1 \
      || fail "kill $k: the checkpoint does not load"
    loaded=$((loaded + 1))
  fi
done
[ "$loaded" -ge 25 ] || fail "only $loaded of 30 kills came after a first save: the timing is off"
stale=$(find "$dir" -name 'ck.st.tmp.*' | wc -l)
# a temporary file as a killed save leaves it (the kills above may or may not hit one)
touch "$dir/ck.st.tmp.999999999"
"$seqgrad" "${args[@]}" --epochs 1 --save "$dir/ck.st" > /dev/null 2>&1 || fail "a save after the kills"
left=$(find "$dir" -name 'ck.st.tmp.*' | wc -l)
[ "$left" -eq 0 ] || fail "$left temporary files outlived the next save"
long=$(printf 'n%.0s' $(seq 1 250)).st
"$seqgrad" "${args[@]}" --epochs 1 --save "$dir/$long" > /dev/null 2>&1 || fail "a 253-byte file name cannot be saved"
[ -f "$dir/$long" ] || fail "the 253-byte checkpoint is missing"
echo "30 kills: $loaded left a checkpoint, every one loaded; $stale temporary files left by kills, none outlived the next save"
echo "1 passed, 0 failed"
