#!/usr/bin/env bash
# `seqgrad demo` reaches 100% exact-match accuracy on all 16,384 pairs, prints
# the f64 gradient-check result, reports zero heap allocations per steady-state
# step, and writes the graph (.dot, .png) and the loss-curve image.
set -u
seqgrad=$1
fail() { echo "FAIL: $*"; exit 1; }
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
out=$("$seqgrad" demo --out "$dir/demo" 2>&1); rc=$?
echo "$out"
[ $rc -eq 0 ] || fail "demo exited $rc"
echo "$out" | grep -q "16384 / 16384 pairs exactly right (100.00%)" || fail "did not reach 100%"
echo "$out" | grep -Eq "after warm-up: 0$" || fail "steady-state steps allocated from the heap"
echo "$out" | grep -q "gradcheck model    passed" || fail "model gradcheck"
echo "$out" | grep -q "gradcheck per-op   passed" || fail "per-op gradcheck"
for f in addition_graph.dot addition_graph.png addition_graph_collapsed.png loss.png; do
  [ -s "$dir/demo/$f" ] || fail "$f missing"
  echo "$out" | grep -q "$dir/demo/$f" || fail "where $f went is not printed"
done
for f in addition_graph.png addition_graph_collapsed.png loss.png; do
  head -c 8 "$dir/demo/$f" | od -An -tx1 | grep -q "89 50 4e 47" || fail "$f is not a PNG"
done
dot -Tcanon "$dir/demo/addition_graph.dot" > /dev/null || fail "the .dot does not parse"
"$seqgrad" demo --activation softsign 2>/dev/null; [ $? -eq 2 ] || fail "bad activation should exit 2"
echo "1 passed, 0 failed"
