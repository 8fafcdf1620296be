#!/usr/bin/env bash
# The gradient check's verdict over sequence lengths: every built-in cell, a
# 2-layer LM with 32 units, bptt 5 / 35 / 80 / 200, seeds 1..10, 8 sampled
# elements per tensor (model and per-op mode, and the f32 comparison).  Prints
# a markdown table of the worst relative and absolute errors, the smallest
# margin (allowed / worst error) and the verdicts.  Not part of ctest (about
# 6 minutes on 2 cores); docs/gradcheck.md shows its output.
#   tests/gradcheck_table.sh build/seqgrad [seeds]
set -u
seqgrad=${1:-build/seqgrad}
seeds=${2:-10}
echo "| cell | bptt | runs | passed | worst rel err (model) | worst abs err (model) | smallest margin (model) | smallest margin (per-op) | smallest margin (f32) |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for cell in rnn lstm peephole gru; do
  for bptt in 5 35 80 200; do
    pass=0; rel=0; abs=0; mm=1e300; mp=1e300; mf=1e300
    for seed in $(seq 1 "$seeds"); do
      out=$("$seqgrad" gradcheck lm --cell $cell --layers 2 --hidden 32 --bptt $bptt --sample 8 --seed $seed --json)
      rc=$?
      [ $rc -eq 0 ] && pass=$((pass + 1))
      read -r r a m p f <<< "$(echo "$out" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
inv = lambda x: 1 / x if x > 0 else float("inf")
print(d["model"]["max_rel_err"], d["model"]["max_abs_err"], inv(d["model"]["max_ratio"]),
      inv(d["per_op"]["max_ratio"]), inv(d["f32"]["max_ratio"]))')"
      rel=$(/usr/bin/python3 -c "print(max($rel, $r))"); abs=$(/usr/bin/python3 -c "print(max($abs, $a))")
      mm=$(/usr/bin/python3 -c "print(min($mm, $m))"); mp=$(/usr/bin/python3 -c "print(min($mp, $p))")
      mf=$(/usr/bin/python3 -c "print(min($mf, $f))")
    done
    printf "| %s | %s | %s | %s | %.2e | %.2e | %.0fx | %.0fx | %.0fx |\n" $cell $bptt "$seeds" $pass "$rel" "$abs" "$mm" "$mp" "$mf"
  done
done
