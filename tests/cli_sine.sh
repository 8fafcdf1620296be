#!/usr/bin/env bash
# `seqgrad train sine` learns the noiseless sine wave (test MSE < 1e-3) and
# draws the prediction against the true curve.
set -u
seqgrad=$1
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
out=$("$seqgrad" train sine --out "$dir" 2>&1) || fail "exit $?: $out"
echo "$out"
mse=$(echo "$out" | sed -n 's/.*test mse \([0-9.e+-]*\).*/\1/p')
awk -v m="$mse" 'BEGIN { exit !(m < 1e-3) }' || fail "test mse $mse is not below 1e-3"
head -c 8 "$dir/sine.png" | od -An -tx1 | grep -q "89 50 4e 47" || fail "no PNG"
echo "1 passed, 0 failed"
