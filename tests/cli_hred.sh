#!/usr/bin/env bash
# The dialogue tasks on the generated corpus (`seqgrad dialogues`): HRED
# answers the replies that depend on an utterance two or more turns back,
# which the previous-utterance baseline cannot beyond chance; eval prints what
# training printed; generate answers a typed context; VHRED keeps a KL term
# above 0 and draws different replies with --samples; truncated BPTT trains;
# gradcheck and graph of both tasks; bad dialogue files, contexts and options
# get their messages and exit codes.
set -u
seqgrad=$1
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
# Under the sanitizers (ten times slower) the same commands run on a small
# corpus for an epoch or two, checking memory, not what the models learn;
# the release build checks both.
build=$(cd "$(dirname "$seqgrad")" && pwd)
full=1 n=6000 ep_h=8 ep_p=4 ep_v=3
if grep -q '^SG_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2> /dev/null; then full=0 n=1200 ep_h=1 ep_p=1 ep_v=1; fi
"$seqgrad" dialogues -o "$dir/d.txt" --dialogues $n --seed 3 > /dev/null || fail "dialogues"
"$seqgrad" dialogues -o "$dir/e.txt" --dialogues $n --seed 3 > /dev/null || fail "dialogues again"
cmp -s "$dir/d.txt" "$dir/e.txt" && cmp -s "$dir/d.txt.tags" "$dir/e.txt.tags" || fail "one seed, two corpora"
[ "$(wc -l < "$dir/d.txt")" -eq $n ] && [ "$(wc -l < "$dir/d.txt.tags")" -eq $n ] || fail "$n lines each"
small=(--data "$dir/d.txt" --tags "$dir/d.txt.tags" --embed 16 --hidden 48 --batch 32 --lr 0.01 --threads 1)
ctx_acc() { echo "$1" | sed -n 's/^test: .* context replies \([0-9.]*\)%.*/\1/p'; }
# HRED against the baseline on the context replies
out=$("$seqgrad" train hred "${small[@]}" --epochs $ep_h --save "$dir/h.st" --log "$dir/h.jsonl" 2>&1) || fail "train hred: $out"
h=$(ctx_acc "$out")
[ -n "$h" ] || fail "no test line: $out"
out=$("$seqgrad" train hred "${small[@]}" --epochs $ep_p --prev-only --save "$dir/p.st" 2>&1) || fail "train --prev-only: $out"
p=$(ctx_acc "$out")
[ $full -eq 0 ] || /usr/bin/python3 -c "import sys; sys.exit(0 if float('$h') >= 90 and float('$p') <= 30 else 1)" \
  || fail "context replies: HRED $h% (>= 90 expected), the baseline $p% (<= 30: chance is about 13%)"
[ "$(wc -l < "$dir/h.jsonl")" -eq $ep_h ] || fail "one log line per epoch"
/usr/bin/python3 -c "
import json
rows = [json.loads(l) for l in open('$dir/h.jsonl')]
assert ($full == 0 or rows[-1]['valid_ppl'] < rows[0]['valid_ppl']) and rows[-1]['train_kl_per_token'] == 0, rows" \
  || fail "log contents"
# eval: the checkpoint's split and the same figures
test_line=$(echo "$out" | grep '^test: ')
ev=$("$seqgrad" eval --load "$dir/p.st" --data "$dir/d.txt" --tags "$dir/d.txt.tags" --threads 1 2>&1) || fail "eval: $ev"
[ "${ev#* dialogues): }" = "${test_line#test: }" ] || fail "eval printed '$ev', training '$test_line'"
# generate from a typed context: the name said three turns back
g=$("$seqgrad" generate --load "$dir/h.st" --context "hi , i am grace __eou__ hello there __eou__ what is my name ?" 2>&1) \
  || fail "generate: $g"
[ $full -eq 0 ] || [ "$g" = "your name is grace" ] || fail "generate gave '$g'"
"$seqgrad" generate --load "$dir/h.st" --context "hi , i am zorro" 2> "$dir/err"; rc=$?
[ $rc -eq 3 ] && grep -q "word 'zorro' (utterance 1) is not in the model's vocabulary" "$dir/err" \
  || fail "an unknown word: exit $rc, $(cat "$dir/err")"
"$seqgrad" generate --load "$dir/h.st" --context "hi __eou__ __eou__ hey" 2> "$dir/err"; rc=$?
[ $rc -eq 3 ] && grep -q "utterance 2 is empty" "$dir/err" || fail "an empty utterance: exit $rc, $(cat "$dir/err")"
# VHRED: the KL term stays above zero, --samples draws several replies
out=$("$seqgrad" train vhred "${small[@]}" --epochs $ep_v --kl-anneal 100 --word-dropout 0.25 --truncate 3 --max-turns 6 \
      --save "$dir/v.st" --log "$dir/v.jsonl" 2>&1) || fail "train vhred: $out"
echo "$out" | grep -q "truncated every 3 utterances" || fail "truncation not reported: $out"
/usr/bin/python3 -c "
import json
rows = [json.loads(l) for l in open('$dir/v.jsonl')]
assert all(r['valid_kl_per_token'] > (1e-3 if $full else 0) for r in rows), rows" \
  || fail "VHRED's KL collapsed: $(cat "$dir/v.jsonl")"
s=$("$seqgrad" generate vhred --load "$dir/v.st" --context "hello __eou__ hi __eou__ how are you ?" --samples 8 \
    --temperature 1 --seed 2 2>&1) || fail "generate --samples: $s"
[ "$(echo "$s" | wc -l)" -eq 8 ] && { [ $full -eq 0 ] || [ "$(echo "$s" | sort -u | wc -l)" -ge 2 ]; } \
  || fail "8 samples, 2 or more different: $s"
long="hi __eou__ hey __eou__ hi __eou__ hey __eou__ hi __eou__ hey"
"$seqgrad" generate --load "$dir/v.st" --context "$long" 2> "$dir/err"; rc=$?
[ $rc -eq 3 ] && grep -q "at most 6 turns" "$dir/err" || fail "a context too long: exit $rc, $(cat "$dir/err")"
# checks and pictures of both tasks
"$seqgrad" gradcheck vhred --cell lstm --bidirectional > "$dir/gc" 2>&1 || fail "gradcheck vhred: $(cat "$dir/gc")"
"$seqgrad" gradcheck hred --truncate 2 > /dev/null 2>&1; [ $? -eq 2 ] || fail "gradcheck takes no training option"
"$seqgrad" graph hred -o "$dir/h.png" --collapse 2 > /dev/null 2>&1 || fail "graph hred"
[ -s "$dir/h.png" ] || fail "no picture"
# bad files and options
printf 'a b __eou__ c\nd e __eou__ __eou__ f\n' > "$dir/bad.txt"
"$seqgrad" train hred --data "$dir/bad.txt" 2> "$dir/err"; rc=$?
[ $rc -eq 3 ] && grep -q "bad.txt:2: utterance 2 is empty" "$dir/err" || fail "empty utterance: exit $rc, $(cat "$dir/err")"
printf 'a b __eou__ c\nonly one\n' > "$dir/bad.txt"
"$seqgrad" train hred --data "$dir/bad.txt" 2> "$dir/err"; rc=$?
[ $rc -eq 3 ] && grep -q "bad.txt:2: a dialogue needs two utterances" "$dir/err" || fail "one utterance: exit $rc"
"$seqgrad" train hred --data "$dir/d.txt" --max-turns 4 2> "$dir/err"; rc=$?
[ $rc -eq 3 ] && grep -q "more than the 4 turns" "$dir/err" || fail "too many turns: exit $rc, $(cat "$dir/err")"
head -n 5 "$dir/d.txt.tags" > "$dir/short.tags"
"$seqgrad" train hred --data "$dir/d.txt" --tags "$dir/short.tags" 2> "$dir/err"; rc=$?
[ $rc -eq 3 ] && grep -q "short.tags has 5 lines" "$dir/err" || fail "short tags: exit $rc, $(cat "$dir/err")"
"$seqgrad" train hred --data "$dir/d.txt" --latent 8 2> "$dir/err"; rc=$?
[ $rc -eq 2 ] && grep -q "train vhred" "$dir/err" || fail "--latent with hred: exit $rc"
"$seqgrad" train vhred --data "$dir/d.txt" --prev-only 2> /dev/null; [ $? -eq 2 ] || fail "vhred --prev-only"
"$seqgrad" eval vhred --load "$dir/h.st" --data "$dir/d.txt" 2> "$dir/err"; rc=$?
[ $rc -eq 3 ] && grep -q "is not a vhred checkpoint" "$dir/err" || fail "an hred checkpoint as vhred: exit $rc"
echo "1 passed, 0 failed"
