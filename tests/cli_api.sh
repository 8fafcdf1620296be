#!/usr/bin/env bash
# The API reference builds warning-free: Doxygen over the public headers
# (docs/api/Doxyfile.in, through docs/api/sg_doc_filter.awk) leaves an empty
# warnings log and a page for every public header, and the documented text
# of a few functions reaches the pages as written; every function that
# returns a pointer, writes one through an argument, or frees, resets or
# converts says who owns what, or its header states the rule once.
set -u
seqgrad=$1
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }
build=$(cd "$(dirname "$seqgrad")" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
cmake --build "$build" --target api > "$build/api.log" 2>&1 || fail "doxygen: $(tail -5 "$build/api.log")"
[ -f "$build/api/warnings.log" ] || fail "no warnings log"
[ ! -s "$build/api/warnings.log" ] || fail "doxygen warned: $(head -20 "$build/api/warnings.log")"
html="$build/api/html"
[ -f "$html/index.html" ] || fail "no index.html"
n=0
for h in $(cd "$root" && find graph ops models -name '*.h' ! -name '*_testing.h'); do
  page="$html/$(basename "$h" | sed 's/_/__/g; s/\./_8/').html"
  [ -f "$page" ] || fail "no page for $h ($page)"
  n=$((n + 1))
done
grep -q "Records the pass on g" "$html/sg__hred_8h.html" || fail "sg_hred_loss's comment is not on its page"
grep -q "in place, padding staying at the end" "$html/sg__seq2seq_8h.html" || fail "sg_seq2seq.h's header comment is missing"
# who owns what each function returns, and what it invalidates (tests/api_ownership.py)
own=$(/usr/bin/python3 "$root/tests/api_ownership.py" "$root") || fail "functions without an ownership statement: $own"
grep -q "Ownership: every returned tensor" "$html/sg__ops_8h.html" || fail "sg_ops.h's ownership rule is not on its page"
echo "api reference: $n headers, no warnings; $(echo "$own" | tail -n 1)"
echo "1 passed, 0 failed"
