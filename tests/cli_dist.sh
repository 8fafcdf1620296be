#!/usr/bin/env bash
# Data-parallel training over MPI (docs/distributed.md), on this machine with
# `mpirun --oversubscribe`, on a corpus the script generates:
# - 2 ranks with batch 8 (4 rows each) give the parameters of 1 rank with
#   batch 8 after 6 steps within a relative 1e-5 (not bit for bit: each
#   rank's matrix products sum over its own rows, so the float sums are
#   grouped differently; measured ~1e-7 here), 3 ranks with unequal rows
#   (3, 3, 2) too; seq2seq (Adam, 2 epochs of 37 examples in batches of 4
#   and a last one of 1, which leaves rank 1 a share of 0) too, with the
#   same test accuracy;
# - overlap on, off and buckets of 1 KiB give the same bytes (a sum over
#   two ranks is one addition per value, whatever the buckets);
# - ranks that differ in parameters or in bucket settings are stopped by
#   the checksum before the first step;
# - one rank prints and logs; the checkpoint says 2 ranks; resuming it bit
#   for bit with 2 ranks, refusing 1 rank (exit 2) unless --reshard;
# - a rank that cannot read its data (an MPMD line with another --data),
#   ranks that start from other parameters (another --seed), and a rank
#   killed mid-run each end the job with a non-zero exit and one message,
#   and the last checkpoint stays intact.
# Other commands under a launcher are refused.  In a build without MPI:
# refusing to train under a launcher, and saying so.
set -u
seqgrad=$1
compare="/usr/bin/python3 $(dirname "$0")/dist/compare_checkpoints.py"
pass=0
fail() { echo "FAIL: $*"; echo "$pass passed, 1 failed"; exit 1; }
ok() { pass=$((pass + 1)); }
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
for split in train:6000 valid:600 test:600; do
  awk -v n="${split#*:}" 'BEGIN { for (i = 0; i < n; i++) print "w" (i % 7) " w" ((i * 3) % 11) " w" (i % 5) " w" ((i * i) % 13) }' \
    > "$dir/${split%%:*}.txt"
done
args=(train lm --data "$dir" --hidden 16 --layers 2 --bptt 5 --batch 8 --threads 1 --clip 5 --dropout 0)

# Other commands under a launcher are refused: N copies would race for the same files.
out=$(OMPI_COMM_WORLD_SIZE=2 "$seqgrad" train word2vec --data "$dir/train.txt" -o "$dir/v.txt" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "only 'train lm' and 'train seq2seq' train data-parallel" \
  || fail "train word2vec under a launcher: exit $rc: $out"
[ ! -e "$dir/v.txt" ] || fail "train word2vec under a launcher wrote its output"
ok

if ! "$seqgrad" --version | grep -q "MPI.*: yes"; then
  # A build without MPI refuses a launcher's ranks instead of training alone twice.
  out=$(OMPI_COMM_WORLD_SIZE=2 "$seqgrad" "${args[@]}" --epochs 1 --max-windows 2 2>&1); rc=$?
  [ $rc -eq 1 ] || fail "no MPI: exit $rc under a launcher, expected 1"
  echo "$out" | grep -q "built without MPI" || fail "no MPI: the message does not say so: $out"
  "$seqgrad" --version | grep -q "absent from this build" || fail "no MPI: --version does not say so"
  ok
  # and trains alone without a launcher
  "$seqgrad" "${args[@]}" --epochs 1 --max-windows 2 > /dev/null 2>&1 || fail "no MPI: a plain run fails"
  ok
  echo "$pass passed, 0 failed (a build without MPI)"
  exit 0
fi
command -v mpirun > /dev/null || fail "mpirun is missing (apt-get install openmpi-bin)"
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMPI_MCA_btl=self,vader OMPI_MCA_rmaps_base_oversubscribe=1
# Under AddressSanitizer, leak checking is off for the ranks (memory errors
# are still fatal): Open MPI's components, unloaded at MPI_Finalize, leave
# allocations LeakSanitizer cannot even name (<unknown module>).  seqgrad's
# gradient sync is leak-checked on its own in test_comm.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0"
mpi() { mpirun --oversubscribe "$@"; }

# -- the same parameters at 1, 2 and 3 ranks ------------------------------------
quick=("${args[@]}" --epochs 1 --max-windows 6)
"$seqgrad" "${quick[@]}" --save "$dir/one.st" > /dev/null 2>&1 || fail "1 rank failed"
mpi -np 2 "$seqgrad" "${quick[@]}" --save "$dir/two.st" > "$dir/two.out" 2> "$dir/two.err" \
  || fail "2 ranks failed: $(cat "$dir/two.err")"
$compare "$dir/one.st" "$dir/two.st" --bound 1e-5 || fail "2 ranks x 4 rows differ from 1 rank x 8 rows"
ok
mpi -np 3 "$seqgrad" "${quick[@]}" --save "$dir/three.st" > /dev/null 2>&1 || fail "3 ranks failed"
$compare "$dir/one.st" "$dir/three.st" --bound 1e-5 || fail "3 ranks (3, 3, 2 rows) differ from 1 rank"
ok
# a bound that can fail: another seed is far away
"$seqgrad" "${quick[@]}" --seed 9 --save "$dir/other.st" > /dev/null 2>&1 || fail "seed 9 failed"
if $compare "$dir/one.st" "$dir/other.st" --bound 1e-5 > /dev/null; then fail "the comparison cannot fail"; fi
ok

# -- overlap on, off and small buckets: the same bytes ---------------------------
mpi -np 2 "$seqgrad" "${quick[@]}" --no-overlap --sync-check 1 --save "$dir/two_off.st" > /dev/null 2>&1 \
  || fail "--no-overlap failed"
mpi -np 2 "$seqgrad" "${quick[@]}" --bucket-mb 0.001 --save "$dir/two_small.st" > /dev/null 2>&1 \
  || fail "--bucket-mb 0.001 failed"
$compare "$dir/two.st" "$dir/two_off.st" --exact > /dev/null || fail "overlap off changed the parameters"
$compare "$dir/two.st" "$dir/two_small.st" --exact > /dev/null || fail "small buckets changed the parameters"
ok

# -- rank 0 alone prints, logs and saves; the checkpoint knows its ranks ------------
[ "$(grep -c '^epoch 1:' "$dir/two.out")" -eq 1 ] || fail "the epoch line is printed $(grep -c '^epoch 1:' "$dir/two.out") times"
grep -q "data-parallel: 2 ranks, 4 rows each" "$dir/two.out" || fail "the run does not say it is data-parallel"
mpi -np 2 "$seqgrad" "${args[@]}" --epochs 2 --max-windows 4 --log "$dir/two.jsonl" --save "$dir/ep2.st" \
  > /dev/null 2>&1 || fail "2 epochs failed"
[ "$(wc -l < "$dir/two.jsonl")" -eq 2 ] || fail "the log has $(wc -l < "$dir/two.jsonl") lines for 2 epochs"
ok

# -- resume: bit for bit with 2 ranks, refused with 1 unless --reshard ---------------
mpi -np 2 "$seqgrad" "${args[@]}" --epochs 1 --max-windows 4 --save "$dir/ep1.st" > /dev/null 2>&1 \
  || fail "epoch 1 failed"
cp "$dir/ep1.st" "$dir/ep1_copy.st"
mpi -np 2 "$seqgrad" "${args[@]}" --epochs 2 --max-windows 4 --resume "$dir/ep1.st" --save "$dir/ep2r.st" \
  > /dev/null 2>&1 || fail "resume with 2 ranks failed"
$compare "$dir/ep2.st" "$dir/ep2r.st" --exact > /dev/null || fail "a resumed run is not the straight run bit for bit"
ok
out=$("$seqgrad" "${args[@]}" --epochs 2 --max-windows 4 --resume "$dir/ep1.st" 2>&1); rc=$?
[ $rc -eq 2 ] || fail "resuming 2 ranks' checkpoint with 1 rank: exit $rc, expected 2"
echo "$out" | grep -q "saved by a run over 2 ranks.*--reshard" || fail "the refusal does not say why: $out"
"$seqgrad" "${args[@]}" --epochs 2 --max-windows 4 --resume "$dir/ep1.st" --reshard --save "$dir/ep2_1.st" \
  > "$dir/reshard.out" 2>&1 || fail "--reshard failed: $(cat "$dir/reshard.out")"
grep -q "re-sharding" "$dir/reshard.out" || fail "--reshard does not say it re-shards"
$compare "$dir/ep2.st" "$dir/ep2_1.st" --bound 1e-5 > /dev/null || fail "re-sharded to 1 rank is far from 2 ranks"
ok

# -- seq2seq: columns of every batch; a last batch of 1 leaves rank 1 without any ----
awk 'BEGIN { for (i = 0; i < 47; i++) { s = ""; for (k = 0; k < 3 + i % 4; k++) s = s sprintf("%c", 97 + (i * 7 + k * 3) % 26);
             r = ""; for (k = length(s); k > 0; k--) r = r substr(s, k, 1); print s "_" r } }' > "$dir/pairs.txt"
s2s=(train seq2seq --data "$dir/pairs.txt" --attention dot --embed 8 --hidden 16 --batch 4 --epochs 2 --threads 1
     --valid-frac 0.1 --test-frac 0.1 --clip 1)
"$seqgrad" "${s2s[@]}" --save "$dir/s1.st" > "$dir/s1.out" 2>&1 || fail "seq2seq, 1 rank: $(cat "$dir/s1.out")"
mpi -np 2 "$seqgrad" "${s2s[@]}" --save "$dir/s2.st" > "$dir/s2.out" 2>&1 || fail "seq2seq, 2 ranks: $(cat "$dir/s2.out")"
grep -q "data-parallel: 2 ranks" "$dir/s2.out" || fail "seq2seq does not say it is data-parallel"
$compare "$dir/s1.st" "$dir/s2.st" --bound 1e-5 || fail "seq2seq: 2 ranks differ from 1 rank"
[ "$(grep -o 'test exact match [0-9.]*%' "$dir/s1.out")" = "$(grep -o 'test exact match [0-9.]*%' "$dir/s2.out")" ] \
  || fail "seq2seq: the summed test accuracy differs from one rank's"
out=$("$seqgrad" "${s2s[@]}" --epochs 3 --resume "$dir/s2.st" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "saved by a run over 2 ranks" || fail "seq2seq: 1 rank resumes 2 ranks' run: $rc $out"
mpi -np 2 "$seqgrad" "${s2s[@]}" --epochs 3 --resume "$dir/s2.st" > /dev/null 2>&1 || fail "seq2seq: resume with 2 ranks"
"$seqgrad" "${s2s[@]}" --epochs 3 --resume "$dir/s2.st" --reshard 2>&1 | grep -q "re-sharding" \
  || fail "seq2seq: --reshard does not re-shard"
ok

# -- faults: one message, a non-zero exit, the checkpoint intact ----------------------
sum_before=$(sha256sum < "$dir/ep1_copy.st")
cp "$dir/ep1_copy.st" "$dir/keep.st"
mpi -np 1 "$seqgrad" "${args[@]}" --epochs 3 --max-windows 4 --save "$dir/keep.st" \
  : -np 1 "$seqgrad" "${args[@]/$dir/$dir/missing}" --epochs 3 --max-windows 4 --save "$dir/keep.st" \
  > "$dir/f1.out" 2> "$dir/f1.err"; rc=$?
[ $rc -ne 0 ] || fail "a rank without its data: the job exits 0"
grep -q "rank 1 of 2: .*missing" "$dir/f1.err" || fail "the failing rank's message is missing: $(cat "$dir/f1.err")"
grep -q "rank 0 of 2: rank 1 failed (its message is above): all 2 ranks stop" "$dir/f1.err" \
  || fail "rank 0 does not say that the job stops: $(cat "$dir/f1.err")"
[ "$(sha256sum < "$dir/keep.st")" = "$sum_before" ] || fail "a failed start changed the checkpoint"
ok
mpi -np 1 "$seqgrad" "${quick[@]}" : -np 1 "$seqgrad" "${quick[@]}" --seed 2 > /dev/null 2> "$dir/f2.err"; rc=$?
[ $rc -eq 1 ] || fail "ranks with other parameters: exit $rc, expected 1"
grep -q "parameters (or --bucket-mb, --no-overlap) differ after 0 steps" "$dir/f2.err" \
  || fail "the checksum does not catch it: $(cat "$dir/f2.err")"
mpi -np 1 "$seqgrad" "${quick[@]}" : -np 1 "$seqgrad" "${quick[@]}" --bucket-mb 1 > /dev/null 2> "$dir/f2b.err"; rc=$?
[ $rc -eq 1 ] || fail "ranks with other buckets: exit $rc, expected 1"
grep -q "differ after 0 steps" "$dir/f2b.err" || fail "other buckets are not caught: $(cat "$dir/f2b.err")"
ok
# a rank killed with SIGKILL mid-run
mpi -np 2 "$seqgrad" "${args[@]}" --epochs 100000 --max-windows 4 --save "$dir/kill.st" > /dev/null 2> "$dir/f3.err" &
job=$!
for _ in $(seq 1 300); do [ -f "$dir/kill.st" ] && break; sleep 0.1; done
[ -f "$dir/kill.st" ] || fail "no checkpoint was written before the kill"
victim=""
for p in $(pgrep -f "seqgrad train lm --data $dir " || true); do
  tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1" && victim=$p
done
[ -n "$victim" ] || { kill $job; fail "rank 1's process was not found"; }
sleep 0.3
kill -9 "$victim"
timeout 60 tail --pid=$job -f /dev/null || { kill -9 $job; fail "the job did not end after a rank died"; }
wait $job; rc=$?
[ $rc -ne 0 ] || fail "a killed rank: the job exits 0"
"$seqgrad" eval --load "$dir/kill.st" --data "$dir" --bptt 5 --batch 8 --threads 1 > /dev/null 2>&1 \
  || fail "the checkpoint after a killed rank does not load"
[ -z "$(find "$dir" -name 'kill.st.tmp.*')" ] || [ -f "$dir/kill.st" ] || fail "no checkpoint left"
ok
echo "$pass passed, 0 failed"
