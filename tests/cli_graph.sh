#!/usr/bin/env bash
# `seqgrad graph addition -o FILE` writes .dot, .svg and .png in op mode and
# collapsed mode; the .dot parses with `dot`; in op mode the drawn node count
# equals the tape length, collapsed there is one node per time step.
set -u
seqgrad=$1
fail() { echo "FAIL: $*"; exit 1; }
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT

for mode in none scope; do
  for ext in dot svg png; do
    f="$dir/g-$mode.$ext"
    out=$("$seqgrad" graph addition -o "$f" --collapse $mode --grad-norms 2>&1) || fail "graph $mode $ext: $out"
    echo "$out"
    [ -s "$f" ] || fail "$f is empty"
  done
  dot -Tcanon "$dir/g-$mode.dot" > /dev/null || fail "dot cannot parse g-$mode.dot"
  nodes=$(gvpr 'BEG_G { printf("%d\n", nNodes($G)); }' "$dir/g-$mode.dot")
  line=$("$seqgrad" graph addition -o "$dir/again.dot" --collapse $mode --grad-norms)
  tape=$(echo "$line" | sed -n 's/.*tape \([0-9]*\) nodes.*/\1/p')
  drawn=$(echo "$line" | sed -n 's/.*drawn \([0-9]*\) nodes.*/\1/p')
  collapsed=$(echo "$line" | sed -n 's/.*(\([0-9]*\) collapsed.*/\1/p')
  [ "$nodes" = "$drawn" ] || fail "$mode: the .dot has $nodes nodes, the export said $drawn"
  if [ $mode = none ]; then
    [ "$nodes" = "$tape" ] || fail "op mode: $nodes nodes drawn, tape has $tape"
  else
    [ "$collapsed" = 8 ] || fail "collapsed mode: $collapsed scope nodes, expected 8 (one per time step)"
    [ "$nodes" -lt "$tape" ] || fail "collapsed mode did not reduce the node count"
    dot -Tcanon "$dir/g-$mode.dot" | grep -q 'tooltip="s[0-9]*: scope rnn/t7"' || fail "no node for scope rnn/t7"
    dot -Tcanon "$dir/g-$mode.dot" | grep -q 'lhead=' || fail "collapsed mode: no compound edge for the shared weights"
  fi
  cmp -s "$dir/g-$mode.dot" "$dir/again.dot" || fail "$mode: two exports differ (ids not stable)"
done
head -c 8 "$dir/g-none.png" | od -An -tx1 | grep -q "89 50 4e 47 0d 0a 1a 0a" || fail "not a PNG"
grep -q "<svg" "$dir/g-none.svg" || fail "not an SVG"

"$seqgrad" graph addition -o "$dir/x.bmpx" 2>/dev/null; [ $? -eq 1 ] || fail "unknown extension should exit 1"
"$seqgrad" graph addition -o /nonexistent/dir/x.png 2>/dev/null; [ $? -eq 1 ] || fail "unwritable path should exit 1"
"$seqgrad" graph addition 2>/dev/null; [ $? -eq 2 ] || fail "missing -o should exit 2"
out=$("$seqgrad" graph sine -o "$dir/sine.dot" --collapse scope 2>&1) || fail "graph sine: $out"
echo "$out" | grep -q "(20 collapsed scopes)" || fail "graph sine: one node per step expected: $out"
"$seqgrad" graph 2>/dev/null; [ $? -eq 2 ] || fail "graph without a task should exit 2"
"$seqgrad" train 2>/dev/null; [ $? -eq 2 ] || fail "train without a task should exit 2"
"$seqgrad" train addition 2>/dev/null; [ $? -eq 2 ] || fail "train of a task without training should exit 2"
echo "1 passed, 0 failed"
